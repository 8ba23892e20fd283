"""The first screen: loading progress, the filter box, and tabs for calls, RTP streams and
diagnostics — the view sngrep users start from."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import filterfalse
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, ProgressBar, Static, TabbedContent, TabPane

from tui.call_filter import CallFilter, FilterError, parse_filter
from tui.call_rows import CallRow, format_deviations, format_duration, format_start, sort_rows, start_date
from tui.call_table import CallTable, Column
from tui.loading import ProgressFigures
from tui.panes import ListedCapture, fill_diagnostics_table, fill_streams_table
from tui.safe_text import safe_rich_text
from tui.settings import load_columns, save_columns
from tui.steady_footer import SteadyFooter
from tui.app_screen import AppScreen

if TYPE_CHECKING:
    from ladder.media.streams import StreamKey


# (key, label) — sngrep's columns first, then ours; F10 chooses which are shown (tui.settings).
CALL_COLUMNS = (
    ("index", "#"),
    ("start", "Start (UTC)"),
    ("method", "Method"),
    ("from", "From"),
    ("to", "To"),
    ("messages", "Msgs"),
    ("src", "Source"),
    ("dst", "Destination"),
    ("state", "State"),
    ("outcome", "Outcome"),
    ("duration", "Span"),
    ("reference", "Reference"),
    ("deviations", "Dev"),
)
MAX_PARTY_WIDTH = 26  # From/To wider than this are cut in the list (the ladder shows them whole)
MAX_METHOD_WIDTH = 12
NS_PER_DAY = 86_400 * 1_000_000_000
NS_PER_HOUR = 3_600 * 1_000_000_000
FILTER_HINT = "Filter: text  /regex/  from:  to:  callid:  method:INVITE  outcome:busy  has:deviations"
SORTABLE = [key for key, _label in CALL_COLUMNS]
OUTCOME_STYLES = {"completed": "green", "in call": "green", "registered": "green", "accepted": "green",
                  "setup": "cyan", "ringing": "cyan", "partial": "cyan"}
STATE_STYLES = {"COMPLETED": "green", "IN CALL": "bold green", "CALL SETUP": "cyan", "CANCELLED": "yellow",
                "BUSY": "yellow", "DIVERTED": "cyan", "REJECTED": "red"}
COLUMN_KEYS = [key for key, _label in CALL_COLUMNS]


def _widest(values: Iterable[str]) -> int:
    """Terminal cells of the widest clean one-line string (ASCII, the usual case, is measured by
    ``len`` in C; only the others go through Rich's cell table)."""
    values = list(values)
    widest = max(map(len, values), default=0)
    return max(widest, max(map(cell_len, filterfalse(str.isascii, values)), default=0))


def _outcome_text(outcome: str) -> Text:
    style = OUTCOME_STYLES.get(outcome, "yellow" if outcome.startswith(("cancelled", "redirected")) else "red")
    return Text(outcome, style=style if outcome else "")


def index_cell(row: CallRow, selected: bool) -> Text:
    """The call number, with sngrep's selection mark in front of it."""
    cell = Text(justify="right")
    cell.append("● " if selected else "  ", style="bold magenta")
    cell.append(str(row.index))
    return cell


def row_cells(row: CallRow, selected: bool, *, checking: bool = False, date: bool = True) -> list[Any]:
    deviations = Text(format_deviations(row.deviations, pending=checking),
                      style="bold red" if (row.deviations or 0) > 0 else "", justify="right")
    return [
        index_cell(row, selected),
        Text(format_start(row.start_ns, date=date)),
        safe_rich_text(row.method, "bold"),
        safe_rich_text(row.caller),
        safe_rich_text(row.callee),
        Text(str(row.messages), justify="right"),
        Text(row.src),
        Text(row.dst),
        Text(row.state, style=STATE_STYLES.get(row.state, "")),
        _outcome_text(row.outcome),
        Text(format_duration(row.duration_ns), justify="right"),
        safe_rich_text(row.reference or "-"),
        deviations,
    ]


class MeasuredRows(list[CallRow]):
    """The finished list's rows, measured as they are built (a batch per event-loop turn), so
    that showing 150,000 rows does not measure them all in one turn."""

    def __init__(self, screen: "CallListScreen") -> None:
        super().__init__()
        self.screen = screen
        self.by_key: dict[str, CallRow] = {}
        self.widths = dict(screen._label_widths())
        self.days: set[int] = set()

    def add(self, rows: list[CallRow]) -> None:
        self.extend(rows)
        for row in rows:
            self.by_key[row.key] = row
        self.screen._widen(rows, self.widths, self.days)


class CallListScreen(AppScreen):
    """Calls, streams and diagnostics of the capture."""

    # Focus goes straight to the list: focusing the filter box first and then the list made the
    # footer rebuild twice while the app starts (and the loader thread starts with it).
    AUTO_FOCUS = "#calls"
    BINDINGS = [
        Binding("space", "toggle_select", "Select", show=True),
        Binding("f4,x", "extended", "Extended flow", show=True),
        Binding("f2,s", "save", "Save", show=True),
        Binding("f7,slash", "focus_filter", "Filter", show=True),
        Binding("o", "sort_next", "Sort", show=True),
        Binding("f10,C", "choose_columns", "Columns", show=True),
        Binding("O", "sort_reverse", "Reverse", show=False),
        Binding("1", "tab('tab-calls')", "Calls", show=False),
        Binding("2", "tab('tab-streams')", "Streams", show=False),
        Binding("3", "tab('tab-diagnostics')", "Diagnostics", show=False),
        Binding("escape", "leave_filter", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, CallRow] = {}
        self.selected: set[str] = set()
        self.call_filter: CallFilter = parse_filter("")
        self.sort_column = "index"
        self.sort_reverse = False
        self.shown: list[CallRow] = []
        # (the shown list, its length, key -> position in it): made again only when the list is
        # another or grew, not for each batch of check results (150,000 calls: 0.3 s a batch).
        self._positions_of: tuple[list[CallRow], int, dict[str, int]] | None = None
        self.checking = True  # the app clears it when the checker is done (or absent)
        self.capture: "ListedCapture | None" = None
        self._filled: set[str] = set()
        self._cells: dict[str, tuple[CallRow, bool, list[Any]]] = {}
        self._widths = self._label_widths()  # widest cell of each column so far (uncapped)
        self._days: set[int] = set()  # UTC days the calls start on
        self.stream_problems: dict[StreamKey, tuple[str, ...]] = {}  # RtpStream.key -> problem codes
        self.stream_calls: dict[StreamKey, int] = {}  # RtpStream.key -> call number
        self._dates = True  # whether the start column shows dates (several dates in the capture)
        self.shown_columns = load_columns(COLUMN_KEYS) or list(COLUMN_KEYS)
        self._positions = [COLUMN_KEYS.index(key) for key in self.shown_columns]
        self.table = CallTable(self._shown_cells, id="calls")

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="load-status"):
            yield ProgressBar(id="load-progress", show_eta=False)
            yield Static("Loading…", id="load-label")
        yield Static("", id="load-error")
        yield Input(id="filter", placeholder=FILTER_HINT)
        with TabbedContent(id="tabs", initial="tab-calls"):
            with TabPane("Calls", id="tab-calls"):
                yield self.table
            with TabPane("RTP streams", id="tab-streams"):
                yield DataTable(id="streams", cursor_type="row", zebra_stripes=True)
            with TabPane("Diagnostics", id="tab-diagnostics"):
                yield Static("", id="capture-errors")
                yield DataTable(id="diagnostics", cursor_type="row", zebra_stripes=True)
        yield SteadyFooter()

    def on_mount(self) -> None:
        self._update_columns()
        self.query_one("#load-error", Static).display = False

    # --- loading -------------------------------------------------------------------------------

    def show_progress(self, figures: ProgressFigures) -> None:
        bar = self.query_one("#load-progress", ProgressBar)
        if figures.total_bytes:
            bar.update(total=figures.total_bytes, progress=min(figures.bytes_read, figures.total_bytes))
        self.query_one("#load-label", Static).update(Text(
            f"{figures.packets:,} packets · {figures.bytes_read / 1e6:,.1f} MB"
            + (f" of {figures.total_bytes / 1e6:,.1f} MB" if figures.total_bytes else "")
            + f" · {figures.sip_messages:,} SIP messages · {figures.call_ids:,} calls (Call-IDs) found"))

    def show_calls_made(self, made: int, call_ids: int) -> None:
        """After the read of a busy capture: the calls made so far, which the bar now follows."""
        bar = self.query_one("#load-progress", ProgressBar)
        bar.update(total=max(call_ids, 1), progress=min(made, call_ids))
        self.query_one("#load-label", Static).update(Text(
            f"read · making the calls (transactions, dialogs, legs): {made:,} made of "
            f"{call_ids:,} Call-IDs"))

    def show_loaded(self, capture: "ListedCapture", rows: list[CallRow]) -> None:
        bar = self.query_one("#load-progress", ProgressBar)
        bar.update(total=max(capture.file_size, 1), progress=max(capture.file_size, 1))
        streams = len(capture.streams)
        diagnostics = sum(capture.diagnostics.values())
        self.query_one("#load-label", Static).update(Text(
            f"{capture.frames:,} packets · {capture.file_size / 1e6:,.1f} MB · "
            f"{len(rows):,} {'call' if len(rows) == 1 else 'calls'} · "
            f"{streams:,} RTP streams · {diagnostics:,} diagnostics"))
        self.set_rows(rows)
        self.capture = capture
        self._fill_tab(self.query_one("#tabs", TabbedContent).active)
        errors = self.query_one("#capture-errors", Static)
        errors.update(Text("\n".join(capture.errors), style="bold red") if capture.errors
                      else Text("No file-level errors.", style="green"))
        if capture.errors:
            self.show_error("; ".join(capture.errors))

    def _fill_tab(self, tab: str) -> None:
        """Streams and diagnostics tables are filled when first shown: a capture with thousands
        of streams should not delay its call list."""
        if self.capture is None or tab in self._filled:
            return
        if tab == "tab-streams":
            fill_streams_table(self.query_one("#streams", DataTable), self.capture.streams,
                               self.stream_problems, self.stream_calls)
        elif tab == "tab-diagnostics":
            fill_diagnostics_table(self.query_one("#diagnostics", DataTable), self.capture)
        self._filled.add(tab)

    def show_media(self, stream_calls: "dict[StreamKey, int]", problems: "dict[StreamKey, tuple[str, ...]]") -> None:
        """The streams' calls and problems arrived: the streams table shows them (again)."""
        self.stream_calls = stream_calls
        self.stream_problems = problems
        self._filled.discard("tab-streams")
        if self.query_one("#tabs", TabbedContent).active == "tab-streams":
            self._fill_tab("tab-streams")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._fill_tab(event.pane.id)

    def show_error(self, message: str) -> None:
        error = self.query_one("#load-error", Static)
        error.update(Text(message, style="bold"))
        error.display = True

    def show_failed(self, message: str) -> None:
        self.query_one("#load-label", Static).update(Text("Could not load the capture.", style="bold red"))
        self.show_error(message)

    # --- rows ----------------------------------------------------------------------------------

    def set_rows(self, rows: list[CallRow]) -> None:
        """The whole list (the finished load): every row and width afresh, the cursor on its call.
        ``MeasuredRows`` were measured batch by batch beforehand (a big load's finished list):
        only the sort and the table's key list are left for this turn."""
        if not isinstance(rows, MeasuredRows):
            measured = self.measure_rows()
            measured.add(rows)
            rows = measured
        self.rows = rows.by_key
        self._widths, self._days = rows.widths, rows.days
        self._update_columns()
        self.table.forget()
        self.refresh_table()

    def add_rows_while_loading(self, rows: list[CallRow]) -> None:
        """The calls found so far, while the capture loads: only calls not yet listed are
        appended (a list append for the table: no cell is built or measured until it is on
        screen); the finished load sets every row afresh."""
        new = [row for row in rows if row.key not in self.rows]
        if not new:
            return
        for row in new:
            self.rows[row.key] = row
        self._widen(new)
        self._update_columns()
        listed = self.call_filter.apply(new) if self.call_filter.predicates else new
        last = self.shown[-1].index if self.shown else 0
        in_order = self.sort_column == "index" and not self.sort_reverse
        if in_order and all(row.index > last for row in listed):
            self.shown.extend(listed)  # calls arrive in start order: the usual case
            self.table.add_rows([row.key for row in listed])
        else:
            self.shown = self._sorted(self.shown + listed)
            self.table.set_rows([row.key for row in self.shown])
        self.sub_title = self._subtitle()

    def _cells_of(self, row: CallRow) -> list[Any]:
        """The row's cells, built once per row value, when the row is first drawn."""
        cached = self._cells.get(row.key)
        if cached is None or cached[0] is not row or cached[1] != self.checking:
            cached = (row, self.checking, row_cells(row, False, checking=self.checking, date=self._dates))
            self._cells[row.key] = cached
        return cached[2]

    def _shown_cells(self, key: str) -> list[Any]:
        """What the table draws for a row: its cells, with sngrep's mark when selected."""
        row = self.rows[key]
        cells = self._cells_of(row)
        if key in self.selected:
            cells = [index_cell(row, True), *cells[1:]]
        return [cells[i] for i in self._positions]

    def _label_widths(self) -> dict[str, int]:
        return {key: len(label) for key, label in CALL_COLUMNS}

    def measure_rows(self) -> "MeasuredRows":
        """An empty finished list, to be measured batch by batch and given to ``set_rows``."""
        return MeasuredRows(self)

    def _widen(self, rows: list[CallRow], widths: dict[str, int] | None = None, days: set[int] | None = None) -> None:
        """Grow the widest-cell figures (the list's, or ``widths`` and ``days``) by ``rows``:
        column by column over plain values (no cell built), cheap enough for each partial list's
        new calls."""
        if not rows:
            return
        widths = self._widths if widths is None else widths

        def grow(key: str, width: int) -> None:
            widths[key] = max(widths[key], width)

        (self._days if days is None else days).update(row.start_ns // NS_PER_DAY for row in rows)
        grow("index", 2 + len(str(max(row.index for row in rows))))  # the selection mark comes first
        grow("method", _widest(row.method for row in rows))
        grow("from", _widest(row.caller for row in rows))
        grow("to", _widest(row.callee for row in rows))
        grow("messages", len(str(max(row.messages for row in rows))))
        grow("outcome", _widest(row.outcome for row in rows))
        grow("reference", _widest(row.reference or "-" for row in rows))
        grow("src", _widest(row.src for row in rows))
        grow("dst", _widest(row.dst for row in rows))
        grow("state", _widest(row.state for row in rows))
        counts = [row.deviations for row in rows if row.deviations is not None]
        grow("deviations", len(str(max(counts))) if counts else 1)  # "…" or "-" otherwise
        # The longest duration is not always the widest text: 59:59.999 is wider than 1:00:00.
        durations = [row.duration_ns for row in rows]
        grow("duration", len(format_duration(max(durations))))
        under_an_hour = max((d for d in durations if d < NS_PER_HOUR), default=None)
        if under_an_hour is not None:
            grow("duration", len(format_duration(under_an_hour)))

    def _update_columns(self) -> None:
        """Fixed column widths from the widest cells so far, capped: the table never measures."""
        dates = len(self._days) > 1  # one shared date goes into the header instead
        if dates != self._dates:
            self._dates = dates
            self._cells.clear()  # the start cells change form
        labels = dict(CALL_COLUMNS)
        if not dates and self._days:
            labels["start"] = f"{start_date(next(iter(self._days)) * NS_PER_DAY)} UTC"
        widths = dict(self._widths)
        widths["start"] = max(len(labels["start"]), len(format_start(0, date=dates)))
        widths["from"] = min(widths["from"], MAX_PARTY_WIDTH)
        widths["to"] = min(widths["to"], MAX_PARTY_WIDTH)
        widths["method"] = min(widths["method"], MAX_METHOD_WIDTH)  # fuzzed captures: 4 KB methods
        widths["outcome"] = min(widths["outcome"], MAX_METHOD_WIDTH + 8)
        widths["deviations"] = max(widths["deviations"], 3)
        widths["reference"] = max(widths["reference"], len("rfc3665-3.10"))
        self.table.set_columns(Column(key, labels[key], widths[key]) for key in self.shown_columns)

    def update_rows(self, rows: list[CallRow], *, checking: bool) -> None:
        """Rows whose deviations became known: cells updated in place (cursor and scroll stay)."""
        for row in rows:
            self.rows[row.key] = row
        self._widen(rows)  # references arrive with the checks
        self._update_columns()
        finished = self.checking and not checking
        self.checking = checking
        if finished:
            self.table.forget()  # "…" become "-" in every row not checked
        else:
            self.table.forget(row.key for row in rows)
        if self.call_filter.predicates or self.sort_column in ("reference", "deviations"):
            self.refresh_table()  # the filter may now take or drop rows, or the order changes
            return
        if not rows:
            return
        shown = self._shown_positions()
        for row in rows:
            if row.key in shown:
                self.shown[shown[row.key]] = row

    def _shown_positions(self) -> dict[str, int]:
        """Key -> position in ``shown`` (rows replaced in place keep their keys and places)."""
        known = self._positions_of
        if known is None or known[0] is not self.shown or known[1] != len(self.shown):
            known = self._positions_of = (self.shown, len(self.shown),
                                          {row.key: number for number, row in enumerate(self.shown)})
        return known[2]

    def refresh_table(self) -> None:
        """Filter and sort every row afresh (the table keeps its cursor on the same call)."""
        rows = list(self.rows.values())
        self.shown = self._sorted(self.call_filter.apply(rows) if self.call_filter.predicates else rows)
        self.table.set_rows([row.key for row in self.shown])
        self.sub_title = self._subtitle()

    def _sorted(self, rows: list[CallRow]) -> list[CallRow]:
        if self.sort_column == "index":  # unique numbers: no tie-breaker, and a key made in C
            return sorted(rows, key=attrgetter("index"), reverse=self.sort_reverse)
        return sort_rows(rows, self.sort_column, reverse=self.sort_reverse)

    def _subtitle(self) -> str:
        total = len(self.rows)
        noun = "call" if total == 1 else "calls"
        parts = [f"{len(self.shown)} of {total} {noun}" if len(self.shown) != total else f"{total} {noun}"]
        if self.selected:
            parts.append(f"{len(self.selected)} selected")
        arrow = "▼" if self.sort_reverse else "▲"
        parts.append(f"sorted by {self.sort_column} {arrow}")
        return " · ".join(parts)

    def current_key(self) -> str | None:
        return self.table.cursor_key

    # --- actions -------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        try:
            self.call_filter = parse_filter(event.value)
        except FilterError as exc:
            event.input.add_class("bad-filter")
            self.notify(str(exc), severity="warning", timeout=2, markup=False)
            return
        event.input.remove_class("bad-filter")
        self.refresh_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_leave_filter(self) -> None:
        """Esc: out of the filter box, then clears the filter; never quits (q does)."""
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self.table.focus()
        elif box.value:
            box.value = ""

    def action_focus_filter(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "tab-calls"
        self.query_one("#filter", Input).focus()

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        self._fill_tab(tab)

    def on_call_table_row_selected(self, event: CallTable.RowSelected) -> None:
        event.stop()
        self.action_open_ladder()

    def on_call_table_header_selected(self, event: CallTable.HeaderSelected) -> None:
        key = event.column_key
        if key in SORTABLE:
            self.sort_reverse = (not self.sort_reverse) if key == self.sort_column else False
            self.sort_column = key
            self.resort()

    def action_sort_next(self) -> None:
        self.sort_column = SORTABLE[(SORTABLE.index(self.sort_column) + 1) % len(SORTABLE)]
        self.resort()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.resort()

    def resort(self) -> None:
        """Reorder the shown rows (the table keeps its rendered rows and its cursor's call)."""
        self.shown = self._sorted(self.shown)
        self.table.set_rows([row.key for row in self.shown])
        self.sub_title = self._subtitle()

    def action_toggle_select(self) -> None:
        key = self.current_key()
        if key is None:
            return
        self.selected.symmetric_difference_update({key})
        self.table.forget([key])
        self.table.move_cursor(self.table.cursor_row + 1)
        self.sub_title = self._subtitle()

    def chosen_keys(self) -> list[str]:
        """The selected calls (in list order), or the one under the cursor."""
        if self.selected:
            return [row.key for row in self.shown if row.key in self.selected] or sorted(self.selected)
        key = self.current_key()
        return [key] if key is not None else []

    def action_open_ladder(self) -> None:
        key = self.current_key()
        if key is not None:
            self.ladder_app.open_ladder([key])

    def action_extended(self) -> None:
        keys = self.chosen_keys()
        if keys:
            self.ladder_app.open_ladder(keys)

    def action_choose_columns(self) -> None:
        from tui.column_chooser import ColumnsScreen

        def done(chosen: list[str] | None) -> None:
            if chosen:
                self.show_columns(chosen)
                problem = save_columns(chosen)
                if problem:
                    self.notify(f"Columns not remembered: {problem}", severity="warning", markup=False)

        self.app.push_screen(ColumnsScreen(list(CALL_COLUMNS), self.shown_columns), done)

    def show_columns(self, keys: list[str]) -> None:
        self.shown_columns = [key for key in COLUMN_KEYS if key in keys]
        self._positions = [COLUMN_KEYS.index(key) for key in self.shown_columns]
        self._update_columns()
        self.table.forget()

    def action_save(self) -> None:
        keys = self.chosen_keys()
        if keys:
            self.ladder_app.ask_export(keys)
