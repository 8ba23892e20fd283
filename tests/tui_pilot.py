"""What the Pilot tests of the TUI share: the terminal size and waiting for a load to finish."""

from __future__ import annotations

import pytest

SIZE = (160, 48)


async def wait_loaded(pilot, app, timeout_s: float = 60.0) -> None:
    """Until the worker has delivered the calls, the list is built and the checker is done (or
    gave up)."""
    for _ in range(int(timeout_s / 0.05)):
        if app.loaded and app.checked and not app.listing:
            await pilot.pause()
            return
        await pilot.pause(0.05)
    pytest.fail("the capture did not finish loading")


# Key names of the non-alphanumeric characters the tests type (Textual's names for them).
_KEY_NAMES = {" ": "space", "-": "minus", ":": "colon", "/": "slash", "_": "underscore", ".": "full_stop",
              "@": "at", "+": "plus", "=": "equals_sign"}


async def type_text(pilot, text: str) -> None:
    """Types ``text`` into the focused widget as one burst of key events (as a terminal delivers
    fast typing), then waits once. ``pilot.press`` waits for the app to go idle after each key
    (two 20 ms idle polls at least), which for a word costs more than the rest of a test."""
    from textual import events

    for char in text:
        key = char if char.isalnum() else _KEY_NAMES[char]
        pilot.app.post_message(events.Key(key, char))
    await pilot.pause()
