"""A live capture re-derives its calls every second from messages that only grow (and lose
whole Call-IDs to ``--limit``): ``calls_of_messages(..., memo)`` must give exactly the calls a
fresh derivation gives, while reusing the calls nothing changed in."""

from __future__ import annotations

from conftest import SAMPLES, shared_path
from ladder.calls.grouping import CallMemo, calls_of_messages
from ladder.capture.loader import load_capture
from test_calls_links import b2bua_capture


def _digest(calls) -> list:
    return [(c.index, c.call_ids, c.kind, [id(m) for m in c.messages], c.outcome, c.links, c.caller, c.callee,
             c.start_ns, c.end_ns, [(leg.call_id, leg.ts_ns) for leg in c.legs], len(c.dialogs),
             [[id(m) for m in t.messages] for t in c.transactions.transactions], sorted(c.copies)) for c in calls]


def _grow(messages: list, step: int, drop_every: int = 0) -> int:
    """Feed ``messages`` ``step`` at a time, comparing memo and fresh derivations; every
    ``drop_every`` rounds the oldest call's Call-IDs go, as ``--limit`` drops them."""
    memo, kept, rounds, reused = CallMemo(), [], 0, 0
    previous: list = []
    for start in range(0, len(messages), step):
        kept += messages[start:start + step]
        rounds += 1
        if drop_every and rounds % drop_every == 0 and previous:
            gone = set(previous[0].call_ids)
            kept = [m for m in kept if m.call_id not in gone]
        calls = calls_of_messages(kept, memo)
        assert _digest(calls) == _digest(calls_of_messages(kept))
        before = {c.call_ids: c for c in previous}
        reused += sum(1 for c in calls if c.call_ids in before and c.transactions is before[c.call_ids].transactions)
        previous = calls
    return reused


def test_memo_gives_the_fresh_calls_on_every_sample_as_it_grows():
    messages = []
    for path in sorted(SAMPLES.glob("rfc3665-*.pcap")):
        messages += load_capture(str(path), media=False).sip_messages
    assert len(messages) > 150
    assert _grow(messages, 7) > 50  # calls left unchanged by a round were not derived again
    _grow(messages, 5, drop_every=3)


def test_memo_follows_links_across_call_ids():
    # a B2BUA leg joined by X-Call-ID, then by timing: the join appears as the second leg arrives
    for header in (True, False):
        messages = b2bua_capture(header).sip_messages
        _grow(messages, 1)
    path = shared_path("captures/wireshark-wiki/filenameGRE199---fax-iz-InLife-G711---OK!!!.cap")
    messages = load_capture(str(path), media=False).sip_messages
    _grow(messages, 3)
    _grow(messages, 4, drop_every=2)
