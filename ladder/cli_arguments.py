"""Command-line arguments that every capture-reading subcommand shares."""

from __future__ import annotations

from ladder.capture import ENGINES


def add_capture_arguments(parser, *, stdin: bool = True) -> None:
    """The capture file, the engine that reads it and the TLS key log."""
    where = "pcap or pcapng capture, gzip-compressed or not" + ("; - for stdin" if stdin else "")
    parser.add_argument("file", help=where)
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="capture reader: auto (ours, tshark for formats we do not read), dpkt, pyshark")
    parser.add_argument("--tls-keylog", metavar="FILE",
                        help="SSLKEYLOGFILE key log: decrypt SIP over TLS (through tshark)")
