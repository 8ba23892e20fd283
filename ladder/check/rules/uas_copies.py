"""What a UAS copies into its responses (RFC 3261 §8.2.6.2, §12.1.1): the To tag of a final
response, the request's Via values, the Record-Route of a dialog-creating response."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ladder.check.deviations import ERROR, Code, Deviation, deviation
from ladder.check.rules.facts import CallFacts

if TYPE_CHECKING:
    from decoders.sip import SipMessage

MISSING_TO_TAG = Code("missing-to-tag", ERROR, "RFC 3261 §8.2.6.2", "a final response without a To tag")
VIA_MISMATCH = Code("via-mismatch", ERROR, "RFC 3261 §8.2.6.2", "a response whose Via values differ from the request's (beyond received/rport)")
RECORD_ROUTE_NOT_COPIED = Code("record-route-not-copied", ERROR, "RFC 3261 §12.1.1", "a UAS's dialog-creating response that does not copy the request's Record-Route verbatim")  # fmt: skip
RESPONSE_WITHOUT_VIA = Code("response-without-via", ERROR, "RFC 3261 §8.2.6.2, §16.7, §18.1.2", "a response with no Via at all: nobody can route it, its client discards it")  # fmt: skip
CODES = (MISSING_TO_TAG, VIA_MISMATCH, RECORD_ROUTE_NOT_COPIED, RESPONSE_WITHOUT_VIA,)


# --- what a UAS copies into its response (RFC 3261 §8.2.6.2, §12.1.1) ----------------------


def _uas_responses(facts: CallFacts, record_routes: bool) -> Iterable[tuple["SipMessage", "SipMessage"]]:
    """(request, response) where ``response`` is the answer of the node the request reached
    and did not forward: the same top Via branch, back over the same hop, as many Vias or
    fewer, and no copy of the request leaving that node with one Via more. Only the pairs
    ``rule_uas_copies`` can say something of (``_may_differ``) are placed on their hops."""
    forwarded: set[tuple] = set()
    for message in facts.relayed:  # (the requests with a Via below the top one)
        below = message.vias[1]
        forwarded.add((message.call_id, message.cseq, below.branch, facts.sides(message)[0]))
    for txn in facts.txns.transactions:
        if txn.request is None or txn.method in ("ACK", "CANCEL"):
            continue
        messages = txn.messages
        requests = [m for m in messages if m.is_request]
        for response in messages:
            if response.is_request or facts.is_retransmission(response):
                continue
            # The request it answers: the last one before it with its CSeq (a UA that reuses a
            # branch for a new request puts two requests in one transaction).
            if len(requests) == 1:  # the usual transaction: the one candidate, without a scan
                request = requests[0]
                if not (request.cseq == response.cseq and request.ts_ns <= response.ts_ns and request.vias):
                    continue
            else:
                found = next((m for m in reversed(requests) if m.cseq == response.cseq
                              and m.ts_ns <= response.ts_ns and m.vias), None)
                if found is None:
                    continue
                request = found
            if not _may_differ(request, response, record_routes):
                continue
            hop = facts.sides(request)
            if forwarded and (request.call_id, request.cseq, request.vias[0].branch, hop[1]) in forwarded:
                continue  # a proxy passed it on: its responses are relayed, not made there
            # Fewer Vias than the request (but some: none is ``response-without-via``) is no relay
            # either: a proxy strips only its own, which the request did not carry yet (§16.7 step 3).
            if facts.sides(response) == (hop[1], hop[0]) and 0 < len(response.vias) <= len(request.vias):
                yield request, response


def _copied_vias(request: "SipMessage", response: "SipMessage") -> bool:
    """Whether the response carries the request's very Via objects (the parser shares the
    objects of equal values: a response that copied them has the same), so equal Vias."""
    copied, sent = response.vias, request.vias
    if copied is sent:
        return True
    if len(copied) != len(sent):
        return False
    if len(copied) == 1:  # (the usual answer: one Via, without a walk)
        return copied[0] is sent[0]
    return all(a is b for a, b in zip(copied, sent))


def _may_differ(request: "SipMessage", response: "SipMessage", record_routes: bool) -> bool:
    """Whether ``rule_uas_copies`` has anything to compare in this pair: Vias that are not the
    request's very objects, or a dialog-creating response to a request that may carry a
    Record-Route (``record_routes``: the call has one). A pair without either reports nothing
    wherever it was seen, so it is not placed on its hop (the rule's costliest step)."""
    if not _copied_vias(request, response):
        return True
    return record_routes and bool(response.to_tag) and 100 < (response.status or 0) < 300 \
        and request.method in _DIALOG_CREATING and not request.to_tag


_DIALOG_CREATING = ("INVITE", "SUBSCRIBE", "REFER")


def _via_value(via) -> tuple:
    """A Via as §8.2.6.2 compares it: the server's ``received``/``rport`` values (§18.2.1,
    RFC 3581) are the ones it may add."""
    params = tuple(sorted((k, v) for k, v in via.params.items() if k not in ("received", "rport")))
    return (via.protocol.upper(), via.transport.upper(), via.host.lower(), via.port, params)


def rule_uas_copies(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §8.2.6.2: a response's Via values equal the request's (the top one may gain
    ``received`` and ``rport``). §12.1.1: a UAS copies every Record-Route value of the
    request into a dialog-creating response, URI parameters included, in order."""
    via_groups: dict[tuple, list["SipMessage"]] = {}
    rr_groups: dict[tuple, tuple["SipMessage", list["SipMessage"]]] = {}
    record_routes = facts.carries("record-route")  # (no request of a call without any has one)
    for request, response in _uas_responses(facts, record_routes):
        if not _copied_vias(request, response) \
                and [_via_value(v) for v in response.vias] != [_via_value(v) for v in request.vias]:
            via_groups.setdefault((id(request),), [request]).append(response)
        if not response.to_tag or not 100 < (response.status or 0) < 300 or not record_routes:
            continue
        if request.method not in _DIALOG_CREATING or request.to_tag:
            continue
        record_route = request.header_values("record-route")
        if not record_route:
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
            VIA_MISMATCH,
            f"{', '.join(facts.name(r) for r in responses)} {'answers' if len(responses) == 1 else 'answer'} {facts.name(request)} with other Via "
            f"values than the request's ({_vias(responses[0])} for {_vias(request)}; RFC 3261 §8.2.6.2)",
            f=facts.fs(responses), frames=facts.frames(responses),
        )  # fmt: skip
    for request, responses in rr_groups.values():
        copied = responses[0].header_values("record-route")
        yield deviation(
            RECORD_ROUTE_NOT_COPIED,
            f"{facts.name(responses[0])} has Record-Route {_listed(copied)} but {facts.name(request)} "
            f"arrived with {_listed(request.header_values('record-route'))}; the UAS copies them verbatim, "
            "URI parameters included (RFC 3261 §12.1.1)",
            f=facts.fs(responses), frames=facts.frames(responses),
        )  # fmt: skip


def _group_key(message: "SipMessage") -> tuple:
    """The same message on several hops (a response passed back by proxies)."""
    return (message.call_id, message.cseq, message.status, message.method)


def rule_to_tag(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §8.2.6.2: a final response carries a To tag."""
    groups: dict[tuple, list["SipMessage"]] = {}
    for message in facts.messages:
        if not message.is_request and (message.status or 0) >= 200 and not message.to_tag:
            groups.setdefault(_group_key(message), []).append(message)
    for group in groups.values():
        yield deviation(
            MISSING_TO_TAG,
            f"{facts.name(group[0])} ({group[0].method}) has no To tag (RFC 3261 §8.2.6.2)",
            f=facts.fs(group), frames=facts.frames(group),
        )  # fmt: skip


def _listed(values: list[str]) -> str:
    return ", ".join(v.strip() for v in values) if values else "(none)"


def _vias(message: "SipMessage") -> str:
    return " | ".join(f"{v.sent_by()};branch={v.branch}" for v in message.vias) or "none"


def rule_response_without_via(facts: CallFacts) -> Iterable[Deviation]:
    """Via is mandatory (RFC 3261 §20, §20.42): a UAS copies the request's Via values into its
    response (§8.2.6.2); a proxy that removed the last one holds a response meant for itself
    and MUST NOT forward it (§16.7 step 3); a client matches responses by the top Via and
    discards one whose sent-by is not its own (§18.1.2, §17.1.3), so a response without any is
    lost. Requests without a Via are ``branch-without-cookie`` (no branch, §8.1.1.7)."""
    groups: dict[tuple, list["SipMessage"]] = {}
    for message in facts.messages:
        if not message.is_request and not message.vias and message.header("via") is None:
            groups.setdefault((*_group_key(message), facts.sides(message)), []).append(message)
    for group in groups.values():
        yield deviation(
            RESPONSE_WITHOUT_VIA,
            f"{facts.name(group[0])}{f' ({group[0].method})' if group[0].method else ''} has no Via: a UAS copies the request's Via values "
            "(RFC 3261 §8.2.6.2), a proxy left with none MUST NOT forward it (§16.7 step 3), and the client, "
            "matching responses by their top Via, discards it (§18.1.2, §17.1.3)",
            f=facts.fs(group), frames=facts.frames(group),
        )  # fmt: skip
