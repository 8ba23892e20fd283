"""``iter_calls``: the calls of a capture built one at a time from its ``MessageStore``, in
memory bounded by the biggest call rather than by the capture.

It gives exactly what ``ladder.calls.grouping.build_calls`` gives over the parsed messages (the
same calls, numbers, messages, legs, links and outcomes; ``tests/unit/calls/test_bounded.py``
compares them), in three passes over the compact index:

1. Call-ID groups from the index columns (message numbers only) and their kinds;
2. each INVITE group read back, its capture copies folded, its transactions and legs found; what
   the links across Call-IDs read of a leg's request is kept (``KeptRequest``: URIs, From/To,
   the offered media) while a later leg may still link to it (``legs.LinkWindow``: seconds of
   the capture, not all of it), and of each message only the correlation headers;
3. the links joined as ``build_calls`` joins them, and each call read back, built and yielded.

A message is thus read (``pread`` + first pass) twice, fully parsed only where a link or the
caller/callee of a non-INVITE exchange needs it, or when the consumer asks (a ladder, a check).
``iter_call_rows`` (``ladder calls``) reads most only once: the row of an INVITE group's call is
made in pass 2, and pass 3 builds again only the calls links join (and non-INVITE exchanges). A
group of the common call shape is not even built there: C sums it up (``simple_calls``).
"""

from __future__ import annotations

import heapq
import os
import tempfile
from array import array
from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar, cast

from decoders.errors import DecodeError
from decoders.header_names import canonical_name
from decoders.sip import _checked_name_addr
from ladder.calls.duplicates import fold_duplicates
from ladder.calls.grouping import (
    CALL,
    Call,
    _attempt_failed,
    _order_key,
    build_call,
    kind_of_methods,
    linked_components,
)
from ladder.calls import simple_calls
from ladder.calls.legs import CORRELATION_HEADERS, Leg, LinkWindow, find_legs, header_links
from ladder.calls.spill import read_batch, write_batch
from ladder.calls.transactions import build_transactions
from ladder.capture.messagestore import CORRELATION, MessageStore, StoredMessage, head_values

_c_call_groups: Callable[..., int] | None
try:  # the grouping compiled (optional, as all of ``ladder._accel``)
    from ladder._accel import call_groups as _c_call_groups
except ImportError:
    _c_call_groups = None
if os.environ.get("PCAPLADDER_PURE_PYTHON"):
    _c_call_groups = None

if TYPE_CHECKING:
    from ladder.capture.loader import Capture

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Media:
    port: int
    connection: str


@dataclass(frozen=True, slots=True)
class _OfferedMedia:
    """The one SDP medium ``legs._sdp_media`` looks at (the first with a port and an address)."""

    media: tuple[_Media, ...]


def _packed(k: int) -> property:
    """Piece ``k`` of a ``KeptRequest``'s text (None kept as ``_NONE``)."""
    def get(self: "KeptRequest") -> str | None:
        text = self._text
        piece = text[k] if type(text) is tuple else text.split("\x00", k + 1)[k]  # (pieces after k left whole)
        return None if piece is None or piece == _NONE else piece
    return property(get)


class KeptRequest:
    """What the links across Call-IDs (``timing_links``, ``retry_links``) and a call's
    caller/callee read of an INVITE leg's request, kept after the message is released: one per
    call of the links' window of a busy capture, so its texts are kept as one string."""

    __slots__ = ("call_id", "vias", "_text", "_sdp", "_store", "_index")

    def __init__(self, message: StoredMessage, call_id: str | None = None) -> None:
        # ``call_id``: the same text as the message's, kept once for the whole capture.
        self.call_id = call_id if call_id is not None and call_id == message.call_id else message.call_id
        values = head_values(message.raw, _KEPT_HEADERS) if message._full is None else {}
        if len(values.get("via", ())) == 1:
            # One Via line, whose one via-parm the first pass read: one Via. From and To as
            # ``parse_sip`` reads them (the first pass rejects repeated ones).
            from_value = values.get("from", [None])[0]
            to_value = values.get("to", [None])[0]
            from_uri, to_uri = _uri(from_value, "From"), _uri(to_value, "To")
            self.vias: tuple[None, ...] = (None,)
        else:
            full = message.full
            from_uri, to_uri = full.from_uri, full.to_uri
            self.vias = (None,) * len(full.vias)  # only counted
            from_value, to_value = full.header("From"), full.header("To")
        pieces = (message.from_tag, message.request_uri, from_uri, to_uri, from_value, to_value)
        plain = all(p is None or ("\x00" not in p and p != _NONE) for p in pieces)
        self._text: Any = "\x00".join(_NONE if p is None else p for p in pieces) if plain else pieces
        self._sdp: Any = _UNREAD
        self._store: Any = message._store  # not the message: it is released
        self._index = message.index

    @classmethod
    def of_texts(cls, call_id: str, from_tag: str, request_uri: str, from_value: str, to_value: str,
                 store: Any, index: int, from_uri: str | None = None, to_uri: str | None = None) -> "KeptRequest":
        """What ``KeptRequest(message)`` keeps of an INVITE with one Via line, from its texts
        (``simple_calls``: C read them as ``head_values`` does, and the URIs of plain From and To
        values as ``_uri`` does), without reading the message: a ``_KeptTexts``."""
        self = _KeptTexts.__new__(_KeptTexts)
        self.call_id, self.vias = call_id, (None,)
        if from_uri is None or to_uri is None:
            from_uri, to_uri = _uri(from_value, "From"), _uri(to_value, "To")
        self.from_tag, self.request_uri, self.from_uri, self.to_uri = from_tag, request_uri, from_uri, to_uri
        self._from, self._to = from_value, to_value
        self._sdp, self._store, self._index = _UNREAD, store, index
        return self

    from_tag = _packed(0)
    request_uri = _packed(1)
    from_uri = _packed(2)
    to_uri = _packed(3)
    _from = _packed(4)
    _to = _packed(5)

    @property
    def sdp(self):
        """The offered medium ``legs._sdp_media`` reads, read back when first asked (most legs'
        never are: only an INVITE that leaves a node where INVITEs arrive)."""
        if self._sdp is _UNREAD:
            message = self._store.message(self._index)
            try:
                sdp = message.sdp
                first = next(((m.port, m.connection) for m in sdp.media if m.port and m.connection), None) \
                    if sdp else None
                self._sdp = _OfferedMedia((_Media(*first),)) if first else None
            except DecodeError as exc:  # as the parsed message would raise it, when asked
                self._sdp = exc
            self._store = None
        if isinstance(self._sdp, DecodeError):
            raise self._sdp
        return self._sdp

    def header(self, name: str) -> str | None:
        lower = name.lower()
        if lower in ("from", "f"):
            return self._from
        if lower in ("to", "t"):
            return self._to
        raise KeyError(f"header {name!r} was not kept")


class _KeptTexts(KeptRequest):
    """A ``KeptRequest`` made of a simple call's texts (``KeptRequest.of_texts``): each piece in a
    slot of its own, read as an attribute (the links' window reads three of every leg it is given;
    a slot of this class comes before the base's property of the same name). The texts are those
    of a head the C first pass read, so none is ``_NONE``: each reads as the base's would."""

    __slots__ = ("from_tag", "request_uri", "from_uri", "to_uri", "_from", "_to")


_KEPT_HEADERS = frozenset({"from", "to", "via"})
_UNREAD = object()
_NONE = "\x01"  # a None among a KeptRequest's texts (a text that is "\x01" keeps them apart)


def _uri(value: str | None, what: str) -> str | None:
    """``SipMessage.from_uri`` / ``to_uri`` of a From / To value."""
    addr = _checked_name_addr(value, what, []) if value is not None else None
    return addr.uri if addr is not None else None


class _Correlation:
    """The correlation headers of one message, for ``header_links``."""

    __slots__ = ("values", "session_ids")

    def __init__(self, message: StoredMessage) -> None:
        if message._full is None:
            # The first pass read it (CRLF lines, an ASCII head): its values as ``parse_sip``
            # indexes them, without the full parse a header asked of it would make (RFC 7989
            # puts a Session-ID in every message of the SBCs and phones that send it). None of
            # the three is a list header: ``header_values`` gives them as they are.
            found = head_values(message.raw, _CORRELATION_NAMES)
            self.values = tuple(found[key][0] if key in found else None for key in _CORRELATION_KEYS[:-1])
            self.session_ids = tuple(found.get(_CORRELATION_KEYS[-1], ()))
            return
        self.values = tuple(message.header(h) for h in CORRELATION_HEADERS)
        self.session_ids = tuple(message.header_values("Session-ID"))

    def key(self) -> tuple:
        return self.values + self.session_ids

    def header(self, name: str) -> str | None:
        return self.values[CORRELATION_HEADERS.index(name)]

    def header_values(self, name: str) -> list[str]:
        return list(self.session_ids)


_CORRELATION_KEYS = tuple(canonical_name(name) for name in (*CORRELATION_HEADERS, "Session-ID"))
_CORRELATION_NAMES = frozenset(_CORRELATION_KEYS)


def _correlate(cid: str, flagged: Iterator[StoredMessage], correlated: dict[str, list[_Correlation]]) -> None:
    """The correlation headers of a group's messages that may carry any (``CORRELATION``), each
    set once (a repeat adds no link: ``header_links`` dedups pairs), kept for ``header_links``."""
    seen: set[tuple] = set()
    for message in flagged:
        found = _Correlation(message)
        if found.key() not in seen:
            seen.add(found.key())
            correlated.setdefault(cid, []).append(found)


def _read(store: MessageStore, indices: Sequence[int], look=None, parse: bool = False):
    """A group's messages read back (each shown to ``look`` first, if given), capture copies
    folded out (as ``build_calls`` folds)."""
    messages = []
    if parse and look is None:  # nothing reads ``index``: the parsed messages themselves
        return fold_duplicates(store.parsed_all(indices))
    for i in indices:
        message = store.message(i, parse)
        if look is not None:
            look(message)
        messages.append(message)
    return fold_duplicates(messages)


def _ordered(index):
    """Message numbers of a ``SipIndex`` in ``build_calls``' order: by time, then first frame."""
    ts, frame = index.ts_ns, index.frame
    n = len(index)
    if all(ts[i] < ts[i + 1] or (ts[i] == ts[i + 1] and frame[i] <= frame[i + 1]) for i in range(n - 1)):
        return range(n)
    return sorted(range(n), key=lambda i: (ts[i], frame[i]))


def iter_calls(capture: "Capture", *, look=None, parse: bool = False) -> Iterator[Call]:
    """The calls of a capture loaded with ``locate=True``, as ``build_calls`` numbers them.
    ``look(message)``: called once for every message, before the first call is yielded (it then
    reads every group in pass 2, not only INVITE ones), but those of a call of the common shape
    (``simple_calls``: read and vouched for in C, no message of it damaged); ``parse=True``:
    the yielded calls' messages are fully parsed at once (for a consumer that reads every header)."""
    return _calls(capture, look, parse, None)


def iter_call_rows(capture: "Capture", row: Callable[[Call], T], numbered: Callable[[T, int], T]) -> Iterator[T]:
    """``row(call)`` of each call ``iter_calls`` yields, in its order, for a consumer that needs
    only a summary of each (``ladder calls``). Pass 2 builds every INVITE group's call anyway to
    find its legs; the row of each is made there (``row`` of the call numbered 0, ``numbered(row,
    n)`` gives it its number) and kept in a temporary file, so a call of one Call-ID that nothing
    links is not read back and built again in pass 3."""
    return _calls(capture, None, False, (row, numbered))


class _RowSpill:
    """Rows made in pass 2, in a temporary file in the order written (the groups' order, which
    is pass 3's order for the calls of one group), each tagged with its group's first message;
    marshalled a batch at a time (a few hundred rows in memory, not one file write each)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="ladder-rows-")
        self._batch: list = []  # tag, row, tag, row ... being written, then being read
        self._at = -1  # where reading is in ``_batch``; -1 while writing

    def put(self, tag: int, row: Any) -> None:
        batch = self._batch
        batch += (tag, row)
        if len(batch) >= 2 * _SPILLED_ROWS:
            self._dump()

    def _dump(self) -> None:
        write_batch(self._file, self._batch)
        self._batch.clear()

    def take(self, tag: int) -> Any:
        """The row tagged ``tag``; the rows before it (of groups that turned out linked) are skipped."""
        if self._at < 0:
            if self._batch:
                self._dump()
            self._file.seek(0)
            self._batch, self._at = [], 0
        batch, at = self._batch, self._at
        while True:
            if at >= len(batch):
                read = read_batch(self._file)
                if read is None:
                    raise ValueError(f"no row for message {tag}")
                batch = self._batch = read
                at = 0
            found, row = batch[at], batch[at + 1]
            at += 2
            if found == tag:
                self._at = at
                return row

    def close(self) -> None:
        self._file.close()


_SPILLED_ROWS = 512
_UNFLAGGED = bytes(b for b in range(256) if not b & CORRELATION)  # flag bytes without CORRELATION


class _Groups:
    """The Call-ID groups of a capture: each group's message numbers in capture order, for
    every group in one pair of 4-byte columns (``members[starts[g]:starts[g + 1]]``), and per
    Call-ID its group number and per group its kind (1 byte), not an object each."""

    def __init__(self, capture: "Capture", compiled: bool = True) -> None:
        index = capture.sip_index
        strings, frame = index.strings, index.frame
        # The kind of each method name (``kind_of_methods`` folds them): 1 for INVITE, which
        # makes any group a call; else a code >= 2 of the kind the first such name decides.
        kinds, method_kinds = _method_kinds(strings, index.method)
        grouped = _c_groups if compiled and _c_call_groups is not None else _python_groups
        members, starts, first_call, self.kind_codes = grouped(index, method_kinds)
        self.members, self.starts = members, starts
        self.keys: list[str] = [strings[cid] if cid else f"(no Call-ID, frame {frame[members[starts[g]]]})"
                                for g, cid in enumerate(first_call)]
        self.number = {key: g for g, key in enumerate(self.keys)}
        self._kinds = kinds

    def __getitem__(self, g: int) -> array:
        return self.members[self.starts[g]:self.starts[g + 1]]

    def kind(self, g: int) -> str:
        return self._kinds[self.kind_codes[g]]

    def get(self, call_id: object, default: None = None, /) -> str | None:
        """The kind of the group of ``call_id`` (``legs.CallKinds``; ``kind`` inlined: the links'
        window asks it of every INVITE leg)."""
        g = self.number.get(call_id) if isinstance(call_id, str) else None
        return default if g is None else self._kinds[self.kind_codes[g]]

    def calls(self, first: int, last: int) -> bytes:
        """One byte per group ``first`` to ``last - 1``: 1 where its kind is CALL, else 0 (the
        groups' kind codes mapped at C's speed, as ``kind(g) == CALL`` of each)."""
        table = bytes(int(kind == CALL) for kind in self._kinds) + bytes(256 - len(self._kinds))
        return self.kind_codes[first:last].tobytes().translate(table)


def _method_kinds(strings: list[str], methods: array) -> tuple[list[str], bytearray]:
    """The kinds by code (0: "other", 1 and 2: a call) and each method id's code (``_Groups``)."""
    kinds = ["other", CALL, CALL]
    codes = bytearray(max(methods, default=0) + 1)
    for method in set(methods):
        name = strings[method].upper()
        kind = kind_of_methods([name]) if name else "other"
        if name == "INVITE":
            codes[method] = 1
        elif kind != "other":  # (a capture copy repeats an earlier method: folding changes no kind)
            if kind not in kinds[2:]:
                kinds.append(kind)
            codes[method] = kinds.index(kind, 2)
    return kinds, codes


_Grouped = tuple[array, array, array, array]  # members, starts, each group's Call-ID id and kind code


def _c_groups(index, method_kinds: bytearray) -> _Grouped:
    """``_python_groups``, compiled (``_accel.call_groups``)."""
    assert _c_call_groups is not None
    n = len(index)
    members, starts, first_call = array("I", [0]) * n, array("I", [0]) * (n + 1), array("I", [0]) * n
    codes = array("B", [0]) * n
    count = _c_call_groups(index.call, index.ts_ns, index.frame, index.method, method_kinds,
                           members, starts, first_call, codes)
    del starts[count + 1:], first_call[count:], codes[count:]
    return members, starts, first_call, codes


def _python_groups(index, method_kinds: bytearray) -> _Grouped:
    """Messages in ``_ordered``'s order, a group per Call-ID id in first-met order (one per
    message without one): ``members``/``starts`` as ``_Groups`` holds them, and each group's
    Call-ID id and kind code (1 if any message's is 1, else the first nonzero one, else 0)."""
    call_column, method = index.call, index.method
    order = _ordered(index)
    of_string: dict[int, int] = {}  # Call-ID string id -> group number
    group_of_message = array("I", bytes(4 * len(index)))
    first_call, codes, sizes = array("I"), array("B"), array("I")
    for i in order:
        cid = call_column[i]
        g = of_string.get(cid, -1) if cid else -1
        if g < 0:
            g = len(first_call)
            first_call.append(cid)
            codes.append(0)
            sizes.append(0)
            if cid:
                of_string[cid] = g
        group_of_message[i] = g
        sizes[g] += 1
        code = method_kinds[method[i]]
        if code == 1 or (code and not codes[g]):
            codes[g] = code
    starts = array("I", [0]) * (len(sizes) + 1)
    for g, size in enumerate(sizes):
        starts[g + 1] = starts[g] + size
    fill = array("I", starts[:-1])
    members = array("I", bytes(4 * len(index)))
    for i in order:
        g = group_of_message[i]
        members[fill[g]] = i
        fill[g] += 1
    return members, starts, first_call, codes


class _CallGroups:
    """``header_links``' groups: every call's Call-ID (``in``), the correlation headers of those
    that carry any (``items``)."""

    def __init__(self, groups: _Groups, correlated: dict[str, list]) -> None:
        self._groups, self._correlated = groups, correlated

    def __contains__(self, call_id: object) -> bool:
        return self._groups.get(call_id) == CALL

    def items(self):
        return self._correlated.items()


def _calls(capture: "Capture", look, parse: bool, rows: tuple[Callable, Callable] | None) -> Iterator[Any]:
    store = capture.located_store()
    groups = _Groups(capture)
    keys = groups.keys

    # Pass 2: the INVITE groups' legs, and what the links read of them. The links across
    # Call-IDs are made as the groups are read (``LinkWindow``): a leg is given to them once no
    # group still to be read can have an earlier one, and released once no later leg can link to it.
    spill = _RowSpill() if rows is not None else None
    lane = simple_calls.SimpleLane(capture, store, groups) if simple_calls.enabled() else None
    window = LinkWindow(groups)
    # heap of (time, group, n, leg, last, failed, (caller, target) when the lane read them)
    waiting: list[tuple[int, int, int, Leg, int, bool, tuple[str, str] | None]] = []
    ts = capture.sip_index.ts_ns
    correlated: dict[str, list[_Correlation]] = {}
    # Whether any message may carry a correlation header: bytes of ``flags`` without that bit
    # deleted, what is left (C's speed, one pass) says; most captures have none.
    correlating = bool(store.flags.tobytes().translate(None, _UNFLAGGED))
    # (the groups' columns and kinds read directly in the loop: ``groups[g]``, ``groups.kind(g)``)
    members, starts, kind_codes, kinds = groups.members, groups.starts, groups.kind_codes, groups._kinds
    of_texts = KeptRequest.of_texts
    make_row: Callable[[Any], Any] | None = rows[0] if rows is not None else None
    for g, cid in enumerate(keys):
        group = members[starts[g]:starts[g + 1]]
        start = ts[group[0]]  # groups come by their first message: no later group has a leg before it
        while waiting and waiting[0][0] < start:
            _, _, _, leg, last, failed, parties = heapq.heappop(waiting)
            window.add(leg, last, failed, parties)
        if kinds[kind_codes[g]] != CALL:
            if look is not None:
                _read(store, group, look)
            continue
        simple = lane.take(g, cid, of_texts, group) if lane is not None else None
        if simple is not None:
            leg, failed, summary, parties = simple  # the common call shape, summed up in C: one INVITE leg
            # Its one leg is its first message (S5): at ``start``, so it is the window's next once
            # the waiting legs of that time are given (they are of earlier groups: (time, group)
            # before it); the heap would give it then, in the same order. Later groups' legs are
            # not before it: their time is at least their start, at least ``start``.
            while waiting and waiting[0][0] <= start:
                _, _, _, early, last, early_failed, early_parties = heapq.heappop(waiting)
                window.add(early, last, early_failed, early_parties)
            window.add(leg, start, failed, parties, leg.call_id is cid)  # (cid's group is a call's: above)
            if spill is not None and make_row is not None:
                spill.put(group[0], make_row(summary))  # (a ``SimpleCall`` reads as the ``Call`` the row asks)
            # (``look`` is not shown its messages: none is damaged, S11, all ``ladder check``'s
            # look counts; pass 3 builds its call from the messages read back, as any other.)
            if correlating:  # (else no message of the group is flagged: nothing to correlate)
                flags = store.flags
                _correlate(cid, (store.message(i) for i in group if flags[i] & CORRELATION), correlated)
            continue
        messages, copies = _read(store, group, look)
        transactions = build_transactions(messages)
        invites: list[Leg] = []
        for leg in find_legs(messages, transactions):
            if leg.method == "INVITE":  # the links across Call-IDs look at INVITE legs only
                sent = cast(StoredMessage, leg.request)  # legs of read-back messages have them as requests
                request = KeptRequest(sent, cid)
                call_id = cid if leg.call_id == cid else leg.call_id  # the group's key: one string
                invites.append(Leg(call_id, leg.method, leg.src, leg.dst, leg.ts_ns, request, leg.final_ns))
                sent.kept = request  # as pass 3 would read it back
        if invites:
            failed, last = _attempt_failed(messages), max(leg.ts_ns for leg in invites)
            for n, leg in enumerate(invites):  # (ties in time: in the order of groups, then of legs)
                heapq.heappush(waiting, (leg.ts_ns, g, n, leg, last, failed, None))
        if spill is not None and rows is not None:  # this group's call, should nothing link it: pass 3's, numbered 0
            spill.put(group[0], rows[0](build_call(0, [cid], messages, CALL, [], transactions, copies)))
        _correlate(cid, (m for m in messages if store.flags[m.index] & CORRELATION), correlated)
        del messages, copies, transactions, invites
    while waiting:
        _, _, _, leg, last, failed, parties = heapq.heappop(waiting)
        window.add(leg, last, failed, parties)
    window.finish()
    if lane is not None:
        lane.close()
    links = header_links(_CallGroups(groups, correlated)) + window.timing + window.retry
    del window, correlated

    # Only linked Call-IDs are joined; any other is a call of its own.
    linked = sorted({groups.number[cid] for link in links for cid in (link.call_id_a, link.call_id_b)})
    components, links_by_root = linked_components([keys[g] for g in linked], links)
    component_of = {cid: (root, ids) for root, ids in components.items() for cid in ids}
    del components, linked

    # Pass 3: call by call, in the order of their first messages. Groups are in that order, and a
    # group's first message stays first after folding: a call of several groups comes at its first.
    number = 0
    numbered = rows[1] if spill is not None and rows is not None else None
    for g, cid in enumerate(keys):
        joined = component_of.get(cid)
        if joined is None:
            if numbered is not None and spill is not None and kinds[kind_codes[g]] == CALL:
                number += 1  # (a call of one group nothing links: its row made in pass 2, as below)
                yield numbered(spill.take(members[starts[g]]), number)
                continue
            root, call_ids = cid, [cid]
        else:
            root, call_ids = joined
            if call_ids[0] != cid:
                continue  # a later group of a call already given
        number += 1
        kind = kinds[kind_codes[g]]
        if numbered is not None and spill is not None and len(call_ids) == 1 and kind == CALL:
            yield numbered(spill.take(members[starts[g]]), number)  # made in pass 2
            continue
        messages = []
        call_copies: dict[int, tuple] = {}
        for member in call_ids:
            kept_messages, folded = _read(store, groups[groups.number[member]], None, parse)
            messages.extend(kept_messages)
            call_copies.update(folded)
        if len(call_ids) > 1:
            messages.sort(key=_order_key)
        call = build_call(number, call_ids, messages, kind, links_by_root.get(root, []), None,
                          {id(m): call_copies[id(m)] for m in messages if id(m) in call_copies})
        yield call if rows is None else rows[0](call)
    if spill is not None:
        spill.close()
