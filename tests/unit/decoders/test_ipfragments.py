"""IPv4/IPv6 fragment reassembly: in order, out of order, overlapping, timed out, incomplete."""

from __future__ import annotations

from captures_crafted import ethernet, ipv4, ipv4_fragments, ipv6_fragments, sip_invite, udp, write_pcap
from conftest import shared_path
from decoders.ipfragments import FragmentReassembler
from ladder.capture.loader import load_capture

T0 = 1_600_000_000_000_000_000
# A large INVITE (an SDP-sized body) that needs three fragments.
BIG_INVITE = sip_invite(body=b"v=0\r\n" + b"a=x-padding:" + b"p" * 2000 + b"\r\n")


def _frames(packets, order, step_ns=1_000_000):
    return [(T0 + i * step_ns, ethernet(packets[j])) for i, j in enumerate(order)]


def test_ipv4_fragments_out_of_order_become_one_sip_message(tmp_path):
    pieces = ipv4_fragments(udp(BIG_INVITE), 800)
    assert len(pieces) == 3
    path = write_pcap(tmp_path / "frag.pcap", _frames(pieces, [2, 0, 1]))
    capture = load_capture(str(path))
    (message,) = capture.sip_messages
    assert message.raw == BIG_INVITE
    assert [f.number for f in message.frames] == [1, 2, 3]  # every frame that carried a piece
    assert message.ts_ns == T0 + 2_000_000  # completed by the third frame
    assert capture.frame_classes == {"ip-fragment": 2, "sip": 1}


def test_ipv6_fragments_reassembled(tmp_path):
    pieces = ipv6_fragments(udp(BIG_INVITE), 1000)
    frames = [(T0 + i, ethernet(p, ethertype=0x86DD)) for i, p in enumerate(reversed(pieces))]
    capture = load_capture(str(write_pcap(tmp_path / "frag6.pcap", frames)))
    (message,) = capture.sip_messages
    assert message.raw == BIG_INVITE and message.src.ip == "2001:db8::1"


def test_duplicate_fragment_does_not_break_reassembly(tmp_path):
    pieces = ipv4_fragments(udp(BIG_INVITE), 800)
    capture = load_capture(str(write_pcap(tmp_path / "dup.pcap", _frames(pieces, [0, 0, 1, 2]))))
    assert [m.raw for m in capture.sip_messages] == [BIG_INVITE]
    assert sum(capture.frame_classes.values()) == 4


def test_incomplete_datagram_is_reported_with_its_frames(tmp_path):
    pieces = ipv4_fragments(udp(BIG_INVITE), 800)
    capture = load_capture(str(write_pcap(tmp_path / "lost.pcap", _frames(pieces, [0, 2]))))
    assert capture.sip_messages == []
    assert capture.frame_classes == {"ip-fragment-incomplete": 2}
    assert capture.diagnostics == {"ip-fragment-incomplete": 1}


def test_timeout_frees_memory_and_reports():
    reassembler = FragmentReassembler(timeout_ns=1_000)
    assert reassembler.add(("a",), 0, True, b"x" * 8, 1, 0) is None
    assert len(reassembler) == 1
    # A fragment of another datagram much later expires the first one.
    assert reassembler.add(("b",), 0, True, b"y" * 8, 2, 10_000) is None
    assert len(reassembler) == 1
    assert [(a.reason, a.frames) for a in reassembler.abandoned] == [("ip-fragment-timeout", (1,))]


def test_datagram_count_is_bounded():
    reassembler = FragmentReassembler(max_datagrams=3)
    for n in range(10):
        reassembler.add((n,), 0, True, b"z" * 8, n + 1, n)
    assert len(reassembler) == 3
    assert [a.reason for a in reassembler.abandoned] == ["ip-fragment-overflow"] * 7


def test_oversized_datagram_is_dropped():
    reassembler = FragmentReassembler()
    assert reassembler.add(("k",), 65528, True, b"q" * 16, 1, 0) is None
    assert len(reassembler) == 0
    assert reassembler.abandoned[0].reason == "ip-fragment-oversize"


def test_overlapping_pieces_keep_the_earlier_offset():
    reassembler = FragmentReassembler()
    assert reassembler.add(("o",), 0, True, b"A" * 16, 1, 0) is None
    assert reassembler.add(("o",), 8, True, b"B" * 16, 2, 0) is None
    done = reassembler.add(("o",), 24, False, b"C" * 8, 3, 0)
    assert done is not None
    assert done.payload == b"A" * 16 + b"B" * 8 + b"C" * 8
    assert done.frames == (1, 2, 3)


def test_unfragmented_packet_is_untouched(tmp_path):
    frame = ethernet(ipv4(udp(BIG_INVITE)))
    capture = load_capture(str(write_pcap(tmp_path / "whole.pcap", [(T0, frame)])))
    assert capture.frame_classes == {"sip": 1}


def test_sngrep_ipv6_fragments_capture():
    """sngrep's ipv6frag.pcap: SIP over UDP/IPv6 with fragments; tshark sees 32 SIP messages."""
    capture = load_capture(str(shared_path("captures/sngrep/ipv6frag.pcap")))
    assert len(capture.sip_messages) == 32
    assert capture.frame_classes.get("ip-fragment", 0) == 2
    reassembled = [m for m in capture.sip_messages if len(m.frames) > 1]
    assert reassembled and all(len(m.frames) == 2 for m in reassembled)
