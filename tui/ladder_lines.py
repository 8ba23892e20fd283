"""The text renderer's lines for a ladder, and which lines draw which arrow.

The TUI never lays a ladder out itself: it takes the lines ``ladder.draw.text`` produces (the
same text ``ladder show`` prints) together with the renderer's own record of the lines that draw
each arrow of ``Ladder.arrows`` (``render_text_lines``), which the cursor moves between.
"""

from __future__ import annotations

from dataclasses import dataclass

from ladder.draw.diagram import Ladder
from ladder.draw.text import render_text_lines
from tui.safe_text import clean


@dataclass(frozen=True, slots=True)
class LadderLines:
    lines: tuple[str, ...]
    # One (first, last) inclusive line range per arrow, in ``Ladder.arrows`` order.
    arrow_lines: tuple[tuple[int, int], ...]
    # The first lines (column names and their lifelines) stay on screen however far the ladder
    # scrolls, as sngrep keeps its column header.
    header: int = 0


HEADER_LINES = 2  # the names row and the first lifelines row


def ladder_lines(ladder: Ladder, *, time: bool = False, compact: bool = False, sdp: bool = True,
                 clock: bool = True) -> LadderLines:
    """Lines (cleaned for the terminal) and the arrow -> lines mapping for ``ladder``, without the
    title (the screen shows it above the ladder): sngrep's "(SDP)" marks, and with ``time`` its
    wall-clock time and delta column unless ``clock`` is off."""
    lines, ranges = render_text_lines(ladder, time=time, compact=compact, sdp=sdp, clock=clock)
    skip = 2 if ladder.title else 0  # the title and the blank line under it
    return LadderLines(tuple(clean(line) for line in lines[skip:]),
                       tuple((first - skip, last - skip) for first, last in ranges),
                       header=min(HEADER_LINES, max(len(lines) - skip, 0)))
