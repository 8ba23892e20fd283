"""SCTP (RFC 9260) DATA chunks, for SIP over SCTP (RFC 4168).

API::

    chunks = sctp_data_chunks(payload)          # every DATA / I-DATA chunk of one SCTP packet
    reassembler = SctpReassembler()
    result = reassembler.add(src_ip, dst_ip, chunk, frame)    # StreamResult[SctpMessage]
    result.messages     # the user message that chunk completed, if any
    result.frame_class  # "sctp-retransmission" (TSN seen before), "sctp-fragment" or "sctp-message"
    result.diagnostics
    result = reassembler.flush()                              # end of capture: leftovers

``sctp_data_chunks`` walks the common header and the chunks (padding to 4 bytes, control chunks
skipped) and raises ``DecodeError`` (reasons ``sctp-truncated``, ``malformed-sctp``) on broken
input. Fragments keep their B/E bits; ``SctpReassembler`` joins a message's fragments by
consecutive TSNs (RFC 9260 §6.9), across packets, and passes unfragmented chunks straight
through. Each ``SctpMessage.data`` is one user message: the pipeline parses it as one SIP
message (RFC 4168 §5: one SIP message per SCTP user message).

The CRC32c checksum is not verified: captures taken on the sending host carry checksums that
the network card fills in later (checksum offload).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from decoders.errors import Malformed, Truncated
from decoders.records import Diagnostic, FrameRef, StreamResult

CHUNK_DATA = 0
CHUNK_I_DATA = 64  # RFC 8260 §2.1
FLAG_END = 0x01
FLAG_BEGIN = 0x02
FLAG_UNORDERED = 0x04

_COMMON = struct.Struct("!HHII")  # src port, dst port, verification tag, checksum
_CHUNK = struct.Struct("!BBH")  # type, flags, length
_DATA = struct.Struct("!IHHI")  # TSN, stream id, stream sequence number, PPID
_I_DATA = struct.Struct("!IHHII")  # TSN, stream id, reserved, MID, PPID or FSN

MAX_FRAGMENTS = 256
RECENT_TSNS = 1024
MAX_MESSAGE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SctpData:
    """One DATA (or I-DATA) chunk. ``ssn`` holds the Message Identifier for I-DATA."""

    src_port: int
    dst_port: int
    verification_tag: int
    tsn: int
    stream_id: int
    ssn: int
    ppid: int  # 0 for I-DATA fragments after the first (they carry an FSN instead)
    flags: int
    data: bytes
    chunk_type: int = CHUNK_DATA

    @property
    def begin(self) -> bool:
        return bool(self.flags & FLAG_BEGIN)

    @property
    def end(self) -> bool:
        return bool(self.flags & FLAG_END)

    @property
    def unordered(self) -> bool:
        return bool(self.flags & FLAG_UNORDERED)

    @property
    def complete(self) -> bool:
        """An unfragmented user message (B and E both set)."""
        return self.begin and self.end


@dataclass(frozen=True, slots=True)
class SctpMessage:
    """A whole user message with the frames whose chunks carried it."""

    src_port: int
    dst_port: int
    stream_id: int
    ppid: int
    data: bytes
    frames: tuple[FrameRef, ...]
    tsn: int  # TSN of the first fragment


def sctp_data_chunks(payload: bytes) -> list[SctpData]:
    """The DATA / I-DATA chunks of one SCTP packet, in packet order."""
    if len(payload) < _COMMON.size:
        raise Truncated(f"SCTP packet of {len(payload)} bytes is shorter than the 12-byte common header", reason="sctp-truncated")
    src_port, dst_port, tag, _checksum = _COMMON.unpack_from(payload)
    chunks: list[SctpData] = []
    position = _COMMON.size
    end = len(payload)
    while position < end:
        if end - position < _CHUNK.size:
            if not any(payload[position:end]):
                break  # trailing zero padding
            raise Truncated(f"{end - position} bytes left where a chunk header needs 4", reason="sctp-truncated")
        chunk_type, flags, length = _CHUNK.unpack_from(payload, position)
        if length < _CHUNK.size:
            raise Malformed(f"SCTP chunk length {length} is below 4 (RFC 9260 §3.2)", reason="malformed-sctp")
        if position + length > end:
            raise Truncated(f"SCTP chunk of {length} bytes runs past the packet end", reason="sctp-truncated")
        if chunk_type == CHUNK_DATA:
            if length < _CHUNK.size + _DATA.size:
                raise Malformed(f"DATA chunk length {length} is below 16 (RFC 9260 §3.3.1)", reason="malformed-sctp")
            tsn, stream_id, ssn, ppid = _DATA.unpack_from(payload, position + _CHUNK.size)
            data = payload[position + _CHUNK.size + _DATA.size : position + length]
            chunks.append(SctpData(src_port, dst_port, tag, tsn, stream_id, ssn, ppid, flags, data))
        elif chunk_type == CHUNK_I_DATA:
            if length < _CHUNK.size + _I_DATA.size:
                raise Malformed(f"I-DATA chunk length {length} is below 20 (RFC 8260 §2.1)", reason="malformed-sctp")
            tsn, stream_id, _reserved, mid, ppid_or_fsn = _I_DATA.unpack_from(payload, position + _CHUNK.size)
            data = payload[position + _CHUNK.size + _I_DATA.size : position + length]
            ppid = ppid_or_fsn if flags & FLAG_BEGIN else 0
            chunks.append(SctpData(src_port, dst_port, tag, tsn, stream_id, mid, ppid, flags, data, CHUNK_I_DATA))
        # Chunks are padded to a multiple of 4 bytes; the last one may omit its padding.
        position += (length + 3) & ~3
    return chunks


# How a chunk given to ``SctpReassembler.add`` counts (``StreamResult.frame_class``).
SCTP_MESSAGE = "sctp-message"  # completed a user message
SCTP_FRAGMENT = "sctp-fragment"  # a fragment that completed nothing yet
SCTP_RETRANSMISSION = "sctp-retransmission"  # its TSN was already seen in this association
SCTP_OTHER = "sctp-other"  # no user data


# (src ip, src port, dst ip, dst port, verification tag): one direction of an association
Association = tuple[str, int, str, int, int]
# The association, then the stream id and whether the chunk is unordered
StreamKey = tuple[str, int, str, int, int, int, bool]


class SctpReassembler:
    """Joins fragmented user messages per association direction and stream."""

    def __init__(self) -> None:
        self._fragments: dict[StreamKey, dict[int, tuple[SctpData, FrameRef]]] = {}
        # Recent TSNs per association direction: a chunk resent by SCTP (same TSN, RFC 9260
        # §6.3.3) is one user message, not two.
        self._recent: dict[Association, dict[int, None]] = {}
        self.retransmissions = 0

    def add(self, src_ip: str, dst_ip: str, chunk: SctpData, frame: FrameRef) -> StreamResult[SctpMessage]:
        """One chunk: the user message it completes, if any, and how it counts."""
        association: Association = (src_ip, chunk.src_port, dst_ip, chunk.dst_port, chunk.verification_tag)
        recent = self._recent.setdefault(association, {})
        if chunk.tsn in recent:
            self.retransmissions += 1
            return StreamResult((), SCTP_RETRANSMISSION)
        recent[chunk.tsn] = None
        if len(recent) > RECENT_TSNS:
            del recent[next(iter(recent))]
        if chunk.complete:
            message = SctpMessage(chunk.src_port, chunk.dst_port, chunk.stream_id, chunk.ppid, chunk.data, (frame,), chunk.tsn)
            return StreamResult((message,), SCTP_MESSAGE)
        incomplete = SCTP_FRAGMENT if chunk.data else SCTP_OTHER
        key: StreamKey = (*association, chunk.stream_id, chunk.unordered)
        held = self._fragments.setdefault(key, {})
        held[chunk.tsn] = (chunk, frame)
        if len(held) > MAX_FRAGMENTS or sum(len(item[0].data) for item in held.values()) > MAX_MESSAGE:
            del self._fragments[key]
            overflow = Diagnostic("sctp-reassembly-overflow", frame.number,
                                  f"{len(held)} SCTP fragments never formed a message; dropped")
            return StreamResult((), incomplete, (overflow,))
        completed = self._complete(key, held, chunk.tsn)
        return StreamResult((completed,), SCTP_MESSAGE) if completed is not None else StreamResult((), incomplete)

    def _complete(self, key: StreamKey, held: dict[int, tuple[SctpData, FrameRef]], tsn: int) -> SctpMessage | None:
        # Walk back to the B fragment and forward to the E fragment through consecutive TSNs
        # (RFC 9260 §6.9: fragments of one message take consecutive TSNs).
        first = tsn
        while not held[first][0].begin:
            previous = (first - 1) & 0xFFFFFFFF
            if previous not in held:
                return None
            first = previous
        last = tsn
        while not held[last][0].end:
            following = (last + 1) & 0xFFFFFFFF
            if following not in held:
                return None
            last = following
        ppid = held[first][0].ppid  # only the first fragment carries the PPID for I-DATA
        parts: list[bytes] = []
        frames: list[FrameRef] = []
        cursor = first
        while True:
            chunk, frame = held.pop(cursor)
            parts.append(chunk.data)
            if frame not in frames:
                frames.append(frame)
            if cursor == last:
                break
            cursor = (cursor + 1) & 0xFFFFFFFF
        if not held:
            del self._fragments[key]
        return SctpMessage(key[1], key[3], key[5], ppid, b"".join(parts), tuple(frames), first)

    def flush(self) -> StreamResult[SctpMessage]:
        """End of capture: every message still missing fragments becomes a diagnostic."""
        leftovers = tuple(
            Diagnostic("sctp-incomplete-message", min(item[1].number for item in held.values()),
                       f"{len(held)} fragments of an SCTP message on stream {key[5]} never completed")
            for key, held in self._fragments.items()
        )
        self._fragments.clear()
        self._recent.clear()
        return StreamResult((), SCTP_OTHER, leftovers)
