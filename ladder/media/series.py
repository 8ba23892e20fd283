"""Bounded, decimated per-stream series for charts (delta, jitter, loss over time).

A stream of a million packets must not keep a million points, nor a Python object per bucket:
the series is a fixed grid of at most ``MAX_POINTS`` buckets held in flat ``array`` columns
(32 bytes a bucket, allocated once at full size, so a stream's state does not grow with its
length). Bucket ``i`` covers ``[origin + i * width, origin + (i + 1) * width)`` and keeps the
worst delta and jitter seen in it plus the packets lost and received there; when a packet
falls past the last bucket, adjacent pairs merge (max of maxima, sum of counts) and the width
doubles. So the chart keeps every spike, at a resolution that coarsens as the call gets longer.
A packet whose capture time goes back lands in the open bucket.

The open bucket lives in plain attributes (``end_ns``, ``delta``, ``jitter``, ``lost``,
``packets``) so that the RTP table's per-packet fast path can update it in place; only closing
it touches the columns.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import compress

MAX_POINTS = 256  # 8 KiB of columns per stream; 100 ms buckets cover 25.6 s before the first merge
FIRST_WIDTH_NS = 100_000_000


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket: start time (ns since the epoch), worst delta and jitter (ms) in it, packets
    lost (sequence gaps) and received."""

    ts_ns: int
    max_delta_ms: float
    max_jitter_ms: float
    lost: int
    packets: int


class Series(Sequence[SeriesPoint]):
    """A finished series: the builder's columns themselves (no copy, so finishing a stream
    allocates nothing per bucket) and the grid positions of its non-empty buckets. Indexing and
    iteration make ``SeriesPoint`` objects on demand."""

    __slots__ = ("_origin", "_width", "_delta", "_jitter", "_lost", "_packets", "_where")

    def __init__(self, origin_ns: int, width_ns: int, delta: Sequence[float], jitter: Sequence[float],
                 lost: Sequence[int], packets: Sequence[int], where: Sequence[int]):
        self._origin, self._width = origin_ns, width_ns
        self._delta, self._jitter, self._lost, self._packets = delta, jitter, lost, packets
        self._where = where

    def __len__(self) -> int:
        return len(self._where)

    @property
    def width_ns(self) -> int:
        """One bucket's span: points further apart than this have empty buckets (silence)
        between them."""
        return self._width

    def _point(self, j: int) -> SeriesPoint:
        return SeriesPoint(self._origin + j * self._width, self._delta[j], self._jitter[j], self._lost[j],
                           self._packets[j])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(map(self._point, self._where[index]))
        return self._point(self._where[index])

    def __iter__(self) -> Iterator[SeriesPoint]:
        return map(self._point, self._where)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Series, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Series({len(self)} points)"


EMPTY = Series(0, 1, array("d"), array("d"), array("q"), array("q"), range(0))


class SeriesBuilder:
    """The mutable accumulator; ``add`` is called once per RTP packet, so it stays tiny."""

    __slots__ = ("origin_ns", "width_ns", "index", "end_ns", "delta", "jitter", "lost", "packets",
                 "max_points", "_delta", "_jitter", "_lost", "_packets")

    def __init__(self, ts_ns: int, max_points: int = MAX_POINTS, first_width_ns: int = FIRST_WIDTH_NS):
        """Open the first bucket at ``ts_ns`` (the stream's first packet, not yet counted)."""
        if max_points < 2 or max_points % 2:
            raise ValueError("max_points must be an even number of at least 2 (buckets merge in pairs)")
        self.origin_ns = ts_ns
        self.width_ns = first_width_ns
        self.max_points = max_points
        self.index = 0  # the open bucket's place on the grid
        self.end_ns = ts_ns + first_width_ns
        self.delta = self.jitter = 0.0
        self.lost = self.packets = 0
        # Columns of closed buckets, allocated when the first bucket closes: a candidate stream
        # that never outlives one bucket (random UDP) costs no columns.
        self._delta: array[float] | None = None
        self._jitter: array[float] | None = None
        self._lost: array[int] | None = None
        self._packets: array[int] | None = None

    def add(self, ts_ns: int, delta_ms: float, jitter_ms: float, lost: int) -> None:
        if ts_ns >= self.end_ns:
            self.open(ts_ns, delta_ms, jitter_ms, lost)
            return
        if delta_ms > self.delta:
            self.delta = delta_ms
        if jitter_ms > self.jitter:
            self.jitter = jitter_ms
        self.lost += lost
        self.packets += 1

    def open(self, ts_ns: int, delta_ms: float, jitter_ms: float, lost: int) -> None:
        """Close the open bucket and open the one holding ``ts_ns`` (at or after ``end_ns``).
        Called once per bucket (every few packets of a stream) by the fast path."""
        self._close()
        origin, width = self.origin_ns, self.width_ns
        index = (ts_ns - origin) // width
        if index >= self.max_points:
            while index >= self.max_points:
                self._halve()
                index >>= 1  # floor(x / 2w) == floor(floor(x / w) / 2)
            width = self.width_ns
        self.index = index
        self.end_ns = origin + (index + 1) * width
        self.delta, self.jitter, self.lost, self.packets = delta_ms, jitter_ms, lost, 1

    @property
    def has_columns(self) -> bool:
        """Whether a bucket has closed, so the columns exist (the compiled fast path,
        ladder/_accel.c, writes into them in place)."""
        return self._packets is not None

    def _columns(self) -> tuple[array[float], array[float], array[int], array[int]]:
        """The four columns, allocated on first use."""
        if self._delta is None or self._jitter is None or self._lost is None or self._packets is None:
            size = self.max_points
            self._delta, self._jitter = array("d", bytes(8 * size)), array("d", bytes(8 * size))
            self._lost, self._packets = array("q", bytes(8 * size)), array("q", bytes(8 * size))
        return self._delta, self._jitter, self._lost, self._packets

    def _close(self) -> None:
        if not self.packets:
            return
        delta, jitter, lost, packets = self._columns()
        i = self.index
        delta[i] = self.delta
        jitter[i] = self.jitter
        lost[i] = self.lost
        packets[i] = self.packets
        self.packets = 0

    def _halve(self) -> None:
        """Halve the resolution: bucket pairs (2k, 2k + 1) become bucket k."""
        self.width_ns *= 2
        if self._packets is None:
            return
        delta, jitter, lost, packets = self._columns()
        half = self.max_points // 2
        delta[:half] = array("d", map(max, delta[0::2], delta[1::2]))
        jitter[:half] = array("d", map(max, jitter[0::2], jitter[1::2]))
        lost[:half] = array("q", map(operator.add, lost[0::2], lost[1::2]))
        packets[:half] = array("q", map(operator.add, packets[0::2], packets[1::2]))
        for column in (delta, jitter):
            column[half:] = array("d", bytes(8 * (self.max_points - half)))
        for count in (lost, packets):
            count[half:] = array("q", bytes(8 * (self.max_points - half)))

    def peek(self) -> Series:
        """What ``finish`` would give now, from copies of the columns: the builder goes on being
        fed (a live capture shows its streams while they grow)."""
        clone = SeriesBuilder.__new__(SeriesBuilder)
        for name in SeriesBuilder.__slots__:
            value = getattr(self, name)
            setattr(clone, name, array(value.typecode, value) if isinstance(value, array) else value)
        return clone.finish()

    def finish(self) -> Series:
        """The non-empty buckets, the open one included, as a ``Series`` over these columns
        (the builder must not be fed afterwards)."""
        if self._packets is None:  # one bucket only: no columns for it, one-item tuples (a short
            if not self.packets:  # stream, as a flood of them has, costs a few hundred bytes)
                return EMPTY
            return Series(self.origin_ns + self.index * self.width_ns, self.width_ns, (self.delta,), (self.jitter,),
                          (self.lost,), (self.packets,), range(1))
        self._close()
        delta, jitter, lost, packets = self._columns()
        n = self.index + 1
        counts = packets[:n]
        where = range(n) if not counts.count(0) else array("i", compress(range(n), counts))
        return Series(self.origin_ns, self.width_ns, delta, jitter, lost, packets, where)
