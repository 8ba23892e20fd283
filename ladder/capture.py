"""``load_capture``: a whole capture file read into one ``Capture`` snapshot.

The fast engine (``ladder.ingest`` + ``ladder.pipeline``) reads pcap / pcapng; the pyshark
engine (``ladder.pyshark_engine``, tshark underneath) reads what it cannot and TLS with a key
log. ``CaptureError`` is raised only when nothing at all could be read; otherwise the snapshot
holds whatever was read plus one-line file-level problems in ``errors``.
"""

from __future__ import annotations

import gc
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from decoders.records import Diagnostic
from ladder.errors import CaptureError
from ladder.ingest import CaptureReader, UnknownFormat
from ladder.pipeline import Pipeline
from ladder.progress import Progress

ENGINES = ("auto", "dpkt", "pyshark")
PROGRESS_EVERY = 8192  # frames between two looks at the clock
# Allocations between two collections of the youngest generation while a capture loads
# (CPython's default is 700); see ``_bulk_load``.
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

    @property
    def rtp_packets(self) -> int:
        return self.frame_classes.get("rtp", 0)


def load_capture(
    path: str,
    *,
    engine: str = "auto",
    tls_keylog: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    media: bool = True,
) -> Capture:
    """Read the capture at ``path`` (``-`` for stdin) with the chosen engine."""
    if engine not in ENGINES:
        raise CaptureError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    with _bulk_load():
        if engine == "pyshark" or tls_keylog:
            return _load_pyshark(path, tls_keylog, progress, media, [])
        try:
            return _load_fast(path, progress, media)
        except UnknownFormat as exc:
            if engine == "dpkt":
                raise
            print(f"ladder: notice: {exc}; reading it with tshark (pyshark engine)", file=sys.stderr)
            return _load_pyshark(path, tls_keylog, progress, media, [])


@contextmanager
def _bulk_load():
    """A load keeps hundreds of thousands of small objects (SIP messages, their headers and
    SDP) and makes next to no reference cycles, so the cyclic collector's default pace spends
    a third of a SIP-heavy load re-scanning live objects. Its youngest generation is collected
    less often meanwhile; reference counting still frees everything else at once."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], LOAD_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _load_fast(path: str, progress: Callable[[Progress], None] | None, media: bool) -> Capture:
    pipeline = Pipeline(media=media)
    started = time.monotonic()
    with CaptureReader(path) as reader:
        def tick() -> None:
            progress(_progress(pipeline, reader.bytes_read, reader.file_size, started))

        pipeline.feed_records(reader.records(pipeline.accelerator()), tick if progress is not None else None, PROGRESS_EVERY)
        pipeline.finish()
        if progress is not None:
            progress(_progress(pipeline, reader.bytes_read, reader.file_size, started, True))
        if pipeline.frames == 0 and reader.errors:
            raise CaptureError(f"{reader.errors[0]} (no complete frame could be read)")
        return _snapshot(path, "dpkt", reader.file_size, pipeline, list(reader.errors), dict(reader.link_types))


def _load_pyshark(
    path: str, tls_keylog: str | None, progress: Callable[[Progress], None] | None, media: bool, errors: list[str]
) -> Capture:
    from ladder.pyshark_engine import DecryptedSip, read_frames_pyshark

    pipeline = Pipeline(media=media)
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
        if progress is not None and number % PROGRESS_EVERY == 0:
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
        len(pipeline.sip_messages), len(pipeline.call_ids), pipeline.sip_messages.copy,
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
    )
