"""Bounded, decimated per-stream series for charts (delta, jitter, loss over time).

A stream of a million packets must not keep a million points: the series holds at most
``MAX_POINTS`` buckets. Each bucket covers ``width_ns`` of time and keeps the worst delta and
jitter seen in it plus the packets lost and received there; when the buckets run out, adjacent
pairs merge (max of maxima, sum of counts) and the width doubles. So the chart keeps every
spike, at a resolution that coarsens as the call gets longer.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_POINTS = 1000
FIRST_WIDTH_NS = 100_000_000  # 100 ms buckets: 1,000 of them cover 100 s before the first merge


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket: start time (ns since the epoch), worst delta and jitter (ms) in it, packets
    lost (sequence gaps) and received."""

    ts_ns: int
    max_delta_ms: float
    max_jitter_ms: float
    lost: int
    packets: int


class SeriesBuilder:
    """The mutable accumulator; ``add`` is called once per RTP packet, so it stays tiny."""

    __slots__ = ("origin_ns", "width_ns", "buckets", "max_points")

    def __init__(self, max_points: int = MAX_POINTS, first_width_ns: int = FIRST_WIDTH_NS):
        self.origin_ns = -1
        self.width_ns = first_width_ns
        # [start_ns, max_delta, max_jitter, lost, packets] per bucket, in time order.
        self.buckets: list[list] = []
        self.max_points = max_points

    def add(self, ts_ns: int, delta_ms: float, jitter_ms: float, lost: int) -> None:
        buckets = self.buckets
        if buckets:
            last = buckets[-1]
            if ts_ns < last[0] + self.width_ns:
                if delta_ms > last[1]:
                    last[1] = delta_ms
                if jitter_ms > last[2]:
                    last[2] = jitter_ms
                last[3] += lost
                last[4] += 1
                return
            # Align bucket starts on the grid so merging pairs keeps them aligned.
            start = ts_ns - (ts_ns - self.origin_ns) % self.width_ns
        else:
            self.origin_ns = start = ts_ns
        buckets.append([start, delta_ms, jitter_ms, lost, 1])
        if len(buckets) > self.max_points:
            self._merge()

    def _merge(self) -> None:
        """Halve the resolution: buckets on the doubled grid absorb their neighbours."""
        self.width_ns *= 2
        merged: list[list] = []
        for bucket in self.buckets:
            start = bucket[0] - (bucket[0] - self.origin_ns) % self.width_ns
            if merged and merged[-1][0] == start:
                into = merged[-1]
                into[1] = max(into[1], bucket[1])
                into[2] = max(into[2], bucket[2])
                into[3] += bucket[3]
                into[4] += bucket[4]
            else:
                merged.append([start, bucket[1], bucket[2], bucket[3], bucket[4]])
        self.buckets = merged

    def points(self) -> tuple[SeriesPoint, ...]:
        return tuple(SeriesPoint(b[0], b[1], b[2], b[3], b[4]) for b in self.buckets)
