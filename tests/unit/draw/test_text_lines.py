"""``TextLines`` draws each line of ``render_text_lines`` when asked for (the TUI shows a
screenful of a ladder of thousands of arrows): the same lines, the same arrow ranges, on the
samples and on hand-made ladders with what widens a line (self-arrows on the last lifeline,
marks, wide names, legs, notes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLES
from decoders.records import Endpoint
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.draw.diagram import MEDIA, REQUEST, RESPONSE, Arrow, Ladder, Participant
from ladder.draw.layout import build_ladder
from ladder.draw.text import TextLines, render_text_lines

VARIANTS = [dict(), dict(time=True), dict(time=True, clock=True, sdp=True), dict(sdp=True)]


def assert_same_lines(ladder: Ladder) -> None:
    for options in VARIANTS:
        lines, ranges = render_text_lines(ladder, **options)
        lazy = TextLines(ladder, **options)
        assert lazy.widest() == max(len(line) for line in lines)  # before any line is asked for
        assert len(lazy) == len(lines)
        assert lazy[len(lines) // 2] == lines[len(lines) // 2]  # drawn out of order too
        assert list(lazy) == lines and lazy[-1] == lines[-1] and lazy[1:3] == lines[1:3]
        assert lazy.arrow_lines == ranges
        assert lazy.widest() == max(len(line) for line in lines)
        with pytest.raises(IndexError):
            lazy[len(lines)]


@pytest.mark.parametrize("sample", sorted(p.name for p in Path(SAMPLES).glob("*.pcap")))
def test_every_call_of_every_sample(sample: str):
    capture = load_capture(str(SAMPLES / sample))
    calls = build_calls(capture)
    assert calls
    for call in calls:
        assert_same_lines(build_ladder(call, capture))


def _sip(f, label, src, dst, ts=0, **kw):
    return Arrow(f=f, kind=RESPONSE if label[0].isdigit() else REQUEST, label=label, src=src, dst=dst,
                 ts_ns=ts, **kw)


def test_hand_made_ladders_with_what_widens_a_line():
    names = ("王小明", "Proxy", "Bob")
    participants = tuple(Participant(n, (Endpoint(f"192.0.2.{i + 1}", 5060),)) for i, n in enumerate(names))
    arrows = (
        _sip(1, "INVITE", 0, 1, 1_000_000),
        _sip(2, "OPTIONS keepalive with a long label", 2, 2, 2_000_000, marks=("no-response",)),
        _sip(3, "200 OK", 1, 0, 3_000_000, marks=("late", "x" * 90)),
        Arrow(f=None, kind=MEDIA, label="RTP PCMU 250 pkts", src=0, dst=2, ts_ns=4_000_000, both_ways=True),
        _sip(4, "BYE", 2, 0, 5_000_000),
    )
    for title, links, notes in (("", (), ()), ("Call 1: a@b → c@d", ("leg 1 -> leg 2",), ("a note",))):
        assert_same_lines(Ladder("k", title, participants, arrows, t0_ns=0, links=links, notes=notes))
    assert_same_lines(Ladder("k", "", participants, (), t0_ns=0))
