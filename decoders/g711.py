"""ITU-T G.711 μ-law (PCMU) and A-law (PCMA) to 16-bit linear PCM, by 256-entry tables.

Used by ``ladder audio``; decoding is per byte, so a lookup table built once is both the
simplest and the fastest pure-Python form.
"""

from __future__ import annotations

import struct


def ulaw_to_linear(code: int) -> int:
    """One μ-law byte as a signed 16-bit sample (G.711 Table 2a; bias 0x84)."""
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return 0x84 - magnitude if code & 0x80 else magnitude - 0x84


def alaw_to_linear(code: int) -> int:
    """One A-law byte as a signed 16-bit sample (G.711 Table 1a; even bits inverted)."""
    code ^= 0x55
    segment = (code & 0x70) >> 4
    magnitude = (code & 0x0F) << 4
    if segment == 0:
        magnitude += 8
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if code & 0x80 else -magnitude


_ULAW = tuple(struct.pack("<h", ulaw_to_linear(i)) for i in range(256))
_ALAW = tuple(struct.pack("<h", alaw_to_linear(i)) for i in range(256))


def decode_g711(payload: bytes, law: str) -> bytes:
    """``payload`` (one byte per sample) as little-endian 16-bit PCM; ``law`` is "PCMU" or
    "PCMA"."""
    if law == "PCMU":
        table = _ULAW
    elif law == "PCMA":
        table = _ALAW
    else:
        raise ValueError(f"not a G.711 encoding: {law!r}")
    return b"".join([table[b] for b in payload])
