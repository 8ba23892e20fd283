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
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis's deadline is a timing test, which a loaded machine (or CI with -n 2) fails at
# random; timing goals are checked by the benchmarks. No deadline anywhere.
settings.register_profile("pcapladder", deadline=None)
settings.load_profile("pcapladder")

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


@pytest.fixture
def run_ladder():
    """``run_ladder(*args, stdin=None) -> Result(code, out, err)``: the command, in this process;
    how every CLI test runs ``ladder`` (tests/ladder_runner.py says why)."""
    from ladder_runner import run_in_process

    return run_in_process


@pytest.fixture
def ladder_process():
    """The same from a real ``python -m ladder`` process: only where a process is the point."""
    from ladder_runner import run_process

    return run_process


def quick_subset(values, quick) -> list:
    """``values`` as parameters, each one not in ``quick`` marked slow: the quick run takes the
    ``quick`` ones (chosen to take different paths), the long run all of them."""
    missing = set(quick) - set(values)
    assert not missing, f"not among the parameters: {sorted(missing)}"
    return [value if value in quick else pytest.param(value, marks=pytest.mark.slow) for value in values]


# Corpus-wide comparisons take the ``corpus`` fixture: in the quick run these captures, which
# between them take the paths the whole corpus takes (SIP over TCP, with retransmissions, over
# WebSocket and SCTP; HEP, IP-in-IP, GRE, IPv6 fragments; compact forms, long Via/Record-Route
# paths, a fuzzed file of registrations and cancelled and rejected calls, a call with RTP and
# RTCP); in the long run (the ``whole`` case, marked slow) every capture of ../shared.
QUICK_CORPUS = (
    "captures/heplify/sip_ipv4_tcp.pcap",
    "captures/heplify/sip_ipv4_tcp_retrans.pcap",
    "captures/wireshark-notes/websocket-sip.pcapng",
    "captures/heplify/sip_sctp.pcap",
    "captures/hep-wireshark/hep3_compressed.pcap.pcapng",
    "captures/heplify/ipip0.pcap",
    "captures/ndpi/gre_sip.pcapng",
    "captures/sngrep/ipv6frag.pcap",
    "captures/suricata-verify/sip-compact-form/sip_compact_form.pcap",
    "captures/zeek/sip-long-request-response-paths.pcap",
    "captures/ndpi/fuzz-2006-06-26-2594.pcap",
    "captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap",
)
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


@dataclass(frozen=True)
class Corpus:
    """The captures a corpus-wide test compares: ``whole`` is every capture, else the quick
    subset, where a test expects every capture to count (no vacuous subset)."""

    paths: list[Path]
    whole: bool


@pytest.fixture(params=[False, pytest.param(True, marks=pytest.mark.slow)], ids=["quick", "whole"])
def corpus(request) -> Corpus:
    if request.param:
        root = shared_path("captures")
        paths = sorted(p for p in root.rglob("*") if p.suffix in CAPTURE_SUFFIXES)
    else:
        paths = [shared_path(relative) for relative in QUICK_CORPUS]
    return Corpus(paths, request.param)


@pytest.fixture(autouse=True)
def _thaw_the_heap():
    """Each test starts with nothing frozen. ``ladder`` commands freeze the heap once the capture
    is loaded (``gc.freeze()``, right for a process that ends with the command); the test session
    does not end, and a frozen heap makes every later load slower (``gc.get_freeze_count()``,
    asked on each load, walks every frozen object: 50 ms per load once pytest's heap is frozen)."""
    yield
    gc.unfreeze()
