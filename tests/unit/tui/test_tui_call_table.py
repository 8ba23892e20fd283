"""Pilot tests of the virtual call list (tui/call_table.py) inside the real call-list screen.

Rows come from real captures; the big list reuses real rows under new numbers. What is asserted
is what the widget draws (``render_line``), not how long it takes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from rich.text import Text

from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from tests.conftest import shared_path
from tests.tui_pilot import SIZE, wait_loaded
from tui.app import create_app
from tui.call_rows import CallRow, call_row, format_start
from tui.call_table import CallTable, fit_cell
from tui.ladder_screen import LadderScreen


def table_of(app) -> CallTable:
    return app.call_list.query_one("#calls", CallTable)


def screen_lines(table: CallTable) -> list[str]:
    """The table's lines as drawn now: the header, then the rows in view."""
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


def number_on(line: str) -> int:
    """The call number in a drawn row (after the selection mark, if any)."""
    return int(line.replace("●", " ").split()[0])


def real_rows(relative: str) -> list[CallRow]:
    capture = load_capture(str(shared_path(relative)), media=False)
    return [call_row(call) for call in build_calls(capture)]


def test_fit_cell_cuts_with_an_ellipsis_and_pads_on_the_justified_side():
    assert fit_cell(Text("alice@example.com"), 8).plain == "alice@e…"
    assert fit_cell(Text("42", justify="right"), 5).plain == "   42"
    assert fit_cell(Text("INVITE", style="bold"), 8).plain == "INVITE  "
    assert fit_cell(Text("INVITE", style="bold"), 8).style == "bold"  # the cell keeps its style


def test_keys_move_the_cursor_and_page_keys_move_by_a_screen():
    path = shared_path("captures/wireshark-wiki/wireuploaded.pcap")
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            table = table_of(app)
            page = table.scrollable_content_region.height - 1  # the header takes a line
            assert table.row_count == len(app.calls) > page  # more calls than fit on screen
            await pilot.press("down", "down", "down", "up")
            assert table.cursor_row == 2
            await pilot.press("j", "j", "k")  # vi keys as on the ladder
            assert table.cursor_row == 3
            await pilot.press("pagedown")
            assert table.cursor_row == 3 + page
            lines = screen_lines(table)
            shown = [number_on(line) for line in lines[1:]]
            cursor_number = app.call_list.rows[table.cursor_key].index
            assert cursor_number in shown  # the cursor's call is on screen
            await pilot.press("pageup")
            assert table.cursor_row == 3
            await pilot.press("end")
            assert table.cursor_row == table.row_count - 1
            last = app.call_list.rows[table.cursor_key].index
            assert number_on(screen_lines(table)[-1]) == last  # scrolled to the bottom
            await pilot.press("down")  # past the end: stays
            assert table.cursor_row == table.row_count - 1
            await pilot.press("home")
            assert table.cursor_row == 0 and table.scroll_y == 0
            await pilot.press("pageup", "up")
            assert table.cursor_row == 0

    asyncio.run(scenario())


def test_click_moves_the_cursor_and_a_click_on_the_cursor_row_opens_the_ladder():
    app = create_app(str(shared_path("captures/wireshark-wiki/aaa.pcap")))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            table = table_of(app)
            await pilot.click("#calls", offset=(20, 3))  # the third row (line 0 is the header)
            await pilot.pause()
            assert table.cursor_row == 2 and app.screen is app.call_list
            key = table.cursor_key
            await pilot.click("#calls", offset=(60, 3))
            await pilot.pause()
            assert isinstance(app.screen, LadderScreen) and app.screen.keys == [key]
            await pilot.press("escape")
            await pilot.click("#calls", offset=(20, 30))  # below the last row: nothing happens
            await pilot.pause()
            assert app.screen is app.call_list and table.cursor_row == 2

    asyncio.run(scenario())


def test_click_on_a_column_label_sorts_by_it_and_again_reverses():
    path = shared_path("captures/wireshark-wiki/aaa.pcap")
    calls = build_calls(load_capture(str(path), media=False))
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            table = table_of(app)
            table.move_cursor(4)
            under_cursor = table.cursor_key
            header = screen_lines(table)[0]
            x = header.index("Msgs")
            assert table.column_at(x).key == "messages"
            await pilot.click("#calls", offset=(x + 1, 0))
            await pilot.pause()
            by_messages = [c.index for c in sorted(calls, key=lambda c: (len(c.messages), c.index))]
            assert app.call_list.sort_column == "messages" and not app.call_list.sort_reverse
            assert [number_on(line) for line in screen_lines(table)[1:len(calls) + 1]] == by_messages
            assert table.cursor_key == under_cursor  # the cursor follows its call
            await pilot.click("#calls", offset=(x + 1, 0))
            await pilot.pause()
            assert app.call_list.sort_reverse
            assert [number_on(line) for line in screen_lines(table)[1:len(calls) + 1]] == by_messages[::-1]
            assert table.cursor_key == under_cursor

    asyncio.run(scenario())


def test_a_drawn_line_has_zebra_stripes_the_cursor_and_sngrep_selection_mark():
    app = create_app(str(shared_path("captures/wireshark-wiki/aaa.pcap")))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            table = table_of(app)
            await pilot.press("space")  # selects call 1, the cursor moves to call 2
            await pilot.pause()
            lines = screen_lines(table)
            assert lines[0].split()[:3] == ["#", "2005-07-04", "UTC"]  # one date: in the header
            assert lines[1].startswith(" ● 1 ") and lines[2].startswith("   2 ")
            row = app.call_list.rows[table.row_keys[0]]
            assert format_start(row.start_ns, date=False) in lines[1] and row.method in lines[1]

            def backgrounds(y: int) -> set:
                return {segment.style.bgcolor for segment in table.render_line(y) if segment.text.strip()}

            even = (table.rich_style + table.get_component_rich_style("call-table--even-row")).bgcolor
            odd = (table.rich_style + table.get_component_rich_style("call-table--odd-row")).bgcolor
            cursor = table.get_component_rich_style("call-table--cursor").bgcolor
            assert len({even, odd, cursor}) == 3
            assert backgrounds(1) == {even}  # rows 0, 2, 4 ... striped
            assert backgrounds(2) == {cursor}
            assert backgrounds(3) == {even} and backgrounds(4) == {odd}
            await pilot.press("up", "space")  # unselect: the mark goes, the line is drawn again
            await pilot.pause()
            assert screen_lines(table)[1].startswith("   1 ") and app.call_list.selected == set()

    asyncio.run(scenario())


def test_rows_added_while_loading_keep_the_cursor_on_its_call(tmp_path: Path):
    rows = real_rows("captures/wireshark-wiki/wireuploaded.pcap")
    app = create_app(str(tmp_path / "not-there.pcap"))  # the app's own load fails at once

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.call_list
            table = table_of(app)
            screen.add_rows_while_loading(rows[:20])
            table.move_cursor(7)
            key = table.cursor_key
            screen.add_rows_while_loading(rows[:40])  # in number order: appended
            assert table.row_count == 40 and table.cursor_key == key and table.cursor_row == 7
            screen.action_sort_next()  # by start
            screen.action_sort_next()  # by method
            screen.action_sort_reverse()
            assert table.cursor_key == key
            screen.add_rows_while_loading(rows)  # the rest go where the order puts them
            expected = sorted(rows, key=lambda r: (r.method, r.index), reverse=True)
            assert list(table.row_keys) == [r.key for r in expected]
            assert table.cursor_key == key and table.row_keys[table.cursor_row] == key
            await pilot.pause()
            lines = screen_lines(table)
            number = next(r.index for r in rows if r.key == key)
            assert number in [number_on(line) for line in lines[1:]]  # and it is on screen

    asyncio.run(scenario())


def test_twenty_thousand_rows_added_at_once_draw_the_first_screen(tmp_path: Path):
    real = real_rows("captures/wireshark-wiki/wireuploaded.pcap")
    rows = [dataclasses.replace(real[n % len(real)], index=n + 1, key=f"call-{n + 1}") for n in range(20_000)]
    app = create_app(str(tmp_path / "not-there.pcap"))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.call_list
            table = table_of(app)
            screen.add_rows_while_loading(rows)
            await pilot.pause()
            assert table.row_count == 20_000 and "20000 calls" in screen.sub_title
            lines = screen_lines(table)
            assert lines[0].split()[0] == "#" and "Method" in lines[0] and "Outcome" in lines[0]
            assert [number_on(line) for line in lines[1:]] == list(range(1, len(lines)))
            for line, row in zip(lines[1:], rows):
                assert row.method in line and row.caller[:20] in line
            await pilot.press("end")
            await pilot.pause()
            assert number_on(screen_lines(table)[-1]) == 20_000
            invites = [r.index for r in rows if r.method == "INVITE"]
            table.move_cursor(invites[-3] - 1)  # an INVITE near the end stays under the cursor
            app.call_list.query_one("#filter").value = "method:INVITE"
            await pilot.pause()
            assert 0 < table.row_count == len(invites) < 20_000
            assert table.cursor_key == f"call-{invites[-3]}" and table.cursor_row == len(invites) - 3
            assert invites[-3] in [number_on(line) for line in screen_lines(table)[1:]]
            app.call_list.query_one("#filter").value = ""
            await pilot.pause()
            assert table.row_count == 20_000 and table.cursor_key == f"call-{invites[-3]}"

    asyncio.run(scenario())


def test_deviation_counts_are_updated_in_place(tmp_path: Path):
    rows = real_rows("captures/wireshark-wiki/aaa.pcap")
    app = create_app(str(tmp_path / "not-there.pcap"))

    async def scenario():
        async with app.run_test(size=(260, 48)) as pilot:  # every column on screen, Dev last
            await pilot.pause()
            screen = app.call_list
            screen.checking = True
            table = table_of(app)
            screen.add_rows_while_loading(rows)
            table.move_cursor(3)
            await pilot.pause()
            assert all(line.rstrip().endswith("…") for line in screen_lines(table)[1:len(rows) + 1])
            checked = dataclasses.replace(rows[1], reference="rfc3665-3.8", deviations=7)
            screen.update_rows([checked], checking=True)
            await pilot.pause()
            line = screen_lines(table)[2]
            assert line.rstrip().endswith("7") and "rfc3665-3.8" in line
            assert table.cursor_row == 3  # the cursor did not move
            screen.update_rows([], checking=False)  # the checker is done: no count is "-"
            await pilot.pause()
            ends = [line.rstrip()[-1] for line in screen_lines(table)[1:len(rows) + 1]]
            assert ends == ["-", "7", "-", "-", "-", "-"]

    asyncio.run(scenario())


def _busy_calls_capture(path: Path, count: int) -> None:
    """``count`` calls, each an INVITE refused with 486 Busy Here and its ACK, 10 ms apart."""
    from ladder.export.pcap_writer import FrameFactory, PcapWriter

    frames = FrameFactory()
    alice, bob = "192.0.2.1", "192.0.2.2"
    with open(path, "wb") as handle:
        writer = PcapWriter(handle)
        for n in range(count):
            head = (f"Via: SIP/2.0/UDP {alice}:5060;branch=z9hG4bKbusy{n}\r\n"
                    f"From: <sip:alice{n}@{alice}>;tag=a{n}\r\n")
            tail = f"Call-ID: busy-{n}@{alice}\r\n"
            invite = (f"INVITE sip:bob@{bob} SIP/2.0\r\n{head}Max-Forwards: 70\r\n"
                      f"To: <sip:bob@{bob}>\r\n{tail}CSeq: 1 INVITE\r\nContact: <sip:alice{n}@{alice}>\r\n"
                      "Content-Length: 0\r\n\r\n")
            busy = (f"SIP/2.0 486 Busy Here\r\n{head}To: <sip:bob@{bob}>;tag=b{n}\r\n{tail}"
                    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
            ack = (f"ACK sip:bob@{bob} SIP/2.0\r\n{head}Max-Forwards: 70\r\nTo: <sip:bob@{bob}>;tag=b{n}\r\n"
                   f"{tail}CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
            start = 1_700_000_000_000_000_000 + n * 10_000_000
            writer.write(start, frames.udp(alice, 5060, bob, 5060, invite.encode()))
            writer.write(start + 2_000_000, frames.udp(bob, 5060, alice, 5060, busy.encode()))
            writer.write(start + 3_000_000, frames.udp(alice, 5060, bob, 5060, ack.encode()))


def test_a_long_list_is_built_a_batch_per_turn_and_checked_rows_are_not_lost(tmp_path: Path):
    """More calls than ROWS_PER_TURN: a partial list grows a batch per event-loop turn, and the
    finished list, built the same way, still gets the checks that came in meanwhile."""
    from ladder.check.call_check import check_call
    from ladder.check.references import load_references
    from tui.app import ROWS_PER_TURN
    from tui.loading import ChecksFinished

    count = 2 * ROWS_PER_TURN + 50
    path = tmp_path / "busy.pcap"
    _busy_calls_capture(path, count)
    capture = load_capture(str(path), media=False)
    calls = build_calls(capture)
    assert len(calls) == count and all(c.first_method == "INVITE" for c in calls)
    app = create_app(str(tmp_path / "not-there.pcap"), check=False)

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = table_of(app)
            app.list_rows(calls)  # a partial list, as CallsSoFar delivers it
            assert table.row_count == ROWS_PER_TURN and app.listing
            for _ in range(100):
                if not app.listing:
                    break
                await pilot.pause(0.01)
            assert table.row_count == count and not app.listing
            assert [number_on(line) for line in screen_lines(table)[1:4]] == [1, 2, 3]
            app.check, app.checked = True, False  # as on_load_finished finds them
            app.calls = {call.id: call for call in calls}
            app.list_rows(calls, capture=capture)  # the finished list ...
            late = calls[0].id  # ... whose first row is built before its check result arrives
            result = check_call(calls[0], capture, load_references())
            app.on_checks_finished(ChecksFinished({late: result}, done=True))
            for _ in range(100):
                if not app.listing:
                    break
                await pilot.pause(0.01)
            assert table.row_count == count and app.call_list.capture is capture
            row = app.call_list.rows[late]
            assert row.deviations == len(result.deviations) and row.reference == (result.reference or "")
            first = screen_lines(table)[1]
            assert first.rstrip().endswith(str(len(result.deviations)))
            assert screen_lines(table)[2].rstrip().endswith("-")  # the others: checker done, none ran

    asyncio.run(scenario())
