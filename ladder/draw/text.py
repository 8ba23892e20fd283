"""The RFC 3665-style ASCII ladder.

::

    Alice           Proxy 1           Bob
      |                |                |
      |   INVITE F1    |                |
      |--------------->|   INVITE F2    |
      |                |--------------->|

Each arrow is a label row (``LABEL Fn`` centred between its two lifelines) and an arrow row;
arrows spanning several columns run over the lifelines between. Media bars are double lines.
Columns widen to fit names and labels; only a name or label longer than a screen line
(fuzzed input) is cut, with an ellipsis. ``compact`` puts a
label on the previous arrow's row when they do not overlap, as the RFC's own figures do.
Every text that came from the capture passes through ``safe_text``.
"""

from __future__ import annotations

import datetime

from ladder.draw.diagram import MEDIA, Arrow, Ladder, arrow_label
from ladder.textsafe import clip, display_width, safe_text

MIN_GAP = 17  # lifeline to lifeline, as in RFC 3665: 16 dashes between the bars
LABEL_WIDTH = 72  # a fuzzed 2,049-character method is cut (JSON keeps it whole)
NAME_WIDTH = 40


class _Row:
    """One output line as terminal cells (a wide character takes its cell and the next)."""

    __slots__ = ("cells", "marks", "borrowable", "span")

    def __init__(self, width: int) -> None:
        self.cells: list[str] = [" "] * width
        self.marks: tuple[str, ...] = ()
        self.borrowable = False  # an arrow row whose free part may take the next label
        self.span: tuple[int, int] = (0, 0)

    def put(self, x: int, text: str) -> None:
        if x >= 0 and text.isascii():  # one cell a character (``display_width``): the usual label, at once
            if not text:
                return
            end = x + len(text)
            self._ensure(end)
            self.cells[x:end] = text
            return
        for ch in text:
            wide = display_width(ch)
            if wide == 0:
                continue
            self._ensure(x + wide)
            self.cells[x] = ch
            if wide == 2:
                self.cells[x + 1] = ""
            x += wide

    def _ensure(self, width: int) -> None:
        if width > len(self.cells):
            self.cells.extend([" "] * (width - len(self.cells)))

    def text(self) -> str:
        line = "".join(self.cells).rstrip()
        if self.marks:
            line += "  <- " + ", ".join(safe_text(m) for m in self.marks)
        return line


def _positions(ladder: Ladder, names: list[str], texts: list[str], left: int) -> list[int]:
    count = len(names)
    if count == 0:
        return []
    gaps = [MIN_GAP] * max(0, count - 1)
    # Neighbouring names centred on their lifelines must not touch.
    for i in range(count - 1):
        need = (display_width(names[i]) + 1) // 2 + display_width(names[i + 1]) // 2 + 2
        gaps[i] = max(gaps[i], need)
    # Each label needs its span's interior: one space either side.
    spans: list[tuple[int, int, int]] = []
    for arrow, text in zip(ladder.arrows, texts):
        a, b = sorted((arrow.src, arrow.dst))
        width = display_width(text) + 2
        if a == b:  # a node talking to itself: the label hangs right of its lifeline
            if a < count - 1:
                spans.append((a, a + 1, width + 6))
            continue
        spans.append((a, b, width + 1))
    for a, b, need in sorted(spans, key=lambda s: s[1] - s[0]):
        have = sum(gaps[a:b])
        if have < need:
            deficit = need - have
            share, rest = divmod(deficit, b - a)
            for i in range(a, b):
                gaps[i] += share
            gaps[b - 1] += rest
    positions = [left]
    for gap in gaps:
        positions.append(positions[-1] + gap)
    return positions


def render_text(ladder: Ladder, *, time: bool = False, compact: bool = False, sdp: bool = False,
                clock: bool = False) -> str:
    """The ladder as text, LF line ends, ending with a newline."""
    lines, _ = render_text_lines(ladder, time=time, compact=compact, sdp=sdp, clock=clock)
    return "\n".join(lines) + "\n"


def time_stamps(ladder: Ladder, *, clock: bool = False) -> list[str]:
    """The time column: seconds since the capture's time base (``--time``), or, with ``clock``,
    sngrep's pair: the UTC wall-clock time and the delta since the previous arrow."""
    if not clock:
        return [f"{(a.ts_ns - ladder.t0_ns) / 1e9:.3f}" for a in ladder.arrows]
    stamps, previous = [], None
    for arrow in ladder.arrows:
        moment = datetime.datetime.fromtimestamp(arrow.ts_ns // 1000 / 1e6, datetime.timezone.utc)
        delta = "" if previous is None else f" +{(arrow.ts_ns - previous) / 1e9:.3f}"
        stamps.append(moment.strftime("%H:%M:%S.%f")[:-3] + delta)
        previous = arrow.ts_ns
    return stamps


def render_text_lines(
    ladder: Ladder, *, time: bool = False, compact: bool = False, sdp: bool = False, clock: bool = False,
) -> tuple[list[str], list[tuple[int, int]]]:
    """The lines of ``render_text`` and, per entry of ``ladder.arrows``, the (first, last)
    inclusive range of lines that draw it (its label and its shaft), so that a viewer can put a
    cursor on an arrow without laying the ladder out again. ``sdp`` marks the messages that carry
    SDP; ``clock`` makes the time column wall-clock time and delta (both are the TUI's)."""
    names = [clip(p.name, NAME_WIDTH) for p in ladder.participants]
    texts = [clip(arrow_label(a, sdp=sdp), LABEL_WIDTH) for a in ladder.arrows]
    times = time_stamps(ladder, clock=clock)
    prefix = (max((len(t) for t in times), default=5) + 2) if time else 0
    left = prefix + max(2, (display_width(names[0]) if names else 0) // 2 + 1)
    positions = _positions(ladder, names, texts, left)
    width = (positions[-1] + 1) if positions else left + 1

    def lifelines() -> _Row:
        row = _Row(width)
        for x in positions:
            row.cells[x] = "|"
        return row

    rows: list[_Row] = []
    header = _Row(width)
    for name, x in zip(names, positions):
        header.put(max(0, x - display_width(name) // 2), name)
    rows.append(header)
    rows.append(lifelines())

    spans: list[tuple[int, int]] = []  # row indexes of each arrow's label and shaft
    for arrow, text, stamp in zip(ladder.arrows, texts, times):
        a, b = sorted((arrow.src, arrow.dst))
        self_arrow = a == b
        previous = rows[-1]
        label_index = len(rows)  # a label row of its own, appended next (unless borrowed below)
        if self_arrow:
            start = positions[a] + 2
            label_row = lifelines()
            label_row.put(start, text)
            rows.append(label_row)
        else:
            inner = positions[b] - positions[a] - 1
            start = positions[a] + 1 + (inner - display_width(text)) // 2
            prev_a, prev_b = previous.span
            if compact and previous.borrowable and (b <= prev_a or a >= prev_b):
                label_row = previous
                previous.borrowable = False
                label_index = len(rows) - 1
            else:
                label_row = lifelines()
                rows.append(label_row)
            for x in positions[a + 1:b]:
                label_row.cells[x] = " "
            label_row.put(start, text)
        row = lifelines()
        if time:
            row.put(0 if clock else prefix - 2 - len(stamp), stamp)
        _draw_arrow(row, arrow, positions, a, b)
        row.marks = tuple(arrow.marks)
        row.borrowable = not self_arrow
        row.span = (a, b)
        rows.append(row)
        spans.append((label_index, len(rows) - 1))
    rows.append(lifelines())

    lines = []
    if ladder.title:
        lines += [safe_text(ladder.title), ""]
    first_row = len(lines)
    lines += [row.text() for row in rows]
    if ladder.links:
        lines += ["", "Legs:"] + [f"  {safe_text(link)}" for link in ladder.links]
    if ladder.notes:
        lines += ["", "Notes:"] + [f"  {safe_text(note)}" for note in ladder.notes]
    return lines, [(first_row + label, first_row + shaft) for label, shaft in spans]


def _draw_arrow(row: _Row, arrow: Arrow, positions: list[int], a: int, b: int) -> None:
    if a == b:  # from a node to itself: a hook back onto its own lifeline
        row.put(positions[a] + 1, "<--'")
        return
    line = "=" if arrow.kind == MEDIA else "-"
    x0, x1 = positions[a], positions[b]
    for x in range(x0 + 1, x1):
        row.cells[x] = line
    rightward = arrow.dst > arrow.src
    if arrow.kind == MEDIA and arrow.both_ways:
        row.cells[x0 + 1] = "<"
        row.cells[x1 - 1] = ">"
    elif rightward:
        row.cells[x1 - 1] = ">"
    else:
        row.cells[x0 + 1] = "<"
