"""`ladder check`: deviation codes, RFC rules, the reference flows and matching a call against them."""
