"""Pilot tests through ``create_app`` — the same factory ``ladder FILE`` uses on a terminal."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, RadioButton, Static

from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.export.pcap_writer import FrameFactory, PcapWriter
from ladder.draw.diagram import arrow_label
from ladder.draw.text import render_text
from tests.conftest import SAMPLES, shared_path
from tests.tui_pilot import SIZE, type_text, wait_loaded
from tui.app import create_app
from tui.call_table import CallTable
from tui.dialogs import HelpScreen
from tui.ladder_screen import LadderScreen
from tui.ladder_view import LadderView
from tui.raw_screen import RawScreen
from tui.save_dialog import SaveScreen

TWO_PROXIES = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


def tui_lines(ladder, *, time: bool = True) -> list[str]:
    """What the ladder view shows: the text renderer's lines with sngrep's marks and time
    column, without the title (the screen shows it above)."""
    lines = render_text(ladder, time=time, sdp=True, clock=True).rstrip("\n").split("\n")
    return lines[2:]


def detail_text(app) -> str:
    return str(app.screen.query_one("#detail", Static).render())


def calls_table(app) -> CallTable:
    return app.call_list.query_one("#calls", CallTable)


def shown_indexes(app) -> list[int]:
    """The call numbers in the list's first column, top to bottom."""
    table = calls_table(app)
    return [int(table.cells_at(i)[0].plain.split()[-1]) for i in range(table.row_count)]


def test_open_sample_select_call_and_walk_the_arrows():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert app.load_error is None
            assert shown_indexes(app) == [1]
            await pilot.press("enter")
            assert isinstance(app.screen, LadderScreen)
            ladder = app.screen.ladder
            arrows = ladder.arrows
            assert [a.f for a in ladder.sip_arrows()] == list(range(1, 24))
            first = detail_text(app)
            assert first.startswith("INVITE F1 (SDP)")
            assert arrows[0].message.raw.split(b"\r\n")[0].decode() in first
            for _ in range(3):
                await pilot.press("down")
            await pilot.press("k")  # vi keys too: back to the third arrow
            await pilot.pause()
            view = app.screen.query_one("#ladder", LadderView)
            assert view.cursor == 2
            third = detail_text(app)
            arrow = arrows[2]
            assert third.startswith(arrow_label(arrow, sdp=True))
            assert arrow.message.raw.split(b"\r\n")[0].decode() in third
            assert f"frame {arrow.frames[0]}" in third
            assert arrow.message.call_id in third
            # The view shows exactly the text renderer's lines, the cursor on F3's two rows.
            assert list(view.lines.lines) == tui_lines(ladder)
            first_line, last_line = view.lines.arrow_lines[2]
            assert "ACK F3" in view.lines.lines[first_line] and "-->" in view.lines.lines[last_line]
            await pilot.press("G")
            await pilot.pause()
            assert detail_text(app).startswith(arrow_label(arrows[-1], sdp=True))
            await pilot.press("escape")
            assert app.screen is app.call_list

    asyncio.run(scenario())


def test_filter_narrows_the_call_list():
    path = shared_path("captures/wireshark-wiki/aaa.pcap")
    calls = build_calls(load_capture(str(path), media=False))
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert shown_indexes(app) == [c.index for c in calls]
            await pilot.press("f7")
            assert app.call_list.query_one("#filter", Input).has_focus
            await type_text(pilot, "method:REGISTER")
            await pilot.pause()
            registers = [c.index for c in calls if c.first_method == "REGISTER"]
            assert shown_indexes(app) == registers and 0 < len(registers) < len(calls)
            app.call_list.query_one("#filter", Input).value = "outcome:rejected"
            await pilot.pause()
            assert shown_indexes(app) == [c.index for c in calls if c.outcome.code == "rejected"]
            app.call_list.query_one("#filter", Input).value = "/(broken/"
            await pilot.pause()
            assert app.call_list.query_one("#filter", Input).has_class("bad-filter")
            assert shown_indexes(app) == [c.index for c in calls if c.outcome.code == "rejected"]
            app.call_list.query_one("#filter", Input).value = ""
            await pilot.pause()
            assert shown_indexes(app) == [c.index for c in calls]

    asyncio.run(scenario())


@pytest.mark.parametrize("content, expected", [
    (b"", "empty file"),
    (b"these are my notes, not a capture\n", "not a pcap or pcapng capture"),
])
def test_bad_file_shows_a_message_in_the_app(tmp_path: Path, content: bytes, expected: str):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    app = create_app(str(bad))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            error = app.call_list.query_one("#load-error", Static)
            assert error.display and expected in str(error.render())
            assert calls_table(app).row_count == 0
            await pilot.press("enter")  # nothing to open, nothing breaks
            assert app.screen is app.call_list
            await pilot.press("q")
        assert app.return_code == 2  # like the CLI: 2 for a bad input file

    asyncio.run(scenario())


def test_missing_file_shows_a_message_in_the_app(tmp_path: Path):
    app = create_app(str(tmp_path / "nowhere.pcap"))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert "no such file" in app.load_error

    asyncio.run(scenario())


def _hostile_capture(path: Path) -> None:
    """One INVITE whose display names carry escape sequences and Rich markup."""
    message = (
        "INVITE sip:bob@192.0.2.2 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKhostile1\r\n"
        "Max-Forwards: 70\r\n"
        "From: \"\x1b]0;owned\x07[bold red]Eve[/]\x1b[2J\" <sip:eve\x1b[31m@192.0.2.1>;tag=1\r\n"
        "To: \"[link=http://x]Bob\" <sip:bob@192.0.2.2>\r\n"
        "Call-ID: hostile-1@192.0.2.1\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:eve@192.0.2.1>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode("latin-1")
    frames = FrameFactory()
    with open(path, "wb") as handle:
        writer = PcapWriter(handle)
        writer.write(1_700_000_000_000_000_000, frames.udp("192.0.2.1", 5060, "192.0.2.2", 5060, message))


def test_capture_text_is_shown_literally(tmp_path: Path):
    path = tmp_path / "hostile.pcap"
    _hostile_capture(path)
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert calls_table(app).row_count == 1
            cells = [str(c) for c in calls_table(app).cells_at(0)]
            assert not any("\x1b" in c or "\x07" in c for c in cells)
            drawn = calls_table(app).render_line(1).text  # the row as the terminal gets it
            assert drawn.split()[0] == "1" and cells[3][:20] in drawn
            assert not any(ord(ch) < 32 or ch == "\x7f" for ch in drawn)
            await pilot.press("enter")
            detail = app.screen.query_one("#detail", Static).render()
            assert "[bold red]Eve[/]" in str(detail)  # markup shown as text, not applied
            assert "\x1b" not in str(detail) and "owned" not in str(detail)
            assert not any("link" in str(span.style) for span in getattr(detail, "spans", []))
            lines = app.screen.query_one("#ladder", LadderView).lines.lines
            assert not any("\x1b" in line for line in lines)

    asyncio.run(scenario())


def test_time_column_and_raw_view_and_help():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            screen = app.screen
            view = screen.query_one("#ladder", LadderView)
            await pilot.press("down", "down")
            # sngrep's time column is on at first: wall-clock time, then the delta.
            assert list(view.lines.lines) == tui_lines(screen.ladder)
            shaft = view.lines.lines[view.lines.arrow_lines[2][1]]
            assert re.match(r"\d\d:\d\d:\d\d\.\d{3} \+\d+\.\d{3} ", shaft), shaft
            await pilot.press("t")
            await pilot.pause()
            assert list(view.lines.lines) == tui_lines(screen.ladder, time=False)
            assert view.cursor == 2  # the cursor stays on its arrow
            await pilot.press("t")
            await pilot.pause()
            assert list(view.lines.lines) == tui_lines(screen.ladder)
            await pilot.press("f6")
            assert isinstance(app.screen, RawScreen)
            raw = str(app.screen.query_one("#raw", Static).render())
            for arrow in screen.ladder.sip_arrows():
                assert arrow_label(arrow, sdp=True) in raw
            assert raw.count("SIP/2.0") >= len(screen.ladder.sip_arrows())
            await pilot.press("escape")
            assert app.screen is screen
            side = screen.query_one("#side")
            ladder_width = view.size.width
            await pilot.press("z")
            await pilot.pause()
            assert not side.display and view.size.width > ladder_width
            await pilot.press("z")
            await pilot.pause()
            assert side.display and view.size.width == ladder_width
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert app.screen is screen

    asyncio.run(scenario())


def test_several_selected_calls_in_one_ladder():
    path = shared_path("captures/wireshark-wiki/aaa.pcap")
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("space", "space")  # select calls 1 and 2 (space moves down)
            assert app.call_list.selected == {app.call_list.shown[0].key, app.call_list.shown[1].key}
            marks = [str(calls_table(app).cells_at(i)[0]).strip() for i in range(3)]
            assert marks == ["● 1", "● 2", "3"]  # sngrep's selection mark beside the number
            await pilot.press("x")
            screen = app.screen
            assert isinstance(screen, LadderScreen)
            calls = [app.calls[k] for k in screen.keys]
            assert [c.index for c in calls] == [1, 2]
            sip = screen.ladder.sip_arrows()
            assert len(sip) == sum(len(c.messages) for c in calls)
            assert [a.f for a in sip] == list(range(1, len(sip) + 1))
            assert {a.call_id for a in sip} == {cid for c in calls for cid in c.call_ids}

    asyncio.run(scenario())


def test_save_dialog_path_format_scope_and_no_silent_overwrite(tmp_path: Path):
    app = create_app(str(TWO_PROXIES), export_dir=tmp_path)

    async def save(pilot, fmt: str, name: str | None = None, *, scope: str = "selected") -> None:
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SaveScreen)
        dialog = app.screen
        dialog.query_one(f"#format-{fmt}", RadioButton).value = True
        dialog.query_one(f"#scope-{scope}", RadioButton).value = True
        await pilot.pause()
        if name is not None:
            dialog.query_one("#save-path", Input).value = str(tmp_path / name)
            await pilot.pause()
        await pilot.click("#save-ok")
        await pilot.pause()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            ladder = app.screen.ladder
            stem = "rfc3665-3.2-session-through-two-proxies-call1"
            await save(pilot, "text")  # the name offered: the capture's, the call's, the format's suffix
            await save(pilot, "mermaid")
            await save(pilot, "pcap")
            assert any(f"{stem}.pcap" in n.message for n in app._notifications)  # says where
            await save(pilot, "html")
            await save(pilot, "json", "all.json", scope="all")
            assert isinstance(app.screen, LadderScreen)
            # The time column is on in the TUI: the text is saved as shown.
            assert (tmp_path / f"{stem}.txt").read_text() == render_text(ladder, time=True)
            assert "sequenceDiagram" in (tmp_path / f"{stem}.mmd").read_text()
            assert json.loads((tmp_path / "all.json").read_text())["calls"][0]["arrows"][0]["label"] == "INVITE"
            exported = load_capture(str(tmp_path / f"{stem}.pcap"))
            original = load_capture(str(TWO_PROXIES))
            assert [m.raw for m in exported.sip_messages] == [m.raw for m in original.sip_messages]
            assert exported.rtp_packets == original.rtp_packets > 0  # the call's media came along
            html = (tmp_path / f"{stem}.html").read_text()
            assert html.lstrip().lower().startswith("<!doctype html")
            # An existing file: the first Save only warns; Overwrite replaces it.
            (tmp_path / "keep.txt").write_text("mine")
            await save(pilot, "text", "keep.txt")
            assert isinstance(app.screen, SaveScreen)
            assert "exists" in str(app.screen.query_one("#save-status", Static).render())
            assert (tmp_path / "keep.txt").read_text() == "mine"
            await pilot.pause(0.3)  # a button takes no second press within its 0.2 s press effect
            await pilot.click("#save-ok")
            await pilot.pause()
            assert isinstance(app.screen, LadderScreen)
            assert (tmp_path / "keep.txt").read_text() == render_text(ladder, time=True)
            # The command palette's quick save: a free name, never over the first.
            from tui.export import MERMAID

            first = app.export_calls(MERMAID, app.screen.keys, ladder)
            second = app.export_calls(MERMAID, app.screen.keys, ladder)
            assert first.name == f"{stem}-2.mmd" and second.name == f"{stem}-3.mmd"

    asyncio.run(scenario())


def test_streams_tab():
    from ladder.media.binding import bind_media

    path = shared_path("captures/wireshark-wiki/sip-rtp-g711.pcap")
    capture = load_capture(str(path))
    calls = build_calls(capture)
    call_of = {b.stream.key: b.call_id for b in bind_media(calls, capture.streams)}
    number_of = {c.id: c.index for c in calls}
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("2")
            streams = app.call_list.query_one("#streams", DataTable)
            assert streams.row_count == len(capture.streams) > 0
            rows = [[str(c) for c in streams.get_row_at(i)] for i in range(streams.row_count)]
            assert {r[1] for r in rows} == {s.ssrc_hex for s in capture.streams}
            by_ssrc = {s.ssrc_hex: s for s in capture.streams}
            for row in rows:
                stream = by_ssrc[row[1]]
                assert row[5] == f"{stream.packets:,}" and row[6] == f"{stream.lost:,}"
                assert row[9] == f"{stream.max_jitter_ms:.2f}"
                expected = number_of.get(call_of.get(stream.key))
                assert row[0] == ("-" if expected is None else str(expected))
            assert any(r[0] != "-" for r in rows)  # the call's streams are bound to it

    asyncio.run(scenario())


def test_diagnostics_tab_lists_what_could_not_be_decoded():
    path = shared_path("captures/ndpi/fuzz-2006-06-26-2594.pcap")
    capture = load_capture(str(path))
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("3")
            table = app.call_list.query_one("#diagnostics", DataTable)
            assert len(capture.diagnostics) > 0
            assert table.row_count == len(capture.diagnostics) + len(capture.diagnostic_list)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            counts = {r[0]: r[1] for r in rows[:len(capture.diagnostics)]}
            assert counts == {reason: f"{n:,}" for reason, n in capture.diagnostics.items()}
            examples = rows[len(capture.diagnostics):]
            assert [(r[0], r[2]) for r in examples] == [
                (d.reason, f"{d.frame:,}") for d in capture.diagnostic_list]

    asyncio.run(scenario())


def test_deviations_are_marked_and_selecting_one_jumps_to_its_arrow():
    from ladder.check.call_check import check_call
    from ladder.check.references import load_references

    path = shared_path("captures/wireshark-wiki/aaa.pcap")
    capture = load_capture(str(path))
    calls = build_calls(capture)
    results = {c.index: check_call(c, capture, load_references()) for c in calls}
    index, result = next((i, r) for i, r in results.items() if any(d.f for d in r.deviations[1:]))
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            table = calls_table(app)
            row = shown_indexes(app).index(index)
            assert str(table.cells_at(row)[-1]) == str(len(result.deviations))
            table.move_cursor(row=row)
            await pilot.press("enter")
            screen = app.screen
            assert len(screen.deviations) == len(result.deviations)
            marked = {a.f for a in screen.ladder.arrows if a.marks}
            assert marked == {f for d in result.deviations for f in d.f}
            number, target = next((n, d) for n, d in enumerate(result.deviations) if n > 0 and d.f)
            await pilot.press("2")
            deviations = screen.query_one("#deviations", DataTable)
            deviations.focus()
            deviations.move_cursor(row=number)
            await pilot.press("enter")
            await pilot.pause()
            view = screen.query_one("#ladder", LadderView)
            assert screen.ladder.arrows[view.cursor].f == target.f[0]
            assert detail_text(app).startswith(arrow_label(screen.ladder.arrows[view.cursor], sdp=True))
            assert target.code in detail_text(app)  # the mark is shown with the message

    asyncio.run(scenario())


def test_media_bar_shows_its_stream_statistics_and_media_toggles():
    path = shared_path("captures/wireshark-wiki/sip-rtp-g711.pcap")
    capture = load_capture(str(path))
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            screen = app.screen
            bars = [i for i, a in enumerate(screen.ladder.arrows) if a.kind == "media"]
            assert bars, "the call has RTP, so its ladder has a media bar"
            view = screen.query_one("#ladder", LadderView)
            for _ in range(bars[0]):
                await pilot.press("j")
            await pilot.pause()
            bar = screen.ladder.arrows[view.cursor]
            streams = [s for s in capture.streams if s.key in set(bar.stream_keys)]
            text = detail_text(app)
            assert text.startswith(f"RTP {streams[0].codec} ") and streams
            for stream in streams:
                assert f"RTP stream {stream.ssrc_hex}" in text
                assert f"{stream.packets:,} of {stream.expected:,} expected" in text
                assert f"max {stream.max_jitter_ms:.2f}" in text
            await pilot.press("home", "3")  # the call's streams; Enter on one jumps to its bar
            table = screen.query_one("#call-streams", DataTable)
            assert table.row_count == len(screen.streams) >= len(streams)
            table.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert view.cursor == bars[0] and detail_text(app).startswith(bar.label)
            sip_before = [a.f for a in screen.ladder.sip_arrows()]
            await pilot.press("m")
            await pilot.pause()
            assert not any(a.kind == "media" for a in screen.ladder.arrows)
            assert [a.f for a in screen.ladder.sip_arrows()] == sip_before  # same F-numbers
            await pilot.press("m")
            await pilot.pause()
            assert any(a.kind == "media" for a in screen.ladder.arrows)

    asyncio.run(scenario())


def test_sorting_reorders_the_call_list():
    path = shared_path("captures/wireshark-wiki/aaa.pcap")
    calls = build_calls(load_capture(str(path), media=False))
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            calls_table(app).move_cursor(row=2)
            under_cursor = app.call_list.current_key()
            for _ in range(5):  # index -> start -> method -> from -> to -> messages
                await pilot.press("o")
            assert app.call_list.sort_column == "messages"
            by_messages = sorted(calls, key=lambda c: (len(c.messages), c.index))
            assert shown_indexes(app) == [c.index for c in by_messages]
            assert app.call_list.current_key() == under_cursor  # the cursor stays on its call
            await pilot.press("O")
            assert shown_indexes(app) == [c.index for c in reversed(by_messages)]
            app.call_list.query_one("#filter", Input).value = "method:INVITE"
            await pilot.pause()  # a filter keeps the chosen order
            invites = [c for c in reversed(by_messages) if c.first_method == "INVITE"]
            assert shown_indexes(app) == [c.index for c in invites]
            assert "sorted by messages ▼" in app.call_list.sub_title

    asyncio.run(scenario())


def test_search_and_command_palette_on_the_ladder():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            screen = app.screen
            view = screen.query_one("#ladder", LadderView)
            await pilot.press("slash")
            search = screen.query_one("#search", Input)
            assert search.display and search.has_focus
            await type_text(pilot, "proxy-authorization")
            await pilot.press("enter")
            await pilot.pause()
            # The first message after F1 whose text holds the header: the INVITE F4 with credentials.
            hits = [a.f for a in screen.ladder.sip_arrows()
                    if b"proxy-authorization" in a.message.raw.lower()]
            assert hits and screen.ladder.arrows[view.cursor].f == hits[0]
            await pilot.press("escape")  # closes the search line, stays on the ladder
            assert app.screen is screen and not search.display
            await pilot.press("n")
            await pilot.pause()
            assert screen.ladder.arrows[view.cursor].f == (hits[1] if len(hits) > 1 else hits[0])
            await pilot.press("slash")
            search.value = ""
            await type_text(pilot, "F17")
            await pilot.press("enter")
            await pilot.pause()
            assert screen.ladder.arrows[view.cursor].f == 17
            await pilot.press("escape")
            await pilot.press("ctrl+p")
            await pilot.pause()
            await type_text(pilot, "toggle time")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is screen and not screen.time_column  # on at first: toggled off
            assert list(view.lines.lines) == tui_lines(screen.ladder, time=False)

    asyncio.run(scenario())


def test_click_on_an_arrow_selects_it():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            view = app.screen.query_one("#ladder", LadderView)
            first, last = view.lines.arrow_lines[4]
            await pilot.click("#ladder", offset=(12, last))
            await pilot.pause()
            assert view.cursor == 4
            assert detail_text(app).startswith(arrow_label(app.screen.ladder.arrows[4], sdp=True))

    asyncio.run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize("relative", [
    "captures/heplify/erspan_sip_ipv4_udp.pcapng",  # ERSPAN, REFER, SUBSCRIBE/NOTIFY
    "captures/heplify/sip_tcp_websocket.pcap",  # SIP over WebSocket
    "captures/hep-wireshark/hep3_compressed.pcap.pcapng",  # HEP v3, compressed chunks
    "captures/wireshark-wiki/c07-sip-r2.cap",  # NetMon file of PROTOS fuzz cases (tshark engine)
    "captures/ndpi/fuzz-2006-06-26-2594.pcap",  # fuzzed packets, many diagnostics
    "captures/sngrep/ipv6frag.pcap",  # IPv6 fragments, PRACK/UPDATE
    "captures/sipp/g711a.pcap",  # RTP only, no call at all
])
def test_real_captures_open_and_every_ladder_draws(relative: str):
    path = shared_path(relative)
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_loaded(pilot, app)
            assert app.load_error is None
            assert calls_table(app).row_count == len(app.calls)
            for key in list(app.calls)[:3]:
                app.open_ladder([key])
                await pilot.pause()
                screen = app.screen
                assert isinstance(screen, LadderScreen) and screen.ladder is not None
                await pilot.press("G", "t", "m", "k")
                await pilot.pause()
                cursor = screen.query_one("#ladder", LadderView).cursor
                assert detail_text(app).startswith(arrow_label(screen.ladder.arrows[cursor], sdp=True))
                await pilot.press("escape")
            problems = [n.message for n in app._notifications if n.severity == "error"]
            assert problems == []

    asyncio.run(scenario())


def test_retransmissions_and_deviations_are_highlighted():
    from tui.ladder_view import DEVIATION_STYLE, RETRANSMISSION_STYLE

    sample = SAMPLES / "rfc3665-3.10-unsuccessful-no-response-user-agent.pcap"
    app = create_app(str(sample))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            screen = app.screen
            view = screen.query_one("#ladder", LadderView)
            retransmitted = [i for i, a in enumerate(screen.ladder.arrows) if a.retransmission and not a.marks]
            marked = [i for i, a in enumerate(screen.ladder.arrows) if a.marks]
            assert retransmitted, "RFC 3665 §3.10 retransmits the INVITE"
            for index in retransmitted:
                first, last = view.lines.arrow_lines[index]
                assert view._line_styles[first] == RETRANSMISSION_STYLE == view._line_styles[last]
                assert "(retransmission)" in view.lines.lines[first]
            for index in marked:
                assert view._line_styles[view.lines.arrow_lines[index][1]] == DEVIATION_STYLE
            plain = [i for i, a in enumerate(screen.ladder.arrows)
                     if not a.retransmission and not a.marks and a.kind != "media"]
            assert plain and all(view._line_styles[view.lines.arrow_lines[i][1]] is None for i in plain)

    asyncio.run(scenario())


def test_truncated_file_shows_its_calls_and_says_what_is_wrong(tmp_path: Path):
    sample = SAMPLES / "rfc3665-3.1-successful-session.pcap"
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(sample.read_bytes()[:-30])  # the last record loses its end
    app = create_app(str(cut))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            assert app.load_error is None and shown_indexes(app) == [1]  # every complete frame used
            error = app.call_list.query_one("#load-error", Static)
            assert error.display and "truncated last record" in str(error.render())
            await pilot.press("3")
            errors = app.call_list.query_one("#capture-errors", Static)
            assert "truncated last record" in str(errors.render())

    asyncio.run(scenario())


def test_streams_tab_shows_media_problems():
    from ladder.media.binding import call_media_problems

    path = shared_path("captures/wireshark-wiki/SIP_DTMF2.cap")
    capture = load_capture(str(path))
    problems = {p.stream_key: p.code for p in call_media_problems(build_calls(capture), capture)
                if p.stream_key is not None}
    assert problems, "this capture's RTP comes from an address other than its SDP's"
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("2")
            await pilot.pause()
            table = app.call_list.query_one("#streams", DataTable)
            shown = {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[-1]) for i in range(table.row_count)}
            for stream in capture.streams:
                expected = problems.get(stream.key)
                assert (expected in shown[stream.ssrc_hex]) if expected else shown[stream.ssrc_hex] == "-"

    asyncio.run(scenario())


def test_partial_call_lists_are_appended_without_duplicates(tmp_path):
    """While loading, each partial list only appends the calls not listed yet (all at once: the
    virtual table builds nothing per row); the finished list then replaces everything."""
    calls = build_calls(load_capture(str(shared_path("captures/wireshark-wiki/wireuploaded.pcap")), media=False))
    assert len(calls) > 20
    missing = tmp_path / "not-there.pcap"  # the app's own load fails at once and stays out of the way
    app = create_app(str(missing))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.call_list
            table = calls_table(app)
            rows = [app.row_of(call) for call in calls]
            screen.add_rows_while_loading(rows[:10])
            assert table.row_count == 10
            table.move_cursor(3)
            screen.add_rows_while_loading(rows)  # 10 known, the rest new
            assert table.row_count == len(rows)
            assert list(table.row_keys) == [r.key for r in screen.shown] == [r.key for r in rows]
            assert table.cursor_key == rows[3].key  # the cursor stays on its call
            screen.set_rows(rows[:5])
            await pilot.pause()
            assert table.row_count == 5 and list(table.row_keys) == [r.key for r in rows[:5]]
            assert table.cursor_key == rows[3].key

    asyncio.run(scenario())
