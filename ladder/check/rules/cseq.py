"""CSeq ordering (RFC 3261 §12.2.1.1, §22.2, §10.2): per dialog and sender, for requests
resubmitted with credentials, and for REGISTER refreshes of one Call-ID."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ladder.check.deviations import ERROR, Code, Deviation, deviation
from ladder.check.rules.facts import CallFacts

if TYPE_CHECKING:
    from decoders.sip import SipMessage

CSEQ_NOT_INCREASING = Code("cseq-not-increasing", ERROR, "RFC 3261 §12.2.1.1, §22.2", "a new request in a dialog (or resubmitted with credentials) whose CSeq is not higher than the sender's previous one")
REGISTER_CSEQ_NOT_INCREASING = Code("register-cseq-not-increasing", ERROR, "RFC 3261 §10.2", "a REGISTER whose CSeq is not higher than the previous REGISTER of the same Call-ID")  # fmt: skip
CODES = (CSEQ_NOT_INCREASING, REGISTER_CSEQ_NOT_INCREASING,)


def rule_cseq(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §12.2.1.1: each new request a UA sends in a dialog has a higher CSeq than its
    previous one there; its number in an early or confirmed dialog starts from the CSeq of the
    INVITE (or SUBSCRIBE) that created it (§12.1.2), so forks each count from there. §22.2: a
    request resubmitted with credentials after a 401/407 increments the CSeq. Outside these
    (two out-of-dialog requests, the same request relayed by another node) there is no order
    to keep. Followed per sending node: a B2BUA relaying keeps its own count. ACK and CANCEL
    reuse the INVITE's number; REGISTER has ``rule_register_cseq``.

    Each finding compares a request's number with that of an earlier request of its node that
    this rule follows (the creating request, the previous one in the dialog, the challenged one)
    and needs it no higher: a call whose nodes each number those requests rising, as a plain call
    does, has none (``_rising``)."""
    if _rising(facts):
        return
    start: dict[tuple, tuple[int, "SipMessage"]] = {}  # (sender, Call-ID, From tag) -> creating request
    last: dict[tuple, tuple[int, str, "SipMessage"]] = {}
    challenged: dict[tuple, "SipMessage"] = {}  # (sender, Call-ID, method) -> request a 401/407 answered
    created = {
        (m.call_id, m.from_tag, m.to_tag) for method in ("INVITE", "SUBSCRIBE", "REFER") for m in facts.responses(method)
        if m.to_tag and 100 < (m.status or 0) < 300
    }  # fmt: skip
    reported: set[tuple] = set()  # the same faulty request relayed by a proxy: reported once
    for message in facts.originals:
        if not _followed(message):
            continue
        sender = facts.sides(message)[0]
        number, branch = _cseq_of(message)[0], _bottom_branch(message)
        if not message.to_tag:
            retry = challenged.pop((sender, message.call_id, message.method), None)
            if retry is not None and number <= _cseq_of(retry)[0] and _bottom_branch(retry) != branch:
                yield _cseq_finding(facts, message, retry, "§22.2: a request resubmitted with credentials")
            if _was_challenged(facts, message):
                challenged[(sender, message.call_id, message.method)] = message
            if message.method in ("INVITE", "SUBSCRIBE", "REFER"):
                start[(sender, message.call_id, message.from_tag)] = (number, message)
            continue
        key = (sender, message.call_id, message.from_tag, message.to_tag)
        previous = last.get(key)
        if previous is None and (message.call_id, message.from_tag, message.to_tag) in created:
            creating = start.get((sender, message.call_id, message.from_tag))
            previous = (creating[0], "", creating[1]) if creating is not None else None
        if previous is not None:
            p_number, p_branch, p_message = previous
            if branch == p_branch and number == p_number:
                continue  # the same request again (a proxy's serial forking, a relay)
            unit = (message.call_id, message.cseq, branch)
            if number <= p_number and unit not in reported:
                reported.add(unit)
                yield _cseq_finding(facts, message, p_message, "§12.2.1.1: in the dialog")
            if number < p_number:
                continue
        last[key] = (number, branch, message)


def _followed(message: "SipMessage") -> bool:
    """A request ``rule_cseq`` follows."""
    return message.is_request and message.method not in ("ACK", "CANCEL", "REGISTER") and bool(message.cseq)


def _rising(facts: CallFacts) -> bool:
    """Whether each node's followed requests (retransmissions left out) carry rising CSeq
    numbers in capture order."""
    highest: dict = {}
    for message in facts.originals:
        if _followed(message):
            sender = facts.sides(message)[0]
            number = _cseq_of(message)[0]
            if number <= highest.get(sender, -1):
                return False
            highest[sender] = number
    return True


def _bottom_branch(message: "SipMessage") -> str:
    return (message.vias[-1].branch or "") if message.vias else ""


def _was_challenged(facts: CallFacts, request: "SipMessage") -> bool:
    txn = facts.txns.of(request)
    return txn is not None and txn.final is not None and txn.final.status in (401, 407)


def _cseq_of(message: "SipMessage") -> tuple[int, str]:
    """The CSeq of a message these rules only follow when it has one."""
    return message.cseq if message.cseq is not None else (0, "")


def _cseq_finding(facts: CallFacts, message: "SipMessage", before: "SipMessage", why: str) -> Deviation:
    return deviation(
        CSEQ_NOT_INCREASING,
        f"{facts.name(message)} has CSeq {_cseq_of(message)[0]} {_cseq_of(message)[1]}, not higher than "
        f"{facts.name(before)}'s {_cseq_of(before)[0]} {_cseq_of(before)[1]} ({why}; RFC 3261)",
        f=facts.fs([before, message]), frames=facts.frames([message]),
    )  # fmt: skip


def rule_register_cseq(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §10.2: a UA increments the CSeq by one for each REGISTER with the same
    Call-ID, whatever its From tag. Followed per sending node, so that a REGISTER relayed by
    an SBC or proxy with the same number is not a second request of the UA."""
    last: dict[tuple, "SipMessage"] = {}
    faults: dict[tuple, list["SipMessage"]] = {}  # (sender, Call-ID) -> the REGISTERs out of order
    for message in facts.requests("REGISTER"):
        if not message.cseq or facts.is_retransmission(message):
            continue
        key = (facts.sides(message)[0], message.call_id)
        previous = last.get(key)
        if previous is not None and _cseq_of(message)[0] <= _cseq_of(previous)[0]:
            if _cseq_of(message)[0] == _cseq_of(previous)[0] and _bottom_branch(message) == _bottom_branch(previous):
                continue  # the same REGISTER again
            faults.setdefault(key, [previous]).append(message)
        if previous is None or _cseq_of(message)[0] > _cseq_of(previous)[0]:
            last[key] = message
    for group in faults.values():  # one finding per sender and Call-ID, however often it repeats
        first, later = group[0], group[1:]
        named = ", ".join(f"{facts.name(m)} CSeq {_cseq_of(m)[0]}" for m in later[:6]) + (" …" if len(later) > 6 else "")
        yield deviation(
            REGISTER_CSEQ_NOT_INCREASING,
            f"{named}: not higher than {facts.name(first)}'s CSeq {_cseq_of(first)[0]}; a UA increments "
            "the CSeq by one for each REGISTER of one Call-ID (RFC 3261 §10.2)",
            f=facts.fs(group), frames=facts.frames(later),
        )  # fmt: skip
