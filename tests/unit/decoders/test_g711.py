"""decoders.g711 against G.711's defining values and a real A-law capture."""

from __future__ import annotations

import struct

from conftest import shared_path
from decoders.g711 import alaw_to_linear, decode_g711, ulaw_to_linear
from decoders.rtp import decode_rtp_header
from test_rtp_capture_helper import udp_datagrams


def test_ulaw_reference_points():
    assert ulaw_to_linear(0xFF) == 0 and ulaw_to_linear(0x7F) == 0  # the two zeros
    assert ulaw_to_linear(0x80) == 32124 and ulaw_to_linear(0x00) == -32124  # full scale
    assert ulaw_to_linear(0xFE) == 8 and ulaw_to_linear(0x7E) == -8


def test_alaw_reference_points():
    assert alaw_to_linear(0xD5) == 8 and alaw_to_linear(0x55) == -8  # smallest steps
    assert alaw_to_linear(0xAA) == 32256 and alaw_to_linear(0x2A) == -32256  # full scale


def test_tables_are_monotonic_per_sign():
    ulaw = sorted({ulaw_to_linear(c) for c in range(0x80, 0x100)})
    assert len(ulaw) == 128 and min(ulaw) == 0
    alaw_positive = [alaw_to_linear(c ^ 0x55) for c in range(0x80, 0x100)]
    assert alaw_positive == sorted(alaw_positive)


def test_real_alaw_payload_decodes_to_speech_range():
    path = shared_path("captures/sipp/g711a.pcap")
    pcm = bytearray()
    for *_, data in udp_datagrams(path):
        header = decode_rtp_header(data)
        pcm += decode_g711(data[header.payload_offset:header.payload_end], "PCMA")
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    assert len(samples) == 236 * 240  # 236 packets of 30 ms at 8 kHz
    peak = max(abs(s) for s in samples)
    assert 1000 < peak <= 32256  # real audio, not silence, within A-law's range
