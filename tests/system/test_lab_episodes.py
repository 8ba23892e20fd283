"""Lab captures of the new references: SIPp calls through Kamailio on loopback, captured with
tcpdump, each matched by ``ladder check`` against its composed reference.

Kamailio (tests/lab/episodes.cfg: stateful, record-routing) listens on 127.0.0.2; SIPp UASes
on 127.0.0.3 and 127.0.0.4 (the second only for the forked call), the UAC on 127.0.0.1. Six
calls, 2.5 s apart so that none passes for a B2BUA leg of another: PRACK (RFC 3262), hold and
resume (RFC 5359 §2.1), a REFER transfer (RFC 3515), parallel forking with the losing branch
CANCELled (RFC 3261 §16.7), a 302 redirect (RFC 3261 §8.1.3.4) and an UPDATE before the answer
(RFC 3311 §5). Every process started here is stopped by its own handle.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, require_tool
from test_kamailio_sipp import free_udp_port, kamailio_modules, start_sniffer, stop, udp_bound, wait_until

pytestmark = pytest.mark.slow

LAB = Path(__file__).resolve().parents[1] / "lab"
UAC_IP, PROXY_IP, UAS_IP, UAS2_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"

# (name, UAC scenario, service, UAS scenario, second UAS scenario or None), in call order.
CALLS = [
    ("prack", LAB / "uac-prack.xml", "bob", "uas-prack.xml", None),
    ("hold", LAB / "uac-hold.xml", "bob", "uas-hold.xml", None),
    ("refer", LAB / "uac-refer.xml", "bob", "uas-refer.xml", None),
    ("fork", ROOT / "tests" / "kamailio" / "uac.xml", "fork", "uas-fork-answer.xml", "uas-fork-cancelled.xml"),
    ("redirect", LAB / "uac-302.xml", "bob", "uas-302.xml", None),
    ("update", LAB / "uac-update.xml", "bob", "uas-update.xml", None),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    kamailio = require_tool("kamailio")
    sipp = require_tool("sipp")
    tcpdump = require_tool("tcpdump")
    work = tmp_path_factory.mktemp("lab")
    ports = {
        "PROXY": free_udp_port(PROXY_IP), "UAS": free_udp_port(UAS_IP), "UAS2": free_udp_port(UAS2_IP),
        "UAC": free_udp_port(UAC_IP),
    }  # fmt: skip
    config = (LAB / "episodes.cfg").read_text(encoding="utf-8")
    values = {"PROXY_IP": PROXY_IP, "PROXY_PORT": ports["PROXY"], "UAS_IP": UAS_IP, "UAS_PORT": ports["UAS"],
              "UAS2_IP": UAS2_IP, "UAS2_PORT": ports["UAS2"], "MODULES": kamailio_modules()}  # fmt: skip
    for name, value in values.items():
        config = config.replace(f"@{name}@", str(value))
    (work / "episodes.cfg").write_text(config, encoding="utf-8")
    check = subprocess.run([kamailio, "-c", "-f", str(work / "episodes.cfg")], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr[-2000:]
    pcap = work / "episodes.pcap"
    sniffer = start_sniffer(tcpdump, pcap, ports.values())
    started: list[subprocess.Popen] = [sniffer]
    failures: list[str] = []
    try:
        with open(work / "kamailio.log", "w") as log:
            proxy = subprocess.Popen([kamailio, "-f", str(work / "episodes.cfg"), "-DD", "-E", "-Y", str(work)],
                                     stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
        started.append(proxy)
        wait_until(lambda: udp_bound(PROXY_IP, ports["PROXY"]), 15, "kamailio to listen")
        for name, uac, service, uas, uas2 in CALLS:
            servers = []
            for scenario, ip, port in ((uas, UAS_IP, ports["UAS"]), (uas2, UAS2_IP, ports["UAS2"])):
                if scenario is None:
                    continue
                server = subprocess.Popen(
                    [sipp, "-sf", str(LAB / scenario), "-i", ip, "-p", str(port), "-m", "1", "-nostdin",
                     "-timeout", "30s", "-trace_err", "-error_file", str(work / f"{name}-{scenario}.err")],
                    cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                started.append(server)
                servers.append(server)
                wait_until(lambda ip=ip, port=port: udp_bound(ip, port), 15, f"the SIPp UAS of {name} to listen")
            client = subprocess.run(
                [sipp, f"{PROXY_IP}:{ports['PROXY']}", "-sf", str(uac), "-i", UAC_IP, "-p", str(ports["UAC"]),
                 "-m", "1", "-s", service, "-nostdin", "-timeout", "20s"],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=40,
            )  # fmt: skip
            if client.returncode != 0:
                failures.append(f"{name}: the SIPp UAC exited {client.returncode}")
            for server in servers:
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    failures.append(f"{name}: a SIPp UAS did not finish")
                    stop(server)
            time.sleep(2.5)  # more than ladder.calls.legs' relay window: separate calls
        time.sleep(0.3)
    finally:
        for process in reversed(started[1:]):
            stop(process)
        stop(sniffer, signal.SIGINT)
    assert not failures, failures
    done = subprocess.run([sys.executable, "-m", "ladder", "check", str(pcap), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    calls = json.loads(done.stdout)["calls"]
    assert len(calls) == len(CALLS), [c["id"] for c in calls]
    return {name: call for (name, *_), call in zip(CALLS, calls)}


def composed(call: dict) -> str:
    return call["composition"] or call["reference"] or ""


def warnings(call: dict) -> list[tuple[str, str]]:
    return [(d["code"], d["message"]) for d in call["deviations"] if d["severity"] != "info"]


def test_prack_matches_rfc3262(report):
    call = report["prack"]
    assert call["reference"] == "rfc3262-3" or "rfc3262-3 PRACK" in composed(call)
    assert call["score"] >= 0.9 and warnings(call) == []


def test_hold_and_resume_are_an_rfc5359_episode(report):
    call = report["hold"]
    assert call["reference"] == "rfc5359-2.1" or "rfc5359-2.1 hold/resume" in composed(call), composed(call)
    assert warnings(call) == []


def test_a_refer_transfer_is_an_rfc3515_episode(report):
    call = report["refer"]
    # REFER, 202, NOTIFY, 200: RFC 3515 §2.4, as RFC 5359's transfers show it.
    episode = composed(call).split(" + ")[1]
    assert episode in ("rfc3515-2.4", "rfc5359-2.4 transfer", "rfc5359-2.5 transfer"), composed(call)
    assert composed(call).endswith("+ BYE") and warnings(call) == []


def test_parallel_forking_with_the_losing_branch_cancelled(report):
    call = report["fork"]
    assert call["reference"] == "rfc3261-16.7", (call["reference"], call["closest"], call["candidates"])
    assert call["score"] >= 0.9 and warnings(call) == []


def test_a_302_redirect(report):
    call = report["redirect"]
    assert call["reference"] == "rfc3261-8.1.3.4" and call["variant"].startswith("hop")
    assert call["score"] == 1.0 and warnings(call) == []


def test_update_before_the_answer(report):
    call = report["update"]
    assert call["reference"] == "rfc3311-5" or "rfc3311-5 UPDATE" in composed(call), composed(call)
    assert warnings(call) == []
