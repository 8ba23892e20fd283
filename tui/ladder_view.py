"""The ladder drawn with Textual's Line API: only the visible lines are rendered, so a ladder of
thousands of arrows scrolls as fast as a short one, and wide ladders scroll sideways.

The lines come from the text renderer (see ``tui.ladder_lines``); this widget adds only what a
terminal can do and a text file cannot: a cursor that moves from arrow to arrow, and styles for
retransmissions, deviations and media bars.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.ladder_lines import LadderLines

MEDIA_STYLE = Style(color="blue", bold=True)
RETRANSMISSION_STYLE = Style(color="yellow")
DEVIATION_STYLE = Style(color="red", bold=True)


class LadderView(ScrollView, can_focus=True):
    """Lines of one ladder with an arrow cursor (↑/↓, j/k)."""

    BINDINGS = [
        Binding("down,j", "cursor(1)", "Next arrow", show=False),
        Binding("up,k", "cursor(-1)", "Previous arrow", show=False),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False),
        Binding("home,g", "cursor_to(0)", "First arrow", show=False),
        Binding("end,G", "cursor_to(-1)", "Last arrow", show=False),
        Binding("left,h", "scroll_sideways(-4)", "Scroll left", show=False),
        Binding("right,l", "scroll_sideways(4)", "Scroll right", show=False),
    ]
    COMPONENT_CLASSES = {"ladder-view--cursor"}
    DEFAULT_CSS = """
    LadderView { background: $surface; }
    LadderView > .ladder-view--cursor { background: $accent 40%; text-style: bold; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    class ArrowSelected(Message):
        """The cursor is on arrow ``index`` (an index into ``Ladder.arrows``)."""

        def __init__(self, view: "LadderView", index: int) -> None:
            super().__init__()
            self.view = view
            self.index = index

        @property
        def control(self) -> "LadderView":
            return self.view

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self._lines = LadderLines(lines=(), arrow_lines=())
        self._line_styles: list[Style | None] = []
        self._cursor_lines = range(0)

    @property
    def lines(self) -> LadderLines:
        return self._lines

    @property
    def arrow_count(self) -> int:
        return len(self._lines.arrow_lines)

    def set_lines(self, lines: LadderLines, arrow_styles: list[Style | None], *, cursor: int = 0) -> None:
        """Show new lines (``arrow_styles`` has one style or None per arrow)."""
        self._lines = lines
        styles: list[Style | None] = [None] * len(lines.lines)
        for (first, last), style in zip(lines.arrow_lines, arrow_styles):
            for y in range(first, last + 1):
                styles[y] = style
        self._line_styles = styles
        self.virtual_size = Size(lines.width, len(lines.lines))
        self.cursor = min(max(cursor, 0), max(self.arrow_count - 1, 0))
        self.refresh()

    def watch_cursor(self, index: int) -> None:
        if not self.arrow_count:
            self._cursor_lines = range(0)
            return
        first, last = self._lines.arrow_lines[index]
        self._cursor_lines = range(first, last + 1)
        self.show_cursor()
        self.refresh()
        self.post_message(self.ArrowSelected(self, index))

    def show_cursor(self) -> None:
        """Scroll just enough that the whole cursor arrow (label and shaft) is below the fixed
        header, keeping the horizontal position."""
        if not self.arrow_count or self.size.height <= 0:
            return
        first, last = self._lines.arrow_lines[min(self.cursor, self.arrow_count - 1)]
        header = self._lines.header
        top = int(self.scroll_y)
        if first < top + header:
            top = first - header
        elif last > top + self.size.height - 1:
            top = last - self.size.height + 1
        if top != int(self.scroll_y):
            self.scroll_to(y=max(top, 0), animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        # A new height moves the window, not the cursor: bring the cursor's arrow back into it.
        self.call_after_refresh(self.show_cursor)

    def action_cursor(self, step: int) -> None:
        if self.arrow_count:
            self.cursor = min(max(self.cursor + step, 0), self.arrow_count - 1)

    def action_cursor_page(self, direction: int) -> None:
        if not self.arrow_count:
            return
        # Move by about a screenful of lines (arrows are two or three lines tall).
        starts = [first for first, _last in self._lines.arrow_lines]
        target_y = starts[self.cursor] + direction * max(self.size.height - 2, 1)
        if direction > 0:
            later = [i for i, first in enumerate(starts) if first <= target_y]
            self.cursor = max(later[-1], min(self.cursor + 1, self.arrow_count - 1))
        else:
            earlier = [i for i, first in enumerate(starts) if first >= target_y]
            self.cursor = min(earlier[0], max(self.cursor - 1, 0))

    def action_cursor_to(self, index: int) -> None:
        if self.arrow_count:
            self.cursor = index % self.arrow_count

    def action_scroll_sideways(self, cells: int) -> None:
        self.scroll_to(x=self.scroll_x + cells, animate=False)

    def on_click(self, event: events.Click) -> None:
        """A click on an arrow (its label or its shaft) puts the cursor there."""
        if event.y < self._lines.header:
            return  # the fixed header
        line = int(self.scroll_y) + event.y
        for index, (first, last) in enumerate(self._lines.arrow_lines):
            if first <= line <= last:
                self.cursor = index
                return

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line_no = y if y < self._lines.header else scroll_y + y
        width = self.size.width
        if line_no >= len(self._lines.lines):
            return Strip.blank(width, self.rich_style)
        style = self.rich_style
        extra = self._line_styles[line_no]
        if extra is not None:
            style = style + extra
        if line_no in self._cursor_lines:
            style = style + self.get_component_rich_style("ladder-view--cursor")
        strip = Strip([Segment(self._lines.lines[line_no], style)])
        return strip.crop_extend(scroll_x, scroll_x + width, style)
