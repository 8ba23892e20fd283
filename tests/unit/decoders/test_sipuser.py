"""``decoders.sipuser``'s fast answers equal the full parse's (``parse_uri`` / ``parse_name_addr``)
on every From, To and Request-URI of the samples, the corpus and the RFC 4475 torture messages,
and on hand-made edge cases; the fast forms really answer most real values (else the test
could pass by always falling back)."""

from __future__ import annotations

import re

import pytest

from decoders import sipuser
from decoders.errors import DecodeError
from decoders.sip import parse_sip
from decoders.sipuri import parse_name_addr, parse_uri
from decoders.sipuser import name_addr_uri, uri_user, uri_user_host
from ladder.calls.grouping import _parsed_party, _party
from rfc_messages import rfc4475_archive
from tests.conftest import SAMPLES, shared_path
from tests.unit.capture.test_sipaccel import _messages  # every SIP message of some captures


def full_user(text: str) -> str | None:
    try:
        return parse_uri(text).user or None
    except DecodeError:
        return None


def full_uri(value: str) -> str | None:
    try:
        return parse_name_addr(value).uri
    except DecodeError:
        return None


_HEADER_LINE = re.compile(rb"^(from|f|to|t)[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)


def _values(data: bytes) -> tuple[list[str], list[str]]:
    """(name-addr values, URIs) of one message: From/To and the Request-URI as parsed, and as
    cut from the raw lines (so a message the parser refuses still gives its odd values)."""
    addrs, uris = [], []
    head = data.split(b"\r\n\r\n", 1)[0]
    for match in _HEADER_LINE.finditer(head):
        addrs.append(match.group(2).rstrip(b"\r").decode("utf-8", "replace"))
    request_line = head.split(b"\n", 1)[0].split(b" ")
    if len(request_line) >= 3:
        uris.append(request_line[1].decode("utf-8", "replace"))
    try:
        message = parse_sip(data)
    except DecodeError:
        return addrs, uris
    addrs += [v for v in (message.header("From"), message.header("To")) if v]
    uris += [u for u in (message.request_uri, message.from_uri, message.to_uri) if u]
    return addrs, uris


def _assert_agree(addrs: list[str], uris: list[str]) -> tuple[int, int]:
    """Fast equals full for each; returns how many the fast forms answered (addrs, uris)."""
    fast_addrs = fast_uris = 0
    for value in addrs:
        uri = name_addr_uri(value)
        assert uri == full_uri(value), value
        fast_addrs += bool(sipuser._PLAIN_NAME_ADDR.match(value) or sipuser._PLAIN_ADDR_SPEC.match(value))
        if uri is not None:
            uris.append(uri)
    for text in uris:
        assert uri_user(text) == full_user(text), text
        fast_uris += bool(sipuser._PLAIN_SIP_URI.match(text))
        user_host = uri_user_host(text)
        assert user_host is None or user_host == (full_user(text), parse_uri(text).host), text
        assert (user_host is not None) == bool(sipuser._PLAIN_SIP_URI.match(text)), text
        assert _party(text) == _parsed_party(text), text
    return fast_addrs, fast_uris


def test_samples_and_corpus_values():
    corpus_root = shared_path("captures")
    paths = sorted(SAMPLES.glob("*.pcap")) + sorted(
        p for p in corpus_root.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap", ".gz"))
    addrs: list[str] = []
    uris: list[str] = []
    for data in _messages(paths):
        a, u = _values(data)
        addrs += a
        uris += u
    addrs, uris = sorted(set(addrs)), sorted(set(uris))
    fast_addrs, fast_uris = _assert_agree(addrs, uris)
    assert len(addrs) > 500 and len(uris) > 500
    # Real values are mostly plain: the fast forms answer most of them.
    assert fast_addrs > len(addrs) * 0.8 and fast_uris > len(uris) * 0.6


def test_rfc4475_messages():
    archive = rfc4475_archive(shared_path("reference/rfc4475.txt"))
    addrs: list[str] = []
    uris: list[str] = []
    for data in archive.values():
        a, u = _values(data)
        addrs += a
        uris += u
    _assert_agree(addrs, uris)
    # The escaped user of esc01 and the odd display names take the full parse, and agree.
    assert uri_user("sip:sips%3Auser%40example.com@example.net") == "sips:user@example.com"


EDGE_URIS = [
    "sip:alice@atlanta.com", "sips:alice@atlanta.com:5061;transport=tls", "SIP:alice@atlanta.com",
    "sip:Alice@AtLanta.COM:5060;Transport=UDP", "sip:10000@10.20.0.1",
    "sip:+15551234@gw.example;user=phone", "sip:alice@atlanta.com?subject=project&priority=urgent",
    "sip:alice:secret@atlanta.com", "sip:al%20ice@atlanta.com", "sip:@atlanta.com", "sip:atlanta.com",
    "sip:alice@", "sip:alice@host:", "sip:alice@host:65535", "sip:alice@host:65536", "sip:alice@host:00080",
    "sip:alice@host:5060x", "sip:alice@[2001:db8::1]:5060", "sip:alice@2001:db8::1", "sip:alice@host;;lr",
    "sip:alice@host;lr;maddr=10.0.0.1", "sip:alice@host;x=\"q\"", "sip:alice@host;x y", "sip:a;b@host",
    "sip:host;x=a@b", "sip:alice@ho st", "sip:alice@host\r", " sip:alice@host \t", "sip:alice@host<",
    "tel:+1-201-555-0123", "tel:+1555;phone-context=x", "tel:;x", "mailto:a@b", "urn:service:sos",
    "sip:alice@b@c", "sip:ali\u00e9ce@host", "sip:alice@h\u00f6st", "sip:alice@host:\u0665\u0660",
    "", "sip:", "sips:+@host", "sip:a@host;%=1", "sip:a@host;=1", "sip:a@host?", "sip:a?b@host",
]
EDGE_ADDRS = [
    "<sip:alice@atlanta.com>;tag=1928301774", "Alice <sip:alice@atlanta.com>;tag=1",
    "\"Alice Liddell\" <sip:alice@atlanta.com>;tag=1", "\"A\\\"B\" <sip:a@b>", "\"unterminated <sip:a@b>",
    "sip:alice@atlanta.com;tag=1", "sip:alice@atlanta.com", "Alice<sip:alice@atlanta.com>",
    "<sip:alice@atlanta.com>x", "< sip:alice@atlanta.com >", "<sip:alice@atlanta.com", "<alice>",
    "Al:ice <sip:a@b>", "sip:a@b;x=<y", "sip:a@b;tag=\"q\"", "<sip:a@b>;tag=\"q;r\"", "<sip:a@b> ; tag = 1 ;;",
    "<sip:a@b>;tag=x y", "<sip:a@b>;t ag=1", "sip:a@b?x=1", "sip:a@b,c", "sip:a b@c", "<tel:+1555>;tag=9",
    "", "   ", "<>", "<:>", "\"\" <sip:a@b>", "\"x\"sip:a@b", "A  B\t<sip:a@b>", "<sip:a@b;lr>;tag=1",
    "<sip:a@b?h=<x>>", "sip:a@b;tag=1\r", "<sip:a@b>;tag=\u00e9", "Al\u00e9 <sip:a@b>", "alice",
]


@pytest.mark.parametrize("text", EDGE_URIS)
def test_edge_uris(text):
    assert uri_user(text) == full_user(text)
    user_host = uri_user_host(text)
    assert user_host is None or user_host == (full_user(text), parse_uri(text).host)
    assert _party(text) == _parsed_party(text)


@pytest.mark.parametrize("value", EDGE_ADDRS)
def test_edge_name_addrs(value):
    assert name_addr_uri(value) == full_uri(value)
    uri = full_uri(value)
    if uri is not None:
        assert uri_user(uri) == full_user(uri)


def test_plain_forms_answer_without_the_full_parse(monkeypatch):
    """The common forms never reach ``parse_uri``/``parse_name_addr``."""
    def refuse(*_args):
        raise AssertionError("the full parse was called")
    monkeypatch.setattr(sipuser, "parse_uri", refuse)
    monkeypatch.setattr(sipuser, "parse_name_addr", refuse)
    assert uri_user("sip:+15551234@10.0.0.1:5060;user=phone") == "+15551234"
    assert uri_user("sip:service@10.0.0.2") == "service"
    assert uri_user("sip:10.0.0.2:5060") is None
    assert name_addr_uri("\"sipp\" <sip:sipp@127.0.0.1:5061>;tag=42SIPpTag001") == "sip:sipp@127.0.0.1:5061"
    assert name_addr_uri("sut <sip:service@127.0.0.1:5060>") == "sip:service@127.0.0.1:5060"
    assert name_addr_uri("sip:bob@biloxi.com;tag=8321234356") == "sip:bob@biloxi.com"
