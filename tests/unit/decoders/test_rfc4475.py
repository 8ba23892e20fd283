"""decoders.sip against the SIP torture tests of RFC 4475.

The bytes come from RFC 4475 Appendix A (the bit-exact archive); the first tests check that
``rfc_messages`` reads the same messages out of §3's rendered text (markup of §2.1-§2.3 expanded).
Valid messages (§3.1.1) must parse with the asserted field values; each invalid one (§3.1.2)
must yield a ``DecodeError`` or the one ``problems`` entry that names its defect.
"""

from __future__ import annotations

import functools

import pytest

from conftest import shared_path
from decoders.errors import Malformed
from decoders.multipart import parse_multipart
from decoders.sip import SipMessage, StatusLine, parse_sip, parse_uri
from rfc_messages import rfc4475_archive, rfc4475_messages


@functools.lru_cache(maxsize=1)
def _load(path) -> tuple[dict[str, tuple[str, bytes]], dict[str, bytes]]:
    return rfc4475_messages(path), rfc4475_archive(path)


def _rendered() -> dict[str, tuple[str, bytes]]:
    return _load(shared_path("reference/rfc4475.txt"))[0]


def _archive() -> dict[str, bytes]:
    return _load(shared_path("reference/rfc4475.txt"))[1]


def parse(name: str) -> SipMessage:
    return parse_sip(_archive()[name])


# --- the extraction helper against the bit-exact archive ---------------------------------------

# Where §3's rendering cannot carry the archive's bytes, and why.
RENDERING_LIMITS = {
    "dblreq": "the empty line between the two requests is not shown",
    "mpart01": "a page break falls on the empty line before the binary part",
    "trws": "the text says example.com where the archive has examle.com",
    "baddn": "the archive's message has no final empty line",
    "multi01": "the archive has an extra CRLF after the body",
    "mcl01": "the archive has an extra CRLF after the body",
}


def test_section3_has_every_archived_message():
    rendered, archive = _rendered(), _archive()
    assert len(rendered) == 49
    # test.dat is in the archive only; it is not one of §3's messages.
    assert set(archive) - set(rendered) == {"test"}
    assert rendered["wsinv"][0] == "3.1.1.1" and rendered["bigcode"][0] == "3.1.2.19"
    assert rendered["badbranch"][0] == "3.2.1" and rendered["inv2543"][0] == "3.4.1"


def test_section3_rendering_expands_to_the_archive_bytes():
    rendered, archive = _rendered(), _archive()
    for name, (_, data) in rendered.items():
        if name in RENDERING_LIMITS:
            squash = lambda b: b.replace(b"\r\n", b"").replace(b"examle.com", b"example.com")  # noqa: E731
            assert squash(data) == squash(archive[name]), name
        else:
            assert data == archive[name], name


def test_markup_is_expanded():
    rendered = _rendered()
    # <hex>E0A4A4...</hex>-style octets and <allOneLine> joins (RFC 4475 §2.1, §2.2)
    assert "но сто девяносто девять".encode() in rendered["unreason"][1]
    assert b"NUL:\\\x00" in rendered["intmeth"][1]
    # <repeat count=100>0</repeat> (RFC 4475 §2.3)
    assert b"Expires: 1" + b"0" * 100 + b"\r\n" in rendered["scalar02"][1]
    assert b"<allOneLine>" not in b"".join(data for _, data in rendered.values())


# --- §3.1.1 valid messages ---------------------------------------------------------------------


def test_3_1_1_1_wsinv_short_tortuous_invite():
    msg = parse("wsinv")
    assert msg.method == "INVITE"
    assert msg.request_uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert msg.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert msg.cseq == (9, "INVITE")  # "0009\r\n  INVITE": leading zeros, folded
    assert msg.max_forwards == 68  # "0068"
    assert msg.to_tag == "1918181833n" and msg.from_tag == "98asjd8"
    assert msg.from_display == 'J Rosenberg \\"'
    assert msg.to_uri == "sip:vivekg@chair-dnrc.example.com"
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.header("Subject") == "" and msg.header("s") == ""
    assert msg.header("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.header_values("UnknownHeaderWithUnusualValue") == [";;,,;;,;"]
    assert msg.header("route") == "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"
    (contact,) = msg.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": "", "q": "0.33"}
    assert msg.content_length == 150 == len(msg.body)
    assert [m.kind for m in msg.sdp.media] == ["audio", "video"]
    assert msg.sdp.media[1].codec_names() == ["LPC"]  # rtpmap wins over the static name (H261)
    assert msg.sdp.media[1].rtpmap == {31: ("LPC", 0, 1)}
    assert msg.sdp.problems == ("a=rtpmap:31 LPC lacks a clock rate (RFC 4566 §6)",)
    # An RFC 2543 branch is legal, merely worth noting.
    assert msg.problems == ("Via branch 390skdjuw lacks z9hG4bK (RFC 3261 §8.1.1.7)",)


def test_3_1_1_2_intmeth_wide_range_of_valid_characters():
    msg = parse("intmeth")
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.request_uri.startswith("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1")
    uri = parse_uri(msg.request_uri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.cseq == (139122385, "!interesting-Method0123456789_*+`.%indeed'~")
    assert msg.branch == "z9hG4bK-.!%66*_+`'~"
    assert msg.to_display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_display == "token1~` token2'+_ token3*%!.-"
    assert msg.from_tag == "_token~1'+`*%!-."
    assert msg.from_addr.params["fromparam''~+*_!.-%"] == "работающий"
    assert msg.problems == ()


def test_3_1_1_3_esc01_percent_escapes():
    msg = parse("esc01")
    uri = parse_uri(msg.request_uri)
    assert uri.user == "sips:user@example.com" and uri.host == "example.net"
    assert parse_uri(msg.from_uri).user == "I have spaces"
    assert parse_uri(msg.to_uri).user == "user"
    contact = msg.contacts[0].parsed_uri()
    assert contact.user == "caller" and contact.params == {"%6c%72": "", "n%61me": "v%61lue%25%34%31"}
    assert msg.problems == ()


def test_3_1_1_4_escnull_escaped_nulls():
    msg = parse("escnull")
    assert msg.method == "REGISTER"
    assert parse_uri(msg.to_uri).user == "null-\x00-null"
    assert [c.parsed_uri().user for c in msg.contacts] == ["\x00", "\x00\x00"]
    assert msg.problems == ()


def test_3_1_1_5_esc02_percent_not_an_escape():
    msg = parse("esc02")
    assert msg.method == "RE%47IST%45R"  # not REGISTER: % is no escape in a method
    assert msg.cseq == (29344, "RE%47IST%45R")
    assert msg.to_display == msg.from_display == "%Z%45"
    assert msg.branch == "z9hG4bK209%fzsnel234"
    # "C%6Fntact" is an unknown header, not Contact.
    assert [c.uri for c in msg.contacts] == ["sip:alias1@host1.example.com", "sip:alias3@host3.example.com"]
    assert msg.header("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert msg.problems == ()


def test_3_1_1_6_lwsdisp_no_lws_between_display_name_and_laquot():
    msg = parse("lwsdisp")
    assert msg.from_display == "caller" and msg.from_uri == "sip:caller@example.com"
    assert msg.from_tag == "323" and msg.problems == ()


def test_3_1_1_7_longreq_long_values():
    msg = parse("longreq")
    assert msg.call_id.startswith("longreq.one") and msg.call_id.endswith("longcallid")
    assert len(msg.vias) == 34
    assert msg.vias[-1].branch.startswith("verylong") and msg.vias[-1].branch.endswith("branchvalue")
    assert msg.to_tag.startswith("unique-to-tag") if msg.to_tag else True
    assert len(msg.header("Unknown-LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong"
                          "LongLongLongLong-Name")) == 306  # fmt: skip
    assert msg.content_length == 150 == len(msg.body)
    assert msg.sdp is not None


def test_3_1_1_8_dblreq_extra_trailing_octets():
    msg = parse("dblreq")
    assert msg.method == "REGISTER" and msg.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert msg.content_length == 0 and msg.body == b""
    assert b"INVITE" not in msg.raw
    assert msg.problems == ("450 bytes after the Content-Length 0 body are not part of the message (RFC 3261 §18.3)",)


def test_3_1_1_9_semiuri_semicolons_in_user_part():
    msg = parse("semiuri")
    uri = parse_uri(msg.request_uri)
    assert uri.user == "user;par=u@example.net" and uri.host == "example.com" and uri.params == {}
    assert msg.problems == ()


def test_3_1_1_10_transports_varied_and_unknown():
    msg = parse("transports")
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert msg.call_id == "transports.kijh4akdnaqjkwendsasfdj"  # "Call-ID:  x": SWS dropped
    assert msg.problems == ()


def test_3_1_1_11_mpart01_multipart_mime():
    msg = parse("mpart01")
    assert msg.method == "MESSAGE"
    assert msg.content_type == "multipart/mixed;boundary=7a9cbec02ceef655"
    assert msg.media_type == "multipart/mixed"
    assert msg.content_length == 553 == len(msg.body)
    parts = parse_multipart(msg.body, msg.content_type)
    assert [p.content_type for p in parts] == ["text/plain", "application/octet-stream"]
    assert parts[0].body == b"Hello"
    assert parts[1].body.startswith(b"\x30\x82\x01\x52") and len(parts[1].body) == 342
    assert msg.sdp is None and msg.problems == ()


def test_3_1_1_12_unreason_unusual_reason_phrase():
    msg = parse("unreason")
    assert msg.start == StatusLine("SIP/2.0", 200, "= 2**3 * 5**2 но сто девяносто девять - простое")
    assert msg.cseq == (35, "INVITE") and msg.method == "INVITE"
    assert msg.sdp is not None and msg.problems == ()


def test_3_1_1_13_noreason_empty_reason_phrase():
    msg = parse("noreason")
    assert (msg.status, msg.reason) == (100, "")
    assert msg.problems == ()


# --- §3.1.2 invalid messages: the precise defect ------------------------------------------------

INVALID_PROBLEMS = {
    # 3.1.2.1 extraneous header field separators
    "badinv01": "Via 'SIP/2.0/UDP 192.0.2.15;;,;,,' has an empty parameter (RFC 3261 §20.42 via-params)",
    # 3.1.2.2 Content-Length larger than message
    "clerr": "Content-Length 9999 but body has 154 bytes (RFC 3261 §18.3)",
    # 3.1.2.3 negative Content-Length
    "ncl": "Content-Length '-999' is not a non-negative integer (RFC 3261 §20.14)",
    # 3.1.2.4 request scalar fields with overlarge values
    "scalar02": "CSeq number 36893488147419103232 exceeds 2**31-1 (RFC 3261 §8.1.1.5)",
    # 3.1.2.5 response scalar fields with overlarge values
    "scalarlg": "CSeq number 9292394834772304023312 exceeds 2**31-1 (RFC 3261 §8.1.1.5)",
    # 3.1.2.6 unterminated quoted string in display name
    "quotbal": "To: display name has an unterminated quoted-string (RFC 3261 §25.1 quoted-string)",
    # 3.1.2.11 escaped headers in SIP Request-URI
    "escruri": "Request-URI has URI headers ('?'), which a Request-URI must not carry (RFC 3261 §19.1.1 table 1)",
    # 3.1.2.12 invalid time zone in Date header field
    "baddate": "Date 'Fri, 01 Jan 2010 16:00:00 EST' is not in GMT (RFC 3261 §20.17)",
    # 3.1.2.13 failure to enclose name-addr URI in <>
    "regbadct": "Contact: addr-spec 'sip:user@example.com?Route=%3Csip:sip.example.com%3E' with '?' or ',' "
    "must be enclosed in <> (RFC 3261 §20.10)",
    # 3.1.2.14 spaces within addr-spec
    "badaspec": "To: whitespace inside <> around the URI (RFC 3261 §25.1 LAQUOT, RAQUOT)",
    # 3.1.2.15 non-token characters in display name
    "baddn": "From: display name word 'Bell,' is not a token; it must be quoted (RFC 3261 §25.1 display-name)",
    # 3.1.2.16 unknown protocol version
    "badvers": "SIP-Version SIP/7.0 is not SIP/2.0; a server answers 505 (RFC 3261 §21.5.6)",
    # 3.1.2.17 start line and CSeq method mismatch
    "mismatch01": "CSeq method INVITE does not match the Request-Line method OPTIONS (RFC 3261 §8.1.1.5)",
    # 3.1.2.18 unknown method with CSeq method mismatch
    "mismatch02": "CSeq method INVITE does not match the Request-Line method NEWMETHOD (RFC 3261 §8.1.1.5)",
}

INVALID_ERRORS = {
    # 3.1.2.7 <> enclosing Request-URI
    "ltgtruri": "Request-URI is enclosed in <> (RFC 3261 §7.1, §25.1 Request-URI)",
    # 3.1.2.8 malformed SIP Request-URI (embedded LWS)
    "lwsruri": "Request-URI contains whitespace (RFC 3261 §7.1, §19.1.1)",
    # 3.1.2.9 multiple SP separating Request-Line elements
    "lwsstart": "Request-Line elements are separated by more than one SP (RFC 3261 §7.1)",
    # 3.1.2.10 SP characters at end of Request-Line
    "trws": "Request-Line has SP after the SIP-Version (RFC 3261 §7.1)",
    # 3.1.2.19 overlarge response code
    "bigcode": "Status-Code '4294967301' is not 3 digits (RFC 3261 §7.2)",
    # Appendix A's extra test.dat: "INVITE sip:alan@jasomi.com" with no version
    "test": "Request-Line has no SIP-Version (RFC 3261 §7.1)",
}


def test_every_invalid_message_is_covered():
    rendered = _rendered()
    invalid = {name for name, (section, _) in rendered.items() if section.startswith("3.1.2.")}
    assert invalid == set(INVALID_PROBLEMS) | set(INVALID_ERRORS) - {"test"}
    assert len(invalid) == 19


@pytest.mark.parametrize("name", sorted(INVALID_PROBLEMS))
def test_invalid_message_names_its_defect(name):
    msg = parse(name)
    assert INVALID_PROBLEMS[name] in msg.problems


@pytest.mark.parametrize("name", sorted(INVALID_ERRORS))
def test_invalid_start_line_is_a_decode_error(name):
    with pytest.raises(Malformed) as caught:
        parse(name)
    assert caught.value.reason == "malformed-sip"
    assert str(caught.value) == INVALID_ERRORS[name]


def test_invalid_details():
    badinv01 = parse("badinv01")
    assert "Contact has an empty parameter (RFC 3261 §25.1 generic-param)" in badinv01.problems
    assert [v.host for v in badinv01.vias] == ["192.0.2.15"]  # the empty elements add no Via
    scalar02 = parse("scalar02")
    assert scalar02.cseq is None and scalar02.max_forwards is None
    assert "Max-Forwards 300 exceeds 255 (RFC 3261 §20.22)" in scalar02.problems
    assert "Contact expires=280297596632815 is not delta-seconds below 2**32 (RFC 3261 §20.19)" in scalar02.problems
    assert any(p.startswith("Expires '1000") for p in scalar02.problems)
    scalarlg = parse("scalarlg")
    assert "Warning code '1812' is not 3 digits (RFC 3261 §20.43)" in scalarlg.problems
    assert scalarlg.status == 503 and scalarlg.top_via.received == "192.0.2.129"
    clerr = parse("clerr")
    assert clerr.content_length == 9999 and len(clerr.body) == 154 and clerr.sdp is not None
    ncl = parse("ncl")
    assert ncl.content_length is None
    quotbal = parse("quotbal")
    assert quotbal.to_addr is None and quotbal.from_tag == "93334"
    baddn = parse("baddn")
    assert any(p.startswith("To: display name word 'Watson,'") for p in baddn.problems)
    assert "message ends without the empty line after the headers (RFC 3261 §7)" in baddn.problems
    assert parse("badvers").start.version == "SIP/7.0"
    assert parse("mismatch02").method == "NEWMETHOD"


# --- §3.2 transaction layer, §3.3 application layer, §3.4 backward compatibility ----------------


def test_3_2_1_badbranch_missing_transaction_identifier():
    msg = parse("badbranch")
    assert msg.branch == "z9hG4bK"
    assert msg.problems == ("Via branch is only the magic cookie z9hG4bK (RFC 3261 §8.1.1.7)",)


def test_3_3_1_insuf_missing_required_headers():
    msg = parse("insuf")
    assert msg.call_id is None and msg.from_tag is None and msg.to_uri is None
    assert msg.cseq == (193942, "INVITE")
    assert msg.problems == ("missing required header(s) To, From, Call-ID, Max-Forwards (RFC 3261 §8.1.1)",)


def test_3_3_2_and_3_3_3_unknown_and_atypical_request_uri_schemes():
    unkscm = parse_uri(parse("unkscm").request_uri)
    assert (unkscm.scheme, unkscm.opaque) == ("nobodyknowsthisscheme", "totallyopaquecontent")
    novelsc = parse_uri(parse("novelsc").request_uri)
    assert (novelsc.scheme, novelsc.opaque) == ("soap.beep", "//192.0.2.103:3002")
    assert parse("unkscm").problems == parse("novelsc").problems == ()


def test_3_3_4_unksm2_unknown_schemes_in_headers():
    msg = parse("unksm2")
    assert msg.to_uri == "isbn:2983792873" and msg.from_uri == "http://www.example.com"
    assert msg.from_tag == "3234233" and [c.uri for c in msg.contacts] == ["name:John_Smith"]
    assert msg.problems == ()


def test_3_3_5_bext01_require_lists():
    msg = parse("bext01")
    assert msg.header_values("Require") == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert msg.header_values("Proxy-Require") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def test_3_3_6_invut_unknown_content_type():
    msg = parse("invut")
    assert msg.content_type == "application/unknownformat" and msg.sdp is None
    assert msg.body.startswith(b"<audio>") and len(msg.body) == 40 and msg.problems == ()


def test_3_3_7_regaut01_unknown_authorization_scheme():
    msg = parse("regaut01")
    assert msg.header_values("Authorization") == ["NoOneKnowsThisScheme opaque-data=here"]
    assert msg.content_length == 0  # "Content-Length:0" without SWS


def test_3_3_8_multi01_multiple_values_in_single_value_fields():
    msg = parse("multi01")
    for name in ("Call-ID", "CSeq", "From", "To", "Max-Forwards"):
        assert f"{name} appears 2 times with different values (RFC 3261 §7.3.1)" in msg.problems


def test_3_3_9_mcl01_multiple_content_length_values():
    msg = parse("mcl01")
    assert msg.problems[0].startswith("Content-Length appears 2 times with different values 13, 5")


def test_3_3_10_bcast_broadcast_via():
    msg = parse("bcast")
    assert [v.host for v in msg.vias] == ["192.0.2.198", "255.255.255.255"]
    assert msg.status == 200 and msg.problems == ()


def test_3_3_11_zeromf_max_forwards_zero():
    msg = parse("zeromf")
    assert msg.max_forwards == 0 and msg.problems == ()


def test_3_3_12_and_3_3_13_contact_and_uri_parameters():
    header_param = parse("cparam01").contacts[0]
    assert header_param.uri == "sip:+19725552222@gw1.example.net" and header_param.params == {"unknownparam": ""}
    uri_param = parse("cparam02").contacts[0]
    assert uri_param.uri == "sip:+19725552222@gw1.example.net;unknownparam" and uri_param.params == {}
    assert uri_param.parsed_uri().params == {"unknownparam": ""}


def test_3_3_14_regescrt_escaped_header_in_contact_uri():
    msg = parse("regescrt")
    uri = msg.contacts[0].parsed_uri()
    assert uri.headers == {"Route": "<sip:sip.example.com>"} and msg.problems == ()


def test_3_3_15_sdp01_unacceptable_accept():
    msg = parse("sdp01")
    assert msg.header("Accept") == "text/nobodyKnowsThis"
    assert msg.sdp is not None and msg.problems == ()


def test_3_4_1_inv2543_rfc2543_syntax():
    msg = parse("inv2543")
    assert msg.branch is None and msg.from_tag is None and msg.content_length is None
    assert msg.sdp.media[0].port == 49217
    assert msg.problems == (
        "no Content-Length; the body is the rest of the datagram (RFC 3261 §18.3)",
        "From has no tag (RFC 3261 §8.1.1.3)",
        "missing required header(s) Max-Forwards (RFC 3261 §8.1.1)",
    )


def test_every_valid_message_parses_with_only_expected_notes():
    rendered = _rendered()
    valid = [name for name, (section, _) in rendered.items() if section.startswith("3.1.1.")]
    assert len(valid) == 13
    noted = {"wsinv", "longreq", "dblreq"}  # RFC 2543 branches; a second request in the datagram
    for name in valid:
        msg = parse(name)
        assert (msg.problems != ()) == (name in noted), name
