"""The two engines: our own reader and the pyshark (tshark) engine give the same SIP messages;
the pyshark engine decrypts SIP over TLS with a key log and reports bad files in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import SAMPLES, require_tool, shared_path
from ladder.capture.loader import load_capture
from tls_sip_peer import capture_tls_call

# One capture for each way SIP reaches us: link layers, IPv6 fragments, tunnels, TCP, WebSocket,
# SCTP, and a sample of our own over TCP.
VARIED_CAPTURES = (
    "captures/sngrep/ipv6frag.pcap",  # Linux SLL, IPv6 fragments
    "captures/ndpi/gre_sip.pcapng",  # 802.1Q, GRE, PPP
    "captures/heplify/erspan_sip_ipv4_udp.pcapng",  # ERSPAN
    "captures/heplify/ipip0.pcap",  # raw IP link type
    "captures/sngrep/ipip.pcap",  # TCP inside IP-in-IP
    "captures/heplify/sip_ipv4_tcp.pcap",  # TCP
    "captures/heplify/sip_tcp_websocket.pcap",  # SIP over WebSocket
    "captures/heplify/sip_sctp.pcap",  # SCTP
    "captures/suricata-verify/sip-body-large/sip-body-large.pcap",  # BSD loopback, one body over many segments
    "captures/wireshark-wiki/T38.pcap",  # SLL, UDP
)


def _messages(capture) -> list[tuple]:
    return [
        (tuple(f.number for f in m.frames), str(m.src), str(m.dst), m.ts_ns, m.raw)
        for m in capture.sip_messages
    ]


@pytest.mark.parametrize("name", VARIED_CAPTURES)
def test_both_engines_give_the_same_sip_messages(name):
    require_tool("tshark")
    path = str(shared_path(name))
    fast = load_capture(path, engine="dpkt")
    slow = load_capture(path, engine="pyshark")
    assert fast.engine == "dpkt" and slow.engine == "pyshark"
    assert fast.sip_messages, name
    # Same bytes, same frames, same addresses and transport, same times.
    assert _messages(slow) == _messages(fast)


def test_both_engines_agree_on_a_tcp_sample():
    require_tool("tshark")
    path = str(SAMPLES / "rfc3665-2.1-successful-new-registration.pcap")
    fast, slow = load_capture(path, engine="dpkt"), load_capture(path, engine="pyshark")
    assert {m.src.transport for m in fast.sip_messages} == {"tcp"}
    assert _messages(slow) == _messages(fast)


def _ladder(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ladder", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_tls_key_log_decrypts_sip_over_tls(tmp_path):
    """A real TLS 1.3 exchange on loopback (Python's ssl as both peers, tcpdump recording)."""
    require_tool("tshark")
    pcap, keylog, port = capture_tls_call(require_tool("tcpdump"), tmp_path)

    encrypted = json.loads(_ladder("stats", str(pcap), "--json").stdout)
    assert encrypted["sip_messages"] == 0  # without the key log it is opaque TLS

    result = _ladder("stats", str(pcap), "--json", "--tls-keylog", str(keylog))
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["engine"] == "pyshark"
    assert (stats["sip_messages"], stats["call_ids"]) == (2, 1)
    assert stats["sip_requests"] == {"INVITE": 1} and stats["sip_responses"] == {"200": 1}
    assert sum(stats["frame_classes"].values()) == stats["frames"]

    capture = load_capture(str(pcap), tls_keylog=str(keylog))
    invite, ok = capture.sip_messages
    assert invite.method == "INVITE" and invite.dst.port == port and invite.dst.transport == "tls"
    assert ok.status == 200 and ok.src.port == port and ok.call_id == "a84b4c76e66710@127.0.0.1"

    shown = _ladder("show", str(pcap), "--tls-keylog", str(keylog))
    assert shown.returncode == 0, shown.stderr
    assert "INVITE F1" in shown.stdout and "200 OK F2" in shown.stdout


def test_pyshark_engine_reports_a_file_that_is_no_capture(tmp_path):
    require_tool("tshark")
    junk = tmp_path / "notes.pcap"
    junk.write_text("these are meeting notes, not packets\n" * 20)
    result = _ladder("stats", str(junk), "--engine", "pyshark")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("ladder: error: ") and "Traceback" not in result.stderr


def test_pyshark_engine_keeps_the_frames_of_a_truncated_file(tmp_path):
    require_tool("tshark")
    whole = (SAMPLES / "rfc3665-3.1-successful-session.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[: len(whole) // 2])
    fast = load_capture(str(cut), engine="dpkt")
    slow = load_capture(str(cut), engine="pyshark")
    assert slow.frames == fast.frames > 0
    assert _messages(slow) == _messages(fast)
    assert len(slow.errors) == 1 and "cut short" in slow.errors[0]


def test_pyshark_engine_runs_in_a_worker_thread():
    """The TUI loads in a worker thread, which has no asyncio event loop of its own. Run in a
    fresh interpreter, as the TUI's process is: pyshark keeps process-wide asyncio state (the
    child watcher it installs when run in a main thread), which other tests here leave behind."""
    require_tool("tshark")
    path = str(shared_path("captures/heplify/sip_ipv4_tcp.pcap"))
    script = f"""
import threading
from ladder.capture.loader import load_capture
found = []
def load():
    capture = load_capture({path!r}, engine="pyshark")
    found.append([(m.frames[-1].number, m.raw) for m in capture.sip_messages])
worker = threading.Thread(target=load)
worker.start()
worker.join(timeout=120)
print(repr(found))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    expected = [(m.frames[-1].number, m.raw) for m in load_capture(path, engine="dpkt").sip_messages]
    assert result.stdout.strip() == repr([expected])
