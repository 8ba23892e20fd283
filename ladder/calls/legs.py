"""Legs of one call and the evidence that links them.

A leg is one hop of a dialog-creating request: Alice→proxy, proxy→Bob. Legs with the same
Call-ID are linked through the node between them (a proxy keeps the Call-ID). A B2BUA or an
ALG starts a new Call-ID; its legs are linked by a correlation header (X-Call-ID, X-CID,
RFC 7989 Session-ID) or, where no header helps, by timing: an INVITE for the same target that
leaves a node shortly after one arrived at it. Every link says why, in words a user can check.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Reversible, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from decoders.records import Endpoint
from decoders.quick_init import quick_init
from decoders.sipuser import name_addr_uri, uri_user

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


class OfferedMedium(Protocol):
    @property
    def port(self) -> int: ...
    @property
    def connection(self) -> str | None: ...


class OfferedSdp(Protocol):
    @property
    def media(self) -> Sequence[OfferedMedium]: ...


class LegRequest(Protocol):
    """What the links across Call-IDs read of an INVITE leg's request: the ``SipMessage``, or
    what ``ladder.calls.bounded.KeptRequest`` keeps of it once the message is released."""

    @property
    def from_tag(self) -> str | None: ...
    @property
    def request_uri(self) -> str | None: ...
    @property
    def from_uri(self) -> str | None: ...
    @property
    def to_uri(self) -> str | None: ...
    @property
    def vias(self) -> Sequence[object]: ...
    @property
    def sdp(self) -> OfferedSdp | None: ...
    def header(self, name: str) -> str | None: ...


class Correlated(Protocol):
    """What ``header_links`` reads of a message: its correlation headers."""

    def header(self, name: str) -> str | None: ...
    def header_values(self, name: str) -> list[str]: ...


class CorrelatedGroups(Protocol):
    """``header_links``' input: which Call-IDs are calls (``in``), and the messages of the
    groups that carry correlation headers (``items``)."""

    def __contains__(self, call_id: object) -> bool: ...
    def items(self) -> Iterable[tuple[str, Sequence[Correlated]]]: ...


class CallKinds(Protocol):
    """The kind (``call``, ``registration``, …) of each Call-ID's group."""

    def get(self, call_id: str, default: None = None, /) -> str | None: ...


@quick_init
@dataclass(frozen=True, slots=True)
class Leg:
    """One hop of a dialog-creating request (retransmissions and re-attempts folded in)."""

    call_id: str
    method: str
    src: Endpoint | None
    dst: Endpoint | None
    ts_ns: int
    request: LegRequest
    final_ns: int | None = None  # when this hop's transaction got its final response, if it did

    def pending_at(self, ts_ns: int) -> bool:
        """Whether the request was still unanswered at ``ts_ns``: a B2BUA relays a call while
        its incoming INVITE waits (it answers it with the outgoing leg's answer)."""
        return self.final_ns is None or self.final_ns > ts_ns


@quick_init
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


def _session_ids(message: Correlated) -> list[str]:
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


def correlation_values(messages: Sequence[Correlated]) -> list[tuple[str | None, str]]:
    """What ``header_links`` compares, in message order: (header, value) of each correlation
    header, (None, UUID) of each RFC 7989 Session-ID."""
    found: list[tuple[str | None, str]] = []
    for message in messages:
        for header in CORRELATION_HEADERS:
            value = message.header(header)
            if value:
                found.append((header, value.strip()))
        found.extend((None, session_id) for session_id in _session_ids(message))
    return found


def header_links(groups: CorrelatedGroups,
                 values: dict[str, list[tuple[str | None, str]]] | None = None) -> list[Link]:
    """Links from correlation headers between Call-ID groups (``values``: each group's
    ``correlation_values``, when already known)."""
    links: list[Link] = []
    owners: dict[tuple[str, str], str] = {}  # (header, value) -> first Call-ID carrying it
    linked: set[tuple[str, str]] = set()

    def add(a: str, b: str, reason: str) -> None:
        pair = (a, b) if a < b else (b, a)
        if a != b and pair not in linked:
            linked.add(pair)
            links.append(Link(a, b, reason))

    for call_id, messages in groups.items():
        for header, value in values[call_id] if values is not None else correlation_values(messages):
            if header is None:
                owner = owners.setdefault(("session-id", value), call_id)
                if owner != call_id:
                    add(owner, call_id, f"same Session-ID {value}")
                continue
            if value in groups and value != call_id:
                add(value, call_id, f"{header} of {call_id} names {value}")
            owner = owners.setdefault((header.lower(), value), call_id)
            if owner != call_id:
                add(owner, call_id, f"same {header} {value}")
    return links


def _target(message: LegRequest) -> str:
    """Who an INVITE is for: the user part of the Request-URI, else of To (``compared_user``)."""
    text = message.request_uri
    user = uri_user(text) if text else None
    if not user:
        text = _to_uri(message)
        user = uri_user(text) if text else None
    return compared_user(user)


def _caller(message: LegRequest) -> str:
    """The From user part, compared like ``_target``."""
    value = message.header("From")
    uri = name_addr_uri(value) if value else None
    user = uri_user(uri) if uri else None
    return compared_user(user)


def compared_user(user: str | None) -> str:
    """A URI's user part as the links compare parties: without a leading + (a B2BUA that
    rewrites +1555... to 1555... still matches) and in lower case; "" for none."""
    return user.lstrip("+").lower() if user else ""


def _same_party(a: str, b: str) -> bool:
    """The same user, or the same number after a routing prefix was added or stripped
    (9997355692074651 for 355692074651): one ends with the other, and the shorter has at least
    MIN_NUMBER digits, so short extensions never match by accident."""
    if a == b:
        return bool(a)
    short, long = sorted((a, b), key=len)
    return len(short) >= MIN_NUMBER and short.isdigit() and long.isdigit() and long.endswith(short)


def _party_key(party: str) -> str:
    """Equal for any two parties ``_same_party`` may match: a number's last MIN_NUMBER digits
    (the shorter of two such numbers ends the longer), anything else itself (matched only
    when equal). Relays are looked for among the INVITEs of one key, not among all."""
    return party[-MIN_NUMBER:] if len(party) >= MIN_NUMBER and party.isdigit() else party


def _to_uri(message: LegRequest) -> str | None:
    value = message.header("To")
    return name_addr_uri(value) if value else None


def _sdp_media(message: LegRequest) -> tuple[str, int] | None:
    """The first audio stream an SDP offers, as (address, port); None without SDP."""
    sdp = message.sdp
    if sdp is None:
        return None
    for media in sdp.media:
        if media.port and media.connection:
            return (media.connection, media.port)
    return None


def invite_parties(legs: list[Leg]) -> dict[int, tuple[str, str]]:
    """(caller, target) of each INVITE leg, by ``id(leg)``: what ``timing_links`` compares."""
    return {id(leg): (_caller(leg.request), _target(leg.request)) for leg in legs if leg.method == "INVITE"}


def timing_links(legs: list[Leg], call_kind: CallKinds,
                 parties: dict[int, tuple[str, str]] | None = None) -> list[Link]:
    """An INVITE leaving node N within RELAY_WINDOW_NS after one arrived at N, with another
    Call-ID, and either the same target user or the same SDP media offered (a B2BUA that
    renumbers but passes media through): a B2BUA relaying the call. The incoming INVITE must
    still be unanswered when the outgoing one leaves, and from another socket than the one
    that sent it: sequential calls of one SIPp UAC to a UAS on the same address are not
    relays. The closest arrival wins and each arrival is used once. ``legs`` in time order;
    ``parties``: each INVITE's (caller, target) by ``id(leg)``, when ``invite_parties`` made them."""
    window = LinkWindow(call_kind, retries=False)
    window.add_all(legs, parties=parties)
    return window.timing


def retry_links(legs: list[Leg], call_kind: CallKinds, failed: set[str]) -> list[Link]:
    """A caller that gives up on one attempt and tries again (RFC 3665 §3.4: the first proxy
    never answers, Alice retries through another) keeps its From tag, which RFC 3261 §19.3
    makes globally unique: the same tag from the same address, for the same From and To,
    after an attempt that failed (``failed``: its Call-ID), is the same call. ``legs`` in time order."""
    window = LinkWindow(call_kind, relays=False)
    window.add_all(legs, failed=failed)
    return window.retry


class LinkWindow:
    """``timing_links`` and ``retry_links`` of INVITE legs given in time order (``add``), each
    link found once every leg of its time is given, holding only what a later leg can still be
    linked to: the INVITEs of the last RELAY_WINDOW_NS, and per (sender, From tag, From, To)
    the first hop of the last RETRY_WINDOW_NS or of a call with legs still to come. A busy
    capture's legs are thus released as time moves on (``ladder.calls.bounded`` gives them call
    by call), in memory bounded by the calls of a window, not of the capture."""

    def __init__(self, call_kind: CallKinds, relays: bool = True, retries: bool = True) -> None:
        self.call_kind = call_kind
        self.relays, self.retries = relays, retries
        self.timing: list[Link] = []
        self.retry: list[Link] = []
        self._batch: list[tuple[Leg, int, bool, tuple[str, str] | None]] = []  # the legs of one time
        self._window: deque[Leg] = deque()  # the INVITEs relays are looked for among, in time order
        self._arrivals_at: dict[str, deque[Leg] | tuple[Leg]] = {}  # ... by the address they arrived at
        self._by_caller: dict[str, deque[Leg] | tuple[Leg]] = {}  # ... by their caller's party key (``_party_key``)
        self._parties: dict[int, tuple[str, str, str]] = {}  # (caller, target, caller's key) of each, by ``id(leg)``
        self._used: set[int] = set()  # arrivals already linked (each is used once)
        self._started: dict[str, int] = {}  # Call-IDs whose first hop was given -> their last leg's time
        self._first_hops: dict[tuple, tuple[str, int, int, bool]] = {}  # retry key -> (Call-ID, time, last, failed)
        self._swept = 0  # sizes of the two dicts after the last sweep
        self._now = 0  # the time of the legs in ``_batch``
        self._call = False  # whether the last leg given is known to be a call's

    def add(self, leg: Leg, last_ns: int, failed: bool = False, parties: tuple[str, str] | None = None,
            call: bool = False) -> None:
        """The next leg in time order: ``last_ns``, the time of the last INVITE leg of its Call-ID
        (until then its Call-ID is remembered); ``failed``, whether that Call-ID's attempt failed
        (``grouping._attempt_failed``); ``parties``, its (caller, target) if already known;
        ``call``, True when the caller knows ``call_kind.get(leg.call_id)`` is "call" (not asked then)."""
        ts_ns, batch = leg.ts_ns, self._batch
        if batch and ts_ns != self._now:
            if ts_ns < self._now:
                raise ValueError("legs must be given in time order")
            self._run()
            batch = self._batch
        self._now = ts_ns  # (the time of the legs in ``_batch``)
        self._call = call  # (of the last leg given: a batch of one reads it)
        batch.append((leg, last_ns, failed, parties))

    def add_all(self, legs: list[Leg], parties: dict[int, tuple[str, str]] | None = None,
                failed: set[str] | frozenset[str] = frozenset()) -> None:
        """Every leg of a capture (in time order), then ``finish``."""
        last: dict[str, int] = {}
        for leg in legs:
            last[leg.call_id] = max(leg.ts_ns, last.get(leg.call_id, leg.ts_ns))
        for leg in legs:
            self.add(leg, last[leg.call_id], leg.call_id in failed,
                     parties.get(id(leg)) if parties is not None else None)
        self.finish()

    def finish(self) -> None:
        """Every leg was given: the links of the last time."""
        self._run()

    def _run(self) -> None:
        batch = self._batch
        if not batch:
            return
        self._batch = []
        now = self._now
        # Both kinds of link look only at INVITE legs of calls: their kind is asked once.
        kind = self.call_kind.get
        if len(batch) == 1:  # (most times hold one leg: the same test, without a comprehension's frame)
            leg = batch[0][0]
            invites = batch if leg.method == "INVITE" and (self._call or kind(leg.call_id) == "call") else []
        else:
            invites = [entry for entry in batch if entry[0].method == "INVITE" and kind(entry[0].call_id) == "call"]
        if self.relays:
            self._relays(invites, now)
        if self.retries:
            self._retries(invites, now)
        if len(self._started) + len(self._first_hops) > 2 * self._swept + 64:
            self._sweep(now)

    def _relays(self, invites: list[tuple[Leg, int, bool, tuple[str, str] | None]], now: int) -> None:
        window, parties, used = self._window, self._parties, self._used
        arrivals_at, by_caller = self._arrivals_at, self._by_caller
        horizon = now - RELAY_WINDOW_NS
        # A bucket holding one leg is the tuple ``(leg,)``, made a deque when a second comes: most
        # addresses and callers of a busy capture have one INVITE in the window, and a deque allocates
        # a block of 64 slots to hold it. Either is read the same (``len``, ``reversed``), and
        # legs leave a bucket in the window's order, oldest first, so a tuple's one leg is the one going.
        while window and window[0].ts_ns < horizon:
            gone = window.popleft()  # (out of its two buckets too, the bucket once empty)
            ip = gone.dst.ip  # type: ignore[union-attr]  # (an INVITE in the window has both ends)
            oldest = arrivals_at[ip]
            if isinstance(oldest, tuple):
                del arrivals_at[ip]
            else:
                oldest.popleft()
                if not oldest:
                    del arrivals_at[ip]
            party = parties.pop(id(gone))
            gone_key = party[2]
            oldest = by_caller[gone_key]
            if isinstance(oldest, tuple):
                del by_caller[gone_key]
            else:
                oldest.popleft()
                if not oldest:
                    del by_caller[gone_key]
            if used:
                used.discard(id(gone))
        given = []
        for leg, last_ns, _, known in invites:
            if not (leg.src and leg.dst):
                continue
            # Each INVITE's caller and target, parsed once: it is compared with all those of
            # the relay window after it, thousands of pairs in a busy capture; and the caller's
            # party key (``_party_key``), the bucket it is looked up in, below and when it leaves.
            caller, target = known if known is not None else (_caller(leg.request), _target(leg.request))
            key = _party_key(caller)
            parties[id(leg)] = (caller, target, key)
            window.append(leg)
            ip = leg.dst.ip
            bucket = arrivals_at.get(ip)
            if bucket is None:
                arrivals_at[ip] = (leg,)
            elif isinstance(bucket, tuple):
                arrivals_at[ip] = deque((bucket[0], leg))
            else:
                bucket.append(leg)
            bucket = by_caller.get(key)
            if bucket is None:
                by_caller[key] = (leg,)
            elif isinstance(bucket, tuple):
                by_caller[key] = deque((bucket[0], leg))
            else:
                bucket.append(leg)
            given.append((leg, last_ns, key))
        started = self._started
        # A Call-ID is remembered for its later hops; not when its one leg of this time is its last
        # (``last_ns``: no later leg has that Call-ID, nor another of this time): no look-up can then
        # find it, and the sweep would forget it (most calls of a busy capture: one INVITE leg each).
        alone = len(given) == 1
        for out, last_ns, key in given:
            if out.call_id in started:
                # A later hop of its Call-ID: a proxy relayed it (RFC 3261 §16.6 keeps the Call-ID),
                # so it is no B2BUA's new leg, whatever other calls arrived meanwhile.
                continue
            if last_ns > now or not alone:
                started[out.call_id] = last_ns
            link = None
            arrivals = arrivals_at.get(out.src.ip)  # type: ignore[union-attr]  # (given: both ends)
            if arrivals:
                link = _same_node_link(out, arrivals, used, parties)
            if link is None:
                arrivals = by_caller[key]  # (``out`` is in it)
                if len(arrivals) > 1:  # (``_multihomed_link`` never links ``out`` to itself)
                    link = _multihomed_link(out, arrivals, used, parties)
            if link is not None:
                self.timing.append(link)

    def _retries(self, invites: list[tuple[Leg, int, bool, tuple[str, str] | None]], now: int) -> None:
        first_hops = self._first_hops
        for leg, last_ns, failed, _ in invites:
            if leg.src is None:
                continue
            request = leg.request
            from_tag = request.from_tag
            if not from_tag or len(request.vias) != 1:  # sent by the caller UA itself
                continue
            key = (leg.src.ip, from_tag, request.from_uri, request.to_uri)
            earlier = first_hops.get(key)
            if earlier is None or earlier[0] == leg.call_id:
                if earlier is None:
                    first_hops[key] = (leg.call_id, leg.ts_ns, last_ns, failed)
                continue
            if earlier[3] and leg.ts_ns - earlier[1] <= RETRY_WINDOW_NS:
                seconds = (leg.ts_ns - earlier[1]) / 1e9
                self.retry.append(Link(earlier[0], leg.call_id,
                                       f"same From tag {from_tag}: {leg.src.ip} retried {seconds:.1f} s later"))
            first_hops[key] = (leg.call_id, leg.ts_ns, last_ns, failed)

    def _sweep(self, now: int) -> None:
        """Forget what no later leg can be linked to: a Call-ID whose legs were all given; a
        first hop too old to be retried whose Call-ID has no legs to come (one to come would
        keep it, not itself, as its key's first hop)."""
        self._started = {cid: last for cid, last in self._started.items() if last >= now}
        self._first_hops = {key: hop for key, hop in self._first_hops.items()
                            if now - hop[1] <= RETRY_WINDOW_NS or hop[2] >= now}
        self._swept = len(self._started) + len(self._first_hops)


def _same_node_link(out: Leg, arrivals: Reversible[Leg], used_arrivals: set[int],
                    parties: Mapping[int, tuple[str, ...]]) -> Link | None:
    """The closest INVITE that arrived at the address ``out`` leaves from, for the same target
    or with the same SDP media. ``arrivals``: those of the relay window before ``out``, in time
    order; ``parties``: (caller, target) by ``id(leg)``."""
    if not arrivals:
        return None
    node = _ip(out.src)
    target = parties[id(out)][1]
    media = _sdp_media(out.request)
    for arrival in reversed(arrivals):  # closest first
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


def _multihomed_link(out: Leg, arrivals: Reversible[Leg], used_arrivals: set[int],
                     parties: Mapping[int, tuple[str, ...]]) -> Link | None:
    """A B2BUA with two addresses (an SBC's public and private side): the INVITE leaves from
    another address than the one it arrived at, so the node cannot tie the legs; the parties
    must. The closest earlier INVITE, from another sender, with the same caller and the same
    callee, each up to a routing prefix. ``arrivals``: the INVITEs of the relay window before
    ``out`` whose caller has the party key of ``out``'s, in time order."""
    party = parties[id(out)]  # (caller, target[, the window's key of the caller])
    caller, target = party[0], party[1]
    if not caller or not target:
        return None
    node = _ip(out.src)
    for arrival in reversed(arrivals):  # closest first
        if (arrival is out or arrival.call_id == out.call_id or id(arrival) in used_arrivals
                or _ip(arrival.src) == node or _ip(arrival.dst) == node
                or not arrival.pending_at(out.ts_ns)):
            continue  # the same sender is a parallel call; the same node was the rule above
        arrival_party = parties[id(arrival)]
        arrived_from, arrived_for = arrival_party[0], arrival_party[1]
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
