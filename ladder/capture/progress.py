"""Progress of a long read: a small record, and a throttled one-line meter for a terminal."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from decoders.sip import SipMessage


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a read stands: frames and (uncompressed) bytes so far, the file size if known, and
    the SIP messages and distinct Call-IDs found so far."""

    frames: int
    bytes_read: int
    file_size: int
    elapsed_s: float
    done: bool = False
    sip_messages: int = 0
    call_ids: int = 0
    # A copy of the SIP messages found so far, for a caller that shows calls while the read
    # goes on (the TUI's call list). Called in the reading thread, inside the callback.
    sip_so_far: "Callable[[], list[SipMessage]] | None" = field(default=None, compare=False, repr=False)

    @property
    def rate(self) -> float:
        """Frames per second so far."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def describe(self) -> str:
        mb = self.bytes_read / 1e6
        text = f"{self.frames:,} packets, {mb:,.1f} MB"
        if self.file_size and not self.done:
            text += f" of {self.file_size / 1e6:,.1f} MB"
        return f"{text}, {self.rate:,.0f} packets/s"


class ProgressMeter:
    """Draws ``Progress`` on one terminal line, at most ``per_second`` times a second, and
    erases it when the read is done so that only the result remains."""

    def __init__(self, stream: TextIO | None = None, per_second: float = 4.0):
        self.stream = stream if stream is not None else sys.stderr
        self.interval = 1.0 / per_second
        self._last = 0.0
        self._drawn = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.done:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            return
        if now - self._last < self.interval:
            return
        self._last = now
        self._drawn = True
        self.stream.write("\r\x1b[K" + "reading: " + progress.describe())
        self.stream.flush()


def terminal_meter(enabled: bool = True) -> ProgressMeter | None:
    """A meter on stderr when stderr is a terminal and progress is wanted, else None."""
    if enabled and sys.stderr is not None and sys.stderr.isatty():
        return ProgressMeter(sys.stderr)
    return None
