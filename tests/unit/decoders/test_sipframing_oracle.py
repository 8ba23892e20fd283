"""``scan_sip_message`` against the straightforward line-by-line framing it replaced (the oracle below,
kept verbatim from before the in-place search and the one-regex Content-Length): same framing, or the
same error, on RFC 3665's messages, pipelined buffers and generated header blocks full of near misses."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from decoders.errors import Malformed
from decoders.sipframing import (
    LENIENCY_BARE_LF,
    LENIENCY_MISSING_CONTENT_LENGTH,
    MAX_BODY,
    MAX_HEADER_BLOCK,
    MAX_START_LINE,
    SipFraming,
    _check_start_line_prefix,
    _HEADER_END,
    _REQUEST_LINE,
    _STATUS_LINE,
    keepalive_length,
    scan_sip_message,
)
from test_sipframing import rfc3665_messages


def _oracle_content_length(header_block: bytes) -> int | None:
    found: int | None = None
    for line in header_block.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if not colon or name[:1] in (b" ", b"\t"):
            continue
        if name.strip().lower() not in (b"content-length", b"l"):
            continue
        text = value.strip()
        if not text.isdigit():
            raise Malformed(f"Content-Length {text[:40]!r} is not a number (RFC 3261 §20.14)", reason="malformed-sip")
        length = int(text)
        if found is not None and found != length:
            raise Malformed(f"two different Content-Length values ({found} and {length})", reason="malformed-sip")
        found = length
    return found


def _oracle_scan(buf, start: int = 0) -> SipFraming | None:
    keepalive = keepalive_length(buf, start)
    begin = start + keepalive
    end = len(buf)
    if begin >= end:
        return None
    first_lf = bytes(buf[begin : begin + MAX_START_LINE + 1]).find(b"\n")
    if first_lf < 0:
        _check_start_line_prefix(bytes(buf[begin : begin + 64]))
        if end - begin > MAX_START_LINE:
            raise Malformed(f"start line longer than {MAX_START_LINE} bytes", reason="malformed-sip")
        return None
    start_line = bytes(buf[begin : begin + first_lf + 1])
    if not (_REQUEST_LINE.fullmatch(start_line) or _STATUS_LINE.fullmatch(start_line)):
        raise Malformed(
            f"{start_line[:60]!r} is neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2)",
            reason="malformed-sip",
        )
    window = bytes(buf[begin : begin + MAX_HEADER_BLOCK])
    header_end = _HEADER_END.search(window, first_lf)
    if header_end is None:
        if end - begin > MAX_HEADER_BLOCK:
            raise Malformed(f"header block longer than {MAX_HEADER_BLOCK} bytes", reason="malformed-sip")
        return None
    header_length = header_end.end()
    header_block = window[:header_length]
    leniencies: list[str] = []
    if header_block.count(b"\n") != header_block.count(b"\r\n"):
        leniencies.append(LENIENCY_BARE_LF)
    body_length = _oracle_content_length(header_block)
    if body_length is None:
        leniencies.append(LENIENCY_MISSING_CONTENT_LENGTH)
        body_length = 0
    if body_length > MAX_BODY:
        raise Malformed(f"Content-Length {body_length} exceeds {MAX_BODY} bytes", reason="malformed-sip")
    return SipFraming(keepalive, header_length, body_length, tuple(leniencies))


def _outcome(scan, buf, start: int = 0):
    try:
        return scan(buf, start)
    except Malformed as error:
        return ("Malformed", error.reason, str(error))


def _same(buf, start: int = 0):
    expected = _outcome(_oracle_scan, buf, start)
    assert _outcome(scan_sip_message, buf, start) == expected
    assert _outcome(scan_sip_message, bytearray(buf), start) == expected
    assert _outcome(scan_sip_message, memoryview(buf), start) == expected
    return expected


def test_rfc3665_messages_alone_and_pipelined():
    messages = rfc3665_messages()
    stream = b"\r\n\r\n".join(messages)
    position, framed = 0, 0
    while position < len(stream):
        framing = _same(stream, position)
        assert isinstance(framing, SipFraming)
        position += framing.length
        framed += 1
    assert framed == len(messages) > 150
    for message in messages:
        for cut in (0, 1, len(message) // 2, len(message) - 1):
            _same(message[:cut])


_NAMES = [b"Content-Length", b"content-length", b"CONTENT-LENGTH", b"l", b"L", b" l", b"\tl", b"\x0bl", b"\rL",
          b"\x0c \tcontent-length", b"l \t", b"l\r", b"Content-Lengthx", b"xl", b"Contact", b"Via", b"", b"ll"]
_VALUES = [b"0", b"12", b" 12 ", b"\t7\r", b"007", b"1 2", b"-1", b"x", b"", b"99999999999", b"\xd9\xa3", b"12:3"]
_header = st.tuples(st.sampled_from(_NAMES), st.sampled_from([b":", b" :", b"", b"::"]), st.sampled_from(_VALUES),
                    st.sampled_from([b"\r\n", b"\n", b"\r\n "])).map(b"".join)


@settings(max_examples=3000, deadline=None)
@given(
    start_line=st.sampled_from([b"INVITE sip:b@x SIP/2.0\r\n", b"SIP/2.0 200 OK\n", b"BAD LINE\r\n", b"SIP/2.0 200", b""]),
    headers=st.lists(_header, max_size=6),
    end=st.sampled_from([b"\r\n", b"\n", b""]),
    body=st.binary(max_size=20),
    keepalive=st.sampled_from([b"", b"\r\n", b"\r\n\r\n", b"\n"]),
    prefix=st.binary(max_size=3),
)
def test_generated_header_blocks(start_line, headers, end, body, keepalive, prefix):
    buf = prefix + keepalive + start_line + b"".join(headers) + end + body
    _same(buf, len(prefix))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=10))
def test_random_bytes(buf, start):
    _same(buf, min(start, len(buf)))


def test_the_limits():
    _same(b"INVITE " + b"a" * (MAX_START_LINE + 10))
    _same(b"INVITE sip:b@x SIP/2.0\r\n" + b"X: y\r\n" * (MAX_HEADER_BLOCK // 6 + 1))
    _same(b"INVITE sip:b@x SIP/2.0\r\nl: %d\r\n\r\n" % (MAX_BODY + 1))
    assert re.search(rb"exceeds", repr(_same(b"INVITE sip:b@x SIP/2.0\r\nl: %d\r\n\r\n" % (MAX_BODY + 1))).encode())
