"""``ladder INDEX``: the TUI on an archive index. The call list comes from the index (no
capture is read to show it); opening a call reads back only its frames, from the files where
they lie (``ladder.archive.slice``), and draws its ladder as ``ladder FILE`` would.

The list holds the index's first ``MAX_ROWS`` calls in start order; ``ladder search`` narrows
a bigger archive first (``ladder show INDEX ROW`` then draws one).
"""

from __future__ import annotations

import argparse

import shutil
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ladder.draw.diagram import Ladder
from ladder.errors import CaptureError, UsageError
from tui.app import LadderApp
from tui.call_rows import CallRow
from tui.safe_text import clean

if TYPE_CHECKING:
    from ladder.calls.grouping import Call
    from ladder.capture.loader import Capture
    from ladder.check.deviations import Deviation
    from ladder.media.streams import RtpStream

MAX_ROWS = 200_000
ROW_COLUMNS = ("row", "call_id", "call_ids", "kind", "method", "caller", "callee", "start_ns", "duration_ns",
               "outcome", "messages", "reference", "deviations", "deviation_codes", "parts")


@dataclass
class IndexSummary:
    """What the call list's status line reads of a capture, for a whole index."""

    file_size: int = 0
    frames: int = 0
    streams: list = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)
    diagnostic_list: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def index_rows(index: str, limit: int = MAX_ROWS) -> tuple[list[dict[str, Any]], IndexSummary]:
    """The first ``limit`` rows of the index and the summary of its files."""
    from ladder.archive.search import search
    from ladder.archive.store import is_file, join, open_parquet

    rows = search(index, "", columns=ROW_COLUMNS, limit=limit)
    summary = IndexSummary()
    files = join(index, "files.parquet")
    if is_file(files):
        for record in open_parquet(files).read(columns=["size", "frames", "status", "error"]).to_pylist():
            summary.file_size += record["size"] or 0
            summary.frames += record["frames"] or 0
            if record["status"] != "ok":
                summary.errors.append(f"skipped: {record['error']}")
    return rows, summary


def row_of_index(row: dict[str, Any]) -> CallRow:
    return CallRow(
        index=int(row["row"]), key=str(row["call_id"]), start_ns=int(row["start_ns"]),
        method=clean(row["method"] or ""), caller=clean(row["caller"] or ""), callee=clean(row["callee"] or ""),
        call_ids=tuple(clean(c) for c in row["call_ids"]), messages=int(row["messages"] or 0),
        outcome=clean(row["outcome"] or ""), kind=clean(row["kind"] or ""), duration_ns=int(row["duration_ns"] or 0),
        reference=clean(row["reference"] or ""), deviations=row["deviations"],
        deviation_codes=tuple(row["deviation_codes"] or ()),
    )


class IndexApp(LadderApp):
    """The call list of an index; each ladder loads its frames when opened."""

    def __init__(self, index: str, **options: Any) -> None:
        super().__init__(index, **options)
        self.index_rows: dict[str, dict[str, Any]] = {}
        self.loaded_calls: dict[str, tuple[Capture, Call, list[Call]]] = {}  # key -> (capture, call, all calls)
        self._slices = tempfile.mkdtemp(prefix="ladder-index-")

    def on_mount(self) -> None:
        self.call_list.checking = False
        self.push_screen(self.call_list)
        self.call_after_refresh(self._list_index)  # once the list's widgets are there

    def _list_index(self) -> None:
        try:
            rows, summary = index_rows(self.path)
        except (UsageError, CaptureError) as exc:
            from tui.loading import LoadFailed

            self.on_load_failed(LoadFailed(str(exc)))
            return
        self.index_rows = {row["call_id"]: row for row in rows}
        self.loaded = self.checked = True
        self.call_list.show_loaded(summary, [row_of_index(row) for row in rows])
        if len(rows) == MAX_ROWS:
            self.notify(f"The first {MAX_ROWS:,} calls of the index; 'ladder search' finds the others.",
                        timeout=8, markup=False)

    def on_unmount(self) -> None:
        shutil.rmtree(self._slices, ignore_errors=True)

    def _load(self, key: str) -> "tuple[Capture, Call, list[Call]]":
        """The call's capture (its frames read back from the archive), the call and the calls in it."""
        if key not in self.loaded_calls:
            from ladder.archive.slice import rows_parts, write_slice
            from ladder.calls.grouping import build_calls, find_call
            from ladder.capture.loader import load_capture

            from ladder.archive.search import find_rows

            row = find_rows(self.path, [key])[0]
            capture = load_capture(write_slice(rows_parts([row]), self._slices), engine="dpkt")
            calls = build_calls(capture)
            call = find_call(calls, key)
            if call is None:
                raise CaptureError(f"call {key!r} not found in its frames (re-run 'ladder index')")
            self.loaded_calls[key] = (capture, call, calls)
        return self.loaded_calls[key]

    def build_view(self, keys: list[str], media: bool) -> "tuple[Ladder, list[Deviation], list[RtpStream]]":
        from ladder.check.call_check import annotate_ladder, check_call
        from ladder.draw.layout import build_ladder
        from ladder.check.references import load_references
        from ladder.check.rules import RuleSettings

        if len(keys) > 1:
            self.notify("One call at a time from an index: its first selected call is shown.", timeout=4,
                        markup=False)
        capture, call, _calls = self._load(keys[0])
        self.capture, self.calls = capture, {keys[0]: call}
        ladder = build_ladder(call, capture, aliases=self.aliases, media=media)
        if self._references is None:
            self._references = load_references()
        result = check_call(call, capture, self._references, ladder=ladder,
                            settings=RuleSettings(end_ns=capture.last_ts_ns))
        stream_keys = {k for arrow in ladder.arrows for k in arrow.stream_keys}
        streams = [s for s in capture.streams if s.key in stream_keys]
        return annotate_ladder(ladder, result), list(result.deviations), streams

    def open_ladder(self, keys: list[str]) -> None:
        try:
            self._load(keys[0])
        except (OSError, CaptureError, UsageError) as exc:
            self.notify(f"Cannot read the call back: {clean(exc)}", severity="error", timeout=8, markup=False)
            return
        self.show_ladder(keys[:1])

    def ask_export(self, keys: list[str], ladder: Ladder | None = None, *, time: bool = False) -> None:
        self._load(keys[0])
        capture, call, _calls = self.loaded_calls[keys[0]]
        self.capture, self.calls = capture, {keys[0]: call}
        super().ask_export(keys[:1], ladder, time=time)


def run_index_app(args: argparse.Namespace) -> int:
    """``ladder INDEX`` on a terminal."""
    app = IndexApp(args.file, aliases=getattr(args, "aliases", None), media=not getattr(args, "no_media", False),
                   time=bool(getattr(args, "time", False)))
    app.run()
    return int(app.return_code or 0)
