"""``ladder export FILE``: the chosen calls as a bug-report bundle — an offline HTML report, a pcap
slice, text / Mermaid / JSON ladders — optionally anonymised (the same stand-ins in every
output of one run, reproducible with ``--anonymize-key``)."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from ladder.aliases import add_alias_arguments, build_aliases
from ladder.calls import Call, build_calls, select_calls
from ladder.cmd_show import add_index_calls_argument
from ladder.cli_arguments import add_capture_arguments, load_capture_from_args
from ladder.errors import UsageError
from ladder.layout import build_ladder

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
    parser.add_argument("--call", action="extend", nargs="+", default=[], metavar="N|CALL-ID",
                        help="the calls to export, by number (see 'ladder calls') or Call-ID; repeatable")
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


def _bindings(capture: Any, calls: list[Call], media: bool) -> list[Any] | None:
    if not media or not capture.streams:
        return None
    from ladder.media import bind_media  # only when there is RTP to bind

    # Bound once over every call, so a stream on reused ports goes to one call only.
    return bind_media(calls, capture.streams)


def run(args) -> int:
    from ladder.archive_slice import is_index, run_on_index

    if is_index(args.file):
        return run_on_index(args, run)
    args.call = [*args.call, *args.calls]
    outputs = _check_outputs(args)
    media = not args.no_media
    capture = load_capture_from_args(args, media=media)
    all_calls = build_calls(capture)
    chosen = select_calls(all_calls, args.call)

    aliases = build_aliases(args.alias, args.alias_file)
    anonymizer = None
    shown_capture, shown_all, shown = capture, all_calls, chosen
    if args.anonymize or args.anonymize_key is not None:
        from ladder.anonymize import Anonymizer, anonymize_capture

        anonymizer = Anonymizer(args.anonymize_key)
        shown_capture = anonymize_capture(capture, anonymizer)
        aliases = aliases.rekeyed(anonymizer.ip)
        shown_all = build_calls(shown_capture)
        if anonymizer.reparse_failures:
            print(f"ladder: warning: {anonymizer.reparse_failures} SIP message(s) no longer parsed once "
                  "anonymised and were left out (diagnostic anonymize-reparse-failed)", file=sys.stderr)
        # Calls are numbered by start time, which anonymisation does not change.
        by_index = {call.index: call for call in shown_all}
        shown = [by_index[call.index] for call in chosen if call.index in by_index]

    shown_bindings = _bindings(shown_capture, shown_all, media)
    ladders: list[Any] = []
    if any(getattr(args, name) for name in ("text", "mermaid", "json")):
        ladders = [build_ladder(call, shown_capture, aliases=aliases, media=media, bindings=shown_bindings)
                   for call in shown]

    writers: dict[str, Callable[[], str]] = {
        "text": lambda: _render_text(ladders, args.time),
        "mermaid": lambda: _render_mermaid(ladders),
        "json": lambda: _render_json(ladders),
        "html": lambda: _render_html(shown_capture, shown, shown_all, shown_bindings, media,
                                     not args.no_check, anonymizer is not None, aliases),
    }
    for name, path in outputs:
        if name == "pcap":
            from ladder.export_pcap import write_call_pcap

            original_bindings = _bindings(capture, all_calls, media)
            result = write_call_pcap(capture, chosen, path, all_calls=all_calls, bindings=original_bindings,
                                     anonymizer=anonymizer)
            print(f"ladder: wrote {path}: {result.describe()}", file=sys.stderr)
            continue
        _write(path, writers[name]())
        if path != "-":
            print(f"ladder: wrote {path} ({name}, {len(shown)} call(s))", file=sys.stderr)
    return 0


def _render_text(ladders: list[Any], time: bool) -> str:
    from ladder.render_text import render_text

    return "\n".join(render_text(ladder, time=time) for ladder in ladders)


def _render_mermaid(ladders: list[Any]) -> str:
    from ladder.render_mermaid import render_mermaid

    return "\n".join(render_mermaid(ladder) for ladder in ladders)


def _render_json(ladders: list[Any]) -> str:
    from ladder.render_json import render_json

    return render_json(ladders)


def _render_html(capture: Any, calls: list[Any], all_calls: list[Any], bindings: Any, media: bool,
                 check: bool, anonymized: bool, aliases: Any) -> str:
    from ladder.render_html import render_html

    note = "Anonymised: addresses, users, numbers, host names, tags, Call-IDs and credentials are stand-ins." \
        if anonymized else ""
    return render_html(capture, calls, all_calls=all_calls, bindings=bindings, media=media, check=check, note=note,
                       aliases=aliases)
