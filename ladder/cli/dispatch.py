"""The ``ladder`` command: a thin dispatcher over one module per subcommand.

Each subcommand lives in ``ladder/cli/<name>.py`` and provides ``add_parser(subparsers)``
(which registers its arguments and sets ``func``). Only the subcommand being run is imported
(every one for ``--help`` and usage errors): a command's start-up is part of its run time, and
``ladder stats`` has no use for the ladder, check and export modules. ``ladder FILE`` with no subcommand opens
the TUI on a terminal and prints the text ladders otherwise.

Exit codes: 0 ok, 1 deviations found (``check``), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ladder.errors import CaptureError, UsageError

SUBCOMMANDS = ("stats", "calls", "show", "streams", "audio", "check", "export", "open", "live", "index", "search")
# ``ladder -d IFACE`` / ``ladder -L udp:ADDR:PORT``: the TUI on a live capture, like sngrep's.
LIVE_OPTIONS = ("-d", "--device", "-L", "--listen")


def error(message: str) -> None:
    """One line on stderr in the documented form."""
    from ladder.textsafe import safe_text

    print(f"ladder: error: {safe_text(message)}", file=sys.stderr)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with just ``only``."""
    parser = argparse.ArgumentParser(
        prog="ladder",
        description="SIP/RTP captures as RFC 3665-style ladder diagrams.",
        epilog="Run 'ladder FILE' to open a capture (the TUI on a terminal, text ladders otherwise).",
    )
    from ladder import __version__

    parser.add_argument("--version", action="version", version=f"pcapladder {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        if only is None or name == only:
            importlib.import_module(f"ladder.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # ``ladder FILE [options]``, ``ladder -`` (stdin) and ``ladder --time FILE``: the main job,
    # like ``sngrep FILE``; only --help and --version belong to ``ladder`` itself.
    if argv and argv[0].split("=")[0] in LIVE_OPTIONS:
        argv[:0] = ["live", "--tui"]
    elif argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "open")
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    from ladder.cli.arguments import take_file_from_calls

    missing = take_file_from_calls(args)
    if missing:
        parser.error(missing)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        error(str(exc))
        return 2
    except CaptureError as exc:
        error(str(exc))
        return 2
    except BrokenPipeError:
        # ``ladder show F | head``: the reader left; that is not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        # The limits (docs/SECURITY.md) keep a hostile capture from getting here; a machine
        # with less memory than the capture needs still gets one line, not a traceback.
        error("out of memory while reading the capture; lower the limits (--max NAME=N) or use a bigger machine")
        return 2


if __name__ == "__main__":
    sys.exit(main())
