"""The text renderer's lines for a ladder, and which lines draw which arrow.

The TUI never lays a ladder out itself: it takes the lines ``ladder.draw.text`` produces (the
same text ``ladder show`` prints) together with the renderer's own record of the lines that draw
each arrow of ``Ladder.arrows`` (``render_text_lines``), which the cursor moves between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ladder.draw.diagram import Ladder
from ladder.draw.text import TextLines, render_text_lines
from tui.safe_text import clean


@dataclass(frozen=True, slots=True)
class LadderLines:
    lines: Sequence[str]
    # One (first, last) inclusive line range per arrow, in ``Ladder.arrows`` order.
    arrow_lines: tuple[tuple[int, int], ...]
    # The first lines (column names and their lifelines) stay on screen however far the ladder
    # scrolls, as sngrep keeps its column header.
    header: int = 0
    width: int = 0  # the longest line's length, at least (how far the view scrolls sideways)


HEADER_LINES = 2  # the names row and the first lifelines row


class ShownLines(TextLines):
    """The renderer's lines, each drawn and cleaned for the terminal when the view first paints
    it: opening a call of 20,000 messages drew 40,000 lines to show 40."""

    def draw_line(self, index: int) -> str:
        return clean(super().draw_line(index))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def ladder_lines(ladder: Ladder, *, time: bool = False, compact: bool = False, sdp: bool = True,
                 clock: bool = True) -> LadderLines:
    """Lines (cleaned for the terminal) and the arrow -> lines mapping for ``ladder``, without the
    title (the screen shows it above the ladder): sngrep's "(SDP)" marks, and with ``time`` its
    wall-clock time and delta column unless ``clock`` is off. Without ``compact`` (the TUI's
    ladder) each line is drawn when first shown."""
    if not compact:
        drawn = ShownLines(ladder, time=time, sdp=sdp, clock=clock, title=False)
        return LadderLines(drawn, tuple(drawn.arrow_lines), header=min(HEADER_LINES, len(drawn)),
                           width=drawn.widest())
    lines, ranges = render_text_lines(ladder, time=time, compact=compact, sdp=sdp, clock=clock)
    skip = 2 if ladder.title else 0  # the title and the blank line under it
    shown = tuple(clean(line) for line in lines[skip:])
    return LadderLines(shown, tuple((first - skip, last - skip) for first, last in ranges),
                       header=min(HEADER_LINES, len(shown)), width=max((len(line) for line in shown), default=0))
