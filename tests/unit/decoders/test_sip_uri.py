"""decoders.sipuri: SIP URIs (RFC 3261 §19.1), name-addr (§20.10) and Via (§20.42)."""

from __future__ import annotations

import pytest

from decoders.errors import Malformed
from decoders.sip import NameAddr, parse_name_addr, parse_uri, parse_via


def test_sip_uri_components_from_rfc3261_19_1_3():
    uri = parse_uri("sip:alice:secretword@atlanta.com;transport=tcp")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == ("sip", "alice", "secretword", "atlanta.com", None)
    assert uri.params == {"transport": "tcp"}
    uri = parse_uri("sips:alice@atlanta.com?subject=project%20x&priority=urgent")
    assert uri.scheme == "sips" and uri.headers == {"subject": "project x", "priority": "urgent"}
    uri = parse_uri("sip:+1-212-555-1212:1234@gateway.com;user=phone")
    assert (uri.user, uri.password, uri.params) == ("+1-212-555-1212", "1234", {"user": "phone"})
    uri = parse_uri("sip:alice@192.0.2.4:5070")
    assert (uri.host, uri.port, uri.host_port()) == ("192.0.2.4", 5070, "192.0.2.4:5070")
    uri = parse_uri("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com")
    assert uri.user is None and uri.params == {"method": "REGISTER"} and uri.headers == {"to": "alice@atlanta.com"}
    uri = parse_uri("SIP:[2001:DB8::10]:5060;LR")
    assert (uri.scheme, uri.host, uri.port, uri.params) == ("sip", "[2001:db8::10]", 5060, {"lr": ""})
    assert str(uri) == "SIP:[2001:DB8::10]:5060;LR"


def test_tel_and_other_schemes():
    tel = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert (tel.scheme, tel.user, tel.host, tel.params) == ("tel", "+1-201-555-0123", "", {"phone-context": "example.com"})
    urn = parse_uri("urn:service:sos")
    assert (urn.scheme, urn.user, urn.opaque) == ("urn", None, "service:sos")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alice@example.com", "URI 'alice@example.com' has no scheme (RFC 3261 §19.1.1)"),
        ("sip:alice@", "SIP URI 'sip:alice@' has no valid host (RFC 3261 §25.1 hostport)"),
        ("sip:@example.com", "SIP URI 'sip:@example.com' has an empty user before '@' (RFC 3261 §25.1 userinfo)"),
        ("sip:a@example.com:99999", "SIP URI 'sip:a@example.com:99999' has a bad port '99999' (RFC 3261 §25.1 port)"),
        ("sip:a@[2001:db8::1", "SIP URI 'sip:a@[2001:db8::1' has an IPv6 reference without ']' (RFC 3261 §25.1 IPv6reference)"),
        ("sip:a b@example.com", "URI 'sip:a b@example.com' contains whitespace or <> (RFC 3261 §19.1.1, §25.1)"),
    ],
)  # fmt: skip
def test_bad_uris(text, message):
    with pytest.raises(Malformed) as caught:
        parse_uri(text)
    assert caught.value.reason == "malformed-sip" and str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Bob <sip:bob@biloxi.example.com>;tag=a6c85cf", NameAddr("Bob", "sip:bob@biloxi.example.com", {"tag": "a6c85cf"})),
        ('"Alice \\"A\\" Liddell" <sip:alice@example.com>', NameAddr('Alice "A" Liddell', "sip:alice@example.com", {})),
        ("sip:+12125551212@server.phone2net.com;tag=887s", NameAddr(None, "sip:+12125551212@server.phone2net.com", {"tag": "887s"})),
        ("<sip:a@b;lr>;Expires=60 ; q=0.5", NameAddr(None, "sip:a@b;lr", {"expires": "60", "q": "0.5"})),
        ("The  Operator   <sip:operator@cs.columbia.edu>", NameAddr("The Operator", "sip:operator@cs.columbia.edu", {})),
        ('"" <sip:x@y>;p="quoted; value"', NameAddr("", "sip:x@y", {"p": "quoted; value"})),
    ],
)  # fmt: skip
def test_name_addr(value, expected):
    assert parse_name_addr(value) == expected


def test_name_addr_tag_and_parsed_uri():
    addr = parse_name_addr("Bob <sips:bob@biloxi.example.com:5061>;tag=x")
    assert addr.tag == "x" and addr.parsed_uri().port == 5061


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"Mr. J. User <sip:j.user@example.com>', "display name has an unterminated quoted-string (RFC 3261 §25.1 quoted-string)"),
        ('"Joe" sip:joe@example.com', "quoted display name is not followed by <URI> (RFC 3261 §20.10 name-addr)"),
        ("Joe <sip:joe@example.com", "name-addr has '<' without '>' (RFC 3261 §20.10 name-addr)"),
        ("Bell, Alexander <sip:a@b>", "display name word 'Bell,' is not a token; it must be quoted (RFC 3261 §25.1 display-name)"),
        ("Joe sip:joe@example.com", "addr-spec 'Joe sip:joe@example.com' contains whitespace; a URI with a display name must be enclosed in <> (RFC 3261 §20.10)"),
        ("<>", "name-addr has an empty URI (RFC 3261 §20.10)"),
        ("<joe>", "name-addr URI 'joe' has no scheme (RFC 3261 §19.1.1)"),
        ("<sip:a@b> junk", "unexpected text 'junk' after <URI> (RFC 3261 §20.10)"),
        ("", "name-addr is empty (RFC 3261 §20.10)"),
    ],
)  # fmt: skip
def test_bad_name_addr(value, message):
    with pytest.raises(Malformed) as caught:
        parse_name_addr(value)
    assert str(caught.value) == message


def test_via_fields():
    via = parse_via("SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5067;ttl=16")
    assert (via.protocol, via.transport, via.host, via.port) == ("SIP/2.0", "UDP", "pc33.atlanta.com", 5066)
    assert (via.branch, via.received, via.rport) == ("z9hG4bK776asdhds", "192.0.2.1", 5067)
    assert via.params["ttl"] == "16" and via.sent_by() == "pc33.atlanta.com:5066"
    # RFC 3581: a bare ;rport asks for the port; it is in params but has no value yet.
    bare = parse_via("SIP / 2.0 / tcp [2001:db8::1] ; rport ; branch = z9hG4bKx")
    assert (bare.transport, bare.host, bare.port, bare.rport, bare.branch) == ("TCP", "[2001:db8::1]", None, None, "z9hG4bKx")
    assert bare.params["rport"] == ""
    ws = parse_via("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks")
    assert ws.transport == "WSS" and ws.sent_by() == "df7jal23ls0d.invalid"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("SIP/2.0 host", "Via 'SIP/2.0 host' has no sent-protocol (RFC 3261 §20.42)"),
        ("SIP/2.0/UDP", "Via 'SIP/2.0/UDP' has no sent-by (RFC 3261 §20.42)"),
        ("SIP/2.0/UDP ;branch=z9hG4bK1", "Via 'SIP/2.0/UDP ;branch=z9hG4bK1' has no sent-by (RFC 3261 §20.42)"),
        ("SIP/2.0/UDP host:port", "Via sent-by has a bad port 'port' (RFC 3261 §25.1 port)"),
        ("SIP/2.0/U{P host", "Via transport 'U{P' is not a token (RFC 3261 §20.42)"),
        ("SIP/2.0/UDP host;bra nch=1", "Via parameter name 'bra nch' is not a token (RFC 3261 §25.1 generic-param)"),
    ],
)
def test_bad_via(value, message):
    with pytest.raises(Malformed) as caught:
        parse_via(value)
    assert str(caught.value) == message


def test_remembered_uri_gives_its_notes_every_time():
    """``parse_uri`` remembers a parse with its notes: a second caller gets the same notes, and a
    URI that fails after a note still hands the note over before raising."""
    for _ in range(2):
        notes: list[str] = []
        uri = parse_uri("sip:alice@2001:db8::1", notes)
        assert uri.host == "[2001:db8::1]" and len(notes) == 1 and "IPv6" in notes[0]
    assert parse_uri("sip:alice@2001:db8::1") is parse_uri("sip:alice@2001:db8::1")
    for _ in range(2):
        notes = []
        with pytest.raises(Malformed):
            parse_uri("sip:2001:db8::1;=x", notes)
        assert len(notes) == 1 and "IPv6" in notes[0]
