"""sngrep's raw view (F6): every SIP message of the ladder, one after another, as captured."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ladder.draw.diagram import Ladder
from tui.panes import arrow_heading
from tui.sip_highlight import highlight_sip


def raw_text(ladder: Ladder) -> Text:
    out = Text()
    for arrow in ladder.sip_arrows():
        if arrow.message is None:
            continue
        out.append_text(arrow_heading(ladder, arrow))
        out.append_text(highlight_sip(arrow.message.raw))
        out.append("\n\n")
    return out


class RawScreen(Screen):
    BINDINGS = [Binding("escape,q,f6,R", "app.back", "Back")]

    def __init__(self, ladder: Ladder) -> None:
        super().__init__()
        self.ladder = ladder

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="raw-scroll"):
            yield Static(raw_text(self.ladder), id="raw", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#raw-scroll").focus()
