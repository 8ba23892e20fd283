"""Command-line arguments that every capture-reading subcommand shares."""

from __future__ import annotations

import gc
import sys

from ladder.capture import ENGINES, load_capture
from ladder.limits import LIMITS, limit_warnings, parse_limits
from ladder.textsafe import safe_text


def add_capture_arguments(parser, *, stdin: bool = True, optional: bool = False) -> None:
    """The capture file, the engine that reads it and the TLS key log (``optional``: the
    command can read a live capture instead)."""
    where = "pcap or pcapng capture, gzip-compressed or not" + ("; - for stdin" if stdin else "")
    parser.add_argument("file", help=where, **({"nargs": "?"} if optional else {}))
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="capture reader: auto (ours, tshark for formats we do not read), dpkt, pyshark")
    parser.add_argument("--tls-keylog", metavar="FILE",
                        help="SSLKEYLOGFILE key log: decrypt SIP over TLS (through tshark)")
    parser.add_argument("--max", action="append", dest="limits", metavar="NAME=N",
                        help="raise a limit for hostile captures (repeatable): " + ", ".join(LIMITS)
                        + " (defaults in docs/SECURITY.md)")


def load_capture_from_args(args, *, media: bool = True, progress=None, messages: bool = True):
    """The capture the command line names, with each file-level problem (a truncated last
    record, say) as one warning line on stderr: every command says the same thing."""
    limits = parse_limits(getattr(args, "limits", None))
    capture = load_capture(
        args.file,
        engine=getattr(args, "engine", "auto"),
        tls_keylog=getattr(args, "tls_keylog", None),
        progress=progress,
        media=media,
        limits=limits,
        messages=messages,
    )
    for problem in capture.errors + limit_warnings(capture.diagnostics, limits):
        print(f"ladder: warning: {safe_text(problem)}", file=sys.stderr)
    # The capture lives as long as the command: out of the collector's full passes, which would
    # otherwise walk every message again each time (work growing with the capture, per call).
    gc.freeze()
    return capture
