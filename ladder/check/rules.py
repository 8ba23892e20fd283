"""Rules that need no reference flow: RFC 3261 transactions, timers, proxies, dialogs and
framing; RFC 3264 offer/answer. Each finding cites its section.

Rules read a call's messages in capture order (``SipMessage`` with src/dst/ts_ns set) and
return ``Deviation`` records. Two callables tie them to a ladder: ``number(message)`` gives the
F-number shown for a message, ``sides(message)`` the (sender, receiver) nodes (ladder columns,
so that a UA's TCP source ports do not make it several nodes). Both have defaults (position in
the list; ip:port), so the rules can be tested on bare parsed messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ladder.capture.continuity import continuous
from ladder.check.deviations import INFO, WARNING, Deviation, deviation
from decoders.sipuri import split_outside_quotes
from ladder.calls.transactions import MAGIC_COOKIE, Transaction, TransactionSet, build_transactions

if TYPE_CHECKING:
    from decoders.sdp import SdpMedia, SdpSession
    from decoders.sip import SipMessage

RELIABLE = frozenset({"tcp", "tls", "sctp", "ws", "wss"})
_EXTRA_BYTES_RE = re.compile(r"^(\d+) bytes after the Content-Length")
_REALM_RE = re.compile(r"realm\s*=\s*\"([^\"]*)\"", re.IGNORECASE)
_LR_FORMS = {"lr=on": "lr", "lr=true": "lr", "lr=1": "lr"}  # what some proxies write for ;lr
_STALE_RE = re.compile(r"stale\s*=\s*\"?true", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Timer values (RFC 3261 §17.1.1.1 defaults) and what is known about the path.

    ``end_ns`` is when the capture stops: "no response within 64*T1" can only be said of a
    capture that went on that long, without a break (``breaks``) in between. ``path_mtu`` None means unknown (then 1300 bytes, §18.1.1).
    """

    t1_ns: int = 500_000_000
    t2_ns: int = 4_000_000_000
    path_mtu: int | None = None
    end_ns: int | None = None
    breaks: tuple[tuple[int, int], ...] = ()  # time ranges the capture does not cover (ladder.capture.continuity)
    damaged: bool = False  # a damaged or fuzzed capture: nothing is concluded from silence


def _default_sides(message: "SipMessage") -> tuple[Hashable, Hashable]:
    src = message.src.address() if message.src else None
    dst = message.dst.address() if message.dst else None
    return src, dst


class _Facts:
    """What every rule needs: the messages, their transactions, numbering and nodes."""

    def __init__(
        self,
        messages: Sequence["SipMessage"],
        number: Callable[["SipMessage"], int | None] | None,
        sides: Callable[["SipMessage"], tuple[Hashable, Hashable]] | None,
        settings: RuleSettings,
        transactions: TransactionSet | None,
    ) -> None:
        self.messages = list(messages)
        self.settings = settings
        self.txns = transactions if transactions is not None else build_transactions(self.messages)
        # Asked for every message by most rules: one set, not a look-up through its transaction.
        self._repeats = {i for txn in self.txns.transactions for i in txn.retransmissions}
        positions = {id(m): i + 1 for i, m in enumerate(self.messages)}
        self._number = number or (lambda m: positions.get(id(m)))
        self.sides = sides or _default_sides
        last = max((m.ts_ns for m in self.messages), default=0)
        self.end_ns = max(settings.end_ns or 0, last)

    def covered(self, start_ns: int, end_ns: int) -> bool:
        """Whether the capture runs continuously from ``start_ns`` to ``end_ns``."""
        return continuous(self.settings.breaks, start_ns, end_ns)

    def f(self, message: "SipMessage") -> int | None:
        return self._number(message)

    def fs(self, messages: Iterable["SipMessage"]) -> list[int]:
        return [n for n in (self.f(m) for m in messages) if n is not None]

    def frames(self, messages: Iterable["SipMessage"]) -> list[int]:
        return [ref.number for m in messages for ref in m.frames]

    def is_retransmission(self, message: "SipMessage") -> bool:
        return id(message) in self._repeats

    def name(self, message: "SipMessage") -> str:
        """``F4 INVITE`` / ``F12 200``: how a finding names a message."""
        n = self.f(message)
        what = message.method if message.is_request else str(message.status)
        if what and len(what) > 24:
            what = what[:20] + "…"  # a test suite's 2000-byte method name
        return f"F{n} {what}" if n is not None else str(what)

    def transport(self, message: "SipMessage") -> str:
        if message.src is not None:
            return message.src.transport.lower()
        via = message.top_via
        return (via.transport or "udp").lower() if via is not None else "udp"


def check_rules(
    messages: Sequence["SipMessage"],
    *,
    number: Callable[["SipMessage"], int | None] | None = None,
    sides: Callable[["SipMessage"], tuple[Hashable, Hashable]] | None = None,
    settings: RuleSettings | None = None,
    transactions: TransactionSet | None = None,
) -> list[Deviation]:
    """Every reference-free finding for one call's ``messages`` (capture order)."""
    facts = _Facts(messages, number, sides, settings or RuleSettings(), transactions)
    found: list[Deviation] = []
    for rule in RULES:
        found.extend(rule(facts))
    return found


# --- transactions: ACK, retransmissions, timers -----------------------------------------------


def _copies(txn: Transaction, facts: _Facts) -> list[list["SipMessage"]]:
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


def rule_missing_ack(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §17.1.1.3 (ACK of a non-2xx final, hop by hop: same branch and CSeq number as
    the INVITE) and §13.2.2.4 (ACK of a 2xx, end to end, from the UA that received it)."""
    for txn in facts.txns.transactions:
        final = txn.final
        if txn.method != "INVITE" or final is None or (final.status or 0) < 300:
            continue
        ack = next(
            (m for m in txn.messages if m.is_request and m.method == "ACK" and m.ts_ns >= final.ts_ns
             and m.cseq and final.cseq and m.cseq[0] == final.cseq[0]),
            None,
        )  # fmt: skip
        if ack is None and _went_on(facts, final):
            what = "487 Request Terminated" if final.status == 487 else f"{final.status} final response"
            stray = _stray_ack(facts, txn, final)
            hint = (
                f"; {facts.name(stray)} on that hop does not match it: its Via branch "
                f"{stray.branch!r} is not the INVITE's {txn.request.branch if txn.request else None!r}"
                if stray is not None else ""
            )
            yield deviation(
                "missing-ack",
                f"{facts.name(final)} ({what} to INVITE) was never ACKed{hint} (RFC 3261 §17.1.1.3)",
                f=facts.fs([final]), frames=facts.frames([final]),
            )  # fmt: skip
    yield from _missing_2xx_acks(facts)


def _went_on(facts: _Facts, message: "SipMessage") -> bool:
    """Whether the capture shows what came after ``message``: a later message of the call, or
    64*T1 of capture after it. Without either, a missing answer may just be out of sight."""
    if len(facts.messages) == 1 or facts.settings.damaged:
        return False  # a lone message (a filtered capture), a damaged one: nothing shows it was watched
    limit = 64 * facts.settings.t1_ns
    if facts.end_ns - message.ts_ns >= limit and facts.covered(message.ts_ns, message.ts_ns + limit):
        return True
    return any(m.ts_ns > message.ts_ns and facts.covered(message.ts_ns, m.ts_ns) for m in facts.messages)


def _stray_ack(facts: _Facts, txn: Transaction, final: "SipMessage") -> "SipMessage | None":
    """An ACK sent over the INVITE's hop after its final response that the transaction did
    not take (wrong branch): worth naming, since the server will not take it either."""
    request = txn.request
    if request is None:
        return None
    hop = facts.sides(request)
    for message in facts.messages:
        if (
            message.is_request and message.method == "ACK" and message.ts_ns >= final.ts_ns
            and message.call_id == request.call_id and message.cseq and request.cseq
            and message.cseq[0] == request.cseq[0] and facts.sides(message) == hop
            and message.branch != request.branch
        ):  # fmt: skip
            return message
    return None


def _missing_2xx_acks(facts: _Facts) -> Iterable[Deviation]:
    groups: dict[tuple, list["SipMessage"]] = {}
    for message in facts.messages:
        if message.is_request or message.method != "INVITE" or not 200 <= (message.status or 0) < 300:
            continue
        key = (message.call_id, message.cseq[0] if message.cseq else None, message.to_tag)
        groups.setdefault(key, []).append(message)
    acks = [m for m in facts.messages if m.is_request and m.method == "ACK"]
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
            if not _went_on(facts, first):
                continue  # the capture stops right after the 2xx: its ACK may just be unseen
            yield deviation(
                "missing-ack",
                f"{facts.name(first)} (2xx to INVITE) was never ACKed by its receiver "
                f"(RFC 3261 §13.2.2.4)",
                f=facts.fs([first]), frames=facts.frames([first]),
            )  # fmt: skip


def rule_retransmissions(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §17: each retransmitted message once, with all its copies. A repeated final
    response (its ACK or the request's absorption was lost) and a request repeated after its
    final response (that response was lost) are warnings; a request repeated while waiting is
    information."""
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
                "retransmission",
                f"{facts.name(first)} retransmitted as {copies}: {why} (RFC 3261 §17)",
                f=facts.fs(repeats), frames=facts.frames(repeats), severity=severity,
            )  # fmt: skip


def _ack_after(facts: _Facts, final: "SipMessage") -> "SipMessage | None":
    """The first ACK for ``final`` (same Call-ID and CSeq number) its receiver sent after it."""
    receiver = facts.sides(final)[1]
    for message in facts.messages:
        if (message.is_request and message.method == "ACK" and message.ts_ns >= final.ts_ns
                and message.call_id == final.call_id and message.cseq and final.cseq
                and message.cseq[0] == final.cseq[0] and facts.sides(message)[0] == receiver):
            return message
    return None


def rule_timers(facts: _Facts) -> Iterable[Deviation]:
    """Retransmission intervals: timer A doubles from T1 (INVITE, §17.1.1.2); timer E doubles
    up to T2, and is T2 once a provisional arrived (non-INVITE, §17.1.2.2); timer G doubles up
    to T2 (non-2xx final, §17.2.1) as does the 2xx (§13.3.1.4). A larger T1 is allowed
    (§17.1.1.1), so the first interval may set it; the doubling is required. Requests are not
    retransmitted over reliable transports."""
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
                    "timer-violation",
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
                    "timer-violation",
                    f"{facts.name(first)} retransmissions not spaced as timer {timer} requires: "
                    f"{'; '.join(details)} (T1={t1 / 1e6:.0f} ms, T2={t2 / 1e6:.0f} ms; "
                    f"RFC 3261 {'§17.1.1.2' if timer == 'A' else '§17.1.2.2' if timer == 'E' else '§17.2.1'})",
                    f=facts.fs(bad), frames=facts.frames(bad),
                )  # fmt: skip


def _interval_ok(gap_ns: int, expected_ns: int) -> bool:
    # Timers fire late under load and captures add jitter; firing much early, or skipping a
    # step of the backoff (twice the interval), is what breaks the rule.
    return expected_ns * 0.75 - 50_000_000 <= gap_ns <= expected_ns * 1.5 + 100_000_000


def rule_no_final_response(facts: _Facts) -> Iterable[Deviation]:
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
                    "no-final-response",
                    f"{facts.name(final)} answered {facts.name(request)} after {late / 1e9:.1f} s, "
                    f"later than timer {timer} = 64*T1 = {limit / 1e9:.0f} s (RFC 3261)",
                    f=facts.fs([request]), frames=facts.frames([request]),
                )  # fmt: skip
            continue
        if txn.method == "INVITE" and _has_provisional(txn):
            continue  # proceeding: timer B no longer runs; the call may ring for minutes
        waited = facts.end_ns - request.ts_ns
        if waited >= limit and _went_on(facts, request) and facts.covered(request.ts_ns, request.ts_ns + limit):
            yield deviation(
                "no-final-response",
                f"{facts.name(request)} got no final response in the {waited / 1e9:.1f} s the "
                f"capture runs after it; timer {timer} fires at 64*T1 = {limit / 1e9:.0f} s (RFC 3261)",
                f=facts.fs([request]), frames=facts.frames([request]),
            )  # fmt: skip


def _has_provisional(txn: Transaction) -> bool:
    return any(not m.is_request and (m.status or 0) < 200 for m in txn.messages)


def rule_cancel(facts: _Facts) -> Iterable[Deviation]:
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
                "cancel-without-200",
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
                    "cancel-without-487",
                    f"the INVITE cancelled by {facts.name(cancel)} got no final response "
                    "(487 Request Terminated is due, RFC 3261 §9.2)",
                    f=facts.fs([cancel]), frames=facts.frames([cancel]),
                )  # fmt: skip
        elif final.status != 487 and (final.status or 0) >= 300 and final.ts_ns > cancel.ts_ns:
            yield deviation(
                "cancel-without-487",
                f"the INVITE cancelled by {facts.name(cancel)} was answered {facts.name(final)} "
                "instead of 487 Request Terminated (RFC 3261 §9.2)",
                f=facts.fs([cancel, final]), frames=facts.frames([final]), severity=INFO,
            )  # fmt: skip


# --- proxies and dialogs ------------------------------------------------------------------------


def _via_chain(message: "SipMessage") -> tuple:
    return tuple((v.branch or "", (v.host or "").lower(), v.port) for v in message.vias)


def rule_max_forwards(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §16.6 step 3: a proxy decrements Max-Forwards by one. A forwarded request is
    recognised by its Vias: the proxy's own on top of the incoming request's."""
    incoming: dict[tuple, "SipMessage"] = {}
    for message in facts.messages:
        if message.is_request and not facts.is_retransmission(message):
            incoming.setdefault(_via_chain(message), message)
    for message in facts.messages:
        if not message.is_request or facts.is_retransmission(message) or len(message.vias) < 2:
            continue
        before = incoming.get(_via_chain(message)[1:])
        if before is None or before.method != message.method:
            continue
        if before.max_forwards is None or message.max_forwards is None:
            continue
        if message.max_forwards >= before.max_forwards:
            yield deviation(
                "max-forwards-not-decremented",
                f"{facts.name(message)} forwards {facts.name(before)} with Max-Forwards "
                f"{message.max_forwards} (was {before.max_forwards}; RFC 3261 §16.6 step 3)",
                f=facts.fs([before, message]), frames=facts.frames([message]),
            )  # fmt: skip


def _uri_of(value: str) -> str:
    """The URI of a Route / Record-Route value, normalised for comparison: no display name,
    scheme and host lower case, parameters sorted."""
    text = value.strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1 : text.index(">")]
    base, _, params = text.partition(";")
    parts = sorted(_LR_FORMS.get(p.strip().lower(), p.strip().lower()) for p in params.split(";") if p.strip())
    return ";".join([base.strip().lower()] + parts)


def _names_sender(uri: str, message: "SipMessage") -> bool:
    """Whether a normalised Route URI points at the node that sent ``message``: its IP, and
    its source port or its Via sent-by port when the URI has a port (over TCP the source port
    is an ephemeral one)."""
    if message.src is None:
        return False
    hostport = uri.split(";", 1)[0].split(":", 1)[-1].rsplit("@", 1)[-1]
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    if host != str(message.src.ip).lower():
        return False
    via = message.top_via
    ports = {message.src.port, via.port if via is not None and via.port else 5060}
    return not port.isdigit() or int(port) in ports


def _without_sender(uris: list[str], message: "SipMessage") -> list[str]:
    """``uris`` without leading entries naming the sender (§16.4: the node removes them)."""
    while uris and _names_sender(uris[0], message):
        uris = uris[1:]
    return uris


def _dialog_route_sets(facts: _Facts) -> dict[tuple, list[tuple[int, str, list[str]]]]:
    """(Call-ID, sender's tag, peer's tag) -> (whose, route set) for the dialogs created by an
    initial INVITE (§12.1): the UAC's is the Record-Route of the response that reached it
    (one Via left), reversed (§12.1.2); the UAS's is the Record-Route of the INVITE as it
    arrived at the node that answered it with that To tag, in order, empty when that INVITE
    had none (§12.1.1). Each entry is (from when, whose, route set): the UAC's early dialog takes
    its route set from the provisional response that created it, and the 2xx recomputes it
    (§13.2.2.4); a re-INVITE never changes it (§12.2)."""
    sets: dict[tuple, list[tuple[int, str, list[str]]]] = {}
    invites: dict[tuple, list["SipMessage"]] = {}
    for message in facts.messages:
        if message.is_request and message.method == "INVITE" and not message.to_tag:
            invites.setdefault((message.call_id, message.from_tag, message.cseq), []).append(message)
    for message in facts.messages:
        if message.is_request or message.method != "INVITE" or not message.to_tag:
            continue
        if not 100 < (message.status or 0) < 300:
            continue
        copies = invites.get((message.call_id, message.from_tag, message.cseq))
        if not copies:
            continue  # a response to a re-INVITE, or its INVITE is not in the capture
        record_route = message.header_values("record-route")
        uac = (message.call_id, message.from_tag, message.to_tag)
        if len(message.vias) == 1:
            final = (message.status or 0) >= 200
            known = sets.setdefault(uac, [])
            if not (final and any(w.startswith("the 2xx") for _t, w, _r in known)):
                whose = ("the 2xx's Record-Route reversed (§12.1.2, §13.2.2.4)" if final
                         else "the provisional response's Record-Route reversed (§12.1.2, early dialog)")
                known.append((message.ts_ns, whose, [_uri_of(v) for v in reversed(record_route)]))
        uas = (message.call_id, message.to_tag, message.from_tag)
        if uas in sets:
            continue
        sender = facts.sides(message)[0]
        arrived = [m for m in copies if facts.sides(m)[1] == sender and len(m.vias) == len(message.vias)]
        if arrived:
            route = [_uri_of(v) for v in arrived[0].header_values("record-route")]
            sets[uas] = [(0, "the INVITE's Record-Route (§12.1.1)", route)]
    return sets


def rule_route_set(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §12.2.1.1: an in-dialog request carries the dialog's route set as Route
    (``_dialog_route_sets``). Checked on requests as their UA sent them (one Via), for loose
    routers (``;lr``) only. A leading entry naming the sender itself (a UA that Record-Routes
    itself, an outbound proxy on its own host) is left out on both sides: the node removes it
    (§16.4)."""
    sets = _dialog_route_sets(facts)
    for message in facts.messages:
        if not message.is_request or len(message.vias) != 1 or not message.to_tag:
            continue
        if message.method == "CANCEL" or facts.is_retransmission(message):
            continue
        txn = facts.txns.of(message)
        if message.method == "ACK" and txn is not None and txn.method == "INVITE":
            continue  # the ACK of a non-2xx final goes where the INVITE went (§17.1.1.3)
        known = sets.get((message.call_id, message.from_tag, message.to_tag))
        if not known:
            continue
        # the route set in force when the request left: the latest response that set it before
        _t, whose, expected = max((e for e in known if e[0] <= message.ts_ns), key=lambda e: e[0], default=known[0])
        if expected and not any(p == "lr" or p.startswith("lr=") for p in expected[0].split(";")[1:]):
            continue  # a strict router rewrites the Request-URI instead (§12.2.1.1)
        route = [_uri_of(v) for v in message.header_values("route")]
        if route != expected and _without_sender(route, message) != _without_sender(expected, message):
            yield deviation(
                "route-set-violation",
                f"{facts.name(message)} has Route {_show(route)} but the route set is "
                f"{_show(expected)}, {whose} (RFC 3261 §12.2.1.1)",
                f=facts.fs([message]), frames=facts.frames([message]),
            )  # fmt: skip


def _show(uris: list[str]) -> str:
    return ", ".join(f"<{u}>" for u in uris) if uris else "(none)"


def rule_cseq(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §12.2.1.1: each new request a UA sends in a dialog has a higher CSeq than its
    previous one there; its number in an early or confirmed dialog starts from the CSeq of the
    INVITE (or SUBSCRIBE) that created it (§12.1.2), so forks each count from there. §22.2: a
    request resubmitted with credentials after a 401/407 increments the CSeq. Outside these
    (two out-of-dialog requests, the same request relayed by another node) there is no order
    to keep. Followed per sending node: a B2BUA relaying keeps its own count. ACK and CANCEL
    reuse the INVITE's number; REGISTER has ``rule_register_cseq``."""
    start: dict[tuple, tuple[int, "SipMessage"]] = {}  # (sender, Call-ID, From tag) -> creating request
    last: dict[tuple, tuple[int, str, "SipMessage"]] = {}
    challenged: dict[tuple, "SipMessage"] = {}  # (sender, Call-ID, method) -> request a 401/407 answered
    created = {
        (m.call_id, m.from_tag, m.to_tag) for m in facts.messages
        if not m.is_request and m.to_tag and 100 < (m.status or 0) < 300 and m.method in ("INVITE", "SUBSCRIBE", "REFER")
    }  # fmt: skip
    reported: set[tuple] = set()  # the same faulty request relayed by a proxy: reported once
    for message in facts.messages:
        if not message.is_request or message.method in ("ACK", "CANCEL", "REGISTER") or not message.cseq:
            continue
        if facts.is_retransmission(message):
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


def _bottom_branch(message: "SipMessage") -> str:
    return (message.vias[-1].branch or "") if message.vias else ""


def _was_challenged(facts: _Facts, request: "SipMessage") -> bool:
    txn = facts.txns.of(request)
    return txn is not None and txn.final is not None and txn.final.status in (401, 407)


def _cseq_of(message: "SipMessage") -> tuple[int, str]:
    """The CSeq of a message these rules only follow when it has one."""
    return message.cseq if message.cseq is not None else (0, "")


def _cseq_finding(facts: _Facts, message: "SipMessage", before: "SipMessage", why: str) -> Deviation:
    return deviation(
        "cseq-not-increasing",
        f"{facts.name(message)} has CSeq {_cseq_of(message)[0]} {_cseq_of(message)[1]}, not higher than "
        f"{facts.name(before)}'s {_cseq_of(before)[0]} {_cseq_of(before)[1]} ({why}; RFC 3261)",
        f=facts.fs([before, message]), frames=facts.frames([message]),
    )  # fmt: skip


def rule_register_cseq(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §10.2: a UA increments the CSeq by one for each REGISTER with the same
    Call-ID, whatever its From tag. Followed per sending node, so that a REGISTER relayed by
    an SBC or proxy with the same number is not a second request of the UA."""
    last: dict[tuple, "SipMessage"] = {}
    faults: dict[tuple, list["SipMessage"]] = {}  # (sender, Call-ID) -> the REGISTERs out of order
    for message in facts.messages:
        if not message.is_request or message.method != "REGISTER" or not message.cseq:
            continue
        if facts.is_retransmission(message):
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
            "register-cseq-not-increasing",
            f"{named}: not higher than {facts.name(first)}'s CSeq {_cseq_of(first)[0]}; a UA increments "
            "the CSeq by one for each REGISTER of one Call-ID (RFC 3261 §10.2)",
            f=facts.fs(group), frames=facts.frames(later),
        )  # fmt: skip


# --- what a UAS copies into its response (RFC 3261 §8.2.6.2, §12.1.1) ----------------------


def _uas_responses(facts: _Facts) -> Iterable[tuple["SipMessage", "SipMessage"]]:
    """(request, response) where ``response`` is the answer of the node the request reached
    and did not forward: the same top Via branch, back over the same hop, as many Vias, and
    no copy of the request leaving that node with one Via more."""
    forwarded: set[tuple] = set()
    for message in facts.messages:
        if message.is_request and len(message.vias) >= 2:
            below = message.vias[1]
            forwarded.add((message.call_id, message.cseq, below.branch, facts.sides(message)[0]))
    for txn in facts.txns.transactions:
        if txn.request is None or txn.method in ("ACK", "CANCEL"):
            continue
        for response in txn.responses:
            if facts.is_retransmission(response):
                continue
            # The request it answers: the last one before it with its CSeq (a UA that reuses a
            # branch for a new request puts two requests in one transaction).
            request = next((m for m in reversed(txn.messages) if m.is_request and m.cseq == response.cseq
                            and m.ts_ns <= response.ts_ns and m.vias), None)
            if request is None:
                continue
            hop = facts.sides(request)
            if (request.call_id, request.cseq, request.vias[0].branch, hop[1]) in forwarded:
                continue  # a proxy passed it on: its responses are relayed, not made there
            if facts.sides(response) == (hop[1], hop[0]) and len(response.vias) == len(request.vias):
                yield request, response


def _via_value(via) -> tuple:
    """A Via as §8.2.6.2 compares it: the server's ``received``/``rport`` values (§18.2.1,
    RFC 3581) are the ones it may add."""
    params = tuple(sorted((k, v) for k, v in via.params.items() if k not in ("received", "rport")))
    return (via.protocol.upper(), via.transport.upper(), via.host.lower(), via.port, params)


def rule_uas_copies(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §8.2.6.2: a response's Via values equal the request's (the top one may gain
    ``received`` and ``rport``). §12.1.1: a UAS copies every Record-Route value of the
    request into a dialog-creating response, URI parameters included, in order."""
    via_groups: dict[tuple, list["SipMessage"]] = {}
    rr_groups: dict[tuple, tuple["SipMessage", list["SipMessage"]]] = {}
    for request, response in _uas_responses(facts):
        if [_via_value(v) for v in response.vias] != [_via_value(v) for v in request.vias]:
            via_groups.setdefault((id(request),), [request]).append(response)
        record_route = request.header_values("record-route")
        if not record_route or not response.to_tag or not 100 < (response.status or 0) < 300:
            continue
        if request.method not in ("INVITE", "SUBSCRIBE", "REFER") or request.to_tag:
            continue
        copied = [v.strip() for v in response.header_values("record-route")]
        wanted = [v.strip() for v in record_route]
        if len(copied) > len(wanted) and copied[len(copied) - len(wanted):] == wanted:
            continue  # proxies past the capture added theirs on top: the node forwarded it unseen
        if copied != wanted:
            rr_groups.setdefault((id(request), tuple(copied)), (request, []))[1].append(response)
    for group in via_groups.values():
        request, responses = group[0], group[1:]
        yield deviation(
            "via-mismatch",
            f"{', '.join(facts.name(r) for r in responses)} {'answers' if len(responses) == 1 else 'answer'} {facts.name(request)} with other Via "
            f"values than the request's ({_vias(responses[0])} for {_vias(request)}; RFC 3261 §8.2.6.2)",
            f=facts.fs(responses), frames=facts.frames(responses),
        )  # fmt: skip
    for request, responses in rr_groups.values():
        copied = responses[0].header_values("record-route")
        yield deviation(
            "record-route-not-copied",
            f"{facts.name(responses[0])} has Record-Route {_listed(copied)} but {facts.name(request)} "
            f"arrived with {_listed(request.header_values('record-route'))}; the UAS copies them verbatim, "
            "URI parameters included (RFC 3261 §12.1.1)",
            f=facts.fs(responses), frames=facts.frames(responses),
        )  # fmt: skip


def _vias(message: "SipMessage") -> str:
    return " | ".join(f"{v.sent_by()};branch={v.branch}" for v in message.vias) or "none"


def _listed(values: list[str]) -> str:
    return ", ".join(v.strip() for v in values) if values else "(none)"


_PARAM_HEADERS = ("from", "to", "via", "contact", "record-route", "route")


def _header_params(name: str, value: str) -> list[str]:
    """The header parameters' names of one header value (those of its URI left out: in a
    name-addr they are inside <>, in a Via they are all header parameters)."""
    if name == "via":
        params = value.split(";", 1)[1] if ";" in value else ""
    elif "<" in value and ">" in value:
        params = value[value.index(">") + 1 :]
    elif value.strip() == "*":
        return []
    else:
        params = value.split(";", 1)[1] if ";" in value else ""
    names = []
    for piece in split_outside_quotes(params, ";"):
        piece = piece.strip()
        if piece:
            names.append(piece.partition("=")[0].strip().lower())
    return names


def _params_twice(name: str, value: str) -> tuple[str, ...]:
    """The header parameter names ``value`` has more than once, sorted."""
    if value.count(";") < 2 and (name == "via" or "<" not in value or ">" not in value):
        return ()  # one ';' at most before the parameters: one parameter at most
    names = _header_params(name, value)
    return tuple(sorted({n for n in names if names.count(n) > 1}))


def rule_duplicate_parameter(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §7.3.1: a parameter name appears at most once in a header field value (two
    ``tag=`` on a To header leave the dialog undefined). One finding per sender and header."""
    groups: dict[tuple, tuple[str, list["SipMessage"]]] = {}
    known: dict[tuple[str, str], tuple[str, ...]] = {}  # a call repeats its From, To, Via values
    for message in facts.messages:
        if facts.is_retransmission(message):
            continue
        for name in _PARAM_HEADERS:
            for value in message.header_values(name):
                twice = known.get((name, value))
                if twice is None:
                    twice = known[(name, value)] = _params_twice(name, value)
                if twice:
                    key = (facts.sides(message)[0], name, tuple(twice))
                    groups.setdefault(key, (value.strip(), []))[1].append(message)
    for (_, name, twice), (value, messages) in groups.items():
        shown = ", ".join(f"{n}=" for n in twice)
        yield deviation(
            "duplicate-parameter",
            f"{facts.name(messages[0])} has {shown} more than once in {name.title()}: {value[:120]!r} "
            f"({len(messages)} message(s) from this sender; RFC 3261 §7.3.1)",
            f=facts.fs(messages), frames=facts.frames(messages),
        )  # fmt: skip


# --- what must follow: PRACK, NOTIFY, a retransmission ----------------------------------------


def rule_prack(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3262 §4: the UAC acknowledges each reliable provisional response (Require: 100rel,
    RSeq) with a PRACK whose RAck names its RSeq and CSeq. A PRACK anywhere in the call
    with that RAck counts (proxies relay it); the capture must go on after the response."""
    racks = {(m.call_id, tuple((m.header("rack") or "").split()[:2]))
             for m in facts.messages if m.is_request and m.method == "PRACK"}
    reported: set[tuple] = set()
    for message in facts.messages:
        if not _reliable_provisional(message) or facts.is_retransmission(message) or not message.cseq:
            continue
        rseq = (message.header("rseq") or "").strip()
        wanted = (message.call_id, (rseq, str(message.cseq[0])))
        if wanted in racks or wanted in reported or not _went_on(facts, message):
            continue
        reported.add(wanted)
        other = next((m for m in facts.messages if m.is_request and m.method == "PRACK" and m.ts_ns >= message.ts_ns
                      and m.call_id == message.call_id and m.to_tag == message.to_tag), None)
        but = (f"; {facts.name(other)} has RAck {(other.header('rack') or '').strip()!r}, which names "
               "another response" if other is not None else "")
        yield deviation(
            "prack-missing",
            f"{facts.name(message)} was sent reliably (RSeq {rseq}, Require: 100rel) but no PRACK "
            f"with RAck {rseq} {message.cseq[0]} {message.cseq[1]} followed{but} (RFC 3262 §4)",
            f=facts.fs([message]), frames=facts.frames([message]),
        )  # fmt: skip


def rule_notify(facts: _Facts) -> Iterable[Deviation]:
    """RFC 6665 §4.2.1.2: a notifier that answers a SUBSCRIBE with a 2xx immediately sends a
    NOTIFY. Any NOTIFY of the Call-ID from the notifier's side (the 2xx's To tag as its
    From tag) counts, before or after the 2xx (they may cross)."""
    notifies = {(m.call_id, m.from_tag) for m in facts.messages if m.is_request and m.method == "NOTIFY"}
    reported: set[tuple] = set()
    for message in facts.messages:
        if message.is_request or message.method != "SUBSCRIBE" or not 200 <= (message.status or 0) < 300:
            continue
        key = (message.call_id, message.to_tag)
        if key in notifies or key in reported or not _went_on(facts, message):
            continue
        reported.add(key)
        yield deviation(
            "notify-missing",
            f"{facts.name(message)} accepted the SUBSCRIBE but no NOTIFY from the notifier followed "
            "(RFC 6665 §4.2.1.2)",
            f=facts.fs([message]), frames=facts.frames([message]),
        )  # fmt: skip


def rule_no_retransmission(facts: _Facts) -> Iterable[Deviation]:
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
        answered = next((m.ts_ns for m in txn.responses), None)
        until = answered if answered is not None else facts.end_ns
        if until - request.ts_ns <= 2 * t1 or not facts.covered(request.ts_ns, request.ts_ns + 2 * t1):
            continue
        if answered is None and not _went_on(facts, request):
            continue
        again = [m for m in txn.messages if m.is_request and facts.is_retransmission(m) and m.ts_ns < until]
        if again:
            continue
        how = (f"its first response came {(answered - request.ts_ns) / 1e9:.1f} s later"
               if answered is not None else "no response came")
        yield deviation(
            "no-retransmission",
            f"{facts.name(request)} over UDP was not retransmitted though {how}; timer E fires at "
            f"T1 = {t1 / 1e6:.0f} ms (RFC 3261 §17.1.2.2)",
            f=facts.fs([request]), frames=facts.frames([request]),
        )  # fmt: skip


# --- message syntax ----------------------------------------------------------------------------


def _group_key(message: "SipMessage") -> tuple:
    """The same message on several hops (a response passed back by proxies)."""
    return (message.call_id, message.cseq, message.status, message.method)


def rule_to_tag(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §8.2.6.2: a final response carries a To tag."""
    groups: dict[tuple, list["SipMessage"]] = {}
    for message in facts.messages:
        if not message.is_request and (message.status or 0) >= 200 and not message.to_tag:
            groups.setdefault(_group_key(message), []).append(message)
    for group in groups.values():
        yield deviation(
            "missing-to-tag",
            f"{facts.name(group[0])} ({group[0].method}) has no To tag (RFC 3261 §8.2.6.2)",
            f=facts.fs(group), frames=facts.frames(group),
        )  # fmt: skip


def rule_branch_cookie(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §8.1.1.7: the branch starts with ``z9hG4bK``; reported once per sender."""
    by_sender: dict[Hashable, list["SipMessage"]] = {}
    for message in facts.messages:
        if not message.is_request or facts.is_retransmission(message):
            continue
        branch = message.branch
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            by_sender.setdefault(facts.sides(message)[0], []).append(message)
    for group in by_sender.values():
        first = group[0]
        shown = repr(first.branch) if first.branch else "no branch"
        yield deviation(
            "branch-without-cookie",
            f"{facts.name(first)} top Via has {shown}, without the z9hG4bK magic cookie "
            f"({len(group)} request(s) from this sender; RFC 3261 §8.1.1.7)",
            f=facts.fs(group), frames=facts.frames(group),
        )  # fmt: skip


def rule_content_length(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §20.14: Content-Length is the body's size in octets; §18.3: it is mandatory
    on stream transports."""
    for message in facts.messages:
        declared = message.content_length
        actual = len(message.body)
        extra = 0
        for problem in message.problems:
            found = _EXTRA_BYTES_RE.match(problem)
            if found:
                extra = int(found.group(1))
        if declared is None:
            if facts.transport(message) in RELIABLE:
                yield deviation(
                    "content-length-mismatch",
                    f"{facts.name(message)} has no Content-Length, mandatory over "
                    f"{facts.transport(message).upper()} (RFC 3261 §18.3, §20.14)",
                    f=facts.fs([message]), frames=facts.frames([message]),
                )  # fmt: skip
            continue
        if declared > actual or extra:
            body = actual + extra
            yield deviation(
                "content-length-mismatch",
                f"{facts.name(message)} declares Content-Length {declared} but its body has "
                f"{body} bytes (RFC 3261 §20.14)",
                f=facts.fs([message]), frames=facts.frames([message]),
                severity=None if declared > actual else WARNING,
            )  # fmt: skip


def rule_oversized_udp(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3261 §18.1.1: a request larger than 1300 bytes (path MTU unknown), or within 200
    bytes of the path MTU, must go over a congestion-controlled transport such as TCP."""
    mtu = facts.settings.path_mtu
    limit = mtu - 200 if mtu else 1300
    groups: dict[tuple, list["SipMessage"]] = {}
    for message in facts.messages:
        if not message.is_request or facts.is_retransmission(message):
            continue
        if facts.transport(message) != "udp" or len(message.raw) <= limit:
            continue
        groups.setdefault((message.call_id, message.cseq, message.method), []).append(message)
    for group in groups.values():
        first = group[0]
        fragments = max(len(m.frames) for m in group)
        how = f", carried in {fragments} IP fragments" if fragments > 1 else ""
        yield deviation(
            "oversized-udp",
            f"{facts.name(first)} is {len(first.raw)} bytes over UDP{how}; above {limit} bytes "
            f"RFC 3261 §18.1.1 requires TCP",
            f=facts.fs(group), frames=facts.frames(group),
        )  # fmt: skip


def rule_auth(facts: _Facts) -> Iterable[Deviation]:
    """Credentials rejected (RFC 3261 §22.2, §22.3): a 401/407 challenging again a realm the
    request already answered (not ``stale=true``), or a 403 to a request with credentials.
    A new realm (a second proxy, RFC 3665 §3.3) is not a failure."""
    reported: set[tuple] = set()
    for txn in facts.txns.transactions:
        request = txn.request
        if request is None:
            continue
        answered = {
            realm.lower()
            for name in ("authorization", "proxy-authorization")
            for value in request.header_values(name)
            for realm in _REALM_RE.findall(value)
        }
        if not answered:
            continue
        for response in txn.responses:
            if facts.is_retransmission(response):
                continue
            failed = False
            if response.status == 403:
                failed, why = True, "403 Forbidden after credentials"
            elif response.status in (401, 407):
                header = "www-authenticate" if response.status == 401 else "proxy-authenticate"
                challenges = [v for v in response.header_values(header) if not _STALE_RE.search(v)]
                again = {r.lower() for v in challenges for r in _REALM_RE.findall(v)} & answered
                if again:
                    failed, why = True, f"realm {sorted(again)[0]!r} challenged again"
            if not failed:
                continue
            key = (request.call_id, request.cseq)
            if key in reported:
                continue
            reported.add(key)
            yield deviation(
                "auth-failed",
                f"{facts.name(response)} rejects the credentials of {facts.name(request)}: {why} "
                "(RFC 3261 §22)",
                f=facts.fs([response]), frames=facts.frames([response]),
            )  # fmt: skip


# --- SDP offer/answer (RFC 3264) ---------------------------------------------------------------


def _formats(media: "SdpMedia") -> set[str]:
    names: set[str] = set()
    for fmt in media.formats:
        encoding = media.encoding(int(fmt)) if fmt.isdigit() and len(fmt) <= 3 else None
        names.add(f"{encoding[0].upper()}/{encoding[1]}" if encoding else fmt.upper())
    return names


def _answer_problems(offer: "SdpSession", answer: "SdpSession") -> tuple[list[str], bool]:
    """What is wrong with ``answer`` as an answer to ``offer``, and whether it breaks a MUST.

    §6: as many m-lines as the offer, each of the same media type; an accepted stream lists at
    least one offered format (none in common means the stream must be rejected with port 0).
    §6.1 lets an answer list extra formats the answerer could also use: reported as
    information, since the offerer cannot send them in this exchange."""
    problems: list[str] = []
    broken = False
    if len(answer.media) != len(offer.media):
        problems.append(f"{len(answer.media)} m-lines answer {len(offer.media)} offered (§6)")
        broken = True
    for index, (o, a) in enumerate(zip(offer.media, answer.media), start=1):
        if a.disabled:
            continue  # a rejected stream's formats carry no meaning
        if a.kind != o.kind:
            problems.append(f"m-line {index} is {a.kind}, offered {o.kind} (§6)")
            broken = True
            continue
        offered, answered = _formats(o), _formats(a)
        if not offered & answered:
            problems.append(
                f"m-line {index} answers {', '.join(sorted(answered))} with no format in common "
                f"with the offer's {', '.join(sorted(offered))}; it should have been rejected with port 0 (§6)"
            )
            broken = True
        elif answered - offered:
            problems.append(
                f"m-line {index} adds {', '.join(sorted(answered - offered))}, not offered "
                "(allowed by §6.1, but the offerer cannot use it in this exchange)"
            )
    return problems, broken


def rule_sdp_answer(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3264 §6: the answer has as many m-lines as the offer, of the same types, each
    accepted stream with a format the offer listed. The offer is the INVITE's SDP and the
    answer the first response with SDP on the same hop; an INVITE without SDP gets its offer
    in the 2xx and its answer in the ACK."""
    groups: dict[tuple, tuple["SipMessage", list["SipMessage"], list[str], bool]] = {}
    for txn in facts.txns.transactions:
        request = txn.request
        if txn.method != "INVITE" or request is None or facts.is_retransmission(request):
            continue
        offer_msg: SipMessage | None
        answer_msg: SipMessage | None
        if request.sdp is not None:
            offer_msg = request
            answer_msg = next((m for m in txn.responses if m.sdp is not None and (m.status or 0) < 300), None)
        else:
            offer_msg = next((m for m in txn.responses if m.sdp is not None and 200 <= (m.status or 0) < 300), None)
            answer_msg = _ack_with_sdp(facts, offer_msg) if offer_msg is not None else None
        if offer_msg is None or answer_msg is None or offer_msg.sdp is None or answer_msg.sdp is None:
            continue
        problems, broken = _answer_problems(offer_msg.sdp, answer_msg.sdp)
        if not problems:
            continue
        key = (request.call_id, request.cseq, tuple(problems))
        if key in groups:
            groups[key][1].append(answer_msg)
        else:
            groups[key] = (offer_msg, [answer_msg], problems, broken)
    for offer_msg, answers, problems, broken in groups.values():
        yield deviation(
            "sdp-answer-mismatch",
            f"{facts.name(answers[0])} answers the offer in {facts.name(offer_msg)}: "
            f"{'; '.join(problems)} (RFC 3264)",
            f=facts.fs(answers), frames=facts.frames(answers), severity=None if broken else INFO,
        )  # fmt: skip


def _ack_with_sdp(facts: _Facts, ok: "SipMessage") -> "SipMessage | None":
    """The ACK with SDP the receiver of ``ok`` sent next (wherever to: without Record-Route
    it goes straight to the remote target)."""
    receiver = facts.sides(ok)[1]
    for message in facts.messages:
        if (
            message.is_request and message.method == "ACK" and message.sdp is not None
            and message.call_id == ok.call_id and message.cseq and ok.cseq
            and message.cseq[0] == ok.cseq[0] and message.ts_ns >= ok.ts_ns
            and facts.sides(message)[0] == receiver
        ):  # fmt: skip
            return message
    return None


def _sdp_without_origin(message: "SipMessage") -> bytes:
    lines = message.body.replace(b"\r\n", b"\n").split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith(b"o=") and line.strip())


def _reliable_provisional(message: "SipMessage") -> bool:
    """A 1xx sent reliably (RFC 3262 §3: Require: 100rel and an RSeq)."""
    return (not message.is_request and 100 < (message.status or 0) < 200 and message.header("rseq") is not None
            and any("100rel" in v.lower() for v in message.header_values("require")))


def rule_sdp_version(facts: _Facts) -> Iterable[Deviation]:
    """RFC 3264 §8: a new offer in a session whose description changed carries the version
    of the last description that sender had in the session plus one; an unchanged one keeps
    it. A sender's description joins the session when the exchange completes: an answer at
    once (in a 2xx, a reliable 1xx or an ACK), an offer when a 2xx or a reliable 1xx with SDP
    answers it. An offer rejected (a 407, a 488) or still unanswered, or an SDP in an unreliable
    1xx (a preview, RFC 6337 §3.1.1), is not compared against. Per sender node, Call-ID and
    o= session."""
    accepted: dict[tuple, tuple[int, bytes, "SipMessage"]] = {}
    pending: dict[int, tuple[tuple, int, bytes, "SipMessage"]] = {}  # id(txn) -> the offer
    reported: set[tuple] = set()  # the same SDP relayed by a proxy: one finding
    for message in facts.messages:
        txn = facts.txns.of(message)
        if not message.is_request and txn is not None and id(txn) in pending:
            status = message.status or 0
            if 200 <= status < 300 or (message.sdp is not None and _reliable_provisional(message)):
                key, version, content, offer = pending[id(txn)]
                # The session is the dialog the answer made (each fork its own, §12.1.2).
                accepted[key[:2] + (_dialog_of(message),) + key[3:]] = (version, content, offer)
            elif status >= 300:
                pending.pop(id(txn))
        sdp = message.sdp
        if sdp is None or sdp.origin is None or facts.is_retransmission(message):
            continue
        origin = sdp.origin
        key = (facts.sides(message)[0], message.call_id, _dialog_of(message),
               origin.username, origin.session_id, origin.address)
        content = _sdp_without_origin(message)
        before = accepted.get(key)
        unit = (message.call_id, message.cseq, message.status, origin.version)
        if before is not None and unit not in reported:
            reported.add(unit)
            yield from _version_findings(facts, message, origin.version, content, before)
        if message.is_request and message.method != "ACK":
            if txn is not None:
                pending[id(txn)] = (key, origin.version, content, message)
        elif message.is_request or 200 <= (message.status or 0) < 300 or _reliable_provisional(message):
            accepted[key] = (origin.version, content, message)


def _dialog_of(message: "SipMessage") -> frozenset:
    """The dialog a message is in, whichever side sent it (its two tags); a request outside
    any dialog (no To tag) is in none yet."""
    return frozenset((message.from_tag, message.to_tag)) if message.to_tag else frozenset()


def _version_findings(facts: _Facts, message: "SipMessage", version: int, content: bytes,
                      before: tuple[int, bytes, "SipMessage"]) -> Iterable[Deviation]:
    old_version, old, old_message = before
    if content != old and version <= old_version:
        yield deviation(
            "sdp-version-not-incremented",
            f"{facts.name(message)} changes the SDP of {facts.name(old_message)} but keeps "
            f"o= version {version} (was {old_version}; RFC 3264 §8)",
            f=facts.fs([old_message, message]), frames=facts.frames([message]),
        )  # fmt: skip
    elif content == old and version != old_version:
        yield deviation(
            "sdp-version-not-incremented",
            f"{facts.name(message)} repeats the SDP of {facts.name(old_message)} with o= "
            f"version {version} instead of {old_version} (RFC 3264 §8)",
            f=facts.fs([old_message, message]), frames=facts.frames([message]),
            severity=INFO,
        )  # fmt: skip


RULES: tuple[Callable[[_Facts], Iterable[Deviation]], ...] = (
    rule_missing_ack,
    rule_retransmissions,
    rule_timers,
    rule_no_final_response,
    rule_cancel,
    rule_max_forwards,
    rule_route_set,
    rule_cseq,
    rule_register_cseq,
    rule_to_tag,
    rule_uas_copies,
    rule_duplicate_parameter,
    rule_prack,
    rule_notify,
    rule_no_retransmission,
    rule_branch_cookie,
    rule_content_length,
    rule_oversized_udp,
    rule_auth,
    rule_sdp_answer,
    rule_sdp_version,
)
