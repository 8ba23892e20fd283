"""ladder.capture.reader: pcap in both byte orders and resolutions, pcapng with several interfaces,
gzip, stdin, and the frames' numbers, times, offsets and lengths."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys

import pytest

from captures_crafted import (
    ethernet, ipv4, pcap_bytes, pcapng_bytes, sip_invite, sip_response, sll, udp, udp_sip_frame, write_pcap,
)
from conftest import shared_manifest, shared_path
from ladder.capture.loader import load_capture
from ladder.capture.reader import CaptureReader, RawFrame, read_frames

T0 = 1_700_000_000_123_456_789  # ns; its microsecond form loses the last three digits


def _two_frames() -> list[tuple[int, bytes]]:
    return [(T0, udp_sip_frame(sip_invite())), (T0 + 1_500_000, udp_sip_frame(sip_response(200)))]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path, order, nanoseconds):
    path = write_pcap(tmp_path / "c.pcap", _two_frames(), order=order, nanoseconds=nanoseconds)
    frames = list(read_frames(str(path)))
    assert [f.number for f in frames] == [1, 2]
    expected_t0 = T0 if nanoseconds else T0 // 1000 * 1000
    assert frames[0].ts_ns == expected_t0
    assert frames[1].ts_ns - frames[0].ts_ns == 1_500_000
    assert frames[0].linktype == 1
    assert frames[0].data == udp_sip_frame(sip_invite())
    assert frames[0].offset == 24  # the first record follows the 24-byte file header
    assert frames[1].offset == 24 + 16 + len(frames[0].data)
    capture = load_capture(str(path))
    assert [m.method for m in capture.sip_messages] == ["INVITE", "INVITE"]
    assert capture.sip_messages[0].ts_ns == expected_t0


def test_pcapng_two_interfaces_with_different_link_types_and_resolutions(tmp_path):
    invite, ok = sip_invite(), sip_response(200)
    data = pcapng_bytes(
        interfaces=[(1, None), (113, 9)],  # Ethernet in µs, Linux SLL in ns
        packets=[
            (0, T0, udp_sip_frame(invite)),
            (1, T0 + 7, sll(ipv4(udp(ok)))),
        ],
        extra_blocks=[(0x0BAD, b"unknown block, skipped"), (4, b"\x00\x00\x00\x00")],  # + an empty NRB
    )
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    frames = list(read_frames(str(path)))
    assert [(f.number, f.linktype) for f in frames] == [(1, 1), (2, 113)]
    assert frames[0].ts_ns == T0 // 1000 * 1000
    assert frames[1].ts_ns == T0 + 7  # if_tsresol 9 keeps nanoseconds
    capture = load_capture(str(path))
    assert capture.link_types == {1: 1, 113: 1}
    assert [m.status for m in capture.sip_messages] == [None, 200]
    assert capture.errors == []


def test_pcapng_big_endian_section(tmp_path):
    data = pcapng_bytes([(1, 6)], [(0, T0, udp_sip_frame(sip_invite()))], order=">")
    path = tmp_path / "be.pcapng"
    path.write_bytes(data)
    (frame,) = read_frames(str(path))
    assert frame.ts_ns == T0 // 1000 * 1000 and frame.linktype == 1


def test_pcapng_power_of_two_resolution(tmp_path):
    # if_tsresol with the high bit set: 2^-20 s units.
    data = pcapng_bytes([(1, 0x80 | 20)], [(0, 3 * 1_000_000_000, udp_sip_frame(sip_invite()))])
    path = tmp_path / "p2.pcapng"
    path.write_bytes(data)
    (frame,) = read_frames(str(path))
    assert frame.ts_ns == 3 * 1_000_000_000


def test_gzip_compressed_capture(tmp_path):
    path = write_pcap(tmp_path / "c.pcap.gz", _two_frames(), compress=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    capture = load_capture(str(path))
    assert capture.frames == 2 and len(capture.sip_messages) == 2


def test_stdin_through_the_cli(tmp_path):
    data = gzip.compress(pcap_bytes(_two_frames()))
    result = subprocess.run(
        [sys.executable, "-m", "ladder", "stats", "-", "--json"], input=data, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert b'"sip_messages": 2' in result.stdout
    assert result.stderr == b""


def test_chunk_boundaries_do_not_lose_frames(tmp_path, monkeypatch):
    # Tiny chunks force every record to straddle a refill.
    import ladder.capture.reader as ingest

    monkeypatch.setattr(ingest, "CHUNK_SIZE", 7)
    packets = [(T0 + i, udp_sip_frame(sip_invite(call_id=f"c{i}"))) for i in range(20)]
    path = write_pcap(tmp_path / "c.pcap", packets)
    with CaptureReader(str(path)) as reader:
        frames = list(reader.frames())
        assert reader.errors == []
        assert reader.bytes_read == path.stat().st_size
    assert [f.ts_ns for f in frames] == [(T0 + i) // 1000 * 1000 for i in range(20)]
    assert [f.data for f in frames] == [p[1] for p in packets]
    assert all(isinstance(f, RawFrame) for f in frames)


def test_frames_agree_with_tshark_on_every_shared_capture():
    """Frame count per file equals capinfos' (the manifest's ``packets``) for pcap and pcapng."""
    checked = 0
    for entry in shared_manifest():
        if entry["file_format"] not in ("pcap", "pcapng"):
            continue  # NetMon and friends are for the pyshark engine
        path = shared_path(entry["file"])
        with CaptureReader(str(path)) as reader:
            count = sum(1 for _ in reader.records())
            assert reader.errors == [], entry["file"]
        assert count == entry["packets"], entry["file"]
        checked += 1
    assert checked >= 60


def test_snaplen_is_visible(tmp_path):
    frame = udp_sip_frame(sip_invite())
    path = write_pcap(tmp_path / "cut.pcap", [(T0, frame[:60], len(frame))])
    (raw,) = read_frames(str(path))
    assert (raw.caplen, raw.origlen) == (60, len(frame))


def test_reader_never_reads_the_whole_file_at_once(tmp_path):
    # The buffer stays around one chunk however many frames there are.
    packets = [(T0 + i, ethernet(ipv4(udp(bytes(200), 4000, 4002)))) for i in range(12000)]
    path = write_pcap(tmp_path / "many.pcap", packets)
    assert path.stat().st_size > 2 * (1 << 20)
    with CaptureReader(str(path)) as reader:
        biggest = 0
        for _record in reader.records():
            biggest = max(biggest, len(reader._buf))
    assert biggest <= (1 << 20) + 300


def test_bytes_io_is_not_required_for_stdin(monkeypatch):
    """``-`` reads sys.stdin.buffer, which cannot seek: the format peek must not need to."""

    class NoSeek(io.RawIOBase):
        def __init__(self, data):
            self._data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self._data.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    class FakeStdin:
        buffer = io.BufferedReader(NoSeek(pcap_bytes(_two_frames())))

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    assert [f.number for f in read_frames("-")] == [1, 2]


def test_pcapng_simple_and_obsolete_packet_blocks(tmp_path):
    import struct

    frame = udp_sip_frame(sip_invite())
    spb = struct.pack("<I", len(frame)) + frame  # SPB: original length, data; interface 0, no time
    ticks = T0 // 1000
    opb = struct.pack("<HHIIII", 0, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame
    data = pcapng_bytes([(1, None)], [], extra_blocks=[(3, spb), (2, opb)])
    path = tmp_path / "spb.pcapng"
    path.write_bytes(data)
    frames = list(read_frames(str(path)))
    assert [(f.number, f.ts_ns, f.data == frame) for f in frames] == [(1, 0, True), (2, T0 // 1000 * 1000, True)]


def test_pcapng_second_section_restarts_interface_numbering(tmp_path):
    first = pcapng_bytes([(1, None)], [(0, T0, udp_sip_frame(sip_invite()))])
    second = pcapng_bytes([(113, 9)], [(0, T0 + 5, sll(ipv4(udp(sip_response(180)))))])
    path = tmp_path / "two-sections.pcapng"
    path.write_bytes(first + second)
    capture = load_capture(str(path))
    assert capture.link_types == {1: 1, 113: 1}
    assert [m.status for m in capture.sip_messages] == [None, 180]


def test_packet_for_an_undeclared_interface_is_reported(tmp_path):
    import struct

    frame = udp_sip_frame(sip_invite())
    stray = struct.pack("<IIIII", 3, 0, 0, len(frame), len(frame)) + frame  # EPB on interface 3
    data = pcapng_bytes([(1, None)], [(0, T0, frame)], extra_blocks=[(6, stray)])
    path = tmp_path / "undeclared.pcapng"
    path.write_bytes(data)
    with CaptureReader(str(path)) as reader:
        frames = list(reader.frames())
        assert len(reader.errors) == 1 and "undeclared interface 3" in reader.errors[0]
    assert [f.ts_ns for f in frames] == [T0 // 1000 * 1000]
