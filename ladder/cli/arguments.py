"""Command-line arguments that every capture-reading subcommand shares."""

from __future__ import annotations

import gc
import sys

from ladder.capture.loader import ENGINES, load_capture
from ladder.capture.limits import LIMITS, limit_warnings, parse_limits
from ladder.textsafe import safe_text


NO_CALLS = "no SIP calls in this capture"


def add_capture_arguments(parser, *, stdin: bool = True, optional: bool = False) -> None:
    """The capture file, the engine that reads it and the TLS key log (``optional``: the
    command can read a live capture instead; the file is optional to argparse either way)."""
    where = "pcap or pcapng capture, gzip-compressed or not" + ("; - for stdin" if stdin else "")
    # Optional to argparse only so that ``--call 1 FILE`` works (see ``take_file_from_calls``).
    parser.add_argument("file", nargs="?", help=where)
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="capture reader: auto (ours, tshark for formats we do not read), dpkt, pyshark")
    parser.add_argument("--tls-keylog", metavar="FILE",
                        help="SSLKEYLOGFILE key log: decrypt SIP over TLS (through tshark)")
    parser.add_argument("--max", action="append", dest="limits", metavar="NAME=N",
                        help="raise a limit for hostile captures (repeatable): " + ", ".join(LIMITS)
                        + " (defaults in docs/SECURITY.md)")


def add_call_argument(parser, what: str) -> None:
    """``--call N|CALL-ID …`` (several values, repeatable) for ``show``, ``export``."""
    parser.add_argument("--call", action="extend", nargs="+", default=[], metavar="N|CALL-ID",
                        help=f"{what}, by number (see 'ladder calls') or Call-ID; repeatable")


def take_file_from_calls(args) -> str | None:
    """The capture file when argparse could not see it: ``--call`` takes several values, so in
    ``ladder show --call 1 FILE`` it swallowed FILE, which is then its last value. Returns an
    error message when there is no file at all."""
    if getattr(args, "file", "") is not None or getattr(args, "device", None) or getattr(args, "listen", None):
        return None  # a file, or a live source (``check -d IFACE``)
    calls = getattr(args, "call", None)
    if isinstance(calls, list) and len(calls) > 1:
        args.file = calls.pop()
        return None
    return "the following arguments are required: file"


def say_no_calls(calls) -> None:
    """The one message every command gives for a capture without SIP calls (an empty or
    header-only file, or one with RTP only), on stderr so that JSON on stdout stays valid."""
    if not calls:
        print(f"ladder: {NO_CALLS}", file=sys.stderr)


def load_capture_from_args(args, *, media: bool = True, progress=None, messages: bool = True,
                           locate: bool = False):
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
        locate=locate,
    )
    for problem in capture.errors + limit_warnings(capture.diagnostics, limits):
        print(f"ladder: warning: {safe_text(problem)}", file=sys.stderr)
    # The capture lives as long as the command: out of the collector's full passes, which would
    # otherwise walk every message again each time (work growing with the capture, per call).
    gc.freeze()
    return capture
