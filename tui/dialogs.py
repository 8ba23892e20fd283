"""Small modal screens: the export menu and the help screen."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.export import ExportFormat


class ExportScreen(ModalScreen[ExportFormat | None]):
    """Pick a format; dismissed with the format, or None on Esc."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "Cancel")]

    def __init__(self, formats: list[ExportFormat], what: str) -> None:
        super().__init__()
        self.formats = formats
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static(Text(f"Save {self.what} to the current directory as:", style="bold"))
            yield OptionList(*(Option(f.label, id=f.key) for f in self.formats), id="export-formats")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = next(f for f in self.formats if f.key == event.option.id)
        self.dismiss(chosen)


# (keys, what they do, where) — the sngrep keys first where sngrep has one.
HELP_KEYS = (
    ("↑ ↓ j k, PgUp PgDn, Home End", "move the cursor: a call, a page, first / last call", "call list"),
    ("Enter", "open the ladder of the call under the cursor (or click it twice)", "call list"),
    ("Space", "select / unselect a call", "call list"),
    ("F4, x", "extended flow: the selected calls in one ladder, numbered as one flow", "call list"),
    ("F7, /", "filter: text, /regex/, from:, to:, callid:, method:, outcome:, has:deviations", "call list"),
    ("o, O", "sort by the next column / reverse the order (or click a header)", "call list"),
    ("1 2 3", "calls, RTP streams, diagnostics (ladder: message, deviations, streams)", "both"),
    ("↑ ↓, j k", "previous / next arrow", "ladder"),
    ("← →, h l", "scroll a wide ladder sideways", "ladder"),
    ("PgUp PgDn, g G", "page, first / last arrow", "ladder"),
    ("t", "time column on / off", "ladder"),
    ("z", "the ladder alone, full width / with the message pane", "ladder"),
    ("m", "media bars on / off", "ladder"),
    ("F6, R", "raw SIP messages of the ladder", "ladder"),
    ("/ , n", "search the messages (or type F12 to go to F12), next match", "ladder"),
    ("F2, s", "save: text, Mermaid, pcap (HTML when available)", "both"),
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
