"""The ``ladder`` command: a thin dispatcher over one module per subcommand.

Each subcommand lives in ``ladder/cmd_<name>.py`` and provides ``add_parser(subparsers)``
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

SUBCOMMANDS = ("stats", "calls", "show", "streams", "audio", "check", "export", "open", "index", "search")


def error(message: str) -> None:
    """One line on stderr in the documented form."""
    print(f"ladder: error: {message}", file=sys.stderr)


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
            importlib.import_module(f"ladder.cmd_{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # ``ladder FILE [options]``: the main job, like ``sngrep FILE``.
    if argv and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "open")
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
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


if __name__ == "__main__":
    sys.exit(main())
