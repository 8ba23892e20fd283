"""TCP stream reassembly (decoders/tcpstreams.py) on real captures and crafted segment orders."""

from __future__ import annotations

import random
import socket
from collections import Counter

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decoders.records import FrameRef
from decoders.tcpstreams import (
    FEED_CLASSES,
    MAX_PENDING_SEGMENTS,
    TCP_FIN,
    TCP_SYN,
    TcpStreamTable,
)
from conftest import shared_manifest, shared_path
from test_sipframing import rfc3665_messages

ACK = 0x10


def network_packets(path):
    """(FrameRef, IP packet) for each frame of a pcap/pcapng, via dpkt (the pipeline is not used here)."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
        handle.seek(0)
        reader = dpkt.pcapng.Reader(handle) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(handle)
        link = reader.datalink()
        for number, (ts, data) in enumerate(reader, start=1):
            if link == dpkt.pcap.DLT_EN10MB:
                packet = dpkt.ethernet.Ethernet(data).data
            elif link == dpkt.pcap.DLT_LINUX_SLL:
                packet = dpkt.sll.SLL(data).data
            elif link == dpkt.pcap.DLT_NULL:
                packet = dpkt.loopback.Loopback(data).data
            else:
                raise AssertionError(f"link type {link} not handled by this test helper")
            yield FrameRef(number, int(round(ts * 1_000_000_000))), packet


def ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def tcp_segments(path):
    """Feed arguments for every TCP segment of a capture."""
    for frame, ip in network_packets(path):
        if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(ip.data, dpkt.tcp.TCP):
            tcp = ip.data
            yield (ip_text(ip.src), tcp.sport, ip_text(ip.dst), tcp.dport, tcp.seq, tcp.flags, bytes(tcp.data), frame)


def run(segments):
    """Feed everything, flush; returns (messages, Counter of frame classes, table, diagnostics)."""
    table = TcpStreamTable()
    messages, classes, diagnostics = [], Counter(), []
    for segment in segments:
        result = table.feed(*segment)
        messages += result.messages
        diagnostics += result.diagnostics
        assert result.frame_class in FEED_CLASSES
        classes[result.frame_class] += 1
    result = table.flush()
    return messages + list(result.messages), classes, table, diagnostics + list(result.diagnostics)


def method_of(payload: bytes) -> str:
    first = payload.split(b" ", 2)
    return first[1].decode() if payload.startswith(b"SIP/2.0") else first[0].decode()


def manifest_entry(name: str) -> dict:
    return next(entry for entry in shared_manifest() if entry["file"] == f"captures/{name}")


# Captures whose SIP is all over plain TCP: tshark's counts are the oracle.
TCP_CAPTURES = [
    "heplify/sip_ipv4_tcp.pcap",
    "heplify/sip_ipv4_tcp_fragmented.pcap",
    "suricata-verify/sip-body-large/sip-body-large.pcap",
    "suricata-verify/sip-tcp-method/sip-tcp.pcap",
    "suricata-verify/sip-tcp-pattern-matching/sip.pcap",
    "rtcagent/dump.pcap",
]


@pytest.mark.shared
@pytest.mark.parametrize("name", TCP_CAPTURES)
def test_real_capture_matches_tshark(name):
    entry = manifest_entry(name)
    messages, classes, table, diagnostics = run(tcp_segments(shared_path(f"captures/{name}")))
    assert len(messages) == entry["sip_messages"]
    requests = Counter(method_of(m.payload) for m in messages if not m.payload.startswith(b"SIP/2.0"))
    statuses = Counter(method_of(m.payload) for m in messages if m.payload.startswith(b"SIP/2.0"))
    assert dict(requests) == entry["methods"]
    assert dict(statuses) == entry["status_codes"]
    assert classes["sip"] == entry["sip_frames"]
    assert all(m.transport == "tcp" and m.src.transport == "tcp" for m in messages)
    assert diagnostics == []


@pytest.mark.shared
def test_http_on_the_sip_port_is_not_sip():
    # tshark calls two frames of this capture SIP by port; their bytes are HTTP (manifest notes).
    messages, classes, table, diagnostics = run(tcp_segments(shared_path("captures/ndpi/http_on_sip_port.pcap")))
    assert messages == [] and diagnostics == []
    assert dict(classes) == {"tcp-other": 4}


@pytest.mark.shared
def test_fragmented_capture_spans_segments():
    messages, classes, _, _ = run(tcp_segments(shared_path("captures/heplify/sip_ipv4_tcp_fragmented.pcap")))
    # tshark sees one message per completing frame here, many of them built from several segments.
    spanning = [m for m in messages if len(m.frames) > 1]
    assert len(spanning) > 100
    assert len({m.frames[-1].number for m in messages}) == len(messages)
    # Each message's bytes are exactly one framed SIP message; ts is its last frame's time.
    assert all(m.ts_ns == m.frames[-1].ts_ns for m in messages)
    assert sum(classes.values()) == 1542


@pytest.mark.shared
def test_large_body_is_one_message_over_many_segments():
    messages, _, _, _ = run(tcp_segments(shared_path("captures/suricata-verify/sip-body-large/sip-body-large.pcap")))
    invite = next(m for m in messages if m.payload.startswith(b"INVITE"))
    assert len(invite.frames) > 3
    assert len(invite.payload) > 10_000


@pytest.mark.shared
def test_retransmissions_in_a_real_capture():
    # tshark: 4 of the 8 SIP messages of this capture are over TCP, amid TCP retransmissions.
    messages, classes, _, _ = run(tcp_segments(shared_path("captures/heplify/sip_ipv4_tcp_retrans.pcap")))
    assert Counter(method_of(m.payload) for m in messages) == {"REGISTER": 2, "401": 1, "200": 1}
    assert classes["tcp-retransmission"] >= 1


def split_segments(segments, size):
    """Cut each segment's payload into ``size``-byte segments (same frame, advancing seq)."""
    for src, sport, dst, dport, seq, flags, payload, frame in segments:
        if len(payload) <= size:
            yield src, sport, dst, dport, seq, flags, payload, frame
            continue
        for offset in range(0, len(payload), size):
            yield src, sport, dst, dport, (seq + offset) % (1 << 32), flags, payload[offset : offset + size], frame


@pytest.mark.shared
@pytest.mark.parametrize("name", ["heplify/sip_ipv4_tcp.pcap", "suricata-verify/sip-body-large/sip-body-large.pcap"])
def test_byte_by_byte_gives_the_same_messages(name):
    segments = list(tcp_segments(shared_path(f"captures/{name}")))
    whole, _, _, _ = run(segments)
    bytewise, _, table, diagnostics = run(split_segments(segments, 1))
    assert [m.payload for m in bytewise] == [m.payload for m in whole]
    assert [m.frames for m in bytewise] == [m.frames for m in whole]
    assert diagnostics == []


@pytest.mark.shared
def test_trailing_partial_message_is_reported_at_flush():
    segments = list(tcp_segments(shared_path("captures/heplify/sip_ipv4_tcp.pcap")))
    src, sport, dst, dport, seq, flags, payload, frame = next(s for s in segments if s[6].startswith(b"BYE"))
    index = segments.index(next(s for s in segments if s[6].startswith(b"BYE")))
    cut = segments[:index] + [(src, sport, dst, dport, seq, flags & ~0x01, payload[:-5], frame)]
    messages, _, table, diagnostics = run(cut)
    assert [method_of(m.payload) for m in messages][-1] != "BYE"
    assert [d.reason for d in diagnostics] == ["tcp-incomplete-message"]
    assert diagnostics[0].frame == frame.number


# ---------------------------------------------------------------------- crafted streams

CLIENT, SERVER = ("192.0.2.1", 5060), ("192.0.2.2", 5060)


def crafted(stream: bytes, sizes, isn: int = 1000, syn: bool = True, first_frame: int = 1):
    """Segments of one direction: an optional SYN, then ``stream`` cut by ``sizes`` (cycled)."""
    segments = []
    number = first_frame
    if syn:
        segments.append((*CLIENT, *SERVER, isn, TCP_SYN, b"", FrameRef(number, number * 1000)))
        number += 1
    position, turn = 0, 0
    while position < len(stream):
        size = sizes[turn % len(sizes)]
        chunk = stream[position : position + size]
        seq = (isn + 1 + position) % (1 << 32)
        segments.append((*CLIENT, *SERVER, seq, ACK, chunk, FrameRef(number, number * 1000)))
        number += 1
        position += size
        turn += 1
    return segments


@pytest.fixture(scope="module")
def rfc_stream():
    sample = rfc3665_messages()[:20]
    return sample, b"".join(sample)


def test_in_order_crafted_stream(rfc_stream):
    sample, stream = rfc_stream
    messages, classes, table, diagnostics = run(crafted(stream, [700, 13, 1460]))
    assert [m.payload for m in messages] == sample
    assert classes["sip"] + classes["sip-segment"] == sum(classes.values()) - 1  # the SYN
    assert table.buffered_bytes() == 0


def test_out_of_order_segments_are_put_back_in_order(rfc_stream):
    sample, stream = rfc_stream
    segments = crafted(stream, [300])
    body = segments[1:]
    # Swap neighbours and reverse a run of five: every message still comes out once, in order.
    shuffled = [segments[0]]
    for index in range(0, len(body) - 1, 2):
        shuffled += [body[index + 1], body[index]]
    if len(body) % 2:
        shuffled.append(body[-1])
    shuffled[5:10] = reversed(shuffled[5:10])
    messages, _, table, diagnostics = run(shuffled)
    assert [m.payload for m in messages] == sample
    assert diagnostics == []


def test_retransmitted_segments_are_classified_and_ignored(rfc_stream):
    sample, stream = rfc_stream
    segments = crafted(stream, [500])
    doubled = []
    for segment in segments[1:]:
        doubled += [segment, segment]
    messages, classes, _, _ = run([segments[0]] + doubled)
    assert [m.payload for m in messages] == sample
    assert classes["tcp-retransmission"] == len(segments) - 1


def test_overlapping_segments_first_received_bytes_win(rfc_stream):
    sample, stream = rfc_stream
    isn = 5000
    first = (*CLIENT, *SERVER, isn + 1, ACK, stream[:600], FrameRef(1, 1))
    # Overlaps bytes 500..600 with different (corrupt) bytes, then continues the stream.
    corrupt = b"X" * 100 + stream[600:1200]
    second = (*CLIENT, *SERVER, isn + 1 + 500, ACK, corrupt, FrameRef(2, 2))
    rest = (*CLIENT, *SERVER, isn + 1 + 1200, ACK, stream[1200:], FrameRef(3, 3))
    messages, _, table, diagnostics = run([first, second, rest])
    assert [m.payload for m in messages] == sample
    assert diagnostics == []


def test_overlap_with_an_out_of_order_segment(rfc_stream):
    sample, stream = rfc_stream
    isn = 7
    late = (*CLIENT, *SERVER, isn + 1 + 400, ACK, stream[400:900], FrameRef(1, 1))
    early = (*CLIENT, *SERVER, isn + 1, ACK, stream[:450], FrameRef(2, 2))
    rest = (*CLIENT, *SERVER, isn + 1 + 900, ACK, stream[900:], FrameRef(3, 3))
    syn = (*CLIENT, *SERVER, isn, TCP_SYN, b"", FrameRef(0, 0))
    messages, _, _, _ = run([syn, late, early, rest])
    assert [m.payload for m in messages] == sample
    assert messages[0].frames == (FrameRef(2, 2),)
    spanning = next(m for m in messages if FrameRef(1, 1) in m.frames and FrameRef(2, 2) in m.frames)
    assert spanning.ts_ns == 1  # the time of the frame that carried its last byte


def test_sequence_numbers_wrap_around(rfc_stream):
    sample, stream = rfc_stream
    messages, _, _, _ = run(crafted(stream, [97], isn=(1 << 32) - 1500))
    assert [m.payload for m in messages] == sample


def test_gap_never_filled_is_reported_and_later_messages_recovered(rfc_stream):
    sample, stream = rfc_stream
    segments = crafted(stream, [250])
    lost = segments.pop(6)  # bytes 1250..1500 never captured
    messages, _, table, diagnostics = run(segments)
    gaps = [d for d in diagnostics if d.reason == "tcp-gap"]
    assert len(gaps) == 1 and "250 bytes" in gaps[0].detail
    assert gaps[0].frame == lost[7].number + 1
    payloads = [m.payload for m in messages]
    lost_start, lost_end = 1250, 1500
    intact = []
    offset = 0
    for message in sample:
        if offset + len(message) <= lost_start or offset >= lost_end:
            intact.append(message)
        offset += len(message)
    # Messages wholly outside the hole survive; the one cut by the hole is dropped, not garbled.
    assert payloads == intact
    assert len(intact) == len(sample) - 2  # the hole takes the end of one message, the start of the next


def test_out_of_order_buffer_is_bounded(rfc_stream):
    _, stream = rfc_stream
    segments = crafted(stream * 3, [200] + [40] * 1000)  # the first segment holds a whole start line
    del segments[2]  # a hole right at the start, never filled
    table = TcpStreamTable()
    diagnostics = [d for segment in segments[: MAX_PENDING_SEGMENTS + 10] for d in table.feed(*segment).diagnostics]
    assert any(d.reason == "tcp-gap" for d in diagnostics)
    assert table.buffered_bytes() < MAX_PENDING_SEGMENTS * 40 + 70_000


def test_mid_stream_start_joins_at_the_next_message(rfc_stream):
    sample, stream = rfc_stream
    offset = len(sample[0]) + 17  # capture begins inside the second message
    messages, _, table, diagnostics = run(crafted(stream[offset:], [300], isn=99, syn=False))
    assert [m.payload for m in messages] == sample[2:]
    skipped = len(sample[0]) + len(sample[1]) - offset
    # Reported once, at the frame where the stream was joined, with every byte skipped.
    assert [(d.reason, d.frame) for d in diagnostics] == [("tcp-mid-stream", skipped // 300 + 1)]
    assert f"{skipped} bytes" in diagnostics[0].detail


def test_non_sip_stream_is_ignored_without_buffering():
    table = TcpStreamTable()
    tls = bytes.fromhex("160301020001000100fc0303") + bytes(range(256)) * 4
    classes = Counter()
    seq = 1
    table.feed(*CLIENT, *SERVER, 0, TCP_SYN, b"", FrameRef(1, 1))
    for number in range(2, 200):
        result = table.feed(*CLIENT, *SERVER, seq, ACK, tls, FrameRef(number, number))
        assert result.messages == () and result.diagnostics == ()
        classes[result.frame_class] += 1
        seq += len(tls)
    assert classes == {"tcp-other": 198}
    assert table.buffered_bytes() == 0


def test_garbage_inside_a_sip_stream_is_diagnosed_and_skipped(rfc_stream):
    sample, stream = rfc_stream
    garbage = b"\x00\x01 this is not SIP\r\n"
    spliced = sample[0] + garbage + b"".join(sample[1:])
    messages, _, table, diagnostics = run(crafted(spliced, [333]))
    assert [m.payload for m in messages] == sample
    assert [d.reason for d in diagnostics] == ["malformed-sip"]


def test_keepalives_are_counted_and_classified(rfc_stream):
    sample, _ = rfc_stream
    # CR/LF before the first start line: not yet known to be SIP, so not counted as keep-alives.
    segments = crafted(b"\r\n\r\n", [4]) + crafted(sample[0], [len(sample[0])], syn=False, isn=1000 + 4, first_frame=3)
    messages, classes, table, diagnostics = run(segments)
    assert [m.payload for m in messages] == [sample[0]]
    assert table.keepalives == 0
    assert classes["tcp-other"] == 2 and classes["sip"] == 1
    # The usual case: a ping (CRLFCRLF) between two messages of an established SIP connection.
    stream = sample[0] + b"\r\n\r\n" + sample[1]
    segments = crafted(stream, [len(sample[0]), 4, len(sample[1])])
    messages, classes, table, diagnostics = run(segments)
    assert [m.payload for m in messages] == sample[:2]
    assert (table.keepalives, classes["sip-keepalive"], classes["sip"]) == (1, 1, 2)


def test_missing_content_length_is_reported():
    bye = b"BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 2 BYE\r\n\r\n"
    messages, _, table, diagnostics = run(crafted(bye + bye, [len(bye) * 2]))
    assert [m.payload for m in messages] == [bye, bye]
    assert [d.reason for d in diagnostics] == ["missing-content-length"] * 2
    assert messages[0].leniencies == ("missing-content-length",)


def test_connection_reuse_after_fin(rfc_stream):
    sample, _ = rfc_stream
    first = crafted(sample[0], [200])
    first[-1] = (*first[-1][:5], ACK | TCP_FIN, *first[-1][6:])
    second = crafted(sample[1], [200], isn=90_000, first_frame=len(first) + 1)
    messages, _, table, diagnostics = run(first + second)
    assert [m.payload for m in messages] == sample[:2]
    assert diagnostics == []


def test_fin_that_overtakes_data_closes_after_the_data(rfc_stream):
    sample, stream = rfc_stream
    segments = crafted(stream, [500])
    segments[-1] = (*segments[-1][:5], ACK | TCP_FIN, *segments[-1][6:])
    segments[-2], segments[-1] = segments[-1], segments[-2]
    table = TcpStreamTable()
    messages, diagnostics = [], []
    for segment in segments:
        result = table.feed(*segment)
        messages += result.messages
        diagnostics += result.diagnostics
    assert [m.payload for m in messages] == sample  # all delivered before flush
    assert table.buffered_bytes() == 0 and diagnostics == []


def test_retransmitted_syn_does_not_reset_the_stream(rfc_stream):
    sample, stream = rfc_stream
    segments = crafted(stream, [400])
    segments.insert(3, segments[0])  # the SYN again, after data has flowed
    messages, _, table, diagnostics = run(segments)
    assert [m.payload for m in messages] == sample
    assert diagnostics == []


def test_data_resent_after_the_fin_is_a_retransmission(rfc_stream):
    sample, _ = rfc_stream
    segments = crafted(sample[0], [len(sample[0])])
    segments[-1] = (*segments[-1][:5], ACK | TCP_FIN, *segments[-1][6:])
    resent = (*segments[-1][:5], ACK, segments[-1][6], FrameRef(9, 9))
    messages, classes, table, diagnostics = run(segments + [resent])
    assert [m.payload for m in messages] == [sample[0]]
    assert classes["tcp-retransmission"] == 1


def test_each_frame_is_classified_once_on_random_orders(rfc_stream):
    sample, stream = rfc_stream
    segments = crafted(stream, [180])
    for seed in range(5):
        body = segments[1:]
        random.Random(seed).shuffle(body)
        messages, classes, table, diagnostics = run(segments[:1] + body)
        assert sum(classes.values()) == len(segments)
        assert [m.payload for m in messages] == sample  # fewer segments than the out-of-order bound
        assert classes["sip"] <= len(sample) and diagnostics == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3000),
            st.sampled_from([ACK, ACK | TCP_SYN, ACK | TCP_FIN, 0x04]),
            st.one_of(st.binary(max_size=300), st.sampled_from([b"INVITE sip:a@b SIP/2.0\r\n", b"\r\n\r\n", b"l: 9\r\n\r\n"])),
        ),
        max_size=30,
    )
)
def test_any_segments_give_messages_or_diagnostics_never_an_exception(segments):
    table = TcpStreamTable()
    diagnostics = []
    for number, (seq, flags, payload) in enumerate(segments, start=1):
        result = table.feed(*CLIENT, *SERVER, seq, flags, payload, FrameRef(number, number))
        for message in result.messages:
            assert message.frames and message.payload
        assert result.frame_class in FEED_CLASSES
        diagnostics += result.diagnostics
    result = table.flush()
    for message in result.messages:
        assert message.frames
    diagnostics += result.diagnostics
    assert all(d.reason in {"tcp-gap", "tcp-mid-stream", "malformed-sip", "missing-content-length",
                            "tcp-incomplete-message", "malformed-websocket"} for d in diagnostics)
