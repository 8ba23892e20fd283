"""One analysis of a capture (``ladder.analysis``): every output attributes a stream to the same
single call, and whole-capture commands bind media once (work linear in calls)."""

from __future__ import annotations

import asyncio
import importlib.util
import json

import pytest

from captures_crafted import ethernet, ipv4, rtp, udp, write_pcap
from conftest import ROOT
from ladder.media import binding as media_module
from ladder.media.streams import RtpStream
from ladder.analysis import analyse
from ladder.capture.loader import load_capture
from ladder.draw.diagram import MEDIA
from ladder.export.html_report import build_reports

A, B = "198.51.100.10", "198.51.100.20"
T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def _sdp(address: str, port: int) -> bytes:
    return (f"v=0\r\no=- 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=sendrecv\r\n").encode()


def _sip(start: str, call_id: str, cseq: str, to_tag: bool, body: bytes = b"") -> bytes:
    return (
        f"{start}\r\nVia: SIP/2.0/UDP {A}:5060;branch=z9hG4bK-{call_id}-{cseq.split()[0]}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a-{call_id}\r\n"
        f"To: <sip:bob@example.com>{';tag=b-' + call_id if to_tag else ''}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:alice@{A}>\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _frame(payload: bytes, src: str, dst: str, sport: int, dport: int) -> bytes:
    return ethernet(ipv4(udp(payload, sport, dport), src, dst))


def _call(call_id: str, t: int, bye: bool) -> list[tuple[int, bytes]]:
    uri = "INVITE sip:bob@example.com SIP/2.0"
    packets = [
        (t, _frame(_sip(uri, call_id, "1 INVITE", False, _sdp(A, 40000)), A, B, 5060, 5060)),
        (t + S // 10, _frame(_sip("SIP/2.0 200 OK", call_id, "1 INVITE", True, _sdp(B, 40002)), B, A, 5060, 5060)),
        (t + S // 5, _frame(_sip("ACK sip:bob@example.com SIP/2.0", call_id, "1 ACK", True), A, B, 5060, 5060)),
    ]
    if bye:
        packets += [
            (t + 9 * S, _frame(_sip("BYE sip:bob@example.com SIP/2.0", call_id, "2 BYE", True), A, B, 5060, 5060)),
            (t + 9 * S + S // 10, _frame(_sip("SIP/2.0 200 OK", call_id, "2 BYE", True), B, A, 5060, 5060)),
        ]
    return packets


@pytest.fixture
def reused_ports(tmp_path):
    """Call "first" (no BYE: its media window stays open) and, 10 s later, call "second" on
    the very same SDP addresses and ports; RTP flows both ways only during "second". Bound call
    by call, "first" claimed those streams too; bound once, they are "second"'s alone."""
    packets = _call("first", T0, bye=False) + _call("second", T0 + 10 * S, bye=True)
    for n in range(5):
        at = T0 + 11 * S + n * 20_000_000
        packets.append((at, _frame(rtp(n, n * 160, ssrc=0x1111), A, B, 40000, 40002)))
        packets.append((at + 1_000_000, _frame(rtp(n, n * 160, ssrc=0x2222), B, A, 40002, 40000)))
    packets.sort(key=lambda p: p[0])
    return write_pcap(tmp_path / "reused.pcap", packets)


def _media_keys(ladder) -> set:
    return {key for arrow in ladder.arrows if arrow.kind == MEDIA for key in arrow.stream_keys}


def test_analysis_binds_each_stream_to_the_later_call(reused_ports):
    analysis = analyse(load_capture(str(reused_ports)))
    first, second = analysis.calls
    assert (first.id, second.id) == ("first", "second")
    keys = {s.key for s in analysis.capture.streams}
    assert len(keys) == 2
    assert {analysis.media_index.call_of(k) for k in keys} == {"second"}
    assert _media_keys(analysis.ladder(first)) == set()
    assert _media_keys(analysis.ladder(second)) == keys


def test_show_check_html_and_tui_agree_on_the_stream(reused_ports, run_ladder, tmp_path):
    # ladder show: the media bar is on the second call's ladder only.
    code, out, _ = run_ladder("show", reused_ports, "--format", "json")
    assert code == 0
    shown = json.loads(out)["calls"]
    bars = [[a for a in call["arrows"] if a["kind"] == MEDIA] for call in shown]
    assert [len(b) for b in bars] == [0, 1] and bars[1][0]["both_ways"]

    # ladder check: the first call, answered with SDP, had no media of its own.
    checked = json.loads(run_ladder("check", reused_ports, "--json").out)["calls"]
    codes = [{d["code"] for d in call["deviations"]} for call in checked]
    assert "no-media" in codes[0] and "no-media" not in codes[1]

    # ladder streams: both streams are listed under the second call.
    code, out, _ = run_ladder("streams", reused_ports, "--json")
    assert code == 0 and {row["call"] for row in json.loads(out)["streams"]} == {"second"}

    # The HTML report, built the way ``ladder export --html`` and the TUI's export build it.
    capture = load_capture(str(reused_ports))
    analysis = analyse(capture)
    reports = build_reports(capture, analysis.calls)
    assert [len(r.streams) for r in reports] == [0, 2]
    assert [len(_media_keys(r.ladder)) for r in reports] == [0, 2]
    page = tmp_path / "report.html"
    assert run_ladder("export", reused_ports, "--html", page).code == 0
    assert page.read_text(encoding="utf-8").count("RTP PCMU → 5 ← 5 pkts") == 1

    # The TUI: the list's media column and each call's ladder screen.
    from tests.tui_pilot import SIZE, wait_loaded
    from tui.app import create_app

    app = create_app(str(reused_ports))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot, app)
            views = [app.build_view([call_id], True) for call_id in ("first", "second")]
            assert [len(streams) for _ladder, _devs, streams in views] == [0, 2]
            assert [_media_keys(ladder) for ladder, _devs, _streams in views] == [set(), _media_keys(reports[1].ladder)]
            assert "no-media" in {d.code for d in app.checks["first"].deviations}
            assert "no-media" not in {d.code for d in app.checks["second"].deviations}

    asyncio.run(scenario())


def _bench_capture(path, calls: int):
    spec = importlib.util.spec_from_file_location("make_rtp_capture", ROOT / "bench" / "make_rtp_capture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_capture(str(path), calls, 0)
    return path


def _count_binding(monkeypatch) -> dict[str, int]:
    """Counts ``bind_media`` runs, the stream-against-call tests (``_match``) inside them, and
    how often a stream's key is made (a ladder's bars look their streams up by key)."""
    counts = {"bind_media": 0, "match": 0, "stream_key": 0}
    bind, match = media_module.bind_media, media_module._match
    key = RtpStream.key

    def counting_key(stream):
        counts["stream_key"] += 1
        return key.fget(stream)

    def counting_bind(*args, **kwargs):
        counts["bind_media"] += 1
        return bind(*args, **kwargs)

    def counting_match(*args, **kwargs):
        counts["match"] += 1
        return match(*args, **kwargs)

    monkeypatch.setattr(media_module, "bind_media", counting_bind)
    monkeypatch.setattr(media_module, "_match", counting_match)
    monkeypatch.setattr(RtpStream, "key", property(counting_key))
    return counts


@pytest.mark.parametrize("command", [["check", "--json"], ["export", "--html", "OUT"], ["show"],
                                     ["streams", "--json"], ["export", "--text", "OUT"]])
def test_doubling_the_calls_at_most_doubles_the_binding_work(command, tmp_path, monkeypatch, run_ladder):
    work, keys = [], []
    for calls in (60, 120):
        capture = _bench_capture(tmp_path / f"calls-{calls}.pcap", calls)
        counts = _count_binding(monkeypatch)
        argv = [command[0], str(capture)] + [str(tmp_path / f"out-{calls}") if a == "OUT" else a
                                             for a in command[1:]]
        run_ladder(*argv)
        monkeypatch.undo()
        assert counts["bind_media"] == 1, counts  # once per capture, never per call
        assert counts["match"] >= 2 * calls  # each of the 2 streams per call was tested
        work.append(counts["match"])
        keys.append(counts["stream_key"])
    assert work[1] <= 2 * work[0], work
    assert keys[1] <= 2 * keys[0], keys  # not every stream's key made again for every call
