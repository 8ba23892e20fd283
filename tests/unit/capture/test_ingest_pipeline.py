"""ladder.capture.pipeline: HEP, SCTP, TCP and WebSocket SIP on real captures, the Ethernet/IPv4/UDP fast
path against the general path, and the bounds on kept diagnostics."""

from __future__ import annotations

from captures_crafted import ethernet, ipv4, rtp, sll, sll2, udp, write_pcap
from conftest import shared_path
from ladder.capture.loader import load_capture
from ladder.capture.reader import read_frames
from ladder.capture.pipeline import MAX_EXAMPLES_PER_REASON, Pipeline
from ladder.media.streams import RtpStreamTable


def test_sip_inside_hep_takes_heps_addresses_and_time():
    """hep.pcap: HEPv3 on UDP/9060 from a capture agent; the SIP inside went 192.168.1.1 <-> .2."""
    path = shared_path("captures/hep-wireshark/hep.pcap")
    capture = load_capture(str(path))
    assert capture.frame_classes == {"hep-sip": 6, "hep": 2}
    first = capture.sip_messages[0]
    assert (str(first.src), str(first.dst)) == ("192.168.1.1:5060/udp", "192.168.1.2:5060/udp")
    frame_one = next(iter(read_frames(str(path))))
    assert first.frames[0].number == 1 and first.frames[0].ts_ns == frame_one.ts_ns
    # The agent's own timestamp, not the time the HEP packet reached the collector.
    assert first.ts_ns == 1481455196000100000 != frame_one.ts_ns


def test_compressed_hep_payloads():
    capture = load_capture(str(shared_path("captures/hep-wireshark/hep3_compressed.pcap.pcapng")))
    assert len(capture.sip_messages) == 21
    assert len({m.call_id for m in capture.sip_messages}) == 1


def test_sip_over_sctp_with_a_message_in_two_packets():
    capture = load_capture(str(shared_path("captures/heplify/sip_sctp.pcap")))
    assert capture.frame_classes == {"sip": 4, "sctp-fragment": 1}
    invite = capture.sip_messages[0]
    assert invite.method == "INVITE" and [f.number for f in invite.frames] == [1, 2]
    assert invite.src.transport == "sctp"


def test_sip_over_websocket_keeps_the_ws_transport():
    capture = load_capture(str(shared_path("captures/wireshark-notes/websocket-sip.pcapng")))
    assert len(capture.sip_messages) == 11
    assert {m.src.transport for m in capture.sip_messages} == {"ws"}
    assert capture.frame_classes["ws-handshake"] == 2


def test_sip_over_tcp_inside_ip_in_ip():
    capture = load_capture(str(shared_path("captures/sngrep/ipip.pcap")))
    assert [m.method if m.is_request else m.status for m in capture.sip_messages] == ["INVITE", 183, 200, "BYE"]
    assert {m.src.transport for m in capture.sip_messages} == {"tcp"}


def test_pppoe_and_gre_ppp_captures():
    gre = load_capture(str(shared_path("captures/ndpi/gre_sip.pcapng")))
    assert len(gre.sip_messages) == 36 and gre.diagnostics == {}
    pppoe = load_capture(str(shared_path("captures/wireshark-wiki/DTMFsipinfo.pcap")))
    assert len(pppoe.sip_messages) == 32


def _rtp_capture(tmp_path, wrap, linktype, name):
    packets = []
    for i in range(40):
        inner = ipv4(udp(rtp(i, i * 160), 4000, 4002), "198.51.100.1", "198.51.100.2")
        packets.append((1_000_000_000 + i * 20_000_000, wrap(inner)))
    return load_capture(str(write_pcap(tmp_path / name, packets, linktype=linktype)))


def test_fast_path_agrees_with_the_general_path(tmp_path):
    """Ethernet and Linux cooked capture (v1 and v2) take the fixed-offset fast path; the same
    packets behind an 802.1Q tag take the general path. All four give the same streams."""
    eth = _rtp_capture(tmp_path, ethernet, 1, "eth.pcap")
    cooked = _rtp_capture(tmp_path, sll, 113, "sll.pcap")
    cooked2 = _rtp_capture(tmp_path, sll2, 276, "sll2.pcap")
    tagged = _rtp_capture(tmp_path, lambda inner: ethernet(inner, vlans=((0x8100, 10),)), 1, "vlan.pcap")
    for capture in (eth, cooked, cooked2, tagged):
        assert capture.frame_classes == {"rtp": 40}
        (stream,) = capture.streams
        assert (stream.ssrc, stream.packets, stream.lost, stream.src, stream.dst) == (
            0x1234ABCD, 40, 0, eth.streams[0].src, eth.streams[0].dst,
        )
        assert stream.max_jitter_ms == eth.streams[0].max_jitter_ms


def test_fast_path_is_taken_for_cooked_captures(tmp_path, monkeypatch):
    """The general path (``_classify``) never sees RTP over SLL or SLL2, only tagged Ethernet.
    This is the Python fast path; the compiled one also takes tagged Ethernet (test_accel.py)."""
    monkeypatch.setenv("PCAPLADDER_PURE_PYTHON", "1")
    seen: list[int] = []
    original = Pipeline._classify

    def spy(self, number, *args):
        seen.append(number)
        return original(self, number, *args)

    monkeypatch.setattr(Pipeline, "_classify", spy)
    _rtp_capture(tmp_path, sll, 113, "sll.pcap")
    _rtp_capture(tmp_path, sll2, 276, "sll2.pcap")
    assert seen == []
    _rtp_capture(tmp_path, lambda inner: ethernet(inner, vlans=((0x8100, 10),)), 1, "vlan.pcap")
    assert len(seen) == 40


def test_fast_path_leaves_odd_udp_lengths_to_the_general_path(tmp_path):
    datagram = bytearray(udp(rtp(1, 160), 4000, 4002))
    datagram[4:6] = (len(datagram) + 4).to_bytes(2, "big")  # UDP length beyond the IP payload
    capture = load_capture(str(write_pcap(tmp_path / "odd.pcap", [(0, ethernet(ipv4(bytes(datagram))))])))
    assert capture.diagnostics == {"udp-length-mismatch": 1}
    assert sum(capture.frame_classes.values()) == 1


def test_diagnostic_examples_are_bounded():
    pipeline = Pipeline(media=False)
    junk = ethernet(b"\x45" + bytes(10))  # an IPv4 header cut at 11 bytes, not by snaplen
    for number in range(1, 1001):
        pipeline.feed(number, number, 1, junk, 0, len(junk), len(junk), -1)
    pipeline.finish()
    assert pipeline.frame_classes == {"malformed-ip": 1000}
    assert pipeline.diagnostics == {"malformed-ip": 1000}
    assert len(pipeline.diagnostic_list) == MAX_EXAMPLES_PER_REASON
    assert [d.frame for d in pipeline.diagnostic_list[:3]] == [1, 2, 3]


def test_frames_of_every_class_add_up_on_a_mixed_capture():
    capture = load_capture(str(shared_path("captures/wireshark-wiki/nb6-startup.pcap")))
    assert sum(capture.frame_classes.values()) == capture.frames == 531
    assert len(capture.sip_messages) == 4
    assert capture.frame_classes["non-ip"] > 0  # PPPoE discovery, ARP, ...


def _feed_file(pipeline: Pipeline, path) -> list:
    frames = list(read_frames(str(path)))
    for frame in frames:
        pipeline.feed_frame(frame)
    return frames


def test_retransmitted_sctp_frame_is_classed_as_such():
    """sip_sctp.pcap sent again: its last frame (a whole SIP message) repeated as frame 6 is a
    retransmission (same TSN, same association), not a second message."""
    pipeline = Pipeline()
    frames = _feed_file(pipeline, shared_path("captures/heplify/sip_sctp.pcap"))
    last = frames[-1]
    pipeline.feed(len(frames) + 1, last.ts_ns + 1, last.linktype, last.data, 0, last.caplen, last.origlen, -1)
    pipeline.finish()
    assert pipeline.frame_classes == {"sip": 4, "sctp-fragment": 1, "sctp-retransmission": 1}
    assert len(pipeline.sip_messages) == 4


def test_media_table_replaces_the_rtp_table():
    """A given table gets every media datagram; a counting-only RtpStreamTable finds the same
    streams with the same packet counts as the full one, and the frame classes agree."""
    path = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    full, counting = Pipeline(), Pipeline(media_table=RtpStreamTable(statistics=False))
    for pipeline in (full, counting):
        _feed_file(pipeline, path)
        pipeline.finish()
    assert counting._rtp is not full._rtp and isinstance(counting._rtp, RtpStreamTable)
    assert [(s.key, s.packets) for s in counting.streams] == [(s.key, s.packets) for s in full.streams]
    assert counting.frame_classes == full.frame_classes and full.frame_classes["rtp"] == 2884
    # The counting table analyses only the packets that confirm a stream; the full one all.
    assert all(sum(p.packets for p in s.series) == s.packets for s in full.streams)
    assert all(sum(p.packets for p in s.series) < s.packets for s in counting.streams if s.packets > 10)
