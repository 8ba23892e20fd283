"""Real traffic: SIPp calls through Kamailio on loopback, captured with tcpdump, then checked.

Kamailio (tests/kamailio/kamailio.cfg: stateful, record-routing, no database) listens on
127.0.0.2, the SIPp UAS on 127.0.0.3, the SIPp UAC on 127.0.0.1, each on a free port. Two
calls, more than the B2BUA-correlation window apart: a clean one (tests/kamailio/uac.xml)
and one whose UAC never sends the ACK (uac-no-ack.xml). Everything runs under timeouts and
every process started here is stopped by its own handle.
"""

from __future__ import annotations

import glob
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, require_tool
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.draw.layout import build_ladder

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parents[1] / "kamailio"
UAC_IP, PROXY_IP, UAS_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_udp_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def udp_bound(ip: str, port: int) -> bool:
    """Whether something listens on ip:port (Linux /proc/net/udp, little-endian hex IPv4)."""
    wanted = "".join(f"{int(part):02X}" for part in reversed(ip.split("."))) + f":{port:04X}"
    with open("/proc/net/udp", encoding="ascii") as table:
        return any(line.split()[1] == wanted for line in table.readlines()[1:])


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_sniffer(tcpdump: str, pcap: Path, ports, proto: str = "udp") -> subprocess.Popen:
    """tcpdump writing the ``proto`` (UDP) traffic of ``ports`` on lo to ``pcap``, once it listens
    (else stopped, and the test skipped, or failed under CI)."""
    sniffer = subprocess.Popen(
        [tcpdump, "-i", "lo", "-U", "-n", "-w", str(pcap), f"({proto}) and (" + " or ".join(f"port {p}" for p in ports) + ")"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready, _, _ = select.select([sniffer.stderr], [], [], 15)
    line = sniffer.stderr.readline() if ready else ""
    if "listening on" not in line:
        stop(sniffer)
        _unavailable(f"tcpdump cannot capture on lo: {line.strip() or 'no answer'}")
    return sniffer


def kamailio_modules() -> str:
    for pattern in ("/usr/lib/*/kamailio/modules", "/usr/lib/kamailio/modules", "/usr/local/lib*/kamailio/modules"):
        for path in glob.glob(pattern):
            if os.path.exists(os.path.join(path, "tm.so")):
                return path
    _unavailable("kamailio modules (tm.so) not found")
    raise AssertionError("unreachable")


def start_proxy_and_uas(kamailio: str, sipp: str, work: Path, ports: tuple[int, int], calls: int,
                        started: list[subprocess.Popen]) -> subprocess.Popen:
    """Kamailio (``work``/kamailio.cfg) on PROXY_IP and the SIPp UAS of ``calls`` calls on UAS_IP
    (``ports``: theirs), each started once it listens and added to ``started`` (for the caller
    to stop); returns the UAS."""
    proxy_port, uas_port = ports
    proxy = subprocess.Popen(
        [kamailio, "-f", str(work / "kamailio.cfg"), "-DD", "-E", "-Y", str(work)],
        stdout=subprocess.DEVNULL, stderr=open(work / "kamailio.log", "w"),
    )  # fmt: skip
    started.append(proxy)
    wait_until(lambda: udp_bound(PROXY_IP, proxy_port), 15, "kamailio to listen")
    uas = subprocess.Popen(
        [sipp, "-sf", str(HERE / "uas.xml"), "-i", UAS_IP, "-p", str(uas_port), "-m", str(calls),
         "-nostdin", "-timeout", "40s"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    started.append(uas)
    wait_until(lambda: udp_bound(UAS_IP, uas_port), 15, "the SIPp UAS to listen")
    return uas


@pytest.fixture(scope="module")
def capture_file(tmp_path_factory) -> Path:
    kamailio = require_tool("kamailio")
    sipp = require_tool("sipp")
    tcpdump = require_tool("tcpdump")
    if not os.path.exists("/proc/net/udp"):
        _unavailable("needs Linux /proc/net/udp")
    work = tmp_path_factory.mktemp("kamailio")
    proxy_port, uas_port, uac_port = free_udp_port(PROXY_IP), free_udp_port(UAS_IP), free_udp_port(UAC_IP)
    config = (HERE / "kamailio.cfg").read_text(encoding="utf-8")
    for name, value in (("PROXY_IP", PROXY_IP), ("PROXY_PORT", proxy_port), ("UAS_IP", UAS_IP),
                        ("UAS_PORT", uas_port), ("MODULES", kamailio_modules())):  # fmt: skip
        config = config.replace(f"@{name}@", str(value))
    (work / "kamailio.cfg").write_text(config, encoding="utf-8")
    pcap = work / "calls.pcap"

    check = subprocess.run([kamailio, "-c", "-f", str(work / "kamailio.cfg")], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr[-2000:]

    sniffer = start_sniffer(tcpdump, pcap, (proxy_port, uas_port, uac_port))
    started: list[subprocess.Popen] = [sniffer]
    try:
        uas = start_proxy_and_uas(kamailio, sipp, work, (proxy_port, uas_port), 2, started)
        for scenario in ("uac.xml", "uac-no-ack.xml"):
            subprocess.run(
                [sipp, f"{PROXY_IP}:{proxy_port}", "-sf", str(HERE / scenario), "-i", UAC_IP,
                 "-p", str(uac_port), "-m", "1", "-s", "bob", "-nostdin", "-timeout", "20s"],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=40, check=True,
            )  # fmt: skip
            # Calls closer than ladder.calls.legs.RELAY_WINDOW_NS through one node could pass for
            # B2BUA legs of each other; these are two separate calls.
            time.sleep(2.5)
        uas.wait(timeout=30)
        time.sleep(0.3)  # the last retransmissions reach tcpdump
    finally:
        for process in reversed(started[1:]):
            stop(process)
        stop(sniffer, signal.SIGINT)
    assert pcap.stat().st_size > 24
    return pcap


def run_check(*args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "ladder", "check", *args, "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_clean_and_faulty_calls_are_told_apart(capture_file):
    status, report = run_check(str(capture_file))
    assert status == 1  # the faulty call
    clean, faulty = report["calls"]
    assert (clean["reference"], clean["deviations"]) == ("rfc3665-3.1", [])
    assert clean["variant"].startswith("hop Alice-Proxy-Bob")  # one proxy, record-routing
    assert clean["roles"]["Proxy"].startswith(PROXY_IP)

    capture = load_capture(str(capture_file))
    call = build_calls(capture)[1]
    ladder = build_ladder(call, capture)
    uac = next(i for i, p in enumerate(ladder.participants) if any(e.ip == UAC_IP for e in p.endpoints))
    first_ok = next(a for a in ladder.sip_arrows() if a.status == 200 and a.method == "INVITE" and a.dst == uac)
    missing = [d for d in faulty["deviations"] if d["code"] == "missing-ack"]
    assert [(d["f"], d["severity"]) for d in missing] == [([first_ok.f], "error")]
    # The UAS repeats its 200 for want of an ACK, and Kamailio passes each copy on.
    repeats = [d for d in faulty["deviations"] if d["code"] == "retransmission"]
    assert repeats and all(d["severity"] == "warning" for d in repeats)
    assert not any(d["code"] == "timer-violation" for d in faulty["deviations"])


def test_clean_call_matches_the_users_own_reference(capture_file):
    status, report = run_check(str(capture_file), "--reference", str(HERE / "one-proxy.flow"), "--call", "1")
    assert status == 0
    (clean,) = report["calls"]
    assert clean["reference"] == "kamailio-one-proxy" and clean["score"] == 1.0
    assert clean["deviations"] == [] and clean["variant"] == ""
