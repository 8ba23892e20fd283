"""A real terminal: tmux runs ``ladder FILE``; keys go in, the pane's text comes out."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT, SAMPLES, require_tool

SAMPLE = SAMPLES / "rfc3665-3.1-successful-session.pcap"


class Tmux:
    """One private tmux server (its own socket), killed at the end whatever happens."""

    def __init__(self, tmux: str):
        self.tmux = tmux
        self.socket = f"pcapladder-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=20, check=True)
        return done.stdout

    def pane(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def wait_for(self, *needles: str, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < deadline:
            text = self.pane()
            if all(n in text for n in needles):
                return text
            time.sleep(0.2)
        pytest.fail(f"{needles} never appeared on the terminal; last screen:\n{text}")

    def wait_quit(self, timeout_s: float = 15.0) -> None:
        """Until the app has quit and its session (the only one) ended."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            sessions = subprocess.run([self.tmux, "-L", self.socket, "list-sessions"], capture_output=True,
                                      text=True, timeout=20)
            if sessions.returncode != 0 or "tui" not in sessions.stdout:
                return
            time.sleep(0.2)
        pytest.fail("q on the call list did not quit the app")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def tmux():
    session = Tmux(require_tool("tmux"))
    yield session
    session.close()


def test_ladder_file_opens_the_tui_in_a_real_terminal(tmux):
    ladder = shutil.which("ladder")
    command = f"{ladder} {SAMPLE}" if ladder else f"{sys.executable} -m ladder {SAMPLE}"
    env = {"TERM": "xterm-256color", "COLUMNS": "160", "LINES": "45"}
    tmux.run("new-session", "-d", "-s", "tui", "-x", "160", "-y", "45", "-c", str(ROOT),
             *(arg for key, value in env.items() for arg in ("-e", f"{key}={value}")), command)
    screen = tmux.wait_for("Method", "Outcome", "INVITE", "completed")  # the call list, loaded
    assert "alice@atlanta.example.com" in screen
    tmux.run("send-keys", "-t", "tui", "Enter")
    # The ladder with F-numbers, and the detail pane on F1's message (the cursor starts there).
    tmux.wait_for("INVITE F1 (SDP)", "180 Ringing F", "BYE F", "INVITE sip:bob@")
    tmux.run("send-keys", "-t", "tui", "j")
    tmux.wait_for("SIP/2.0 180 Ringing")
    tmux.run("send-keys", "-t", "tui", "q")
    tmux.wait_for("Method", "Outcome")
    tmux.run("send-keys", "-t", "tui", "q")
    tmux.wait_quit()
