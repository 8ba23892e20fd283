"""sngrep's save dialog (F2), with the format asked too: a path, a format (pcap, text, Mermaid,
JSON, HTML) and a scope (the selected calls, the calls the list displays, or all). A file that
exists is replaced only after a second, explicit "Overwrite"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from tui.export import ExportFormat
from tui.safe_text import clean

SCOPES = ("selected", "displayed", "all")


@dataclass(frozen=True, slots=True)
class SaveRequest:
    path: Path
    fmt: ExportFormat
    scope: str  # one of SCOPES
    overwrite: bool


class SaveScreen(ModalScreen[SaveRequest | None]):
    """Dismissed with a ``SaveRequest``, or None on Esc / Cancel."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, formats: list[ExportFormat], counts: dict[str, int], *, directory: Path, stem: str,
                 what: str) -> None:
        """``counts``: calls in each scope; ``what`` names the selected calls ("call 3")."""
        super().__init__()
        self.formats = formats
        self.counts = counts
        self.directory = directory
        self.stem = stem
        self.what = what
        self.fmt = formats[0]
        self._confirmed: Path | None = None  # the existing file "Save" was pressed on once

    def compose(self) -> ComposeResult:
        nouns = {"selected": self.what, "displayed": "displayed calls", "all": "all calls"}
        with Vertical(id="save-box"):
            yield Static(Text("Save calls", style="bold"))
            yield Label("Path")
            yield Input(str(self.directory / f"{self.stem}{self.fmt.suffix}"), id="save-path")
            with Horizontal(id="save-choices"):
                with RadioSet(id="save-format"):
                    for number, fmt in enumerate(self.formats):
                        yield RadioButton(fmt.label, value=number == 0, id=f"format-{fmt.key}")
                with RadioSet(id="save-scope"):
                    for scope in SCOPES:
                        yield RadioButton(f"{nouns[scope]} ({self.counts.get(scope, 0)})",
                                          value=scope == "selected", id=f"scope-{scope}",
                                          disabled=not self.counts.get(scope))
            yield Static("", id="save-status")
            with Horizontal(id="save-buttons"):
                yield Button("Save", variant="primary", id="save-ok")
                yield Button("Cancel", id="save-cancel")

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    def _choice(self, set_id: str) -> str:
        pressed = self.query_one(f"#{set_id}", RadioSet).pressed_button
        return (pressed.id or "").split("-", 1)[1] if pressed is not None else ""

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id != "save-format":
            return
        chosen = next(f for f in self.formats if f.key == self._choice("save-format"))
        box = self.query_one("#save-path", Input)
        if box.value.endswith(self.fmt.suffix):  # the suffix follows the format, unless typed
            box.value = box.value[: -len(self.fmt.suffix)] + chosen.suffix
        self.fmt = chosen

    def _path(self, typed: str) -> Path:
        path = Path(typed.strip()).expanduser()
        return path if path.is_absolute() else self.directory / path

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._confirmed is not None and self._path(event.value) != self._confirmed:
            self._confirmed = None  # another name: its own warning if it exists too
            self.query_one("#save-ok", Button).label = "Save"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save-ok":
            self.action_save()
        else:
            self.dismiss(None)

    def _status(self, message: str) -> None:
        self.query_one("#save-status", Static).update(Text(message, style="bold red"))

    def action_save(self) -> None:
        typed = self.query_one("#save-path", Input).value.strip()
        if not typed:
            self._status("Give a file name.")
            return
        path = self._path(typed)
        if path.is_dir():
            self._status(f"{clean(path)} is a directory: add a file name.")
            return
        if not path.parent.is_dir():
            self._status(f"No directory {clean(path.parent)}.")
            return
        overwrite = path.exists()
        if overwrite and self._confirmed != path:
            self._confirmed = path
            self.query_one("#save-ok", Button).label = "Overwrite"
            self._status(f"{clean(path.name)} exists. Press Overwrite to replace it, or change the name.")
            return
        self.dismiss(SaveRequest(path, self.fmt, self._choice("save-scope") or "selected", overwrite))
