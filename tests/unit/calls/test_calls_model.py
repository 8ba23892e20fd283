"""Aliases, participants and outcomes on RFC 3665 messages (some re-addressed or trimmed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from test_calls_rfc3665 import T0_NS, rfc3665_messages
from decoders.records import Endpoint
from decoders.sip import parse_sip
from ladder.draw.aliases import build_aliases, parse_alias
from conftest import SAMPLES
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.errors import UsageError
from ladder.draw.layout import build_ladder


def capture_of(messages):
    return SimpleNamespace(sip_messages=messages, streams=[], first_ts_ns=T0_NS)


def only_call(messages):
    (call,) = build_calls(capture_of(messages))
    return call


def test_alias_forms(tmp_path):
    assert parse_alias("192.0.2.1=Alice") == ("192.0.2.1", None, "Alice")
    assert parse_alias("192.0.2.1:5062=Bob B") == ("192.0.2.1", 5062, "Bob B")
    assert parse_alias("[2001:db8::1]:5060=P") == ("2001:db8::1", 5060, "P")
    assert parse_alias("2001:DB8::1 Six") == ("2001:db8::1", None, "Six")
    for bad in ("192.0.2.1=", "host.example=Name", "192.0.2.1:99999=X", "lonely"):
        with pytest.raises(UsageError):
            parse_alias(bad)
    path = tmp_path / "aliases"
    path.write_text("# comment\n192.0.2.101 Alice Laptop  # trailing\n\n192.0.2.111:5060=P1\n", encoding="utf-8")
    aliases = build_aliases(["192.0.2.101=Override"], str(path))
    assert aliases.lookup("192.0.2.101") == "Override"
    assert aliases.lookup("192.0.2.111", 5060) == "P1" and aliases.lookup("192.0.2.111", 5070) is None
    with pytest.raises(UsageError, match="aliases:2"):
        path.write_text("\nnot-an-ip Name\n", encoding="utf-8")
        build_aliases([], str(path))


def test_automatic_names_roles_and_caller_first():
    call = only_call(rfc3665_messages("3.2"))
    ladder = build_ladder(call, capture_of(call.messages))
    assert [(p.name, p.role) for p in ladder.participants] == [
        ("Alice", "ua"), ("ss1.atlanta.example.com", "proxy"),
        ("ss2.biloxi.example.com", "proxy"), ("Bob", "ua")]


def test_two_uas_behind_one_address_get_a_column_each():
    moved = []
    for message in rfc3665_messages("3.1"):  # Alice <-> Bob directly
        def port_of(endpoint):
            return Endpoint("127.0.0.1", 5060 if endpoint.ip == "192.0.2.101" else 5062, endpoint.transport)
        moved.append(message.with_context(port_of(message.src), port_of(message.dst), message.frames, message.ts_ns))
    call = only_call(moved)
    ladder = build_ladder(call, capture_of(moved), media=False)
    assert [p.endpoints[0].port for p in ladder.participants] == [5060, 5062]
    assert [p.name for p in ladder.participants] == ["Alice", "Bob"]


def test_a_ua_that_changes_address_stays_one_column():
    capture = load_capture(str(SAMPLES / "rfc3665-3.7-session-re-invite-ip-address-change.pcap"), media=False)
    ladder = build_ladder(build_calls(capture), capture, media=False)
    bob = ladder.participants[-1]
    assert bob.name == "Bob"
    assert {e.ip for e in bob.endpoints} == {"192.0.2.201", "192.0.2.100"}  # RFC 3665 §3.7


def test_cancel_before_ringing_is_cancelled():
    messages = [m for m in rfc3665_messages("3.8") if m.status not in (180,)]
    assert only_call(messages).outcome.code == "cancelled"


def test_redirect_without_a_retry_is_redirected():
    messages = rfc3665_messages("3.6")[:3]  # INVITE, 302, ACK
    outcome = only_call(messages).outcome
    assert (outcome.code, outcome.status, str(outcome)) == ("redirected", 302, "redirected 302")


def test_invite_with_only_a_provisional_is_ringing_and_alone_has_failed():
    messages = rfc3665_messages("3.1")
    assert only_call(messages[:2]).outcome.code == "ringing"  # INVITE, 180
    assert only_call(messages[:1]).outcome.code == "failed"  # no response at all


def test_answered_call_without_bye_is_in_call_and_with_it_completed():
    messages = rfc3665_messages("3.1")
    without_bye = [m for m in messages if m.method not in ("BYE",)]
    outcome = only_call(without_bye).outcome
    assert (outcome.code, str(outcome)) == ("in-call", "in call")
    assert only_call(messages).outcome.code == "completed"


def test_a_bye_only_fragment_is_partial():
    """The capture starts inside the dialog: nothing says how the call began."""
    bye_and_ok = [m for m in rfc3665_messages("3.1") if m.method == "BYE"]
    outcome = only_call(bye_and_ok).outcome
    assert outcome.code == "partial" and "BYE" in outcome.detail


def test_a_challenge_then_silence_is_rejected_with_its_code():
    messages = rfc3665_messages("3.2")[:3]  # INVITE, 407, ACK: the caller never retried
    outcome = only_call(messages).outcome
    assert (outcome.code, outcome.status, str(outcome)) == ("rejected", 407, "rejected 407")


def test_cancel_after_ringing_is_cancelled_not_no_answer():
    outcome = only_call(rfc3665_messages("3.8")).outcome
    assert outcome.code == "cancelled" and "after ringing" in outcome.detail


def test_equal_tags_on_both_sides_do_not_merge_two_talking_nodes():
    """SIPp scenarios put tag=1 on both sides; two addresses that talk are two columns."""
    out = []
    for message in rfc3665_messages("3.1"):
        raw = message.raw
        for tag in (message.from_tag, message.to_tag):
            if tag:
                raw = raw.replace(f"tag={tag}".encode(), b"tag=1")
        out.append(parse_sip(raw).with_context(message.src, message.dst, message.frames, message.ts_ns))
    ladder = build_ladder(only_call(out), capture_of(out), media=False)
    assert [p.name for p in ladder.participants] == ["Alice", "Bob"]


@pytest.mark.parametrize("header", [b"Via", b"Call-ID", b"CSeq", b"From", b"To", b"Contact"])
def test_messages_missing_a_mandatory_header_still_draw(header):
    """Broken captures lack headers RFC 3261 §8.1.1 requires: the model degrades, never raises."""
    from ladder.draw.json_ladder import render_json
    from ladder.draw.mermaid import render_mermaid
    from ladder.draw.text import render_text

    out = []
    for index, message in enumerate(rfc3665_messages("3.2")):
        raw = message.raw
        if index % 3 == 0:  # every third message loses the header (all its lines)
            lines = raw.split(b"\r\n")
            raw = b"\r\n".join(l for l in lines if not l.lower().startswith(header.lower() + b":")
                               and not (l.startswith(b" ") and header == b"Via"))
        out.append(parse_sip(raw).with_context(message.src, message.dst, message.frames, message.ts_ns))
    calls = build_calls(capture_of(out))
    assert sum(len(c.messages) for c in calls) == len(out)
    ladders = [build_ladder(c, capture_of(out)) for c in calls]
    assert sum(len(l.sip_arrows()) for l in ladders) == len(out)
    for ladder in ladders:
        assert render_text(ladder) and render_mermaid(ladder)
    assert render_json(ladders)
