"""``ladder live``: real traffic in a network namespace made here, watched as it happens.

SIPp calls through Kamailio on the namespace's loopback (tests/live_lab.py). Watching them at
once: tcpdump (the oracle), ``ladder live -d lo --json -O``, ``ladder check -d lo --json``, and
``ladder live -L udp:…`` receiving the HEPv3 copies Kamailio's siptrace sends. The calls must
be reported while the capture runs, the ladders must equal those of tcpdump's file, and ``-O``
must hold tcpdump's frames. Needs root (namespaces, capture); CI runs as root.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES, require_tool
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.capture.reader import CaptureReader
from ladder.draw.layout import build_ladder
from ladder.draw.text import render_text
from live_lab import HEP_PORT, SIP_FILTER, Lab, LabUnavailable, stop
from test_kamailio_sipp import wait_until

LADDER = [sys.executable, "-m", "ladder"]


def _lab(work: Path, **kwargs) -> Lab:
    require_tool("kamailio"), require_tool("sipp"), require_tool("tcpdump"), require_tool("dumpcap")
    try:
        return Lab(work, **kwargs)
    except LabUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ladders(path: Path) -> list[str]:
    capture = load_capture(str(path))
    assert capture.errors == []
    return [render_text(build_ladder(call, capture, media=False)) for call in build_calls(capture)]


def arrows(path: Path) -> list[tuple]:
    """Each call's columns and its arrows (method, status, from, to, retransmission), as a
    multiset: through HEP a proxy reports the messages it handled in its own order, which for
    two within the same millisecond (a 200 OK received while a 180 goes out) may not be the
    wire's."""
    capture = load_capture(str(path))
    out = []
    for call in build_calls(capture):
        ladder = build_ladder(call, capture, media=False)
        names = tuple(p.name for p in ladder.participants)
        out.append((names, sorted((a.method, a.status or 0, a.src, a.dst, a.retransmission)
                                  for a in ladder.sip_arrows())))
    return out


def frames(path: Path) -> list[tuple[int, bytes]]:
    """(time in µs, bytes) of every frame: tcpdump writes microseconds, dumpcap nanoseconds."""
    with CaptureReader(str(path)) as reader:
        return [(f.ts_ns // 1000, f.data) for f in reader.frames()]


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """Two calls (a clean one, one whose ACK never comes) watched four ways at once."""
    work = tmp_path_factory.mktemp("live")
    lab = _lab(work, hep_port=HEP_PORT)
    out: dict = {"work": work}
    try:
        # --immediate-mode: without it libpcap holds the last packets in a part-filled ring block,
        # and a tcpdump stopped with SIGINT never writes them (the oracle lost the final 200 OK
        # retransmissions that dumpcap had).
        dump = lab.popen("tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-w", str(work / "tcpdump.pcap"),
                         SIP_FILTER,
                         stderr=subprocess.PIPE, text=True)
        watchers = {
            "live": LADDER + ["live", "-d", "lo", "-f", SIP_FILTER, "--json", "-O", str(work / "live.pcapng")],
            "hep": LADDER + ["live", "-L", f"udp:127.0.0.1:{HEP_PORT}", "--json", "-O", str(work / "hep.pcapng")],
            "check": LADDER + ["check", "-d", "lo", "-f", SIP_FILTER, "--json"],
        }
        running = {}
        for name, argv in watchers.items():
            running[name] = lab.popen(*argv, cwd=ROOT, stdout=open(work / f"{name}.out", "w"),
                                      stderr=open(work / f"{name}.err", "w"))
        wait_until(lambda: all("ladder: live:" in (work / f"{n}.err").read_text() for n in watchers), 90,
                   "the watchers to start")
        wait_until(lambda: "listening on" in (dump.stderr.readline() or ""), 15, "tcpdump")
        lab.start_proxy()
        uas = lab.start_uas("-m", "2")
        lab.call("uac.xml")
        time.sleep(2.5)  # calls further apart than ladder.calls.legs.RELAY_WINDOW_NS
        lab.call("uac-no-ack.xml")
        uas.wait(timeout=30)
        # The clean call is reported while the capture still runs, a couple of seconds after its
        # end; the other one is not over (no ACK, no BYE: RFC 3261 §13.3.1.4 gives it 64*T1).
        wait_until(lambda: all(len(_lines(work / f"{n}.out")) == 1 for n in watchers), 60,
                   "the first call reported live")
        out["reported_live"] = {n: _lines(work / f"{n}.out") for n in watchers}
        out["status"] = {
            "live": stop(running["live"], signal.SIGINT, timeout=90),
            "hep": stop(running["hep"], signal.SIGTERM, timeout=90),
            "check": stop(running["check"], signal.SIGINT, timeout=90),
        }
        stop(dump, signal.SIGINT)
    finally:
        lab.close()
    for name in watchers:
        out[name] = _lines(work / f"{name}.out")
        out[name + "_err"] = (work / f"{name}.err").read_text()
    return out


def test_calls_are_reported_as_they_end_and_stop_cleanly(watched):
    work = watched["work"]
    assert watched["status"]["live"] == 0 and watched["status"]["hep"] == 0, watched["live_err"]
    reported = watched["live"]
    assert reported[:1] == watched["reported_live"]["live"]
    expected = [call.call_ids for call in build_calls(load_capture(str(work / "tcpdump.pcap")))]
    assert [tuple(r["call_ids"]) for r in reported] == expected
    # the second as it stood at the stop: answered, its BYE possibly not yet seen
    assert reported[0]["outcome"] == "completed" and reported[1]["outcome"] in ("in-call", "completed")
    assert [r["ended"] for r in reported] == [True, False]  # the second as it stood at the stop
    assert [tuple(r["call_ids"]) for r in watched["hep"]] == expected
    # The stop line: packets, calls, and dumpcap's own drop count once it has stopped.
    assert "2 calls (limit 2,000, 0 dropped)" in watched["live_err"]
    assert "drops: engine 0, ours 0" in watched["live_err"]


def test_output_holds_the_frames_tcpdump_captured(watched):
    work = watched["work"]
    mine, theirs = frames(work / "live.pcapng"), frames(work / "tcpdump.pcap")
    assert len(mine) > 20
    assert mine == theirs
    capture = load_capture(str(work / "live.pcapng"))
    assert capture.errors == [] and capture.frames == len(theirs)
    with CaptureReader(str(work / "live.pcapng")) as reader:
        list(reader.records())
        assert reader.isb_drops == 0  # dumpcap's drop count, in the closing statistics block


def test_live_ladders_equal_the_tcpdump_ladders(watched):
    work = watched["work"]
    reference = ladders(work / "tcpdump.pcap")
    assert len(reference) == 2 and "INVITE F1" in reference[0]
    assert ladders(work / "live.pcapng") == reference


def test_hep_from_kamailio_gives_the_same_ladders(watched):
    work = watched["work"]
    capture = load_capture(str(work / "hep.pcapng"))
    assert capture.frame_classes.get("hep-sip") == capture.frames > 0  # HEP-encapsulated, as received
    mine, theirs = arrows(work / "hep.pcapng"), arrows(work / "tcpdump.pcap")
    assert len(mine) == 2 and len(mine[0][1]) > 10
    assert mine == theirs


def test_check_runs_live_and_finds_the_missing_ack(watched):
    assert watched["status"]["check"] == 1  # the second call deviates
    clean, faulty = watched["check"]
    assert clean["deviations"] == [] and clean["reference"] == "rfc3665-3.1"
    assert any(d["code"] == "missing-ack" for d in faulty["deviations"])
    assert clean["ended"] and not faulty["ended"] and clean["call_ids"] and faulty["call_ids"]


# --- the TUI, in a real terminal ---------------------------------------------------------------


def messages_shown(screen: str) -> int:
    """The ladder screen's title: "Call 1: … (completed)   11 messages · …"."""
    match = re.search(r"(\d+) messages", screen)
    assert match, screen
    return int(match.group(1))


def test_tui_grows_as_calls_arrive(tmp_path):
    tmux = require_tool("tmux")
    lab = _lab(tmp_path)
    server = f"pcapladder-live-{os.getpid()}"

    def run(*args: str) -> str:
        return subprocess.run([tmux, "-L", server, *args], capture_output=True, text=True, timeout=20,
                              check=True).stdout

    def screen() -> str:
        return run("capture-pane", "-p", "-t", "tui")

    def wait_screen(needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = screen()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared; last screen:\n{text}")

    output = tmp_path / "tui.pcapng"
    command = " ".join(lab.argv(*LADDER, "-d", "lo", "-O", str(output)))  # SIP and RTP: the namespace holds nothing else
    try:
        run("new-session", "-d", "-s", "tui", "-x", "160", "-y", "45", "-c", str(ROOT), "-e", "TERM=xterm-256color",
            f"{command}; echo EXIT=$?; sleep 60")
        wait_screen("interface lo: 0 packets", 30)
        lab.start_proxy()
        (tmp_path / "silence.ulaw").write_bytes(b"\xff" * 8000)  # SIPp's rtp_stream loops it
        kamailio = Path(__file__).resolve().parents[1] / "kamailio"
        lab.start_uas("-m", "1", "-mp", "30000", scenario=kamailio / "uas-rtp.xml")
        # One call held 8 s with RTP both ways: it grows (media, then BYE) while we look.
        caller = lab.popen("sipp", "127.0.0.2:5060", "-sf", str(kamailio / "uac-rtp.xml"), "-i", "127.0.0.1",
                           "-p", "5080", "-m", "1", "-d", "8000", "-mp", "20000", "-s", "bob", "-nostdin",
                           "-timeout", "60s", cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_screen("alice1@127.0.0.1", 30)  # listed by the running app: nothing was loaded from a file
        run("send-keys", "-t", "tui", "Enter")
        first = wait_screen("INVITE F1", 10)
        run("send-keys", "-t", "tui", "Down")  # the cursor on F2
        wait_screen("important to us F2", 10)
        deadline = time.monotonic() + 60
        while messages_shown(screen()) <= messages_shown(first) and time.monotonic() < deadline:
            time.sleep(0.2)
        later = screen()
        assert messages_shown(later) > messages_shown(first), later  # arrows appended to the open ladder
        assert "important to us F2" in later  # the message pane still shows the arrow under the cursor
        caller.wait(timeout=30)
        run("send-keys", "-t", "tui", "q")
        wait_screen("1 calls (limit 2,000, 0 dropped)", 10)
        run("send-keys", "-t", "tui", "q")
        final = wait_screen("EXIT=", 20)
        assert "EXIT=0" in final and "Traceback" not in final
        assert "drops: engine 0, ours 0" in final
    finally:
        # A failed run leaves the app (and its dumpcap) up: end the pane's whole session first,
        # since a hang-up from kill-server alone does not reach a program that ignores it.
        pane = subprocess.run([tmux, "-L", server, "display-message", "-p", "-t", "tui", "#{pane_pid}"],
                              capture_output=True, text=True, timeout=20).stdout.strip()
        if pane.isdigit():
            subprocess.run(["pkill", "-KILL", "-s", pane], capture_output=True, timeout=20)
        subprocess.run([tmux, "-L", server, "kill-server"], capture_output=True, timeout=20)
        lab.close()
    capture = load_capture(str(output))  # complete and valid: every frame readable
    assert capture.errors == []
    (call,) = build_calls(capture)
    assert call.outcome.code == "completed" and len(call.messages) >= 13 and len(capture.streams) >= 2


# --- bad input: one line, status 2 -------------------------------------------------------------


def _one_line_error(argv: list[str], **kwargs) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT, **kwargs)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ladder: error: "), done.stderr
    return lines[0]


def test_missing_interface_is_one_line(tmp_path):
    require_tool("dumpcap")
    output = tmp_path / "never.pcapng"
    line = _one_line_error(LADDER + ["live", "-d", "nosuch0", "--json", "-O", str(output)])
    assert "no network interface named 'nosuch0'" in line
    assert not output.exists()  # nothing captured, no empty file left behind
    assert "nosuch0" in _one_line_error(LADDER + ["-d", "nosuch0"])  # the TUI's path, off a terminal


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_port_in_use_is_one_line(transport):
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if transport == "tcp":
            taken.listen(1)
        port = taken.getsockname()[1]
        line = _one_line_error(LADDER + ["live", "-L", f"{transport}:127.0.0.1:{port}", "--json"])
    assert f"{transport}:127.0.0.1:{port}: address already in use" in line


def test_capture_without_permission_is_one_line():
    require_tool("dumpcap")
    setpriv = require_tool("setpriv")
    if os.geteuid() != 0:
        pytest.skip("needs root to become an unprivileged user")
    # nobody, without any capability: what a user outside the wireshark group gets.
    argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", *LADDER, "live", "-d", "lo", "--json"]
    line = _one_line_error(argv, env={**os.environ, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"})
    assert "cannot capture on lo: permission denied" in line and "CAP_NET_RAW" in line


def test_bad_options_are_one_line(tmp_path):
    assert "udp:ADDRESS:PORT" in _one_line_error(LADDER + ["live", "-L", "9060"])
    assert "COUNTxSIZE" in _one_line_error(LADDER + ["live", "-L", "udp:127.0.0.1:9", "-O",
                                                     str(tmp_path / "x.pcapng"), "--ring", "lots"])
    assert "one source" in _one_line_error(LADDER + ["live", "--json"])


# --- the parts on their own: real bytes, no namespace --------------------------------------------


class ReplaySource:
    """Capture files' frames as a live source yields them (what dumpcap would have written)."""

    has_engine = False
    engine_drops = None
    our_drops = 0

    def __init__(self, paths: list[Path]):
        self.paths = paths
        self.label = "replay"
        self.errors: list[str] = []

    def start(self) -> None:
        pass

    def records(self):
        for path in self.paths:
            with CaptureReader(str(path)) as reader:
                for ts_ns, linktype, buf, off, caplen, origlen, offset in reader.records():
                    yield ts_ns, linktype, bytes(buf[off:off + caplen]), 0, caplen, origlen, offset

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


# Three flows with Call-IDs of their own (RFC 3665 reuses a few Call-IDs across its flows).
FLOWS = ["rfc3665-2.5-unsuccessful-registration.pcap", "rfc3665-3.1-successful-session.pcap",
         "rfc3665-3.9-unsuccessful-busy.pcap"]


def test_limit_keeps_the_newest_calls_and_counts_the_rest(tmp_path):
    from ladder.live.session import LiveSession
    from ladder.live.output import CaptureWriter

    paths = [SAMPLES / name for name in FLOWS]
    session = LiveSession(ReplaySource(paths), limit=1, writer=CaptureWriter(str(tmp_path / "all.pcapng")))
    session.start()
    assert session.finished.wait(30)
    capture, calls, dropped = session.snapshot()
    session.stop()
    assert session.error is None
    assert [(c.index, c.outcome.code) for c in dropped] == [(1, "registration-failed"), (2, "completed")]
    assert [(c.index, c.outcome.code) for c in calls] == [(3, "busy")]  # the kept call keeps its number
    assert session.dropped_calls == 2 and "limit 1, 2 dropped" in session.status().line()
    assert capture.streams == []  # 3.1's media went with its call (3.9 has none)
    kept = {m.call_id for m in capture.sip_messages}
    assert kept == {cid for c in calls for cid in c.call_ids}
    # Every frame was still written to -O, whatever the limit dropped from memory.
    assert len(frames(tmp_path / "all.pcapng")) == sum(len(frames(p)) for p in paths)


def test_a_snapshot_that_waited_does_not_delay_the_next_refresh():
    """Snapshots are paced by the CPU they use: one that waited (here for the reader's lock, on
    a busy machine for a core) must not push the next refresh back, or each refresh comes later
    and has more to derive."""
    import threading
    from ladder.live.session import LiveSession

    session = LiveSession(ReplaySource([SAMPLES / FLOWS[1]]))
    session.start()
    assert session.finished.wait(30)
    with session._lock:
        waiting = threading.Thread(target=session.snapshot)
        waiting.start()
        time.sleep(1.0)  # the snapshot waits for the lock all this time
    waiting.join(30)
    assert session.snapshot_s >= 1.0 and session.snapshot_cpu_s < 0.5
    assert session.refresh_after(0.5) == 0.5
    session.stop()


class FileSource(ReplaySource):
    """A capture file read as dumpcap's ring is: through ``CaptureReader``, fast path included."""

    takes_accelerator = True

    def records(self, accelerator=None):
        for path in self.paths:
            with CaptureReader(str(path)) as reader:
                yield from reader.records(accelerator)


def test_media_taken_by_the_fast_path_live_equals_the_file(tmp_path):
    """Without -O, a live capture's RTP goes through the compiled fast path as a file's does
    (under the session's lock, since a snapshot reads the same streams): same streams, same
    statistics as ``load_capture`` of the same frames."""
    from ladder.live.session import LiveSession
    from ladder.media.streams import accelerator_enabled

    if not accelerator_enabled():
        pytest.skip("the compiled fast path is not built here")
    sys.path.insert(0, str(ROOT / "bench"))
    from make_rtp_capture import main as make_rtp_capture

    path = tmp_path / "media.pcap"
    make_rtp_capture([str(path), "--calls", "6", "--seconds", "3"])
    session = LiveSession(FileSource([path]))
    assert session._accelerator() is not None
    session.start()
    assert session.finished.wait(60)
    capture, calls, _ = session.snapshot()
    session.stop()
    expected = load_capture(str(path))
    assert session.error is None and len(calls) == 6
    summary = [(s.ssrc, s.packets, s.lost, round(s.max_jitter_ms, 6)) for s in capture.streams]
    assert summary == [(s.ssrc, s.packets, s.lost, round(s.max_jitter_ms, 6)) for s in expected.streams]
    assert sum(s.packets for s in capture.streams) == expected.rtp_packets > 1000
    assert session.pipeline._rtp.accel.fed > 1000  # most of them never reached Python
    assert session.packets == expected.frames  # a run the fast path took counts each of its frames


def test_limit_bounds_what_a_long_run_keeps(tmp_path):
    """Past --limit, what the session keeps follows the kept calls, not the run's length: the
    compact SIP index and its interned Call-IDs, and the RTCP addresses SDP announced (both once
    grew with every call of a day-long run)."""
    from ladder.live.session import LiveSession

    sys.path.insert(0, str(ROOT / "bench"))
    from make_rtp_capture import main as make_rtp_capture

    capture_path = tmp_path / "sixty-calls.pcap"
    make_rtp_capture([str(capture_path), "--calls", "60", "--seconds", "1"])
    session = LiveSession(ReplaySource([capture_path]), limit=5)
    session.start()
    assert session.finished.wait(60)
    capture, calls, dropped = session.snapshot()
    session.stop()
    assert session.error is None and len(calls) == 5 and session.dropped_calls == 55
    # the kept calls, not derived again after the drop, stand as a fresh derivation has them
    fresh = build_calls(capture)
    assert [(c.index + 55, c.call_ids, c.outcome, len(c.messages)) for c in fresh] == \
        [(c.index, c.call_ids, c.outcome, len(c.messages)) for c in calls]
    index = session.pipeline.sip_index
    assert len(index) == len(capture.sip_messages) < 60
    assert index.call_id_count() <= 5 + 2  # the kept calls (and one just starting, on its edges)
    announced = session.pipeline._rtp._rtcp.ports
    assert 0 < len(announced) <= 2 * 7  # two SDP bodies a call, for at most the calls kept


def test_ring_rotates_complete_files_and_keeps_the_newest(tmp_path):
    from ladder.live.output import CaptureWriter, parse_ring

    assert parse_ring("10x100M") == (10, 100_000_000, None)
    assert parse_ring("24x1h") == (24, None, 3600)
    source = [(ts, lt, bytes(buf[off:off + cap]), orig) for ts, lt, buf, off, cap, orig, _ in
              CaptureReader(str(SAMPLES / "rfc3665-3.1-successful-session.pcap")).records()]
    writer = CaptureWriter(str(tmp_path / "ring.pcapng"), "3x64k")
    for _round in range(40):
        for ts, linktype, data, orig in source:
            writer.write(ts, linktype, data, 0, len(data), orig)
    writer.close(engine_drops=0)
    files = sorted(tmp_path.glob("ring_*.pcapng"))
    assert len(files) == 3 and list(writer.files) == [str(f) for f in files]
    assert int(files[0].name.split("_")[1]) > 1  # older files were deleted
    for path in files:
        assert 64_000 <= path.stat().st_size < 64_000 + 4096 or path == files[-1]
        with CaptureReader(str(path)) as reader:
            got = [(f.ts_ns, f.data) for f in reader.frames()]
            assert reader.errors == [] and got
        assert set(got) <= {(ts, data) for ts, _lt, data, _o in source}
        assert reader.isb_drops == (0 if path == files[-1] else None)  # the drops, known at the end


def _hep3(message: bytes, src: tuple[str, int], dst: tuple[str, int], ts_ns: int) -> bytes:
    def chunk(kind: int, data: bytes) -> bytes:
        return struct.pack("!HHH", 0, kind, 6 + len(data)) + data

    body = b"".join([
        chunk(1, b"\x02"), chunk(2, b"\x11"), chunk(3, socket.inet_aton(src[0])), chunk(4, socket.inet_aton(dst[0])),
        chunk(7, struct.pack("!H", src[1])), chunk(8, struct.pack("!H", dst[1])),
        chunk(9, struct.pack("!I", ts_ns // 1_000_000_000)), chunk(10, struct.pack("!I", ts_ns // 1000 % 1_000_000)),
        chunk(11, b"\x01"), chunk(12, struct.pack("!I", 7)), chunk(15, message),
    ])
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def test_hep_over_tcp_rebuilds_the_ladder_of_the_sip_it_carried(tmp_path):
    from ladder.live.hep_collector import HepCollector
    from ladder.live.session import LiveSession
    from ladder.live.output import CaptureWriter

    sample = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"
    original = load_capture(str(sample))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = LiveSession(HepCollector(f"tcp:127.0.0.1:{port}"), writer=CaptureWriter(str(tmp_path / "hep.pcapng")))
    session.start()
    try:
        stream = b"".join(_hep3(m.raw, (m.src.ip, m.src.port), (m.dst.ip, m.dst.port), m.ts_ns)
                          for m in original.sip_messages)
        with socket.create_connection(("127.0.0.1", port)) as sender:
            for start in range(0, len(stream), 997):  # packets cut across sends
                sender.sendall(stream[start:start + 997])
        wait_until(lambda: len(session.snapshot()[0].sip_messages) == len(original.sip_messages), 10, "every message")
    finally:
        session.stop()
    assert session.error is None
    expected = [render_text(build_ladder(c, original, media=False)) for c in build_calls(original)]
    live_capture, live_calls, _ = session.snapshot()
    assert [render_text(build_ladder(c, live_capture, media=False)) for c in live_calls] == expected
    assert ladders(tmp_path / "hep.pcapng") == expected
