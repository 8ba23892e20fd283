"""SDP ↔ RTP: which call each stream belongs to and why, media problems as data, and the
media bars drawn on a ladder.

``bind_media(calls, streams) -> list[MediaBinding]`` (``calls`` one call or a list; each call
exposes ``.messages`` (SipMessage list) and ``.id``, or is already its ``CallMedia``). A stream binds to a call when, within the
call's time span (first SDP - ``SLACK_NS`` .. its BYE, open-ended without one):

1. its destination address:port is an SDP c=/m= a party of the call announced (``sdp-destination``);
2. else its destination port is an announced port and its destination address is the
   announcing party's signalling address (``nat-signalling-address``; the SDP carried a
   private or wrong c= address behind NAT);
3. else its source address:port is one (symmetric RTP, RFC 4961: ``sdp-source``).
When several SDPs (of one call or several) announce the same address:port, the latest one
before the stream's start wins; when none came before it, the first one within ``SLACK_NS``
after it (a capture point that saw the media before the SDP that asked for it).

Problems (stable kebab-case codes, with a human detail):
``nat-mismatch`` (RTP goes to / comes from the announcer's signalling address, not its SDP
c= address: NAT), ``media-address-mismatch`` (RTP comes from an address or port other than its
sender's SDP), ``unexpected-payload-type`` (a PT no SDP of the call offered), ``media-after-bye``
(packets more than ``BYE_GRACE_NS`` after the BYE), and per call ``no-media`` (a 2xx to INVITE
with SDP, not on hold, and no stream) and ``one-way-media`` (streams in one direction only
while both sides' SDP said sendrecv).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Protocol, TypeVar

import heapq
import ipaddress
from dataclasses import dataclass, field

from decoders.records import Endpoint
from ladder.media.streams import RtpStream, StreamKey

SLACK_NS = 2_000_000_000
BYE_GRACE_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SdpAnnouncement:
    """One m= line of one SIP message: where its sender wants RTP, with which payload types."""

    address: str
    port: int
    party_ip: str | None  # the announcing message's signalling source
    payload_types: tuple[int, ...]
    direction: str
    ts_ns: int
    message_label: str
    frame: int | None


@dataclass(frozen=True, slots=True)
class MediaProblem:
    code: str
    detail: str
    call_id: str
    stream_key: StreamKey | None = None
    frame: int | None = None


@dataclass(frozen=True, slots=True)
class MediaBinding:
    """A stream matched to a call: ``reason`` says how (``sdp-destination`` ...), ``detail``
    says with what; ``announcement`` is the SDP that matched."""

    call_id: str
    stream: RtpStream
    reason: str
    detail: str
    announcement: SdpAnnouncement
    problems: tuple[MediaProblem, ...]


@dataclass(frozen=True, slots=True)
class MediaBar:
    """One media row of a ladder: one direction, or both when the two directions pair up."""

    src: Endpoint
    dst: Endpoint
    ts_ns: int
    label: str
    both_ways: bool
    stream_keys: tuple[StreamKey, ...]
    problems: tuple[str, ...]


def _label(message) -> str:
    if message.is_request:
        return message.method or "request"
    return f"{message.status} {message.reason or ''}".rstrip()


def sdp_announcements(call) -> list[SdpAnnouncement]:
    """Every RTP m= line with a port in the call's messages, in time order."""
    found = []
    for message in sorted(call.messages, key=lambda m: m.ts_ns):
        sdp = message.sdp
        if sdp is None:
            continue
        for media in sdp.media:
            address = media.connection or sdp.connection
            if not media.port or not address or "RTP" not in (media.proto or "").upper():
                continue
            pts = tuple(int(f) for f in media.formats if f.isdigit())
            found.append(SdpAnnouncement(
                address=address, port=media.port,
                party_ip=message.src.ip if message.src else None, payload_types=pts,
                direction=media.direction or "sendrecv", ts_ns=message.ts_ns,
                message_label=_label(message),
                frame=message.frames[0].number if message.frames else None))
    return found


_NAT_RANGES = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7"))


def _is_private(ip: str) -> bool:
    """RFC 1918 / RFC 6598 / link-local / ULA: addresses that only exist behind a NAT."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in _NAT_RANGES if net.version == address.version)


def _bye_ns(call) -> int | None:
    times = [m.ts_ns for m in call.messages if m.is_request and m.method == "BYE"]
    return min(times) if times else None


@dataclass(frozen=True, slots=True)
class CallMedia:
    """What binding reads of a call, read once: its id, SDP announcements, first BYE and whether
    a 2xx to an INVITE carried SDP. A busy capture's calls are bound over all at once, so this,
    not each call with its messages, is what a whole-capture binding holds of each."""

    id: str
    announcements: tuple[SdpAnnouncement, ...]
    bye_ns: int | None
    established: bool

    @classmethod
    def of(cls, call) -> "CallMedia":
        if isinstance(call, CallMedia):
            return call
        return cls(call.id, tuple(sdp_announcements(call)), _bye_ns(call), _established(call))


class StreamEnds(Protocol):
    """What binding reads of a stream: an ``RtpStream``, or an archive's stream across files."""

    @property
    def src(self) -> Endpoint: ...
    @property
    def dst(self) -> Endpoint: ...
    @property
    def first_ns(self) -> int: ...


S = TypeVar("S", bound=StreamEnds)


def _pick(candidates: list[SdpAnnouncement], stream: StreamEnds) -> SdpAnnouncement:
    """The announcement a stream answers: the latest one made before it started, else the first
    one after. (Taking the latest within the slack instead gave a stream on a shared port to a
    call set up up to ``SLACK_NS`` later: with a call every 100 ms, twenty calls on.)"""
    before = [a for a in candidates if a.ts_ns <= stream.first_ns]
    return max(before, key=lambda a: a.ts_ns) if before else min(candidates, key=lambda a: a.ts_ns)


def match_rank(announced_ns: int, start_ns: int, order: int) -> tuple[int, int, int]:
    """How well a call's announcement (``_pick``'s) fits a stream, comparable across calls: one
    made before the stream started, the latest first; else one within ``SLACK_NS`` after, the
    earliest first; else a later one (the call's window still held the stream's start); ties go
    to the earlier call (``order``)."""
    if announced_ns <= start_ns:
        return (2, announced_ns, -order)
    if announced_ns <= start_ns + SLACK_NS:
        return (1, -announced_ns, -order)
    return (0, announced_ns, -order)


def _match(stream: StreamEnds, announced: list[SdpAnnouncement]):
    dst = [a for a in announced if (a.address, a.port) == (stream.dst.ip, stream.dst.port)]
    if dst:
        a = _pick(dst, stream)
        return a, "sdp-destination", f"destination {stream.dst.address()} = SDP of {a.message_label}"
    nat = [a for a in announced if a.port == stream.dst.port and a.party_ip == stream.dst.ip]
    if nat:
        a = _pick(nat, stream)
        return (a, "nat-signalling-address",
                f"destination {stream.dst.address()} = signalling address of {a.message_label}, "
                f"whose SDP said {a.address}:{a.port}")
    src = [a for a in announced if (a.address, a.port) == (stream.src.ip, stream.src.port)]
    if src:
        a = _pick(src, stream)
        return a, "sdp-source", f"source {stream.src.address()} = SDP of {a.message_label} (symmetric RTP)"
    return None


def _stream_problems(call, stream: RtpStream, announcement: SdpAnnouncement, reason: str,
                     announced: list[SdpAnnouncement], bye_ns: int | None) -> list[MediaProblem]:
    problems = []
    key = stream.key
    if reason == "nat-signalling-address":
        problems.append(MediaProblem(
            "nat-mismatch", f"RTP to {stream.dst.address()}, SDP said {announcement.address}:"
            f"{announcement.port} (NAT: the signalling address is used)", call.id, key))
    # The sender's own SDP: an announcement in this call of another media address than the
    # receiver's. (Signalling addresses cannot tell the parties apart behind proxies.)
    if reason != "sdp-source":
        receiver = (announcement.address, announcement.port)
        others = [a for a in announced if (a.address, a.port) != receiver]
        source = (stream.src.ip, stream.src.port)
        if others and source not in {(a.address, a.port) for a in others}:
            own = _pick(others, stream)
            # NAT: the packets come from the sender's signalling address, or its SDP named a
            # private address while they come from a public one.
            nat = own.address != stream.src.ip and (
                stream.src.ip == own.party_ip
                or (_is_private(own.address) and not _is_private(stream.src.ip)))
            if nat:
                code, detail = "nat-mismatch", (
                    f"RTP from {stream.src.address()}, its sender's SDP ({own.message_label}) "
                    f"said {own.address}:{own.port} (NAT)")
            elif own.address == stream.src.ip:
                code, detail = "media-address-mismatch", (
                    f"RTP from {stream.src.address()}, its sender's SDP ({own.message_label}) "
                    f"said port {own.port}")
            else:
                code, detail = "media-address-mismatch", (
                    f"RTP from {stream.src.address()}, an address no SDP of the call announced "
                    f"(the other side's SDP, {own.message_label}, said {own.address}:{own.port})")
            problems.append(MediaProblem(code, detail, call.id, key, stream.first_frame))
    offered = {pt for a in announced for pt in a.payload_types}
    unexpected = [pt for pt in stream.payload_types if pt not in offered]
    if unexpected:
        problems.append(MediaProblem(
            "unexpected-payload-type", f"payload type {', '.join(map(str, unexpected))} not in "
            f"any SDP of the call (offered: {', '.join(map(str, sorted(offered)))})", call.id, key,
            stream.first_frame))
    if bye_ns is not None and stream.last_ns > bye_ns + BYE_GRACE_NS:
        problems.append(MediaProblem(
            "media-after-bye", f"RTP until {(stream.last_ns - bye_ns) / 1e9:.1f} s after the BYE",
            call.id, key, stream.last_frame))
    return problems


def ranked_matches(announced: list[SdpAnnouncement], candidates: Iterable[S], bye_ns: int | None,
                   order: int) -> Iterator[tuple[S, tuple[SdpAnnouncement, str, str], tuple[int, int, int]]]:
    """Each candidate stream that one call's SDP (``announced``, in time order) can own, with the
    match and its rank: a stream must start within ``SLACK_NS`` before the first announcement
    and not after the BYE (later, it belongs to a later call on the same ports). Ranks compare
    across calls (``match_rank``)."""
    start = announced[0].ts_ns - SLACK_NS
    end = bye_ns if bye_ns is not None else float("inf")
    for stream in candidates:
        if not (start <= stream.first_ns <= end):
            continue
        matched = _match(stream, announced)
        if matched is None:
            continue
        announcement = matched[0]
        yield stream, matched, match_rank(announcement.ts_ns, stream.first_ns, order)


class _KeyedAnnouncements:
    """The announcements of every call on one key (an address:port, or a signalling address and
    a port), for a sweep over streams in start order: ``latest`` is the call whose announcement
    on the key is the latest one before a stream started (an announcement becomes a candidate
    once its time has passed, a call leaves for good at its BYE), ``earliest_after`` the
    fallback of ``_pick`` when no call announced the key before the stream."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, int, int]] = []  # (ts, call order, position in the call)
        self.calls: set[int] = set()  # the orders of the calls with an announcement on the key
        self.heap: list[tuple[int, ...]] = []  # (-ts, order, position): the latest first
        self.next = 0  # entries[next:] are not candidates yet
        # Per call: (start of its window, its first announcement on the key, order), and a heap
        # of the started ones by that first announcement, the latest first.
        self.firsts: list[tuple[int, int, int]] = []
        self.later: list[tuple[int, ...]] = []
        self.next_first = 0

    def add(self, ts_ns: int, order: int, position: int, call_start_ns: int) -> None:
        if order not in self.calls:
            self.calls.add(order)
            self.firsts.append((call_start_ns, ts_ns, order))
        self.entries.append((ts_ns, order, position))

    def ready(self) -> None:
        self.entries.sort()
        self.firsts.sort()

    def latest(self, until_ns: int, start_ns: int, byes: list[int | None], excluded: tuple[set[int], ...],
               floor: tuple[int, int] | None) -> tuple[int, int] | None:
        """(ts, -order) of the best call with an announcement at or before ``until_ns`` (the
        stream's start), not gone by ``start_ns``, in no ``excluded`` set (its match is on
        another key), if it ranks above ``floor``."""
        entries, heap = self.entries, self.heap
        while self.next < len(entries) and entries[self.next][0] <= until_ns:
            ts_ns, order, position = entries[self.next]
            heapq.heappush(heap, (-ts_ns, order, position))
            self.next += 1
        return _best_on_heap(heap, lambda item: _over(byes[item[1]], start_ns), excluded, floor)

    def earliest_soon(self, start_ns: int, until_ns: int, byes: list[int | None],
                      excluded: tuple[set[int], ...]) -> tuple[int, int] | None:
        """(ts, order) of the first announcement after the stream's start (``latest`` has taken
        those before it) and at or before ``until_ns``, of a call not gone and in no ``excluded``
        set. Only asked when no call announced the key before the stream: the scan stays within
        ``SLACK_NS`` of the entries ``latest`` will take next."""
        entries = self.entries
        for i in range(self.next, len(entries)):
            ts_ns, order, _position = entries[i]
            if ts_ns > until_ns:
                break
            if not _over(byes[order], start_ns) and not any(order in calls for calls in excluded):
                return ts_ns, order
        return None

    def earliest_after(self, until_ns: int, start_ns: int, byes: list[int | None],
                       excluded: tuple[set[int], ...]) -> tuple[int, int] | None:
        """(first announcement, -order) of the best call whose window holds the stream's start
        but whose announcements on the key all come after ``until_ns`` (``_pick``'s fallback)."""
        firsts, later = self.firsts, self.later
        while self.next_first < len(firsts) and firsts[self.next_first][0] <= until_ns:
            _start, first_ns, order = firsts[self.next_first]
            heapq.heappush(later, (-first_ns, order))
            self.next_first += 1
        return _best_on_heap(later, lambda item: -item[0] <= until_ns or _over(byes[item[1]], start_ns),
                             excluded, None)


def _over(bye_ns: int | None, start_ns: int) -> bool:
    return bye_ns is not None and bye_ns < start_ns


def _best_on_heap(heap: list[tuple[int, ...]], gone: Callable[[tuple[int, ...]], bool],
                  excluded: tuple[set[int], ...], floor: tuple[int, int] | None) -> tuple[int, int] | None:
    """(time, -order) of the best item of ``heap`` (items ``(-time, order, ...)``, the latest
    first) ranked above ``floor``. Items ``gone`` are dropped for good (the sweep only moves
    forward in time); those of a call in an ``excluded`` set are passed over and put back."""
    skipped = []
    found = None
    while heap:
        item = heap[0]
        rank = (-item[0], -item[1])
        if floor is not None and rank <= floor:
            break
        if gone(item):
            heapq.heappop(heap)
        elif any(item[1] in calls for calls in excluded):
            skipped.append(heapq.heappop(heap))
        else:
            found = rank
            break
    for item in skipped:
        heapq.heappush(heap, item)
    return found


_NOBODY: set[int] = set()


def bind_media(calls, streams: list[RtpStream]) -> list[MediaBinding]:
    """Bindings of ``streams`` to ``calls`` (one call or a list), each stream at most once:
    to the call whose matching SDP is the latest one before the stream started (``match_rank``).

    The rule is ``ranked_matches``' (a call's match on a stream: its destination address:port
    if the call announced it, else the NAT case, else its source; the best rank wins across
    calls), computed per stream rather than per call: the announcements are indexed by key and
    the streams swept in start order, so the work grows with calls plus streams even when
    every call announces the same address:port (SIPp), where trying every call on every stream
    grew with their product."""
    group = [CallMedia.of(call) for call in (calls if isinstance(calls, (list, tuple)) else [calls])]
    announced_of: list[list[SdpAnnouncement]] = []
    byes: list[int | None] = []
    by_address: dict[tuple[str, int], _KeyedAnnouncements] = {}
    by_party: dict[tuple[str | None, int], _KeyedAnnouncements] = {}
    for order, call in enumerate(group):
        announced = list(call.announcements)
        announced_of.append(announced)
        byes.append(call.bye_ns if announced else None)
        if not announced:
            continue
        # The call's window opens SLACK_NS before its first announcement: a stream starting
        # at or after (first - SLACK) is one whose start plus SLACK_NS reaches that announcement.
        first_ns = announced[0].ts_ns
        for position, a in enumerate(announced):
            by_address.setdefault((a.address, a.port), _KeyedAnnouncements()).add(a.ts_ns, order, position, first_ns)
            by_party.setdefault((a.party_ip, a.port), _KeyedAnnouncements()).add(a.ts_ns, order, position, first_ns)
    for on_key in (*by_address.values(), *by_party.values()):
        on_key.ready()
    best: dict[tuple, tuple] = {}
    for position, stream in sorted(enumerate(streams), key=lambda item: (item[1].first_ns, item[0])):
        start_ns = stream.first_ns
        until_ns = start_ns + SLACK_NS
        dst = by_address.get((stream.dst.ip, stream.dst.port))
        nat = by_party.get((stream.dst.ip, stream.dst.port))
        src = by_address.get((stream.src.ip, stream.src.port))
        # A call matches on its destination key if it announced it at all, else on the NAT key,
        # else on the source key (``_match``): each call is asked on one key only.
        on_dst = dst.calls if dst is not None else _NOBODY
        on_nat = nat.calls if nat is not None else _NOBODY
        lists: list[tuple[_KeyedAnnouncements | None, tuple[set[int], ...]]] = [
            (dst, ()), (nat, (on_dst,)), (src, (on_dst, on_nat))]
        found: tuple[int, int] | None = None
        for keyed, excluded in lists:
            if keyed is not None:
                found = keyed.latest(start_ns, start_ns, byes, excluded, found) or found
        soon: tuple[int, int] | None = None
        if found is None:  # no call announced a key before the stream: the first one after it
            for keyed, excluded in lists:
                if keyed is not None:
                    candidate = keyed.earliest_soon(start_ns, until_ns, byes, excluded)
                    if candidate is not None and (soon is None or candidate < soon):
                        soon = candidate
            if soon is not None:
                found = (soon[0], -soon[1])
        if found is None:
            for keyed, excluded in lists:
                if keyed is not None:
                    candidate = keyed.earliest_after(until_ns, start_ns, byes, excluded)
                    if candidate is not None and (found is None or candidate > found):
                        found = candidate
        if found is None:
            continue
        order = -found[1]
        matched = _match(stream, announced_of[order])
        if matched is None:  # cannot be: the call announced one of the stream's keys
            continue
        rank = match_rank(matched[0].ts_ns, start_ns, order)
        if stream.key not in best or rank > best[stream.key][0]:
            best[stream.key] = (rank, position, group[order], stream, matched, announced_of[order], byes[order])
    bindings = []
    for _rank, _position, call, stream, (announcement, reason, detail), announced, bye_ns in \
            sorted(best.values(), key=lambda item: item[1]):
        problems = _stream_problems(call, stream, announcement, reason, announced, bye_ns)
        bindings.append(MediaBinding(call.id, stream, reason, detail, announcement, tuple(problems)))
    bindings.sort(key=lambda b: (b.stream.first_ns, b.stream.first_frame))
    return bindings


def _established(call) -> bool:
    return any(not m.is_request and m.status is not None and 200 <= m.status < 300
               and m.method == "INVITE" and m.sdp is not None for m in call.messages)


def own_problems(call, mine: list[MediaBinding]) -> list[MediaProblem]:
    """The call's own media problems (``no-media``, ``one-way-media``) given its bindings
    (``call``: a call, or its ``CallMedia``)."""
    media = CallMedia.of(call)
    announced = media.announcements
    if not media.established or not announced:
        return []
    if all(a.direction == "inactive" for a in announced[-2:]):
        return []
    if not mine:
        return [MediaProblem("no-media", "the call was answered with SDP but no RTP "
                             "was seen for it", call.id)]
    directions = {(b.stream.src.ip, b.stream.dst.ip) for b in mine}
    two_way_sdp = all(a.direction == "sendrecv" for a in announced[-2:])
    parties = {a.party_ip for a in announced}
    if two_way_sdp and len(parties) >= 2 and not any((d, s) in directions for s, d in directions):
        only = mine[0].stream
        return [MediaProblem(
            "one-way-media", f"RTP only from {only.src.address()} to {only.dst.address()}; "
            "nothing came back although both SDPs said sendrecv", call.id, only.key,
            only.first_frame)]
    return []


def call_media_problems(calls, capture_or_streams) -> list[MediaProblem]:
    """Every media problem of ``calls`` (one or a list): the bound streams' and the calls' own
    (``no-media``, ``one-way-media``). The second argument is a Capture or a stream list."""
    streams = getattr(capture_or_streams, "streams", capture_or_streams) or []
    group = calls if isinstance(calls, (list, tuple)) else [calls]
    return MediaIndex.build(group, streams).problems(group)


@dataclass(frozen=True, slots=True)
class MediaIndex:
    """The media of a whole capture, bound once (``bind_media`` over every call): each stream
    belongs to at most one call, whichever command or screen asks. Built in time linear in
    calls and streams; every look-up below is by call id or stream key."""

    bindings: tuple[MediaBinding, ...]
    by_call: dict[str, tuple[MediaBinding, ...]]
    by_stream: dict[StreamKey, MediaBinding]
    call_problems: dict[str, tuple[MediaProblem, ...]]  # call id -> no-media / one-way-media
    # The stream list it was built from and its streams by key (the last of a key, as a dict
    # comprehension over the list has it), made once: a ladder's bars look their streams up.
    streams: list[RtpStream] = field(default_factory=list, repr=False)
    stream_by_key: dict[StreamKey, RtpStream] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, calls, streams: list[RtpStream]) -> "MediaIndex":
        """``calls``: one call or a list, of calls or of their ``CallMedia`` (what a busy
        capture's whole-capture binding holds, the calls themselves being made one at a time)."""
        group = [CallMedia.of(call) for call in (calls if isinstance(calls, (list, tuple)) else [calls])] \
            if streams else []
        bindings = bind_media(group, streams) if streams else []
        by_call: dict[str, list[MediaBinding]] = {}
        for binding in bindings:
            by_call.setdefault(binding.call_id, []).append(binding)
        own = {}
        for call in group:
            found = own_problems(call, by_call.get(call.id, [])) if streams else []
            if found:
                own[call.id] = tuple(found)
        return cls(tuple(bindings), {k: tuple(v) for k, v in by_call.items()},
                   {b.stream.key: b for b in bindings}, own, streams, {s.key: s for s in streams})

    def of(self, call_id: str) -> tuple[MediaBinding, ...]:
        """The bindings of one call, in stream start order."""
        return self.by_call.get(call_id, ())

    def call_of(self, stream_key: StreamKey) -> str | None:
        binding = self.by_stream.get(stream_key)
        return binding.call_id if binding is not None else None

    def problems(self, calls) -> list[MediaProblem]:
        """The media problems of ``calls`` (one or a list): their streams' problems in stream
        start order, then each call's own."""
        group = calls if isinstance(calls, (list, tuple)) else [calls]
        mine = sorted((b for call in group for b in self.of(call.id)),
                      key=lambda b: (b.stream.first_ns, b.stream.first_frame))
        found = [p for b in mine for p in b.problems]
        for call in group:
            found.extend(self.call_problems.get(call.id, ()))
        return found

    def stream_problem_codes(self) -> dict[StreamKey, tuple[str, ...]]:
        """Stream key -> the problem codes concerning that stream (each once)."""
        codes: dict[StreamKey, tuple[str, ...]] = {}
        every = [p for b in self.bindings for p in b.problems]
        every += [p for found in self.call_problems.values() for p in found]
        for problem in every:
            if problem.stream_key is not None and problem.code not in codes.get(problem.stream_key, ()):
                codes[problem.stream_key] = codes.get(problem.stream_key, ()) + (problem.code,)
        return codes


def media_bars(call, bindings: list[MediaBinding]) -> list[MediaBar]:
    """One bar per direction of the call's streams, or one both-way bar when the reverse
    stream exists; each at the time its media started."""
    mine = [b for b in bindings if b.call_id == call.id]
    call_problems = own_problems(call, mine)
    bars: list[MediaBar] = []
    used: set[tuple] = set()
    for binding in sorted(mine, key=lambda b: b.stream.first_ns):
        stream = binding.stream
        if stream.key in used:
            continue
        used.add(stream.key)
        reverse = next((b for b in mine if b.stream.key not in used
                        and b.stream.src == stream.dst and b.stream.dst == stream.src), None)
        problems = [p.code for p in binding.problems]
        keys = [stream.key]
        label = f"RTP {stream.codec} {stream.packets} pkts"
        if reverse is not None:
            used.add(reverse.stream.key)
            keys.append(reverse.stream.key)
            problems += [p.code for p in reverse.problems]
            label = (f"RTP {stream.codec} {stream.packets}/{reverse.stream.packets} pkts")
        problems += [p.code for p in call_problems if p.stream_key in keys]
        bars.append(MediaBar(src=stream.src, dst=stream.dst, ts_ns=stream.first_ns, label=label,
                             both_ways=reverse is not None, stream_keys=tuple(keys),
                             problems=tuple(dict.fromkeys(problems))))
    return bars
