"""``MessageStore``: where each SIP message's bytes are, so memory holds an index, not messages.

A capture loaded with ``locate=True`` (``ladder calls``, ``ladder check``) keeps no parsed
``SipMessage``: next to ``SipIndex``'s columns (frame, time, method/status, Call-ID) this store
keeps, per message, where its bytes are (the offset of a plain UDP payload in the capture file;
for what cannot be read back by offset: stdin, gzip, reassembled TCP/SCTP/IP fragments, HEP,
decrypted TLS, a spill file), their length and CRC, both endpoints (interned), and a flag for the
correlation headers that link legs (``ladder.calls.legs.header_links``), and the C first pass's
answer (``marks``, for ``ladder calls``' fast lane). About 80 bytes a message.

``message(i)`` reads message ``i`` back as a ``StoredMessage``: the first pass (the compiled
``ladder._accel.scan_sip`` where it answers, else ``decoders.sipscan``) answers the fields calls
are built from; anything else (headers, URIs,
SDP, RFC 3261 problems) is the full parse of ``parse_sip``, made on first use and kept by that
object only, so a call built, checked and released takes its parses with it.
"""

from __future__ import annotations

import operator
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Sequence
from typing import IO, Any
from array import array
from socket import inet_ntoa

from decoders.errors import DecodeError
from decoders.records import Endpoint, FrameRef
from decoders.header_names import canonical_name
import decoders.sip as sip_module
from decoders.sip import _body_sdp, _checked_name_addr, parse_sip, parse_sip_python
from decoders.sipscan import scan_sip
from ladder.capture.continuity import BACKWARDS_NS, LEAP_NS, Break, damaged
from ladder.capture.sipindex import SipIndex
from ladder.errors import CaptureError

_RUN = 64  # messages ``parsed_all`` reads from the file at once (``_run``)
_RUNS = 256  # runs kept: a few MB (the span of a busy SBC's calls in the file), at most 32 MB
_RUN_SPAN = 1 << 17  # bytes of a run read at once, at most (about 2 KB a message)
_NO_RUN = (-1, b"")  # (``parsed_all``: a run not read yet; compared by identity)
CORRELATION = 1  # the message may carry X-Call-ID, X-CID or Session-ID (a cheap, generous test)
_CORRELATION_NAMES = (b"x-call-id", b"x-cid", b"session-id")
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7
C_ENDPOINT = 1 << 31  # endpoint ids from here on are C's (``MessageStore.endpoint``)
_MADE = 4096  # endpoints of C's made and kept at once


_c_scan_sip: Callable[[bytes], tuple[Any, ...] | None] | None
try:  # the compiled first pass: the same fields for a strict subset of what scan_sip reads
    from ladder._accel import SIP_MARKS_SIZE
    from ladder._accel import scan_sip as _c_scan_sip
except ImportError:
    _c_scan_sip, SIP_MARKS_SIZE = None, 0
_NO_MARKS = bytes(SIP_MARKS_SIZE)  # a message C's load did not scan: the fast lane scans it
if os.environ.get("PCAPLADDER_PURE_PYTHON"):
    _c_scan_sip = None


class MessageStore:
    """Per-message locations, aligned with ``index`` (message ``i`` is row ``i`` of both)."""

    def __init__(self, index: SipIndex) -> None:
        self.index = index
        self.where = array("q")  # >= 0: offset in the capture file; < 0: -1 - offset in the spill file
        self.length = array("I")
        self.crc = array("I")
        self.record = array("q")  # file offset of the first frame's record (FrameRef.offset)
        self.src = array("I")
        self.dst = array("I")
        self.flags = array("B")
        # SIP_MARKS_SIZE bytes a message: C's first-pass answer as offsets into its bytes (``_accel.c``,
        # ``marks_of``), so that ``simple_calls`` does not scan it again; zeros where C did not scan it
        self.marks = array("B")
        self.endpoints: list[Endpoint | None] = [None]  # id 0: no endpoint
        self._endpoint_ids: dict[Endpoint, int] = {}
        self._c_address = array("I", [0])  # IPv4 address and port of C's endpoint ids (``extend``)
        self._c_port = array("H", [0])
        self._made: dict[int, Endpoint] = {}  # C's endpoints made lately (``endpoint``)
        self._texts: dict[int, str] = {}  # ... and the text of their addresses, by address
        # Messages whose frames are not the one (frame, ts_ns, record) of the columns:
        # reassembled from several frames, or timed by a HEP agent.
        self.odd_frames: dict[int, tuple[FrameRef, ...]] = {}
        self.path: str | None = None  # the capture file, once the loader says it may be re-read
        self._file: int | None = None
        self._spill: IO[bytes] | None = None
        self._spill_size = 0
        self._runs: dict[int, tuple[int, bytes] | None] = {}  # ``parsed_all``'s runs read (``_run``)

    def __len__(self) -> int:
        return len(self.where)

    def _endpoint(self, endpoint: Endpoint | None) -> int:
        if endpoint is None:
            return 0
        known = self._endpoint_ids.get(endpoint)
        if known is None:
            known = self._endpoint_ids[endpoint] = len(self.endpoints)
            self.endpoints.append(endpoint)
        return known

    def add(self, raw: bytes, src: Endpoint | None, dst: Endpoint | None, frames: tuple[FrameRef, ...],
            ts_ns: int, file_offset: int = -1) -> None:
        """One message (the row ``SipIndex`` just added); ``file_offset``: where ``raw`` is in
        the capture file, -1 when it is not there as one piece (then it goes to the spill file)."""
        i = len(self.where)
        if file_offset < 0:
            if self._spill is None:
                self._spill = tempfile.TemporaryFile(prefix="ladder-sip-")
            self._spill.write(raw)
            file_offset = -1 - self._spill_size
            self._spill_size += len(raw)
        self.where.append(file_offset)
        self.length.append(len(raw))
        self.crc.append(zlib.crc32(raw))
        first = frames[0] if frames else None
        self.record.append(first.offset if first is not None else -1)
        self.src.append(self._endpoint(src))
        self.dst.append(self._endpoint(dst))
        lowered = raw.lower()
        self.flags.append(CORRELATION if any(name in lowered for name in _CORRELATION_NAMES) else 0)
        self.marks.frombytes(_NO_MARKS)
        if first is None or len(frames) != 1 or first.ts_ns != ts_ns:
            self.odd_frames[i] = tuple(frames)

    def columns_fit(self) -> bool:
        """Whether the columns have the item sizes C writes its rows in (``extend``)."""
        return tuple(column.itemsize for column in (self.where, self.length, self.crc, self.record, self.src,
                                                    self.dst, self.flags, self._c_address, self._c_port)) \
            == (8, 4, 4, 8, 4, 4, 1, 4, 2)

    def extend(self, where: bytes, length: bytes, crc: bytes, record: bytes, src: bytes, dst: bytes,
               flags: bytes, marks: bytes, addresses: bytes, ports: bytes) -> None:
        """A batch of rows from C (``Accelerator.take_locations``: plain UDP/IPv4 payloads in the
        file, each of one frame, timed by it). Their endpoints are C's ids from ``C_ENDPOINT`` on;
        ``addresses`` and ``ports`` name those C made since the last batch, in id order."""
        self.where.frombytes(where)
        self.length.frombytes(length)
        self.crc.frombytes(crc)
        self.record.frombytes(record)
        self.src.frombytes(src)
        self.dst.frombytes(dst)
        self.flags.frombytes(flags)
        self.marks.frombytes(marks)
        self._c_address.frombytes(addresses)
        self._c_port.frombytes(ports)

    def endpoint(self, key: int) -> Endpoint | None:
        """The endpoint of a ``src``/``dst`` id. One C named is held as an address and a port
        (6 bytes, not an object: a busy capture has one per call) and made when asked for."""
        if key < C_ENDPOINT:
            return self.endpoints[key]
        made = self._made.get(key)
        if made is None:
            if len(self._made) >= _MADE:
                self._made.clear()
                self._texts.clear()
            c = key - C_ENDPOINT
            # (the text of an address, one per host, not per endpoint: a busy SBC's calls use a
            # few addresses and a port each)
            number = self._c_address[c]
            address = self._texts.get(number)
            if address is None:
                address = self._texts[number] = inet_ntoa(number.to_bytes(4, "big"))
            made = self._made[key] = Endpoint(address, self._c_port[c], "udp")
        return made

    # -- reading back ------------------------------------------------------------------------
    def raw(self, i: int) -> bytes:
        where, length = self.where[i], self.length[i]
        if where >= 0:
            if self._file is None:
                if self.path is None:
                    raise CaptureError("SIP message bytes are not where the index says (no capture file)")
                self._file = os.open(self.path, os.O_RDONLY)
            data = os.pread(self._file, length, where)
        else:
            if self._spill is None:
                raise CaptureError("SIP message bytes are not where the index says (no spill file)")
            self._spill.flush()
            data = os.pread(self._spill.fileno(), length, -1 - where)
        if len(data) != length or zlib.crc32(data) != self.crc[i]:
            raise CaptureError(f"{self.path}: the capture changed while it was read (SIP message {i + 1})")
        return data

    def spill_fd(self) -> int:
        """The spill file's descriptor, its writes flushed (for C's reads: ``simple_calls``), or -1."""
        if self._spill is None:
            return -1
        self._spill.flush()
        return self._spill.fileno()

    def frames(self, i: int) -> tuple[FrameRef, ...]:
        odd = self.odd_frames.get(i)
        if odd is not None:
            return odd
        return (FrameRef(self.index.frame[i], self.index.ts_ns[i], self.record[i]),)

    def message(self, i: int, parse: bool = False) -> "StoredMessage":
        """Message ``i`` read back; ``parse=True`` parses it fully at once (for a caller that
        will read every header: the first pass would be work done twice)."""
        return StoredMessage(self, i, self.raw(i), parse)

    def parsed(self, i: int):
        """Message ``i`` read back and fully parsed: the plain ``SipMessage`` (what
        ``message(i, parse=True)`` answers through a wrapper, without the wrapper's cost on
        each of the hundred-odd attribute reads a check makes of a message), made without one."""
        raw = self.raw(i)
        try:
            return parse_sip(raw, src=self.endpoint(self.src[i]), dst=self.endpoint(self.dst[i]),
                             frames=self.frames(i), ts_ns=self.index.ts_ns[i])
        except DecodeError as exc:  # as ``StoredMessage._parse`` says it
            raise CaptureError(f"SIP message {i + 1} no longer parses: {exc}") from None

    def parsed_all(self, indices: Sequence[int]) -> list:
        """``[self.parsed(i) for i in indices]`` (``ladder check`` reads every call's messages
        so), the per-message steps in one loop: each step is ``parsed``'s, with the same
        answers and errors. ``raw``: a message in the capture file is cut from its run of
        messages read at once (``_run``) and its length and CRC checked as ``raw`` checks them
        (the bytes the load saw, or ``CaptureError``); any other through ``raw`` itself; ``endpoint``: an id
        below ``C_ENDPOINT``, or one of C's made lately, taken from its table directly (any
        other through ``endpoint``); ``frames``: as ``frames`` makes them; ``parse_sip``: its
        compiled parse called directly where it is built (``parse_sip`` calls it first and takes
        its answer if it is not None; ``parse_at`` for a message of one frame, which makes that
        FrameRef in C), else ``parse_sip_python`` (what ``parse_sip`` calls then).
        ``tests/unit/capture/test_messagestore_parsed_all.py`` compares both slot for slot."""
        plain = sip_module._parse_plain  # (read now: a test may turn it off)
        parse_at = sip_module._parse_at if plain is not None else None
        where, length, crc, src, dst, record = self.where, self.length, self.crc, self.src, self.dst, self.record
        frame, ts = self.index.frame, self.index.ts_ns
        endpoints, made, odd, runs = self.endpoints, self._made, self.odd_frames, self._runs
        endpoint, crc32 = self.endpoint, zlib.crc32
        out = []
        for i in indices:
            run = runs.get(i // _RUN, _NO_RUN) if self._file is not None else None
            if run is _NO_RUN:
                run = self._run(i // _RUN)
            if run is not None:
                base, data = run
                at, size = where[i] - base, length[i]
                raw = data[at:at + size]
                if len(raw) != size or crc32(raw) != crc[i]:
                    raise CaptureError(f"{self.path}: the capture changed while it was read (SIP message {i + 1})")
            else:
                raw = self.raw(i)  # (opens the file; a message of a sparse run, or in the spill file)
            key = src[i]
            s = endpoints[key] if key < C_ENDPOINT else made.get(key) or endpoint(key)
            key = dst[i]
            d = endpoints[key] if key < C_ENDPOINT else made.get(key) or endpoint(key)
            frames = odd.get(i)
            if frames is None:
                message = parse_at(raw, s, d, frame[i], ts[i], record[i]) if parse_at is not None else None
                if message is not None:
                    out.append(message)
                    continue
                frames = (FrameRef(frame[i], ts[i], record[i]),)
            message = plain(raw, s, d, frames, ts[i]) if plain is not None else None
            if message is None:
                try:
                    message = parse_sip_python(raw, src=s, dst=d, frames=frames, ts_ns=ts[i])
                except DecodeError as exc:  # as ``parsed`` says it
                    raise CaptureError(f"SIP message {i + 1} no longer parses: {exc}") from None
            out.append(message)
        return out

    def _run(self, r: int) -> tuple[int, bytes] | None:
        """Messages ``r * _RUN`` to ``r * _RUN + _RUN - 1`` read from the capture file at once, as
        (offset of the bytes read, the bytes), kept for the next ``_RUNS`` runs read: ``check``
        reads the calls in the order of their first messages, each call's messages spread over as
        much of the file as its length in time (a busy SBC's: megabytes), so the neighbouring calls
        read the same runs in turn. None for a run not in the file as one dense piece (a message
        in the spill file, RTP between the messages: more than ``_RUN_SPAN`` bytes): its messages
        are each read alone (``raw``)."""
        first, last = r * _RUN, min(len(self.where), r * _RUN + _RUN)
        starts = self.where[first:last]
        low = min(starts)
        high = max(map(operator.add, starts, self.length[first:last]))
        run = None
        if low >= 0 and high - low <= _RUN_SPAN and self._file is not None:
            run = (low, os.pread(self._file, high - low, low))
        if len(self._runs) >= _RUNS:
            del self._runs[next(iter(self._runs))]  # the oldest read
        self._runs[r] = run
        return run

    def so_far(self) -> "ReadBack":
        """The messages stored so far, each read back when asked (a capture still loading:
        ``Progress.sip_so_far`` when the messages are not kept)."""
        return ReadBack(self, min(len(self), len(self.index)))

    def breaks(self) -> list[Break]:
        """``continuity.find_breaks`` of the stored messages, from the columns."""
        frame, ts = self.index.frame, self.index.ts_ns
        n = len(self)
        # Messages are stored in frame order but for reassembled ones: sorted only then (a list
        # and a key of a million ints each is some 75 MB at the peak of a busy capture).
        in_order = all(frame[i] <= frame[i + 1] for i in range(n - 1))
        order: Sequence[int] = range(n) if in_order else sorted(range(n), key=frame.__getitem__)
        found: list[Break] = []
        for before, after in zip(order, order[1:]):
            gap = ts[after] - ts[before]
            if gap < -BACKWARDS_NS or gap > LEAP_NS:
                found.append(Break(self.frames(before)[-1].number, frame[after], ts[before], ts[after]))
        return found

    def damaged(self, message: "StoredMessage") -> bool:
        """``continuity.damaged`` of a message read back. The first pass vouches for most: a
        From tag means a From that parsed; a To without a tag is parsed alone."""
        if message._full is None and message.call_id and message.cseq and message.sent_by is not None \
                and message.from_tag is not None and (message.to_tag is not None or _to_parses(message.raw)):
            return False
        return damaged(message.full)

    def close(self) -> None:
        self._runs.clear()
        if self._file is not None:
            os.close(self._file)
            self._file = None
        if self._spill is not None:
            self._spill.close()
            self._spill = None


class ReadBack(Sequence):
    """The first ``count`` messages of a store as a sequence; an item or a slice is read back
    (``StoredMessage``s) when asked, so a caller that wants the first thousand reads only those."""

    def __init__(self, store: MessageStore, count: int) -> None:
        self._store, self._count = store, count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._store.message(k) for k in range(*i.indices(self._count))]
        if not -self._count <= i < self._count:
            raise IndexError(i)
        return self._store.message(i % self._count)


def head_values(raw: bytes, keys: frozenset[str]) -> dict[str, list[str]]:
    """The values of the headers ``keys`` (canonical names) of a message the first pass read
    (CRLF lines, ASCII head), each unfolded as the first pass and ``parse_sip`` unfold it."""
    lines = raw[:raw.find(b"\r\n\r\n")].decode("ascii").split("\r\n")[1:]
    found: dict[str, list[str]] = {}
    values = None
    for line in lines:
        if line[:1] in (" ", "\t"):
            if values is not None:  # LWS continuation (RFC 3261 §7.3.1)
                text = line.strip(" \t")
                values[-1] = f"{values[-1]} {text}" if values[-1] else text
            continue
        name, _, text = line.partition(":")
        key = canonical_name(name.rstrip(" \t"))
        values = found.setdefault(key, []) if key in keys else None
        if values is not None:
            values.append(text.strip(" \t"))
    return found


_TO = frozenset({"to"})


# A To line of a head without folding (each line ends in CRLF, none starts with whitespace):
# the name as ``head_values`` reads it (``To`` or ``t``, any case, whitespace before the colon).
_TO_LINE = re.compile(rb"\r\n(?:to|t)[ \t]*:([^\r\n]*)", re.IGNORECASE)


def _to_parses(raw: bytes) -> bool:
    """Whether the To header of a message the first pass read parses as ``parse_sip`` parses it
    (the first pass rejects a repeated To)."""
    head = raw[:raw.find(b"\r\n\r\n")]
    crlf = head.count(b"\r\n")
    if crlf == head.count(b"\n") == head.count(b"\r") and b"\r\n " not in head and b"\r\n\t" not in head:
        found = _TO_LINE.search(head)  # the first To line, as ``head_values`` finds it
        value = found.group(1).decode("ascii").strip(" \t") if found is not None else None
    else:
        value = head_values(raw, _TO).get("to", [None])[0]
    return value is not None and bool(value) and _checked_name_addr(value, "To", []) is not None


class _TopVia:
    """The top Via as transactions read it (host, port, branch), from the first pass; any other
    attribute is the full parse's."""

    __slots__ = ("host", "port", "branch", "_message")

    def __init__(self, host: str, port: int | None, branch: str | None, message: "StoredMessage") -> None:
        self.host, self.port, self.branch, self._message = host, port, branch, message

    def sent_by(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else self.host

    def __getattr__(self, name: str):
        return getattr(self._message.full.top_via, name)


_FIELDS = ("is_request", "method", "status", "call_id", "cseq", "branch", "sent_by", "from_tag", "to_tag",
           "content_length", "content_type", "body")  # ``SipFields``'s, in its order


class StoredMessage:
    """One SIP message read back from a ``MessageStore``: the first pass's fields at once (as
    plain attributes: the correlation reads them millions of times), the full ``SipMessage``
    (``full``) for everything else, parsed on first use. The first pass's fields equal the full
    parse's (``tests/unit/decoders/test_sipscan.py``); for a message the first pass does not
    read they are the full parse's. Compares by identity, as ``SipMessage`` does."""

    __slots__ = ("index", "raw", "src", "dst", "ts_ns", "_store", "_full", "kept", "_top_via") + _FIELDS

    def __init__(self, store: MessageStore, i: int, raw: bytes, parse: bool = False) -> None:
        self.index = i
        self.raw = raw  # the bytes as captured; the message's own once parsed (``parse_sip`` may cut)
        self.src = store.endpoint(store.src[i])
        self.dst = store.endpoint(store.dst[i])
        self.ts_ns = store.index.ts_ns[i]
        self._store = store
        self._full = None
        self.kept: Any = None  # what an earlier look kept of this message (``KeptRequest``), if any
        self._top_via = _UNREAD
        fields = None
        if not parse:
            fields = _c_scan_sip(raw) if _c_scan_sip is not None else None
            if fields is None:
                scanned = scan_sip(raw)
                if scanned is not None:
                    fields = tuple(getattr(scanned, name) for name in _FIELDS)
        if fields is not None:
            (self.is_request, self.method, self.status, self.call_id, self.cseq, self.branch, self.sent_by,
             self.from_tag, self.to_tag, self.content_length, self.content_type, self.body) = fields
            return
        full = self._full = self._parse()
        self.raw = full.raw
        self.is_request, self.method, self.status, self.call_id = full.is_request, full.method, full.status, full.call_id
        self.cseq, self.branch, self.from_tag, self.to_tag = full.cseq, full.branch, full.from_tag, full.to_tag
        self.content_length, self.content_type, self.body = full.content_length, full.content_type, full.body
        self.sent_by = None  # (read from the full parse's top Via)

    def _parse(self):
        try:
            # Called once: at once for what the first pass cannot read (``raw`` still as captured),
            # else on first use (a message the first pass reads is its own bytes, nothing cut).
            return parse_sip(self.raw, src=self.src, dst=self.dst, frames=self.frames, ts_ns=self.ts_ns)
        except DecodeError as exc:  # it parsed when the capture was read: the bytes changed
            raise CaptureError(f"SIP message {self.index + 1} no longer parses: {exc}") from None

    @property
    def full(self):
        """The ``SipMessage`` of these bytes (parsed once)."""
        if self._full is None:
            self._full = self._parse()
        return self._full

    @property
    def frames(self) -> tuple[FrameRef, ...]:
        return self._store.frames(self.index)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.full, name)

    def __repr__(self) -> str:
        return f"StoredMessage({self.index})"

    @property
    def sdp(self):
        return _body_sdp(self.body, self.content_type, []) if self._full is None else self._full.sdp

    @property
    def request_uri(self) -> str | None:
        if self._full is not None:
            return self._full.request_uri
        if self.kept is not None:
            return self.kept.request_uri
        if not self.is_request:
            return None
        # The first pass read the request line as ``parse_sip`` does: three parts, the URI second.
        return self.raw[:self.raw.find(b"\r\n")].split(b" ")[1].decode("ascii")

    @property
    def top_via(self):
        if self._full is not None:
            return self._full.top_via
        via = self._top_via
        if via is _UNREAD:
            if self.sent_by is None:
                via = None
            else:
                host, colon, port = self.sent_by.partition(":")
                via = _TopVia(host.lower(), int(port) if colon else None, self.branch, self)
            self._top_via = via
        return via

    @property
    def from_uri(self) -> str | None:
        return self.kept.from_uri if self.kept is not None and self._full is None else self.full.from_uri

    @property
    def to_uri(self) -> str | None:
        return self.kept.to_uri if self.kept is not None and self._full is None else self.full.to_uri


_UNREAD = object()
