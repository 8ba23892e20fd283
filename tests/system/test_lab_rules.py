"""Lab captures for the rules of issue 12: SIPp on loopback, captured with tcpdump, checked.

One capture holds, each on its own pair of ports of 127.0.0.1 (UAC and UAS on one address, as
in most labs): three sequential calls of SIPp's built-in UAC and UAS (separate calls, not B2BUA
legs of each other), and one fault per new rule code (scenarios in tests/lab_rules/). A second
file is the same traffic as a two-port mirror writes it: every frame twice, 0.2 ms apart. Every
process started here is stopped by its own handle; everything runs under timeouts.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require_tool
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.check.call_check import capture_settings, check_call
from ladder.draw.layout import build_ladder
from ladder.check.references import load_references
from test_kamailio_sipp import _unavailable, free_udp_port, stop, udp_bound, wait_until

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parents[1] / "lab_rules"
IP = "127.0.0.1"
MIRROR_DELAY = 0.0002  # the second port of a mirror delivers the same frame 0.2 ms later

# (UAS scenario, UAC scenario, UAC options, calls): a scenario is a file in tests/lab_rules or
# one of SIPp's built-ins (-sn).
RUNS = (
    ("uas", "uac", ["-m", "3", "-r", "1", "-d", "200"], 3),  # three sequential calls
    ("uas-100rel-no-prack.xml", "uac", ["-m", "1"], 1),
    ("uas-subscribe-no-notify.xml", "uac-subscribe.xml", ["-m", "1"], 1),
    ("uas-options-late-wrong-via.xml", "uac-options.xml", ["-m", "1", "-nr"], 1),
    ("uas-no-rr-two-tags.xml", "uac-invite-rr.xml", ["-m", "1"], 1),
    ("uas-register.xml", "uac-register-same-cseq.xml", ["-m", "1"], 1),
)


def _scenario(name: str) -> list[str]:
    return ["-sf", str(HERE / name)] if name.endswith(".xml") else ["-sn", name]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> tuple[Path, Path]:
    """(the capture, the same capture with every frame doubled)."""
    sipp = require_tool("sipp")
    tcpdump = require_tool("tcpdump")
    work = tmp_path_factory.mktemp("lab_rules")
    ports = [(free_udp_port(IP), free_udp_port(IP)) for _ in RUNS]
    while len({p for pair in ports for p in pair}) < 2 * len(RUNS):  # free_udp_port may repeat
        ports = [(free_udp_port(IP), free_udp_port(IP)) for _ in RUNS]
    pcap = work / "lab.pcap"
    wanted = " or ".join(f"port {p}" for pair in ports for p in pair)
    sniffer = subprocess.Popen([tcpdump, "-i", "lo", "-U", "-n", "-w", str(pcap), f"udp and ({wanted})"],
                               stderr=subprocess.PIPE, text=True)
    started = [sniffer]
    try:
        line = sniffer.stderr.readline()
        if "listening on" not in line:
            stop(sniffer)
            _unavailable(f"tcpdump cannot capture on lo: {line.strip() or 'no answer'}")
        for (uas_name, uac_name, options, calls), (uas_port, uac_port) in zip(RUNS, ports):
            uas = subprocess.Popen(
                [sipp, *_scenario(uas_name), "-i", IP, "-p", str(uas_port), "-m", str(calls), "-nostdin",
                 "-timeout", "30s"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started.append(uas)
            wait_until(lambda: udp_bound(IP, uas_port), 15, "the SIPp UAS to listen")
            subprocess.run(
                [sipp, f"{IP}:{uas_port}", *_scenario(uac_name), "-i", IP, "-p", str(uac_port), "-s", "bob",
                 *options, "-nostdin", "-timeout", "20s"],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=40, check=True)
            uas.wait(timeout=30)
        time.sleep(1.0)  # the last packets reach tcpdump before it is stopped
    finally:
        for process in reversed(started[1:]):
            stop(process)
        stop(sniffer, signal.SIGINT)
    return pcap, _mirrored(pcap, work / "mirrored.pcap")


def _mirrored(source: Path, target: Path) -> Path:
    import dpkt

    with open(source, "rb") as inp, open(target, "wb") as out:
        reader = dpkt.pcap.Reader(inp)
        writer = dpkt.pcap.Writer(out, linktype=reader.datalink(), snaplen=262144)
        for ts, frame in reader:
            writer.writepkt(frame, ts)
            writer.writepkt(frame, ts + MIRROR_DELAY)
    return target


def _check(path: Path):
    capture = load_capture(str(path), media=False)
    calls = build_calls(capture)
    references = load_references()
    settings = capture_settings(capture)
    return capture, calls, [check_call(c, capture, references, settings=settings) for c in calls]


def _codes(results, severity_floor=("warning", "error")) -> list[list[tuple[str, tuple[int, ...]]]]:
    return [sorted((d.code, d.f) for d in r.deviations if d.severity in severity_floor) for r in results]


def test_sequential_calls_on_one_address_stay_apart(lab):
    """Three calls of one SIPp UAC to one UAS on 127.0.0.1, a second apart: each answered and
    hung up before the next begins, so none is a B2BUA leg of another (issue 12)."""
    capture, calls, _ = _check(lab[0])
    invites = [c for c in calls if c.first_method == "INVITE"]
    assert len(invites) == 5  # the three sequential calls, the PRACK one, the Record-Route one
    assert all(len(c.call_ids) == 1 and not c.links for c in invites), [c.links for c in invites]
    assert [c.outcome.code for c in invites[:3]] == ["completed"] * 3


def test_each_fault_is_found_and_nothing_else(lab):
    _, calls, results = _check(lab[0])
    by_method = {}
    for call, result in zip(calls, results):
        by_method.setdefault(call.first_method, []).append(
            sorted({d.code for d in result.deviations if d.severity in ("warning", "error")}
                   - {"unexpected-message", "missing-message", "different-response"}))
    assert by_method["INVITE"] == [[], [], [], ["prack-missing"], ["duplicate-parameter", "record-route-not-copied"]]
    assert by_method["SUBSCRIBE"] == [["notify-missing"]]
    assert by_method["OPTIONS"] == [["no-retransmission", "via-mismatch"]]
    assert by_method["REGISTER"] == [["register-cseq-not-increasing"]]


def test_a_mirrored_capture_reads_as_the_original(lab):
    """Every frame twice, 0.2 ms apart: the same calls and findings, each arrow ×2, and no
    retransmission or timer finding (issue 12: duplicates are capture facts)."""
    _, calls, results = _check(lab[0])
    capture, twin_calls, twin_results = _check(lab[1])
    assert [c.call_ids for c in twin_calls] == [c.call_ids for c in calls]
    assert [c.outcome for c in twin_calls] == [c.outcome for c in calls]
    assert _codes(twin_results) == _codes(results)
    assert _codes(twin_results, ("info", "warning", "error")) == _codes(results, ("info", "warning", "error"))
    ladder = build_ladder(twin_calls[0], capture, media=False)
    assert ladder.sip_arrows() and all(a.times_seen == 2 for a in ladder.sip_arrows())
    assert len(capture.sip_messages) == 2 * sum(len(c.messages) for c in calls)
