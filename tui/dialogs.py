"""The help screen (the save dialog is ``tui.save_dialog``)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


# (keys, what they do, where) — the sngrep keys first where sngrep has one.
HELP_KEYS = (
    ("↑ ↓ j k, PgUp PgDn, Home End", "move the cursor: a call, a page, first / last call", "call list"),
    ("← →", "scroll a wide call list sideways", "call list"),
    ("Enter", "open the ladder of the call under the cursor (or click it twice)", "call list"),
    ("Space", "select / unselect a call", "call list"),
    ("F4, x", "extended flow: the selected calls in one ladder, numbered as one flow", "call list"),
    ("F7, /", "filter: text, /regex/, from:, to:, callid:, method:, outcome:, has:deviations", "call list"),
    ("o, O", "sort by the next column / reverse the order (or click a header)", "call list"),
    ("F10, C", "choose the columns (remembered in ~/.config/pcapladder/tui.json)", "call list"),
    ("Esc", "leave the filter box, then clear the filter", "call list"),
    ("1 2 3", "calls, RTP streams, diagnostics (ladder: message, deviations, streams)", "both"),
    ("↑ ↓, j k", "previous / next arrow", "ladder"),
    ("← →, h l", "scroll a wide ladder sideways", "ladder"),
    ("PgUp PgDn, g G, Home End", "page, first / last arrow", "ladder"),
    ("Tab, Shift+Tab", "next / previous pane: ladder, deviations, streams, message (focus follows)", "ladder"),
    ("Enter", "on a deviation or a stream: the cursor goes to its arrow", "ladder"),
    ("t", "time column (wall clock and delta since the previous arrow) on / off", "ladder"),
    ("z", "the focused pane alone, full width (deviation texts wrap); z again: both", "ladder"),
    ("m", "media bars on / off", "ladder"),
    ("c", "compare: c on one message, c on another, their headers side by side", "ladder"),
    ("F6, R", "raw SIP messages of the ladder", "ladder"),
    ("/ , n", "search the messages (or type F12 to go to F12), next match", "ladder"),
    ("F2, s", "save: path, format (pcap, text, Mermaid, JSON, HTML), selected / displayed / all calls", "both"),
    ("Ctrl+P", "command palette", "both"),
    ("Esc, q", "back (q on the call list quits)", "both"),
    ("?", "this help", "both"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(title="pcapladder keys", expand=True, show_lines=False)
        table.add_column("Keys", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        table.add_column("Where", style="dim")
        for keys, action, where in HELP_KEYS:
            table.add_row(keys, action, where)
        with Vertical(id="help-box"):
            yield Static(table)
            yield Static(Text("Esc or q closes this help.", style="dim"))
