"""``AppScreen``: a screen of the ladder app that calls the app's own methods, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import LadderApp


class AppScreen(Screen[None]):
    @property
    def ladder_app(self) -> LadderApp:
        """``self.app`` as what it is (textual types it as any ``App``)."""
        from tui.app import LadderApp

        return cast(LadderApp, self.app)
