"""RTP payloads to PCM tracks and WAV files (8 kHz, 16-bit, mono) for ``ladder audio``.

A track is laid out by RTP timestamp, not by arrival: a lost packet, or a silence-suppressed
gap, leaves zeros exactly where its samples would have been, so the audio keeps its timing.
A timestamp that leaps far beyond the stream's wall-clock duration (a bogus jump) would make a
huge file; such samples are dropped and counted instead.
"""

from __future__ import annotations

import array
import sys
import wave
from dataclasses import dataclass

from decoders.g711 import decode_g711

SAMPLE_RATE = 8000
G711_PAYLOAD_TYPES = {0: "PCMU", 8: "PCMA"}


@dataclass(slots=True)
class Track:
    """One direction's audio: signed 16-bit samples, where sample 0 falls (ns since the epoch),
    and the packets that could not be placed."""

    samples: array.array
    start_ns: int
    packets: int = 0
    dropped: int = 0
    skipped: int = 0  # packets of other payload types (telephone-event, CN)


class TrackBuilder:
    """Accumulates G.711 packets of one stream; ``max_samples`` bounds the track length."""

    def __init__(self, start_ns: int, max_samples: int):
        self.track = Track(array.array("h"), start_ns)
        self.max_samples = max_samples
        self._first_ts: int | None = None
        self._high = 0
        self._last_ts = 0

    def add(self, timestamp: int, payload_type: int, payload: bytes) -> None:
        track = self.track
        law = G711_PAYLOAD_TYPES.get(payload_type)
        if law is None:
            track.skipped += 1
            return
        if self._first_ts is None:
            self._first_ts = self._last_ts = timestamp
        # Unwrap the 32-bit timestamp around the previous one (RFC 3550 A.1 style).
        step = (timestamp - self._last_ts) & 0xFFFFFFFF
        if step >= 0x80000000:
            step -= 0x100000000
        self._high += step
        self._last_ts = timestamp
        offset = self._high
        if offset < 0 or offset + len(payload) > self.max_samples:
            track.dropped += 1
            return
        pcm = array.array("h")
        pcm.frombytes(decode_g711(payload, law))
        if sys.byteorder == "big":
            pcm.byteswap()  # decode_g711 yields little-endian samples
        samples = track.samples
        if len(samples) < offset:
            samples.extend(array.array("h", bytes(2 * (offset - len(samples)))))  # silence
        samples[offset:offset + len(pcm)] = pcm
        track.packets += 1


def mix(tracks: list[Track]) -> Track:
    """The tracks summed on one timeline (aligned by their start times), clipped to 16 bits."""
    start = min(t.start_ns for t in tracks)
    offsets = [round((t.start_ns - start) * SAMPLE_RATE / 1e9) for t in tracks]
    length = max(o + len(t.samples) for o, t in zip(offsets, tracks))
    total = [0] * length
    for offset, track in zip(offsets, tracks):
        for i, value in enumerate(track.samples, offset):
            total[i] += value
    mixed = array.array("h", (max(-32768, min(32767, v)) for v in total))
    return Track(mixed, start, sum(t.packets for t in tracks), sum(t.dropped for t in tracks),
                 sum(t.skipped for t in tracks))


def write_wav(path: str, track: Track) -> None:
    """A RIFF WAVE file: PCM, 1 channel, 16 bits, 8000 Hz."""
    samples = track.samples
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
