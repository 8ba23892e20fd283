"""sngrep's column chooser (F10): which columns the call list shows, remembered across runs
(``tui.settings``)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, SelectionList, Static


class ColumnsScreen(ModalScreen[list[str] | None]):
    """Dismissed with the chosen column keys (in the list's order), or None on Esc."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, columns: list[tuple[str, str]], shown: list[str]) -> None:
        super().__init__()
        self.columns = columns  # (key, label) in display order
        self.shown = set(shown)

    def compose(self) -> ComposeResult:
        with Vertical(id="columns-box"):
            yield Static(Text("Call list columns (Space toggles, Enter on Apply saves)", style="bold"))
            yield SelectionList[str](*((label, key, key in self.shown) for key, label in self.columns),
                                     id="columns-list")
            yield Static("", id="columns-status")
            with Horizontal(id="save-buttons"):
                yield Button("Apply", variant="primary", id="columns-ok")
                yield Button("Cancel", id="columns-cancel")

    def on_mount(self) -> None:
        self.query_one("#columns-list").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "columns-ok":
            self.dismiss(None)
            return
        chosen = set(self.query_one("#columns-list", SelectionList).selected)
        if not chosen:
            self.query_one("#columns-status", Static).update(Text("Keep at least one column.", style="bold red"))
            return
        self.dismiss([key for key, _label in self.columns if key in chosen])
