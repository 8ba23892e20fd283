"""RTP (RFC 3550 §5.1) header checks and RFC 4733 telephone-event payloads.

Cheap by design: captures are mostly RTP, so ``classify_rtp`` and ``rtp_header_end`` work on
``buf[off:end]`` without slicing or building an object; ``decode_rtp_header`` (which does build a
record) is for tests, detail views and the rare packet that needs it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from decoders.errors import Malformed, Truncated

NOT_RTP = 0
RTP = 1
RTCP = 2

_U16 = struct.Struct("!H")
_SEQ_TS_SSRC = struct.Struct("!HII")
_EVENT = struct.Struct("!BBH")

# RFC 3551 §6 static payload types: name and clock rate (Hz). G.722's RTP clock is 8000 even
# though it samples at 16 kHz (RFC 3551 §4.5.2).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int]] = {
    0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 5: ("DVI4", 8000),
    6: ("DVI4", 16000), 7: ("LPC", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000),
    10: ("L16", 44100), 11: ("L16", 44100), 12: ("QCELP", 8000), 13: ("CN", 8000),
    14: ("MPA", 90000), 15: ("G728", 8000), 16: ("DVI4", 11025), 17: ("DVI4", 22050),
    18: ("G729", 8000), 19: ("CN", 8000), 25: ("CelB", 90000), 26: ("JPEG", 90000),
    28: ("nv", 90000), 31: ("H261", 90000), 32: ("MPV", 90000), 33: ("MP2T", 90000),
    34: ("H263", 90000),
}


def classify_rtp(buf: bytes, off: int, end: int) -> int:
    """``RTP``, ``RTCP`` or ``NOT_RTP`` for the UDP payload ``buf[off:end]``.

    RTCP: version 2 and a second byte of 200..207 (SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR),
    which is why RTP may not use payload types 72..76 with the marker set (RFC 5761 §4).
    RTP: version 2, payload type outside 72..76, and the 12-byte header plus CSRC list,
    extension and padding fitting inside the datagram.
    """
    if end - off < 8 or (buf[off] & 0xC0) != 0x80:
        return NOT_RTP
    second = buf[off + 1]
    if 200 <= second <= 207:
        return RTCP
    if 72 <= (second & 0x7F) <= 76:
        return NOT_RTP
    return RTP if rtp_header_end(buf, off, end) > 0 else NOT_RTP


def rtp_header_end(buf: bytes, off: int, end: int) -> int:
    """Offset just after the RTP header (CSRCs and extension included), or -1 when the header,
    or the padding count in the last byte, does not fit in ``buf[off:end]``."""
    first = buf[off]
    pos = off + 12 + 4 * (first & 0x0F)
    if pos > end:
        return -1
    if first & 0x10:
        if pos + 4 > end:
            return -1
        pos += 4 + 4 * _U16.unpack_from(buf, pos + 2)[0]
        if pos > end:
            return -1
    if first & 0x20:
        padding = buf[end - 1]
        if padding == 0 or pos + padding > end:
            return -1
    return pos


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """The fixed RTP header fields (RFC 3550 §5.1) and where the payload lies."""

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension_profile: int | None
    padding: int
    payload_offset: int
    payload_end: int


def decode_rtp_header(buf: bytes, off: int = 0, end: int | None = None) -> RtpHeader:
    """The RTP header of ``buf[off:end]``; ``Truncated``/``Malformed`` when it is not one."""
    end = len(buf) if end is None else end
    if end - off < 12:
        raise Truncated(f"RTP header needs 12 bytes, {end - off} present", "rtp-truncated")
    first, second = buf[off], buf[off + 1]
    if first >> 6 != 2:
        raise Malformed(f"RTP version {first >> 6}, RFC 3550 §5.1 requires 2", "rtp-bad-version")
    header_end = rtp_header_end(buf, off, end)
    if header_end < 0:
        raise Truncated("RTP CSRC list, extension or padding overruns the datagram", "rtp-truncated")
    sequence, timestamp, ssrc = _SEQ_TS_SSRC.unpack_from(buf, off + 2)
    count = first & 0x0F
    csrcs = struct.unpack_from(f"!{count}I", buf, off + 12) if count else ()
    profile = _U16.unpack_from(buf, off + 12 + 4 * count)[0] if first & 0x10 else None
    padding = buf[end - 1] if first & 0x20 else 0
    return RtpHeader(
        marker=bool(second & 0x80), payload_type=second & 0x7F, sequence=sequence,
        timestamp=timestamp, ssrc=ssrc, csrcs=tuple(csrcs), extension_profile=profile,
        padding=padding, payload_offset=header_end, payload_end=end - padding,
    )


DTMF_EVENT_NAMES = "0123456789*#ABCD"
# RFC 4734 §2.3 modem/fax tones that fax calls carry as events.
FAX_EVENT_NAMES = {32: "ANS", 33: "/ANS", 34: "ANSam", 35: "/ANSam", 36: "CNG"}


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """An RFC 4733 §2.3 named-event payload: event code, end bit, volume (-dBm0), duration
    in timestamp units."""

    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str:
        """The DTMF key for events 0..15 (RFC 4733 §3.2), a fax tone name (RFC 4734), else
        ``event-N``."""
        if self.event < 16:
            return DTMF_EVENT_NAMES[self.event]
        return FAX_EVENT_NAMES.get(self.event, f"event-{self.event}")


def decode_telephone_event(buf: bytes, off: int = 0, end: int | None = None) -> TelephoneEvent:
    """The first 4-byte event block of an RFC 4733 payload ``buf[off:end]``."""
    end = len(buf) if end is None else end
    if end - off < 4:
        raise Truncated(f"telephone-event payload needs 4 bytes, {end - off} present",
                        "rtp-event-truncated")
    event, flags, duration = _EVENT.unpack_from(buf, off)
    return TelephoneEvent(event=event, end=bool(flags & 0x80), volume=flags & 0x3F,
                          duration=duration)
