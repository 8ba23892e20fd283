"""``ladder show FILE``: the ladder of each call as text, JSON or Mermaid."""

from __future__ import annotations

import sys

from ladder.draw.aliases import add_alias_arguments, build_aliases
from ladder.analysis import analyse
from ladder.calls.grouping import select_calls
from ladder.cli.arguments import add_call_argument, add_capture_arguments, load_capture_from_args, say_no_calls
from ladder.draw.json_ladder import render_json
from ladder.draw.mermaid import render_mermaid
from ladder.draw.text import render_text

FORMATS = ("text", "json", "mermaid")


def add_ladder_arguments(parser) -> None:
    """Options shared by ``show`` and ``ladder FILE``."""
    add_capture_arguments(parser)
    add_alias_arguments(parser)
    parser.add_argument("--time", action="store_true",
                        help="a column of seconds since the capture's first frame")
    parser.add_argument("--compact", action="store_true",
                        help="put labels beside earlier arrows when they fit (RFC 3665 style)")
    parser.add_argument("--no-media", action="store_true", help="no RTP analysis, no media bars")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "show", help="draw call ladders (text, JSON or Mermaid)",
        description="Draw the RFC 3665-style ladder of each call (or of the calls chosen with --call).",
    )
    add_ladder_arguments(parser)
    add_call_argument(parser, "the call to draw")
    parser.add_argument("--format", choices=FORMATS, default="text")
    add_index_calls_argument(parser)
    parser.set_defaults(func=run)


def add_index_calls_argument(parser) -> None:
    """``ladder show INDEX CALL-ID|ROW``: the calls of an archive index (see ``ladder index``)."""
    parser.add_argument("calls", nargs="*", default=[], metavar="CALL-ID|ROW",
                        help="calls to draw, like --call; with an INDEX directory (see 'ladder index') "
                        "a row number or Call-ID of the index")


def render_ladders(args, out=None) -> int:
    """Load, build and print the ladders the arguments ask for."""
    out = out or sys.stdout
    aliases = build_aliases(args.alias, args.alias_file)
    media = not args.no_media
    capture = load_capture_from_args(args, media=media)
    analysis = analyse(capture, media=media)
    selected = getattr(args, "call", []) or []
    say_no_calls(analysis.calls)
    calls = select_calls(analysis.calls, selected)
    fmt = getattr(args, "format", "text")
    if fmt == "json":
        out.write(render_json([analysis.ladder(call, aliases=aliases) for call in calls]))
    elif fmt == "mermaid":
        out.write("\n".join(render_mermaid(analysis.ladder(call, aliases=aliases)) for call in calls))
    else:
        # One ladder at a time: each is drawn, written and released.
        for number, call in enumerate(calls):
            if number:
                out.write("\n")
            out.write(render_text(analysis.ladder(call, aliases=aliases), time=args.time, compact=args.compact))
    return 0


def run(args) -> int:
    from ladder.archive.slice import is_index, run_on_index

    if is_index(args.file):
        return run_on_index(args, render_ladders)
    args.call = [*args.call, *args.calls]
    return render_ladders(args)
