"""Hostile input: any bytes give a record or a DecodeError, never another exception.

Random bytes rarely get past the start line, so most cases mutate real messages (RFC 3665 and
RFC 4475 Appendix A) by cutting, splicing and overwriting byte runs.
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared_path
from decoders.errors import DecodeError
from decoders.multipart import parse_multipart
from decoders.sdp import SdpSession, parse_sdp
from decoders.sip import SipMessage, looks_like_sip, parse_name_addr, parse_sip, parse_uri, parse_via
from decoders.sipuri import NameAddr, SipUri, Via
from rfc_messages import rfc3665_messages, rfc4475_archive

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple[bytes, ...]:
    messages = [m.data for m in rfc3665_messages(shared_path("reference/rfc3665.txt"))]
    messages += list(rfc4475_archive(shared_path("reference/rfc4475.txt")).values())
    return tuple(messages)


# SIP punctuation and grammar pieces make mutations land on interesting boundaries.
_PIECES = [b"\r\n", b"\n", b" ", b"\t", b":", b";", b",", b"<", b">", b'"', b"\\", b"=", b"@", b"%",
           b"\r\n ", b"\r\n\r\n", b"SIP/2.0", b"Content-Length: ", b"l: 99999\r\n", b"v=0\r\n",
           b"m=audio 0/0 RTP/AVP\r\n", b"boundary=", b"--", b"\x00", b"\xff\xfe", b"\xc3",
           b"9" * 5000, "\u00b2".encode(), "\u0663".encode()]  # fmt: skip


@st.composite
def mutated_messages(draw) -> bytes:
    index = draw(st.integers(min_value=0, max_value=10_000))
    data = bytearray(_corpus()[index % len(_corpus())])
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        pos = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["cut", "insert", "overwrite", "truncate"]))
        if action == "cut":
            del data[pos : pos + draw(st.integers(min_value=1, max_value=40))]
        elif action == "insert":
            piece = draw(st.one_of(st.sampled_from(_PIECES), st.binary(min_size=1, max_size=12)))
            data[pos:pos] = piece
        elif action == "overwrite":
            piece = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(piece)] = piece
        else:
            del data[pos:]
    return bytes(data)


def _parse_or_error(data: bytes) -> SipMessage | None:
    try:
        msg = parse_sip(data)
    except DecodeError as error:
        assert error.reason == "malformed-sip"
        assert str(error)
        return None
    assert isinstance(msg, SipMessage)
    return msg


def test_huge_and_non_ascii_numbers_are_problems_not_crashes():
    # int() refuses digit runs over 4300 digits; str.isdigit() accepts "²", which int() rejects.
    big = "9" * 5000
    data = (
        "OPTIONS sip:a@b:5060 SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;rport=" + big + ";branch=z9hG4bK1\r\n"
        "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: " + big + " OPTIONS\r\n"
        "Max-Forwards: 7\u00b2\r\nExpires: " + big + "\r\nContent-Length: " + big + "\r\n\r\n"
    ).encode()
    msg = parse_sip(data)
    assert msg.cseq is None and msg.max_forwards is None and msg.content_length is None
    assert msg.top_via.rport is None
    assert "Max-Forwards '7\u00b2' is not an integer (RFC 3261 §20.22)" in msg.problems
    assert any(p.startswith("Content-Length 9999") and "absurdly large" in p for p in msg.problems)
    for body in (f"v=0\r\nm=audio {big} RTP/AVP 0\r\n", "v=0\r\nm=audio 4\u00b2 RTP/AVP 0\r\n",
                 f"v=0\r\no=- 1 {big} IN IP4 h\r\n"):  # fmt: skip
        try:
            parse_sdp(body.encode())
        except DecodeError as error:
            assert error.reason == "malformed-sdp"
        else:
            raise AssertionError(f"accepted {body[:30]!r}")
    media = parse_sdp(f"v=0\r\nc=IN IP4 h\r\nm=audio 4 RTP/AVP 0 {big}\r\na=rtpmap:{big} x/8000\r\n".encode())
    assert media.media[0].payload_types() == (0,)


@SETTINGS
@given(st.binary(max_size=600))
def test_any_bytes_give_a_message_or_a_decode_error(data):
    assert isinstance(looks_like_sip(data), bool)
    _parse_or_error(data)


@SETTINGS
@given(mutated_messages())
def test_mutated_messages_give_a_message_or_a_decode_error(data):
    msg = _parse_or_error(data)
    if msg is None:
        return
    # Whatever survived is internally consistent.
    assert data.lstrip(b"\r\n").startswith(msg.raw)
    assert msg.raw.endswith(msg.body)
    if msg.content_length is not None:
        assert len(msg.body) <= msg.content_length
    assert all(isinstance(p, str) and p for p in msg.problems)
    msg.header_values("Via"), msg.header_values("contact"), msg.summary()
    assert msg.sdp is None or isinstance(msg.sdp, SdpSession)


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_give_sdp_or_a_decode_error(data):
    for body in (data, b"v=0\r\n" + data):
        try:
            session = parse_sdp(body)
        except DecodeError as error:
            assert error.reason == "malformed-sdp"
            continue
        for media in session.media:
            media.codec_names()
            assert 0 <= media.port <= 65535


@SETTINGS
@given(st.binary(max_size=300), st.text(max_size=60))
def test_any_multipart_body_gives_parts_or_a_decode_error(body, boundary):
    for content_type in (f"multipart/mixed; boundary={boundary}", 'multipart/mixed;boundary="b1"'):
        candidates = (body, b"--b1\r\nContent-Type: application/sdp\r\n\r\n" + body + b"\r\n--b1--\r\n")
        for candidate in candidates:
            try:
                parts = parse_multipart(candidate, content_type)
            except DecodeError as error:
                assert error.reason == "malformed-multipart"
                continue
            for part in parts:
                assert isinstance(part.body, bytes) and part.content_type


@SETTINGS
@given(st.text(max_size=120))
def test_any_text_gives_uri_name_addr_via_or_a_decode_error(text):
    for parser, kind in ((parse_uri, SipUri), (parse_name_addr, NameAddr), (parse_via, Via)):
        for candidate in (text, "sip:" + text, "SIP/2.0/UDP " + text, '"a" <sip:' + text + ">"):
            try:
                assert isinstance(parser(candidate), kind)
            except DecodeError as error:
                assert error.reason == "malformed-sip"


_VIA_PIECES = st.sampled_from(["SIP/2.0/UDP ", "SIP/2.0/tcp ", "host", "Host.Example.com", "10.0.0.1", ":5060",
                               ":99999", ":0", ";branch=z9hG4bK1", " ;received=1.2.3.4", ";rport", ";rport=5",
                               ";x=\"q;v\"", " ", ";", "[::1]", "a-b", "-a", "\t", "=", ","])  # fmt: skip


@SETTINGS
@given(st.lists(_VIA_PIECES, min_size=1, max_size=8).map("".join))
def test_via_fast_path_agrees_with_the_general_grammar(value):
    # A leading space keeps a value off the common-shape fast path, so both paths must agree.
    try:
        fast = parse_via(value)
    except DecodeError:
        fast = None
    try:
        general = parse_via(" " + value)
    except DecodeError:
        general = None
    if fast is not None:
        assert fast == general
