"""Two SIP messages side by side, header by header (sngrep compares two selected messages):
what a proxy added, removed or rewrote on its way through."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from decoders.sip import SipMessage
from tui.safe_text import clean

SAME, CHANGED, ONLY_LEFT, ONLY_RIGHT = "same", "changed", "only-left", "only-right"
STYLES = {SAME: "dim", CHANGED: "bold yellow", ONLY_LEFT: "bold red", ONLY_RIGHT: "bold green"}


@dataclass(frozen=True, slots=True)
class HeaderDiff:
    name: str
    left: str  # "" when absent
    right: str
    change: str  # SAME, CHANGED, ONLY_LEFT, ONLY_RIGHT


def _start_line(message: SipMessage) -> str:
    return message.raw.split(b"\r\n", 1)[0].split(b"\n", 1)[0].decode("utf-8", "replace")


def header_diff(left: SipMessage, right: SipMessage) -> list[HeaderDiff]:
    """The start lines, then each header name in the order first seen (left, then right's new
    ones), the n-th value of a repeated header (Via, Record-Route) paired with the n-th."""
    def grouped(message: SipMessage) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in message.headers:
            out.setdefault(name.lower(), []).append(value)
        return out

    names: dict[str, str] = {}  # lower -> as first written
    for name, _value in (*left.headers, *right.headers):
        names.setdefault(name.lower(), name)
    a, b = grouped(left), grouped(right)
    first_a, first_b = _start_line(left), _start_line(right)
    rows = [HeaderDiff("(start line)", first_a, first_b, SAME if first_a == first_b else CHANGED)]
    for key, name in names.items():
        values_a, values_b = a.get(key, []), b.get(key, [])
        for number in range(max(len(values_a), len(values_b))):
            va = values_a[number] if number < len(values_a) else None
            vb = values_b[number] if number < len(values_b) else None
            change = (ONLY_RIGHT if va is None else ONLY_LEFT if vb is None
                      else SAME if va == vb else CHANGED)
            rows.append(HeaderDiff(name, va or "", vb or "", change))
    return rows


class CompareScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,c", "dismiss(None)", "Close")]

    def __init__(self, left_title: str, left: SipMessage, right_title: str, right: SipMessage) -> None:
        super().__init__()
        self.titles = (left_title, right_title)
        self.rows = header_diff(left, right)

    def compose(self) -> ComposeResult:
        table = Table(expand=True, show_lines=False, title="Header differences (Esc closes)")
        table.add_column("Header", style="bold cyan", no_wrap=True)
        table.add_column(clean(self.titles[0]), ratio=1, overflow="fold")
        table.add_column(clean(self.titles[1]), ratio=1, overflow="fold")
        for row in self.rows:
            style = STYLES[row.change]
            table.add_row(Text(clean(row.name)), Text(clean(row.left), style=style),
                          Text(clean(row.right), style=style))
        changed = sum(1 for row in self.rows if row.change != SAME)
        with VerticalScroll(id="compare-box"):
            yield Static(table)
            yield Static(Text(f"{changed} of {len(self.rows)} lines differ · yellow changed, "
                              "red only left, green only right", style="dim"))
