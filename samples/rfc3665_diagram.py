"""RFC 3665's ladder diagrams as data: the column names, every arrow (F-number, label, from
and to column) and every media bar (``<====>``), read from the figure's characters.

Part of ``samples/build_samples.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rfc3665_text import BuildError, Section

ARROW = re.compile(r"<?-{3,}>?")
MEDIA = re.compile(r"<=+>")
F_LABEL = re.compile(r"\bF(\d+)\b")


@dataclass(frozen=True, slots=True)
class DiagramArrow:
    """An arrow: F-number, label (method or status code), columns it goes from and to, the
    figure row it is drawn on, and whether the RFC prints it in parentheses (optional)."""

    f: int
    label: str
    src: int
    dst: int
    line: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class MediaBar:
    """A ``<====>`` bar between two columns, on figure row ``line``."""

    src: int
    dst: int
    line: int


@dataclass(frozen=True, slots=True)
class Diagram:
    """Column names left to right, arrows in F order, media bars top to bottom."""

    columns: list[str]
    arrows: list[DiagramArrow]
    media: list[MediaBar]


def diagram_lines(section: Section) -> list[str]:
    """The column-name line and the ``|`` lines under it."""
    lines = section.lines
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    block = [lines[index]]
    for line in lines[index + 1 :]:
        if "|" not in line:
            break
        block.append(line)
    if len(block) < 3:
        raise BuildError(f"§{section.number}: no ladder diagram under the heading")
    return block


def parse_diagram(section: Section) -> Diagram:
    block = diagram_lines(section)
    names_line, rows = block[0], block[1:]
    # A column's bar is at the same x on every row (some rows skip a bar that an arrow or a
    # label passes over, §3.7 has no row with all of them), so take every x that holds one.
    bars = sorted({i for row in rows for i, ch in enumerate(row) if ch == "|"})
    names = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", names_line)]
    if len(names) != len(bars):
        raise BuildError(f"§{section.number}: {len(names)} column names for {len(bars)} bars")
    # Each name sits over its bar; the i-th name is the i-th column.
    columns = [name for _, name in names]

    def column_at(x: int) -> int:
        best = min(range(len(bars)), key=lambda c: abs(bars[c] - x))
        if abs(bars[best] - x) > 1:
            raise BuildError(f"§{section.number}: an arrow ends at x={x}, between columns")
        return best

    arrows_by_line: dict[int, list[tuple[int, int, int, int]]] = {}
    media: list[MediaBar] = []
    for number, row in enumerate(rows):
        for match in ARROW.finditer(row):
            left, right = column_at(match.start() - 1), column_at(match.end())
            text = match.group(0)
            if text.endswith(">") == text.startswith("<"):
                raise BuildError(f"§{section.number}: arrow without one direction: {row.strip()}")
            src, dst = (left, right) if text.endswith(">") else (right, left)
            arrows_by_line.setdefault(number, []).append((match.start(), match.end(), src, dst))
        for match in MEDIA.finditer(row):
            media.append(MediaBar(column_at(match.start() - 1), column_at(match.end()), number))

    claimed: set[tuple[int, int]] = set()
    arrows: list[DiagramArrow] = []
    for number, row in enumerate(rows):
        stripped_of_arrows = ARROW.sub(lambda m: " " * len(m.group(0)), row)
        for match in F_LABEL.finditer(stripped_of_arrows):
            x = match.start()
            left_bar = stripped_of_arrows.rfind("|", 0, x)
            right_bar = stripped_of_arrows.find("|", x)
            segment = stripped_of_arrows[left_bar + 1 : right_bar if right_bar != -1 else None]
            words = segment.replace(match.group(0), " ").split()
            if not words:
                raise BuildError(f"§{section.number}: F{match.group(1)} has no label")
            optional = words[0].startswith("(")
            label = words[0].strip("()")
            target = _arrow_under(arrows_by_line, claimed, number, x)
            if target is None:
                raise BuildError(f"§{section.number}: no arrow under the label F{match.group(1)}")
            claimed.add(target[:2])
            src, dst = target[2]
            arrows.append(DiagramArrow(int(match.group(1)), label, src, dst, target[0], optional))
    arrows.sort(key=lambda a: a.f)
    every = sum(len(v) for v in arrows_by_line.values())
    if len(claimed) != every:
        raise BuildError(f"§{section.number}: {every - len(claimed)} arrows without an F-number label")
    if [a.f for a in arrows] != list(range(1, len(arrows) + 1)):
        raise BuildError(f"§{section.number}: F-numbers are not 1..n: {[a.f for a in arrows]}")
    return Diagram(columns, arrows, media)


def _arrow_under(arrows_by_line, claimed, label_line: int, x: int):
    """The arrow a label names: on the next line or two, the one under the label; when the
    label is wider than its arrow (``407 Proxy Authorization Required F2``), the nearest one
    on the first line below that has a free arrow."""
    fallback = None
    for line in range(label_line + 1, label_line + 4):
        free = [a for a in arrows_by_line.get(line, []) if (line, a[0]) not in claimed]
        for start, end, src, dst in free:
            if start - 1 <= x <= end:
                return (line, start, (src, dst))
        if free and fallback is None:
            start, end, src, dst = min(free, key=lambda a: min(abs(a[0] - x), abs(a[1] - x)))
            fallback = (line, start, (src, dst))
    return fallback
