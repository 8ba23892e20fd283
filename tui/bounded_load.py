"""The TUI's loader on the bounded path: a big capture's messages stay in the file.

``load_bounded`` is ``tui.loading.load_in_thread`` the way ``ladder calls`` and ``ladder check``
read a busy capture: the capture is read into its compact index (``locate=True``), the calls are
made one at a time (``ladder.calls.catalogue.CallCatalogue``) and only a row of each is kept,
posted in batches as they come; a ladder reads its call back when opened; the checker builds
each call again, checks it and posts only counts (``CheckSummary``). It posts the same messages
as the full load, so the app and its screens are the same.
"""

from __future__ import annotations

import gc
import itertools
import time
from typing import TYPE_CHECKING, Any, Callable, cast

from textual.message import Message

from ladder.errors import CaptureError
from tui.loading import (CHECK_POST_INTERVAL_S, PROGRESS_INTERVAL_S, BoundedChecks, CallsMade, CheckFailed,
                         ChecksFinished, CheckSummary, LoadCancelled, LoadFinished, ProgressThrottle, RowsSoFar,
                         bind_streams, capture_file_size, load_failed)

if TYPE_CHECKING:
    from ladder.analysis import Analysis
    from ladder.calls.catalogue import CallCatalogue
    from ladder.calls.grouping import Call
    from tui.call_rows import CallRow

# On the bounded path the list first shows the calls of the capture's first messages, read back
# (a window: rebuilding every message so far would grow with the file), soon into the load;
# then the calls themselves, in batches, as they are made.
BOUNDED_FIRST_PARTIAL_S = 0.0  # at the first progress report (8192 frames in)
BOUNDED_PARTIAL_MESSAGES = 500  # ~60 ms of CPU: about a hundred calls, a few screenfuls
# Calls made between two ``_Settle`` steps on the bounded path (see there).
SETTLE_EVERY_CALLS = 2000
ROWS_POST_INTERVAL_S = 0.5


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

    fields = CallRow.__slots__
    made = list(values)
    for name in _SHARED_FIELDS:
        at = fields.index(name)
        made[at] = shared.setdefault(made[at], made[at])
    key, call_ids = fields.index("key"), fields.index("call_ids")
    if made[call_ids] == (made[key],):
        made[call_ids] = (made[key],)
    return CallRow(*made)


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


class _Made:
    """Counts the calls made and posts ``CallsMade`` a few times a second (the first at once:
    the read is over and the progress bar now follows the correlation)."""

    def __init__(self, post: Callable[[Message], Any], call_ids: int) -> None:
        self._post = post
        self._call_ids = call_ids
        self.made = 0
        self._last = float("-inf")

    def __call__(self) -> None:
        self.made += 1
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._post(CallsMade(self.made, self._call_ids))


class _Damage:
    """Damaged messages (``continuity.damaged``) counted as the calls are made, each message once
    (a call of linked Call-IDs is made twice), for the rules' settings: every message is in one
    call, once or as a capture copy."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._seen = bytearray(len(store))
        self.bad = 0

    def count(self, call: "Call") -> None:
        if getattr(call, "intact", False):
            # A simple call's (``ladder.calls.simple_calls``): none of its messages is damaged and
            # it has no copies; its messages are only marked counted, by number.
            seen = self._seen
            for index in cast(Any, call.messages).numbers:
                seen[index] = 1
            return
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
        made = _Made(post, throttle.call_ids)

        def summary(call: "Call") -> tuple:
            settle()  # most calls are made (and summed up) in ``iter_call_rows``' pass 2
            made()
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
        if streams:  # a stream goes to at most one call: bound once over every call, each
            from ladder.calls.bounded import iter_calls  # held as what binding reads of it
            from ladder.media.binding import CallMedia

            media_index = MediaIndex.build([CallMedia.of(call) for call in iter_calls(capture)], streams)
        else:
            media_index = MediaIndex.build([], [])
    except LoadCancelled:
        return
    except (CaptureError, OSError) as exc:
        post(load_failed(path, exc))
        return
    from ladder.capture.continuity import damage_text
    from ladder.check.rules import RuleSettings

    gc.freeze()
    analysis = Analysis(capture, [], media_index, media)
    store = capture.located_store()
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
