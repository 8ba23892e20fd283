"""``ladder audio FILE --stream SSRC -o out.wav [--mix]``: a G.711 stream as a WAV file.

Payloads are not kept in memory while loading, so the file is read a second time and the
stream's datagrams picked out by address, ports and SSRC. The second pass is the same
``ladder.capture.pipeline`` frame walk as the first (every link layer, IP fragments, tunnels), with a
``PayloadCollector`` in place of the RTP statistics table, so it finds every packet the first
pass counted (the command says how many it wrote against how many the stream had).
"""

from __future__ import annotations

import struct
import sys

from decoders.rtp import rtp_header_end
from ladder.cli.arguments import load_capture_from_args
from ladder.errors import UsageError
from ladder.capture.reader import CaptureReader
from ladder.capture.pipeline import Pipeline
from ladder.media.streams import RtpStream
from ladder.export.wav import SAMPLE_RATE, TrackBuilder, mix, write_wav

_TS_SSRC = struct.Struct("!II")


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


class PayloadCollector:
    """An RTP table for ``Pipeline(media_table=...)`` that hands the chosen streams' payloads
    (RTP timestamp, payload type, bytes without header and padding) to their track builders.
    It keeps no statistics: the streams were analysed and chosen on the first pass."""

    def __init__(self, streams: list[RtpStream], builders: dict[tuple, TrackBuilder]):
        self._wanted = {(s.src.ip, s.src.port, s.dst.ip, s.dst.port, s.ssrc): builders[s.key] for s in streams}
        self._fed = 0
        self._taken = 0
        self.diagnostics: dict[str, int] = {}

    def feed_udp(self, src_ip: str, src_port: int, dst_ip: str, dst_port: int, ts_ns: int, frame_no: int,
                 buf: bytes, off: int, end: int) -> None:
        self._fed += 1
        if end - off < 12 or buf[off] & 0xC0 != 0x80 or 200 <= buf[off + 1] <= 207:  # not RTP, or RTCP
            return
        timestamp, ssrc = _TS_SSRC.unpack_from(buf, off + 4)
        builder = self._wanted.get((src_ip, src_port, dst_ip, dst_port, ssrc))
        if builder is None:
            return
        header_end = rtp_header_end(buf, off, end)
        if header_end < 0:
            return
        padding = buf[end - 1] if buf[off] & 0x20 else 0
        self._taken += 1
        builder.add(timestamp, buf[off + 1] & 0x7F, bytes(buf[header_end:end - padding]))

    def expect_sdp(self, msg) -> None:
        """SDP matters only to finding streams, which the first pass did."""

    def finish(self) -> list[RtpStream]:
        return []

    def counts(self) -> dict[str, int]:
        return {"rtp": self._taken, "rtcp": 0, "other": self._fed - self._taken}


def read_payloads(path: str, streams: list[RtpStream], builders: dict[tuple, TrackBuilder]) -> None:
    """Second pass over the file, through the pipeline: each selected stream's RTP payloads to
    its builder."""
    pipeline = Pipeline(media_table=PayloadCollector(streams, builders))
    with CaptureReader(path) as reader:
        pipeline.feed_records(reader.records())
    pipeline.finish()


def run(args) -> int:
    ssrc = parse_ssrc(args.stream)
    capture = load_capture_from_args(args)
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
