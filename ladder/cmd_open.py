"""``ladder FILE``: the TUI on a terminal; the text ladders of every call otherwise
(piped, redirected, in CI), so ``ladder FILE | less`` does the useful thing."""

from __future__ import annotations

import sys

from ladder.aliases import build_aliases
from ladder.cmd_show import add_ladder_arguments, render_ladders
from ladder.ingest import check_openable


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "open", help="open a capture (TUI on a terminal, text ladders otherwise)",
        description="Open a capture: the interactive TUI on a terminal, the text ladders of every call otherwise.",
    )
    add_ladder_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    # The TUI reads keys from stdin, so both ends must be a terminal (``ladder F < /dev/null``
    # prints the ladders instead of starting an app nobody can drive).
    if sys.stdout.isatty() and sys.stdin.isatty():
        # Bad aliases and a missing file are one-line errors (status 2) before the screen is
        # taken over, as every other command gives them.
        args.aliases = build_aliases(args.alias, args.alias_file)
        check_openable(args.file)
        from tui.app import run_app  # imported here: the core never needs textual

        return run_app(args)
    return render_ladders(args)


def run_live_tui(session, args) -> int:
    """The TUI on a live capture (``ladder -d`` / ``ladder -L``, from ``ladder.cmd_live``): like
    ``ladder FILE``'s, the TUI is entered only from this module."""
    from tui.live_app import run_live_app

    return run_live_app(session, args)
