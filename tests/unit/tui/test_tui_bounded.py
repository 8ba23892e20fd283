"""The TUI's bounded path (``tui.bounded_load``: messages left in the file, a row per
call, a call read back when its ladder opens) shows what the full load shows: the same rows
with the same check results, the same ladders, deviations and streams for every call, and the
same media bindings, on the samples and the shared corpus; and the app opens a call from it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ladder.check.references import load_references
from ladder.draw.text import render_text
from tests.conftest import SAMPLES, shared_path
from tests.tui_pilot import SIZE, wait_loaded
from tui.app import create_app
from tui.call_rows import call_row
from tui.ladder_screen import LadderScreen
from tui.loading import (CallsMade, CallsSoFar, CheckFailed, ChecksFinished, CheckSummary, LoadFinished, MediaBound,
                         ProgressThrottle, load_in_thread)
from tui.raw_screen import RawScreen
from ladder.capture.loader import load_capture
from ladder.capture.progress import Progress

TWO_PROXIES = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"
QUICK_SAMPLES = [SAMPLES / name for name in (
    "rfc3665-3.2-session-through-two-proxies.pcap", "rfc3665-3.8-unsuccessful-no-answer.pcap",
    "rfc3665-2.1-successful-new-registration.pcap", "rfc5359-2.4-transfer-unattended.pcap")]


def _load(path: Path, bounded: bool) -> list:
    posted: list = []
    load_in_thread(posted.append, lambda: False, str(path), bounded=bounded)
    return posted


def _checks(posted: list) -> dict:
    found: dict = {}
    for message in posted:
        if isinstance(message, ChecksFinished):
            found.update(message.results)
    return found


def _view(analysis, call, result) -> tuple:
    ladder = analysis.ladder(call)
    return (render_text(ladder, time=True, sdp=True, clock=True), result.reference,
            [(d.code, d.f, d.message) for d in result.deviations])


def _assert_same_as_full(path: Path) -> int:
    """Rows, views and media of ``path`` loaded both ways are equal; returns the calls compared."""
    full, bounded = _load(path, False), _load(path, True)
    done = [m for m in full if isinstance(m, LoadFinished)]
    if not done:  # the loader refused the file: so does the bounded path, the same way
        assert [type(m) for m in bounded if not type(m).__name__ == "LoadProgress"] == \
            [type(m) for m in full if not type(m).__name__ == "LoadProgress"], path.name
        return 0
    (finished,) = done
    (located,) = [m for m in bounded if isinstance(m, LoadFinished)]
    assert located.catalogue is not None and finished.catalogue is None
    assert not located.capture.sip_messages  # nothing parsed is kept
    full_checks, summaries = _checks(full), _checks(bounded)
    assert list(summaries) == list(full_checks), path.name
    rows = [call_row(call) for call in finished.calls]
    assert located.calls == rows, path.name  # the rows before any check, in order
    media = [(m.call_of, m.problems) for m in full if isinstance(m, MediaBound)]
    assert [(m.call_of, m.problems) for m in bounded if isinstance(m, MediaBound)] == media, path.name
    references = load_references()
    settings = located.bounded.settings
    for call in finished.calls:
        result, summary = full_checks[call.id], summaries[call.id]
        if isinstance(result, CheckFailed):
            assert summary == result, (path.name, call.index)
            continue
        assert summary == CheckSummary(result.reference, len(result.deviations)), (path.name, call.index)
        rebuilt = located.catalogue.call(call.id)
        again = located.analysis.check(rebuilt, references, settings=settings)
        assert _view(located.analysis, rebuilt, again) == _view(finished.analysis, call, result), \
            (path.name, call.index)
    return len(rows)


def test_samples_look_the_same_on_the_bounded_path():
    assert sum(_assert_same_as_full(path) for path in QUICK_SAMPLES) >= 4


def test_corpus_looks_the_same_on_the_bounded_path(corpus):
    counts = [_assert_same_as_full(path) for path in corpus.paths]
    assert sum(counts) > (100 if corpus.whole else 10)


def test_partial_lists_read_back_only_a_window_of_the_first_messages():
    """While a big capture loads, the list shows the calls of its first messages, read back from
    the file soon into the load: a window, not every message so far (that grows with the file)."""
    capture = load_capture(str(TWO_PROXIES), media=False, messages=False, locate=True)
    store = capture.message_store
    posted = []
    now = [0.0]
    throttle = ProgressThrottle(posted.append, lambda: False, 1000, clock=lambda: now[0], first_partial_s=0.1,
                                partial_messages=5)
    for step in (0.05, 0.2, 3.0, 6.0):
        now[0] = step
        throttle(Progress(1, 1, 1000, step, sip_messages=len(store), sip_so_far=store.so_far))
    partial = [m for m in posted if isinstance(m, CallsSoFar)]
    assert len(partial) == 1  # at 0.2 s; the window was full then: not made again
    (call,) = partial[0].calls
    assert [m.index for m in call.messages] == [0, 1, 2, 3, 4]  # read back by number from the store
    assert len(store) == 23  # a window of 5 of them, not every message so far


def test_the_bar_follows_the_calls_made_once_the_read_is_over():
    """Correlating a busy capture takes longer than reading it, and no row comes before every
    Call-ID is seen: the loader says how many calls are made of the Call-IDs found, and the
    list's progress line shows it."""
    posted = _load(TWO_PROXIES, True)
    made = [m for m in posted if isinstance(m, CallsMade)]
    (finished,) = [m for m in posted if isinstance(m, LoadFinished)]
    assert made and made[0].made == 1  # at once: the read is over
    assert posted.index(made[0]) < posted.index(finished)
    # Every Call-ID the read found (one here: RFC 3665 §3.2 keeps its Call-ID through both proxies).
    assert made[0].call_ids == len({m.call_id for m in load_capture(str(TWO_PROXIES), media=False).sip_messages})
    app = create_app(str(TWO_PROXIES), bounded=True)

    async def label() -> str:
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            app.loaded = False  # as while the calls are still being made
            app.post_message(CallsMade(2, 3))
            await pilot.pause()
            return str(app.call_list.query_one("#load-label").render())

    assert "2 made of 3 Call-IDs" in asyncio.run(label())


def test_app_opens_a_call_read_back_from_the_file():
    """On the bounded path the list holds rows; Enter reads the call back and draws the ladder
    the full load draws, with its deviations; the raw view shows the message bytes."""
    full = create_app(str(TWO_PROXIES))
    app = create_app(str(TWO_PROXIES), bounded=True)

    async def shown(which) -> tuple:
        async with which.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, which)
            await pilot.press("enter")
            await pilot.pause()
            screen = which.screen
            assert isinstance(screen, LadderScreen) and screen.ladder is not None
            ladder = render_text(screen.ladder, time=True)
            deviations = [(d.code, d.f) for d in screen.deviations]
            await pilot.press("R")
            await pilot.pause()
            assert isinstance(which.screen, RawScreen)
            raw = str(which.screen.query_one("#raw").render())
            rows = list(which.call_list.rows.values())
            return ladder, deviations, raw, rows

    expected = asyncio.run(shown(full))
    found = asyncio.run(shown(app))
    assert found == expected
    assert app.catalogue is not None and app.catalogue.rebuilt == 2  # built for the checker, then opened
    assert isinstance(app.checks[found[3][0].key], CheckSummary)
    assert "INVITE sip:" in found[2] and found[3][0].reference == "rfc3665-3.2"


def test_app_on_the_bounded_path_with_media():
    """Streams bound once over every call: the list's streams and a call's bars are the full load's."""
    path = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")

    async def seen(which) -> tuple:
        async with which.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, which)
            views = [which.build_view([key], True) for key in which.calls]
            return ([render_text(ladder) for ladder, _d, _s in views], [[s.key for s in streams] for *_x, streams in views],
                    dict(which.call_list.stream_calls))

    expected = asyncio.run(seen(create_app(str(path))))
    found = asyncio.run(seen(create_app(str(path), bounded=True)))
    assert found == expected and any(expected[1]) and expected[2]
