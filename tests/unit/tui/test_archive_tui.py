"""``ladder INDEX`` on a terminal: the call list from an archive index, a ladder read back
from the rotated files where its call lies (Pilot, through the app the CLI runs)."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from ladder.archive.indexer import build_index
from ladder.calls.grouping import build_calls, find_call
from ladder.capture.loader import load_capture
from ladder.draw.layout import build_ladder
from ladder.media.binding import bind_media
from ladder.draw.diagram import arrow_label
from tests.archive_captures import rtp_capture, split_capture
from test_tui_app import shown_indexes
from tests.tui_pilot import SIZE, wait_loaded
from tui.index_app import IndexApp
from tui.ladder_screen import LadderScreen
from tui.ladder_view import LadderView


def test_index_call_list_and_a_stitched_ladder(tmp_path):
    whole = rtp_capture(tmp_path / "trunk.pcap", calls=6, seconds=3)
    split_capture(whole, tmp_path / "ring", 250)
    build_index([str(tmp_path / "ring")], str(tmp_path / "index"), workers=1)
    capture = load_capture(str(whole))
    calls = build_calls(capture)
    wanted = find_call(calls, "bench-3@10.0.0.4")
    unsplit = build_ladder(wanted, capture, bindings=bind_media(calls, capture.streams))
    app = IndexApp(str(tmp_path / "index"))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert shown_indexes(app) == [1, 2, 3, 4, 5, 6]
            app.call_list.query_one("#filter", Input).value = "from:caller3 outcome:completed"
            await pilot.pause()
            assert shown_indexes(app) == [4]
            app.call_list.query_one("#filter", Input).value = "has:one-way-media"
            await pilot.pause()
            assert shown_indexes(app) == []
            app.call_list.query_one("#filter", Input).value = "callid:bench-3@"
            await pilot.pause()
            app.call_list.query_one("#calls").focus()
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, LadderScreen)
            view = app.screen.query_one("#ladder", LadderView)
            # The ladder read back from rotated files is the unsplit capture's: its columns and
            # every arrow, in order (the TUI draws them with its time column and fixed header).
            shown = app.screen.ladder
            assert [p.name for p in shown.participants] == [p.name for p in unsplit.participants]
            assert [arrow_label(a) for a in shown.arrows] == [arrow_label(a) for a in unsplit.arrows]
            drawn = "\n".join(view.lines.lines)
            assert "RTP PCMU → 150 ← 150 pkts" in drawn and "reference: rfc3665-3.1" in drawn
            await pilot.press("escape")
            assert app.screen is app.call_list

    asyncio.run(scenario())
