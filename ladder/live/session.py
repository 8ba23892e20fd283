"""A live capture: frames from an interface (dumpcap) or a HEP collector, fed to one pipeline.

One thread reads the source and feeds ``ladder.capture.pipeline.Pipeline`` (and ``-O``); anyone may
take a ``snapshot()`` meanwhile: a ``Capture`` of what arrived so far and its calls, built from
the messages as ``load_capture`` + ``build_calls`` would from a file of the same frames. A lock
is held while the pipeline handles a frame and released while the source waits for the next,
so a snapshot never sees a frame half-handled.

Bounded for a day-long run: at most ``limit`` calls are kept (sngrep's ``-l``); older ones are
dropped with their messages and the media last seen before the oldest kept call, and counted.
Each stream's statistics are constant-size (``ladder.media.streams``), so memory follows the
limit, not the duration.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ladder.calls.grouping import CallMemo, calls_of_messages
from ladder.capture.loader import Capture
from ladder.capture.reader import ACCELERATED
from ladder.errors import CaptureError
from ladder.capture.pipeline import Pipeline

DEFAULT_LIMIT = 2000
# A call that ended (final answer to its INVITE, BYE answered, or any other request answered)
# is reported once it has been quiet this long: its ACK and retransmissions come first.
LINGER_NS = 2_000_000_000
# RFC 3261 §13.3.1.4: a UAS whose 2xx is never ACKed gives up on the dialog after 64*T1.
UNACKED_NS = 64 * 500_000_000
# Anything quiet this long is reported as it stands (a call whose BYE was never captured).
IDLE_NS = 600_000_000_000
# A snapshot derives again the kept calls that changed (and links them all): with thousands
# kept and many changing it takes a good part of a second. At most this share of the time goes
# to snapshots (the refresh slows instead), so the reader keeps the CPU it needs not to fall
# behind the traffic.
SNAPSHOT_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class LiveStatus:
    label: str
    packets: int
    calls: int
    limit: int
    dropped_calls: int
    engine_drops: int | None  # None: the engine reports its drops when it stops
    has_engine: bool  # False for a HEP collector: the kernel's drops at our socket are ours
    our_drops: int
    elapsed_s: float
    running: bool
    error: str | None

    def line(self) -> str:
        minutes, seconds = divmod(int(self.elapsed_s), 60)
        hours, minutes = divmod(minutes, 60)
        engine = "at stop" if self.engine_drops is None else f"{self.engine_drops:,}"
        if not self.has_engine:
            engine = "none (no engine)"
        text = (f"{self.label}: {self.packets:,} packets · {self.calls:,} calls (limit {self.limit:,}, "
                f"{self.dropped_calls:,} dropped) · drops: engine {engine}, ours {self.our_drops:,} · "
                f"{hours:02d}:{minutes:02d}:{seconds:02d}")
        if not self.running:
            text += " · stopped"
        return text


class LiveSession:
    def __init__(self, source, *, limit: int = DEFAULT_LIMIT, writer=None, media: bool = True):
        if limit < 1:
            raise CaptureError("--limit must keep at least one call")
        self.source = source
        self.label = source.label
        self.limit = limit
        self.writer = writer
        self.media = media
        self.pipeline = Pipeline(media=media)
        self.packets = 0
        self.dropped_calls = 0
        self.error: str | None = None
        self.started = time.monotonic()
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._index_offset = 0  # calls dropped so far: the kept calls keep their numbers
        self.snapshot_s = 0.0  # how long the last snapshot took
        self.snapshot_cpu_s = 0.0  # and the CPU time it used (its thread's)
        self._memo = CallMemo()  # a snapshot derives again only the calls that changed

    def start(self) -> None:
        """Start the source (raises ``CaptureError`` with one line when it cannot) and the reader."""
        try:
            self.source.start()
        except BaseException:
            if self.writer is not None:
                self.writer.discard()  # nothing was captured: leave no empty file behind
            raise
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True, name="live-reader")
        self._thread.start()

    def _run(self) -> None:
        try:
            self.pipeline.feed_records(self._records(self._accelerator()))
        except CaptureError as exc:
            self.error = str(exc)
        except Exception as exc:  # a decoder bug must end the session with a message, not hang it
            self.error = f"internal error while reading: {type(exc).__name__}: {exc}"
        finally:
            self.finished.set()

    def _accelerator(self):
        """The compiled fast path, as a file gets it, for a source that reads capture files
        (dumpcap's ring) when nothing is written to ``-O``: the frames it takes never reach
        Python, so they could not be written. It changes stream state that ``snapshot`` reads,
        so it runs under the session's lock."""
        if self.writer is not None or not getattr(self.source, "takes_accelerator", False):
            return None
        fast = self.pipeline.accelerator()
        return _Locked(fast, self._lock) if fast is not None else None

    def _records(self, accelerator=None):
        lock = self._lock
        records = self.source.records(accelerator) if accelerator is not None else self.source.records()
        writer = self.writer
        while True:
            try:
                record = next(records)  # may wait for traffic: the lock is free meanwhile
            except StopIteration:
                return
            lock.acquire()
            try:
                # a run of frames the compiled fast path took arrives as one record
                self.packets += record[2].frames if record[1] == ACCELERATED else 1
                if writer is not None:
                    ts_ns, linktype, buf, off, caplen, origlen, _offset = record
                    writer.write(ts_ns, linktype, buf, off, caplen, origlen)
                yield record  # the pipeline handles it before asking for the next
            finally:
                lock.release()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop the source, let the reader drain what it already captured (for at most
        ``timeout`` seconds: a backlog the reader cannot finish is said, not silently cut),
        close ``-O``."""
        self.source.stop()
        if not self.finished.wait(timeout):
            self.error = self.error or f"stopped {timeout:.0f} s before reading all that was captured"
        self.source.close()
        if self.writer is not None:
            with self._lock:
                self.writer.close(self.source.engine_drops)
        for problem in getattr(self.source, "errors", []):
            if self.error is None and problem:
                self.error = problem

    def status(self) -> LiveStatus:
        return LiveStatus(
            label=self.label, packets=self.packets, calls=len(self.pipeline.call_ids), limit=self.limit,
            dropped_calls=self.dropped_calls, engine_drops=self.source.engine_drops,
            has_engine=self.source.has_engine,
            our_drops=self.source.our_drops, elapsed_s=time.monotonic() - self.started,
            running=not self.finished.is_set(), error=self.error,
        )

    def flush(self) -> None:
        if self.writer is not None:
            with self._lock:
                self.writer.flush()

    def snapshot(self, *, streams: bool = True) -> tuple[Capture, list, list]:
        """(capture so far, its calls, the calls dropped by ``limit`` just now): the calls
        numbered on from the ones dropped earlier. ``streams=False``: the capture's RTP streams
        are left out (``[]``), for a reader of the calls alone (their statistics cost a
        snapshot of every stream kept)."""
        started, started_cpu = time.monotonic(), time.thread_time()
        with self._lock:
            capture = self._capture(streams)
        # numbered on from the calls dropped before: a kept call keeps its number, and the
        # memo's calls are returned as they are
        calls = calls_of_messages(capture.sip_messages, self._memo, start=self._index_offset + 1)
        dropped: list = []
        if len(calls) > self.limit:
            dropped = calls[: len(calls) - self.limit]
            calls = calls[len(calls) - self.limit:]
            gone = {call_id for call in dropped for call_id in call.call_ids}
            oldest_kept = min(call.start_ns for call in calls)
            with self._lock:
                self.pipeline.forget(gone, oldest_kept)
                capture = self._capture(streams)
            self.dropped_calls += len(dropped)
            # The kept calls stand as they were built (none shares a Call-ID with a dropped one).
            self._index_offset += len(dropped)
        self.snapshot_s = time.monotonic() - started
        self.snapshot_cpu_s = time.thread_time() - started_cpu
        return capture, calls, dropped

    def refresh_after(self, wanted_s: float) -> float:
        """Seconds to wait before the next snapshot: ``wanted_s``, or longer when snapshots
        cost more than ``SNAPSHOT_SHARE`` of the time. Their CPU time, not their wall time:
        on a busy machine a snapshot waits for a core too, and pacing by that wait made each
        refresh later, so the next snapshot had more to derive, and took longer still."""
        return max(wanted_s, self.snapshot_cpu_s * (1 / SNAPSHOT_SHARE - 1))

    def _capture(self, streams: bool = True) -> Capture:
        pipeline = self.pipeline
        messages = list(pipeline.sip_messages)
        return Capture(
            path=self.label, engine="live", file_size=0, frames=self.packets,
            first_ts_ns=messages[0].ts_ns if messages else None,
            last_ts_ns=messages[-1].ts_ns if messages else None,
            sip_messages=messages, streams=pipeline.streams_so_far() if streams else [],
            rtcp_packets=pipeline.rtcp_packets,
            frame_classes=dict(pipeline.frame_classes), diagnostics=dict(pipeline.diagnostics),
            diagnostic_list=list(pipeline.diagnostic_list), errors=list(getattr(self.source, "errors", [])),
        )


class _Locked:
    """The compiled fast path with every call made under ``lock`` (its attributes read as they are)."""

    def __init__(self, accelerator, lock: threading.Lock):
        self._accelerator = accelerator
        self._lock = lock

    def __getattr__(self, name: str):
        value = getattr(self._accelerator, name)
        if not callable(value):
            return value
        lock = self._lock

        def locked(*args):
            with lock:
                return value(*args)

        return locked


def call_ended(call, now_ns: int, linger_ns: int = LINGER_NS) -> bool:
    """Whether a live call is over: hung up (completed), failed, or any other request
    answered, and quiet for ``linger_ns``; or quiet for ``IDLE_NS`` whatever its state."""
    quiet = now_ns - call.end_ns
    if quiet >= IDLE_NS:
        return True
    if quiet < linger_ns:
        return False
    code = call.outcome.code
    if code in ("setup", "ringing"):
        return False
    if call.kind == "call" and code == "in-call":
        # answered, no BYE yet: over only when the 2xx was never ACKed (RFC 3261 §13.3.1.4)
        return quiet >= UNACKED_NS and not any(m.is_request and m.method == "ACK" for m in call.messages)
    return True
