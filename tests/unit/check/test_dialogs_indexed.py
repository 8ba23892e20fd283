"""``ladder.check.rules.dialogs`` indexed (refusals by INVITE, refused INVITEs dropped once no INVITE
to come is older, BYEs' dialogs by Call-ID and tags) against the pair-by-pair scans it replaced
(the oracle below, kept as it was written): the same pairs, numbers and findings on the audit's
real captures, the samples, and generated calls with several senders, tags, refusals and times
out of order; and a flood of INVITEs in one Call-ID stays linear (it was cubic: 1,000 INVITEs
took 147 s to check)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLES
from decoders.records import Endpoint
from decoders.sip import parse_sip
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.check.rules import dialogs
from ladder.check.rules.dialogs import dialog_numbers, holds_second_dialogs, reused_invites

AUDIT = Path(__file__).resolve().parents[2] / "audit"


# --- the oracle: the functions as s9-audit wrote them, scanning every message for every pair ---
def _creates(m):
    return m.is_request and m.method == "INVITE" and not m.to_tag and m.from_tag is not None


def _failed_before(messages, invite, before):
    return any(not m.is_request and (m.status or 0) >= 300 and m.method == "INVITE" and m.call_id == invite.call_id
               and m.cseq == invite.cseq and m.from_tag == invite.from_tag and m.ts_ns <= before.ts_ns for m in messages)


def _oracle_second_dialogs(messages):
    creating = [m for m in messages if m.method == "INVITE" and m.is_request and not m.to_tag and m.from_tag]
    if len({(m.call_id, m.from_tag) for m in creating}) < 2:
        return []
    found, firsts = [], {}
    for message in creating:
        key = (message.call_id, message.from_tag)
        if key in firsts:
            continue
        earlier = [first for (call_id, _), first in firsts.items()
                   if call_id == key[0] and not _failed_before(messages, first, message)]
        firsts[key] = message
        found.extend((first, message) for first in earlier)
    return found


def _oracle_reused(messages, sides):
    found = {}
    for first, second in _oracle_second_dialogs(messages):
        node = sides(second)[0]
        if sides(first)[0] != node or any(_creates(m) and m.call_id == second.call_id and sides(m)[1] == node
                                          and m.ts_ns <= first.ts_ns for m in messages):
            continue
        found.setdefault((second.call_id, second.from_tag), (first, second))
    return list(found.values())


def _oracle_numbers(messages, sides):
    if not _oracle_second_dialogs(messages):
        return {}
    number = {}
    creating = [m for m in messages if _creates(m)]
    for index, message in enumerate(creating):
        key = (message.call_id, message.from_tag)
        if key in number:
            continue
        retried = next((m for m in reversed(creating[:index]) if m.call_id == message.call_id
                        and sides(m)[0] == sides(message)[0] and _failed_before(messages, m, message)), None)
        number[key] = number[(retried.call_id, retried.from_tag)] if retried is not None else len(set(number.values())) + 1
    return {id(m): number.get((m.call_id, m.from_tag)) or number.get((m.call_id, m.to_tag), 0) for m in messages}


def _sides(message):
    """The nodes as check's columns name them, by address (SIPp's 3pcc controller sends from two ports)."""
    return (message.src.ip if message.src else None, message.dst.ip if message.dst else None)


def _same(messages) -> None:
    assert holds_second_dialogs(messages) == bool(_oracle_second_dialogs(messages))
    assert reused_invites(messages, _sides) == _oracle_reused(messages, _sides)
    assert dialog_numbers(messages, _sides) == _oracle_numbers(messages, _sides)


def test_real_calls_the_same_both_ways():
    files = sorted(AUDIT.glob("*.pcap")) + sorted(SAMPLES.glob("*.pcap"))
    assert len(files) > 10
    reused = 0
    for path in files:
        capture = load_capture(path)
        for call in build_calls(capture):
            _same(call.messages)
            reused += bool(reused_invites(call.messages, _sides))
    assert reused >= 1  # the 3pcc capture


_A, _B, _C = (Endpoint(f"10.0.0.{n}", 5060) for n in (1, 2, 3))


def _message(kind: str, tag: int, cseq: int, ts: int, src: Endpoint, dst: Endpoint, to_tag: str, call_id: str):
    to = f"<sip:b@x>;tag={to_tag}" if to_tag else "<sip:b@x>"
    head = f"INVITE sip:b@x SIP/2.0" if kind == "INVITE" else f"SIP/2.0 {kind}"
    text = (f"{head}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK{tag}.{cseq}\r\nFrom: <sip:a@x>;tag=f{tag}\r\nTo: {to}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContent-Length: 0\r\n\r\n")
    return parse_sip(text.encode(), src=src, dst=dst, ts_ns=ts)


_step = st.tuples(
    st.sampled_from(["INVITE", "INVITE", "100 Trying", "200 OK", "486 Busy Here", "407 Proxy Authentication Required"]),
    st.integers(0, 3), st.integers(1, 3), st.integers(0, 40), st.sampled_from([(_A, _B), (_B, _A), (_C, _B), (_B, _C)]),
    st.sampled_from(["", "r1", "r2"]), st.sampled_from(["one", "one", "one", "two"]),
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_step, max_size=18))
def test_generated_calls_the_same_both_ways(steps):
    messages = [_message(kind, tag, cseq, ts, src, dst, to_tag if kind != "INVITE" else "", call_id)
                for kind, tag, cseq, ts, (src, dst), to_tag, call_id in steps]
    _same(messages)


def test_times_out_of_capture_order_the_same_both_ways():
    # An INVITE refused after a later-captured but earlier-stamped INVITE still stands for it.
    stands = [_message("INVITE", 0, 1, 0, _A, _B, "", "one"), _message("486 Busy Here", 0, 1, 10, _B, _A, "r1", "one"),
              _message("INVITE", 1, 1, 20, _A, _B, "", "one"), _message("INVITE", 2, 1, 5, _A, _B, "", "one")]
    _same(stands)
    assert [(f.from_tag, s.from_tag) for f, s in reused_invites(stands, _sides)] == [("f0", "f2")]
    # A retry is numbered with the latest attempt refused before it, not the first.
    retry = [_message("INVITE", 0, 1, 0, _A, _B, "", "one"), _message("INVITE", 1, 1, 1, _A, _B, "", "one"),
             _message("486 Busy Here", 1, 1, 2, _B, _A, "r1", "one"), _message("486 Busy Here", 0, 1, 3, _B, _A, "r2", "one"),
             _message("INVITE", 2, 1, 4, _A, _B, "", "one")]
    _same(retry)
    assert dialog_numbers(retry, _sides)[id(retry[4])] == 2


class _CountingDict(dict):
    """The refusal index, counting how often it is asked (the work per INVITE)."""

    asked = 0

    def get(self, *args):
        _CountingDict.asked += 1
        return super().get(*args)


def test_a_flood_of_invites_in_one_call_id_stays_linear(monkeypatch):
    indexed = dialogs._failures
    monkeypatch.setattr(dialogs, "_failures", lambda messages: _CountingDict(indexed(messages)))

    def flood(n: int, refused: bool) -> list:
        out = []
        for i in range(n):
            out.append(_message("INVITE", i, 1, 2 * i, _A, _B, "", "flood"))
            if refused:
                out.append(_message("486 Busy Here", i, 1, 2 * i + 1, _B, _A, f"r{i}", "flood"))
        return out

    for refused in (False, True):
        asked = []
        for n in (500, 1000):
            messages = flood(n, refused)
            _CountingDict.asked = 0
            numbers = dialog_numbers(messages, _sides)
            pairs = reused_invites(messages, _sides)
            asked.append(_CountingDict.asked)
            if refused:
                assert not pairs and not numbers  # each INVITE refused before the next: retries, no second dialog
            else:
                assert len(pairs) == n - 1 and max(numbers.values()) == n
        # Twice the INVITEs, at most about twice the questions (the scans it replaced: eight times).
        assert asked[1] <= 2.2 * asked[0] + 10, asked
