"""``build_transactions`` and ``build_dialogs`` against their plain forms (session 10, kept here as
the oracle): ``_Builder.add`` with ``_cseq`` and ``_rfc3261_base`` inlined and a message's
retransmission signature made only when its transaction already has one of its kind, the
signature's endpoints as their fields; ``build_dialogs`` keyed by the tags in order, not a
frozenset. The same transactions (keys, methods, requests, messages, retransmissions, ACKs,
CANCEL links) and dialogs (tags, states, times, messages), object for object, on every sample,
the corpus, RFC 3665's flows, and messages read back from the store (``StoredMessage``: the
first pass's ``_TopVia``) with retransmissions and capture copies made up from them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conftest import SAMPLES
from test_calls_rfc3665 import rfc3665_messages, rfc3665_sections
from ladder.calls.dialogs import CONFIRMED, DIALOG_CREATING, EARLY, TERMINATED, Dialog, _end_early, build_dialogs
from ladder.calls.duplicates import fold_duplicates
from ladder.calls.grouping import group_by_call_id
from ladder.calls import transactions
from ladder.calls.transactions import (Transaction, TransactionSet, _cseq, _rfc2543_base, _rfc3261_base, _repeats,
                                       build_transactions)
from ladder.capture.loader import load_capture
from ladder.errors import CaptureError

# -- the oracle: main's code before session 10 (``_cseq``, ``_rfc3261_base``, ``_rfc2543_base``,
# ``_place`` unchanged: the module's own) -------------------------------------------------------


def _signature(message):
    number, method = _cseq(message)
    src, dst = message.src, message.dst
    if message.is_request:
        return ("req", src, dst, message.method, message.request_uri, number, method)
    return ("resp", src, dst, message.status, message.to_tag or "", number, method, message.body)


class _Builder(transactions._Builder):
    """The builder before session 10: ``add`` and ``_get`` as they were (``_place`` is unchanged)."""

    def _get(self, key, method, rfc2543):
        txn = self.by_key.get(key)
        if txn is None:
            txn = Transaction(key=key, method=method, rfc2543=rfc2543)
            self.by_key[key] = txn
            self.ordered.append(txn)
            if not rfc2543:
                self.by_branch.setdefault((key[1], method), txn)
        return txn

    def add(self, message):
        _, cseq_method = _cseq(message)
        method = (message.method or cseq_method).upper() if message.is_request else cseq_method
        base = _rfc3261_base(message)
        rfc2543 = base is None
        if base is None:
            base = _rfc2543_base(message)
        txn = self._place(message, base, method, rfc2543)
        signature = _signature(message)
        seen = self.seen.setdefault(id(txn), {})
        earlier = seen.setdefault(signature, [])
        if not earlier:
            earlier.append(message)
        elif _repeats(message, earlier):
            txn.retransmissions.add(id(message))
        else:
            earlier.append(message)
        txn.messages.append(message)
        self.by_message[id(message)] = txn


def oracle_transactions(messages) -> TransactionSet:
    builder = _Builder()
    for message in messages:
        builder.add(message)
    return TransactionSet(tuple(builder.ordered), builder.by_message)


def oracle_dialogs(messages, transactions: TransactionSet) -> list[Dialog]:
    dialogs: dict = {}
    ordered: list[Dialog] = []

    def dialog_for(message, creating_method, key):
        dialog = dialogs.get(key)
        if dialog is None:
            dialog = Dialog(call_id=message.call_id or "", caller_tag=message.from_tag or "",
                            callee_tag=message.to_tag or "", method=creating_method)
            dialogs[key] = dialog
            ordered.append(dialog)
        return dialog

    for message in messages:
        if not (message.from_tag and message.to_tag):
            continue
        txn = transactions.of(message)
        method = txn.method if txn is not None else (message.method or "")
        status = message.status
        key = (message.call_id or "", frozenset(t for t in (message.from_tag, message.to_tag) if t))
        existing = dialogs.get(key)
        creating = (not message.is_request and method in DIALOG_CREATING and txn is not None and txn.is_initial
                    and status is not None and (100 < status < 300))
        if existing is None and not creating:
            if message.is_request and message.method not in ("ACK", "CANCEL"):
                dialog = dialog_for(message, method, key)
                dialog.state = CONFIRMED
                dialog.confirmed_ns = dialog.confirmed_ns or message.ts_ns
            else:
                continue
        else:
            dialog = existing or dialog_for(message, method, key)
        dialog.messages.append(message)
        if creating and status is not None:
            if status < 200 and dialog.state == EARLY and dialog.early_ns is None:
                dialog.early_ns = message.ts_ns
            elif status >= 200 and dialog.state != TERMINATED and dialog.confirmed_ns is None:
                dialog.state = CONFIRMED
                dialog.confirmed_ns = message.ts_ns
        elif not message.is_request and method == "BYE" and status is not None and 200 <= status < 300:
            dialog.state = TERMINATED
            dialog.terminated_ns = dialog.terminated_ns or message.ts_ns
    _end_early(ordered, transactions)  # (unchanged: the function's own)
    return ordered


# -- the comparison ----------------------------------------------------------------------------


def _ids(messages) -> list[int]:
    return [id(m) for m in messages]


def _txn(t: Transaction, number: dict[int, int]) -> tuple:
    def one(m):
        return None if m is None else id(m)

    return (t.key, t.method, one(t.request), _ids(t.messages), sorted(t.retransmissions), one(t.ack),
            None if t.cancel is None else number[id(t.cancel)], None if t.cancels is None else number[id(t.cancels)],
            t.rfc2543)


def _transactions(found: TransactionSet) -> tuple:
    number = {id(t): n for n, t in enumerate(found.transactions)}
    return ([_txn(t, number) for t in found.transactions],
            {key: number[id(t)] for key, t in found.by_message.items()})


def _dialogs(found: list[Dialog]) -> list:
    return [(d.call_id, d.caller_tag, d.callee_tag, d.method, d.state, d.early_ns, d.confirmed_ns, d.terminated_ns,
             _ids(d.messages)) for d in found]


def _agree(messages) -> tuple[int, int]:
    """Asserts both ways give the same; returns (transactions, retransmissions) found."""
    fast, slow = build_transactions(messages), oracle_transactions(messages)
    assert _transactions(fast) == _transactions(slow)
    assert _dialogs(build_dialogs(messages, fast)) == _dialogs(oracle_dialogs(messages, slow))
    return len(fast.transactions), sum(len(t.retransmissions) for t in fast.transactions)


def _groups(path: Path, located: bool) -> list[list]:
    try:
        capture = load_capture(str(path), media=False, messages=not located, locate=located)
    except CaptureError:
        return []
    if located:
        store = capture.located_store()
        messages = [store.message(i) for i in range(len(store))]
    else:
        messages = list(capture.sip_messages)
    return [fold_duplicates(group)[0] for group in group_by_call_id(messages).values()]


def _resent(group: list) -> list:
    """Parsed messages each sent again later (the same object twice: a retransmission as the
    transactions see it), each response once more with another body (news, not a repeat)."""
    out = list(group)
    for message in group:
        out.append(message)
        if not message.is_request:
            out.append(dataclasses.replace(message, body=message.body + b"x"))
    return out


@pytest.mark.parametrize("located", [False, True], ids=["parsed", "read back"])
def test_samples(located):
    counted = [_agree(group) for path in sorted(SAMPLES.glob("*.pcap")) for group in _groups(path, located)]
    assert sum(t for t, _ in counted) > 200


def test_corpus(corpus):
    retransmitted = 0
    for path in corpus.paths:
        for located in (False, True):
            for group in _groups(path, located):
                retransmitted += _agree(group)[1]
    assert retransmitted >= (20 if corpus.whole else 2)  # (the quick run's: sip_ipv4_tcp_retrans)


@pytest.mark.parametrize("section", rfc3665_sections())
def test_rfc3665_flows(section):
    messages = rfc3665_messages(section)
    _agree(messages)
    _agree(_resent(messages))  # every message repeated: the signatures compared


def test_repeats_are_found_when_made_up():
    """Repeated messages, a response of the same status with another body (news, not a repeat),
    the same request from another endpoint: each way marks the same retransmissions."""
    messages = _resent(rfc3665_messages("3.1"))
    assert _agree(messages)[1] == len(rfc3665_messages("3.1"))
    moved = [dataclasses.replace(m, src=dataclasses.replace(m.src, port=5070)) if m.is_request else m
             for m in rfc3665_messages("3.1")]
    assert _agree(rfc3665_messages("3.1") + moved)[1] > 0


def test_reliable_provisionals_compare_rseq(tmp_path):
    """RFC 3262 §4: a reliable 1xx repeats another only with the same RSeq."""
    messages = rfc3665_messages("3.1")
    ringing = next(m for m in messages if m.status == 180)
    first = dataclasses.replace(ringing, headers=ringing.headers + (("RSeq", "1"),),
                                _index={**ringing._index, "rseq": ("1",)})
    second = dataclasses.replace(ringing, headers=ringing.headers + (("RSeq", "2"),),
                                 _index={**ringing._index, "rseq": ("2",)})
    at = messages.index(ringing)
    flow = messages[:at] + [first, second, first] + messages[at + 1:]
    assert _agree(flow)[1] == 1
