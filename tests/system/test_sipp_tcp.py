"""Real traffic over TCP: SIPp calls (``-t t1``: one TCP connection, RFC 3261 §18) from a SIPp UAC
on 127.0.0.1 to a SIPp UAS on 127.0.0.3, captured on lo with tcpdump, go through the fast lane of
``ladder calls`` (messages reassembled, read back from the spill file) with the slow lane's rows.
Every process started here is stopped by its own handle, under timeouts."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require_tool
from ladder.calls import simple_calls
from ladder.calls.bounded import iter_call_rows
from ladder.capture.loader import load_capture
from ladder.cli.calls import _numbered_dict, call_dict
from test_kamailio_sipp import UAC_IP, UAS_IP, _unavailable, stop, wait_until
from tests.unit.calls.test_simple_calls import _taken

pytestmark = pytest.mark.skipif(simple_calls._c_simple_calls is None, reason="the compiled extension is not built")

CALLS = 3


def _listening(ip: str, port: int) -> bool:
    """Whether something listens on TCP ip:port (Linux /proc/net/tcp: little-endian hex IPv4, state 0A)."""
    wanted = "".join(f"{int(part):02X}" for part in reversed(ip.split("."))) + f":{port:04X}"
    with open("/proc/net/tcp", encoding="ascii") as table:
        return [wanted, "0A"] in ([row[1], row[3]] for row in map(str.split, table.readlines()[1:]))


@pytest.fixture(scope="module")
def tcp_capture(tmp_path_factory) -> Path:
    sipp, tcpdump = require_tool("sipp"), require_tool("tcpdump")
    work = tmp_path_factory.mktemp("sipp-tcp")
    ports = []
    for ip in (UAS_IP, UAC_IP):  # (free TCP ports, the sockets closed at once)
        with socket.create_server((ip, 0)) as sock:
            ports.append(sock.getsockname()[1])
    pcap = work / "tcp.pcap"
    sniffer = subprocess.Popen([tcpdump, "-i", "lo", "-U", "-n", "-w", str(pcap), f"tcp and port {ports[0]}"],
                               stderr=subprocess.PIPE, text=True)
    uas = None
    try:
        line = sniffer.stderr.readline() if sniffer.stderr else ""
        if "listening on" not in line:
            _unavailable(f"tcpdump cannot capture on lo: {line.strip() or 'no answer'}")
        side = ["-t", "t1", "-m", str(CALLS), "-nostdin"]
        uas = subprocess.Popen([sipp, "-sn", "uas", "-i", UAS_IP, "-p", str(ports[0]), *side], cwd=work,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _listening(UAS_IP, ports[0]), 15, "the SIPp UAS to listen on TCP")
        uac = [sipp, f"{UAS_IP}:{ports[0]}", "-sn", "uac", "-i", UAC_IP, "-p", str(ports[1]), "-r", "5", "-s", "bob",
               "-timeout", "20s", *side]
        subprocess.run(uac, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=40, check=True)
        uas.wait(timeout=30)
        time.sleep(1.5)  # tcpdump reads its ring a block at a time (a 1 s timeout): the last block too
    finally:
        if uas is not None:
            stop(uas)
        stop(sniffer, signal.SIGINT)
    return pcap


def test_sipp_calls_over_tcp_go_through_the_lane_with_the_slow_lanes_rows(tcp_capture, monkeypatch):
    capture = load_capture(str(tcp_capture), media=False, messages=False, locate=True)
    taken = _taken(monkeypatch)  # the Call-IDs the lane sums up
    fast = list(iter_call_rows(capture, call_dict, _numbered_dict))
    monkeypatch.undo()
    monkeypatch.setenv("PCAPLADDER_NO_SIMPLE_CALLS", "1")
    assert fast == list(iter_call_rows(capture, call_dict, _numbered_dict))
    assert sorted(taken) == sorted(row["id"] for row in fast) and len(fast) == CALLS  # every call the lane's
    # SIPp's uac/uas: INVITE, 100 (perhaps), 180, 200, ACK, BYE, 200 over one connection
    assert {(row["outcome"], row["status"], row["legs"], row["to"]) for row in fast} == {
        ("completed", 200, 1, f"bob@{UAS_IP}")}
    store = capture.message_store
    assert all(where < 0 for where in store.where)  # reassembled: the spill file's
    invite_to = store.endpoint(store.dst[0])
    assert invite_to is not None and (invite_to.ip, invite_to.transport) == (UAS_IP, "tcp")
    assert {endpoint.transport for endpoint in map(store.endpoint, set(store.src)) if endpoint} == {"tcp"}
