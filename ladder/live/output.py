"""``-O FILE.pcapng`` of a live capture, optionally as a ring of files (``--ring COUNTxSIZE``).

Each file is a complete pcapng of its own: a section header, one interface block per link type
(nanosecond ``if_tsresol``), the frames as Enhanced Packet Blocks and, when the file is
closed, an Interface Statistics Block per interface with the frames written and the drops the
capture engine reported. A ring keeps the COUNT newest files (FILE_00001_YYYYmmddHHMMSS.pcapng,
as dumpcap names its own), switching when a file reaches SIZE bytes or has covered DURATION.
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections import deque

from ladder import __version__
from ladder.errors import CaptureError, UsageError

_UNITS = {"": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_DURATIONS = {"s": 1, "min": 60, "h": 3600, "d": 86400}
MIN_FILE_BYTES = 10_000  # smaller files would hold a few frames each


def parse_ring(text: str) -> tuple[int, int | None, float | None]:
    """``10x100M`` → (10, 100 MB, None); ``24x1h`` → (24, None, 3600 s). Sizes in k/M/G bytes
    (KiB/MiB/GiB also), durations in s/min/h/d."""
    match = re.fullmatch(r"(\d+)x(\d+(?:\.\d+)?)([a-zA-Z]*)", text.strip())
    if not match:
        raise UsageError(f"--ring {text!r}: expected COUNTxSIZE (10x100M) or COUNTxDURATION (24x1h)")
    count, amount, unit = int(match.group(1)), float(match.group(2)), match.group(3)
    if count < 1:
        raise UsageError(f"--ring {text!r}: keep at least one file")
    if unit in _DURATIONS:
        seconds = amount * _DURATIONS[unit]
        if seconds < 1:
            raise UsageError(f"--ring {text!r}: a file must cover at least one second")
        return count, None, seconds
    if unit.lower() not in _UNITS:
        raise UsageError(f"--ring {text!r}: unknown unit {unit!r} (k, M, G bytes; s, min, h, d)")
    size = int(amount * _UNITS[unit.lower()])
    if size < MIN_FILE_BYTES:
        raise UsageError(f"--ring {text!r}: files of at least {MIN_FILE_BYTES:,} bytes")
    return count, size, None


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


class PcapngFile:
    """One pcapng file being written."""

    def __init__(self, path: str):
        try:
            self._file = open(path, "wb", buffering=1 << 16)  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise CaptureError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.path = path
        self.size = 0
        self.opened = time.monotonic()
        self._interfaces: dict[int, int] = {}  # link type -> interface id
        self._frames: list[int] = []  # per interface
        options = _option(4, f"pcapladder {__version__} (ladder live)".encode()) + _option(0, b"")
        self._write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + options))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)

    def write(self, ts_ns: int, linktype: int, data: bytes, origlen: int) -> None:
        iface = self._interfaces.get(linktype)
        if iface is None:
            iface = self._interfaces[linktype] = len(self._interfaces)
            self._frames.append(0)
            options = _option(9, b"\x09") + _option(0, b"")  # if_tsresol: nanoseconds
            self._write(_block(1, struct.pack("<HHI", linktype, 0, 0) + options))
        self._frames[iface] += 1
        pad = b"\0" * (-len(data) % 4)
        body = struct.pack("<IIIII", iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data), origlen)
        self._write(_block(6, body + data + pad))

    def flush(self) -> None:
        self._file.flush()

    def close(self, engine_drops: int | None = None) -> None:
        """Interface statistics (isb_ifrecv: frames in this file; isb_ifdrop: the engine's
        drops over the whole capture, on the first interface), then close."""
        now = time.time_ns()
        for iface, frames in enumerate(self._frames):
            options = _option(4, struct.pack("<Q", frames))
            if iface == 0 and engine_drops is not None:
                options += _option(5, struct.pack("<Q", engine_drops))
            body = struct.pack("<III", iface, now >> 32, now & 0xFFFFFFFF) + options + _option(0, b"")
            self._write(_block(5, body))
        self._file.close()


class CaptureWriter:
    """``-O``: one file, or a ring of ``count`` files switched by size or by age."""

    def __init__(self, path: str, ring: str | None = None):
        self.path = path
        self.count, self.max_bytes, self.max_seconds = parse_ring(ring) if ring else (1, None, None)
        self.ring = ring is not None
        self.files: deque[str] = deque()
        self.frames = 0
        self._sequence = 0
        self._current = self._open()

    def _name(self) -> str:
        if not self.ring:
            return self.path
        self._sequence += 1
        stem, ext = os.path.splitext(self.path)
        return f"{stem}_{self._sequence:05d}_{time.strftime('%Y%m%d%H%M%S')}{ext or '.pcapng'}"

    def _open(self) -> PcapngFile:
        current = PcapngFile(self._name())
        self.files.append(current.path)
        while len(self.files) > self.count:
            try:
                os.unlink(self.files.popleft())
            except OSError:
                pass
        return current

    def write(self, ts_ns: int, linktype: int, buf: bytes, off: int, caplen: int, origlen: int) -> None:
        current = self._current
        if self.ring and ((self.max_bytes and current.size >= self.max_bytes)
                          or (self.max_seconds and time.monotonic() - current.opened >= self.max_seconds)):
            current.close()
            current = self._current = self._open()
        current.write(ts_ns, linktype, bytes(buf[off:off + caplen]), origlen)
        self.frames += 1

    def flush(self) -> None:
        self._current.flush()

    def close(self, engine_drops: int | None = None) -> None:
        self._current.close(engine_drops)

    def discard(self) -> None:
        """The capture never started: close and remove the files opened for it."""
        self._current.close()
        for path in self.files:
            try:
                os.unlink(path)
            except OSError:
                pass
