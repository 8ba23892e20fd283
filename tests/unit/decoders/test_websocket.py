"""WebSocket frames (decoders/websocket.py) and SIP over WebSocket through TcpStreamTable."""

from __future__ import annotations

import os
import zlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decoders.errors import Malformed
from decoders.records import FrameRef
from decoders.tcpstreams import TCP_SYN
from decoders.websocket import (
    OPCODE_BINARY,
    OPCODE_PING,
    OPCODE_TEXT,
    WsMessageAssembler,
    decode_ws_frames,
    parse_http_upgrade,
)
from conftest import shared_manifest, shared_path
from test_sipframing import rfc3665_messages
from test_tcpstreams import method_of, run, split_segments, tcp_segments

# RFC 6455 §5.7 examples.
UNMASKED_HELLO = bytes.fromhex("810548656c6c6f")
MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
FRAGMENTED_HELLO = bytes.fromhex("010348656c") + bytes.fromhex("80026c6f")
PING_HELLO = bytes.fromhex("890548656c6c6f")


def ws_frame(payload: bytes, opcode: int = OPCODE_TEXT, fin: bool = True, mask: bytes | None = None, rsv: int = 0) -> bytes:
    """Encode one frame (RFC 6455 §5.2), for crafted tests."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header = bytes([first, mask_bit | length])
    elif length < 65536:
        header = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    if mask:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        header += mask
    return header + payload


def decode_incrementally(stream: bytes, step: int) -> list:
    """Feed ``step`` bytes at a time, keeping unconsumed bytes, as a stream reader does."""
    buffer = bytearray()
    frames = []
    for start in range(0, len(stream), step):
        buffer += stream[start : start + step]
        decoded, consumed = decode_ws_frames(buffer)
        frames += [(frame.opcode, frame.fin, frame.payload) for frame in decoded]
        del buffer[:consumed]
    assert not buffer
    return frames


def test_rfc6455_examples():
    frames, consumed = decode_ws_frames(UNMASKED_HELLO + MASKED_HELLO + PING_HELLO)
    assert consumed == len(UNMASKED_HELLO) + len(MASKED_HELLO) + len(PING_HELLO)
    assert [(f.opcode, f.masked, f.payload) for f in frames] == [
        (OPCODE_TEXT, False, b"Hello"),
        (OPCODE_TEXT, True, b"Hello"),
        (OPCODE_PING, False, b"Hello"),
    ]
    frames, _ = decode_ws_frames(FRAGMENTED_HELLO)
    assert [(f.fin, f.payload) for f in frames] == [(False, b"Hel"), (True, b"lo")]


def test_16_and_64_bit_lengths():
    medium, large = os.urandom(256), os.urandom(65536)
    stream = ws_frame(medium, OPCODE_BINARY) + ws_frame(large, OPCODE_BINARY, mask=b"\x01\x02\x03\x04")
    assert stream[1] == 126 and stream[4 + 256 + 1] == 0x80 | 127
    frames, consumed = decode_ws_frames(stream)
    assert [f.payload for f in frames] == [medium, large] and consumed == len(stream)


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_incremental_decoding_three_ways(step):
    stream = UNMASKED_HELLO + MASKED_HELLO + FRAGMENTED_HELLO + ws_frame(b"x" * 300, mask=b"abcd")
    assert decode_incrementally(stream, step) == decode_incrementally(stream, len(stream))


def test_trailing_partial_frame_is_left_unconsumed():
    frames, consumed = decode_ws_frames(MASKED_HELLO + MASKED_HELLO[:5])
    assert len(frames) == 1 and consumed == len(MASKED_HELLO)
    assert decode_ws_frames(b"\x81") == ([], 0)


def test_assembler_joins_fragments_and_skips_interleaved_control_frames():
    stream = bytes.fromhex("010348656c") + PING_HELLO + bytes.fromhex("80026c6f") + UNMASKED_HELLO
    frames, _ = decode_ws_frames(stream)
    assembler = WsMessageAssembler()
    messages = [m for m in (assembler.add(frame) for frame in frames) if m is not None]
    assert [(m.opcode, m.payload) for m in messages] == [(OPCODE_TEXT, b"Hello"), (OPCODE_TEXT, b"Hello")]
    assert (messages[0].first_offset, messages[0].end_offset) == (0, 5 + 7 + 4)


@pytest.mark.parametrize(
    "broken",
    [
        bytes.fromhex("8300"),  # reserved opcode 3
        bytes.fromhex("897e0080") + b"x" * 128,  # control frame over 125 bytes
        bytes.fromhex("0900"),  # fragmented ping
        bytes.fromhex("827f8000000000000000"),  # 64-bit length with the top bit set
    ],
)
def test_broken_frames_raise_malformed(broken):
    with pytest.raises(Malformed) as caught:
        decode_ws_frames(broken)
    assert caught.value.reason == "malformed-websocket"


def test_continuation_without_a_first_fragment_is_malformed():
    frames, _ = decode_ws_frames(bytes.fromhex("80026c6f"))
    with pytest.raises(Malformed):
        WsMessageAssembler().add(frames[0])


@pytest.mark.shared
def test_real_handshake_is_parsed():
    segments = list(tcp_segments(shared_path("captures/wireshark-notes/websocket-sip.pcapng")))
    request = next(s[6] for s in segments if s[6].startswith(b"GET "))
    response = next(s[6] for s in segments if s[6].startswith(b"HTTP/1.1 101"))
    upgrade = parse_http_upgrade(request)
    assert upgrade is not None and upgrade.is_request and upgrade.is_websocket
    assert upgrade.subprotocols == ("sip",) and upgrade.length == len(request)
    accepted = parse_http_upgrade(response)
    assert accepted is not None and accepted.status == 101 and accepted.is_websocket
    assert parse_http_upgrade(request[:40]) is None
    with pytest.raises(Malformed):
        parse_http_upgrade(b"\x16\x03\x01\x00\x00\r\n")


# ---------------------------------------------------------------------- through the stream table

# tshark: websocket-sip.pcapng carries all 11 SIP messages over WebSocket; sip_tcp_websocket.pcap
# carries 11 of its 39 over WebSocket (frames 11..56 on TCP 43380 <-> 8080), the rest over UDP.
WS_CAPTURES = {
    "wireshark-notes/websocket-sip.pcapng": None,
    "heplify/sip_tcp_websocket.pcap": {"INVITE": 2, "ACK": 2, "BYE": 1, "100": 1, "407": 1, "183": 1, "180": 1, "200": 2},
}


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(WS_CAPTURES))
def test_real_sip_over_websocket(name):
    messages, classes, table, diagnostics = run(tcp_segments(shared_path(f"captures/{name}")))
    expected = WS_CAPTURES[name]
    if expected is None:
        entry = next(e for e in shared_manifest() if e["file"] == f"captures/{name}")
        expected = {**entry["methods"], **entry["status_codes"]}
    assert Counter(method_of(m.payload) for m in messages) == expected
    assert {m.transport for m in messages} == {"ws"}
    assert {m.src.transport for m in messages} == {"ws"}
    assert classes["ws-handshake"] == 2
    assert diagnostics == []


@pytest.mark.shared
@pytest.mark.parametrize("size", [1, 7])
def test_real_websocket_fed_in_small_pieces(size):
    segments = list(tcp_segments(shared_path("captures/wireshark-notes/websocket-sip.pcapng")))
    whole, _, _, _ = run(segments)
    pieces, _, table, diagnostics = run(split_segments(segments, size))
    assert [m.payload for m in pieces] == [m.payload for m in whole]
    assert [m.frames for m in pieces] == [m.frames for m in whole]
    assert diagnostics == []


CLIENT, SERVER = ("198.51.100.7", 40000), ("198.51.100.8", 8080)
REQUEST = (
    b"GET /ws HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
)


def connection(client_stream: bytes, server_stream: bytes, size: int):
    """SYNs then both directions cut in ``size``-byte segments, interleaved."""
    segments = [
        (*CLIENT, *SERVER, 100, TCP_SYN, b"", FrameRef(1, 1)),
        (*SERVER, *CLIENT, 500, TCP_SYN | 0x10, b"", FrameRef(2, 2)),
    ]
    number = 3
    for (src, dst, isn, stream) in ((CLIENT, SERVER, 101, client_stream), (SERVER, CLIENT, 501, server_stream)):
        for offset in range(0, len(stream), size):
            segments.append((*src, *dst, isn + offset, 0x10, stream[offset : offset + size], FrameRef(number, number)))
            number += 1
    return segments


def test_crafted_masked_fragmented_sip_over_websocket():
    sample = rfc3665_messages()[:6]
    client = REQUEST
    for index, message in enumerate(sample):
        if index % 2:
            # One SIP message in three masked fragments with a ping between them.
            third = len(message) // 3
            client += ws_frame(message[:third], OPCODE_TEXT, fin=False, mask=b"\x11\x22\x33\x44")
            client += ws_frame(b"", OPCODE_PING, mask=b"\x01\x01\x01\x01")
            client += ws_frame(message[third : 2 * third], 0, fin=False, mask=b"\x55\x66\x77\x88")
            client += ws_frame(message[2 * third :], 0, fin=True, mask=b"\x99\xaa\xbb\xcc")
        else:
            client += ws_frame(message, OPCODE_BINARY, mask=b"\xde\xad\xbe\xef")
    server = RESPONSE + ws_frame(sample[0])
    for size in (1, 50, 100_000):
        messages, classes, table, diagnostics = run(connection(client, server, size))
        client_side = [m.payload for m in messages if m.src.port == CLIENT[1]]
        assert client_side == sample
        assert [m.payload for m in messages if m.src.port == SERVER[1]] == [sample[0]]
        assert diagnostics == []


def test_permessage_deflate_messages_are_inflated():
    sample = rfc3665_messages()[:3]
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    client = REQUEST
    for message in sample:  # RFC 7692 §7.2.1: compress, flush, strip the 00 00 ff ff tail
        compressed = deflater.compress(message) + deflater.flush(zlib.Z_SYNC_FLUSH)
        client += ws_frame(compressed[:-4], OPCODE_TEXT, rsv=4, mask=b"\x01\x02\x03\x04")
    messages, _, table, diagnostics = run(connection(client, RESPONSE, 200))
    assert [m.payload for m in messages] == sample
    assert diagnostics == []


def test_websocket_without_sip_subprotocol_is_ignored():
    request = REQUEST.replace(b"Sec-WebSocket-Protocol: sip\r\n", b"")
    response = RESPONSE.replace(b"Sec-WebSocket-Protocol: sip\r\n", b"")
    chat = ws_frame(b"hello chat", mask=b"abcd") * 20
    messages, classes, table, diagnostics = run(connection(request + chat, response, 64))
    assert messages == [] and diagnostics == []
    assert set(classes) == {"tcp-other"}


def test_non_sip_text_in_a_sip_websocket_is_diagnosed():
    client = REQUEST + ws_frame(b"{\"json\": true}", mask=b"abcd") + ws_frame(rfc3665_messages()[0], mask=b"abcd")
    messages, _, table, diagnostics = run(connection(client, RESPONSE, 1000))
    assert [m.payload for m in messages] == [rfc3665_messages()[0]]
    assert [d.reason for d in diagnostics] == ["malformed-sip"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_frames_or_malformed(data):
    try:
        frames, consumed = decode_ws_frames(data)
    except Malformed as error:
        assert error.reason == "malformed-websocket"
        return
    assert 0 <= consumed <= len(data)
    assert sum(frame.length for frame in frames) == consumed
    assembler = WsMessageAssembler()
    for frame in frames:
        try:
            assembler.add(frame)
        except Malformed as error:
            assert error.reason == "malformed-websocket"


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_any_bytes_after_a_sip_handshake_never_raise(data, size):
    messages, _, table, diagnostics = run(connection(REQUEST + data, RESPONSE + data, size))
    assert all(m.transport == "ws" for m in messages)
    assert {d.reason for d in diagnostics} <= {"malformed-websocket", "malformed-sip", "websocket-deflate-error",
                                                    "tcp-incomplete-message"}


def test_capture_that_starts_after_the_handshake():
    # No SYN, no HTTP Upgrade: the stream is recognised by a first frame that carries SIP.
    sample = rfc3665_messages()[:4]
    client = b"".join(ws_frame(message, mask=b"\x0f\x0e\x0d\x0c") for message in sample)
    segments = [
        (*CLIENT, *SERVER, 9000 + offset, 0x10, client[offset : offset + 1400], FrameRef(index + 1, index + 1))
        for index, offset in enumerate(range(0, len(client), 1400))
    ]
    messages, _, table, diagnostics = run(segments)
    assert [m.payload for m in messages] == sample
    assert {m.transport for m in messages} == {"ws"} and diagnostics == []
