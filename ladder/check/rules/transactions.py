"""Transaction rules (RFC 3261 §17, §9.2): ACKs, retransmissions and their timers, final
responses, CANCEL. Each code is declared beside the rule that reports it."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

from ladder.calls.transactions import Transaction
from ladder.check.deviations import ERROR, INFO, WARNING, Code, Deviation, deviation
from ladder.check.rules.facts import RELIABLE, CallFacts, went_on

if TYPE_CHECKING:
    from decoders.sip import SipMessage

MISSING_ACK = Code("missing-ack", ERROR, "RFC 3261 §17.1.1.3, §13.2.2.4", "a final response to INVITE that was never ACKed")
RETRANSMISSION = Code("retransmission", INFO, "RFC 3261 §17", "a retransmitted message (warning when it reveals a lost message)")
TIMER_VIOLATION = Code("timer-violation", WARNING, "RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1", "retransmissions not spaced as timers A, E, G (T1, T2) require, or on a reliable transport")
NO_FINAL_RESPONSE = Code("no-final-response", WARNING, "RFC 3261 §17.1.1.2, §17.1.2.2", "no final response within timer B / F (64*T1)")
CANCEL_WITHOUT_487 = Code("cancel-without-487", WARNING, "RFC 3261 §9.2", "a CANCELled INVITE not answered with 487 Request Terminated")
CANCEL_WITHOUT_200 = Code("cancel-without-200", WARNING, "RFC 3261 §9.2", "a CANCEL without its 200 OK")
NO_RETRANSMISSION = Code("no-retransmission", WARNING, "RFC 3261 §17.1.2.2", "a non-INVITE request over UDP unanswered past T1 and never retransmitted")  # fmt: skip
CODES = (MISSING_ACK, RETRANSMISSION, TIMER_VIOLATION, NO_FINAL_RESPONSE, CANCEL_WITHOUT_487, CANCEL_WITHOUT_200, NO_RETRANSMISSION,)


# --- transactions: ACK, retransmissions, timers -----------------------------------------------


def _copies(txn: Transaction, facts: CallFacts) -> list[list["SipMessage"]]:
    """The transaction's messages grouped into "the same message again" (an original and its
    retransmissions), in order of the originals."""
    groups: list[list["SipMessage"]] = []
    for message in txn.messages:
        if not facts.is_retransmission(message):
            groups.append([message])
            continue
        for group in reversed(groups):
            if _same_message(group[0], message):
                group.append(message)
                break
        else:
            groups.append([message])
    return groups


def _same_message(a: "SipMessage", b: "SipMessage") -> bool:
    if a.is_request != b.is_request or a.src != b.src or a.dst != b.dst:
        return False
    if a.is_request:
        return a.method == b.method
    return a.status == b.status


def rule_missing_ack(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §17.1.1.3 (ACK of a non-2xx final, hop by hop: same branch and CSeq number as
    the INVITE) and §13.2.2.4 (ACK of a 2xx, end to end, from the UA that received it)."""
    for txn in facts.txns.transactions:
        if txn.method != "INVITE":
            continue
        final = txn.final
        if final is None or (final.status or 0) < 300:
            continue
        ack = next(
            (m for m in txn.messages if m.is_request and m.method == "ACK" and m.ts_ns >= final.ts_ns
             and m.cseq and final.cseq and m.cseq[0] == final.cseq[0]),
            None,
        )  # fmt: skip
        if ack is None and went_on(facts, final):
            what = "487 Request Terminated" if final.status == 487 else f"{final.status} final response"
            stray = _stray_ack(facts, txn, final)
            hint = (
                f"; {facts.name(stray)} on that hop does not match it: its Via branch "
                f"{stray.branch!r} is not the INVITE's {txn.request.branch if txn.request else None!r}"
                if stray is not None else ""
            )
            yield deviation(
                MISSING_ACK,
                f"{facts.name(final)} ({what} to INVITE) was never ACKed{hint} (RFC 3261 §17.1.1.3)",
                f=facts.fs([final]), frames=facts.frames([final]),
            )  # fmt: skip
    yield from _missing_2xx_acks(facts)


def _stray_ack(facts: CallFacts, txn: Transaction, final: "SipMessage") -> "SipMessage | None":
    """An ACK sent over the INVITE's hop after its final response that the transaction did
    not take (wrong branch): worth naming, since the server will not take it either."""
    request = txn.request
    if request is None:
        return None
    hop = facts.sides(request)
    for message in facts.requests("ACK"):
        if (
            message.ts_ns >= final.ts_ns
            and message.call_id == request.call_id and message.cseq and request.cseq
            and message.cseq[0] == request.cseq[0] and facts.sides(message) == hop
            and message.branch != request.branch
        ):  # fmt: skip
            return message
    return None


def _missing_2xx_acks(facts: CallFacts) -> Iterable[Deviation]:
    groups: dict[tuple, list["SipMessage"]] = {}
    for message in facts.responses("INVITE"):
        if not 200 <= (message.status or 0) < 300:
            continue
        key = (message.call_id, message.cseq[0] if message.cseq else None, message.to_tag)
        groups.setdefault(key, []).append(message)
    acks = facts.requests("ACK")
    for (call_id, cseq, _), oks in groups.items():
        senders = {facts.sides(m)[0] for m in oks}
        received: dict[Hashable, "SipMessage"] = {}
        for ok in oks:
            receiver = facts.sides(ok)[1]
            received.setdefault(receiver, ok)
        my_acks = [a for a in acks if a.call_id == call_id and (a.cseq[0] if a.cseq else None) == cseq]
        for receiver, first in received.items():
            if receiver in senders:
                continue  # a proxy that forwarded the 2xx upstream: the ACK is not its to send
            if any(facts.sides(a)[0] == receiver and a.ts_ns >= first.ts_ns for a in my_acks):
                continue
            # An ACK from a node that never got a 2xx in this capture: the capture point is
            # past a proxy that does not record-route; that ACK is the one we were waiting for.
            if any(facts.sides(a)[0] not in received and a.ts_ns >= first.ts_ns for a in my_acks):
                continue
            if not went_on(facts, first):
                continue  # the capture stops right after the 2xx: its ACK may just be unseen
            yield deviation(
                MISSING_ACK,
                f"{facts.name(first)} (2xx to INVITE) was never ACKed by its receiver "
                f"(RFC 3261 §13.2.2.4)",
                f=facts.fs([first]), frames=facts.frames([first]),
            )  # fmt: skip


def rule_retransmissions(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §17: each retransmitted message once, with all its copies. A repeated final
    response (its ACK or the request's absorption was lost) and a request repeated after its
    final response (that response was lost) are warnings; a request repeated while waiting is
    information. (Without any retransmission every group of ``_copies`` is one message.)"""
    if not facts.retransmitted:
        return
    for txn in facts.txns.transactions:
        for group in _copies(txn, facts):
            if len(group) < 2:
                continue
            first, repeats = group[0], group[1:]
            copies = ", ".join(f"F{n}" for n in facts.fs(repeats))
            severity = INFO
            if first.is_request:
                final = txn.final
                if first.method != "ACK" and final is not None and final.ts_ns < repeats[0].ts_ns:
                    severity = WARNING
                    why = f"after its final response {facts.name(final)}: that response was lost"
                elif first.method == "ACK":
                    why = "answering a repeated 2xx"
                else:
                    why = "before any final response (a lost request or a slow answer)"
            elif (first.status or 0) >= 200:
                severity = WARNING
                if first.method == "INVITE":
                    ack = _ack_after(facts, first)
                    if ack is not None and ack.ts_ns >= repeats[-1].ts_ns:
                        severity = INFO  # the ACK did arrive, after the timer: late, nothing lost
                        why = f"its ACK {facts.name(ack)} came after the timer fired: late, not lost"
                    else:
                        why = "its ACK never arrived (or was lost)"
                else:
                    why = "the request was repeated: this response was lost"
            else:
                why = "a provisional response repeated"
            yield deviation(
                RETRANSMISSION,
                f"{facts.name(first)} retransmitted as {copies}: {why} (RFC 3261 §17)",
                f=facts.fs(repeats), frames=facts.frames(repeats), severity=severity,
            )  # fmt: skip


def _ack_after(facts: CallFacts, final: "SipMessage") -> "SipMessage | None":
    """The first ACK for ``final`` (same Call-ID and CSeq number) its receiver sent after it."""
    receiver = facts.sides(final)[1]
    for message in facts.requests("ACK"):
        if (message.ts_ns >= final.ts_ns
                and message.call_id == final.call_id and message.cseq and final.cseq
                and message.cseq[0] == final.cseq[0] and facts.sides(message)[0] == receiver):
            return message
    return None


def rule_timers(facts: CallFacts) -> Iterable[Deviation]:
    """Retransmission intervals: timer A doubles from T1 (INVITE, §17.1.1.2); timer E doubles
    up to T2, and is T2 once a provisional arrived (non-INVITE, §17.1.2.2); timer G doubles up
    to T2 (non-2xx final, §17.2.1) as does the 2xx (§13.3.1.4). A larger T1 is allowed
    (§17.1.1.1), so the first interval may set it; the doubling is required. Requests are not
    retransmitted over reliable transports. (Without any retransmission every group of
    ``_copies`` is one message.)"""
    if not facts.retransmitted:
        return
    s = facts.settings
    for txn in facts.txns.transactions:
        for group in _copies(txn, facts):
            if len(group) < 2:
                continue
            first = group[0]
            if first.is_request and first.method == "ACK":
                continue
            if not first.is_request and ((first.status or 0) < 200 or first.method != "INVITE"):
                continue  # provisionals and non-INVITE responses follow the request, no timer
            if first.is_request and facts.transport(first) in RELIABLE:
                yield deviation(
                    TIMER_VIOLATION,
                    f"{facts.name(first)} retransmitted over {facts.transport(first).upper()}, "
                    "a reliable transport (RFC 3261 §17.1.1.2, §17.1.2.2)",
                    f=facts.fs(group[1:]), frames=facts.frames(group[1:]),
                )  # fmt: skip
                continue
            capped = not (first.is_request and first.method == "INVITE")
            t1 = s.t1_ns
            first_gap = group[1].ts_ns - first.ts_ns
            if first_gap > t1:
                t1 = first_gap  # a larger T1 is allowed; the backoff must still double
            t2 = max(s.t2_ns, t1)
            provisional_at = None
            if first.is_request and first.method != "INVITE":
                provisional_at = next(
                    (m.ts_ns for m in txn.messages if not m.is_request and (m.status or 0) < 200), None
                )
            bad: list["SipMessage"] = []
            details: list[str] = []
            for k in range(1, len(group)):
                gap = group[k].ts_ns - group[k - 1].ts_ns
                expected = t1 << (k - 1)
                if capped:
                    expected = min(expected, t2)
                if provisional_at is not None and provisional_at < group[k - 1].ts_ns:
                    expected = t2
                if not _interval_ok(gap, expected):
                    bad.append(group[k])
                    details.append(f"F{facts.f(group[k])} after {gap / 1e6:.0f} ms (expected {expected / 1e6:.0f} ms)")
            if bad:
                timer = "A" if not capped else ("E" if first.is_request else "G")
                yield deviation(
                    TIMER_VIOLATION,
                    f"{facts.name(first)} retransmissions not spaced as timer {timer} requires: "
                    f"{'; '.join(details)} (T1={t1 / 1e6:.0f} ms, T2={t2 / 1e6:.0f} ms; "
                    f"RFC 3261 {'§17.1.1.2' if timer == 'A' else '§17.1.2.2' if timer == 'E' else '§17.2.1'})",
                    f=facts.fs(bad), frames=facts.frames(bad),
                )  # fmt: skip


def _interval_ok(gap_ns: int, expected_ns: int) -> bool:
    # Timers fire late under load and captures add jitter; firing much early, or skipping a
    # step of the backoff (twice the interval), is what breaks the rule.
    return expected_ns * 0.75 - 50_000_000 <= gap_ns <= expected_ns * 1.5 + 100_000_000


def rule_no_final_response(facts: CallFacts) -> Iterable[Deviation]:
    """Timer B (INVITE with no response at all, §17.1.1.2) and timer F (non-INVITE,
    §17.1.2.2) fire 64*T1 after the request: a final response later than that, or none in a
    capture that went on that long, means the transaction timed out."""
    limit = 64 * facts.settings.t1_ns
    for txn in facts.txns.transactions:
        request = txn.request
        if request is None or txn.method in ("ACK", "CANCEL"):
            continue
        if txn.method == "INVITE" and txn.cancel is not None:
            continue  # the CANCEL rules speak for it
        final = txn.final
        timer = "B (§17.1.1.2)" if txn.method == "INVITE" else "F (§17.1.2.2)"
        if final is not None:
            late = final.ts_ns - request.ts_ns
            if late > limit and facts.covered(request.ts_ns, final.ts_ns) and not (txn.method == "INVITE" and _has_provisional(txn)):
                yield deviation(
                    NO_FINAL_RESPONSE,
                    f"{facts.name(final)} answered {facts.name(request)} after {late / 1e9:.1f} s, "
                    f"later than timer {timer} = 64*T1 = {limit / 1e9:.0f} s (RFC 3261)",
                    f=facts.fs([request]), frames=facts.frames([request]),
                )  # fmt: skip
            continue
        if txn.method == "INVITE" and _has_provisional(txn):
            continue  # proceeding: timer B no longer runs; the call may ring for minutes
        waited = facts.end_ns - request.ts_ns
        if waited >= limit and went_on(facts, request) and facts.covered(request.ts_ns, request.ts_ns + limit):
            yield deviation(
                NO_FINAL_RESPONSE,
                f"{facts.name(request)} got no final response in the {waited / 1e9:.1f} s the "
                f"capture runs after it; timer {timer} fires at 64*T1 = {limit / 1e9:.0f} s (RFC 3261)",
                f=facts.fs([request]), frames=facts.frames([request]),
            )  # fmt: skip


def _has_provisional(txn: Transaction) -> bool:
    return any(not m.is_request and (m.status or 0) < 200 for m in txn.messages)


def rule_cancel(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §9.2: the UAS answers a CANCEL with 200 and the pending INVITE with 487."""
    limit = 64 * facts.settings.t1_ns
    for txn in facts.txns.transactions:
        if txn.method != "CANCEL" or txn.request is None:
            continue
        cancel = txn.request
        receiver = facts.sides(cancel)[1]
        went_on = len(facts.messages) > 1 and not facts.settings.damaged and (
            (facts.end_ns - cancel.ts_ns >= limit and facts.covered(cancel.ts_ns, cancel.ts_ns + limit))
            or any(facts.sides(m)[0] == receiver and m.ts_ns > cancel.ts_ns and facts.covered(cancel.ts_ns, m.ts_ns)
                   for m in facts.messages)
        )
        if txn.final is None and went_on:
            yield deviation(
                CANCEL_WITHOUT_200,
                f"{facts.name(cancel)} was never answered (a 200 OK is due, RFC 3261 §9.2)",
                f=facts.fs([cancel]), frames=facts.frames([cancel]),
            )  # fmt: skip
        invite = txn.cancels
        if invite is None:
            continue
        final = invite.final
        if final is None:
            if went_on:
                yield deviation(
                    CANCEL_WITHOUT_487,
                    f"the INVITE cancelled by {facts.name(cancel)} got no final response "
                    "(487 Request Terminated is due, RFC 3261 §9.2)",
                    f=facts.fs([cancel]), frames=facts.frames([cancel]),
                )  # fmt: skip
        elif final.status != 487 and (final.status or 0) >= 300 and final.ts_ns > cancel.ts_ns:
            yield deviation(
                CANCEL_WITHOUT_487,
                f"the INVITE cancelled by {facts.name(cancel)} was answered {facts.name(final)} "
                "instead of 487 Request Terminated (RFC 3261 §9.2)",
                f=facts.fs([cancel, final]), frames=facts.frames([final]), severity=INFO,
            )  # fmt: skip


def rule_no_retransmission(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §17.1.2.2: over UDP a non-INVITE client transaction retransmits its request
    when timer E fires, T1 after sending it. A request that got no response for twice T1
    (a margin for a late timer), in a capture that ran on, and was not sent again, broke it."""
    t1 = facts.settings.t1_ns
    for txn in facts.txns.transactions:
        request = txn.request
        if request is None or txn.method in ("INVITE", "ACK") or facts.transport(request) != "udp":
            continue
        if facts.is_retransmission(request):
            continue
        answered = next((m.ts_ns for m in txn.messages if not m.is_request), None)  # (its first response)
        until = answered if answered is not None else facts.end_ns
        if until - request.ts_ns <= 2 * t1 or not facts.covered(request.ts_ns, request.ts_ns + 2 * t1):
            continue
        if answered is None and not went_on(facts, request):
            continue
        again = [m for m in txn.messages if m.is_request and facts.is_retransmission(m) and m.ts_ns < until]
        if again:
            continue
        how = (f"its first response came {(answered - request.ts_ns) / 1e9:.1f} s later"
               if answered is not None else "no response came")
        yield deviation(
            NO_RETRANSMISSION,
            f"{facts.name(request)} over UDP was not retransmitted though {how}; timer E fires at "
            f"T1 = {t1 / 1e6:.0f} ms (RFC 3261 §17.1.2.2)",
            f=facts.fs([request]), frames=facts.frames([request]),
        )  # fmt: skip
