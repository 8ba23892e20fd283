"""Snapshot tests (pytest-textual-snapshot) of the call list and ladder screens at a fixed size.

The SVGs live in tests/snapshots/. After a deliberate change to what the screens show, run
``python3 -m pytest tests/unit/tui/test_tui_snapshots.py --snapshot-update`` and look at the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension

from tests.conftest import SAMPLES, shared_path
from tui.app import create_app

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots"
TERMINAL = (140, 40)


@pytest.fixture(autouse=True)
def snapshots_in_tests_snapshots(monkeypatch, tmp_path):
    """Keep the SVGs in tests/snapshots/<test file>/ rather than syrupy's __snapshots__; the
    default columns whatever the user chose (tui.settings)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(SVGImageExtension, "dirname",
                        classmethod(lambda cls, *, test_location: str(SNAPSHOTS / test_location.basename)))


async def loaded(pilot) -> None:
    app = pilot.app
    for _ in range(1200):
        if app.loaded and app.checked and not app.listing:
            break
        await pilot.pause(0.05)
    assert app.loaded and app.checked and not app.listing, "the capture did not finish loading"
    await pilot.pause()


def test_call_list_screen(snap_compare):
    """Six calls of a proxy/registrar capture with outcomes, references and deviation counts."""
    app = create_app(str(shared_path("captures/wireshark-wiki/aaa.pcap")))
    assert snap_compare(app, terminal_size=TERMINAL, run_before=loaded)


def test_ladder_screen_with_cursor_on_f3(snap_compare):
    """RFC 3665 §3.2 through two proxies, the time column (on by default), cursor on F3 (the ACK)."""
    app = create_app(str(SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"))
    assert snap_compare(app, terminal_size=TERMINAL, run_before=loaded, press=["enter", "j", "j"])


def test_ladder_screen_deviations_pane(snap_compare):
    """A call that deviates from its reference: marks beside arrows, the deviations pane."""
    app = create_app(str(shared_path("captures/wireshark-wiki/aaa.pcap")))
    # The second row (call 2: a CANCEL never answered 200, RFC 3261 §9.2); call 1 conforms since
    # its refused credentials are the outcome of the registration flows it matches (issue 12).
    assert snap_compare(app, terminal_size=TERMINAL, run_before=loaded, press=["j", "enter", "2"])
