"""The app keeps one ladder screen and fills it again on each open (issue 13: opening a ladder
in under 200 ms). Each open must show that call's own ladder, message, deviations and streams,
with the panes as a new screen would have them, and the call list keeps its place."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dpkt
import pytest
from textual.widgets import DataTable, Input, Static, TabbedContent

from tests.conftest import SAMPLES, quick_subset
from tests.tui_pilot import SIZE, type_text, wait_loaded
from tui.app import create_app
from tui.ladder_screen import LadderScreen
from tui.ladder_view import LadderView
from tui.ladder_lines import ladder_lines

# Two calls with RTP streams (RFC 3665 3.1 and 3.7: two Call-IDs), then five without (RFC 5359 2.15).
PARTS = ("rfc3665-3.1-successful-session.pcap", "rfc3665-3.7-session-re-invite-ip-address-change.pcap",
         "rfc5359-2.15-call-park.pcap")


def merged_capture(tmp_path: Path) -> Path:
    """The samples' frames in one file, in time order (their clocks are years apart)."""
    frames = []
    for name in PARTS:
        with open(SAMPLES / name, "rb") as handle:
            reader = dpkt.pcap.Reader(handle)
            assert reader.datalink() == dpkt.pcap.DLT_EN10MB
            frames.extend((ts, bytes(data)) for ts, data in reader)
    frames.sort(key=lambda frame: frame[0])
    path = tmp_path / "seven-calls.pcap"
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle)
        for ts, data in frames:
            writer.writepkt(data, ts=ts)
    return path


def table_rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def text_of(screen: LadderScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def assert_shows_its_own_call(app, key: str) -> None:
    """What the screen shows is the ladder ``build_view`` makes for ``key`` alone, from its
    first arrow, with every pane as a newly composed screen starts."""
    screen = app.screen
    assert isinstance(screen, LadderScreen) and screen.keys == [key]
    ladder, deviations, streams = app.build_view([key], app.media)
    assert screen.ladder == ladder and screen.deviations == deviations and screen.streams == streams
    assert {arrow.message.call_id for arrow in ladder.sip_arrows()} <= {m.call_id for m in app.call(key).messages}
    view = screen.query_one("#ladder", LadderView)
    assert view.lines == ladder_lines(ladder, time=app.time_column)
    assert view.cursor == 0 and view.scroll_offset == (0, 0) and view.has_focus
    first = ladder.sip_arrows()[0]
    assert first.message.call_id in text_of(screen, "#detail")
    assert ladder.title.split("\n")[0][:30] in text_of(screen, "#ladder-title")
    assert [row[1] for row in table_rows(screen.query_one("#deviations", DataTable))] == [d.code for d in deviations]
    assert [row[1] for row in table_rows(screen.query_one("#call-streams", DataTable))] == [s.ssrc_hex for s in streams]
    # The deviations table's cursor starts on its first row, whose whole text is shown under it.
    under = text_of(screen, "#deviation-detail")
    assert under.startswith(f"{deviations[0].code} ({deviations[0].severity})") if deviations else under == ""
    side = screen.query_one("#side", TabbedContent)
    assert side.active == "tab-message" and side.display and view.display
    search = screen.query_one("#search", Input)
    assert not search.display and search.value == "" and screen.search_text == ""
    assert (screen.media, screen.time_column, screen.compare_from) == (app.media, app.time_column, None)


@pytest.mark.parametrize("opens", quick_subset([3, 7], [3]))  # every call of the capture in the long run
def test_calls_opened_one_after_another_each_show_their_own_ladder(tmp_path: Path, opens: int):
    app = create_app(str(merged_capture(tmp_path)))
    composed: list[LadderScreen] = []
    original = LadderScreen.compose

    def counting_compose(screen):
        composed.append(screen)
        return original(screen)

    LadderScreen.compose = counting_compose  # type: ignore[method-assign]

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            keys = [row.key for row in app.call_list.shown]
            assert len(keys) == 7
            shown: list[tuple[str, ...]] = []
            for number, key in enumerate(keys[:opens]):
                assert app.call_list.current_key() == key
                await pilot.press("enter")
                await pilot.pause()
                assert_shows_its_own_call(app, key)
                lines = app.screen.query_one("#ladder", LadderView).lines.lines
                assert lines not in shown  # a different ladder each time: a stale one would repeat
                shown.append(lines)
                # Leave this one in another state than a new screen's: the next open resets it.
                await pilot.press("G", "right", "2", "z", "t", "m", "c")
                if number % 2:
                    await pilot.press("slash")
                    await type_text(pilot, "bye")
                    await pilot.press("escape")  # closes the search line only
                await pilot.press("escape")
                await pilot.pause()
                assert app.screen is app.call_list
                await pilot.press("down")
            assert len(composed) == 1  # one screen composed for every open
            assert app.get_screen("ladder") is composed[0]

    try:
        asyncio.run(scenario())
    finally:
        LadderScreen.compose = original  # type: ignore[method-assign]


def test_back_and_forth_keeps_the_list_selection_and_the_extended_flow_reuses_the_screen(tmp_path: Path):
    app = create_app(str(merged_capture(tmp_path)))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            keys = [row.key for row in app.call_list.shown]
            await pilot.press("down", "space", "space")  # calls 2 and 3 selected, cursor on 4
            await pilot.pause()
            assert app.call_list.selected == {keys[1], keys[2]} and app.call_list.current_key() == keys[3]
            await pilot.press("enter")
            await pilot.pause()
            screen = app.screen
            assert_shows_its_own_call(app, keys[3])
            await pilot.press("j", "escape")
            await pilot.pause()
            assert app.screen is app.call_list
            assert app.call_list.selected == {keys[1], keys[2]} and app.call_list.current_key() == keys[3]
            await pilot.press("x")  # the two selected calls in one ladder, on the same screen
            await pilot.pause()
            assert app.screen is screen and screen.keys == [keys[1], keys[2]]
            both, _, _ = app.build_view([keys[1], keys[2]], app.media)
            assert screen.query_one("#ladder", LadderView).lines == ladder_lines(both, time=app.time_column)
            assert {a.message.call_id for a in both.sip_arrows()} == {
                a.message.call_id for k in keys[1:3] for a in app.build_view([k], app.media)[0].sip_arrows()}
            await pilot.press("escape", "up")
            await pilot.pause()
            assert app.call_list.current_key() == keys[2]
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is screen
            assert_shows_its_own_call(app, keys[2])

    asyncio.run(scenario())


def test_a_call_that_cannot_be_drawn_leaves_nothing_of_the_last_one(tmp_path: Path):
    app = create_app(str(merged_capture(tmp_path)))
    build = app.build_view
    broken: set[str] = set()

    def build_or_fail(keys, media):
        if keys[0] in broken:
            raise ValueError("no ladder for this one")
        return build(keys, media)

    app.build_view = build_or_fail  # type: ignore[method-assign]

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            keys = [row.key for row in app.call_list.shown]
            await pilot.press("enter")
            await pilot.pause()
            screen = app.screen
            assert screen.streams and screen.query_one("#ladder", LadderView).lines.lines
            broken.add(keys[1])
            await pilot.press("escape", "down", "enter")
            await pilot.pause()
            assert app.screen is screen and screen.keys == [keys[1]]
            assert "Cannot draw this ladder: ValueError: no ladder for this one" in text_of(screen, "#ladder-title")
            assert (screen.ladder, screen.deviations, screen.streams) == (None, [], [])
            assert screen.query_one("#ladder", LadderView).lines.lines == ()
            assert text_of(screen, "#detail") == ""
            for table in ("#deviations", "#call-streams"):
                assert screen.query_one(table, DataTable).row_count == 0
            await pilot.press("escape", "down", "enter")  # the next call draws again
            await pilot.pause()
            assert_shows_its_own_call(app, keys[2])

    asyncio.run(scenario())


def test_the_ladder_screen_is_composed_while_the_list_is_read_and_filled_on_the_first_open(tmp_path: Path):
    app = create_app(str(merged_capture(tmp_path)))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            for _ in range(100):
                if app._ladder_screen is not None and app._ladder_screen.composed:
                    break
                await pilot.pause(0.02)
            screen = app.get_screen("ladder")
            assert screen.composed and screen.keys == [] and screen.ladder is None
            assert app.screen is app.call_list and app.call_list.query_one("#calls").has_focus
            key = app.call_list.current_key()
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is screen
            assert_shows_its_own_call(app, key)

    asyncio.run(scenario())


def test_an_open_while_the_screen_is_still_being_composed_draws_that_call(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("tui.app.PREPARE_LADDER_AFTER_S", 600)  # the test starts the composing
    app = create_app(str(merged_capture(tmp_path)))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert app._ladder_screen is None
            keys = [row.key for row in app.call_list.shown]
            app.prepare_ladder_screen()
            assert not app._ladder_screen.composed
            app.open_ladder([keys[1]])  # in the same turn, before its widgets exist
            await pilot.pause()
            await pilot.pause()
            assert app.screen is app.get_screen("ladder")
            assert_shows_its_own_call(app, keys[1])

    asyncio.run(scenario())
