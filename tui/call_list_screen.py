"""The first screen: loading progress, the filter box, and tabs for calls, RTP streams and
diagnostics — the view sngrep users start from."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static, TabbedContent, TabPane

from tui.call_filter import CallFilter, FilterError, parse_filter
from tui.call_rows import CallRow, format_deviations, format_duration, format_start, sort_rows, start_date
from tui.loading import ProgressFigures
from tui.panes import fill_diagnostics_table, fill_streams_table
from tui.safe_text import safe_text

# (key, label) — sngrep's columns first, then ours.
CALL_COLUMNS = (
    ("index", "#"),
    ("start", "Start (UTC)"),
    ("method", "Method"),
    ("from", "From"),
    ("to", "To"),
    ("messages", "Msgs"),
    ("outcome", "Outcome"),
    ("duration", "Duration"),
    ("reference", "Reference"),
    ("deviations", "Dev"),
)
MAX_PARTY_WIDTH = 26  # From/To wider than this are cut in the list (the ladder shows them whole)
MAX_METHOD_WIDTH = 12
# Rows added per event-loop turn while loading: DataTable measures new rows on its next idle
# pass, and a few hundred at once froze keys for 300 ms; 50 keep each pass to a few ms.
LOADING_BATCH_ROWS = 50
LOADING_BATCH_GAP_S = 0.02
FILTER_HINT = "Filter: text  /regex/  from:  to:  callid:  method:INVITE  outcome:busy  has:deviations"
SORTABLE = [key for key, _label in CALL_COLUMNS]
OUTCOME_STYLES = {"answered": "green", "registered": "green", "in-progress": "cyan"}


def _outcome_text(outcome: str) -> Text:
    style = OUTCOME_STYLES.get(outcome, "yellow" if outcome.startswith(("cancelled", "no ")) else "red")
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
        safe_text(row.method, "bold"),
        safe_text(row.caller),
        safe_text(row.callee),
        Text(str(row.messages), justify="right"),
        _outcome_text(row.outcome),
        Text(format_duration(row.duration_ns), justify="right"),
        safe_text(row.reference or "-"),
        deviations,
    ]


class CallTable(DataTable):
    """The call list: Enter opens the ladder, and the footer says so (sngrep's first key)."""

    BINDINGS = [Binding("enter", "select_cursor", "Ladder", show=True)]


class CallListScreen(Screen):
    """Calls, streams and diagnostics of the capture."""

    BINDINGS = [
        Binding("space", "toggle_select", "Select", show=True),
        Binding("f4,x", "extended", "Extended flow", show=True),
        Binding("f2,s", "save", "Save", show=True),
        Binding("f7,slash", "focus_filter", "Filter", show=True),
        Binding("o", "sort_next", "Sort", show=True),
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
        self.checking = True  # the app clears it when the checker is done (or absent)
        self.capture: Any = None
        self._filled: set[str] = set()
        self._key_by_index: dict[int, str] = {}
        self._cells: dict[str, tuple[CallRow, bool, list[Any]]] = {}
        self.stream_problems: dict[Any, tuple[str, ...]] = {}  # RtpStream.key -> problem codes
        self.stream_calls: dict[Any, int] = {}  # RtpStream.key -> call number
        self._dates = True  # whether the start column shows dates (several dates in the capture)
        self._pending: list[CallRow] = []  # partial-list rows not in the table yet (while loading)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="load-status"):
            yield ProgressBar(id="load-progress", show_eta=False)
            yield Static("Loading…", id="load-label")
        yield Static("", id="load-error")
        yield Input(id="filter", placeholder=FILTER_HINT)
        with TabbedContent(id="tabs", initial="tab-calls"):
            with TabPane("Calls", id="tab-calls"):
                yield CallTable(id="calls", cursor_type="row", zebra_stripes=True)
            with TabPane("RTP streams", id="tab-streams"):
                yield DataTable(id="streams", cursor_type="row", zebra_stripes=True)
            with TabPane("Diagnostics", id="tab-diagnostics"):
                yield Static("", id="capture-errors")
                yield DataTable(id="diagnostics", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#calls", DataTable)
        for key, label in CALL_COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#load-error", Static).display = False
        table.focus()

    # --- loading -------------------------------------------------------------------------------

    def show_progress(self, figures: ProgressFigures) -> None:
        bar = self.query_one("#load-progress", ProgressBar)
        if figures.total_bytes:
            bar.update(total=figures.total_bytes, progress=min(figures.bytes_read, figures.total_bytes))
        self.query_one("#load-label", Static).update(Text(
            f"{figures.packets:,} packets · {figures.bytes_read / 1e6:,.1f} MB"
            + (f" of {figures.total_bytes / 1e6:,.1f} MB" if figures.total_bytes else "")
            + f" · {figures.sip_messages:,} SIP messages · {figures.call_ids:,} calls (Call-IDs) found"))

    def show_loaded(self, capture: Any, rows: list[CallRow]) -> None:
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

    def show_media(self, stream_calls: dict[Any, int], problems: dict[Any, tuple[str, ...]]) -> None:
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
        self._pending.clear()  # partial rows still queued: the whole list replaces them
        self.rows = {row.key: row for row in rows}
        self._key_by_index = {row.index: row.key for row in rows}
        self._fix_column_widths(rows)
        self.refresh_table()

    def add_rows_while_loading(self, rows: list[CallRow]) -> None:
        """The calls found so far, while the capture loads: only calls not yet listed are
        appended, a batch per event-loop turn (the columns are sized once, by the first partial
        list), so a partial list never costs the UI thread a rebuild of the whole table. The
        finished load sets every row afresh."""
        if not self.rows:
            self._fix_column_widths(rows)
        new = [row for row in rows if row.key not in self.rows]
        for row in new:
            self.rows[row.key] = row
            self._key_by_index[row.index] = row.key
        draining = bool(self._pending)
        self._pending.extend(self.call_filter.apply(new))
        if not draining:
            self._add_pending_batch()

    def _add_pending_batch(self) -> None:
        batch, self._pending = self._pending[:LOADING_BATCH_ROWS], self._pending[LOADING_BATCH_ROWS:]
        table = self.query_one("#calls", DataTable)
        for row in batch:
            table.add_row(*self._cells_of(row), key=row.key)
        self.shown.extend(batch)
        self.sub_title = self._subtitle()
        if self._pending:
            self.set_timer(LOADING_BATCH_GAP_S, self._add_pending_batch)

    def _cells_of(self, row: CallRow) -> list[Any]:
        """The row's cells, built once per row value (filtering re-adds rows, often)."""
        cached = self._cells.get(row.key)
        if cached is None or cached[0] is not row or cached[1] != self.checking:
            cached = (row, self.checking, row_cells(row, False, checking=self.checking, date=self._dates))
            self._cells[row.key] = cached
        return cached[2]

    def _fix_column_widths(self, rows: list[CallRow]) -> None:
        """Column widths from the whole capture, once: with auto widths the table measures every
        cell again after each sort or filter (about a second for 1,000 calls)."""
        table = self.query_one("#calls", DataTable)
        dates = {start_date(row.start_ns) for row in rows}
        self._dates = len(dates) > 1  # one shared date goes into the header instead
        self._cells.clear()
        labels = dict(CALL_COLUMNS)
        if not self._dates and dates:
            labels["start"] = f"{dates.pop()} UTC"
        widths = {key: len(label) for key, label in labels.items()}
        for row in rows:
            for (key, _label), cell in zip(CALL_COLUMNS, self._cells_of(row)):
                widths[key] = max(widths[key], cell.cell_len)
        widths["from"] = min(widths["from"], MAX_PARTY_WIDTH)
        widths["to"] = min(widths["to"], MAX_PARTY_WIDTH)
        widths["method"] = min(widths["method"], MAX_METHOD_WIDTH)  # fuzzed captures: 4 KB methods
        widths["outcome"] = min(widths["outcome"], MAX_METHOD_WIDTH + 8)
        widths["deviations"] = max(widths["deviations"], 3)
        widths["reference"] = max(widths["reference"], len("rfc3665-3.10"))
        table.clear(columns=True)
        for key, label in labels.items():
            table.add_column(label, key=key, width=widths[key])

    def update_rows(self, rows: list[CallRow], *, checking: bool) -> None:
        """Rows whose deviations became known: cells updated in place (cursor and scroll stay)."""
        for row in rows:
            self.rows[row.key] = row
        finished = self.checking and not checking
        self.checking = checking
        unchecked = finished and any(row.deviations is None for row in self.rows.values())
        if unchecked or self.call_filter.predicates:
            self.refresh_table()  # the filter may now take or drop rows; "…" become "-" at the end
            return
        table = self.query_one("#calls", DataTable)
        shown = {row.key: number for number, row in enumerate(self.shown)}
        for row in rows:
            if row.key in shown:
                self.shown[shown[row.key]] = row
                table.update_cell(row.key, "reference", safe_text(row.reference or "-"))
                table.update_cell(row.key, "deviations", self._cells_of(row)[-1])
        if self.sort_column in ("reference", "deviations"):
            self.resort()

    def refresh_table(self) -> None:
        table = self.query_one("#calls", DataTable)
        current = self.current_key()
        rows = sort_rows(self.call_filter.apply(list(self.rows.values())), self.sort_column,
                         reverse=self.sort_reverse)
        self.shown = rows
        table.clear()
        for row in rows:
            cells = self._cells_of(row)
            if row.key in self.selected:
                cells = [index_cell(row, True), *cells[1:]]
            table.add_row(*cells, key=row.key)
        if current is not None and current in {r.key for r in rows}:
            table.move_cursor(row=table.get_row_index(current))
        self.sub_title = self._subtitle()

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
        table = self.query_one("#calls", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

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
        self.query_one("#calls", DataTable).focus()

    def action_leave_filter(self) -> None:
        """Esc: out of the filter box, then clears the filter; never quits (q does)."""
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self.query_one("#calls", DataTable).focus()
        elif box.value:
            box.value = ""

    def action_focus_filter(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "tab-calls"
        self.query_one("#filter", Input).focus()

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        self._fill_tab(tab)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "calls":
            event.stop()
            self.action_open_ladder()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if event.data_table.id == "calls" and key in SORTABLE:
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
        """Reorder the shown rows in place (no rows rebuilt: cheap for thousands of calls)."""
        self.shown = sort_rows(self.shown, self.sort_column, reverse=self.sort_reverse)
        position = {row.key: number for number, row in enumerate(self.shown)}
        table = self.query_one("#calls", DataTable)
        current = self.current_key()
        # The row key travels as the hidden sort input: DataTable sorts by a key of cell values.
        table.sort("index", key=lambda cell: position[self._key_by_index[int(cell.plain)]])
        if current is not None:
            table.move_cursor(row=table.get_row_index(current))
        self.sub_title = self._subtitle()

    def action_toggle_select(self) -> None:
        key = self.current_key()
        if key is None:
            return
        self.selected.symmetric_difference_update({key})
        table = self.query_one("#calls", DataTable)
        table.update_cell(key, "index", index_cell(self.rows[key], key in self.selected))
        table.action_cursor_down()
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
            self.app.open_ladder([key])

    def action_extended(self) -> None:
        keys = self.chosen_keys()
        if keys:
            self.app.open_ladder(keys)

    def action_save(self) -> None:
        keys = self.chosen_keys()
        if keys:
            self.app.ask_export(keys)
