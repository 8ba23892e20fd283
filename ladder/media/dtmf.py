"""RFC 4733 telephone events of an RTP stream, as the digits a user pressed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from decoders.errors import DecodeError
from decoders.rtp import decode_telephone_event

if TYPE_CHECKING:
    from ladder.media.streams import _State as StreamState

MAX_DTMF_EVENTS = 1_000  # digits kept per stream


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """One RFC 4733 event: the key, when its first packet arrived, its frame, and its length."""

    digit: str
    ts_ns: int
    frame: int
    duration_ms: float
    volume: int


def note_event(st: StreamState, pt: int, ts_ns: int, frame_no: int, ts32: int, buf: bytes, off: int, end: int) -> None:
    """One digit per RFC 4733 event: all packets of an event share its RTP timestamp, so
    a new timestamp is a new digit; later packets (and the three end packets) only update
    the duration."""
    try:
        event = decode_telephone_event(buf, off, end)
    except DecodeError:
        return
    # Durations count the event's own clock (RFC 4733 §2.5.1.3): 8 kHz unless the rtpmap
    # says otherwise.
    rate = st.rtpmap[pt][1] if st.rtpmap is not None and pt in st.rtpmap else 8000
    clock = (rate or 8000) / 1000
    if ts32 != st.dtmf_last_ts:
        if len(st.dtmf) >= MAX_DTMF_EVENTS:
            return
        st.dtmf_last_ts = ts32
        st.dtmf.append(DtmfDigit(event.digit, ts_ns, frame_no, event.duration / clock,
                                 event.volume))
    elif st.dtmf and event.duration / clock > st.dtmf[-1].duration_ms:
        last = st.dtmf[-1]
        st.dtmf[-1] = DtmfDigit(last.digit, last.ts_ns, last.frame, event.duration / clock,
                                last.volume)
