"""The TUI as a sngrep user expects it (issue 14), through Pilot: a fixed ladder header, the
cursor kept on screen across resizes, Source/Destination/State columns and a remembered column
chooser, "(SDP)" marks and the time/delta column, comparing two messages, focus that follows
the pane, and a help screen that lists every key."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
import uuid

import pytest
from textual.widgets import DataTable, SelectionList, Static

from tests.conftest import SAMPLES, require_tool, shared_path
from tests.tui_pilot import wait_loaded
from tui.app import LadderApp, create_app
from tui.call_list_screen import CallListScreen
from tui.call_table import CallTable
from tui.column_chooser import ColumnsScreen
from tui.compare_screen import CHANGED, ONLY_RIGHT, SAME, CompareScreen
from tui.dialogs import HELP_KEYS, HelpScreen
from tui.ladder_screen import LadderScreen
from tui.ladder_view import LadderView

TWO_PROXIES = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"
BUSY = SAMPLES / "rfc3665-3.9-unsuccessful-busy.pcap"


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    """Every test here has its own configuration directory (never the user's)."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def view_of(app) -> LadderView:
    return app.screen.query_one("#ladder", LadderView)


def drawn(view: LadderView) -> list[str]:
    return [view.render_line(y).text for y in range(view.size.height)]


def cursor_on_screen(view: LadderView) -> bool:
    first, last = view.lines.arrow_lines[view.cursor]
    top = int(view.scroll_y)
    return top + view.lines.header <= first and last <= top + view.size.height - 1


def test_the_ladder_header_stays_while_the_arrows_scroll():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=(100, 24)) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter", "G")
            await pilot.pause()
            view = view_of(app)
            assert view.scroll_y > 0  # the ladder scrolled ...
            lines = drawn(view)
            # ... and the column names did not
            assert lines[0].split()[0] == "Alice" and lines[0] == view.lines.lines[0][:len(lines[0])]
            assert set(lines[1].split()) == {"|"}
            assert cursor_on_screen(view)
            # A click on the header selects nothing.
            before = view.cursor
            await pilot.click("#ladder", offset=(30, 0))
            assert view.cursor == before

    asyncio.run(scenario())


def test_the_cursor_stays_on_screen_across_resizes():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=(160, 60)) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            view = view_of(app)
            f19 = next(i for i, a in enumerate(app.screen.ladder.arrows) if a.f == 19)
            view.cursor = f19
            await pilot.pause()
            for size in ((100, 20), (80, 24), (200, 60), (90, 14)):
                await pilot.resize_terminal(*size)
                await pilot.pause()
                await pilot.pause()
                assert view.cursor == f19 and cursor_on_screen(view), size

    asyncio.run(scenario())


def test_sdp_marks_and_the_time_delta_column_on_by_default():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            view = view_of(app)
            ladder = app.screen.ladder
            lines = view.lines.lines
            for arrow, (first, last) in zip(ladder.arrows, view.lines.arrow_lines):
                if arrow.f is None:
                    continue
                assert (" (SDP)" in lines[first]) == (arrow.message.sdp is not None), lines[first]
            # F1 carries the offer, F2 (407) none.
            assert "INVITE F1 (SDP)" in lines[view.lines.arrow_lines[0][0]]
            shafts = [lines[last] for _first, last in view.lines.arrow_lines]
            assert re.match(r"\d\d:\d\d:\d\d\.\d{3}  ", shafts[0])  # the first has no delta
            assert all(re.match(r"\d\d:\d\d:\d\d\.\d{3} \+\d+\.\d{3} ", s) for s in shafts[1:])
            await pilot.press("t")
            await pilot.pause()
            assert not any(re.match(r"\d\d:", line) for line in view.lines.lines)

    asyncio.run(scenario())


def test_call_list_has_sngreps_source_destination_and_state_columns():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=(260, 30)) as pilot:
            await wait_loaded(pilot, app)
            table = app.call_list.query_one("#calls", CallTable)
            labels = [c.label for c in table.columns]
            assert ["Source", "Destination", "State"] == labels[6:9]
            cells = [str(c) for c in table.cells_at(0)]
            assert cells[6:9] == ["192.0.2.101:5060", "192.0.2.111:5060", "COMPLETED"]

    asyncio.run(scenario())


def sngrep_list(tmux: str, capture) -> list[list[str]]:
    """sngrep 1.6's call list for ``capture`` (a private tmux server, 230 columns): per dialog
    its Source, Destination and Call State, read from the fixed columns of its screen."""
    socket = f"pcapladder-sngrep-{uuid.uuid4().hex[:8]}"
    run = [tmux, "-L", socket]
    subprocess.run([*run, "new-session", "-d", "-s", "s", "-x", "230", "-y", "40", "-e", "TERM=xterm-256color",
                    "-e", "COLUMNS=230", "-e", "LINES=40", shlex.join([require_tool("sngrep"), "-I", str(capture)])], check=True, timeout=20)
    try:
        deadline = time.monotonic() + 30
        previous = None
        while time.monotonic() < deadline:
            screen = subprocess.run([*run, "capture-pane", "-p", "-t", "s"], capture_output=True, text=True,
                                    timeout=20).stdout
            lines = screen.splitlines()
            header = next((line for line in lines if "Call State" in line), None)
            rows = [line for line in lines if re.match(r"\s+\[ \] \d+ ", line)]
            # sngrep fills its list as it reads: the answer is a list that stayed the same for 1 s.
            if header is not None and rows and rows == previous:
                src, dst, state = header.index("Source"), header.index("Destination"), header.index("Call State")
                return [[row[src:dst].strip(), row[dst:state].strip(), row[state:].strip()] for row in rows]
            previous = rows
            time.sleep(1.0)
        pytest.fail(f"sngrep showed no call list:\n{screen}")
    finally:
        # sngrep outlives a tmux kill-server (it ignores the hang-up and spins on a dead
        # terminal): end it by its pid first.
        pane = subprocess.run([*run, "display-message", "-p", "-t", "s", "#{pane_pid}"], capture_output=True,
                              text=True, timeout=20).stdout.strip()
        if pane.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pane), signal.SIGKILL)
        subprocess.run([*run, "kill-server"], capture_output=True, timeout=20)


@pytest.mark.parametrize("sample", [
    "rfc3665-3.1-successful-session.pcap",  # COMPLETED
    "rfc3665-3.3-session-multiple-proxy-authentication.pcap",  # IN CALL (no BYE)
    "rfc3665-3.8-unsuccessful-no-answer.pcap",  # CANCELLED
    "rfc3665-3.9-unsuccessful-busy.pcap",  # BUSY (486)
    "rfc3665-3.11-unsuccessful-temporarily-unavailable.pcap",  # BUSY (480, as sngrep counts it)
    "rfc3665-3.10-unsuccessful-no-response-user-agent.pcap",
    "rfc3665-2.1-successful-new-registration.pcap",  # no state: not an INVITE dialog
])
def test_source_destination_and_state_are_sngreps(sample):
    """sngrep itself is the oracle: its Source, Destination and Call State for each sample."""
    from ladder.calls.grouping import build_calls
    from ladder.capture.loader import load_capture
    from tui.call_rows import call_row

    expected = sngrep_list(require_tool("tmux"), SAMPLES / sample)
    rows = [call_row(call) for call in build_calls(load_capture(str(SAMPLES / sample), media=False))]
    assert [[row.src, row.dst, row.state] for row in rows] == expected


def test_the_column_chooser_is_remembered(private_config):
    app = create_app(str(BUSY))

    async def scenario(app: LadderApp, choose: bool):
        async with app.run_test(size=(160, 30)) as pilot:
            await wait_loaded(pilot, app)
            table = app.call_list.query_one("#calls", CallTable)
            if choose:
                await pilot.press("f10")
                assert isinstance(app.screen, ColumnsScreen)
                chooser = app.screen.query_one("#columns-list", SelectionList)
                for key in ("start", "reference", "outcome"):
                    chooser.deselect(key)
                await pilot.pause()
                await pilot.click("#columns-ok")
                await pilot.pause()
                assert isinstance(app.screen, CallListScreen)
            keys = [c.key for c in table.columns]
            assert "start" not in keys and "outcome" not in keys and "state" in keys
            cells = [str(c) for c in table.cells_at(0)]
            assert cells[keys.index("state")] == "BUSY"  # the cells follow their columns

    asyncio.run(scenario(app, True))
    saved = json.loads((private_config / "pcapladder" / "tui.json").read_text())
    assert saved["call_columns"][:3] == ["index", "method", "from"]
    asyncio.run(scenario(create_app(str(BUSY)), False))  # a new session starts with them


def test_compare_two_messages_shows_their_header_differences():
    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("enter")
            view = view_of(app)
            ladder = app.screen.ladder
            f4 = next(i for i, a in enumerate(ladder.arrows) if a.f == 4)
            f5 = next(i for i, a in enumerate(ladder.arrows) if a.f == 5)
            view.cursor = f4
            await pilot.press("c")
            view.cursor = f5
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, CompareScreen)
            rows = {(r.name.lower(), r.change) for r in app.screen.rows}
            # RFC 3665 §3.2 F4 -> F5: Proxy 1 decrements Max-Forwards and adds its Via on top.
            assert ("max-forwards", CHANGED) in rows and ("call-id", SAME) in rows
            vias = [r for r in app.screen.rows if r.name.lower() == "via"]
            assert vias[0].change == CHANGED and vias[-1].change == ONLY_RIGHT
            (forwards,) = [r for r in app.screen.rows if r.name == "Max-Forwards"]
            assert (forwards.left, forwards.right) == ("70", "69")
            await pilot.press("escape")
            assert isinstance(app.screen, LadderScreen)

    asyncio.run(scenario())


def test_tab_reaches_the_deviations_with_focus_enter_jumps_and_z_widens_them():
    path = shared_path("captures/wireshark-wiki/aaa.pcap")
    app = create_app(str(path))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("j", "enter")  # call 2 (a CANCEL never answered); call 1 conforms
            screen = app.screen
            assert screen.deviations
            await pilot.press("tab")  # one Tab: the deviations, focused
            await pilot.pause()
            table = screen.query_one("#deviations", DataTable)
            assert screen.query_one("#side").active == "tab-deviations" and table.has_focus
            number = next(n for n, d in enumerate(screen.deviations) if d.f)
            for _ in range(number):
                await pilot.press("down")
            await pilot.pause()
            whole = str(screen.query_one("#deviation-detail", Static).render())
            deviation = screen.deviations[number]
            assert " ".join(deviation.message.split()) in " ".join(whole.split())  # whole, wrapped
            await pilot.press("z")  # the deviations pane alone, full width
            await pilot.pause()
            assert not view_of(app).display and table.size.width > 100
            await pilot.press("enter")  # jumps to the arrow, both panes back
            await pilot.pause()
            view = view_of(app)
            assert view.display and view.has_focus
            assert screen.ladder.arrows[view.cursor].f == deviation.f[0]
            await pilot.press("tab", "tab")  # deviations, then the streams, focused
            assert screen.query_one("#side").active == "tab-call-streams"
            assert screen.query_one("#call-streams", DataTable).has_focus
            await pilot.press("shift+tab", "shift+tab")
            assert view.has_focus

    asyncio.run(scenario())


# Key names as Textual binds them -> as the help screen writes them.
KEY_NAMES = {"up": "↑", "down": "↓", "left": "←", "right": "→", "pageup": "PgUp", "pagedown": "PgDn",
             "home": "Home", "end": "End", "enter": "Enter", "space": "Space", "escape": "Esc",
             "slash": "/", "question_mark": "?", "tab": "Tab", "shift+tab": "Shift+Tab", "ctrl+p": "Ctrl+P"}


def test_help_lists_every_key():
    written = " ".join(keys for keys, _what, _where in HELP_KEYS).replace(",", " ").split()
    classes = (CallListScreen, LadderScreen, LadderView, CallTable, LadderApp)
    missing = []
    for cls in classes:
        for binding in cls.BINDINGS:
            for key in binding.key.split(","):
                if key.startswith("ctrl+") and key != "ctrl+p":
                    continue  # ctrl+home / ctrl+end: the same as Home / End
                name = KEY_NAMES.get(key, key.upper() if re.fullmatch(r"f\d+", key) else key)
                if name not in written:
                    missing.append(f"{cls.__name__}: {key}")
    assert missing == []

    app = create_app(str(TWO_PROXIES))

    async def scenario():
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_loaded(pilot, app)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)

    asyncio.run(scenario())
