"""Text that came from a capture, made safe to show in the TUI.

Capture bytes are untrusted: an escape sequence inside a SIP header must not move the cursor or
retitle the terminal, and a ``[bold]`` inside a display name must not be read as Rich markup.
Everything from a capture goes through ``clean`` (the core's ``ladder.textsafe`` rules, line by
line) and is shown as a ``Text`` object, never as a markup string: ``safe_rich_text`` returns that
``Text``; ``clean`` (like the core's ``ladder.textsafe.safe_text``) returns a ``str``.
"""

from __future__ import annotations

from rich.text import Text

from ladder.textsafe import safe_text as _safe_line


def clean(value: object, *, keep_newlines: bool = False) -> str:
    """``value`` without escape sequences or control characters, on one line; with
    ``keep_newlines`` each line is cleaned and LF kept (CRLF becomes LF)."""
    text = "" if value is None else str(value)
    if not keep_newlines:
        return _safe_line(text)
    return "\n".join(_safe_line(line) for line in text.replace("\r\n", "\n").split("\n"))


def decode(data: bytes) -> str:
    """Bytes from the wire as text: UTF-8 where valid, each invalid byte shown as U+FFFD."""
    return data.decode("utf-8", errors="replace")


def safe_rich_text(value: object, style: str = "") -> Text:
    """A one-line ``Text`` for any capture-derived value (never parsed as markup)."""
    return Text(clean(value), style=style)
