"""decoders.multipart: RFC 2046 §5.1 bodies as SIP carries them (SDP + ISUP, RFC 4475 mpart01)."""

from __future__ import annotations

import pytest

from conftest import shared_path
from decoders.errors import Malformed
from decoders.multipart import boundary_of, find_part, parse_multipart
from decoders.sip import parse_sip
from rfc_messages import rfc4475_archive

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
# RFC 3204 §3 style: SDP and an ISUP IAM in one INVITE.
SDP_ISUP = (
    b"--unique-boundary-1\r\n"
    b"Content-Type: application/sdp\r\n"
    b"\r\n" + SDP + b"\r\n"
    b"--unique-boundary-1\r\n"
    b"Content-Type: application/ISUP; version=nxv3;\r\n"
    b" base=etsi121\r\n"
    b"Content-Disposition: signal; handling=optional\r\n"
    b"\r\n"
    b"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\r\n"
    b"--unique-boundary-1--\r\n"
)


def test_boundary_quoted_or_token():
    assert boundary_of('multipart/mixed; boundary="unique-boundary-1"') == "unique-boundary-1"
    assert boundary_of("multipart/mixed;boundary=7a9cbec02ceef655") == "7a9cbec02ceef655"
    assert boundary_of('multipart/alternative; charset=x; BOUNDARY="a b:c"') == "a b:c"
    with pytest.raises(Malformed, match=r"has no boundary parameter \(RFC 2046 §5.1.1\)"):
        boundary_of("multipart/mixed")


def test_sdp_and_isup_parts_with_headers_and_folding():
    parts = parse_multipart(SDP_ISUP, 'multipart/mixed; boundary="unique-boundary-1"')
    assert [p.content_type for p in parts] == ["application/sdp", "application/isup"]
    assert parts[0].body == SDP  # the CRLF before the delimiter is the delimiter's
    assert parts[1].header("content-type") == "application/ISUP; version=nxv3; base=etsi121"
    assert parts[1].header("Content-Disposition") == "signal; handling=optional"
    assert parts[1].body.startswith(b"\x01\x00\x49") and parts[1].body.endswith(b"\x00\x03")
    assert find_part(parts, "application/sdp") is parts[0]
    assert find_part(parts, "text/plain") is None


def test_preamble_epilogue_and_part_without_headers():
    body = (
        b"This is the preamble.\r\n--b1\r\n\r\nplain text part\r\n--b1\r\n"
        b"Content-Type: application/sdp\r\n\r\n" + SDP + b"\r\n--b1--\r\nepilogue"
    )
    parts = parse_multipart(body, "multipart/alternative; boundary=b1")
    assert parts[0].headers == () and parts[0].content_type == "text/plain"
    assert parts[0].body == b"plain text part"
    assert parts[1].body == SDP


def test_a_line_that_merely_starts_with_the_delimiter_is_content():
    body = b"--b1\r\nContent-Type: text/plain\r\n\r\nline one\r\n--b1x is not a delimiter\r\n--b1--\r\n"
    (part,) = parse_multipart(body, "multipart/mixed; boundary=b1")
    assert part.body == b"line one\r\n--b1x is not a delimiter"


def test_nested_multipart_sdp_is_found():
    inner = b"--in\r\nContent-Type: application/sdp\r\n\r\n" + SDP + b"\r\n--in--"
    outer = (
        b"--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n" + inner
        + b"\r\n--out\r\nContent-Type: application/pidf+xml\r\n\r\n<presence/>\r\n--out--\r\n"
    )  # fmt: skip
    parts = parse_multipart(outer, "multipart/mixed; boundary=out")
    assert [p.content_type for p in parts] == ["multipart/alternative", "application/pidf+xml"]
    assert find_part(parts, "application/sdp").body == SDP


def test_bare_lf_bodies():
    body = SDP_ISUP.replace(b"\r\n", b"\n")
    parts = parse_multipart(body, "multipart/mixed; boundary=unique-boundary-1")
    assert parts[0].body == SDP.replace(b"\r\n", b"\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"no delimiter here", "multipart body never contains its boundary delimiter (RFC 2046 §5.1.1)"),
        (b"--b1\r\nContent-Type: text/plain\r\n\r\nunterminated", "multipart body has no close-delimiter (RFC 2046 §5.1.1)"),
        (b"--b1", "multipart body ends inside a boundary line (RFC 2046 §5.1.1)"),
        (b"--b1\r\nno colon header\r\n\r\nx\r\n--b1--", "multipart part header 'no colon header' has no colon (RFC 2045 §3)"),
    ],
)  # fmt: skip
def test_broken_multipart_raises(body, message):
    with pytest.raises(Malformed) as caught:
        parse_multipart(body, "multipart/mixed; boundary=b1")
    assert caught.value.reason == "malformed-multipart"
    assert str(caught.value) == message


def test_rfc4475_mpart01_parts():
    msg = parse_sip(rfc4475_archive(shared_path("reference/rfc4475.txt"))["mpart01"])
    parts = parse_multipart(msg.body, msg.content_type)
    assert len(parts) == 2
    assert parts[0].headers == (("Content-Type", "text/plain"), ("Content-Transfer-Encoding", "binary"))
    assert parts[0].body == b"Hello"
    # The CMS signature of RFC 4475 §3.1.1.11 is a DER SEQUENCE of 0x152 bytes + 4 header bytes.
    assert parts[1].body[:4] == b"\x30\x82\x01\x52" and len(parts[1].body) == 0x152 + 4


def test_broken_multipart_in_sip_is_a_problem():
    body = b"--b1\r\nContent-Type: application/sdp\r\n\r\n" + SDP  # no close-delimiter
    data = (
        b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"
        b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Type: multipart/mixed;boundary=b1\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    msg = parse_sip(data)
    assert msg.sdp is None
    assert msg.problems == ("multipart body: multipart body has no close-delimiter (RFC 2046 §5.1.1)",)
