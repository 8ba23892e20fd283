"""What must follow a message: a PRACK for a reliable provisional (RFC 3262 §4), a NOTIFY for
an accepted SUBSCRIBE (RFC 6665 §4.2.1.2)."""

from __future__ import annotations

from collections.abc import Iterable

from ladder.check.deviations import WARNING, Code, Deviation, deviation
from ladder.check.rules.facts import CallFacts, reliable_provisional, went_on

PRACK_MISSING = Code("prack-missing", WARNING, "RFC 3262 §4", "a reliable provisional response (Require: 100rel, RSeq) never PRACKed")
NOTIFY_MISSING = Code("notify-missing", WARNING, "RFC 6665 §4.2.1.2", "a SUBSCRIBE accepted with a 2xx but no NOTIFY from the notifier")  # fmt: skip
CODES = (PRACK_MISSING, NOTIFY_MISSING,)


# --- what must follow: PRACK, NOTIFY, a retransmission ----------------------------------------


def rule_prack(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3262 §4: the UAC acknowledges each reliable provisional response (Require: 100rel,
    RSeq) with a PRACK whose RAck names its RSeq and CSeq. A PRACK anywhere in the call
    with that RAck counts (proxies relay it); the capture must go on after the response. (A
    call without any RSeq header has no reliable provisional response.)"""
    if not facts.carries("rseq"):
        return
    racks = {(m.call_id, tuple((m.header("rack") or "").split()[:2])) for m in facts.requests("PRACK")}
    reported: set[tuple] = set()
    for message in facts.originals:
        if not reliable_provisional(message) or not message.cseq:
            continue
        rseq = (message.header("rseq") or "").strip()
        wanted = (message.call_id, (rseq, str(message.cseq[0])))
        if wanted in racks or wanted in reported or not went_on(facts, message):
            continue
        reported.add(wanted)
        other = next((m for m in facts.requests("PRACK") if m.ts_ns >= message.ts_ns
                      and m.call_id == message.call_id and m.to_tag == message.to_tag), None)
        but = (f"; {facts.name(other)} has RAck {(other.header('rack') or '').strip()!r}, which names "
               "another response" if other is not None else "")
        yield deviation(
            PRACK_MISSING,
            f"{facts.name(message)} was sent reliably (RSeq {rseq}, Require: 100rel) but no PRACK "
            f"with RAck {rseq} {message.cseq[0]} {message.cseq[1]} followed{but} (RFC 3262 §4)",
            f=facts.fs([message]), frames=facts.frames([message]),
        )  # fmt: skip


def rule_notify(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 6665 §4.2.1.2: a notifier that answers a SUBSCRIBE with a 2xx immediately sends a
    NOTIFY. Any NOTIFY of the Call-ID from the notifier's side (the 2xx's To tag as its
    From tag) counts, before or after the 2xx (they may cross)."""
    notifies = {(m.call_id, m.from_tag) for m in facts.requests("NOTIFY")}
    reported: set[tuple] = set()
    for message in facts.responses("SUBSCRIBE"):
        if not 200 <= (message.status or 0) < 300:
            continue
        key = (message.call_id, message.to_tag)
        if key in notifies or key in reported or not went_on(facts, message):
            continue
        reported.add(key)
        yield deviation(
            NOTIFY_MISSING,
            f"{facts.name(message)} accepted the SUBSCRIBE but no NOTIFY from the notifier followed "
            "(RFC 6665 §4.2.1.2)",
            f=facts.fs([message]), frames=facts.frames([message]),
        )  # fmt: skip
