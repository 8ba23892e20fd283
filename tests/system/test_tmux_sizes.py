"""``ladder FILE`` in a real terminal at sngrep's smallest and a large size (80×24, 200×60), and
a missing file on a terminal: the one-line error and status 2, no full-screen UI."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import time

import pytest

from tests.conftest import ROOT, SAMPLES
from test_tmux_tui import Tmux, tmux  # noqa: F401 - the fixture

SAMPLE = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


def ladder_command(*args: str) -> str:
    ladder = shutil.which("ladder")
    head = [ladder] if ladder else [sys.executable, "-m", "ladder"]
    return shlex.join([*head, *map(str, args)])


def start(tmux: Tmux, width: int, height: int, command: str) -> None:
    env = {"TERM": "xterm-256color", "COLUMNS": str(width), "LINES": str(height)}
    tmux.run("new-session", "-d", "-s", "tui", "-x", str(width), "-y", str(height), "-c", str(ROOT),
             *(arg for key, value in env.items() for arg in ("-e", f"{key}={value}")), command)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 60)])
def test_call_list_and_ladder_at_80x24_and_200x60(tmux, width, height):
    start(tmux, width, height, ladder_command(SAMPLE))
    tmux.wait_for("Method", "alice@atlanta", "INVITE")
    if width >= 200:  # sngrep's columns, all on screen
        tmux.wait_for("Source", "Destination", "State", "192.0.2.101:5060", "COMPLETED")
    tmux.run("send-keys", "-t", "tui", "Enter")
    tmux.wait_for("INVITE F1 (SDP)")
    tmux.run("send-keys", "-t", "tui", "G")
    screen = tmux.wait_for("BYE F")  # the last arrows ...
    # The message pane follows the cursor one message later than the ladder scrolls (the view
    # posts ArrowSelected): on a loaded machine a capture can fall between the two paints.
    deadline = time.monotonic() + 15
    while height < 40 and "INVITE F1 " in screen and time.monotonic() < deadline:
        time.sleep(0.2)
        screen = tmux.pane()
    lines = screen.splitlines()
    header = next(n for n, line in enumerate(lines) if "Alice" in line and "|" not in line)
    assert header <= 4  # ... under the column names, which stayed at the top
    if height < 40:  # the ladder is taller than the screen: it scrolled
        assert "INVITE F1 " not in screen
    # sngrep's time column: wall clock and delta on the arrow rows.
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} \+0\.\d{3} +\|", screen)
    tmux.run("send-keys", "-t", "tui", "q")
    tmux.wait_for("Method")
    tmux.run("send-keys", "-t", "tui", "q")
    tmux.wait_quit()


def test_a_missing_file_on_a_terminal_is_one_line_and_status_2(tmux, tmp_path):
    status = tmp_path / "status"
    start(tmux, 80, 24, f"{ladder_command(tmp_path / 'nowhere.pcap')}; echo status=$? > {status}; sleep 30")
    deadline = time.monotonic() + 30
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status.read_text().strip() == "status=2"
    # One message, wrapped by the 80-column terminal; no full-screen UI was drawn.
    screen = tmux.run("capture-pane", "-p", "-J", "-t", "tui")
    text = [line for line in screen.splitlines() if line.strip()]
    assert text == [f"ladder: error: {tmp_path / 'nowhere.pcap'}: no such file"], screen
