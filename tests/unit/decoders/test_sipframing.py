"""SIP framing on stream transports (decoders/sipframing.py), on the RFC 3665 messages."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decoders.errors import Malformed
from decoders.sipframing import (
    LENIENCY_BARE_LF,
    LENIENCY_MISSING_CONTENT_LENGTH,
    find_sip_start,
    frame_sip_message,
    keepalive_length,
    looks_like_sip_start,
    sip_message_length,
)
from conftest import shared_path
from rfc_messages import rfc3665_messages as rfc3665_flow_messages

@functools.cache
def rfc3665_messages() -> list[bytes]:
    """Every message of RFC 3665 as wire bytes (CRLF line ends), in document order."""
    return [message.data for message in rfc3665_flow_messages(shared_path("reference/rfc3665.txt"))]


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    found = rfc3665_messages()
    assert len(found) > 150, "RFC 3665 holds about 200 messages"
    return found


def split_stream(chunks) -> list[bytes]:
    """Frame a stream that arrives in ``chunks``, the way a TCP reader would."""
    buffer = bytearray()
    out = []
    for chunk in chunks:
        buffer += chunk
        while (length := sip_message_length(buffer)) is not None:
            out.append(bytes(buffer[:length]))
            del buffer[:length]
    assert not buffer
    return out


def test_each_rfc3665_message_frames_to_its_own_length(messages):
    with_bodies = 0
    lenient = []
    for message in messages:
        framing = frame_sip_message(message)
        assert framing is not None and framing.length == len(message)
        with_bodies += framing.body_length > 0
        if framing.leniencies:
            lenient.append((message.split(b"\r\n", 1)[0], framing.leniencies))
    assert with_bodies > 30
    # RFC 3665's Content-Length values are exact; one response (a UDP flow) has none at all.
    assert lenient == [(b"SIP/2.0 487 Request Terminated", (LENIENCY_MISSING_CONTENT_LENGTH,))]


def test_whole_stream_of_rfc3665_messages(messages):
    assert split_stream([b"".join(messages)]) == messages


def test_byte_by_byte(messages):
    sample = messages[:40]
    stream = b"".join(sample)
    assert split_stream(stream[i : i + 1] for i in range(len(stream))) == sample


def test_every_proper_prefix_needs_more_data(messages):
    message = next(m for m in messages if m.startswith(b"INVITE") and b"\r\n\r\nv=0" in m)
    for end in range(len(message)):
        assert sip_message_length(message[:end]) is None
    assert sip_message_length(message) == len(message)


def test_trailing_data_is_not_counted(messages):
    first, second = messages[0], messages[1]
    assert sip_message_length(first + second[:10]) == len(first)
    assert sip_message_length(first + second, len(first)) == len(second)


def test_compact_content_length():
    body = b"v=0\r\n"
    message = b"MESSAGE sip:a@b SIP/2.0\r\nl: 5\r\ni: x\r\n\r\n" + body
    assert sip_message_length(message + b"NEXT") == len(message)


def test_folded_header_and_lower_case_name():
    message = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h\r\n ;received=1.2.3.4\r\ncontent-length:  3\r\n\r\nabc"
    assert sip_message_length(message) == len(message)


def test_bare_lf_is_a_named_leniency():
    message = b"OPTIONS sip:a@b SIP/2.0\nContent-Length: 2\n\nok"
    leniencies: list[str] = []
    assert sip_message_length(message, 0, leniencies) == len(message)
    assert leniencies == [LENIENCY_BARE_LF]


def test_missing_content_length_means_empty_body_and_is_reported():
    message = b"BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n"
    framing = frame_sip_message(message + b"SIP/2.0 200 OK\r\n")
    assert framing is not None and framing.length == len(message)
    assert framing.body_length == 0
    assert framing.leniencies == (LENIENCY_MISSING_CONTENT_LENGTH,)


def test_keepalives_before_a_message_are_skipped_and_counted(messages):
    ping = b"\r\n\r\n"
    framing = frame_sip_message(ping + messages[0])
    assert framing is not None
    assert framing.keepalive == 4
    assert framing.length == 4 + len(messages[0])
    assert keepalive_length(ping + b"\r\n" + messages[0]) == 6
    assert sip_message_length(ping) is None  # keep-alives alone: no message yet


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS ClientHello
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b" INVITE sip:a@b SIP/2.0\r\n",
        b"INVITE sip:a@b HTTP/1.1\r\n\r\n",
        b"SIP/2.0 OK\r\n\r\n",
        b"\x00\x01\x02\x03",
    ],
)
def test_clearly_not_sip_raises_malformed(garbage):
    with pytest.raises(Malformed) as caught:
        sip_message_length(garbage)
    assert caught.value.reason == "malformed-sip"


@pytest.mark.parametrize(
    "header",
    [b"Content-Length: abc", b"Content-Length: -1", b"Content-Length: 3\r\nl: 4"],
)
def test_bad_content_length_raises(header):
    with pytest.raises(Malformed) as caught:
        sip_message_length(b"INFO sip:a@b SIP/2.0\r\n" + header + b"\r\n\r\nabcd")
    assert caught.value.reason == "malformed-sip"


def test_endless_header_block_is_bounded():
    endless = b"INFO sip:a@b SIP/2.0\r\n" + b"X-Pad: " + b"a" * 70_000
    with pytest.raises(Malformed):
        sip_message_length(endless)


def test_find_sip_start_resyncs_after_garbage(messages):
    garbage = b"\x00\xffgarbage line\r\nmore v=0 SIP/2.0 junk\r\n"
    stream = garbage + messages[3]
    assert find_sip_start(stream) == len(garbage)
    assert find_sip_start(b"no start line here\r\n") is None
    assert looks_like_sip_start(messages[3])
    assert not looks_like_sip_start(garbage)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=20))
def test_any_bytes_give_a_length_none_or_malformed(data, start):
    try:
        length = sip_message_length(data, start)
    except Malformed as error:
        assert error.reason == "malformed-sip"
        return
    assert length is None or 0 < length <= len(data) - start


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=50), st.data())
def test_random_chunking_gives_the_same_messages(chunk, data):
    sample = rfc3665_messages()[:12]
    stream = b"".join(sample)
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=chunk), min_size=1, max_size=20))
    chunks, position, turn = [], 0, 0
    while position < len(stream):
        size = sizes[turn % len(sizes)]
        chunks.append(stream[position : position + size])
        position += size
        turn += 1
    assert split_stream(chunks) == sample
