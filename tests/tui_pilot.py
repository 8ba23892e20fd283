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
