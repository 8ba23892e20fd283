"""decoders.sip on RFC 3665 messages and on the named leniencies of DESIGN.md §4."""

from __future__ import annotations

import functools
import re

import pytest

from conftest import shared_path
from decoders.errors import DecodeError, Malformed
from decoders.records import Endpoint, FrameRef
from decoders.sip import (
    RequestLine,
    SipMessage,
    StatusLine,
    canonical_name,
    looks_like_sip,
    parse_sip,
    parse_uri,
    split_list,
)
from rfc_messages import RfcMessage, rfc3261_messages, rfc3665_messages

# RFC 3665 §3.1 F1, byte for byte as the RFC prints it.
INVITE_3665_F1 = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 151\r\n"
    b"\r\n"
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.101\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)

RINGING_3665_F2 = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
    b" ;received=192.0.2.101\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:bob@client.biloxi.example.com;transport=tcp>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def _options(*headers: str, body: bytes = b"", start: str = "OPTIONS sip:bob@example.com SIP/2.0") -> bytes:
    base = [
        start,
        "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds",
        "Max-Forwards: 70",
        "To: <sip:bob@example.com>",
        "From: <sip:alice@example.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710@pc33.example.com",
        "CSeq: 63104 OPTIONS",
    ]
    return ("\r\n".join(base + list(headers)) + "\r\n\r\n").encode() + body


# --- the API on RFC 3665 §3.1 -------------------------------------------------------------


def test_invite_fields_from_rfc3665_f1():
    msg = parse_sip(INVITE_3665_F1)
    assert isinstance(msg, SipMessage)
    assert msg.start == RequestLine("INVITE", "sip:bob@biloxi.example.com", "SIP/2.0")
    assert msg.is_request and msg.method == "INVITE"
    assert msg.status is None and msg.reason is None
    assert msg.request_uri == "sip:bob@biloxi.example.com"
    assert msg.call_id == "3848276298220188511@atlanta.example.com"
    assert msg.cseq == (1, "INVITE")
    assert msg.from_tag == "9fxced76sl" and msg.to_tag is None
    assert msg.from_uri == "sip:alice@atlanta.example.com"
    assert msg.to_uri == "sip:bob@biloxi.example.com"
    assert (msg.from_display, msg.to_display) == ("Alice", "Bob")
    assert msg.branch == "z9hG4bK74bf9"
    assert msg.top_via.transport == "TCP"
    assert (msg.top_via.host, msg.top_via.port) == ("client.atlanta.example.com", 5060)
    assert msg.max_forwards == 70
    assert msg.content_length == 151 == len(msg.body)
    assert msg.content_type == msg.media_type == "application/sdp"
    assert msg.contact == "<sip:alice@client.atlanta.example.com;transport=tcp>"
    assert msg.contacts[0].params == {} and msg.contacts[0].uri.endswith(";transport=tcp")
    assert msg.raw == INVITE_3665_F1
    assert msg.problems == ()
    assert msg.sdp is not None
    assert msg.sdp.media[0].port == 49172 and msg.sdp.media[0].connection == "192.0.2.101"
    assert msg.summary() == "INVITE"
    assert [name for name, _ in msg.headers][:3] == ["Via", "Max-Forwards", "From"]


def test_response_fields_and_folded_via():
    msg = parse_sip(RINGING_3665_F2)
    assert msg.start == StatusLine("SIP/2.0", 180, "Ringing")
    assert not msg.is_request
    assert (msg.status, msg.reason, msg.method) == (180, "Ringing", "INVITE")
    assert msg.request_uri is None and msg.max_forwards is None
    assert msg.to_tag == "8321234356"
    # The folded ";received=" line is unfolded into the Via value (RFC 3261 §7.3.1).
    assert msg.header("Via") == (
        "SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9 ;received=192.0.2.101"
    )
    assert msg.top_via.received == "192.0.2.101"
    assert msg.sdp is None and msg.body == b""
    assert msg.summary() == "180 Ringing"


def test_with_context_returns_a_copy_with_capture_facts():
    msg = parse_sip(RINGING_3665_F2)
    assert (msg.src, msg.dst, msg.frames, msg.ts_ns) == (None, None, (), 0)
    src, dst = Endpoint("192.0.2.201", 5060, "tcp"), Endpoint("192.0.2.101", 5060, "tcp")
    frames = (FrameRef(7, 1_000, 24), FrameRef(8, 2_000, 120))
    placed = msg.with_context(src, dst, frames, 2_000)
    assert (placed.src, placed.dst, placed.frames, placed.ts_ns) == (src, dst, frames, 2_000)
    assert placed.call_id == msg.call_id and placed.raw is msg.raw
    assert msg.src is None  # the original is untouched (frozen)
    with pytest.raises(AttributeError):
        msg.ts_ns = 5  # type: ignore[misc]


# --- headers: case, compact forms, lists ------------------------------------------------------


@pytest.mark.parametrize(
    ("compact", "full"),
    [("i", "call-id"), ("f", "from"), ("t", "to"), ("v", "via"), ("m", "contact"), ("l", "content-length"),
     ("c", "content-type"), ("k", "supported"), ("s", "subject"), ("e", "content-encoding"), ("o", "event"),
     ("u", "allow-events"), ("r", "refer-to"), ("b", "referred-by"), ("x", "session-expires"),
     ("y", "identity"), ("a", "accept-contact"), ("j", "reject-contact"), ("d", "request-disposition")],
)  # fmt: skip
def test_compact_forms_expand(compact, full):
    assert canonical_name(compact) == full
    assert canonical_name(compact.upper()) == full


def test_compact_and_mixed_case_headers_are_found_by_any_name():
    data = (
        b"BYE sip:bob@192.0.2.4 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds10\r\n"
        b"MAX-FORWARDS: 70\r\n"
        b"f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        b"t: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
        b"i: a84b4c76e66710\r\n"
        b"cSeQ: 231 BYE\r\n"
        b"l: 0\r\n\r\n"
    )
    msg = parse_sip(data)
    assert msg.header("Call-ID") == msg.header("i") == msg.header("CALL-ID") == "a84b4c76e66710"
    assert msg.call_id == "a84b4c76e66710" and msg.cseq == (231, "BYE")
    assert msg.to_tag == "a6c85cf" and msg.branch == "z9hG4bKnashds10"
    assert msg.content_length == 0 and msg.max_forwards == 70
    assert [name for name, _ in msg.headers] == ["v", "MAX-FORWARDS", "f", "t", "i", "cSeQ", "l"]
    assert msg.header("Subject") is None and msg.header_values("Route") == []


def test_header_values_splits_lists_but_never_credentials_or_dates():
    msg = parse_sip(
        _options(
            'Contact: "Mr. Watson, Esq." <sip:watson@worcester.example.com>;q=0.7, <sip:w@x.example.com,x>',
            "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
            "Route: <sip:p3.example.com;lr>",
            'Authorization: Digest username="bob", realm="atlanta.example.com", nonce="ea9c8e88"',
            'WWW-Authenticate: Digest realm="a, b", qop="auth,auth-int"',
            "Date: Sat, 13 Nov 2010 23:29:00 GMT",
            "X-Unknown: a, b",
            "Allow: INVITE,ACK , BYE",
        )
    )
    assert msg.header_values("contact") == [
        '"Mr. Watson, Esq." <sip:watson@worcester.example.com>;q=0.7',
        "<sip:w@x.example.com,x>",
    ]
    assert msg.header_values("Route") == [
        "<sip:p1.example.com;lr>",
        "<sip:p2.example.com;lr>",
        "<sip:p3.example.com;lr>",
    ]
    assert len(msg.header_values("Authorization")) == 1
    assert msg.header_values("WWW-Authenticate") == ['Digest realm="a, b", qop="auth,auth-int"']
    assert msg.header_values("Date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]
    assert msg.header_values("X-Unknown") == ["a, b"]  # unknown grammar: one opaque value
    assert msg.header_values("allow") == ["INVITE", "ACK", "BYE"]
    assert [c.display for c in msg.contacts] == ["Mr. Watson, Esq.", None]
    assert msg.contacts[0].params == {"q": "0.7"}
    assert msg.problems == ()


def test_split_list_respects_quotes_escapes_and_angles():
    assert split_list('"a\\", b" <sip:x>, <sip:y;p=1,2>,, z') == ['"a\\", b" <sip:x>', "<sip:y;p=1,2>", "z"]
    assert split_list(" , ", keep_empty=True) == ["", ""]


def test_multiple_vias_in_one_line_and_on_separate_lines():
    msg = parse_sip(
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP ss2.biloxi.example.com:5060;branch=z9hG4bK721e4.1, "
        b"SIP/2.0/UDP ss1.atlanta.example.com;branch=z9hG4bK2d4790.1;received=192.0.2.111\r\n"
        b"Via: SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bK74bf9;rport=5066;received=2001:db8::9\r\n"
        b"From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
        b"To: <sip:bob@biloxi.example.com>;tag=314159\r\n"
        b"Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
        b"CSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    assert [(v.host, v.port, v.branch) for v in msg.vias] == [
        ("ss2.biloxi.example.com", 5060, "z9hG4bK721e4.1"),
        ("ss1.atlanta.example.com", None, "z9hG4bK2d4790.1"),
        ("[2001:db8::9]", 5062, "z9hG4bK74bf9"),
    ]
    assert msg.vias[2].rport == 5066 and msg.vias[1].received == "192.0.2.111"
    assert msg.branch == "z9hG4bK721e4.1"
    assert len(msg.header_values("v")) == 3


# --- body framing ----------------------------------------------------------------------------


def test_extra_bytes_after_content_length_are_not_body():
    msg = parse_sip(INVITE_3665_F1 + b"\r\n\r\nGARBAGE")
    assert len(msg.body) == 151 and msg.raw == INVITE_3665_F1
    assert msg.problems == (
        "11 bytes after the Content-Length 151 body are not part of the message (RFC 3261 §18.3)",
    )


def test_short_body_is_kept_and_recorded():
    msg = parse_sip(INVITE_3665_F1[:-10])
    assert len(msg.body) == 141 and msg.content_length == 151
    assert "Content-Length 151 but body has 141 bytes (RFC 3261 §18.3)" in msg.problems
    assert msg.sdp is not None  # the SDP that is there is still read


def test_leniency_missing_content_length_takes_the_rest_of_the_datagram():
    data = INVITE_3665_F1.replace(b"Content-Length: 151\r\n", b"")
    msg = parse_sip(data)
    assert msg.content_length is None and len(msg.body) == 151
    assert msg.problems == ("no Content-Length; the body is the rest of the datagram (RFC 3261 §18.3)",)


def test_non_numeric_content_length_is_a_problem_not_a_crash():
    msg = parse_sip(_options("Content-Length: five"))
    assert msg.content_length is None
    assert "Content-Length 'five' is not a non-negative integer (RFC 3261 §20.14)" in msg.problems


# --- named leniencies -------------------------------------------------------------------------


def test_leniency_bare_lf_line_ends():
    msg = parse_sip(INVITE_3665_F1.replace(b"\r\n", b"\n").replace(b"Content-Length: 151", b"Content-Length: 144"))
    assert msg.call_id == "3848276298220188511@atlanta.example.com"
    assert msg.content_length == 144 == len(msg.body)
    assert msg.problems == ("lines end in bare LF instead of CRLF (RFC 3261 §7)",)
    assert msg.sdp is not None and msg.sdp.media[0].formats == ("0",)


def test_leniency_lower_case_method_is_kept_as_written():
    msg = parse_sip(_options(start="options sip:bob@example.com SIP/2.0").replace(b"63104 OPTIONS", b"63104 options"))
    assert msg.method == "options"
    assert msg.problems == ("method 'options' is not upper case; methods are case-sensitive (RFC 3261 §7.1)",)


def test_leniency_status_line_without_sp_before_empty_reason():
    msg = parse_sip(RINGING_3665_F2.replace(b"180 Ringing", b"180"))
    assert (msg.status, msg.reason) == (180, "")
    assert msg.problems == ("Status-Line lacks the SP before its (empty) Reason-Phrase (RFC 3261 §7.2)",)


def test_leniency_ipv6_without_brackets():
    # Seen from real phones (heplify's sip_ipv6_udp.pcap): eight groups, then ":port".
    data = _options(start="OPTIONS sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060 SIP/2.0").replace(
        b"Via: SIP/2.0/UDP pc33.example.com;", b"Via: SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0;"
    )
    msg = parse_sip(data)
    assert (msg.top_via.host, msg.top_via.port) == ("[fe80::21a:a0ff:fe07:32e0]", None)
    assert parse_uri_host_port(msg.request_uri) == ("[fec0::216:d3ff:fe0d:22c]", 5060)
    assert msg.problems == (
        "SIP URI 'sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060': IPv6 address is not in brackets "
        "(RFC 3261 §25.1 IPv6reference)",
        "Via sent-by: IPv6 address is not in brackets (RFC 3261 §25.1 IPv6reference)",
    )


def parse_uri_host_port(text: str) -> tuple[str, int | None]:
    uri = parse_uri(text)
    return uri.host, uri.port


def test_leniency_defect_inside_the_request_uri_is_a_problem():
    # metasploit's spoofed INVITE: "sip:@127.0.0.1" has an empty user part.
    msg = parse_sip(_options(start="OPTIONS sip:@127.0.0.1 SIP/2.0"))
    assert msg.request_uri == "sip:@127.0.0.1"
    assert msg.problems == (
        "Request-URI: SIP URI 'sip:@127.0.0.1' has an empty user before '@' (RFC 3261 §25.1 userinfo)",
    )


def test_multipart_body_provides_the_sdp():
    sdp = (
        b"v=0\r\no=- 1 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    body = (
        b"--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + sdp
        + b"\r\n--unique-boundary-1\r\nContent-Type: application/ISUP;version=nxv3\r\n"
        + b"Content-Disposition: signal; handling=optional\r\n\r\n\x01\x00\x49\x00\x00\x03"
        + b"\r\n--unique-boundary-1--\r\n"
    )  # fmt: skip
    data = _options(
        'Content-Type: multipart/mixed; boundary="unique-boundary-1"',
        f"Content-Length: {len(body)}",
        body=body,
    )
    msg = parse_sip(data)
    assert msg.sdp is not None
    assert msg.sdp.media[0].codec_names() == ["PCMA", "telephone-event"]
    assert msg.problems == ()


def test_malformed_sdp_body_is_a_problem_and_no_sdp():
    body = b"this is not sdp\r\n"
    msg = parse_sip(_options("Content-Type: application/sdp", f"Content-Length: {len(body)}", body=body))
    assert msg.sdp is None
    assert msg.problems == ("SDP body: body does not start with a v= line, so it is not SDP (RFC 4566 §5)",)


# --- start line errors: precise, citing RFC 3261 ---------------------------------------------


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("INVITE sip:bob@example.com", "Request-Line has no SIP-Version (RFC 3261 §7.1)"),
        ("INVITE SIP/2.0", "Request-Line has no Request-URI (RFC 3261 §7.1)"),
        ("INVITE sip:bob@example.com HTTP/1.1", "Request-Line has no SIP-Version, found 'HTTP/1.1' (RFC 3261 §7.1)"),
        ("INV{TE sip:bob@example.com SIP/2.0", "Method 'INV{TE' is not a token (RFC 3261 §25.1)"),
        ("INVITE bob SIP/2.0", "Request-URI 'bob' has no scheme (RFC 3261 §7.1, §19.1.1)"),
        ("SIP/2.0 20 OK", "Status-Code '20' is not 3 digits (RFC 3261 §7.2)"),
        ("SIP/2.0 099 Odd", "Status-Code 99 is below 100 (RFC 3261 §21)"),
        ("SIP/2.0", "Status-Line has no Status-Code (RFC 3261 §7.2)"),
        ("SIP/two 200 OK", "Status-Line has a bad SIP-Version 'SIP/two' (RFC 3261 §7.2)"),
        ("Via: SIP/2.0/UDP x", "Method 'Via:' is not a token (RFC 3261 §25.1)"),
    ],
)
def test_start_line_errors_are_precise(start, message):
    with pytest.raises(Malformed) as caught:
        parse_sip(_options(start=start))
    assert caught.value.reason == "malformed-sip"
    assert str(caught.value) == message


def test_empty_input_is_a_decode_error():
    with pytest.raises(DecodeError, match=r"^message is empty \(RFC 3261 §7\)$"):
        parse_sip(b"")
    with pytest.raises(DecodeError, match=r"^message is only CRLF keep-alives"):
        parse_sip(b"\r\n\r\n")


def test_leading_empty_lines_are_skipped_and_reported():
    msg = parse_sip(b"\r\n" + RINGING_3665_F2)
    assert msg.status == 180 and msg.raw == RINGING_3665_F2
    assert msg.problems == ("empty lines before the start line were ignored (RFC 3261 §7.5)",)


def test_header_line_without_colon_is_reported():
    msg = parse_sip(_options("this line has no colon"))
    assert msg.problems == ("header line 'this line has no colon' has no colon; ignored (RFC 3261 §7.3.1)",)


def test_non_utf8_header_is_replaced_and_reported():
    msg = parse_sip(_options("Subject: caf\xe9").replace("caf\xe9".encode(), b"caf\xe9"))
    assert msg.header("subject") == "caf\ufffd"
    assert msg.problems == (
        "header bytes are not valid UTF-8 (RFC 3261 §7.3.1); shown with replacement characters",
    )


def test_looks_like_sip_lets_broken_sip_through_to_a_precise_error():
    # "Claims to be SIP" is enough: parse_sip then names the defect, so the capture's
    # diagnostics count a malformed-sip frame instead of an unknown UDP datagram.
    data = b"INVITE  sip:bob@example.com  SIP/2.0\r\n\r\n"
    assert looks_like_sip(data)
    with pytest.raises(Malformed, match="separated by more than one SP"):
        parse_sip(data)


# --- looks_like_sip --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        INVITE_3665_F1,
        RINGING_3665_F2,
        b"SIP/2.0 100 Trying\r\n",
        b"ACK sip:bob@192.0.2.4 SIP/2.0\r\n",
        b"!interesting-Method0123456789_*+`.%indeed'~ sip:a@b SIP/2.0\r\n",
        b"OPTIONS sip:a@b SIP/2.0\n",
    ],
)
def test_looks_like_sip_accepts_start_lines(payload):
    assert looks_like_sip(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\r\n\r\n",  # keep-alive (RFC 5626 §3.5.1)
        b"\x80\x00\x12\x34" + bytes(168),  # RTP, PCMU
        b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12),  # STUN binding request
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"SIP/2.0 2xx OK\r\n",
        b"INVITE sip:bob@example.com SIP/3.0\r\n",
        b"INVITE\r\nsip:bob@example.com SIP/2.0\r\n",
        b"\xc3\xa9t\xc3\xa9 sip:bob@example.com SIP/2.0\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40),  # TLS ClientHello
    ],
)
def test_looks_like_sip_rejects_other_traffic(payload):
    assert not looks_like_sip(payload)


# --- every RFC 3665 message ------------------------------------------------------------------


def _rfc3665() -> list[RfcMessage]:
    return _rfc3665_cached(shared_path("reference/rfc3665.txt"))


@functools.lru_cache(maxsize=1)
def _rfc3665_cached(path) -> list[RfcMessage]:
    return rfc3665_messages(path)


# Two defects are in RFC 3665's own text: §2.5 F1 has no Max-Forwards, and in §3.10 F4 the
# second Record-Route line lost its leading space (so it is not a continuation line).
RFC3665_TEXT_DEFECTS = {
    "2.5-F1": ("missing required header(s) Max-Forwards (RFC 3261 §8.1.1)",),
    "3.10-F4": ("header name '<sip' is not a token; ignored (RFC 3261 §7.3.1)",),
}


def test_rfc3665_has_all_its_messages():
    messages = _rfc3665()
    assert len(messages) == 177
    # §2 has five registration flows, §3 eleven session flows.
    expected = {f"2.{n}" for n in range(1, 6)} | {f"3.{n}" for n in range(1, 12)}
    assert {m.section for m in messages} == expected
    assert [m.label for m in messages if m.section == "3.1"] == [
        "F1 INVITE Alice -> Bob", "F2 180 Ringing Bob -> Alice", "F3 200 OK Bob -> Alice",
        "F4 ACK Alice -> Bob", "F5 BYE Bob -> Alice", "F6 200 OK Alice -> Bob",
    ]  # fmt: skip
    # The extracted F1 of §3.1 is byte-identical to the hand-typed copy above.
    assert messages[[m.section for m in messages].index("3.1")].data == INVITE_3665_F1


def test_every_rfc3665_message_parses_consistently():
    for item in _rfc3665():
        msg = parse_sip(item.data)
        label_word = item.label.split()[1]
        assert msg.problems == RFC3665_TEXT_DEFECTS.get(item.ident, ()), item.ident
        if msg.is_request:
            assert msg.method == label_word, item.ident
            assert msg.cseq[1] == msg.method, item.ident
        else:
            # §2.5 F2 is labelled "F2 Unauthorized", without its code.
            assert label_word in (str(msg.status), msg.reason), item.ident
        assert msg.call_id and msg.from_tag and msg.vias, item.ident
        assert msg.branch.startswith("z9hG4bK"), item.ident
        # §3.8 F19 (a 487) is printed without Content-Length; it has no body, so nothing is lost.
        assert msg.content_length == (None if item.ident == "3.8-F19" else len(msg.body)), item.ident
        assert msg.raw == item.data, item.ident
        if msg.content_type == "application/sdp":
            assert msg.sdp is not None and msg.sdp.media, item.ident
            assert msg.sdp.media[0].kind == "audio", item.ident
        else:
            assert msg.sdp is None and msg.body == b"", item.ident
        if msg.status is not None and msg.status > 100 and msg.cseq[1] == "INVITE":
            assert msg.to_tag, item.ident  # every non-100 response to INVITE carries a To tag


def test_rfc3665_cancel_keeps_the_invite_cseq_number_and_branch():
    messages = [parse_sip(m.data) for m in _rfc3665()]
    invites = {(m.call_id, m.branch): m for m in messages if m.method == "INVITE" and m.is_request}
    cancels = [m for m in messages if m.is_request and m.method == "CANCEL"]
    assert len(cancels) == 3  # §3.8 F9, F11 and F13
    for cancel in cancels:
        # RFC 3261 §9.1: same Call-ID, CSeq number and top Via branch as the INVITE it cancels.
        invite = invites[(cancel.call_id, cancel.branch)]
        assert cancel.cseq == (invite.cseq[0], "CANCEL")
        if cancel.branch == "z9hG4bK2d4790.1":
            # RFC 3665 §3.8 F11 prints Alice's URI as Request-URI, against RFC 3261 §9.1.
            assert cancel.request_uri == "sip:alice@atlanta.example.com"
        else:
            assert cancel.request_uri == invite.request_uri


def test_rfc3665_digest_credentials_are_one_value():
    auth = [parse_sip(m.data) for m in _rfc3665() if b"Proxy-Authorization" in m.data]
    assert len(auth) >= 10
    for msg in auth:
        values = msg.header_values("Proxy-Authorization")
        # One value per header line (§3.3 F11 carries two), never split on its commas.
        assert len(values) == msg.raw.count(b"\nProxy-Authorization:")
        for value in values:
            assert value.startswith("Digest username=")
            assert re.search(r'realm="[^"]+".*nonce="[^"]+".*response="[0-9a-f]+"$', value)


# --- RFC 3261 §24 examples --------------------------------------------------------------------


def test_rfc3261_section24_examples():
    messages = rfc3261_messages(shared_path("reference/rfc3261.txt"))
    assert [m.ident for m in messages] == ["24.1-F1", "24.1-F2"] + [f"24.2-F{n}" for n in range(1, 15)]
    parsed = {m.ident: parse_sip(m.data) for m in messages}
    register = parsed["24.1-F1"]
    assert (register.method, register.cseq, register.header("Expires")) == ("REGISTER", (1826, "REGISTER"), "7200")
    assert register.contacts[0].uri == "sip:bob@192.0.2.4" and register.problems == ()
    invite, ok = parsed["24.2-F1"], parsed["24.2-F9"]
    assert invite.call_id == ok.call_id == parsed["24.2-F13"].call_id == "a84b4c76e66710"
    assert ok.to_tag == "a6c85cf" and ok.from_tag == invite.from_tag == "1928301774"
    # Each proxy strips its own Via from the 200 OK on the way back (RFC 3261 §16.7 step 3).
    assert [v.host for v in ok.vias] == ["server10.biloxi.com", "bigbox3.site3.atlanta.com", "pc33.atlanta.com"]
    assert [v.host for v in parsed["24.2-F10"].vias] == ["bigbox3.site3.atlanta.com", "pc33.atlanta.com"]
    assert [v.host for v in parsed["24.2-F11"].vias] == ["pc33.atlanta.com"]
    assert parsed["24.2-F5"].max_forwards == 68
    assert parsed["24.2-F7"].contact == "<sip:bob@192.0.2.4>" and parsed["24.2-F7"].to_tag == "a6c85cf"
    # §24.2 prints "(Alice's SDP not shown)" in place of the body its Content-Length counts.
    for ident in ("24.2-F1", "24.2-F3", "24.2-F5", "24.2-F9", "24.2-F10", "24.2-F11"):
        msg = parsed[ident]
        assert msg.problems == (
            f"Content-Length {msg.content_length} but body has {len(msg.body)} bytes (RFC 3261 §18.3)",
            "SDP body: body does not start with a v= line, so it is not SDP (RFC 4566 §5)",
        )
        assert msg.body.endswith(b"SDP not shown)\r\n") and msg.sdp is None
    others = set(parsed) - {"24.2-F1", "24.2-F3", "24.2-F5", "24.2-F9", "24.2-F10", "24.2-F11"}
    assert all(parsed[ident].problems == () for ident in others)


def test_sip_version_literal_is_case_insensitive_but_other_versions_are_reported():
    # "SIP" in SIP-Version is an ABNF literal, so case-insensitive (RFC 3261 §25); 3.0 is not 2.0.
    assert parse_sip(RINGING_3665_F2.replace(b"SIP/2.0 180", b"sip/2.0 180")).problems == ()
    msg = parse_sip(RINGING_3665_F2.replace(b"SIP/2.0 180", b"SIP/3.0 180"))
    assert msg.problems == ("SIP-Version SIP/3.0 is not SIP/2.0 (RFC 3261 §7.2)",)
