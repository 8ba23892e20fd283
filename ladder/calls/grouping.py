"""Calls: the SIP messages of a capture grouped into calls (and registrations, OPTIONS pings,
subscriptions, messages), each with its transactions, dialogs, legs and outcome.

A group starts as one Call-ID. Call-ID groups of INVITE calls are then joined when a leg
link says they are one call across a B2BUA or ALG (see ``ladder.calls.legs``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from decoders.errors import DecodeError
from decoders.sipuri import parse_uri
from decoders.sipuser import uri_user_host
from ladder.calls.timings import CallTimings, call_timings
from ladder.calls.dialogs import Dialog, build_dialogs
from ladder.calls.duplicates import fold_duplicates
from ladder.calls.legs import (Leg, Link, correlation_values, find_legs, header_links, invite_parties, proxy_links,
                               retry_links, timing_links)
from ladder.calls.outcome import Outcome, call_outcome, request_outcome
from ladder.calls.transactions import TransactionSet, build_transactions
from ladder.calls.unionfind import UnionFind
from ladder.errors import UsageError

if TYPE_CHECKING:
    from ladder.capture.loader import Capture
    from decoders.sip import SipMessage

CALL = "call"
KIND_BY_METHOD = {
    "INVITE": CALL,
    "REGISTER": "registration",
    "OPTIONS": "options",
    "SUBSCRIBE": "subscription",
    "NOTIFY": "subscription",
    "PUBLISH": "subscription",
    "MESSAGE": "message",
}
# Methods only seen inside an INVITE dialog: a capture that starts mid-call shows these first.
IN_CALL_METHODS = frozenset({"ACK", "BYE", "CANCEL", "PRACK", "UPDATE", "INFO"})


@dataclass(eq=False, slots=True)
class Call:
    """One call or out-of-dialog exchange. ``caller``/``callee`` are ``user@host`` of the From
    and To of the first request; ``links`` say why several Call-IDs or hops are one call."""

    index: int
    id: str
    call_ids: tuple[str, ...]
    kind: str
    messages: list["SipMessage"]
    transactions: TransactionSet
    dialogs: list[Dialog]
    legs: list[Leg]
    links: list[Link]
    outcome: Outcome
    start_ns: int
    end_ns: int
    caller: str
    callee: str
    first_method: str
    caller_ip: str | None = None
    copies: dict[int, tuple["SipMessage", ...]] = field(default_factory=dict)  # capture copies by id(kept)

    @property
    def span_ns(self) -> int:
        """First to last captured message: the capture's view, not the call's duration."""
        return max(0, self.end_ns - self.start_ns)

    @property
    def timings(self) -> CallTimings:
        """Setup time, talk time (answer to BYE) and post-dial delay (``ladder.calls.timings``)."""
        return call_timings(self)

    def is_retransmission(self, message: "SipMessage") -> bool:
        return self.transactions.is_retransmission(message)


def _order_key(message: "SipMessage") -> tuple[int, int]:
    frame = message.frames[0].number if message.frames else 0
    return (message.ts_ns, frame)


def group_kind(messages: list["SipMessage"]) -> str:
    """What a Call-ID group is, from its methods (the CSeq method of responses too)."""
    return kind_of_methods([m.method for m in messages])


def kind_of_methods(names: list[str | None]) -> str:
    """``group_kind`` from the method names alone (request methods, CSeq methods of responses)."""
    methods = [name.upper() for name in names if name]
    if "INVITE" in methods:
        return CALL
    for method in methods:
        if method in IN_CALL_METHODS:
            return CALL
        if method in KIND_BY_METHOD:
            return KIND_BY_METHOD[method]
    return "other"


def _party(uri: str | None) -> str:
    """``user@host`` (or the number of a tel URI) of a From/To URI; the text itself if odd."""
    if not uri:
        return ""
    plain = uri_user_host(uri)  # (most are plain: parse_uri's user and host without the parse)
    if plain is not None:
        return f"{plain[0]}@{plain[1]}"
    return _parsed_party(uri)


def _parsed_party(uri: str) -> str:
    """``_party`` of any URI through ``parse_uri`` (``test_sipuser`` holds the two equal)."""
    try:
        parsed = parse_uri(uri)
    except DecodeError:
        return uri
    if parsed.scheme == "tel":
        return parsed.user or uri
    if parsed.host:
        return f"{parsed.user}@{parsed.host}" if parsed.user else parsed.host
    return uri



def group_by_call_id(messages: list["SipMessage"]) -> dict[str, list["SipMessage"]]:
    """Call-ID -> its messages in capture order. A message without a Call-ID (RFC 3261 §8.1.1
    makes it mandatory, but captures hold broken ones) is a group of its own."""
    groups: dict[str, list["SipMessage"]] = {}
    for message in messages:
        key = message.call_id
        if not key:
            frame = message.frames[0].number if message.frames else len(groups) + 1
            key = f"(no Call-ID, frame {frame})"
        groups.setdefault(key, []).append(message)
    return groups


def _first_request(messages: list["SipMessage"]) -> "SipMessage | None":
    return next((m for m in messages if m.is_request), None)


def _attempt_failed(messages: list["SipMessage"]) -> bool:
    """No 2xx to any INVITE of this Call-ID: a later attempt may be a retry of it."""
    return not any(not m.is_request and m.method == "INVITE" and m.status is not None
                   and 200 <= m.status < 300 for m in messages)


def build_call(index: int, call_ids: list[str], messages: list["SipMessage"], kind: str,
               links: list[Link], transactions: TransactionSet | None = None,
               copies: dict[int, tuple["SipMessage", ...]] | None = None) -> Call:
    """One Call from its messages (already in capture order, capture copies folded out:
    ``copies`` holds them by the id of the message they copy)."""
    transactions = transactions or build_transactions(messages)
    dialogs = build_dialogs(messages, transactions)
    legs = find_legs(messages, transactions)
    first = _first_request(messages) or messages[0]
    initial = next((m for m in messages if m.is_request and m.method == "INVITE" and not m.to_tag),
                   None) if kind == CALL else None
    anchor = initial or first
    caller_ip = anchor.src.ip if anchor.is_request and anchor.src else None
    if kind == CALL:
        outcome = call_outcome(transactions, caller_ip)
    else:
        outcome = request_outcome(transactions, (first.method or "").upper(), kind)
    all_links = proxy_links(legs) + links
    return Call(
        index=index,
        id=call_ids[0],
        call_ids=tuple(call_ids),
        kind=kind,
        messages=messages,
        transactions=transactions,
        dialogs=dialogs,
        legs=legs,
        links=all_links,
        outcome=outcome,
        start_ns=messages[0].ts_ns,
        end_ns=messages[-1].ts_ns,
        caller=_party(anchor.from_uri),
        callee=_party(anchor.to_uri),
        first_method=anchor.method or "",
        caller_ip=caller_ip,
        copies=copies or {},
    )


def linked_components(call_ids: list[str], links: list[Link]) -> tuple[dict[str, list[str]], dict[str, list[Link]]]:
    """The Call-IDs the links join into one call (root -> its Call-IDs, in ``call_ids``' order),
    and each root's links."""
    union = UnionFind(call_ids)
    for link in links:
        union.union(link.call_id_a, link.call_id_b)
    components: dict[str, list[str]] = {}
    for call_id in call_ids:
        components.setdefault(union.find(call_id), []).append(call_id)
    links_by_root: dict[str, list[Link]] = {}
    for link in links:
        links_by_root.setdefault(union.find(link.call_id_a), []).append(link)
    return components, links_by_root


def build_calls(capture: "Capture") -> list[Call]:
    """Calls, registrations, OPTIONS … of a capture, in start order, numbered from 1."""
    return calls_of_messages(capture.sip_messages)


class CallMemo:
    """What ``calls_of_messages`` derived, kept for its next call on the same messages grown
    (a live capture re-derives its calls every second): a Call-ID group whose messages are
    unchanged is not folded, grouped into transactions nor searched for legs again, and a call
    whose groups and links are unchanged is not built again. Only the steps across groups
    (correlation headers, relays, retries) run over everything each time, so the calls are
    exactly those of a fresh derivation. Messages may be added anywhere and whole Call-IDs
    removed; a message itself must not change."""

    def __init__(self) -> None:
        self.groups: dict[str, _GroupFacts] = {}
        self.calls: dict[tuple[str, ...], tuple[tuple["_GroupFacts", ...], list[Link], Call]] = {}


@dataclass(slots=True)
class _GroupFacts:
    """One Call-ID group's own derivations (``transactions``, ``legs``, ``failed``, ``parties``
    and ``correlation`` for calls only)."""

    size: int  # the messages it was derived from: their number, the first and the last one
    first: "SipMessage"
    last: "SipMessage"
    messages: list["SipMessage"]  # capture copies folded out
    copies: dict[int, tuple["SipMessage", ...]]
    kind: str
    transactions: TransactionSet | None = None
    legs: list[Leg] = field(default_factory=list)
    failed: bool = False
    parties: dict[int, tuple[str, str]] = field(default_factory=dict)
    correlation: list[tuple[str | None, str]] = field(default_factory=list)

    def derived_from(self, group: list["SipMessage"]) -> bool:
        # messages are only added (in capture order: a change of length) or removed by whole
        # Call-ID (a new first message); the kept ends are never freed, so ``is`` cannot be fooled
        return self.size == len(group) and self.first is group[0] and self.last is group[-1]


def _group_facts(group: list["SipMessage"]) -> _GroupFacts:
    folded, copies = fold_duplicates(group)
    facts = _GroupFacts(len(group), group[0], group[-1], folded, copies, group_kind(folded))
    if facts.kind == CALL:
        facts.transactions = build_transactions(folded)
        facts.legs = find_legs(folded, facts.transactions)
        facts.failed = _attempt_failed(folded)
        facts.parties = invite_parties(facts.legs)
        facts.correlation = correlation_values(folded)
    return facts


def calls_of_messages(sip_messages: Sequence["SipMessage"], memo: CallMemo | None = None, start: int = 1) -> list[Call]:
    """``build_calls`` of these messages (a capture still loading has no ``Capture`` yet),
    numbered from ``start``; ``memo`` keeps what can be reused by the next call on these
    messages grown."""
    messages = sorted(sip_messages, key=_order_key)
    known = memo.groups if memo is not None else {}
    facts: dict[str, _GroupFacts] = {}
    for call_id, group in group_by_call_id(messages).items():
        cached = known.get(call_id)
        facts[call_id] = cached if cached is not None and cached.derived_from(group) else _group_facts(group)
    groups = {call_id: fact.messages for call_id, fact in facts.items()}
    kinds = {call_id: fact.kind for call_id, fact in facts.items()}
    call_groups = {cid: group for cid, group in groups.items() if kinds[cid] == CALL}

    # Legs across Call-IDs: transactions per group only to find the hops of INVITEs.
    all_legs = [leg for call_id in call_groups for leg in facts[call_id].legs]
    all_legs.sort(key=lambda leg: leg.ts_ns)
    failed = {cid for cid in call_groups if facts[cid].failed}
    parties = {key: value for call_id in call_groups for key, value in facts[call_id].parties.items()}
    correlation = {call_id: facts[call_id].correlation for call_id in call_groups}
    links = (header_links(call_groups, correlation) + timing_links(all_legs, kinds, parties)
             + retry_links(all_legs, kinds, failed))
    components, links_by_root = linked_components(list(groups), links)

    built = []
    for root, call_ids in components.items():
        if len(call_ids) == 1:
            merged = groups[call_ids[0]]
        else:
            merged = sorted((m for cid in call_ids for m in groups[cid]), key=_order_key)
        built.append((call_ids, merged, links_by_root.get(root, [])))
    built.sort(key=lambda item: _order_key(item[1][0]))
    calls = []
    made: dict[tuple[str, ...], tuple[tuple[_GroupFacts, ...], list[Link], Call]] = {}
    for index, (call_ids, merged, call_links) in enumerate(built, start):
        key = tuple(call_ids)
        sources = tuple(facts[call_id] for call_id in call_ids)
        before = memo.calls.get(key) if memo is not None else None
        if before is not None and before[1] == call_links and all(a is b for a, b in zip(before[0], sources)):
            call = before[2] if before[2].index == index else dataclasses.replace(before[2], index=index)
        else:
            pool = sources[0].copies if len(sources) == 1 else {
                kept: copy for fact in sources for kept, copy in fact.copies.items()}
            copies = {id(m): pool[id(m)] for m in merged if id(m) in pool}
            call = build_call(index, call_ids, merged, sources[0].kind, call_links,
                              sources[0].transactions if len(call_ids) == 1 else None, copies)
        made[key] = (sources, call_links, call)
        calls.append(call)
    if memo is not None:  # what is no longer there goes: the memo follows the messages
        memo.groups, memo.calls = facts, made
    return calls


def find_call(calls: list[Call], selector: str) -> Call | None:
    """A call by its 1-based index or by any of its Call-IDs."""
    if selector.isdigit():
        number = int(selector)
        return next((c for c in calls if c.index == number), None)
    return next((c for c in calls if selector in c.call_ids), None)


def select_calls(calls: list[Call], selectors: list[str]) -> list[Call]:
    """The calls ``--call`` names (each once, in the order named); all of them when none is.
    Raises ``UsageError`` for a selector that matches nothing."""
    if not selectors:
        return list(calls)
    chosen: list[Call] = []
    for selector in selectors:
        call = find_call(calls, selector)
        if call is None:
            raise UsageError(f"no call {selector!r} in this capture ({len(calls)} calls; see 'ladder calls')")
        if call not in chosen:
            chosen.append(call)
    return chosen
