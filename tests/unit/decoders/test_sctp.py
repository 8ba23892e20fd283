"""SCTP DATA chunks and fragment reassembly (decoders/sctp.py)."""

from __future__ import annotations

import struct
from collections import Counter

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decoders.errors import DecodeError, Malformed, Truncated
from decoders.records import FrameRef, StreamResult
from decoders.sctp import (
    SCTP_FRAGMENT,
    SCTP_MESSAGE,
    SCTP_RETRANSMISSION,
    CHUNK_I_DATA,
    FLAG_BEGIN,
    FLAG_END,
    FLAG_UNORDERED,
    SctpReassembler,
    sctp_data_chunks,
)
from decoders.sipframing import sip_message_length
from conftest import shared_manifest, shared_path
from test_sipframing import rfc3665_messages
from test_tcpstreams import ip_text, method_of, network_packets


def sctp_packets(path):
    for frame, ip in network_packets(path):
        if isinstance(ip, dpkt.ip.IP) and ip.p == 132:
            yield frame, ip_text(ip.src), ip_text(ip.dst), bytes(ip.data)


def packet(*chunks: bytes, sport: int = 5060, dport: int = 5060, tag: int = 0xCAFE) -> bytes:
    return struct.pack("!HHII", sport, dport, tag, 0) + b"".join(chunks)


def data_chunk(data: bytes, tsn: int, flags: int = FLAG_BEGIN | FLAG_END, sid: int = 0, ssn: int = 0, ppid: int = 0,
               pad: bool = True) -> bytes:
    length = 16 + len(data)
    chunk = struct.pack("!BBHIHHI", 0, flags, length, tsn, sid, ssn, ppid) + data
    return chunk + b"\x00" * ((-length) % 4 if pad else 0)


def sack_chunk() -> bytes:
    return struct.pack("!BBHIIHH", 3, 0, 16, 7, 65535, 0, 0)


@pytest.mark.shared
def test_real_sip_over_sctp():
    entry = next(e for e in shared_manifest() if e["file"] == "captures/heplify/sip_sctp.pcap")
    reassembler = SctpReassembler()
    messages, diagnostics = [], []
    for frame, src, dst, payload in sctp_packets(shared_path("captures/heplify/sip_sctp.pcap")):
        for chunk in sctp_data_chunks(payload):
            result = reassembler.add(src, dst, chunk, frame)
            messages += result.messages
            diagnostics += result.diagnostics
    diagnostics += reassembler.flush().diagnostics
    assert len(messages) == entry["sip_messages"]
    assert Counter(method_of(m.data) for m in messages) == {**entry["methods"], **entry["status_codes"]}
    invite = messages[0]
    assert [f.number for f in invite.frames] == [1, 2]  # first and last fragment, unordered
    assert invite.data.startswith(b"INVITE ") and len(invite.data) == 1452 + 312
    # The joined fragments are exactly one SIP message: its Content-Length ends where the data ends.
    assert all(sip_message_length(m.data) == len(m.data) for m in messages)
    assert all(m.src_port and m.dst_port for m in messages)
    assert diagnostics == []


def test_bundled_chunks_padding_and_control_chunks():
    sample = rfc3665_messages()[:3]
    raw = packet(sack_chunk(), data_chunk(sample[0] + b"x", 10), data_chunk(sample[1], 11, sid=2, ssn=5, ppid=0),
                 data_chunk(sample[2], 12, pad=False))
    chunks = sctp_data_chunks(raw)
    assert [c.data for c in chunks] == [sample[0] + b"x", sample[1], sample[2]]
    assert [c.tsn for c in chunks] == [10, 11, 12]
    assert (chunks[1].stream_id, chunks[1].ssn) == (2, 5)
    assert all(c.complete and not c.unordered for c in chunks)


def test_fragments_across_packets_in_any_order():
    message = rfc3665_messages()[10]
    parts = [message[:100], message[100:250], message[250:]]
    flags = [FLAG_BEGIN, 0, FLAG_END]
    packets = [packet(data_chunk(part, 40 + index, flags[index])) for index, part in enumerate(parts)]
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        reassembler = SctpReassembler()
        results = []
        for number in order:
            for chunk in sctp_data_chunks(packets[number]):
                results.append(reassembler.add("a", "b", chunk, FrameRef(number + 1, number)))
        done = [message for result in results for message in result.messages]
        assert len(done) == 1 and done[0].data == message
        assert sorted(f.number for f in done[0].frames) == [1, 2, 3]
        assert done[0].tsn == 40


def test_duplicate_fragment_first_copy_wins_and_leftovers_are_reported():
    reassembler = SctpReassembler()
    first = sctp_data_chunks(packet(data_chunk(b"INVITE sip:a@b SIP/2.0\r\n", 1, FLAG_BEGIN)))[0]
    assert reassembler.add("a", "b", first, FrameRef(1, 1)) == StreamResult((), SCTP_FRAGMENT)
    assert reassembler.add("a", "b", first, FrameRef(2, 2)) == StreamResult((), SCTP_RETRANSMISSION)
    leftovers = reassembler.flush().diagnostics
    assert [(d.reason, d.frame) for d in leftovers] == [("sctp-incomplete-message", 1)]


def test_retransmitted_chunk_is_one_message():
    message = rfc3665_messages()[1]
    raw = packet(data_chunk(message, 77))
    reassembler = SctpReassembler()
    first = reassembler.add("a", "b", sctp_data_chunks(raw)[0], FrameRef(1, 1))
    again = reassembler.add("a", "b", sctp_data_chunks(raw)[0], FrameRef(2, 2))
    assert first.frame_class == SCTP_MESSAGE and [m.data for m in first.messages] == [message]
    assert again == StreamResult((), SCTP_RETRANSMISSION) and reassembler.retransmissions == 1
    # The same TSN in another association is a different message.
    assert reassembler.add("c", "b", sctp_data_chunks(raw)[0], FrameRef(3, 3)).messages


def test_i_data_chunk():
    message = rfc3665_messages()[2]
    chunk = struct.pack("!BBHIHHII", CHUNK_I_DATA, FLAG_BEGIN | FLAG_END | FLAG_UNORDERED, 20 + len(message), 9, 1, 0, 77, 46)
    [parsed] = sctp_data_chunks(packet(chunk + message + b"\x00" * ((-len(message)) % 4)))
    assert (parsed.chunk_type, parsed.tsn, parsed.ssn, parsed.ppid, parsed.unordered) == (CHUNK_I_DATA, 9, 77, 46, True)
    assert parsed.data == message


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\x13\xc4\x13\xc4\x00", Truncated),
        (packet(b"\x00\x03\x00\x02"), Malformed),  # chunk length below 4
        (packet(b"\x00\x03\x00\x0c" + b"\x00" * 8), Malformed),  # DATA chunk shorter than 16
        (packet(b"\x00\x03\x01\x00" + b"\x00" * 20), Truncated),  # runs past the packet
        (packet(b"\x00\x03"), Truncated),
    ],
)
def test_broken_packets_raise(raw, error):
    with pytest.raises(error) as caught:
        sctp_data_chunks(raw)
    assert caught.value.reason in ("sctp-truncated", "malformed-sctp")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_chunks_or_a_decode_error(data):
    reassembler = SctpReassembler()
    try:
        chunks = sctp_data_chunks(data)
    except DecodeError as error:
        assert error.reason in ("sctp-truncated", "malformed-sctp")
        return
    for chunk in chunks:
        reassembler.add("a", "b", chunk, FrameRef(1, 1))
    reassembler.flush()
