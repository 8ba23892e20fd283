"""A SIP message as highlighted ``Text`` for the detail pane: the start line, header names and
the SDP body each get their own style, and every character comes from the wire cleaned of
control sequences (never interpreted as markup)."""

from __future__ import annotations

from rich.text import Text

from decoders.header_names import canonical_name

from tui.safe_text import clean, decode

START_STYLE = "bold cyan"
HEADER_NAME_STYLE = "bold green"
HEADER_VALUE_STYLE = ""
SDP_KEY_STYLE = "bold magenta"
SDP_VALUE_STYLE = "magenta"
BODY_STYLE = "yellow"
# Headers a SIP engineer looks for first.
KEY_HEADERS = {"via", "call-id", "cseq", "from", "to", "contact"}  # compact forms too (canonical_name)


def _split_head_body(text: str) -> tuple[list[str], str | None]:
    """Head lines and body (None without a blank line). Accepts bare-LF messages too."""
    text = text.replace("\r\n", "\n")
    head, sep, body = text.partition("\n\n")
    return head.split("\n"), (body if sep else None)


def highlight_sip(raw: bytes) -> Text:
    """The message's bytes, highlighted line by line."""
    out = Text()
    head, body = _split_head_body(decode(raw))
    for number, line in enumerate(head):
        line = clean(line)
        if number == 0:
            out.append(line, style=START_STYLE)
        else:
            name, colon, value = line.partition(":")
            if colon and name and not name[0].isspace():
                style = HEADER_NAME_STYLE + (" underline" if canonical_name(name.strip()) in KEY_HEADERS else "")
                out.append(name, style=style)
                out.append(":" + value, style=HEADER_VALUE_STYLE)
            else:  # a folded continuation line (RFC 3261 §7.3.1) or a line without a colon
                out.append(line)
        out.append("\n")
    if body is None:
        return out
    out.append("\n")
    # SDP lines ("x=value") are highlighted wherever they are, so the SDP part of a multipart
    # body stands out as well; other body lines keep one plain body style.
    for line in body.split("\n"):
        line = clean(line)
        key, eq, value = line.partition("=")
        if eq and len(key) == 1 and key.isalpha() and key.islower():
            out.append(key + "=", style=SDP_KEY_STYLE)
            out.append(value, style=SDP_VALUE_STYLE)
        else:
            out.append(line, style=BODY_STYLE)
        out.append("\n")
    out.rstrip()
    return out
