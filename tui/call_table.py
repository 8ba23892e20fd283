"""The call list as a virtual table (Textual's Line API): only the rows on screen are drawn.

Textual's DataTable builds and measures every cell of every row on the UI thread; with
thousands of calls arriving while a capture loads that froze keys for hundreds of ms (see
BENCHMARKS.md). Here a row is only a key in a list: adding N rows appends N keys. A line on
screen asks the owner for its row's cells (``cells(key)``) and is kept as a rendered Strip until
the owner says the row changed (``forget``), its style changes (zebra, cursor, focus) or the
columns change. Column widths are fixed by the owner, so nothing is ever measured here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

CELL_PADDING = 1  # blank cells on each side of a column, as DataTable draws them
HEADER_LINES = 1
MAX_CACHED_ROWS = 4096  # rendered rows kept; a screenful is ~40, scrolling a long list adds up
SIDEWAYS_STEP = 4


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str  # written by us (never capture text)
    width: int  # cells of content, padding not included


def fit_cell(cell: Text, width: int) -> Text:
    """``cell`` cut (with an ellipsis) or padded to exactly ``width`` cells, on the side its
    ``justify`` says (numbers right-aligned)."""
    text = cell.copy()
    text.truncate(width, overflow="ellipsis")
    room = width - text.cell_len
    if room > 0:
        if cell.justify == "right":
            text.pad_left(room)
        else:
            text.pad_right(room)
    return text


@dataclass(frozen=True, slots=True)
class _Look:
    """What one repaint draws with: the content width and the resolved styles."""

    width: int
    base: Style
    header: Style
    even: Style
    odd: Style
    cursor: Style


class CallTable(ScrollView, can_focus=True):
    """Rows of cells with a header, zebra stripes and a row cursor; Enter selects the row."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Ladder", show=True),
        Binding("up,k", "cursor_up", "Cursor up", show=False),
        Binding("down,j", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first_row", "First call", show=False),
        Binding("end,ctrl+end", "last_row", "Last call", show=False),
        Binding("left", "scroll_sideways(-1)", "Scroll left", show=False),
        Binding("right", "scroll_sideways(1)", "Scroll right", show=False),
    ]
    COMPONENT_CLASSES = {"call-table--header", "call-table--even-row", "call-table--odd-row",
                         "call-table--cursor"}
    # The DataTable look the call list had, so the screen reads the same.
    DEFAULT_CSS = """
    CallTable { background: $surface; color: $foreground; }
    CallTable > .call-table--header { text-style: bold; background: $panel; color: $foreground; }
    CallTable:ansi > .call-table--header { background: ansi_bright_blue; color: ansi_default; }
    CallTable > .call-table--even-row { background: $surface-lighten-1 50%; }
    CallTable:dark > .call-table--even-row { background: $surface-darken-1 40%; }
    CallTable > .call-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    CallTable:focus > .call-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """

    class RowSelected(Message):
        """Enter on a row, or a click on the row under the cursor."""

        def __init__(self, table: CallTable, key: str, row: int) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.row = row

        @property
        def control(self) -> CallTable:
            return self.table

    class HeaderSelected(Message):
        """A click on a column's label."""

        def __init__(self, table: CallTable, column_key: str) -> None:
            super().__init__()
            self.table = table
            self.column_key = column_key

        @property
        def control(self) -> CallTable:
            return self.table

    def __init__(self, cells: Callable[[str], Sequence[Text]], *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cells = cells
        self._columns: tuple[Column, ...] = ()
        self._row_width = 0
        self._keys: list[str] = []
        self.cursor_row = 0
        self._look: _Look | None = None
        # key -> {(row style, style over the cells): the whole row rendered}; a few per row at most
        self._strips: dict[str, dict[tuple[Style, Style | None], Strip]] = {}

    # --- public API -----------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def row_keys(self) -> Sequence[str]:
        """The keys of the rows, in the order shown (a view: do not modify)."""
        return self._keys

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self.cursor_row] if self._keys else None

    def cells_at(self, row: int) -> Sequence[Text]:
        """The cells of row ``row`` as the owner gives them (what the line shows, before fitting)."""
        return self._cells(self._keys[row])

    def set_columns(self, columns: Iterable[Column]) -> None:
        columns = tuple(columns)
        if columns == self._columns:
            return
        self._columns = columns
        self._row_width = sum(column.width + 2 * CELL_PADDING for column in columns)
        self._strips.clear()
        self._resize()

    def set_rows(self, keys: Iterable[str]) -> None:
        """Show these rows, in this order; the cursor stays on its row's key when it is still
        shown. Rendered rows are kept (a sort or filter shows the same rows elsewhere)."""
        current = self.cursor_key
        self._keys = list(keys)
        row = self.cursor_row
        if current is not None:
            try:
                row = self._keys.index(current)
            except ValueError:
                pass
        self._resize()
        self.move_cursor(row)

    def add_rows(self, keys: Iterable[str]) -> None:
        """Append rows: a list append and a new virtual size, nothing per cell."""
        self._keys.extend(keys)
        self._resize()

    def forget(self, keys: Iterable[str] | None = None) -> None:
        """The owner's cells changed for these rows (all rows when None): draw them afresh."""
        if keys is None:
            self._strips.clear()
        else:
            for key in keys:
                self._strips.pop(key, None)
        self.refresh()

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        """Put the cursor on row ``row`` (clamped to the rows there are)."""
        row = min(max(row, 0), max(len(self._keys) - 1, 0))
        self.cursor_row = row
        if scroll:
            self._scroll_to_cursor()
        self.refresh()

    # --- actions --------------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_page_down(self) -> None:
        # The list scrolls by a page and the cursor keeps its place on screen, as in DataTable.
        page = self._page_rows()
        self.scroll_to(y=self.scroll_y + page, animate=False, force=True)
        self.move_cursor(self.cursor_row + page)

    def action_page_up(self) -> None:
        page = self._page_rows()
        self.scroll_to(y=self.scroll_y - page, animate=False, force=True)
        self.move_cursor(self.cursor_row - page)

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(len(self._keys) - 1)

    def action_scroll_sideways(self, direction: int) -> None:
        self.scroll_to(x=self.scroll_x + direction * SIDEWAYS_STEP, animate=False)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key, self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        """A click on a label asks to sort by its column; on a row it moves the cursor there,
        and a click on the row already under the cursor selects it (as DataTable does)."""
        offset = event.get_content_offset(self)
        if offset is None:  # on a scrollbar
            return
        if offset.y < HEADER_LINES:
            column = self.column_at(int(self.scroll_x) + offset.x)
            if column is not None:
                self.post_message(self.HeaderSelected(self, column.key))
            return
        row = int(self.scroll_y) + offset.y - HEADER_LINES
        if row >= len(self._keys):
            return
        event.stop()
        if row == self.cursor_row:
            self.action_select_cursor()
        else:
            self.move_cursor(row)

    def column_at(self, x: int) -> Column | None:
        """The column drawn at virtual x (padding included), or None past the last one."""
        left = 0
        for column in self._columns:
            left += column.width + 2 * CELL_PADDING
            if x < left:
                return column
        return None

    # --- drawing --------------------------------------------------------------------------------

    def _resize(self) -> None:
        self.virtual_size = Size(self._row_width, len(self._keys) + HEADER_LINES)
        self.refresh()

    def _page_rows(self) -> int:
        region = self.scrollable_content_region
        height = region.height
        if not self.show_horizontal_scrollbar and self._row_width > region.width:
            # Rows wider than the table bring a horizontal scrollbar with the next layout; it
            # will take the last line, so a cursor row there would end up under it.
            height -= self.styles.scrollbar_size_horizontal
        return max(height - HEADER_LINES, 1)

    def _scroll_to_cursor(self) -> None:
        # force: rows added in this same turn have no scrollbar yet (it comes with the next
        # layout), and without it Textual refuses to scroll.
        visible = self._page_rows()
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, force=True)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles and width, once per repaint rather than once per line (each look-up walks
        # the widget's ancestors).
        self._look = self._current_look()
        try:
            return super().render_lines(crop)
        finally:
            self._look = None

    def _current_look(self) -> _Look:
        base = self.rich_style
        component = self.get_component_rich_style
        return _Look(
            width=self.scrollable_content_region.width,
            base=base,
            header=base + component("call-table--header"),
            even=base + component("call-table--even-row"),
            odd=base + component("call-table--odd-row"),
            cursor=component("call-table--cursor"),
        )

    def render_line(self, y: int) -> Strip:
        look = self._look or self._current_look()
        scroll_x, scroll_y = self.scroll_offset
        right = scroll_x + look.width
        if y < HEADER_LINES:
            return self._header_strip(look.header).crop_extend(scroll_x, right, look.header)
        row = scroll_y + y - HEADER_LINES
        if row >= len(self._keys):
            return Strip.blank(look.width, look.base)
        if row == self.cursor_row:
            # The cursor's colours go over the cells' own (a red count must not vanish on it).
            strip = self._row_strip(self._keys[row], look.base, look.cursor)
            return strip.crop_extend(scroll_x, right, look.base + look.cursor)
        style = look.even if row % 2 == 0 else look.odd
        return self._row_strip(self._keys[row], style).crop_extend(scroll_x, right, style)

    def _header_strip(self, style: Style) -> Strip:
        labels = [Text(column.label) for column in self._columns]
        return self._strip(labels, style)

    def _row_strip(self, key: str, style: Style, over: Style | None = None) -> Strip:
        rendered = self._strips.get(key)
        if rendered is None:
            if len(self._strips) >= MAX_CACHED_ROWS:
                self._strips.clear()
            rendered = self._strips[key] = {}
        strip = rendered.get((style, over))
        if strip is None:
            strip = rendered[(style, over)] = self._strip(self._cells(key), style, over)
        return strip

    def _strip(self, cells: Sequence[Text], style: Style, over: Style | None = None) -> Strip:
        console = self.app.console
        pad = Segment(" " * CELL_PADDING)
        segments: list[Segment] = []
        for column, cell in zip(self._columns, cells):
            segments.append(pad)
            fitted = fit_cell(cell, column.width)
            if fitted.spans:
                segments.extend(fitted.render(console))
            else:  # Text.render drops the Text's own style when it has no spans
                segments.append(Segment(fitted.plain, console.get_style(fitted.style, default=Style.null())))
            segments.append(pad)
        # The row's style under each cell's own (a red outcome stays red on a zebra stripe),
        # ``over`` on top of both.
        return Strip(Segment.apply_style(segments, style, over), self._row_width)
