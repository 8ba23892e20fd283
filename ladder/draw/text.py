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
from collections.abc import Sequence
from typing import overload

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
        delta = "" if previous is None else f" +{(arrow.ts_ns - previous) / 1e9:.3f}"
        stamps.append(clock_time(arrow.ts_ns) + delta)
        previous = arrow.ts_ns
    return stamps


# Below this many microseconds (the year 2096) a float of seconds is within a quarter of a
# microsecond of the exact value, so ``fromtimestamp`` rounds it back to the same microsecond.
_EXACT_US = 4_000_000_000_000_000


def clock_time(ts_ns: int) -> str:
    """``HH:MM:SS.mmm`` (UTC) of a time, as ``datetime.fromtimestamp(ts_ns // 1000 / 1e6, UTC)
    .strftime("%H:%M:%S.%f")[:-3]`` writes it, in integers: a 20,000-message ladder has as many
    stamps, each a tenth of a datetime and a strftime (``test_text_lines`` compares the two)."""
    us = ts_ns // 1000
    if not 0 <= us < _EXACT_US:  # (before 1970 or after 2096: the library's own reading)
        moment = datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc)
        return moment.strftime("%H:%M:%S.%f")[:-3]
    seconds, fraction = divmod(us, 1_000_000)
    seconds %= 86_400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{fraction // 1000:03d}"


class _Layout:
    """What every line of a ladder depends on, worked out once over all its arrows: the names,
    the labels, the time column and where each lifeline stands."""

    def __init__(self, ladder: Ladder, *, time: bool, sdp: bool, clock: bool) -> None:
        self.ladder = ladder
        self.time = time
        self.clock = clock
        self.names = [clip(p.name, NAME_WIDTH) for p in ladder.participants]
        self.texts = [clip(arrow_label(a, sdp=sdp), LABEL_WIDTH) for a in ladder.arrows]
        self.times = time_stamps(ladder, clock=clock)
        self.prefix = (max((len(t) for t in self.times), default=5) + 2) if time else 0
        left = self.prefix + max(2, (display_width(self.names[0]) if self.names else 0) // 2 + 1)
        self.positions = _positions(ladder, self.names, self.texts, left)
        self.width = (self.positions[-1] + 1) if self.positions else left + 1

    def lifelines(self) -> _Row:
        row = _Row(self.width)
        for x in self.positions:
            row.cells[x] = "|"
        return row

    def header(self) -> _Row:
        header = _Row(self.width)
        for name, x in zip(self.names, self.positions):
            header.put(max(0, x - display_width(name) // 2), name)
        return header

    def put_label(self, row: _Row, index: int) -> None:
        """Arrow ``index``'s label on ``row`` (a lifelines row, or the previous arrow's when
        ``compact`` borrows it): centred between its two lifelines, or right of a self-arrow's."""
        arrow, text = self.ladder.arrows[index], self.texts[index]
        a, b = sorted((arrow.src, arrow.dst))
        if a == b:
            row.put(self.positions[a] + 2, text)
            return
        inner = self.positions[b] - self.positions[a] - 1
        for x in self.positions[a + 1:b]:
            row.cells[x] = " "
        row.put(self.positions[a] + 1 + (inner - display_width(text)) // 2, text)

    def shaft(self, index: int) -> _Row:
        """Arrow ``index``'s own row: its time stamp, its shaft and its marks."""
        arrow, stamp = self.ladder.arrows[index], self.times[index]
        a, b = sorted((arrow.src, arrow.dst))
        row = self.lifelines()
        if self.time:
            row.put(0 if self.clock else self.prefix - 2 - len(stamp), stamp)
        _draw_arrow(row, arrow, self.positions, a, b)
        row.marks = tuple(arrow.marks)
        row.borrowable = a != b
        row.span = (a, b)
        return row

    def head_lines(self) -> list[str]:
        return [safe_text(self.ladder.title), ""] if self.ladder.title else []

    def tail_lines(self) -> list[str]:
        ladder, lines = self.ladder, []
        if ladder.links:
            lines += ["", "Legs:"] + [f"  {safe_text(link)}" for link in ladder.links]
        if ladder.notes:
            lines += ["", "Notes:"] + [f"  {safe_text(note)}" for note in ladder.notes]
        return lines


def render_text_lines(
    ladder: Ladder, *, time: bool = False, compact: bool = False, sdp: bool = False, clock: bool = False,
) -> tuple[list[str], list[tuple[int, int]]]:
    """The lines of ``render_text`` and, per entry of ``ladder.arrows``, the (first, last)
    inclusive range of lines that draw it (its label and its shaft), so that a viewer can put a
    cursor on an arrow without laying the ladder out again. ``sdp`` marks the messages that carry
    SDP; ``clock`` makes the time column wall-clock time and delta (both are the TUI's)."""
    layout = _Layout(ladder, time=time, sdp=sdp, clock=clock)
    rows: list[_Row] = [layout.header(), layout.lifelines()]
    spans: list[tuple[int, int]] = []  # row indexes of each arrow's label and shaft
    for index, arrow in enumerate(ladder.arrows):
        a, b = sorted((arrow.src, arrow.dst))
        previous = rows[-1]
        prev_a, prev_b = previous.span
        if compact and a != b and previous.borrowable and (b <= prev_a or a >= prev_b):
            label_row, label_index = previous, len(rows) - 1
            previous.borrowable = False
        else:
            label_row, label_index = layout.lifelines(), len(rows)
            rows.append(label_row)
        layout.put_label(label_row, index)
        rows.append(layout.shaft(index))
        spans.append((label_index, len(rows) - 1))
    rows.append(layout.lifelines())

    lines = layout.head_lines()
    first_row = len(lines)
    lines += [row.text() for row in rows]
    lines += layout.tail_lines()
    return lines, [(first_row + label, first_row + shaft) for label, shaft in spans]


class TextLines(Sequence[str]):
    """``render_text_lines`` without ``compact``, each line drawn when it is first asked for:
    a viewer showing a screenful of a ladder of thousands of arrows lays the ladder out once
    (all its labels set the columns) but draws ~40 of its lines. Every arrow is then two lines,
    its label and its shaft, so where each arrow stands is known without drawing it."""

    def __init__(self, ladder: Ladder, *, time: bool = False, sdp: bool = False, clock: bool = False,
                 title: bool = True) -> None:
        """``title`` off: without the title and the blank line under it (a viewer shows it apart)."""
        self._layout = _Layout(ladder, time=time, sdp=sdp, clock=clock)
        self._head = self._layout.head_lines() if title else []
        self._tail = self._layout.tail_lines()
        self._arrows = len(ladder.arrows)
        self._drawn: dict[int, str] = {}
        first = len(self._head) + 2  # the header and the first lifelines row
        self.arrow_lines = [(first + 2 * i, first + 2 * i + 1) for i in range(self._arrows)]

    def __len__(self) -> int:
        return len(self._head) + 2 + 2 * self._arrows + 1 + len(self._tail)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError(index)
        line = self._drawn.get(index)
        if line is None:
            line = self._drawn[index] = self.draw_line(index)
        return line

    def draw_line(self, index: int) -> str:
        """Line ``index`` (0 <= index < len), drawn once: ``__getitem__`` keeps it. A viewer's
        subclass may add to it (the TUI cleans each line for the terminal)."""
        layout, head = self._layout, len(self._head)
        if index < head:
            return self._head[index]
        row = index - head
        if row == 0:
            return layout.header().text()
        body = row - 2  # the rows of the arrows, two each
        if row == 1 or body == 2 * self._arrows:
            return layout.lifelines().text()
        if body > 2 * self._arrows:
            return self._tail[body - 2 * self._arrows - 1]
        arrow, shaft = divmod(body, 2)
        if shaft:
            return layout.shaft(arrow).text()
        label = layout.lifelines()
        layout.put_label(label, arrow)
        return label.text()

    def widest(self) -> int:
        """The longest line's length, drawing only the rows that may reach past the last
        lifeline: those of arrows with marks, or from the last node to itself."""
        layout = self._layout
        last = len(layout.positions) - 1
        lengths = [len(line) for line in self._head + self._tail]
        lengths += [len(layout.header().text()), len(layout.lifelines().text())]
        for arrow, (label, shaft) in zip(layout.ladder.arrows, self.arrow_lines):
            if arrow.marks or arrow.src == arrow.dst == last:
                lengths += [len(self[label]), len(self[shaft])]
        return max(lengths)


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
