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

from array import array
from dataclasses import dataclass
from typing import Any, Iterator

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


@dataclass(frozen=True, slots=True)
class _Media:
    port: int
    connection: str


@dataclass(frozen=True, slots=True)
class _OfferedMedia:
    """The one SDP medium ``legs._sdp_media`` looks at (the first with a port and an address)."""

    media: tuple[_Media, ...]


class KeptRequest:
    """What the links across Call-IDs (``timing_links``, ``retry_links``) and a call's
    caller/callee read of an INVITE leg's request, kept after the message is released."""

    __slots__ = ("call_id", "from_tag", "request_uri", "from_uri", "to_uri", "vias", "_from", "_to", "_sdp",
                 "_message")

    def __init__(self, message: StoredMessage) -> None:
        self.call_id = message.call_id
        self.from_tag = message.from_tag
        self.request_uri = message.request_uri
        values = head_values(message.raw, _KEPT_HEADERS) if message._full is None else {}
        if len(values.get("via", ())) == 1:
            # One Via line, whose one via-parm the first pass read: one Via. From and To as
            # ``parse_sip`` reads them (the first pass rejects repeated ones).
            self._from = values.get("from", [None])[0]
            self._to = values.get("to", [None])[0]
            self.from_uri, self.to_uri = _uri(self._from, "From"), _uri(self._to, "To")
            self.vias = (None,)
        else:
            full = message.full
            self.from_uri = full.from_uri
            self.to_uri = full.to_uri
            self.vias = (None,) * len(full.vias)  # only counted
            self._from = full.header("From")
            self._to = full.header("To")
        self._sdp: Any = _UNREAD
        self._message: Any = (message._store, message.index)  # not the message: it is released

    @property
    def sdp(self):
        """The offered medium ``legs._sdp_media`` reads, read back when first asked (most legs'
        never are: only an INVITE that leaves a node where INVITEs arrive)."""
        if self._sdp is _UNREAD:
            store, i = self._message
            message = store.message(i)
            try:
                sdp = message.sdp
                first = next(((m.port, m.connection) for m in sdp.media if m.port and m.connection), None) \
                    if sdp else None
                self._sdp = _OfferedMedia((_Media(*first),)) if first else None
            except DecodeError as exc:  # as the parsed message would raise it, when asked
                self._sdp = exc
            self._message = None
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
    if parse and look is None:  # nothing reads ``index`` / ``kept``: the parsed messages themselves
        return fold_duplicates([store.parsed(i) for i in indices])
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
    kept: dict[int, KeptRequest] = {}
    all_legs: list[Leg] = []
    failed: set[str] = set()
    correlated: dict[str, list[_Correlation]] = {}
    for cid, group in groups.items():
        if kinds[cid] != CALL:
            if look is not None:
                _read(store, group, kept, look)
            continue
        messages, _copies = _read(store, group, kept, look)
        transactions = build_transactions(messages)
        for leg in find_legs(messages, transactions):
            if leg.method == "INVITE":  # the links across Call-IDs look at INVITE legs only
                request = kept.get(leg.request.index) or KeptRequest(leg.request)
                kept[leg.request.index] = request
                all_legs.append(Leg(leg.call_id, leg.method, leg.src, leg.dst, leg.ts_ns, request, leg.final_ns))
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
        yield build_call(number, call_ids, messages, kinds[call_ids[0]], links_by_root.get(root, []), None,
                         {id(m): copies[id(m)] for m in messages if id(m) in copies})
