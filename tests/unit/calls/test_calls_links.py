"""Calls across a B2BUA: Call-ID groups joined by X-Call-ID or by timing, with reasons."""

from __future__ import annotations

from types import SimpleNamespace

from test_calls_rfc3665 import T0_NS, rfc3665_messages
from decoders.sip import parse_sip
from ladder.calls.grouping import build_calls

PROXY2, BOB = "192.0.2.222", "192.0.2.201"


def b2bua_capture(header: bool):
    """RFC 3665 §3.2 with Proxy 2 acting as a B2BUA: a new Call-ID towards Bob."""
    out = []
    for message in rfc3665_messages("3.2"):
        if {message.src.ip, message.dst.ip} == {PROXY2, BOB}:
            raw = message.raw.replace(message.call_id.encode(), b"b2bua-leg-2@192.0.2.222")
            if header:
                first_line_end = raw.index(b"\r\n") + 2
                raw = raw[:first_line_end] + f"X-Call-ID: {message.call_id}\r\n".encode() + raw[first_line_end:]
            message = parse_sip(raw).with_context(message.src, message.dst, message.frames, message.ts_ns)
        out.append(message)
    return SimpleNamespace(sip_messages=out, streams=[], first_ts_ns=T0_NS)


def test_x_call_id_joins_the_legs():
    (call,) = build_calls(b2bua_capture(header=True))
    assert call.call_ids == ("3848276298220188511@atlanta.example.com", "b2bua-leg-2@192.0.2.222")
    reasons = [link.reason for link in call.links]
    assert "X-Call-ID of b2bua-leg-2@192.0.2.222 names 3848276298220188511@atlanta.example.com" in reasons
    assert call.outcome.code == "completed" and len(call.messages) == 23


def test_timing_joins_the_legs_when_no_header_helps():
    (call,) = build_calls(b2bua_capture(header=False))
    assert len(call.call_ids) == 2
    assert "INVITE to bob left 192.0.2.222 20 ms after one arrived" in [l.reason for l in call.links]


def test_out_of_dialog_groups_have_their_kind():
    capture = SimpleNamespace(sip_messages=rfc3665_messages("2.1") + rfc3665_messages("3.9"),
                              streams=[], first_ts_ns=T0_NS)
    calls = build_calls(capture)
    assert sorted((c.kind, c.outcome.code) for c in calls) == [("call", "busy"), ("registration", "registered")]


def test_b2bua_with_two_addresses_is_joined_by_the_parties():
    """A real SBC capture: the INVITE arrives at the public address 81.90.179.5 and leaves the
    private 10.10.1.20 3 ms later, to the same number with a routing prefix (9997…)."""
    from conftest import shared_path
    from ladder.capture.loader import load_capture

    path = shared_path("captures/wireshark-wiki/filenameGRE199---fax-iz-InLife-G711---OK!!!.cap")
    calls = build_calls(load_capture(str(path), media=False))
    joined = [call for call in calls if call.kind == "call" and len(call.call_ids) > 1]
    assert len(joined) == 4
    first = joined[0]
    assert first.call_ids == ("4abf-40f-11242008122339-Xtec-IMG2-1@89.202.183.241",
                              "1505-3439110219-343899@itnxB.mydomain.com")
    (link,) = [link for link in first.links if "two addresses" in link.reason]
    assert "to 9997355692074651 left 10.10.1.20 3 ms after one to 355692074651 arrived at 81.90.179.5" in link.reason


def test_numbers_match_up_to_a_routing_prefix_but_short_extensions_do_not():
    from ladder.calls.legs import _same_party

    assert _same_party("9997355692074651", "355692074651")
    assert _same_party("alice", "alice")
    assert not _same_party("", "")
    assert not _same_party("91001", "1001")  # four digits: an extension, not a number
    assert not _same_party("355692074651", "355692074652")
    assert not _same_party("bob355692", "355692")  # not a number


def test_parallel_calls_through_a_proxy_stay_apart():
    """Two callers reaching the same target through the same proxies 100 ms apart (a load test,
    a call centre's number): each proxy relays each INVITE with its own Call-ID, so neither is
    a B2BUA leg of the other, however close in time."""
    first = rfc3665_messages("3.2")
    second = []
    for message in first:
        raw = message.raw.replace(message.call_id.encode(), b"parallel-call@atlanta.example.com")
        raw = raw.replace(b"Alice <sip:alice@", b"Carol <sip:carol@")
        copy = parse_sip(raw).with_context(message.src, message.dst, message.frames, message.ts_ns + 100_000_000)
        second.append(copy)
    messages = sorted(first + second, key=lambda m: m.ts_ns)
    calls = build_calls(SimpleNamespace(sip_messages=messages, streams=[], first_ts_ns=T0_NS))
    assert [c.call_ids for c in calls] == [("3848276298220188511@atlanta.example.com",),
                                           ("parallel-call@atlanta.example.com",)]
    assert all(len(c.messages) == len(first) for c in calls)
