"""The Textual application: ``create_app`` builds it (for the CLI and the tests alike) and
``run_app`` runs it for ``ladder FILE`` on a terminal.

The app holds the loaded capture and its calls; the screens draw them. Loading happens in a
thread worker that only posts messages (``tui.loading``); the handlers here, on the UI
thread, update the screens.
"""

from __future__ import annotations

import argparse

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from ladder.draw.diagram import Ladder
from ladder.errors import CaptureError, UsageError
from tui.call_list_screen import CallListScreen
from tui.call_rows import CallRow, call_row
from tui.dialogs import HelpScreen
from tui.export import FORMATS, ExportFormat, free_path, output_stem, write_export
from tui.ladder_screen import LadderScreen
from tui.loading import (CallsMade, CallsSoFar, CheckFailed, ChecksFinished, CheckSummary, LoadFailed, LoadFinished, LoadProgress,
                         MediaBound, RowsSoFar, capture_file_size, load_in_thread)
from tui.safe_text import clean
from tui.save_dialog import SaveRequest, SaveScreen

if TYPE_CHECKING:
    from ladder.capture.loader import Capture
    from ladder.draw.aliases import AliasMap
    from ladder.calls.grouping import Call
    from ladder.analysis import Analysis


SWITCH_INTERVAL_S = 0.001
LARGE_CAPTURE_BYTES = 16 * 1024 * 1024
LARGE_CAPTURE_START_DELAY_S = 0.3
# Call rows built per event-loop turn (about 10 µs each): keys are handled between batches, so
# 20,000 calls arriving at once never hold the UI thread for more than a few ms at a time.
ROWS_PER_TURN = 400
ROWS_PAUSE_S = 0.002
LADDER_SCREEN = "ladder"  # the name the one ladder screen is installed under
PREPARE_LADDER_AFTER_S = 0.05


class LadderApp(App):
    """pcapladder's TUI on one capture file."""

    CSS_PATH = "app.tcss"
    TITLE = "pcapladder"
    BINDINGS = [
        Binding("question_mark", "help", "Help", show=True),
        Binding("q", "leave", "Quit/Back", show=True),
    ]

    def __init__(self, path: str, *, engine: str = "auto", tls_keylog: str | None = None,
                 aliases: "AliasMap | None" = None, media: bool = True, check: bool = True, time: bool = True,
                 export_dir: str | Path | None = None, bounded: bool | None = None) -> None:
        """``bounded``: load with the messages left in the file (``tui.bounded_load``);
        None: when the file is big."""
        super().__init__()
        self.time_column = time
        self.path = path
        self.engine = engine
        self.tls_keylog = tls_keylog
        self.aliases = aliases
        self.media = media
        self.check = check
        self.export_dir = Path(export_dir) if export_dir is not None else Path.cwd()
        self.sub_title = clean(Path(path).name)
        self._switch_interval = sys.getswitchinterval()
        self.capture: "Capture | None" = None
        self.analysis: Analysis | None = None  # the capture's calls and media, bound once
        # Call.id -> the Call; on the bounded path, its row (``call`` builds the Call again).
        self.calls: dict[str, Any] = {}
        self.checks: dict[str, Any] = {}
        self.bounded = bounded
        self.catalogue: Any = None  # ``ladder.calls.catalogue.CallCatalogue`` on the bounded path
        self.bounded_checks: Any = None  # its checker's settings, for a call checked again
        self._references: list[Any] | None = None
        self.load_error: str | None = None
        self.loaded = False
        self.checked = False
        self.listing = False  # rows of a call list are being built, a batch per turn
        self._list_generation = 0
        self._checked_while_listing: set[str] | None = None
        self.call_list = CallListScreen()
        self._ladder_screen: LadderScreen | None = None  # kept between opens (``show_ladder``)

    # --- loading -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        # The loader thread is CPU-bound; with the default 5 ms switch interval every asyncio
        # loop turn of the UI thread (dozens per repaint) may wait that long for the GIL.
        # 1 ms keeps keys answered quickly while a big capture loads (measured: see report).
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.call_list.checking = self.check
        self.push_screen(self.call_list)
        # A big capture's loader starts once the app has settled: Textual's own start-up takes
        # ~60 ms of the first keys, and a loader competing for the interpreter meanwhile made
        # that 110-150 ms (bench/bench_tui.py). A small capture loads at once.
        if capture_file_size(self.path) >= LARGE_CAPTURE_BYTES:
            self.set_timer(LARGE_CAPTURE_START_DELAY_S, self.load)
        else:
            self.load()

    def on_unmount(self) -> None:
        sys.setswitchinterval(self._switch_interval)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        worker = get_current_worker()
        load_in_thread(self.post_message, lambda: worker.is_cancelled, self.path, engine=self.engine,
                       tls_keylog=self.tls_keylog, media=self.media, check=self.check, bounded=self.bounded)

    def on_load_progress(self, message: LoadProgress) -> None:
        self.call_list.show_progress(message.figures)

    def on_calls_made(self, message: CallsMade) -> None:
        if not self.loaded:
            self.call_list.show_calls_made(message.made, message.call_ids)

    def on_calls_so_far(self, message: CallsSoFar) -> None:
        if self.loaded:  # a late partial list must not replace the finished one
            return
        self.calls = {call.id: call for call in message.calls}
        # Rows only for calls not listed yet: the list appends those and keeps the others.
        listed = self.call_list.rows
        self.list_rows([call for call in message.calls if call.id not in listed])

    def on_rows_so_far(self, message: RowsSoFar) -> None:
        """Rows of calls made so far on the bounded path: those not listed yet are appended."""
        if self.loaded:
            return
        listed = self.call_list.rows
        self.list_rows([row for row in message.rows if row.key not in listed])

    def on_load_finished(self, message: LoadFinished) -> None:
        self.capture = message.capture
        self.analysis = message.analysis
        self.catalogue = message.catalogue
        self.bounded_checks = message.bounded
        self.calls = {call.key if isinstance(call, CallRow) else call.id: call for call in message.calls}
        self.loaded = True
        self.list_rows(message.calls, capture=message.capture)

    def list_rows(self, calls: "list[Call] | list[CallRow]", *, capture: "Capture | None" = None) -> None:
        """Build the rows of ``calls``: the first ROWS_PER_TURN at once, the rest in a task that
        lets the event loop run between batches (keys are handled meanwhile; callbacks queued
        with call_later would run back to back). A partial list (no ``capture``) appends each
        batch as it is built; the finished list is shown whole once built (the partial one
        stays meanwhile). A newer list replaces one still being built."""
        self._list_generation += 1
        generation = self._list_generation
        self.listing = True
        if capture is not None:
            self._checked_while_listing = set()
        # The finished list is measured batch by batch as it is built: measuring 150,000 rows in
        # the turn that shows them held the UI 0.5-2.4 s.
        built = self.call_list.measure_rows()

        def build(start: int) -> None:
            rows = [self.row_of(call) for call in calls[start:start + ROWS_PER_TURN]]
            if capture is None:
                self.call_list.add_rows_while_loading(rows)
            else:
                built.add(rows)

        async def build_the_rest() -> None:
            for start in range(ROWS_PER_TURN, len(calls), ROWS_PER_TURN):
                await asyncio.sleep(ROWS_PAUSE_S)
                if generation != self._list_generation:
                    return  # a newer list (or a failure) took over
                build(start)
            if capture is not None:
                await asyncio.sleep(ROWS_PAUSE_S)  # sorting and sizing every row: a turn of its own
                if generation != self._list_generation:
                    return
                self._show_finished_list(capture, built)
            elif generation == self._list_generation:
                self.listing = False

        build(0)
        if len(calls) > ROWS_PER_TURN or capture is not None:
            self.run_worker(build_the_rest(), name="call rows", group="rows", exclusive=True)
        else:
            self.listing = False

    def _show_finished_list(self, capture: "Capture", rows: list[CallRow]) -> None:
        self.listing = False
        checked, self._checked_while_listing = self._checked_while_listing or set(), None
        self.call_list.show_loaded(capture, rows)
        # Results that came in while the rows were built (those rows are stale), and whether
        # the checker has finished meanwhile.
        self.call_list.update_rows([self.row_of(self.calls[key]) for key in checked if key in self.calls],
                                   checking=self.check and not self.checked)
        self.set_timer(PREPARE_LADDER_AFTER_S, self.prepare_ladder_screen)  # once the list is drawn

    def on_media_bound(self, message: MediaBound) -> None:
        numbers = {key: self.calls[call_id].index for key, call_id in message.call_of.items()
                   if call_id in self.calls}
        self.call_list.show_media(numbers, message.problems)

    def on_load_failed(self, message: LoadFailed) -> None:
        self.load_error = clean(message.message)
        self.loaded = True
        self._list_generation += 1  # a partial list still being built stops
        self.listing = False
        self.checked = True
        self.call_list.checking = False
        self.call_list.show_failed(self.load_error)
        self.notify(self.load_error, title="Cannot load the capture", severity="error", timeout=10, markup=False)

    def on_checks_finished(self, message: ChecksFinished) -> None:
        self.checks.update(message.results)
        failed = [r for r in message.results.values() if isinstance(r, CheckFailed)]
        if failed:
            self.notify(f"The checker failed on {len(failed)} call(s): {clean(failed[0].message)}",
                        severity="warning", timeout=8, markup=False)
        self.checked = message.done
        if self._checked_while_listing is not None:  # the finished list is being built
            self._checked_while_listing.update(message.results)
            return
        rows = [self.row_of(self.calls[key]) for key in message.results if key in self.calls]
        self.call_list.update_rows(rows, checking=not message.done)

    def on_worker_state_changed(self, event: Any) -> None:
        # A bug in a decoder must not leave a frozen "Loading…": say what happened in the app.
        if event.worker.group != "load" or event.worker.error is None:
            return
        error = event.worker.error
        if self.capture is None:
            self.on_load_failed(LoadFailed(f"internal error while loading: {type(error).__name__}: {clean(error)}"))
        else:  # the calls are there; only the checker broke
            self.notify(f"The checker stopped: {type(error).__name__}: {clean(error)}", severity="warning",
                        timeout=8, markup=False)
            self.on_checks_finished(ChecksFinished({}, done=True))

    def row_of(self, call: "Call | CallRow") -> CallRow:
        """The list's row of a call (or of a bounded path's row) with its check result."""
        if isinstance(call, CallRow):
            result = self.checks.get(call.key)
            if result is None:
                return call
            if isinstance(result, CheckFailed):
                return replace(call, reference="check failed")
            return replace(call, reference=clean(result.reference or ""), deviations=_deviation_count(result))
        result = self.checks.get(call.id)
        if result is None:
            return call_row(call)
        if isinstance(result, CheckFailed):
            return call_row(call, reference="check failed")
        return call_row(call, reference=result.reference or "", deviations=_deviation_count(result))

    def call(self, key: str) -> "Call":
        """The call ``key``: kept, or on the bounded path read back and built again."""
        if self.catalogue is not None:
            return self.catalogue.call(key)
        return self.calls[key]

    def all_calls(self) -> list["Call"]:
        """Every call (an export of all, or the calls a pcap's streams are bound over)."""
        if self.catalogue is None:
            return list(self.calls.values())
        from ladder.calls.bounded import iter_calls

        return list(iter_calls(self.catalogue.capture))

    # --- ladders -------------------------------------------------------------------------------

    def build_view(self, keys: list[str], media: bool) -> tuple[Ladder, list[Any], list[Any]]:
        """The ladder of ``keys`` (annotated with deviations for one call), its deviations and
        its RTP streams."""
        calls = [self.call(k) for k in keys]
        ladder = self._analysis(media).ladder(calls[0] if len(calls) == 1 else calls, aliases=self.aliases)
        deviations: list[Any] = []
        result = self.checks.get(keys[0]) if len(keys) == 1 else self.check_group(calls, ladder)
        if isinstance(result, CheckSummary):  # the bounded path keeps counts: the result made again
            result = self._check_again(calls[0], ladder)
        if result is not None and not isinstance(result, CheckFailed):
            from ladder.check.call_check import annotate_ladder

            ladder = annotate_ladder(ladder, result)
            deviations = list(result.deviations)
        stream_keys = {k for arrow in ladder.arrows for k in arrow.stream_keys}
        streams = [s for s in self.capture.streams if s.key in stream_keys] if self.capture is not None else []
        return ladder, deviations, streams

    def check_group(self, calls: list["Call"], ladder: Ladder) -> Any:
        """Several calls drawn as one are checked as one (F-numbers of the shared ladder)."""
        if not self.check:
            return None
        from ladder.check.references import load_references

        if self._references is None:
            self._references = load_references()
        return self._analysis(self.media).check(calls, self._references, ladder=ladder)

    def _check_again(self, call: "Call", ladder: Ladder) -> Any:
        """The full check result of one call whose list row has only its counts."""
        from ladder.check.references import load_references

        if self._references is None:
            self._references = load_references()
        settings = self.bounded_checks.settings if self.bounded_checks is not None else None
        return self._analysis(self.media).check(call, self._references, ladder=ladder, settings=settings)

    def _analysis(self, media: bool) -> Analysis:
        """The loaded analysis; with media bars toggled off, the same calls drawn without them."""
        assert self.analysis is not None, "ladders are opened once the capture has loaded"
        if media or not self.analysis.media:
            return self.analysis
        return replace(self.analysis, media=False)

    def open_ladder(self, keys: list[str]) -> None:
        """One ladder for ``keys``: a call (with all its legs, which the call model already
        groups) or several selected calls together (sngrep's extended flow)."""
        if self.capture is None:
            self.notify("The capture is still loading.", severity="warning", timeout=2, markup=False)
            return
        self.show_ladder(keys)

    def prepare_ladder_screen(self) -> None:
        """Compose the ladder screen while the finished list is read, so that the first open
        only fills it as later ones do (composing it took 110-160 ms of that first open)."""
        mount = getattr(self, "_get_screen", None)  # what push_screen mounts a screen with
        if self._ladder_screen is not None or self.capture is None or mount is None:
            return
        screen = LadderScreen([], self.build_view, media=self.media, time=self.time_column)
        self.install_screen(screen, name=LADDER_SCREEN)
        self._ladder_screen = screen
        mount(screen)

    def show_ladder(self, keys: list[str]) -> None:
        """The ladder screen for ``keys``. One screen is kept (installed) and filled again on each
        open: composing a new one, its ~80 widgets styled and the footer built, was most of the
        200 ms an open took (BENCHMARKS.md, issue 13)."""
        screen = self._ladder_screen
        if screen is not None and screen not in self.screen_stack:
            screen.show_calls(keys, media=self.media, time=self.time_column)
            self.push_screen(screen)
            return
        screen = LadderScreen(keys, self.build_view, media=self.media, time=self.time_column)
        if self._ladder_screen is None:
            self.install_screen(screen, name=LADDER_SCREEN)
            self._ladder_screen = screen
        self.push_screen(screen)  # else the kept one is shown under another: a screen of its own

    # --- export --------------------------------------------------------------------------------

    def ask_export(self, keys: list[str], ladder: Ladder | None = None, *, time: bool = False) -> None:
        """sngrep's F2: the save dialog for ``keys`` (the selected calls, or the ladder's)."""
        if self.capture is None:
            self.notify("The capture is still loading.", severity="warning", timeout=2, markup=False)
            return
        scopes = {"selected": keys, "displayed": [row.key for row in self.call_list.shown],
                  "all": list(self.calls)}
        what = f"call {self.calls[keys[0]].index}" if len(keys) == 1 else "selected calls"
        stem = output_stem(self.path, [self.calls[k].index for k in keys])

        def done(request: SaveRequest | None) -> None:
            if request is not None:
                chosen = scopes[request.scope]
                shown = ladder if request.scope == "selected" else None
                self.save_calls(request, chosen, shown, time=time)

        self.push_screen(SaveScreen(list(FORMATS), {k: len(v) for k, v in scopes.items()},
                                    directory=self.export_dir, stem=stem, what=what), done)

    def save_calls(self, request: SaveRequest, keys: list[str], ladder: Ladder | None = None, *,
                   time: bool = False) -> Path | None:
        """Write ``keys`` as the dialog asked: one ladder when ``ladder`` is the one shown (the
        text as shown, with its time column when that is on), else one ladder per call."""
        if self.capture is None:
            return None  # nothing loaded yet: there is nothing to save
        try:
            calls = [self.call(k) for k in keys]
            ladders = [] if request.fmt.key in ("pcap", "html") else (
                [ladder] if ladder is not None else [self.build_view([k], self.media)[0] for k in keys])
            every = self.all_calls() if request.fmt.key in ("pcap", "html") else []
            path, holds = write_export(request.fmt, request.path, ladders=ladders, capture=self.capture,
                                       calls=calls, all_calls=every, time=time, overwrite=request.overwrite)
        except (OSError, CaptureError, UsageError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.notify(f"Could not write {clean(request.path)}: {clean(reason)}", severity="error", markup=False)
            return None
        self.notify(f"Wrote {clean(path)} ({holds})", title="Saved", timeout=6, markup=False)
        return path

    def export_calls(self, fmt: ExportFormat, keys: list[str], ladder: Ladder | None = None, *,
                     time: bool = False) -> Path | None:
        """Write ``keys`` in ``fmt`` under a free name in the export directory (the command
        palette's quick save) and say where in a notification."""
        if ladder is None:
            ladder = self.build_view(keys, self.media)[0]
        stem = output_stem(self.path, [self.calls[k].index for k in keys])
        request = SaveRequest(free_path(self.export_dir, stem, fmt.suffix), fmt, "selected", overwrite=False)
        return self.save_calls(request, keys, ladder, time=time)

    # --- app-wide actions ----------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_leave(self) -> None:
        """Leave the current screen; from the call list, quit."""
        if self.screen is self.call_list or len(self.screen_stack) <= 2:
            self.workers.cancel_group(self, "load")
            self.exit(return_code=2 if self.load_error else 0)  # the CLI's code for bad input
        else:
            self.pop_screen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys of pcapladder", self.action_help)
        if isinstance(screen, LadderScreen):
            yield SystemCommand("Toggle time column", "Wall-clock time and delta beside each arrow", screen.action_toggle_time)
            yield SystemCommand("Toggle media bars", "Show or hide RTP media bars", screen.action_toggle_media)
            yield SystemCommand("Raw messages", "Every SIP message of this ladder", screen.action_raw)
            for fmt in list(FORMATS):
                yield SystemCommand(f"Save as {fmt.label}", f"Write {fmt.suffix} to the current directory",
                                    lambda fmt=fmt, screen=screen: self.export_calls(
                                        fmt, screen.keys, screen.ladder, time=screen.time_column))
        elif isinstance(screen, CallListScreen):
            yield SystemCommand("Filter calls", "Focus the filter box", screen.action_focus_filter)
            yield SystemCommand("Extended flow", "Selected calls in one ladder", screen.action_extended)
            for fmt in list(FORMATS):
                yield SystemCommand(f"Save as {fmt.label}", f"Write {fmt.suffix} to the current directory",
                                    lambda fmt=fmt, screen=screen: self._export_chosen(fmt, screen))

    def _export_chosen(self, fmt: ExportFormat, screen: CallListScreen) -> None:
        keys = screen.chosen_keys()
        if keys and self.capture is not None:
            self.export_calls(fmt, keys)


def create_app(path: str, *, engine: str = "auto", tls_keylog: str | None = None, aliases: "AliasMap | None" = None,
               media: bool = True, check: bool = True, time: bool = True,
               export_dir: str | Path | None = None, bounded: bool | None = None) -> LadderApp:
    """The one app factory, used by ``ladder FILE`` and by the tests."""
    return LadderApp(path, engine=engine, tls_keylog=tls_keylog, aliases=aliases, media=media, check=check,
                     time=time, export_dir=export_dir, bounded=bounded)


def run_app(args: argparse.Namespace) -> int:
    """Run the TUI for parsed ``ladder FILE`` arguments (``file``, ``engine``, ``tls_keylog``,
    ``alias``/``alias_file`` or a ready ``aliases`` map, ``no_media``, ``time``); returns the
    exit status."""
    from ladder.draw.aliases import build_aliases

    aliases = getattr(args, "aliases", None)
    if aliases is None:
        aliases = build_aliases(getattr(args, "alias", None), getattr(args, "alias_file", None))
    app = create_app(
        args.file,
        engine=getattr(args, "engine", "auto") or "auto",
        tls_keylog=getattr(args, "tls_keylog", None),
        aliases=aliases,
        media=not getattr(args, "no_media", False),
        time=True,  # sngrep's time and delta beside each arrow; t hides them
    )
    app.run()
    return int(app.return_code or 0)


def _deviation_count(result: Any) -> int:
    """Deviations of a check result, or of its summary (the bounded path's)."""
    return result.deviations if isinstance(result, CheckSummary) else len(result.deviations)
