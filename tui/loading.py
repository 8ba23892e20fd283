"""Loading a capture off the UI thread.

``load_in_thread`` runs inside a Textual thread worker. It never touches a widget: it only
posts messages (``LoadProgress`` a few times a second, then ``LoadFinished`` or ``LoadFailed``,
then ``ChecksFinished`` in batches), and the app updates its screens on the UI thread.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from dataclasses import dataclass, replace
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, cast

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
# A capture this big is loaded on the bounded path (``load_bounded``): messages stay in the file,
# the list holds a row per call, a ladder reads its call back. Below it, everything is kept.
BOUNDED_CAPTURE_BYTES = 16 * 1024 * 1024
# On the bounded path the list first shows the calls of the capture's first messages, read back
# (a window: rebuilding every message so far would grow with the file), soon into the load;
# then the calls themselves, in batches, as they are made.
BOUNDED_FIRST_PARTIAL_S = 0.0  # at the first progress report (8192 frames in)
BOUNDED_PARTIAL_MESSAGES = 500  # ~60 ms of CPU: about a hundred calls, a few screenfuls
# Calls made between two ``_Settle`` steps on the bounded path (see there).
SETTLE_EVERY_CALLS = 2000
ROWS_POST_INTERVAL_S = 0.5


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
    ``CheckFailed``)."""

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

    def __call__(self, progress: Any) -> None:
        if self._cancelled():
            raise LoadCancelled()
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self.posted += 1
            self._post(LoadProgress(_figures(progress, self._total)))
        if not progress.done and progress.sip_so_far is not None and now >= self._next_partial \
                and not self._window_done:
            messages = progress.sip_so_far()
            if self._window is not None:
                self._window_done = len(messages) >= self._window  # the window is full: made once more
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
    except CaptureError as exc:
        post(LoadFailed(str(exc)))
        return
    except OSError as exc:
        post(LoadFailed(f"cannot read {path}: {exc.strerror or exc}"))
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


def _row_values(call: "Call") -> tuple:
    """A call's ``CallRow`` as plain values (the row spill of ``iter_call_rows`` marshals them)."""
    from tui.call_rows import call_row

    row = call_row(call)
    return tuple(getattr(row, name) for name in row.__slots__)


def _numbered_values(values: tuple, number: int) -> tuple:
    return (number,) + values[1:]  # ``CallRow.index`` comes first


# The fields of a ``CallRow`` a busy capture repeats (method, outcome, kind, reference, source,
# destination, state): each text kept once, not once per row (rows come back from a spill file).
_SHARED_FIELDS = ("method", "outcome", "kind", "reference", "src", "dst", "state")


def _compact_row(values: tuple, shared: dict[str, str]) -> "CallRow":
    """The ``CallRow`` of ``_row_values``' values, its repeated texts shared through ``shared``
    and its only Call-ID the key itself: about half the memory of a row per call."""
    from tui.call_rows import CallRow

    row = CallRow(*values)
    texts: dict[str, Any] = {name: shared.setdefault(getattr(row, name), getattr(row, name))
                             for name in _SHARED_FIELDS}
    if row.call_ids == (row.key,):
        texts["call_ids"] = (row.key,)
    return replace(row, **texts)


def _summary(result: Any, known: dict[tuple, "CheckSummary"]) -> "CheckSummary":
    """A check result's ``CheckSummary``, one object per (reference, count) of the capture."""
    key = (result.reference, len(result.deviations))
    return known.setdefault(key, CheckSummary(*key))


class _Settle:
    """The cyclic collector's work on the bounded path, kept proportional to what is new.

    Building a call makes reference cycles (a few dozen objects), so the collector stays on; but
    each of its full passes walks every object alive, and the passes over the calls keep one or
    two per call (what links read of a leg, each call's row): measured on 150,000 calls, full
    passes of 0.3-1.3 s, some 25 s in all, each holding the interpreter lock (keys wait). Every
    ``SETTLE_EVERY_CALLS`` calls, a full collection (of the objects made since the last step:
    the older are frozen) frees the cycles, and what is alive is frozen out of later passes;
    reference counting still frees it when it goes."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls % SETTLE_EVERY_CALLS == 0:
            gc.collect()
            gc.freeze()


class _Damage:
    """Damaged messages (``continuity.damaged``) counted as the calls are made, each message once
    (a call of linked Call-IDs is made twice), for the rules' settings: every message is in one
    call, once or as a capture copy."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._seen = bytearray(len(store))
        self.bad = 0

    def count(self, call: "Call") -> None:
        for message in itertools.chain(call.messages, *call.copies.values()):
            index = cast(Any, message).index  # ``StoredMessage``s, read back by number
            if not self._seen[index]:
                self._seen[index] = 1
                self.bad += self._store.damaged(message)


def load_bounded(post: Callable[[Message], Any], cancelled: Callable[[], bool], path: str, *,
                 engine: str = "auto", tls_keylog: str | None = None, media: bool = True,
                 check: bool = True) -> None:
    """``load_in_thread`` with the messages left in the file (``ladder calls``' and ``ladder
    check``'s way): the capture is read into its compact index, the calls are made one at a time
    (``ladder.calls.catalogue``) and only their rows kept, posted in batches as they come; a
    ladder reads its call back when opened. Media are bound once over every call, then the
    checker walks the calls one at a time again, posting each call's reference and count."""
    from ladder.capture.loader import load_capture  # (the rest once the first rows are out)

    throttle = ProgressThrottle(post, cancelled, capture_file_size(path), first_partial_s=BOUNDED_FIRST_PARTIAL_S,
                                partial_messages=BOUNDED_PARTIAL_MESSAGES)
    try:
        capture = load_capture(path, engine=engine, tls_keylog=tls_keylog, progress=throttle, media=media,
                               messages=False, locate=True)
        gc.freeze()  # the index and streams live as long as the app (see load_in_thread)
        from ladder.analysis import Analysis
        from ladder.calls.catalogue import CallCatalogue
        from ladder.media.binding import MediaIndex

        catalogue = CallCatalogue(capture)
        rows: list["CallRow"] = []
        shared: dict[str, str] = {}
        posted = 0
        last_post = time.monotonic()
        settle = _Settle()
        damage = _Damage(capture.message_store)

        def summary(call: "Call") -> tuple:
            settle()  # most calls are made (and summed up) in ``iter_call_rows``' pass 2
            damage.count(call)
            return _row_values(call)

        for values in catalogue.fill(summary, _numbered_values):
            rows.append(_compact_row(values, shared))
            if time.monotonic() - last_post >= ROWS_POST_INTERVAL_S:
                if cancelled():
                    return
                post(RowsSoFar(rows[posted:]))
                posted, last_post = len(rows), time.monotonic()
        streams = capture.streams if media else []
        if streams:  # a stream goes to at most one call: bound once over every call
            from ladder.calls.bounded import iter_calls

            media_index = MediaIndex.build(list(iter_calls(capture)), streams)
        else:
            media_index = MediaIndex.build([], [])
    except LoadCancelled:
        return
    except CaptureError as exc:
        post(LoadFailed(str(exc)))
        return
    except OSError as exc:
        post(LoadFailed(f"cannot read {path}: {exc.strerror or exc}"))
        return
    from ladder.capture.continuity import damage_text
    from ladder.check.rules import RuleSettings

    gc.freeze()
    analysis = Analysis(capture, [], media_index, media)
    store = capture.message_store
    assert store is not None, "loaded with locate=True"
    # The rules' settings as ``ladder check`` makes them: where the clock breaks, whether the
    # capture is damaged (counted above as the calls were made).
    checks = BoundedChecks(RuleSettings(end_ns=capture.last_ts_ns, breaks=tuple(b.span for b in store.breaks()),
                                        damaged=damage_text(damage.bad, len(store)) is not None))
    post(LoadFinished(analysis, rows=rows, catalogue=catalogue, bounded=checks))
    del rows
    if streams:
        post(bind_streams(analysis))
    if check:
        check_bounded(post, cancelled, analysis, catalogue, checks)


def check_bounded(post: Callable[[Message], Any], cancelled: Callable[[], bool], analysis: Analysis,
                  catalogue: "CallCatalogue", checks: BoundedChecks) -> None:
    """``check_in_thread`` on the bounded path: each call built again from where its messages
    are (``CallCatalogue.build``: read back, fully parsed), checked and released; only a
    ``CheckSummary`` of each is posted."""
    from ladder.check.references import load_references

    references = load_references()
    settings = checks.settings
    batch: dict[str, Any] = {}
    known: dict[tuple, CheckSummary] = {}
    last_post = time.monotonic()
    settle = _Settle()
    for key in catalogue.keys():
        if cancelled():
            return
        settle()
        try:
            batch[key] = _summary(analysis.check(catalogue.build(key), references, settings=settings), known)
        except Exception as exc:  # one call the checker cannot handle must not hide the others
            batch[key] = CheckFailed(f"{type(exc).__name__}: {exc}")
        if time.monotonic() - last_post >= CHECK_POST_INTERVAL_S:
            post(ChecksFinished(batch, done=False))
            batch = {}
            last_post = time.monotonic()
    post(ChecksFinished(batch, done=True))
