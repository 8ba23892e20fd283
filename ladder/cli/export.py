"""``ladder export FILE``: the chosen calls as a bug-report bundle — an offline HTML report, a pcap
slice, text / Mermaid / JSON ladders — optionally anonymised (the same stand-ins in every
output of one run, reproducible with ``--anonymize-key``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from ladder.draw.aliases import AliasMap, add_alias_arguments, build_aliases
from ladder.calls.grouping import Call, select_calls
from ladder.cli.arguments import add_call_argument, add_capture_arguments, load_capture_from_args, say_no_calls
from ladder.cli.show import add_index_calls_argument
from ladder.draw.diagram import Ladder
from ladder.errors import UsageError

if TYPE_CHECKING:
    from ladder.analysis import Analysis

TEXT_OUTPUTS = ("html", "text", "mermaid", "json")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write an HTML report, a pcap slice, text/Mermaid/JSON ladders",
        description=(
            "Export the chosen calls (all by default): --html an offline HTML report (ladder, "
            "messages, deviations, RTP streams and charts), --pcap their SIP and RTP/RTCP frames, "
            "--text/--mermaid/--json their ladders. '-' writes to stdout. --anonymize replaces "
            "addresses, users, numbers, host names, tags, Call-IDs and credentials in every output."
        ),
    )
    add_capture_arguments(parser, stdin=False)
    add_alias_arguments(parser)
    add_call_argument(parser, "the calls to export")
    parser.add_argument("--html", metavar="OUT", help="self-contained HTML report")
    parser.add_argument("--pcap", metavar="OUT", help="the calls' SIP and RTP/RTCP frames as a capture")
    parser.add_argument("--text", metavar="OUT", help="RFC 3665-style text ladders")
    parser.add_argument("--mermaid", metavar="OUT", help="Mermaid sequence diagrams")
    parser.add_argument("--json", metavar="OUT", help="ladders as JSON (docs/JSON.md)")
    parser.add_argument("--anonymize", action="store_true",
                        help="replace IPs, users, numbers, hosts, tags, Call-IDs and credentials consistently")
    parser.add_argument("--anonymize-key", metavar="KEY",
                        help="key for reproducible stand-ins (implies --anonymize; default: a random key)")
    parser.add_argument("--no-media", action="store_true", help="no RTP analysis, no media bars or charts")
    parser.add_argument("--no-check", action="store_true", help="leave out the RFC 3665 / RFC 3261 check")
    parser.add_argument("--time", action="store_true", help="a time column in the text ladder")
    add_index_calls_argument(parser)
    parser.set_defaults(func=run)


def _check_outputs(args) -> list[tuple[str, str]]:
    outputs = [(name, getattr(args, name)) for name in (*TEXT_OUTPUTS, "pcap") if getattr(args, name)]
    if not outputs:
        raise UsageError("nothing to export: give --html, --pcap, --text, --mermaid or --json")
    if sum(1 for _name, path in outputs if path == "-") > 1:
        raise UsageError("only one output can go to stdout ('-')")
    source = os.path.realpath(args.file) if args.file != "-" else None
    for name, path in outputs:
        if path != "-" and source is not None and os.path.realpath(path) == source:
            raise UsageError(f"--{name} {path} would overwrite the capture itself")
    if args.pcap and args.file == "-":
        raise UsageError("--pcap needs the capture as a file (frames are read from it again)")
    return outputs


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args) -> int:
    from ladder.archive.slice import is_index, run_on_index

    if is_index(args.file):
        return run_on_index(args, run)
    args.call = [*args.call, *args.calls]
    from ladder.analysis import Analysis, analyse

    outputs = _check_outputs(args)
    media = not args.no_media
    capture = load_capture_from_args(args, media=media)
    analysis = analyse(capture, media=media)
    say_no_calls(analysis.calls)
    chosen = select_calls(analysis.calls, args.call)

    aliases = build_aliases(args.alias, args.alias_file)
    anonymizer = None
    shown_analysis: Analysis = analysis
    shown = chosen
    if args.anonymize or args.anonymize_key is not None:
        from ladder.export.anonymize import Anonymizer, anonymize_capture

        anonymizer = Anonymizer(args.anonymize_key)
        shown_analysis = analyse(anonymize_capture(capture, anonymizer), media=media)
        aliases = aliases.rekeyed(anonymizer.ip)
        if anonymizer.reparse_failures:
            print(f"ladder: warning: {anonymizer.reparse_failures} SIP message(s) no longer parsed once "
                  "anonymised and were left out (diagnostic anonymize-reparse-failed)", file=sys.stderr)
        # Calls are numbered by start time, which anonymisation does not change.
        by_index = {call.index: call for call in shown_analysis.calls}
        shown = [by_index[call.index] for call in chosen if call.index in by_index]

    def ladders() -> Iterator[Ladder]:
        return (shown_analysis.ladder(call, aliases=aliases) for call in shown)

    writers: dict[str, Callable[[], str]] = {
        "text": lambda: _render_text(ladders(), args.time),
        "mermaid": lambda: _render_mermaid(ladders()),
        "json": lambda: _render_json(list(ladders())),
        "html": lambda: _render_html(shown_analysis, shown, not args.no_check, anonymizer is not None, aliases),
    }
    for name, path in outputs:
        if name == "pcap":
            from ladder.export.pcap_slice import write_call_pcap

            result = write_call_pcap(capture, chosen, path, all_calls=analysis.calls,
                                     bindings=list(analysis.media_index.bindings) if media else None,
                                     anonymizer=anonymizer)
            print(f"ladder: wrote {path}: {result.describe()}", file=sys.stderr)
            continue
        _write(path, writers[name]())
        if path != "-":
            print(f"ladder: wrote {path} ({name}, {len(shown)} call(s))", file=sys.stderr)
    return 0


def _render_text(ladders: Iterable[Ladder], time: bool) -> str:
    from ladder.draw.text import render_text

    return "\n".join(render_text(ladder, time=time) for ladder in ladders)


def _render_mermaid(ladders: Iterable[Ladder]) -> str:
    from ladder.draw.mermaid import render_mermaid

    return "\n".join(render_mermaid(ladder) for ladder in ladders)


def _render_json(ladders: list[Ladder]) -> str:
    from ladder.draw.json_ladder import render_json

    return render_json(ladders)


def _render_html(analysis: "Analysis", calls: list[Call], check: bool, anonymized: bool, aliases: AliasMap) -> str:
    from ladder.export.html_report import render_html

    note = "Anonymised: addresses, users, numbers, host names, tags, Call-IDs and credentials are stand-ins." \
        if anonymized else ""
    return render_html(analysis.capture, calls, all_calls=analysis.calls, analysis=analysis, media=analysis.media,
                       check=check, note=note, aliases=aliases)
