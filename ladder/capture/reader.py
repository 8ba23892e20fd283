"""Capture file reading: the only file I/O of the core.

Reads classic pcap (both byte orders, micro- and nanosecond magic, the Kuznetzov variant),
pcapng (several sections and interfaces, per-interface link type and ``if_tsresol``, EPB / SPB /
OPB, unknown blocks skipped), gzip-compressed files and ``-`` for stdin.

The record walker uses ``struct.unpack_from`` over bounded chunks, so resident memory stays
flat however big the file is (no whole-file read, no mmap). Problems with the file itself
(truncated last record, absurd lengths) end the walk with a one-line message in
``CaptureReader.errors``; every complete frame before them has already been yielded.
"""

from __future__ import annotations

import gzip
import io
import struct
import sys
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, NamedTuple, Protocol

from decoders.records import MAX_RECORD, MAX_TS_NS
from ladder.errors import CaptureError

try:  # pcapng interfaces the accelerator times; packets of later ones go to Python
    from ladder._accel import MAX_IFACES as ACCELERATED_INTERFACES
except ImportError:  # not built: nothing is accelerated
    ACCELERATED_INTERFACES = 0

CHUNK_SIZE = 1 << 20
# Non-packet pcapng blocks (name resolution, secrets, comments) may be larger, but not absurd.
MAX_BLOCK = 16 * 1024 * 1024
# Decompressed bytes per compressed byte beyond which a gzip capture is taken for a bomb
# (real captures compress 2-20 times; zeros reach 1,000), checked once this much came out.
MAX_GZIP_RATIO = 100
GZIP_RATIO_FLOOR = 16 * 1024 * 1024
# Distinct file-level problem lines kept; repeats of one kind fold into a count.
MAX_ERRORS = 100

PCAP_MAGICS = {
    # magic as read little-endian -> (byte order, nanosecond, extra record bytes)
    0xA1B2C3D4: ("<", False, 0),
    0xD4C3B2A1: (">", False, 0),
    0xA1B23C4D: ("<", True, 0),
    0x4D3CB2A1: (">", True, 0),
    0xA1B2CD34: ("<", False, 8),  # Kuznetzov's patched libpcap: 8 more bytes per record
    0x34CDB2A1: (">", False, 8),
}
# The link type of a record standing for a run of frames the accelerator took:
# (last ts, ACCELERATED, AcceleratedRun, 0, 0, 0, 0) (see ``CaptureReader.records``).
ACCELERATED = -1
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D


class AcceleratedRun(NamedTuple):
    """A run of frames the accelerator took, in the ``buf`` slot of an ``ACCELERATED`` record."""

    first_ts_ns: int
    last_ts_ns: int
    frames: int


class UnknownFormat(CaptureError):
    """The file is readable but not pcap/pcapng (NetMon, ERF, …): another engine may read it."""


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One captured frame as every engine yields it. ``caplen < origlen`` means snaplen cut it."""

    number: int
    ts_ns: int
    linktype: int
    caplen: int
    origlen: int
    data: bytes
    offset: int


class ByteStream(Protocol):
    """What a capture is read from: a file, stdin, gzip over either, a live source's files."""

    def read(self, size: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


class _PrefixedStream:
    """A read-only stream that first returns bytes already peeked (stdin cannot seek back)."""

    def __init__(self, prefix: bytes, stream: ByteStream):
        self._prefix = prefix
        self._stream = stream
        self.consumed = len(prefix)  # bytes taken from the underlying stream (the gzip ratio's base)

    def read(self, size: int = -1, /) -> bytes:
        if self._prefix:
            if size < 0 or size >= len(self._prefix):
                head, self._prefix = self._prefix, b""
                rest = self._stream.read(-1 if size < 0 else size - len(head)) or b""
                self.consumed += len(rest)
                return head + rest
            head, self._prefix = self._prefix[:size], self._prefix[size:]
            return head
        data = self._stream.read(size)
        self.consumed += len(data or b"")
        return data

    def seek(self, offset: int, /) -> int:
        """Never needed: gzip only seeks back when asked to rewind, and a capture is read once."""
        raise io.UnsupportedOperation("a capture stream is read once, from its start")

    def close(self) -> None:
        self._stream.close()


def check_openable(path: str) -> None:
    """Raise the ``CaptureError`` that reading ``path`` would (no such file, a directory,
    permission denied) without reading it: the TUI says so on one line before taking the screen."""
    if path != "-":
        _open_stream(path)[0].close()


def _open_stream(path: str) -> tuple[ByteStream, int, _PrefixedStream]:
    """The uncompressed byte stream of ``path`` (or stdin), the file size (0 unknown), and the
    raw stream under it (the same object unless gzip-compressed)."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        size = 0
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by CaptureReader.close
        except FileNotFoundError:
            raise CaptureError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise CaptureError(f"{path}: is a directory, not a capture file") from None
        except PermissionError:
            raise CaptureError(f"{path}: permission denied") from None
        except OSError as exc:
            raise CaptureError(f"{path}: cannot open: {exc.strerror or exc}") from None
        try:
            import os

            size = os.fstat(raw.fileno()).st_size
        except OSError:
            size = 0
    head = raw.read(2)
    stream = _PrefixedStream(head, raw)
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stream, mode="rb"), size, stream
    return stream, size, stream


class CaptureReader:
    """Walks the records of one capture. Iterate ``records()`` for the fast tuple form or
    ``frames()`` for ``RawFrame`` objects. ``errors`` holds file-level problems, ``bytes_read``
    the uncompressed bytes consumed so far, ``link_types`` frames per link type.

    ``max_gzip_ratio`` bounds decompressed bytes per compressed byte (``MAX_GZIP_RATIO``): a
    gzip bomb ends the walk with a clear message instead of running for hours. A problem that
    repeats (a packet for an undeclared interface, an absurd timestamp) is one line with a
    count, however often it occurs."""

    def __init__(self, path: str, stream: ByteStream | None = None, *, max_gzip_ratio: int = MAX_GZIP_RATIO):
        """``stream`` (a live capture's pipe, ``ladder.live.source``) is read instead of opening
        ``path``, which then only names it; its ``read(n)`` may return fewer bytes than asked."""
        self.path = path
        self.label = "stdin" if path == "-" else path
        self._stream: ByteStream
        self._raw: ByteStream
        if stream is not None:
            self._stream, self.file_size, self._raw = stream, 0, stream
        else:
            self._stream, self.file_size, self._raw = _open_stream(path)
        self.compressed = self._stream is not self._raw
        self.max_gzip_ratio = max_gzip_ratio
        self.errors: list[str] = []
        self._repeats: dict[object, list[int]] = {}  # kind -> [index in errors, repeats]
        self._dropped_errors = 0
        self.bytes_read = 0
        self.link_types: dict[int, int] = {}
        self.isb_drops: int | None = None  # the latest isb_ifdrop of a pcapng statistics block
        self.format = ""
        self._buf = b""
        self._pos = 0  # position of the next unread byte in _buf
        self._base = 0  # file offset of _buf[0]
        self._eof = False
        self._read_failed = False
        read1 = getattr(self._stream, "read1", None) if self.compressed else None
        self._read: Callable[[int], bytes] = read1 if read1 is not None else self._stream.read

    def buffer_base(self) -> int:
        """The file offset of the buffer the last record came in (``buf[0]``); meaningful for
        a plain file only (not gzip or a stream)."""
        return self._base

    # -- buffer handling ---------------------------------------------------------------------
    def _fill(self, need: int) -> bool:
        """Make at least ``need`` bytes available from ``_pos``; False at end of input."""
        while len(self._buf) - self._pos < need and not self._eof:
            try:
                # read1 on gzip: a truncated stream then yields everything before the cut
                # (read(n) would drop the whole last chunk when it raises EOFError).
                more = self._read(max(CHUNK_SIZE, need))
            except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
                where = "compressed data" if self.compressed else "file"
                self.errors.append(
                    f"{self.label}: {where} unreadable after byte {self._base + len(self._buf)}: {exc}"
                )
                more = b""
                self._read_failed = True
            if not more:
                self._eof = True
                break
            if self.compressed and self._bomb(self._base + len(self._buf) + len(more)):
                self._eof = True
                self._read_failed = True
                break
            self._base += self._pos
            self._buf = self._buf[self._pos :] + more
            self._pos = 0
        return len(self._buf) - self._pos >= need

    def _bomb(self, produced: int) -> bool:
        """Whether ``produced`` decompressed bytes exceed the ratio allowed to the compressed
        bytes read so far; then the reason is the file's last problem line."""
        consumed = self._raw.consumed if isinstance(self._raw, _PrefixedStream) else produced
        if produced < GZIP_RATIO_FLOOR or produced <= consumed * self.max_gzip_ratio:
            return False
        self.errors.append(
            f"{self.label}: decompressed data exceeds {self.max_gzip_ratio} times the compressed size "
            f"after {produced:,} bytes (a gzip bomb?); stopped reading there "
            f"(--max gzip-ratio=N raises the limit)"
        )
        return True

    def warn(self, kind: object, message: str) -> None:
        """One problem line; a problem of the same ``kind`` again only counts (``fold_warnings``)."""
        seen = self._repeats.get(kind)
        if seen is not None:
            seen[1] += 1
        elif len(self.errors) >= MAX_ERRORS:
            self._dropped_errors += 1
        else:
            self._repeats[kind] = [len(self.errors), 0]
            self.errors.append(message)

    def fold_warnings(self) -> None:
        """Write the repeat counts into the problem lines (at the end of the walk)."""
        for index, repeats in self._repeats.values():
            if repeats:
                self.errors[index] += f" ({repeats:,} more like it)"
        self._repeats.clear()
        if self._dropped_errors:
            self.errors.append(f"{self.label}: {self._dropped_errors:,} more problems of other kinds not listed")
            self._dropped_errors = 0

    def _clamped(self, ts_ns: int, where: int) -> int:
        """``ts_ns`` kept within [0, MAX_TS_NS], with one folded warning for all such frames."""
        self.warn("timestamp", f"{self.label}: absurd timestamp {ts_ns} ns at byte {where}; clamped to "
                  f"{'0' if ts_ns < 0 else 'the year 2116'}")
        return 0 if ts_ns < 0 else MAX_TS_NS

    def close(self) -> None:
        if self._stream is not sys.stdin.buffer:
            self._stream.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _truncated(self, what: str, needed: int) -> None:
        if self._read_failed:
            return  # the read error already says why the data ends here
        have = len(self._buf) - self._pos
        self.errors.append(
            f"{self.label}: truncated last {what} at byte {self._base + self._pos} "
            f"({needed} bytes announced, {have} present)"
        )

    # -- format detection --------------------------------------------------------------------
    def records(self, accelerator=None) -> Iterator[tuple[int, int, bytes, int, int, int, int]]:
        """Yield ``(ts_ns, linktype, buf, off, caplen, origlen, file_offset)`` per frame; the
        frame's bytes are ``buf[off:off + caplen]``. Raises ``CaptureError`` only when the
        file is empty or no capture at all (``UnknownFormat`` for other capture formats).

        With ``accelerator`` (``ladder.capture.pipeline.Pipeline.accelerator()``), each run of frames
        it takes straight from the buffer is one record ``(last_ts_ns, ACCELERATED,
        AcceleratedRun(first_ts_ns, last_ts_ns, frames), 0, 0, 0, 0)`` instead."""
        if not self._fill(4):
            if self.errors:
                raise CaptureError(self.errors[0])
            if len(self._buf) == 0:
                raise CaptureError(f"{self.label}: empty file, no capture to read")
            raise CaptureError(f"{self.label}: only {len(self._buf)} bytes, not a capture file")
        magic_le = struct.unpack_from("<I", self._buf, 0)[0]
        if magic_le in PCAP_MAGICS:
            self.format = "pcap"
            return self._pcap_records(*PCAP_MAGICS[magic_le], accelerator)
        if magic_le == PCAPNG_SHB:
            self.format = "pcapng"
            return self._pcapng_records(accelerator)
        head = bytes(self._buf[:4])
        if head in (b"GMBU", b"RTSS", b"XCP\x00") or head[:2] == b"MZ":
            raise UnknownFormat(f"{self.label}: capture format not read by the fast reader (magic {head!r})")
        raise CaptureError(f"{self.label}: not a pcap or pcapng capture (starts with {head.hex()})")

    def frames(self) -> Iterator[RawFrame]:
        """``RawFrame`` objects, numbered from 1 (convenient, slower than ``records``)."""
        number = 0
        for ts_ns, linktype, buf, off, caplen, origlen, offset in self.records():
            number += 1
            yield RawFrame(number, ts_ns, linktype, caplen, origlen, buf[off : off + caplen], offset)

    # -- classic pcap ------------------------------------------------------------------------
    def _pcap_records(self, order: str, nano: bool, extra: int, accelerator=None):
        if not self._fill(24):
            self._truncated("file header", 24)
            raise CaptureError(f"{self.label}: pcap file header is truncated, no frames")
        _magic, _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(
            order + "IHHiIII", self._buf, 0
        )
        linktype = network & 0x03FFFFFF  # the upper bits carry FCS information
        self._pos = 24
        header = struct.Struct(order + "IIII")
        unpack = header.unpack_from
        hlen = 16 + extra
        scale = 1 if nano else 1000
        frames = 0
        link_count = 0
        scan = None
        if accelerator is not None:
            accelerator.configure_pcap(order == ">", nano, hlen, linktype)
            scan = accelerator.scan_pcap
        try:
            while True:
                buf = self._buf
                pos = self._pos
                base = self._base
                end = len(buf)
                # Inner loop over the records already in the buffer: no method calls.
                while pos + hlen <= end:
                    if scan is not None:
                        taken = scan(buf, pos, end, frames, base)
                        if taken != pos:
                            count = accelerator.count
                            frames += count
                            pos = taken
                            last = accelerator.last_ts
                            yield last, ACCELERATED, AcceleratedRun(accelerator.first_ts, last, count), 0, 0, 0, 0
                            continue
                        # The scan stopped at this record: it is Python's.
                    sec, frac, caplen, origlen = unpack(buf, pos)
                    if caplen > MAX_RECORD:
                        self._pos = pos
                        self.errors.append(
                            f"{self.label}: absurd record length {caplen} at byte {base + pos}; "
                            f"stopped reading there"
                        )
                        return
                    stop = pos + hlen + caplen
                    if stop > end:
                        break
                    frames += 1
                    yield sec * 1_000_000_000 + frac * scale, linktype, buf, pos + hlen, caplen, origlen, base + pos
                    pos = stop
                self._pos = pos
                self.bytes_read = self._base + pos
                if self._fill(hlen):
                    caplen = unpack(self._buf, self._pos)[2]
                    if caplen > MAX_RECORD:
                        continue  # reported by the inner loop
                    if self._fill(hlen + caplen):
                        continue
                    self._truncated("record", hlen + caplen)
                    return
                if len(self._buf) > self._pos:
                    self._truncated("record header", hlen)
                return
        finally:
            self.fold_warnings()
            link_count = frames
            if link_count:
                self.link_types[linktype] = self.link_types.get(linktype, 0) + link_count
            self.bytes_read = self._base + self._pos

    # -- pcapng ------------------------------------------------------------------------------
    def _pcapng_records(self, accelerator=None):
        order = "<"
        interfaces: list[tuple[int, int, int, int]] = []  # (linktype, units per second, offset_s, snaplen)
        link_counts: dict[int, int] = {}
        frames = 0
        generation = 0  # bumped whenever the interfaces change (IDB, new section)
        configured = -1  # the generation the accelerator was last given
        configured_links: tuple[int, ...] = ()  # and the link types of its interfaces
        try:
            while True:
                if not self._fill(12):
                    if len(self._buf) > self._pos:
                        self._truncated("block header", 12)
                    return
                buf = self._buf
                pos = self._pos
                if accelerator is not None and interfaces:
                    if configured != generation:
                        _count_taken(accelerator, configured_links, link_counts)
                        configured = generation
                        configured_links = tuple(interface[0] for interface in interfaces[:ACCELERATED_INTERFACES])
                        accelerator.configure_pcapng(order == ">", _accelerated_interfaces(interfaces))
                    taken = accelerator.scan_pcapng(buf, pos, len(buf), frames, self._base)
                    if taken != pos:
                        count = accelerator.count
                        frames += count
                        self._pos = taken
                        self.bytes_read = self._base + taken
                        last = accelerator.last_ts
                        yield last, ACCELERATED, AcceleratedRun(accelerator.first_ts, last, count), 0, 0, 0, 0
                        continue
                    # The scan stopped at this block: it is Python's.
                block_type = struct.unpack_from(order + "I", buf, pos)[0]
                if block_type == PCAPNG_SHB:
                    bom = buf[pos + 8 : pos + 12]
                    if bom == b"\x4d\x3c\x2b\x1a":
                        order = "<"
                    elif bom == b"\x1a\x2b\x3c\x4d":
                        order = ">"
                    else:
                        self.errors.append(
                            f"{self.label}: bad pcapng byte-order magic {bom.hex()} at byte {self._base + pos}"
                        )
                        return
                    interfaces = []  # a new section starts its own interface numbering
                    generation += 1
                block_len = struct.unpack_from(order + "I", buf, pos + 4)[0]
                limit = MAX_BLOCK if block_type not in (2, 3, 6) else MAX_RECORD + 64
                if block_len < 12 or block_len % 4 or block_len > limit:
                    self.errors.append(
                        f"{self.label}: absurd pcapng block length {block_len} at byte {self._base + pos}; "
                        f"stopped reading there"
                    )
                    return
                if not self._fill(block_len):
                    self._truncated("block", block_len)
                    return
                buf = self._buf
                pos = self._pos
                body = pos + 8
                block_end = pos + block_len - 4
                file_offset = self._base + pos
                self._pos = pos + block_len
                self.bytes_read = self._base + self._pos
                if block_type == 6 or block_type == 2:  # EPB, or the obsolete OPB
                    if block_len < 32:
                        self.warn("short block", f"{self.label}: packet block too short at byte {file_offset}")
                        continue
                    if block_type == 6:
                        iface, ts_high, ts_low, caplen, origlen = struct.unpack_from(order + "IIIII", buf, body)
                    else:
                        iface, _drops, ts_high, ts_low, caplen, origlen = struct.unpack_from(
                            order + "HHIIII", buf, body
                        )
                    data = body + 20
                    if data + caplen > block_end:
                        self.errors.append(
                            f"{self.label}: packet length {caplen} exceeds its block at byte {file_offset}; "
                            f"stopped reading there"
                        )
                        return
                    if iface >= len(interfaces):
                        self.warn(
                            ("interface", iface),
                            f"{self.label}: packet for undeclared interface {iface} at byte {file_offset}; skipped",
                        )
                        continue
                    linktype, units, offset_s, _snap = interfaces[iface]
                    ticks = (ts_high << 32) | ts_low
                    if units == 1_000_000:
                        ts_ns = ticks * 1000
                    elif units == 1_000_000_000:
                        ts_ns = ticks
                    else:
                        ts_ns = ticks * 1_000_000_000 // units
                    ts_ns += offset_s * 1_000_000_000
                    if not 0 <= ts_ns <= MAX_TS_NS:
                        ts_ns = self._clamped(ts_ns, file_offset)
                    link_counts[linktype] = link_counts.get(linktype, 0) + 1
                    frames += 1
                    yield ts_ns, linktype, buf, data, caplen, origlen, file_offset
                elif block_type == 3:  # SPB: no interface id (0), no timestamp
                    if not interfaces:
                        self.warn("early SPB", f"{self.label}: simple packet before any interface at byte {file_offset}")
                        continue
                    origlen = struct.unpack_from(order + "I", buf, body)[0]
                    linktype, _units, _off, snap = interfaces[0]
                    room = block_end - (body + 4)
                    caplen = min(origlen, room, snap or room)
                    link_counts[linktype] = link_counts.get(linktype, 0) + 1
                    frames += 1
                    yield 0, linktype, buf, body + 4, caplen, origlen, file_offset
                elif block_type == 5 and block_end - body >= 12:  # ISB: the capturer's drop count
                    drops = _option_u64(buf, body + 12, block_end, order, 5)
                    if drops is not None:
                        self.isb_drops = drops
                elif block_type == 1:  # IDB
                    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", buf, body)
                    units, offset_s = self._idb_options(buf, body + 8, block_end, order)
                    interfaces.append((linktype, units, offset_s, snaplen))
                    if len(interfaces) <= ACCELERATED_INTERFACES:
                        generation += 1  # the accelerator never sees the others: no reconfiguring

                # SHB, NRB, ISB, DSB, custom and unknown blocks carry no frames: skipped.
        finally:
            self.fold_warnings()
            if accelerator is not None:
                _count_taken(accelerator, configured_links, link_counts)
            for linktype, count in link_counts.items():
                self.link_types[linktype] = self.link_types.get(linktype, 0) + count
            self.bytes_read = self._base + self._pos

    def _idb_options(self, buf: bytes, pos: int, end: int, order: str) -> tuple[int, int]:
        """``if_tsresol`` (default microseconds) and ``if_tsoffset`` (seconds) of one IDB."""
        units = 1_000_000
        offset_s = 0
        while pos + 4 <= end:
            code, length = struct.unpack_from(order + "HH", buf, pos)
            if code == 0:
                break
            value = pos + 4
            if value + length > end:
                self.warn("option overrun", f"{self.label}: interface option overruns its block; ignored")
                break
            if code == 9 and length >= 1:
                resol = buf[value]
                exponent = resol & 0x7F
                if exponent > 30 and not resol & 0x80:
                    self.warn(("tsresol", resol), f"{self.label}: absurd if_tsresol {resol}; microseconds assumed")
                elif resol & 0x80:
                    units = 1 << min(exponent, 63)
                else:
                    units = 10**exponent
            elif code == 14 and length >= 8:
                offset_s = struct.unpack_from(order + "q", buf, value)[0]
            pos = value + ((length + 3) & ~3)
        return units, offset_s


def _option_u64(buf: bytes, pos: int, end: int, order: str, wanted: int) -> int | None:
    """The 64-bit value of option ``wanted`` in the options from ``pos`` to ``end``."""
    while pos + 4 <= end:
        code, length = struct.unpack_from(order + "HH", buf, pos)
        if code == 0 or pos + 4 + length > end:
            return None
        if code == wanted and length == 8:
            return struct.unpack_from(order + "Q", buf, pos + 4)[0]
        pos += 4 + ((length + 3) & ~3)
    return None


def _accelerated_interfaces(interfaces: list[tuple[int, int, int, int]]) -> tuple[tuple[int, int, int], ...]:
    """The first ``ACCELERATED_INTERFACES`` interfaces as the accelerator takes them:
    ``(linktype, units, offset_ns)``, units 0 where it must leave the packets to Python (a
    resolution other than micro- or nanoseconds, an offset outside the timestamp range)."""
    out = []
    for linktype, units, offset_s, _snap in interfaces[:ACCELERATED_INTERFACES]:
        offset_ns = offset_s * 1_000_000_000
        if units not in (1_000_000, 1_000_000_000) or not -MAX_TS_NS <= offset_ns <= MAX_TS_NS:
            units, offset_ns = 0, 0
        out.append((linktype, units, offset_ns))
    return tuple(out)


def _count_taken(accelerator, links: tuple[int, ...], link_counts: dict[int, int]) -> None:
    """Add the frames the accelerator took from pcapng interfaces to the link-type counts."""
    for linktype, count in zip(links, accelerator.take_interface_counts()):
        if count:
            link_counts[linktype] = link_counts.get(linktype, 0) + count


def read_frames(path: str) -> Iterator[RawFrame]:
    """Every frame of the capture at ``path`` (``-`` for stdin), numbered from 1.

    File-level problems after the first frame end the iteration quietly; use ``CaptureReader``
    directly to see them in ``errors``."""
    with CaptureReader(path) as reader:
        yield from reader.frames()
