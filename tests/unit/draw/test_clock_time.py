"""``clock_time`` (the time column of the TUI's ladder and ``--clock``) writes what
``datetime.fromtimestamp(ts_ns // 1000 / 1e6, UTC).strftime("%H:%M:%S.%f")[:-3]`` writes, for
every time: the samples' messages, the edges of a second, a day and the exact-integer range, and
random times up to past 2096 (where it leaves the reading to ``datetime``)."""

from __future__ import annotations

import datetime
import random

import pytest

from conftest import SAMPLES
from ladder.capture.loader import load_capture
from ladder.draw.text import _EXACT_US, clock_time


def _library(ts_ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts_ns // 1000 / 1e6, datetime.timezone.utc)
    return moment.strftime("%H:%M:%S.%f")[:-3]


EDGES = [0, 999, 1_000, 999_999, 1_000_000, 999_999_999, 1_000_000_000, 59_999_999_999, 3_599_999_999_999,
         86_399_999_999_999, 86_400_000_000_000, 1_701_000_000_123_456_789, _EXACT_US * 1000 - 1, _EXACT_US * 1000,
         _EXACT_US * 1000 + 999_999_999, 2**62, -1, -1_000, -1_500_000_000_000_000_000]


@pytest.mark.parametrize("ts_ns", EDGES)
def test_edges_read_as_the_library_reads_them(ts_ns):
    assert clock_time(ts_ns) == _library(ts_ns)


def test_random_times_read_as_the_library_reads_them():
    pick = random.Random(3665)
    for _ in range(50_000):
        ts_ns = pick.randrange(0, 4_200_000_000 * 10**9)  # past _EXACT_US: both branches
        assert clock_time(ts_ns) == _library(ts_ns)
        near = ts_ns // 10**6 * 10**6 + pick.choice((0, 999, 999_000, 999_999))  # millisecond edges
        assert clock_time(near) == _library(near)


def test_sample_messages_read_as_the_library_reads_them():
    times = [m.ts_ns for path in sorted(SAMPLES.glob("*.pcap")) for m in load_capture(str(path)).sip_messages]
    assert len(times) > 300
    assert [clock_time(t) for t in times] == [_library(t) for t in times]
