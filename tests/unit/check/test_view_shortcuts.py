"""The per-call shortcuts of ``ladder check``'s undrawn view (session 10, issue 13), each held to
the slow reading it replaces, on every sample and corpus call and on RFC 4475/3665 messages:

- ``Columns.ends``: each message's (src, dst) columns, found while ``build_columns`` makes its
  keys, equal ``Columns.column`` of its two endpoints (split hosts and moved UAs included);
- ``layout._retransmission_ids``: the transactions' sets answer ``is_retransmission`` for every
  message of the calls;
- ``message_facts``: the conditions read as before (the former reading kept here as the oracle);
- the rules' ``number``/``sides`` asked of the view's dicts by message: the F-numbers and columns
  the drawn ladder gives, and a message the ladder does not show told by its addresses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import SAMPLES, shared_path
from decoders.errors import DecodeError
from decoders.records import Endpoint
from decoders.sip import SipMessage, parse_sip
from ladder.analysis import analyse
from ladder.capture.loader import load_capture
from ladder.check.call_check import _contact_expires, _Sides, _View, message_facts
from ladder.draw.layout import _retransmission_ids, build_ladder, sip_placement
from rfc_messages import rfc3665_messages, rfc4475_archive


def _oracle_facts(message: SipMessage) -> frozenset[str]:
    """``message_facts`` as it read a message before session 10 (every look-up, in order; the
    Contact's expires parameter read by the module's ``_contact_expires``, tested below)."""
    facts: list[str] = []
    if message.sdp is not None:
        facts.append("sdp")
    contacts = message.header_values("contact")
    if contacts:
        facts.append("contact")
    if message.header("authorization") or message.header("proxy-authorization"):
        facts.append("auth")
    expires = (message.header("expires") or "").strip()
    if contacts == ["*"] or expires == "0" or (contacts and all(_contact_expires(c) == 0 for c in contacts)):
        facts.append("expires=0")
    if message.sdp is not None:
        body = bytes(message.body or b"")
        if b"a=sendonly" in body or b"a=inactive" in body or b"c=IN IP4 0.0.0.0" in body:
            facts.append("hold")
        if b"m=image" in body:
            facts.append("t38")
    return frozenset(facts)


def test_contact_expires_reads_the_parameter():
    """``_contact_expires`` (which the oracle above shares): a Contact without any parameter is
    answered before the split, as the split's empty loop answered it."""
    assert _contact_expires("<sip:a@192.0.2.1:5060>") is None
    assert _contact_expires("sip:a@192.0.2.1") is None
    assert _contact_expires("<sip:a@192.0.2.1;expires=0>") is None  # a URI parameter, not the Contact's
    assert _contact_expires("<sip:a@192.0.2.1>;q=0.5;Expires= 0") == 0
    assert _contact_expires("sip:a@192.0.2.1;expires=3600") == 3600
    assert _contact_expires("<sip:a@192.0.2.1>;expires=soon") is None


def _paths(corpus) -> list[Path]:
    return [*sorted(SAMPLES.glob("*.pcap")), *corpus.paths]


def test_columns_ends_are_each_messages_columns(corpus):
    """``ends[i]`` is ``(column(src), column(dst))`` of ``messages[i]``, with and without media
    bars, for single calls and calls drawn together; split hosts and moved UAs are among them."""
    compared, split, moved = 0, 0, 0
    for path in _paths(corpus):
        capture = load_capture(str(path))
        for media in (True, False):
            analysis = analyse(capture, media=media)
            groups = [[call] for call in analysis.calls] + ([analysis.calls] if 1 < len(analysis.calls) <= 3 else [])
            for group in groups:
                placed = sip_placement(group if len(group) > 1 else group[0], capture, media=media,
                                       bindings=analysis.media_index)
                columns = placed.columns
                assert len(columns.ends) == len(placed.messages), path
                for message, ends in zip(placed.messages, columns.ends):
                    assert ends == (columns.column(message.src), columns.column(message.dst)), path
                compared += len(placed.messages)
                split += bool(columns.split_ips)
                moved += bool(columns.moved)
    assert compared > 1000 and split and moved


def test_retransmission_ids_answer_as_each_message_does(corpus):
    marked = 0
    for path in _paths(corpus):
        capture = load_capture(str(path))
        calls = analyse(capture, media=False).calls
        for group in [[call] for call in calls] + [calls]:
            ids = _retransmission_ids(group)
            for call in group:
                for message in call.messages:
                    assert (id(message) in ids) == call.is_retransmission(message), path
                    marked += call.is_retransmission(message)
    assert marked > 20


def _rfc_messages() -> list[SipMessage]:
    archive = rfc4475_archive(shared_path("reference/rfc4475.txt"))
    flows = rfc3665_messages(shared_path("reference/rfc3665.txt"))
    found = []
    for data in [data for _, data in sorted(archive.items())] + [m.data for m in flows]:
        try:
            found.append(parse_sip(data))
        except DecodeError:
            continue
    return found


def _crafted(base: SipMessage) -> list[SipMessage]:
    """One message with each condition made to hold, or nearly (an expires parameter that is
    not 0, a Contact parameter that is not expires, SDP words that are not hold)."""
    text = base.raw.decode("latin-1")
    head, _, _ = text.partition("\r\n\r\n")
    variants = [
        "Contact: *", "Contact: <sip:a@192.0.2.1>;expires=0", "Contact: <sip:a@192.0.2.1>;Expires= 0 ",
        "Contact: <sip:a@192.0.2.1>;expires=60", "Contact: <sip:a@192.0.2.1>;q=0.5",
        "Contact: <sip:a@192.0.2.1>;expires=0, <sip:b@192.0.2.1>", "m: sip:a@192.0.2.1;expires=0",
        "Expires: 0", "Expires:  0 ", "Expires: 10", "Authorization: Digest x", "Proxy-Authorization: Digest y",
    ]
    bodies = [b"", b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4 RTP/AVP 0\r\n", b"v=0\r\nm=image 4 udptl t38\r\n",
              b"v=0\r\nm=audio 4 RTP/AVP 0\r\na=sendonly\r\n", b"v=0\r\nm=audio 4 RTP/AVP 0\r\na=inactive\r\n",
              b"v=0\r\nm=audio 4 RTP/AVP 0\r\na=sendrecv\r\n"]
    kept = "\r\n".join(line for line in head.split("\r\n")
                       if not line.lower().startswith(("content-", "contact", "m:", "expires", "l:", "c:")))
    made = []
    for extra in variants:
        for body in bodies:
            typed = "\r\nContent-Type: application/sdp" if body else ""
            data = f"{kept}\r\n{extra}{typed}\r\nContent-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
            try:
                made.append(parse_sip(data))
            except DecodeError:
                continue
    return made


def test_message_facts_read_as_before(corpus):
    messages = _rfc_messages()
    for path in _paths(corpus):
        for call in analyse(load_capture(str(path)), media=False).calls:
            messages.extend(call.messages)
    messages.extend(_crafted(messages[0]))
    seen: set[frozenset[str]] = set()
    for message in messages:
        facts = message_facts(message)
        assert facts == _oracle_facts(message), message.raw[:200]
        seen.add(facts)
    assert message_facts(None) == frozenset()
    names = set().union(*seen)
    assert names == {"sdp", "contact", "auth", "expires=0", "hold", "t38"} and len(seen) > 8


def test_the_rules_ask_the_view_by_message():
    """The view's F-numbers and columns by message are the drawn ladder's; a message the view does
    not hold is told by its addresses (``_Sides.__missing__``), its F-number is None."""
    capture = load_capture(str(SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"))
    analysis = analyse(capture)
    (call,) = analysis.calls
    ladder = build_ladder(call, capture, bindings=analysis.media_index)
    view = _View.of_placement(sip_placement(call, capture, bindings=analysis.media_index))
    arrows = [a for a in ladder.arrows if a.message is not None]
    assert [view.numbers.get(a.message) for a in arrows] == [a.f for a in arrows]
    assert [view.columns[a.message] for a in arrows] == [(a.src, a.dst) for a in arrows]
    assert type(view.columns) is _Sides
    stranger = dataclasses.replace(call.messages[0], src=Endpoint("192.0.2.9", 5070), dst=None)
    assert view.columns[stranger] == ("192.0.2.9:5070", None)
    assert view.numbers.get(stranger) is None
    assert stranger not in view.columns  # (asked, not added)
