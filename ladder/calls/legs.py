"""Legs of one call and the evidence that links them.

A leg is one hop of a dialog-creating request: Alice→proxy, proxy→Bob. Legs with the same
Call-ID are linked through the node between them (a proxy keeps the Call-ID). A B2BUA or an
ALG starts a new Call-ID; its legs are linked by a correlation header (X-Call-ID, X-CID,
RFC 7989 Session-ID) or, where no header helps, by timing: an INVITE for the same target that
leaves a node shortly after one arrived at it. Every link says why, in words a user can check.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from decoders.errors import DecodeError
from decoders.records import Endpoint
from decoders.sipuri import parse_name_addr, parse_uri

if TYPE_CHECKING:
    from decoders.sip import SipMessage
    from ladder.calls.transactions import TransactionSet

# A B2BUA relays an INVITE within this window after receiving one (sngrep and Homer use a
# few seconds too); the closest candidate wins.
RELAY_WINDOW_NS = 2_000_000_000
MIN_NUMBER = 6  # digits a number needs before a prefixed copy of it counts as the same party
CORRELATION_HEADERS = ("X-Call-ID", "X-CID")
# RFC 3261 §17.1.1.2: an INVITE transaction times out after 64*T1 = 32 s; a retry comes soon after.
RETRY_WINDOW_NS = 64_000_000_000
_NULL_SESSION_ID = "0" * 32
_SESSION_ID_RE = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True, slots=True)
class Leg:
    """One hop of a dialog-creating request (retransmissions and re-attempts folded in)."""

    call_id: str
    method: str
    src: Endpoint | None
    dst: Endpoint | None
    ts_ns: int
    request: "SipMessage"
    final_ns: int | None = None  # when this hop's transaction got its final response, if it did

    def pending_at(self, ts_ns: int) -> bool:
        """Whether the request was still unanswered at ``ts_ns``: a B2BUA relays a call while
        its incoming INVITE waits (it answers it with the outgoing leg's answer)."""
        return self.final_ns is None or self.final_ns > ts_ns


@dataclass(frozen=True, slots=True)
class Link:
    """Two Call-IDs (or two hops of one Call-ID) known to belong to one call, and why."""

    call_id_a: str
    call_id_b: str
    reason: str


def find_legs(messages: list["SipMessage"], transactions: "TransactionSet") -> list[Leg]:
    """The hops of the dialog-creating requests, one per (Call-ID, src IP, dst IP)."""
    legs: list[Leg] = []
    seen: set[tuple] = set()
    for message in messages:
        if not message.is_request or message.to_tag or message.method in ("ACK", "CANCEL"):
            continue
        if transactions.is_retransmission(message):
            continue
        hop = (message.call_id or "", message.method,
               message.src.ip if message.src else "", message.dst.ip if message.dst else "")
        if hop in seen:
            continue
        seen.add(hop)
        txn = transactions.of(message)
        final = txn.final if txn is not None else None
        legs.append(Leg(message.call_id or "", message.method or "", message.src, message.dst,
                        message.ts_ns, message, final.ts_ns if final is not None else None))
    return legs


def proxy_links(legs: list[Leg]) -> list[Link]:
    """Same Call-ID, next hop: the request arrived at a node and left it again."""
    links: list[Link] = []
    for index, leg in enumerate(legs):
        if leg.src is None:
            continue
        for earlier in legs[:index]:
            if earlier.call_id == leg.call_id and earlier.dst is not None and earlier.dst.ip == leg.src.ip \
                    and earlier.method == leg.method:
                links.append(Link(earlier.call_id, leg.call_id,
                                  f"same Call-ID through {leg.src.ip}"))
                break
    return links


def _session_ids(message: "SipMessage") -> list[str]:
    """RFC 7989 §4: ``Session-ID: local-uuid;remote=remote-uuid``; the null UUID means unknown."""
    ids: list[str] = []
    for value in message.header_values("Session-ID"):
        local, _, params = value.partition(";")
        candidates = [local.strip()]
        for param in params.split(";"):
            name, _, param_value = param.partition("=")
            if name.strip().lower() == "remote":
                candidates.append(param_value.strip())
        for candidate in candidates:
            if _SESSION_ID_RE.fullmatch(candidate) and candidate != _NULL_SESSION_ID:
                ids.append(candidate.lower())
    return ids


def header_links(groups: dict[str, list["SipMessage"]]) -> list[Link]:
    """Links from correlation headers between Call-ID groups."""
    links: list[Link] = []
    owners: dict[tuple[str, str], str] = {}  # (header, value) -> first Call-ID carrying it
    linked: set[tuple[str, str]] = set()

    def add(a: str, b: str, reason: str) -> None:
        pair = (a, b) if a < b else (b, a)
        if a != b and pair not in linked:
            linked.add(pair)
            links.append(Link(a, b, reason))

    for call_id, messages in groups.items():
        for message in messages:
            for header in CORRELATION_HEADERS:
                value = message.header(header)
                if not value:
                    continue
                value = value.strip()
                if value in groups and value != call_id:
                    add(value, call_id, f"{header} of {call_id} names {value}")
                owner = owners.setdefault((header.lower(), value), call_id)
                if owner != call_id:
                    add(owner, call_id, f"same {header} {value}")
            for session_id in _session_ids(message):
                owner = owners.setdefault(("session-id", session_id), call_id)
                if owner != call_id:
                    add(owner, call_id, f"same Session-ID {session_id}")
    return links


def _target(message: "SipMessage") -> str:
    """Who an INVITE is for: the user part of the Request-URI, else of To; digits compared
    without a leading + so a B2BUA that rewrites +1555… to 1555… still matches."""
    for text in (message.request_uri, _to_uri(message)):
        if not text:
            continue
        try:
            user = parse_uri(text).user
        except DecodeError:
            continue
        if user:
            return user.lstrip("+").lower()
    return ""


def _caller(message: "SipMessage") -> str:
    """The From user part, compared like ``_target``."""
    value = message.header("From")
    if not value:
        return ""
    try:
        user = parse_uri(parse_name_addr(value).uri).user
    except DecodeError:
        return ""
    return (user or "").lstrip("+").lower()


def _same_party(a: str, b: str) -> bool:
    """The same user, or the same number after a routing prefix was added or stripped
    (9997355692074651 for 355692074651): one ends with the other, and the shorter has at least
    MIN_NUMBER digits, so short extensions never match by accident."""
    if a == b:
        return bool(a)
    short, long = sorted((a, b), key=len)
    return len(short) >= MIN_NUMBER and short.isdigit() and long.isdigit() and long.endswith(short)


def _party_key(party: str) -> str:
    """What two parties ``_same_party`` matches always share: their last ``MIN_NUMBER``
    characters (a shorter party matches only itself)."""
    return party[-MIN_NUMBER:]


def _to_uri(message: "SipMessage") -> str | None:
    value = message.header("To")
    if not value:
        return None
    try:
        return parse_name_addr(value).uri
    except DecodeError:
        return None


def _sdp_media(message: "SipMessage") -> tuple[str, int] | None:
    """The first audio stream an SDP offers, as (address, port); None without SDP."""
    sdp = message.sdp
    if sdp is None:
        return None
    for media in sdp.media:
        if media.port and media.connection:
            return (media.connection, media.port)
    return None


def timing_links(legs: list[Leg], call_kind: dict[str, str]) -> list[Link]:
    """An INVITE leaving node N within RELAY_WINDOW_NS after one arrived at N, with another
    Call-ID, and either the same target user or the same SDP media offered (a B2BUA that
    renumbers but passes media through): a B2BUA relaying the call. The incoming INVITE must
    still be unanswered when the outgoing one leaves, and from another socket than the one
    that sent it: sequential calls of one SIPp UAC to a UAS on the same address are not
    relays. The closest arrival wins and each arrival is used once."""
    invites = [leg for leg in legs if leg.method == "INVITE" and leg.src and leg.dst
               and call_kind.get(leg.call_id) == "call"]
    arrivals_at: dict[str, list[Leg]] = {}
    for leg in invites:
        arrivals_at.setdefault(_ip(leg.dst), []).append(leg)
    for arrivals in arrivals_at.values():
        arrivals.sort(key=lambda leg: leg.ts_ns)
    times_at = {ip: [leg.ts_ns for leg in arrivals] for ip, arrivals in arrivals_at.items()}
    all_arrivals = sorted(invites, key=lambda leg: leg.ts_ns)
    # Each INVITE's caller and target, parsed once: every INVITE is compared with all those
    # of the relay window before it, thousands of pairs in a busy capture.
    parties = {id(leg): (_caller(leg.request), _target(leg.request)) for leg in invites}
    # The multihomed rule compares callers: only arrivals whose caller ends like this one's can
    # be the same party (``_party_key``), so each INVITE looks at those alone, closest first.
    by_caller: dict[str, tuple[list[Leg], list[int]]] = {}
    for leg in all_arrivals:
        bucket = by_caller.setdefault(_party_key(parties[id(leg)][0]), ([], []))
        bucket[0].append(leg)
        bucket[1].append(leg.ts_ns)
    used_arrivals: set[int] = set()
    links: list[Link] = []
    first_hops: dict[str, Leg] = {}
    for leg in all_arrivals:
        first_hops.setdefault(leg.call_id, leg)
    for out in invites:
        if first_hops[out.call_id] is not out:
            # A later hop of its Call-ID: a proxy relayed it (RFC 3261 §16.6 keeps the Call-ID),
            # so it is no B2BUA's new leg, whatever other calls arrived meanwhile.
            continue
        link = _same_node_link(out, arrivals_at, times_at, used_arrivals, parties)
        if link is None:
            arrivals, times = by_caller.get(_party_key(parties[id(out)][0]), ([], []))
            link = _multihomed_link(out, arrivals, times, used_arrivals, parties)
        if link is not None:
            links.append(link)
    return links


def _same_node_link(out: Leg, arrivals_at: dict[str, list[Leg]], times_at: dict[str, list[int]],
                    used_arrivals: set[int], parties: dict[int, tuple[str, str]]) -> Link | None:
    """The closest INVITE that arrived at the address ``out`` leaves from, for the same target
    or with the same SDP media. ``parties``: (caller, target) by ``id(leg)``."""
    node = _ip(out.src)
    arrivals = arrivals_at.get(node)
    if not arrivals:
        return None
    times = times_at[node]
    target = parties[id(out)][1]
    media = _sdp_media(out.request)
    lo = bisect.bisect_left(times, out.ts_ns - RELAY_WINDOW_NS)
    hi = bisect.bisect_right(times, out.ts_ns)
    for arrival in reversed(arrivals[lo:hi]):  # closest first
        if arrival.call_id == out.call_id or id(arrival) in used_arrivals:
            continue
        if arrival.src == out.src or not arrival.pending_at(out.ts_ns):
            continue  # the same socket calling again, or a call already answered: not a relay
        delay_ms = (out.ts_ns - arrival.ts_ns) / 1e6
        if target and parties[id(arrival)][1] == target:
            reason = f"INVITE to {target} left {node} {delay_ms:.0f} ms after one arrived"
        elif media is not None and _sdp_media(arrival.request) == media:
            reason = (f"INVITE with the same SDP media {media[0]}:{media[1]} left {node} "
                      f"{delay_ms:.0f} ms after one arrived")
        else:
            continue
        used_arrivals.add(id(arrival))
        return Link(arrival.call_id, out.call_id, reason)
    return None


def _multihomed_link(out: Leg, arrivals: list[Leg], times: list[int], used_arrivals: set[int],
                     parties: dict[int, tuple[str, str]]) -> Link | None:
    """A B2BUA with two addresses (an SBC's public and private side): the INVITE leaves from
    another address than the one it arrived at, so the node cannot tie the legs; the parties
    must. The closest earlier INVITE, from another sender, with the same caller and the same
    callee, each up to a routing prefix. ``arrivals`` (by time, ``times`` theirs): at least
    every INVITE whose caller may be ``out``'s."""
    caller, target = parties[id(out)]
    if not caller or not target:
        return None
    node = _ip(out.src)
    lo = bisect.bisect_left(times, out.ts_ns - RELAY_WINDOW_NS)
    hi = bisect.bisect_right(times, out.ts_ns)
    for arrival in reversed(arrivals[lo:hi]):  # closest first
        if (arrival is out or arrival.call_id == out.call_id or id(arrival) in used_arrivals
                or _ip(arrival.src) == node or _ip(arrival.dst) == node
                or not arrival.pending_at(out.ts_ns)):
            continue  # the same sender is a parallel call; the same node was the rule above
        arrived_from, arrived_for = parties[id(arrival)]
        if not (_same_party(arrived_from, caller) and _same_party(arrived_for, target)):
            continue
        used_arrivals.add(id(arrival))
        delay_ms = (out.ts_ns - arrival.ts_ns) / 1e6
        return Link(arrival.call_id, out.call_id,
                    f"INVITE from {caller} to {target} left {node} {delay_ms:.0f} ms after one "
                    f"to {arrived_for} arrived at {_ip(arrival.dst)} (a B2BUA with two addresses)")
    return None


def _ip(endpoint: Endpoint | None) -> str:
    """The address of a relayed INVITE's end (``timing_links`` takes only INVITEs with both)."""
    if endpoint is None:
        raise ValueError("an INVITE compared for relaying has both endpoints")
    return endpoint.ip


def retry_links(legs: list[Leg], call_kind: dict[str, str], failed: set[str]) -> list[Link]:
    """A caller that gives up on one attempt and tries again (RFC 3665 §3.4: the first proxy
    never answers, Alice retries through another) keeps its From tag, which RFC 3261 §19.3
    makes globally unique: the same tag from the same address, for the same From and To,
    after an attempt that failed, is the same call."""
    first_hops: dict[tuple, Leg] = {}
    links: list[Link] = []
    for leg in legs:
        request = leg.request
        if leg.method != "INVITE" or leg.src is None or call_kind.get(leg.call_id) != "call":
            continue
        if len(request.vias) != 1 or not request.from_tag:  # sent by the caller UA itself
            continue
        key = (leg.src.ip, request.from_tag, request.from_uri, request.to_uri)
        earlier = first_hops.get(key)
        if earlier is None or earlier.call_id == leg.call_id:
            first_hops.setdefault(key, leg)
            continue
        if earlier.call_id in failed and leg.ts_ns - earlier.ts_ns <= RETRY_WINDOW_NS:
            seconds = (leg.ts_ns - earlier.ts_ns) / 1e9
            links.append(Link(earlier.call_id, leg.call_id,
                              f"same From tag {request.from_tag}: {leg.src.ip} retried {seconds:.1f} s later"))
        first_hops[key] = leg
    return links
