"""``ladder audio FILE --stream SSRC -o out.wav [--mix]``: a G.711 stream as a WAV file.

Payloads are not kept in memory while loading, so the file is read a second time and the
stream's datagrams picked out by address, ports and SSRC. That second pass walks the link
layers and IPv4/IPv6 directly; RTP inside IP fragments or tunnels is not found by it (the
command says how many packets it wrote against how many the stream had).
"""

from __future__ import annotations

import struct
import sys

from decoders.errors import DecodeError
from decoders.ip import parse_ip
from decoders.linklayer import strip_link
from decoders.rtp import rtp_header_end
from ladder.capture import load_capture
from ladder.errors import UsageError
from ladder.ingest import read_frames
from ladder.rtp_streams import RtpStream
from ladder.wav import SAMPLE_RATE, TrackBuilder, mix, write_wav

IPPROTO_UDP = 17
_SEQ_TS_SSRC = struct.Struct("!HII")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "audio", help="write a G.711 RTP stream (or both directions) as a WAV file",
        description="Decode a PCMU/PCMA RTP stream to 8 kHz 16-bit mono WAV. Lost packets "
                    "and gaps become silence, placed by RTP timestamp.",
    )
    parser.add_argument("file", help="pcap or pcapng capture")
    parser.add_argument("--stream", required=True, metavar="SSRC",
                        help="the stream's SSRC (0x1234ABCD or decimal), as 'ladder streams' lists it")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")
    parser.add_argument("--mix", action="store_true",
                        help="mix in the opposite direction (the stream from its destination back to its source)")
    parser.set_defaults(func=run)


def parse_ssrc(text: str) -> int:
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise UsageError(f"--stream wants an SSRC such as 0x58F33DEA, not {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise UsageError(f"SSRC {text} is outside 32 bits")
    return value


def select_streams(streams: list[RtpStream], ssrc: int, with_reverse: bool) -> list[RtpStream]:
    """The stream with ``ssrc`` (the first, when a relay repeats an SSRC), and with ``--mix`` the
    streams flowing the opposite way between the same two addresses."""
    matches = [s for s in streams if s.ssrc == ssrc]
    if not matches:
        known = ", ".join(s.ssrc_hex for s in streams[:10]) or "none"
        raise UsageError(f"no RTP stream with SSRC 0x{ssrc:08X} (streams: {known})")
    chosen = [matches[0]]
    if with_reverse:
        chosen += [s for s in streams if s.src == matches[0].dst and s.dst == matches[0].src]
    for stream in chosen:
        if not set(stream.payload_types) & {0, 8}:
            raise UsageError(f"stream {stream.ssrc_hex} is {stream.codec}; only G.711 "
                             "(PCMU/PCMA) can be written as WAV")
    return chosen


def read_payloads(path: str, streams: list[RtpStream], builders: dict[tuple, TrackBuilder]) -> None:
    """Second pass over the file: feed each selected stream's RTP payloads to its builder."""
    wanted = {(s.src.ip, s.src.port, s.dst.ip, s.dst.port, s.ssrc): s.key for s in streams}
    for frame in read_frames(path):
        buf = frame.data
        try:
            ethertype, pos = strip_link(frame.linktype, buf, 0, len(buf))
            ip = parse_ip(ethertype, buf, pos, len(buf))
        except DecodeError:
            continue
        if ip.proto != IPPROTO_UDP or ip.fragment is not None or ip.end - ip.start < 20:
            continue
        start = ip.start
        sport, dport = struct.unpack_from("!HH", buf, start)
        off, end = start + 8, ip.end
        if buf[off] & 0xC0 != 0x80:
            continue
        _seq, timestamp, ssrc = _SEQ_TS_SSRC.unpack_from(buf, off + 2)
        key = wanted.get((ip.src, sport, ip.dst, dport, ssrc))
        if key is None:
            continue
        header_end = rtp_header_end(buf, off, end)
        if header_end < 0:
            continue
        padding = buf[end - 1] if buf[off] & 0x20 else 0
        builders[key].add(timestamp, buf[off + 1] & 0x7F, bytes(buf[header_end:end - padding]))


def run(args) -> int:
    ssrc = parse_ssrc(args.stream)
    capture = load_capture(args.file)
    streams = select_streams(capture.streams, ssrc, args.mix)
    builders = {}
    for stream in streams:
        # Bound the track by the stream's wall-clock length (+1 s) against bogus timestamp leaps.
        limit = int((stream.duration_ns / 1e9 + 1) * SAMPLE_RATE * 1.1)
        builders[stream.key] = TrackBuilder(stream.first_ns, limit)
    read_payloads(args.file, streams, builders)
    tracks = [b.track for b in builders.values()]
    track = mix(tracks) if len(tracks) > 1 else tracks[0]
    write_wav(args.output, track)
    expected = sum(s.packets for s in streams)
    print(f"{args.output}: {len(track.samples) / SAMPLE_RATE:.2f} s, {track.packets} of {expected} "
          f"packets from {len(streams)} stream(s)"
          + (f", {track.skipped} non-audio packets skipped" if track.skipped else "")
          + (f", {track.dropped} packets outside the timeline dropped" if track.dropped else ""),
          file=sys.stderr)
    return 0
