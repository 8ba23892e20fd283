"""``SteadyFooter``: Textual's footer, recomposed only when the keys it shows change.

Textual's ``Footer`` rebuilds all its key widgets on every bindings signal (a screen pushed, a
focus moved, a pane's bindings refreshed): opening a ladder sent about ten, and each rebuild
restyled a dozen new keys (two class changes each), a third of the screen's CPU before the
first paint. The keys shown are the same for all of them."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


def shown_bindings(screen: Screen[Any]) -> tuple:
    """What the footer draws from ``screen``: each shown binding, whether enabled, its tooltip."""
    return tuple((binding.key, binding.action, binding.description, binding.key_display, binding.group,
                  enabled, tooltip)
                 for (_node, binding, enabled, tooltip) in screen.active_bindings.values() if binding.show)


class SteadyFooter(Footer):
    _shown: tuple | None = None  # the bindings of the last compose

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = shown_bindings(self.screen)
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._shown is not None and screen is self.screen and shown_bindings(screen) == self._shown:
            return  # the same keys: nothing to redraw
        super().bindings_changed(screen)
