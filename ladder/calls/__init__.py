"""The call model: transactions, dialogs, legs and their links, outcomes, calls."""
