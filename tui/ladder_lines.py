"""The text renderer's lines for a ladder, and which lines draw which arrow.

The TUI never lays a ladder out itself: it takes the lines ``ladder.render_text`` produces (the
same text ``ladder show`` prints) together with the renderer's own record of the lines that draw
each arrow of ``Ladder.arrows`` (``render_text_lines``), which the cursor moves between.
"""

from __future__ import annotations

from dataclasses import dataclass

from ladder.diagram import Ladder
from ladder.render_text import render_text_lines
from tui.safe_text import clean


@dataclass(frozen=True, slots=True)
class LadderLines:
    lines: tuple[str, ...]
    # One (first, last) inclusive line range per arrow, in ``Ladder.arrows`` order.
    arrow_lines: tuple[tuple[int, int], ...]


def ladder_lines(ladder: Ladder, *, time: bool = False, compact: bool = False) -> LadderLines:
    """Lines (cleaned for the terminal) and the arrow -> lines mapping for ``ladder``."""
    lines, ranges = render_text_lines(ladder, time=time, compact=compact)
    return LadderLines(tuple(clean(line) for line in lines), tuple(ranges))
