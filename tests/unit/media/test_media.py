"""ladder.media.binding: binding streams to calls on real captures, and crafted one-way / NAT cases."""

from __future__ import annotations

import struct
from types import SimpleNamespace

from conftest import shared_path
from decoders.records import Endpoint, FrameRef
from decoders.sip import parse_sip
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.media.binding import bind_media, call_media_problems, media_bars
from ladder.media.streams import RtpStreamTable

SECOND = 1_000_000_000


def _sip(text: str, src: tuple[str, int], dst: tuple[str, int], ts_ns: int, frame: int):
    raw = text.replace("\n", "\r\n").encode()
    head, _, body = raw.partition(b"\r\n\r\n")
    raw = head.replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode()) + b"\r\n\r\n" + body
    return parse_sip(raw).with_context(Endpoint(*src), Endpoint(*dst), (FrameRef(frame, ts_ns),), ts_ns)


INVITE = """INVITE sip:bob@198.51.100.20 SIP/2.0
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK1
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: crafted-1
CSeq: 1 INVITE
Content-Type: application/sdp
Content-Length: 0

v=0
o=alice 1 1 IN IP4 {a_ip}
s=-
c=IN IP4 {a_ip}
t=0 0
m=audio 4000 RTP/AVP 0
a=sendrecv
"""

OK = """SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK1
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: crafted-1
CSeq: 1 INVITE
Content-Type: application/sdp
Content-Length: 0

v=0
o=bob 2 2 IN IP4 198.51.100.20
s=-
c=IN IP4 198.51.100.20
t=0 0
m=audio 5000 RTP/AVP 0
a=sendrecv
"""


def _call(a_sdp_ip: str, a_signalling_ip: str):
    t0 = 100 * SECOND
    messages = [_sip(INVITE.format(a_ip=a_sdp_ip), (a_signalling_ip, 5060), ("198.51.100.20", 5060), t0, 1),
                _sip(OK, ("198.51.100.20", 5060), (a_signalling_ip, 5060), t0 + SECOND, 2)]
    return SimpleNamespace(id="crafted-1", index=1, messages=messages)


def _stream(table, src, dst, ssrc, start_ns, count=50):
    for i in range(count):
        data = struct.pack("!BBHII", 0x80, 0, 1000 + i, 160 * i, ssrc) + b"\xff" * 160
        table.feed_udp(src[0], src[1], dst[0], dst[1], start_ns + i * 20_000_000, 10 + i, data, 0, len(data))


def _table(call):
    table = RtpStreamTable()
    for message in call.messages:
        table.expect_sdp(message)
    return table


def test_crafted_one_way_audio_is_reported():
    call = _call("203.0.113.5", "203.0.113.5")
    table = _table(call)
    _stream(table, ("203.0.113.5", 4000), ("198.51.100.20", 5000), 7, 102 * SECOND)
    streams = table.finish()
    (binding,) = bind_media(call, streams)
    assert binding.reason == "sdp-destination" and binding.problems == ()
    problems = call_media_problems(call, streams)
    assert [p.code for p in problems] == ["one-way-media"]
    assert "RTP only from 203.0.113.5:4000 to 198.51.100.20:5000" in problems[0].detail
    (bar,) = media_bars(call, bind_media(call, streams))
    assert bar.label == "RTP PCMU 50 pkts" and not bar.both_ways and "one-way-media" in bar.problems


def test_crafted_two_way_audio_is_clean_and_one_bar():
    call = _call("203.0.113.5", "203.0.113.5")
    table = _table(call)
    _stream(table, ("203.0.113.5", 4000), ("198.51.100.20", 5000), 7, 102 * SECOND)
    _stream(table, ("198.51.100.20", 5000), ("203.0.113.5", 4000), 8, 102 * SECOND + 5_000_000, count=40)
    streams = table.finish()
    assert call_media_problems(call, streams) == []
    (bar,) = media_bars(call, bind_media(call, streams))
    assert bar.both_ways and bar.label == "RTP PCMU 50/40 pkts" and len(bar.stream_keys) == 2


def test_crafted_nat_mismatch_says_so():
    # Alice is behind NAT: her SDP says 192.168.1.10, her packets come from 203.0.113.5.
    call = _call("192.168.1.10", "203.0.113.5")
    table = _table(call)
    _stream(table, ("203.0.113.5", 4000), ("198.51.100.20", 5000), 7, 102 * SECOND)
    _stream(table, ("198.51.100.20", 5000), ("203.0.113.5", 4000), 8, 102 * SECOND)
    streams = table.finish()
    bindings = {b.stream.ssrc: b for b in bind_media(call, streams)}
    assert bindings[7].reason == "sdp-destination"
    assert [p.code for p in bindings[7].problems] == ["nat-mismatch"]
    assert "RTP from 203.0.113.5:4000" in bindings[7].problems[0].detail
    assert "said 192.168.1.10:4000" in bindings[7].problems[0].detail
    assert bindings[8].reason == "nat-signalling-address"
    assert "nat-mismatch" in [p.code for p in bindings[8].problems]
    assert "one-way-media" not in [p.code for p in call_media_problems(call, streams)]


def test_unexpected_payload_type_and_media_after_bye():
    call = _call("203.0.113.5", "203.0.113.5")
    bye = _sip(INVITE.replace("INVITE sip", "BYE sip").replace("1 INVITE", "2 BYE").split("\n\n")[0] + "\n\n",
               ("203.0.113.5", 5060), ("198.51.100.20", 5060), 103 * SECOND, 3)
    call.messages.append(bye)
    table = _table(call)
    for i in range(300):  # 6 s of PT 8, which nobody offered, past the BYE at 103 s
        data = struct.pack("!BBHII", 0x80, 8, i, 160 * i, 9) + b"\xd5" * 160
        table.feed_udp("198.51.100.20", 5000, "203.0.113.5", 4000, 102 * SECOND + i * 20_000_000, 10 + i, data, 0, len(data))
    (binding,) = bind_media(call, table.finish())
    codes = [p.code for p in binding.problems]
    assert codes == ["unexpected-payload-type", "media-after-bye"]


def test_real_capture_binding_by_sdp_destination():
    capture = load_capture(str(shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")))
    calls = build_calls(capture)
    bindings = bind_media(calls, capture.streams)
    # The two streams to the SDP addresses of call 12013223@200.57.7.195 (tshark's SDP streams
    # 200.57.7.204:8000 <-> 200.57.7.196:40376); the relayed copies to .199 are no SDP's.
    assert {(b.stream.src.address(), b.stream.dst.address()) for b in bindings} == {
        ("200.57.7.204:8000", "200.57.7.196:40376"), ("200.57.7.196:40376", "200.57.7.204:8000")}
    assert {b.call_id for b in bindings} == {"12013223@200.57.7.195"}
    assert all(b.reason == "sdp-destination" for b in bindings)
    call = next(c for c in calls if c.id == "12013223@200.57.7.195")
    (bar,) = media_bars(call, bindings)
    assert bar.both_ways and bar.label == "RTP PCMA 548/891 pkts"


def test_sequential_calls_on_the_same_port_bind_to_their_own_call():
    capture = load_capture(str(shared_path("captures/wireshark-wiki/sip-rtp-g711.pcap")))
    calls = build_calls(capture)
    bindings = bind_media(calls, capture.streams)
    by_call = {b.call_id: b.stream.codec for b in bindings}
    assert by_call == {"1-1966@10.0.2.20": "PCMU", "1-1968@10.0.2.20": "PCMA"}
    # recvonly/sendonly SDP: one-way media is what was negotiated, not a problem.
    assert [p.code for p in call_media_problems(calls, capture)] == []
