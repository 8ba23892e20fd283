"""``ladder FILE``: the TUI on a terminal; the text ladders of every call otherwise
(piped, redirected, in CI), so ``ladder FILE | less`` does the useful thing."""

from __future__ import annotations

import sys

from ladder.draw.aliases import build_aliases
from ladder.cli.show import add_ladder_arguments, render_ladders
from ladder.capture.reader import check_openable


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
    from ladder.archive.slice import is_index

    if sys.stdout.isatty() and sys.stdin.isatty():
        # Bad aliases and a missing file are one-line errors (status 2) before the screen is
        # taken over, as every other command gives them.
        args.aliases = build_aliases(args.alias, args.alias_file)
        if is_index(args.file):  # ``ladder INDEX``: the call list of an archive index
            from tui.index_app import run_index_app

            return run_index_app(args)
        check_openable(args.file)
        from tui.app import run_app  # imported here: the core never needs textual

        return run_app(args)
    if is_index(args.file):  # its call list, as 'ladder search INDEX' prints it
        from ladder.archive.search import search
        from ladder.cli.search import format_rows

        sys.stdout.write(format_rows(search(args.file, "")))
        return 0
    return render_ladders(args)


def run_live_tui(session, args) -> int:
    """The TUI on a live capture (``ladder -d`` / ``ladder -L``, from ``ladder.cli.live``): like
    ``ladder FILE``'s, the TUI is entered only from this module."""
    from tui.live_app import run_live_app

    return run_live_app(session, args)
