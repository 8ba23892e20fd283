"""PCMU RTP for the sample captures: a G.711 μ-law encoder, a triangle tone, and a run of
RTP packets with sequence number, timestamp and SSRC derived from a seed (never random).

Part of ``samples/build_samples.py``.
"""

from __future__ import annotations

import zlib

from ladder.export.pcap_writer import FrameFactory

MS = 1_000_000
RTP_PACKET_NS = 20 * MS
RTP_PACKETS = 100  # 2 s of 20 ms PCMU per direction per media bar
PCMU = 0  # RFC 3551 static payload type


def ulaw(sample: int) -> int:
    """G.711 μ-law code of one 16-bit linear sample, as Sun's reference g711.c computes it
    (the encoder most tools use): 14-bit magnitude, bias 33, eight segments."""
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 33
    segment = max(0, value.bit_length() - 6)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def tone_payload(period: int, amplitude: int = 8000, samples: int = 160) -> bytes:
    """20 ms of a triangle tone, μ-law coded. Integer arithmetic only, so the bytes are the
    same on every platform; ``period`` divides 160, so every packet holds whole cycles."""
    out = bytearray()
    for n in range(samples):
        x = 4 * (n % period)  # position in quarter-periods, scaled by ``period``
        if x < period:  # rising from 0 to +amplitude
            value = amplitude * x // period
        elif x < 3 * period:  # falling to -amplitude
            value = amplitude * (2 * period - x) // period
        else:  # rising back to 0
            value = amplitude * (x - 4 * period) // period
        out.append(ulaw(value))
    return bytes(out)


def rtp_frames(
    factory: FrameFactory, src: tuple[str, int], dst: tuple[str, int], start_ns: int, seed: str, period: int
) -> list[tuple[int, bytes]]:
    """RTP_PACKETS PCMU packets every 20 ms, sequence, timestamp and SSRC derived from ``seed``."""
    key = zlib.crc32(seed.encode("ascii"))
    ssrc = key
    sequence = key & 0x7FFF
    timestamp = (key * 2654435761) & 0x7FFFFFFF
    payload = tone_payload(period)
    frames = []
    for n in range(RTP_PACKETS):
        marker = 0x80 if n == 0 else 0  # RFC 3551 §4.1: marker on the first packet of a talkspurt
        header = bytes([0x80, marker | PCMU]) + ((sequence + n) & 0xFFFF).to_bytes(2, "big")
        header += ((timestamp + 160 * n) & 0xFFFFFFFF).to_bytes(4, "big") + ssrc.to_bytes(4, "big")
        frame = factory.udp(src[0], src[1], dst[0], dst[1], header + payload)
        frames.append((start_ns + n * RTP_PACKET_NS, frame))
    return frames
