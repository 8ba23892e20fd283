"""``parse_sip``'s memos (header lines, start lines, CSeq, Max-Forwards, Content-Length, Via and
Contact values, From/To, SDP rtpmap values): a message parsed after many others, its values
remembered from them, equals the same message parsed with every memo empty, field for field and
problem for problem. The messages are the RFC 4475 torture tests and the RFC 3665 flows (values
shared across requests and responses of other methods) and crafted pairs whose only difference is
an input a memo key must include (the request method a CSeq is compared with, say)."""

from __future__ import annotations

import dataclasses

import pytest

import decoders.sdp as sdp
import decoders.sip as sip
from conftest import shared_path
from decoders.errors import DecodeError
from decoders.sip import SipMessage, parse_sip
from rfc_messages import rfc3665_messages, rfc4475_archive


def _forget() -> None:
    """Every memo of the parser emptied."""
    for module in (sip, sdp):
        for name, value in vars(module).items():
            if isinstance(value, dict) and name.lower().endswith("_memo"):
                value.clear()
    sip._HEADER_NAMES.clear()
    sip._HEADER_KEYS.clear()


def _fields(data: bytes) -> object:
    try:
        message = parse_sip(data)
    except DecodeError as error:
        return ("error", str(error))
    seen = {f.name: getattr(message, f.name) for f in dataclasses.fields(SipMessage)}
    seen["_index"] = sorted(message._index.items())
    return repr(seen) + repr([(key, message.header_values(key)) for key in message._index])


def _crafted() -> list[bytes]:
    """Pairs that differ only where a memo key must tell them apart."""
    head = (b"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\n"
            b"To: <sip:b@example.com>\r\nCall-ID: x@a\r\n")
    out = []
    for start, cseq in ((b"INVITE sip:b@example.com SIP/2.0", b"1 INVITE"),
                        (b"BYE sip:b@example.com SIP/2.0", b"1 INVITE"),  # CSeq method mismatch
                        (b"SIP/2.0 200 OK", b"1 INVITE"),  # a response: no comparison
                        (b"invite sip:b@example.com SIP/2.0", b"1 INVITE")):  # lower case: a problem
        for extra in (b"Max-Forwards: 70\r\n", b"Max-Forwards: 700\r\n",
                      b"Content-Length: 0\r\nContent-Length: 0\r\n", b"Content-Length: 5\r\n",
                      b"Contact: <sip:a@h>;expires=99999999999\r\n", b"Contact: <sip:a@h>, *\r\n",
                      b"Via: SIP/2.0/UDP b.example.com;branch=x;;\r\n", b"v: SIP/2.0/UDP b;branch=z9hG4bK\r\n"):
            out.append(start + b"\r\n" + head + b"CSeq: " + cseq + b"\r\n" + extra + b"\r\n")
    body = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 9 RTP/AVP 8\r\na=rtpmap:8 %s\r\n"
    for rtpmap in (b"PCMA/8000", b"PCMA", b"x PCMA/8000", b"PCMA/8000/1"):
        sdp_body = body % rtpmap
        out.append(b"SIP/2.0 200 OK\r\n" + head + b"CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(sdp_body) + sdp_body)
    return out


def _messages() -> list[bytes]:
    archive = rfc4475_archive(shared_path("reference/rfc4475.txt"))
    flows = rfc3665_messages(shared_path("reference/rfc3665.txt"))
    return [data for _, data in sorted(archive.items())] + [m.data for m in flows] + _crafted()


def test_remembered_parses_equal_fresh_ones() -> None:
    messages = _messages()
    fresh = []
    for data in messages:
        _forget()
        fresh.append(_fields(data))
    _forget()
    for data in messages:  # every value met before is now remembered
        _fields(data)
    warm = [_fields(data) for data in messages]
    again = [_fields(data) for data in reversed(messages)][::-1]
    assert len(messages) > 250
    for data, a, b, c in zip(messages, fresh, warm, again):
        assert a == b == c, data[:200]


@pytest.mark.parametrize("first, second", [(0, 8), (8, 0), (16, 24), (3, 11)])
def test_a_memo_key_tells_apart_what_changes_the_problems(first: int, second: int) -> None:
    """The same CSeq value after a request of another method, a response or a lower-case
    method: the problems differ, so the remembered parse must not be reused."""
    crafted = _crafted()
    _forget()
    alone = _fields(crafted[second])
    _forget()
    _fields(crafted[first])
    assert _fields(crafted[second]) == alone
    assert _fields(crafted[first]) != alone


def test_header_values_fast_answers_are_split_list_of_every_value() -> None:
    """``SipMessage.header_values`` answers the usual cases (no value; one value without a
    comma) without ``split_list``: for every header of the torture tests and flows, asked by
    any spelling (as written, upper case, compact form), the answer is the general one."""
    from decoders.header_names import COMPACT_FORMS, LIST_HEADERS, canonical_name
    from decoders.sip import split_list

    compact = {full: short for short, full in COMPACT_FORMS.items()}
    asked = 0
    # A Contact ending in a no-break space, a Route of a form feed: stripped as ``split_list`` strips.
    odd = (b"OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
           b"To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           b"Contact: <sip:a@h>\xc2\xa0\r\nRoute: \x0c\r\nAllow: \r\nSupported: a, b\r\n\r\n")
    for data in _messages() + [odd]:
        try:
            message = parse_sip(data)
        except DecodeError:
            continue
        for written, _ in message.headers:
            key = canonical_name(written)
            values = message._index.get(key, ())
            expected = [item for value in values for item in split_list(value)] if key in LIST_HEADERS \
                else list(values)
            for name in {written, written.upper(), key, compact.get(key, key), "x-absent-" + key}:
                want = expected if canonical_name(name) == key else []
                assert message.header_values(name) == want, (name, data[:120])
                assert message.header(name) == (values[0] if values and want is expected else None)
                asked += 1
    assert asked > 5000
