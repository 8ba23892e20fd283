"""IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5), in any arrival order.

Memory and time are bounded: a datagram that is not complete within ``timeout_ns`` of its first
fragment is dropped, as are the oldest ones beyond ``max_datagrams`` (datagrams in flight); a
datagram may not exceed 65,535 bytes of payload nor arrive in more than ``max_pieces`` pieces
(a real one over a 576-byte path needs 120; overlapping 8-byte pieces are an attack). Pieces are
kept sorted as they arrive and the bytes covered from offset 0 are tracked, so each fragment
costs O(pieces) at worst, never a sort of them all. Dropped and left-over datagrams are reported
with the frames that carried them.
"""

from __future__ import annotations

from bisect import insort
from collections import OrderedDict
from dataclasses import dataclass, field

from decoders.records import FrameRef

MAX_DATAGRAM = 65535
MAX_PIECES = 256
MAX_DATAGRAMS = 4096


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A complete datagram: the upper-layer bytes and every frame that carried a piece."""

    payload: bytes
    frames: tuple[FrameRef, ...]
    first_ts_ns: int


@dataclass(frozen=True, slots=True)
class Abandoned:
    """A datagram that never completed: why (kebab-case) and the frames that carried it."""

    reason: str
    frames: tuple[FrameRef, ...]


@dataclass(slots=True)
class _Pending:
    first_ts_ns: int
    pieces: list[tuple[int, int, bytes]] = field(default_factory=list)  # (offset, arrival, data), sorted
    frames: list[FrameRef] = field(default_factory=list)
    total: int | None = None  # known once the last fragment (more=0) arrived
    covered: int = 0  # bytes [0, covered) are present
    placed: int = 0  # pieces[:placed] are within [0, covered)


class FragmentReassembler:
    """Feed fragments with ``add``; it returns a ``Reassembled`` when a datagram completes.

    ``abandoned`` collects what timed out or overflowed; call ``finish()`` at the end of the
    capture to move the incomplete rest there too."""

    def __init__(self, timeout_ns: int = 30_000_000_000, max_datagrams: int = MAX_DATAGRAMS,
                 max_pieces: int = MAX_PIECES):
        self.timeout_ns = timeout_ns
        self.max_datagrams = max_datagrams
        self.max_pieces = max_pieces
        self._pending: OrderedDict[tuple[object, ...], _Pending] = OrderedDict()
        self.abandoned: list[Abandoned] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, key: tuple[object, ...], offset: int, more: bool, data: bytes, frame: FrameRef, ts_ns: int
    ) -> Reassembled | None:
        """One fragment of the datagram ``key`` (addresses, protocol, identification)."""
        self._expire(ts_ns)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(ts_ns)
            if len(self._pending) > self.max_datagrams:
                _, oldest = self._pending.popitem(last=False)
                self.abandoned.append(Abandoned("ip-fragment-overflow", tuple(oldest.frames)))
        pending.frames.append(frame)
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            del self._pending[key]
            self.abandoned.append(Abandoned("ip-fragment-oversize", tuple(pending.frames)))
            return None
        if len(pending.pieces) >= self.max_pieces:
            del self._pending[key]
            self.abandoned.append(Abandoned("ip-fragment-too-many-pieces", tuple(pending.frames)))
            return None
        if not more:
            pending.total = end
        insort(pending.pieces, (offset, len(pending.frames), bytes(data)))
        # Extend the run covered from offset 0: pieces[placed:] all start past it (sorted), so
        # a new piece that starts within it lands in pieces[:placed + 1].
        pieces, covered, placed = pending.pieces, pending.covered, pending.placed
        if offset <= covered:
            covered = max(covered, end)
            placed += 1
        while placed < len(pieces) and pieces[placed][0] <= covered:
            covered = max(covered, pieces[placed][0] + len(pieces[placed][2]))
            placed += 1
        pending.covered, pending.placed = covered, placed
        if pending.total is None or covered < pending.total:
            return None
        del self._pending[key]
        return Reassembled(self._assemble(pending), tuple(pending.frames), pending.first_ts_ns)

    @staticmethod
    def _assemble(pending: _Pending) -> bytes:
        """The bytes of a fully covered datagram; overlapping bytes keep the piece that starts
        first (arrival order breaks ties)."""
        total = pending.total or 0
        out = bytearray(total)
        covered = 0
        for offset, _arrival, data in pending.pieces:
            stop = min(offset + len(data), total)
            if stop > covered:
                out[covered:stop] = data[covered - offset : stop - offset]
                covered = stop
        return bytes(out)

    def _expire(self, now_ns: int) -> None:
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if now_ns - oldest.first_ts_ns <= self.timeout_ns:
                break
            del self._pending[key]
            self.abandoned.append(Abandoned("ip-fragment-timeout", tuple(oldest.frames)))

    def finish(self) -> list[Abandoned]:
        """End of capture: every datagram still waiting is abandoned as incomplete."""
        for pending in self._pending.values():
            self.abandoned.append(Abandoned("ip-fragment-incomplete", tuple(pending.frames)))
        self._pending.clear()
        return self.abandoned
