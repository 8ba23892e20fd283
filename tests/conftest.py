"""Test helpers shared by the whole suite.

Tests that read ``../shared`` use the ``shared`` fixture (or ``shared_path``): under
``CI=true`` a missing ``../shared`` is a failure, elsewhere a skip with the reason.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED = Path(os.environ.get("PCAPLADDER_SHARED", ROOT.parent / "shared"))
TESTS = ROOT / "tests"

# The tests live in rooms like the code (unit/<package>/, cli/, system/) and share helpers by
# module name (``from test_sipframing import rfc3665_messages``): every test folder is importable.
for _folder in sorted({path.parent for path in TESTS.rglob("test_*.py")}):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))


def pytest_collection_modifyitems(config, items):
    """``system`` marks the long run: the tests that drive real peers (tests/system/: tshark,
    kamailio/SIPp, tmux, Chromium) and those marked ``slow`` (the whole corpus, a full fuzz count;
    each has a quick subset that stays in). ``pytest -m "not system"`` is the quick run;
    ``scripts/test.sh`` runs both."""
    system = TESTS / "system"
    for item in items:
        if system in Path(str(item.fspath)).parents or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.system)


def shared_path(relative: str = "") -> Path:
    """A path under ../shared, or fail (CI) / skip (elsewhere) when it is not there."""
    path = SHARED / relative
    if not path.exists():
        message = f"{path} is missing: tests on the shared corpus need ../shared beside the checkout"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def shared_manifest() -> list[dict]:
    """The corpus manifest's per-file entries (tshark's facts for each capture)."""
    with open(shared_path("captures/manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)["files"]


def require_tool(name: str) -> str:
    """The path of a Debian tool the test needs; CI installs them all, so missing is a failure there."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/test.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def shared() -> Path:
    return shared_path()


@pytest.fixture(autouse=True)
def _thaw_the_heap():
    """Each test starts with nothing frozen. ``ladder`` commands freeze the heap once the capture
    is loaded (``gc.freeze()``, right for a process that ends with the command); the test session
    does not end, and a frozen heap makes every later load slower (``gc.get_freeze_count()``,
    asked on each load, walks every frozen object: 50 ms per load once pytest's heap is frozen)."""
    yield
    gc.unfreeze()
