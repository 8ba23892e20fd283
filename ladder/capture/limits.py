"""Limits for hostile captures: every one a default far above what real traffic needs, raised
with ``--max NAME=N`` (docs/SECURITY.md lists them).

Reaching a limit never stops the run (but for the gzip ratio, which ends the reading with a
clear message): what is over it is counted under its diagnostic reason, and the command says
so in one warning line, with the option that raises it."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from decoders.ipfragments import MAX_DATAGRAMS, MAX_PIECES
from ladder.errors import UsageError
from ladder.capture.reader import MAX_GZIP_RATIO
from ladder.media.streams import MAX_STREAMS

# decoders.tcpstreams.MAX_CONNECTIONS (not imported: that module loads only for captures with
# TCP; tests/unit/capture/test_robustness.py checks the two agree).
MAX_CONNECTIONS = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    rtp_streams: int = MAX_STREAMS  # RTP streams tracked at once
    fragment_pieces: int = MAX_PIECES  # pieces of one IP datagram
    fragment_datagrams: int = MAX_DATAGRAMS  # IP datagrams being reassembled at once
    tcp_connections: int = MAX_CONNECTIONS  # TCP directions followed at once
    gzip_ratio: int = MAX_GZIP_RATIO  # decompressed bytes per compressed byte


# Command-line name -> (field, the diagnostic reason counted when the limit is reached, what).
LIMITS = {
    "rtp-streams": ("rtp_streams", "rtp-stream-limit", "RTP streams refused"),
    "fragment-pieces": ("fragment_pieces", "ip-fragment-too-many-pieces", "IP datagrams given up"),
    "fragment-datagrams": ("fragment_datagrams", "ip-fragment-overflow", "IP datagrams given up"),
    "tcp-connections": ("tcp_connections", "tcp-connection-limit", "TCP directions given up"),
    "gzip-ratio": ("gzip_ratio", None, None),
}
assert {field for field, _, _ in LIMITS.values()} == {f.name for f in fields(Limits)}


def parse_limits(values: list[str] | None) -> Limits:
    """``Limits`` from ``NAME=N`` texts (``--max``, repeatable); ``UsageError`` otherwise."""
    limits = Limits()
    for value in values or ():
        name, _, number = value.partition("=")
        if name not in LIMITS or not number.isdigit() or int(number) < 1:
            raise UsageError(f"--max {value!r}: expected NAME=N with N >= 1, NAME one of {', '.join(LIMITS)}")
        limits = replace(limits, **{LIMITS[name][0]: int(number)})
    return limits


def limit_warnings(diagnostics: dict[str, int], limits: Limits) -> list[str]:
    """One line per limit the capture reached, with its count and the option that raises it."""
    lines = []
    for name, (field, reason, what) in LIMITS.items():
        count = diagnostics.get(reason, 0) if reason else 0
        if count:
            lines.append(f"limit {name}={getattr(limits, field):,} reached: {count:,} {what} "
                         f"(--max {name}=N raises it)")
    return lines
