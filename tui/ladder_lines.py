"""The text renderer's lines for a ladder, and which lines draw which arrow.

The TUI never lays a ladder out itself: it takes the lines ``ladder.render_text`` produces (the
same bytes ``ladder show`` prints) and only needs to know, for the cursor, which lines belong to
each arrow of ``Ladder.arrows``. When the renderer reports that mapping itself
(``render_text_lines``), it is used as is; otherwise it follows from the rows ``render_text``
documents (a label row and an arrow row per arrow), checked against the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ladder.diagram import Ladder
from tui.safe_text import clean


@dataclass(frozen=True, slots=True)
class LadderLines:
    lines: tuple[str, ...]
    # One (first, last) inclusive line range per arrow, in ``Ladder.arrows`` order.
    arrow_lines: tuple[tuple[int, int], ...]


class LadderLinesError(ValueError):
    """The rendered text does not have the rows the renderer documents (renderer and TUI disagree)."""


# An arrow row: a shaft of '-' or '=' with a head, or a node's arrow to itself ("<--'").
_SHAFT = re.compile(r"[-=]{2,}>|<[-=]{2,}|<--'")


def map_arrow_lines(lines: list[str], arrow_count: int, *, titled: bool) -> tuple[tuple[int, int], ...]:
    """Line ranges of ``arrow_count`` arrows in ``render_text`` output (not compact).

    ``render_text`` documents its rows: the title and a blank line (when the ladder has a
    title), the participants' names, one lifeline row, then per arrow a label row and an arrow
    row. Only the arrow rows' shafts are checked, so a label that itself looks like an arrow
    (capture text is untrusted) cannot shift the mapping.
    """
    first = (2 if titled else 0) + 2
    ranges = tuple((first + 2 * i, first + 2 * i + 1) for i in range(arrow_count))
    for label_row, arrow_row in ranges:
        if arrow_row >= len(lines) or not _SHAFT.search(lines[arrow_row]):
            raise LadderLinesError(f"line {arrow_row + 1} is not an arrow row of the rendered ladder")
    return ranges


def ladder_lines(ladder: Ladder, *, time: bool = False) -> LadderLines:
    """Lines (cleaned for the terminal) and the arrow -> lines mapping for ``ladder``."""
    from ladder import render_text as _render_text

    with_mapping = getattr(_render_text, "render_text_lines", None)
    if with_mapping is not None:
        lines, ranges = with_mapping(ladder, time=time)
        return LadderLines(tuple(clean(l) for l in lines), tuple((int(a), int(b)) for a, b in ranges))
    text = _render_text.render_text(ladder, time=time)
    lines = [clean(line) for line in text.rstrip("\n").split("\n")]
    return LadderLines(tuple(lines), map_arrow_lines(lines, len(ladder.arrows), titled=bool(ladder.title)))
