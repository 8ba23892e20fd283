"""Command-line arguments that every capture-reading subcommand shares."""

from __future__ import annotations

import gc
import sys

from ladder.capture import ENGINES, load_capture


def add_capture_arguments(parser, *, stdin: bool = True) -> None:
    """The capture file, the engine that reads it and the TLS key log."""
    where = "pcap or pcapng capture, gzip-compressed or not" + ("; - for stdin" if stdin else "")
    parser.add_argument("file", help=where)
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="capture reader: auto (ours, tshark for formats we do not read), dpkt, pyshark")
    parser.add_argument("--tls-keylog", metavar="FILE",
                        help="SSLKEYLOGFILE key log: decrypt SIP over TLS (through tshark)")


def load_capture_from_args(args, *, media: bool = True, progress=None, messages: bool = True):
    """The capture the command line names, with each file-level problem (a truncated last
    record, say) as one warning line on stderr: every command says the same thing."""
    capture = load_capture(
        args.file,
        engine=getattr(args, "engine", "auto"),
        tls_keylog=getattr(args, "tls_keylog", None),
        progress=progress,
        media=media,
        messages=messages,
    )
    for problem in capture.errors:
        print(f"ladder: warning: {problem}", file=sys.stderr)
    # The capture lives as long as the command: out of the collector's full passes, which would
    # otherwise walk every message again each time (work growing with the capture, per call).
    gc.freeze()
    return capture
