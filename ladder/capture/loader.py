"""``load_capture``: a whole capture file read into one ``Capture`` snapshot.

The fast engine (``ladder.capture.reader`` + ``ladder.capture.pipeline``) reads pcap / pcapng; the pyshark
engine (``ladder.capture.pyshark_reader``, tshark underneath) reads what it cannot and TLS with a key
log. ``CaptureError`` is raised only when nothing at all could be read; otherwise the snapshot
holds whatever was read plus one-line file-level problems in ``errors``.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable

from decoders.records import Diagnostic
from ladder.errors import CaptureError
from ladder.capture.reader import CaptureReader, UnknownFormat
from ladder.capture.limits import Limits
from ladder.capture.pipeline import Pipeline
from ladder.capture.progress import Progress
from ladder.capture.sipindex import SipIndex
from ladder.capture.messagestore import MessageStore

ENGINES = ("auto", "dpkt", "pyshark")
PROGRESS_EVERY = 8192  # frames between two looks at the clock
# Allocations between two collections of the youngest generation while a capture loads
# (CPython's default is 700); see ``_BulkLoad``.
LOAD_GC_THRESHOLD = 100_000


@dataclass(frozen=True, slots=True, eq=False)
class Capture:
    """Everything the rest of the program needs from one capture file."""

    path: str
    engine: str
    file_size: int
    frames: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    sip_messages: list
    streams: list
    rtcp_packets: int
    frame_classes: dict[str, int]
    diagnostics: dict[str, int]
    diagnostic_list: list[Diagnostic]
    errors: list[str] = field(default_factory=list)
    link_types: dict[int, int] = field(default_factory=dict)
    # One compact record per SIP message (always filled); ``sip_messages`` is empty when the
    # capture was loaded with ``messages=False``.
    sip_index: SipIndex = field(default_factory=SipIndex)
    # With ``locate=True``: where each message's bytes are, read back call by call
    # (``ladder.capture.messagestore``); None otherwise.
    message_store: MessageStore | None = None
    # The one time base of every output (ladder times, JSON "time", HTML charts): the earliest
    # time the capture holds, of its frames or carried inside them (a HEP agent's timestamp
    # may precede the frame that brought it), so no time shown is negative.
    time_base_ns: int | None = None

    @property
    def rtp_packets(self) -> int:
        return self.frame_classes.get("rtp", 0)

    def located_store(self) -> MessageStore:
        """The message store, for what reads calls back from the file (a bounded pass)."""
        if self.message_store is None:
            raise ValueError("calls are read back from the message store: load the capture with locate=True")
        return self.message_store


def load_capture(
    path: str,
    *,
    engine: str = "auto",
    tls_keylog: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    media: bool = True,
    limits: Limits | None = None,
    messages: bool = True,
    locate: bool = False,
) -> Capture:
    """Read the capture at ``path`` (``-`` for stdin) with the chosen engine, within ``limits``
    (``ladder.capture.limits``; the defaults when None). ``messages=False`` keeps only
    ``Capture.sip_index`` (compact records), not the parsed messages; with ``locate=True`` too,
    ``Capture.message_store`` says where each message is, to read it back."""
    limits = limits or Limits()
    if engine not in ENGINES:
        raise CaptureError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    with _BulkLoad() as bulk:
        if engine == "pyshark" or tls_keylog:
            return _load_pyshark(path, tls_keylog, progress, media, [], bulk, limits, messages, locate)
        try:
            return _load_fast(path, progress, media, bulk, limits, messages, locate)
        except UnknownFormat as exc:
            if engine == "dpkt":
                raise
            print(f"ladder: notice: {exc}; reading it with tshark (pyshark engine)", file=sys.stderr)
            return _load_pyshark(path, tls_keylog, progress, media, [], bulk, limits, messages, locate)


@contextlib.contextmanager
def collector_paced() -> Iterator[None]:
    """The cyclic collector's youngest generation collected every ``LOAD_GC_THRESHOLD``
    allocations, not CPython's 700 (``_BulkLoad``'s reason), while a command makes many
    short-lived objects from a loaded capture and next to no cycles: ``ladder check``'s full
    parse, ladder and rules of each call (the parse memos keep thousands alive, which at the
    default pace were re-scanned 1,372 times on sip-15000: 3% of the command), ``ladder
    calls``' rows (2% of their work on a busy hour). Only when objects are collected changes,
    never what is written; a cycle, if one is made, is still collected, a hundred thousand
    allocations later at most. The threshold is given back after, also on an error."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], LOAD_GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


class _BulkLoad:
    """The cyclic garbage collector's pace while a capture loads.

    A load keeps hundreds of thousands of small objects (SIP messages, their headers, SDP,
    streams) and makes next to no reference cycles, so at CPython's default pace the collector
    spends a quarter to a third of a SIP-heavy load re-scanning objects that stay alive: each
    full collection walks everything kept so far. Meanwhile the youngest generation is collected
    less often, and every few thousand frames (``settle``) what is alive is frozen out of the
    collector's sight (``gc.freeze``); the end of the load thaws it, so cycles, had any been
    made, are still collected. Reference counting frees everything else at once, as always.
    Frozen objects of someone else's (a freeze count above zero on entry) are left alone."""

    def __enter__(self) -> _BulkLoad:
        self._threshold = gc.get_threshold()
        gc.set_threshold(max(self._threshold[0], LOAD_GC_THRESHOLD), *self._threshold[1:])
        self._freezing = gc.get_freeze_count() == 0
        return self

    def settle(self) -> None:
        if self._freezing:
            gc.freeze()

    def __exit__(self, *exc: object) -> None:
        if self._freezing:
            gc.unfreeze()
        gc.set_threshold(*self._threshold)


def _load_fast(
    path: str, progress: Callable[[Progress], None] | None, media: bool, bulk: _BulkLoad, limits: Limits,
    messages: bool = True, locate: bool = False,
) -> Capture:
    pipeline = Pipeline(media=media, limits=limits, messages=messages, locate=locate)
    started = time.monotonic()
    with CaptureReader(path, max_gzip_ratio=limits.gzip_ratio) as reader:
        if pipeline.message_store is not None and not reader.compressed and path != "-":
            pipeline.buffer_base = reader.buffer_base  # plain UDP payloads are read back from the file
            pipeline.message_store.path = path
        def tick() -> None:
            bulk.settle()
            if progress is not None:
                progress(_progress(pipeline, reader.bytes_read, reader.file_size, started))

        pipeline.feed_records(reader.records(pipeline.accelerator()), tick, PROGRESS_EVERY)
        pipeline.finish()
        if pipeline.message_store is not None:  # the passes over the calls that follow keep no C state
            pipeline.sip_index.release_interner()
        if progress is not None:
            progress(_progress(pipeline, reader.bytes_read, reader.file_size, started, True))
        if pipeline.frames == 0 and reader.errors:
            raise CaptureError(f"{reader.errors[0]} (no complete frame could be read)")
        return _snapshot(path, "dpkt", reader.file_size, pipeline, list(reader.errors), dict(reader.link_types))


def _load_pyshark(
    path: str, tls_keylog: str | None, progress: Callable[[Progress], None] | None, media: bool, errors: list[str],
    bulk: _BulkLoad, limits: Limits, messages: bool = True, locate: bool = False,
) -> Capture:
    from ladder.capture.pyshark_reader import DecryptedSip, read_frames_pyshark

    pipeline = Pipeline(media=media, limits=limits, messages=messages, locate=locate)
    started = time.monotonic()
    link_types: dict[int, int] = {}
    number = 0
    for frame in read_frames_pyshark(path, tls_keylog=tls_keylog, errors=errors):
        number += 1
        if isinstance(frame, DecryptedSip):
            pipeline.feed_decrypted(frame.number, frame.ts_ns, frame.src, frame.dst, frame.payloads)
        else:
            link_types[frame.linktype] = link_types.get(frame.linktype, 0) + 1
            pipeline.feed_frame(frame)
        if number % PROGRESS_EVERY == 0:
            bulk.settle()
            if progress is not None:
                progress(_progress(pipeline, 0, 0, started))
    pipeline.finish()
    if progress is not None:
        progress(_progress(pipeline, 0, 0, started, True))
    size = 0
    if path != "-":
        import os

        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0
    return _snapshot(path, "pyshark", size, pipeline, errors, link_types)


def _progress(pipeline: Pipeline, bytes_read: int, file_size: int, started: float, done: bool = False) -> Progress:
    return Progress(
        pipeline.frames, bytes_read, file_size, time.monotonic() - started, done,
        len(pipeline.sip_index), len(pipeline.call_ids),
        pipeline.sip_messages.copy if pipeline.message_store is None else pipeline.message_store.so_far,
    )


def _snapshot(
    path: str, engine: str, file_size: int, pipeline: Pipeline, errors: list[str], link_types: dict[int, int]
) -> Capture:
    return Capture(
        path=path,
        engine=engine,
        file_size=file_size,
        frames=pipeline.frames,
        first_ts_ns=pipeline.first_ts_ns,
        last_ts_ns=pipeline.last_ts_ns,
        sip_messages=pipeline.sip_messages,
        streams=list(pipeline.streams),
        rtcp_packets=pipeline.rtcp_packets,
        frame_classes=dict(sorted(pipeline.frame_classes.items(), key=lambda item: (-item[1], item[0]))),
        diagnostics=dict(sorted(pipeline.diagnostics.items(), key=lambda item: (-item[1], item[0]))),
        diagnostic_list=list(pipeline.diagnostic_list),
        errors=errors,
        link_types=link_types,
        sip_index=pipeline.sip_index,
        message_store=pipeline.message_store,
        time_base_ns=_earliest(pipeline),
    )


def _earliest(pipeline: Pipeline) -> int | None:
    messages = (m.ts_ns for m in pipeline.sip_messages) if pipeline.message_store is None else pipeline.sip_index.ts_ns
    times = [pipeline.first_ts_ns, min(messages, default=None),
             min((s.first_ns for s in pipeline.streams), default=None)]
    return min((t for t in times if t is not None), default=None)
