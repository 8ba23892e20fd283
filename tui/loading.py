"""Loading a capture off the UI thread.

``load_in_thread`` runs inside a Textual thread worker. It never touches a widget: it only
posts messages (``LoadProgress`` a few times a second, then ``LoadFinished`` or ``LoadFailed``,
then ``ChecksFinished`` in batches), and the app updates its screens on the UI thread.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from textual.message import Message

from ladder.errors import CaptureError
from ladder.capture.progress import Progress

if TYPE_CHECKING:
    from ladder.calls.catalogue import CallCatalogue
    from ladder.calls.grouping import Call
    from tui.call_rows import CallRow
    from decoders.sip import SipMessage
    from ladder.analysis import Analysis

PROGRESS_INTERVAL_S = 0.25  # a few updates a second: enough to look alive, cheap for a fast loop
# The call list fills in while loading: calls are rebuilt from the messages so far every couple
# of seconds, and never more often than keeps that work under a fifth of the loader's time.
PARTIAL_INTERVAL_S = 2.0
PARTIAL_SHARE = 5
CHECK_POST_INTERVAL_S = 1.0  # results are posted in batches: each batch costs the UI a table update
# A capture this big is loaded on the bounded path (``tui.bounded_load``): messages stay in the file,
# the list holds a row per call, a ladder reads its call back. Below it, everything is kept.
BOUNDED_CAPTURE_BYTES = 16 * 1024 * 1024


class LoadCancelled(Exception):
    """Raised from the progress callback to stop ``load_capture`` when the user quits."""


@dataclass(frozen=True, slots=True)
class ProgressFigures:
    packets: int
    bytes_read: int
    total_bytes: int
    sip_messages: int
    call_ids: int  # distinct Call-IDs so far: the calls found, before legs are joined


class LoadProgress(Message):
    def __init__(self, figures: ProgressFigures) -> None:
        super().__init__()
        self.figures = figures


class CallsSoFar(Message):
    """The calls found so far, while the capture is still loading (rebuilt whole each time)."""

    def __init__(self, calls: list["Call"]) -> None:
        super().__init__()
        self.calls = calls


class CallsMade(Message):
    """On the bounded path, once the capture is read: how many calls are made so far, of the
    Call-IDs the read found. Correlating a busy capture (transactions, dialogs, legs, the links
    across Call-IDs) takes longer than reading it, and its rows come only once every Call-ID is
    seen (a later one may join an earlier call): this is what moves meanwhile."""

    def __init__(self, made: int, call_ids: int) -> None:
        super().__init__()
        self.made = made
        self.call_ids = call_ids


class RowsSoFar(Message):
    """Rows of the calls made so far on the bounded path (each call's ``CallRow``, in order)."""

    def __init__(self, rows: list["CallRow"]) -> None:
        super().__init__()
        self.rows = rows


class LoadFinished(Message):
    """The loaded capture and its one analysis (calls, media bound once). On the bounded path
    ``calls`` are the calls' rows and ``catalogue`` builds a call again when asked."""

    def __init__(self, analysis: Analysis, *, rows: list["CallRow"] | None = None,
                 catalogue: "CallCatalogue | None" = None, bounded: "BoundedChecks | None" = None) -> None:
        super().__init__()
        self.analysis = analysis
        self.capture = analysis.capture
        self.calls: list[Any] = analysis.calls if rows is None else rows
        self.catalogue = catalogue
        self.bounded = bounded


class LoadFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class MediaBound(Message):
    """Which call each RTP stream belongs to and its media problems (``RtpStream.key`` keys)."""

    def __init__(self, call_of: dict[Any, str], problems: dict[Any, tuple[str, ...]]) -> None:
        super().__init__()
        self.call_of = call_of
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CheckFailed:
    """The checker raised on one call: the call list says so instead of a deviation count."""

    message: str


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """What the call list shows of a call's check on the bounded path (its full result is made
    again when its ladder opens, ``BoundedChecks.settings``), not the result itself: a million
    results would not fit."""

    reference: str | None
    deviations: int


@dataclass(frozen=True, slots=True)
class BoundedChecks:
    """The rules' settings of a capture on the bounded path (its clock breaks, its damage
    counted as the calls were made), for the checker and a call checked again on opening."""

    settings: Any


class ChecksFinished(Message):
    """Check results for some calls: ``results`` maps ``Call.id`` to a ``CheckResult`` (or a
    ``CheckFailed``; a ``CheckSummary`` on the bounded path)."""

    def __init__(self, results: dict[str, Any], done: bool) -> None:
        super().__init__()
        self.results = results
        self.done = done


def _figures(progress: Progress, total_bytes: int) -> ProgressFigures:
    """The loader's ``Progress`` as the figures the progress line shows."""
    return ProgressFigures(
        packets=progress.frames,
        bytes_read=progress.bytes_read,
        total_bytes=progress.file_size or total_bytes,
        sip_messages=progress.sip_messages,
        call_ids=progress.call_ids,
    )


class ProgressThrottle:
    """The ``progress=`` callback: posts at most one ``LoadProgress`` per interval and stops the
    load (by raising ``LoadCancelled``) once the worker is cancelled."""

    def __init__(self, post: Callable[[Message], Any], cancelled: Callable[[], bool], total_bytes: int,
                 *, interval_s: float = PROGRESS_INTERVAL_S, partial_interval_s: float = PARTIAL_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, first_partial_s: float | None = None,
                 partial_messages: int | None = None):
        """``partial_messages``: partial lists are made of at most the first so many messages
        (the bounded path reads them back), the first ``first_partial_s`` into the load."""
        self._post = post
        self._cancelled = cancelled
        self._total = total_bytes
        self._interval = interval_s
        self._partial_interval = partial_interval_s
        self._clock = clock
        self._last = float("-inf")
        # A quick load shows its list once, at the end.
        self._next_partial = clock() + (partial_interval_s if first_partial_s is None else first_partial_s)
        self._window = partial_messages
        self._window_done = False
        self.posted = 0
        self.call_ids = 0  # the distinct Call-IDs found so far

    def __call__(self, progress: Any) -> None:
        if self._cancelled():
            raise LoadCancelled()
        now = self._clock()
        self.call_ids = progress.call_ids
        if now - self._last >= self._interval:
            self._last = now
            self.posted += 1
            self._post(LoadProgress(_figures(progress, self._total)))
        if not progress.done and progress.sip_so_far is not None and now >= self._next_partial \
                and not self._window_done:
            messages = progress.sip_so_far()
            if self._window is not None:
                self._window_done = len(messages) >= self._window  # full: the last partial list
                messages = messages[:self._window]
            self._post_calls_so_far(messages)

    def _post_calls_so_far(self, messages: Sequence[SipMessage]) -> None:
        from ladder.calls.grouping import calls_of_messages

        started = self._clock()
        calls = calls_of_messages(messages)
        spent = self._clock() - started
        self._next_partial = self._clock() + max(self._partial_interval, PARTIAL_SHARE * spent)
        if calls:
            self._post(CallsSoFar(calls))


def capture_file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def load_in_thread(post: Callable[[Message], Any], cancelled: Callable[[], bool], path: str, *,
                   engine: str = "auto", tls_keylog: str | None = None, media: bool = True,
                   check: bool = True, bounded: bool | None = None) -> None:
    """Load ``path``, build its calls, check them; report everything by ``post``. ``bounded``:
    messages stay in the file (``load_bounded``); None: when the file is big."""
    if bounded is None:
        bounded = capture_file_size(path) >= BOUNDED_CAPTURE_BYTES
    if bounded:
        from tui.bounded_load import load_bounded

        load_bounded(post, cancelled, path, engine=engine, tls_keylog=tls_keylog, media=media, check=check)
        return
    from ladder.analysis import analyse
    from ladder.capture.loader import load_capture

    throttle = ProgressThrottle(post, cancelled, capture_file_size(path))
    # Measured on a 230 MB capture: the collector's full passes over the growing heap find
    # nothing to free yet hold the GIL for 0.1-1 s each, freezing the UI thread. Loading makes
    # no reference cycles worth collecting, so the collector pauses meanwhile, and the loaded
    # capture (kept for the app's life) is then frozen out of later full passes.
    collecting = gc.isenabled()
    gc.disable()
    try:
        capture = load_capture(path, engine=engine, tls_keylog=tls_keylog, progress=throttle, media=media)
        analysis = analyse(capture, media=media)
    except LoadCancelled:
        return
    except (CaptureError, OSError) as exc:
        post(load_failed(path, exc))
        return
    finally:
        # Frozen before the collector is back on: the UI thread allocates all the time, and its
        # first collection would otherwise walk every object the load made, holding the GIL
        # (0.1-3 s on large captures).
        gc.freeze()
        if collecting:
            gc.enable()
    post(LoadFinished(analysis))
    if media and capture.streams:
        post(bind_streams(analysis))
    if check:
        check_in_thread(post, cancelled, analysis)


def load_failed(path: str, exc: CaptureError | OSError) -> LoadFailed:
    """What the app says of a capture it cannot read."""
    if isinstance(exc, CaptureError):
        return LoadFailed(str(exc))
    return LoadFailed(f"cannot read {path}: {exc.strerror or exc}")


def bind_streams(analysis: Analysis) -> MediaBound:
    """The streams' calls and problems, from the analysis's one binding of the whole capture
    (all calls at once keeps streams on reused ports with the right call)."""
    return MediaBound(analysis.call_of_stream(), analysis.media_index.stream_problem_codes())


def check_in_thread(post: Callable[[Message], Any], cancelled: Callable[[], bool], analysis: Analysis) -> None:
    """Deviations for every call, posted in batches so the list fills its column as it goes."""
    from ladder.check.call_check import capture_settings
    from ladder.check.references import load_references

    references = load_references()
    settings = capture_settings(analysis.capture)
    batch: dict[str, Any] = {}
    last_post = time.monotonic()
    for call in analysis.calls:
        if cancelled():
            return
        try:
            batch[call.id] = analysis.check(call, references, settings=settings)
        except Exception as exc:  # one call the checker cannot handle must not hide the others
            batch[call.id] = CheckFailed(f"{type(exc).__name__}: {exc}")
        if time.monotonic() - last_post >= CHECK_POST_INTERVAL_S:
            post(ChecksFinished(batch, done=False))
            batch = {}
            last_post = time.monotonic()
    gc.freeze()  # the results live as long as the app (see load_in_thread)
    post(ChecksFinished(batch, done=True))
