"""Turns ``call.sip`` into a pcap: the six messages over UDP between 192.0.2.10 and
192.0.2.20, and 50 RTP packets each way (payload type 96, the hostile rtpmap) on the SDP's
ports, so the report draws a media bar, a streams table and charts for it too."""

from __future__ import annotations

import struct
from pathlib import Path

from ladder.export.pcap_writer import FrameFactory, PcapWriter

HERE = Path(__file__).resolve().parent
A = ("192.0.2.10", 5060, 40000)
B = ("192.0.2.20", 5060, 41000)
T0 = 1_700_000_000_000_000_000


def hostile_messages() -> list[tuple[str, bytes]]:
    """(sender "A"/"B", message bytes) in order."""
    text = (HERE / "call.sip").read_bytes()
    out = []
    for chunk in text.split(b"=== from ")[1:]:
        sender, _, message = chunk.partition(b"\n")
        out.append((sender.decode().strip(), message))
    return out


def build_hostile_pcap(path: Path, *, leave_out: tuple[str, ...] = ()) -> Path:
    """``leave_out``: request methods whose messages are dropped (("ACK",) gives a call whose
    200 OK is never acknowledged, a deviation to mark)."""
    factory = FrameFactory()
    frames: list[tuple[int, bytes]] = []
    for number, (sender, message) in enumerate(hostile_messages()):
        if message.split(b" ", 1)[0].decode() in leave_out:
            continue
        src, dst = (A, B) if sender == "A" else (B, A)
        ts = T0 + number * 500_000_000  # answered at 1 s, BYE at 2 s
        frames.append((ts, factory.udp(src[0], src[1], dst[0], dst[1], message)))
    for seq in range(50):  # media between the 200 OK (1.0 s) and the BYE (2.0 s)
        for index, (src, dst) in enumerate(((A, B), (B, A))):
            header = struct.pack("!BBHII", 0x80, 96, 1000 + seq, 160 * seq, 0x1111 + index)
            ts = T0 + 1_010_000_000 + seq * 19_000_000 + index * 1_000_000
            frames.append((ts, factory.udp(src[0], src[2], dst[0], dst[2], header + b"\xd5" * 160)))
    frames.sort(key=lambda item: item[0])
    with open(path, "wb") as handle:
        writer = PcapWriter(handle, nanosecond=True)
        for ts, data in frames:
            writer.write(ts, data)
    return path
