"""``iter_calls``: the calls of a capture built one at a time from its ``MessageStore``, in
memory bounded by the biggest call rather than by the capture.

It gives exactly what ``ladder.calls.grouping.build_calls`` gives over the parsed messages (the
same calls, numbers, messages, legs, links and outcomes; ``tests/unit/calls/test_bounded.py``
compares them), in three passes over the compact index:

1. Call-ID groups from the index columns (message numbers only) and their kinds;
2. each INVITE group read back, its capture copies folded, its transactions and legs found; what
   the links across Call-IDs read of a leg's request is kept (``KeptRequest``: URIs, From/To,
   the offered media), and of each message only the correlation headers, then all is released;
3. the links joined as ``build_calls`` joins them, and each call read back, built and yielded.

A message is thus read (``pread`` + first pass) twice, fully parsed only where a link or the
caller/callee of a non-INVITE exchange needs it, or when the consumer asks (a ladder, a check).
"""

from __future__ import annotations

import marshal
import struct
import tempfile
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

from decoders.errors import DecodeError
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
from ladder.calls.legs import CORRELATION_HEADERS, Leg, find_legs, header_links, retry_links, timing_links
from ladder.calls.transactions import build_transactions
from ladder.capture.messagestore import CORRELATION, MessageStore, StoredMessage, head_values

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
        piece = text[k] if type(text) is tuple else text.split("\x00")[k]
        return None if piece is None or piece == _NONE else piece
    return property(get)


class KeptRequest:
    """What the links across Call-IDs (``timing_links``, ``retry_links``) and a call's
    caller/callee read of an INVITE leg's request, kept after the message is released: one per
    call of a busy capture until the links are made, so its texts are kept as one string."""

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
            self.vias = (None,)
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
        self.values = tuple(message.header(h) for h in CORRELATION_HEADERS)
        self.session_ids = tuple(message.header_values("Session-ID"))

    def key(self) -> tuple:
        return self.values + self.session_ids

    def header(self, name: str) -> str | None:
        return self.values[CORRELATION_HEADERS.index(name)]

    def header_values(self, name: str) -> list[str]:
        return list(self.session_ids)


def _read(store: MessageStore, indices: list[int], kept: dict[int, KeptRequest], look=None, parse: bool = False):
    """A group's messages read back (each shown to ``look`` first, if given), capture copies
    folded out (as ``build_calls`` folds)."""
    messages = []
    for i in indices:
        message = store.message(i, parse)
        message.kept = kept.get(i)
        if look is not None:
            look(message)
        messages.append(message)
    return fold_duplicates(messages)


def _ordered(capture: Any):
    """Message numbers in ``build_calls``' order: by time, then first frame."""
    index = capture.sip_index
    ts, frame = index.ts_ns, index.frame
    n = len(index)
    if all(ts[i] < ts[i + 1] or (ts[i] == ts[i + 1] and frame[i] <= frame[i + 1]) for i in range(n - 1)):
        return range(n)
    return sorted(range(n), key=lambda i: (ts[i], frame[i]))


def iter_calls(capture: Any, *, look=None, parse: bool = False) -> Iterator[Call]:
    """The calls of a capture loaded with ``locate=True``, as ``build_calls`` numbers them.
    ``look(message)``: called once for every message, before the first call is yielded (it then
    reads every group in pass 2, not only INVITE ones); ``parse=True``: the yielded calls'
    messages are fully parsed at once (for a consumer that reads every header)."""
    return _calls(capture, look, parse, None)


def iter_call_rows(capture: Any, row: Callable[[Call], T], numbered: Callable[[T, int], T]) -> Iterator[T]:
    """``row(call)`` of each call ``iter_calls`` yields, in its order, for a consumer that needs
    only a summary of each (``ladder calls``). Pass 2 builds every INVITE group's call anyway to
    find its legs; the row of each is made there (``row`` of the call numbered 0, ``numbered(row,
    n)`` gives it its number) and kept in a temporary file, so a call of one Call-ID that nothing
    links is not read back and built again in pass 3."""
    return _calls(capture, None, False, (row, numbered))


class _RowSpill:
    """Rows made in pass 2, in a temporary file in the order written (the groups' order, which
    is pass 3's order for the calls of one group), each tagged with its group's first message."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="ladder-rows-")
        self._reading = False

    def put(self, tag: int, row: Any) -> None:
        data = marshal.dumps(row)
        self._file.write(_ROW_HEAD.pack(tag, len(data)) + data)

    def take(self, tag: int) -> Any:
        """The row tagged ``tag``; the rows before it (of groups that turned out linked) are skipped."""
        if not self._reading:
            self._file.seek(0)
            self._reading = True
        while True:
            head = self._file.read(_ROW_HEAD.size)
            if len(head) < _ROW_HEAD.size:
                raise ValueError(f"no row for message {tag}")
            found, size = _ROW_HEAD.unpack(head)
            data = self._file.read(size)
            if found == tag:
                return marshal.loads(data)

    def close(self) -> None:
        self._file.close()


_ROW_HEAD = struct.Struct("=qI")


def _calls(capture: Any, look, parse: bool, rows: tuple[Callable, Callable] | None) -> Iterator[Any]:
    store: MessageStore = capture.message_store
    index = capture.sip_index
    strings, call_column, frame, ts = index.strings, index.call, index.frame, index.ts_ns
    groups: dict[str, array] = {}  # message numbers in 4-byte columns, not lists of int objects
    for i in _ordered(capture):
        cid = call_column[i]
        key = strings[cid] if cid else f"(no Call-ID, frame {frame[i]})"
        group = groups.get(key)
        if group is None:
            groups[key] = group = array("I")
        group.append(i)
    # (a capture copy repeats an earlier method, so folding copies out changes no kind)
    kinds = {cid: kind_of_methods([strings[index.method[i]] for i in group]) for cid, group in groups.items()}

    # Pass 2: the INVITE groups' legs, and what the links read of them.
    spill = _RowSpill() if rows is not None else None
    kept: dict[int, KeptRequest] = {}
    all_legs: list[Leg] = []
    failed: set[str] = set()
    correlated: dict[str, list[_Correlation]] = {}
    for cid, group in groups.items():
        if kinds[cid] != CALL:
            if look is not None:
                _read(store, group, kept, look)
            continue
        messages, copies = _read(store, group, kept, look)
        transactions = build_transactions(messages)
        for leg in find_legs(messages, transactions):
            if leg.method == "INVITE":  # the links across Call-IDs look at INVITE legs only
                request = kept.get(leg.request.index) or KeptRequest(leg.request, cid)
                kept[leg.request.index] = request
                call_id = cid if leg.call_id == cid else leg.call_id  # the group's key: one string
                all_legs.append(Leg(call_id, leg.method, leg.src, leg.dst, leg.ts_ns, request, leg.final_ns))
                leg.request.kept = request  # as pass 3 would read it back
        if spill is not None:  # this group's call, should nothing link it: pass 3's, numbered 0
            spill.put(group[0], rows[0](build_call(0, [cid], messages, CALL, [], transactions, copies)))
        if _attempt_failed(messages):
            failed.add(cid)
        seen: set[tuple] = set()
        for message in messages:
            if store.flags[message.index] & CORRELATION:
                found = _Correlation(message)
                if found.key() not in seen:  # a repeat adds no link (header_links dedups pairs)
                    seen.add(found.key())
                    correlated.setdefault(cid, []).append(found)
    all_legs.sort(key=lambda leg: leg.ts_ns)
    call_groups = {cid: correlated.get(cid, ()) for cid in groups if kinds[cid] == CALL}
    links = header_links(call_groups) + timing_links(all_legs, kinds) + retry_links(all_legs, kinds, failed)
    del all_legs, call_groups, correlated

    components, links_by_root = linked_components(list(groups), links)

    # Pass 3: call by call. A group's first message stays first after folding, so the calls'
    # order is known from the index.
    def first_key(call_ids: list[str]) -> tuple[int, int]:
        return min((ts[groups[cid][0]], frame[groups[cid][0]]) for cid in call_ids)

    built = sorted(((first_key(ids), root, ids) for root, ids in components.items()), key=lambda item: item[0])
    for number, (_key, root, call_ids) in enumerate(built, 1):
        if spill is not None and len(call_ids) == 1 and kinds[call_ids[0]] == CALL:
            yield rows[1](spill.take(groups[call_ids[0]][0]), number)  # made in pass 2
            continue
        messages = []
        copies: dict[int, tuple] = {}
        for cid in call_ids:
            kept_messages, folded = _read(store, groups[cid], kept, None, parse)
            messages.extend(kept_messages)
            copies.update(folded)
        if len(call_ids) > 1:
            messages.sort(key=_order_key)
        for cid in call_ids:
            for i in groups[cid]:
                kept.pop(i, None)
        call = build_call(number, call_ids, messages, kinds[call_ids[0]], links_by_root.get(root, []), None,
                          {id(m): copies[id(m)] for m in messages if id(m) in copies})
        yield call if rows is None else rows[0](call)
    if spill is not None:
        spill.close()
