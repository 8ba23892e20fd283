"""The text and Mermaid renderers on hand-made ladders: widening, media bars, marks,
compact packing and terminal safety."""

from __future__ import annotations

from decoders.records import Endpoint
from ladder.draw.diagram import MEDIA, REQUEST, RESPONSE, Arrow, Ladder, Participant
from ladder.draw.mermaid import render_mermaid
from ladder.draw.text import render_text
from ladder.textsafe import safe_text


def make(arrows, names=("Alice", "Proxy", "Bob"), **extra):
    participants = tuple(Participant(n, (Endpoint(f"192.0.2.{i + 1}", 5060),)) for i, n in enumerate(names))
    return Ladder("k", "", participants, tuple(arrows), t0_ns=0, **extra)


def sip(f, label, src, dst, ts=0, **kw):
    kind = RESPONSE if label[0].isdigit() else REQUEST
    return Arrow(f=f, kind=kind, label=label, src=src, dst=dst, ts_ns=ts, **kw)


def test_rfc_style_rows_and_spanning_arrow():
    text = render_text(make([sip(1, "INVITE", 0, 1), sip(2, "BYE", 2, 0)]))
    lines = text.splitlines()
    assert lines[0] == " Alice            Proxy             Bob"
    assert lines[1] == "   |                |                |"
    assert lines[2] == "   |   INVITE F1    |                |"
    assert lines[3] == "   |--------------->|                |"
    assert lines[4] == "   |             BYE F2              |"
    assert lines[5] == "   |<--------------------------------|"


def test_columns_widen_so_nothing_is_truncated():
    long = "183 Session Progress with a very long reason phrase indeed"
    text = render_text(make([sip(1, long, 1, 0)]))
    assert f"{long} F1" in text
    row = next(line for line in text.splitlines() if "<" in line)
    assert row.index("|") < row.index("<") and row.count("-") >= len(long) + 3


def test_retransmissions_and_marks_are_visible():
    text = render_text(make([sip(1, "INVITE", 0, 1), sip(2, "INVITE", 0, 1, retransmission=True,
                                                          marks=("missing-ack",))]))
    assert "INVITE F2 (retransmission)" in text
    assert any(line.endswith("<- missing-ack") and "-->" in line for line in text.splitlines())


def test_media_bars_both_ways_and_one_way():
    bars = [
        Arrow(f=None, kind=MEDIA, label="RTP PCMU 250 pkts", src=0, dst=2, ts_ns=0, both_ways=True),
        Arrow(f=None, kind=MEDIA, label="RTP PCMA 10 pkts", src=2, dst=0, ts_ns=1),
    ]
    lines = render_text(make(bars)).splitlines()
    assert "RTP PCMU 250 pkts" in lines[2]
    assert lines[3].strip().startswith("|<====") and lines[3].strip().endswith("====>|")
    assert lines[5].strip().startswith("|<====") and lines[5].strip().endswith("=====|")


def test_compact_puts_a_label_beside_the_previous_arrow():
    arrows = [sip(1, "INVITE", 0, 1), sip(2, "INVITE", 1, 2), sip(3, "100 Trying", 1, 0)]
    compact = render_text(make(arrows), compact=True).splitlines()
    assert compact[3] == "   |--------------->|   INVITE F2    |"
    assert compact[4] == "   | 100 Trying F3  |--------------->|"
    assert len(compact) < len(render_text(make(arrows)).splitlines())


def test_time_column_is_seconds_from_t0_with_ms():
    text = render_text(make([sip(1, "INVITE", 0, 1, ts=1_234_567_890)]), time=True)
    assert any(line.startswith("1.235") for line in text.splitlines())


def test_escape_sequences_from_the_capture_never_reach_the_terminal():
    evil = "200 OK\x1b[2J\x1b]0;pwned\x07\u202e"
    text = render_text(make([sip(1, evil, 1, 0)], names=("Al\x1b[31mice", "Bob", "C")))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "200 OK F1" in text and "Alice" in text
    assert safe_text("a\tb\r\nc") == "a b  c"


def test_mermaid_escapes_its_special_characters():
    ladder = make([sip(1, "488 Not; Acceptable #1 <here>", 1, 0),
                   Arrow(f=None, kind=MEDIA, label="RTP", src=0, dst=2, ts_ns=0, both_ways=True)],
                  names=('Al"ice', "Proxy", "Bob"))
    out = render_mermaid(ladder)
    assert 'participant P1 as "Al#quot;ice"' in out
    assert "P2->>P1: 488 Not#59; Acceptable #35;1 #lt;here#gt; F1" in out
    assert "Note over P1,P3: RTP (both ways)" in out


def test_a_message_a_node_sends_itself_hooks_back_without_breaking_columns():
    text = render_text(make([sip(1, "OPTIONS", 1, 1), sip(2, "200 OK", 1, 1)]))
    lines = text.splitlines()
    assert lines[2].startswith("   |                | OPTIONS F1")
    assert lines[3].startswith("   |                |<--'")
    assert all(line[3] == "|" for line in lines[1:])


def test_wide_characters_keep_lifelines_aligned():
    from ladder.textsafe import display_width

    text = render_text(make([sip(1, "INVITE", 0, 1), sip(2, "200 OK", 1, 0)], names=("王小明", "Bob", "C")))
    rows = text.splitlines()[1:]

    def bars(line):  # display columns of the lifelines
        cols, x = [], 0
        for ch in line:
            if ch == "|":
                cols.append(x)
            x += display_width(ch)
        return cols

    assert "王小明" in text.splitlines()[0]
    assert bars(rows[0]) == bars(rows[1]) == bars(rows[-1])


def test_a_row_takes_ascii_text_at_once_as_it_takes_it_character_by_character():
    """``_Row.put`` writes ASCII text (one cell a character) in one slice; the cells are those the
    per-character path writes, past the row's end, over marks, and at a row's start alike."""
    from hypothesis import given, settings, strategies as st

    from ladder.draw.text import _Row

    def by_character(row: _Row, x: int, text: str) -> None:
        for n, ch in enumerate(text):
            row._ensure(x + n + 1)
            row.cells[x + n] = ch

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, 30), st.text(st.characters(max_codepoint=127), max_size=40), st.integers(0, 30))
    def check(width: int, text: str, x: int) -> None:
        fast, slow = _Row(width), _Row(width)
        for row in (fast, slow):
            row.cells[: min(width, 3)] = ["|"] * min(width, 3)
        fast.put(x, text)
        by_character(slow, x, text)
        assert fast.cells == slow.cells

    check()
