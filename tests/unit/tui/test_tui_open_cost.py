"""What keeps the busy capture's screens cheap to show: the finished list measured batch by batch
(``MeasuredRows``) and a footer that is not rebuilt while its keys stay the same (``SteadyFooter``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from tests.conftest import SAMPLES
from tests.tui_pilot import SIZE, wait_loaded
from tui.app import create_app
from tui.call_list_screen import NS_PER_DAY, NS_PER_HOUR
from tui.ladder_screen import LadderScreen
from tui.steady_footer import SteadyFooter
from textual.widgets._footer import FooterKey

TWO_PROXIES = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


def footer_descriptions(screen) -> list[str]:
    return [key.description for key in screen.query_one(SteadyFooter).query(FooterKey)]


def test_finished_list_measured_in_batches_equals_measured_at_once():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            screen = app.call_list
            real = next(iter(screen.rows.values()))
            # The real row, varied in what sets widths: parties, numbers, days, spans
            # (59:59.999 is wider than 1:00:00), references and deviations.
            rows = [replace(real, key=f"{real.key}-{n}", index=n + 1, caller=real.caller + "x" * (3 * n),
                            messages=real.messages * 10 ** n, start_ns=real.start_ns + n * NS_PER_DAY // 2,
                            duration_ns=NS_PER_HOUR - 1 if n == 4 else real.duration_ns * n,
                            reference="rfc3665-3.2" if n % 2 else "", deviations=n if n % 3 else None)
                    for n in range(7)]
            screen.set_rows(rows)
            at_once = (dict(screen._widths), set(screen._days), list(screen.rows), [r.key for r in screen.shown])
            measured = screen.measure_rows()
            for start in range(0, len(rows), 3):
                measured.add(rows[start:start + 3])
            screen.set_rows(measured)
            assert len(measured) == len(rows)
            assert (dict(screen._widths), set(screen._days), list(screen.rows),
                    [r.key for r in screen.shown]) == at_once
            assert at_once[0]["from"] == len(rows[-1].caller) and len(at_once[1]) == 4

    asyncio.run(scenario())


def test_ladder_footer_keeps_its_keys_until_they_change():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert "Select" in footer_descriptions(app.screen)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, LadderScreen)
            footer = app.screen.query_one(SteadyFooter)
            keys = list(footer.query(FooterKey))
            assert {"Back", "Time", "Media", "Zoom"} <= {key.description for key in keys}
            await pilot.press("j", "j", "tab", "tab", "tab")  # focus moves: the same keys shown
            await pilot.pause()
            assert list(footer.query(FooterKey)) == keys
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is app.call_list
            shown = footer_descriptions(app.screen)
            assert "Select" in shown and "Zoom" not in shown

    asyncio.run(scenario())
