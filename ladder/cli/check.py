"""``ladder check FILE``: each call against the RFC 3665 reference flows and RFC 3261 rules.

Exit status: 0 when every call conforms (no deviation of severity warning or above), 1 when
any call has one, 2 on bad input (unreadable capture, unknown reference or code).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from ladder.check.call_check import (
    CheckResult,
    annotate_ladder,
    capture_settings,
    verdict_line,
)
from ladder.cli.arguments import add_capture_arguments, load_capture_from_args, say_no_calls
from ladder.capture.loader import collector_paced
from ladder.capture.continuity import Break, damage_note, damage_text
from ladder.check.codes import CODES, parse_ignore
from ladder.errors import UsageError
from ladder.check.references import load_references
from ladder.textsafe import json_text, safe_text, write_json_stream

if TYPE_CHECKING:
    from ladder.calls.grouping import Call


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="compare each call with the RFC 3665 flows and RFC 3261 rules",
        description=(
            "Match each call or registration with the RFC 3665 reference flows, list where it "
            "deviates, and apply the RFC 3261/3264 rules that need no reference. Exit 0 when "
            "every call conforms, 1 when any deviation is a warning or an error, 2 on bad input."
        ),
        epilog="Deviation codes: " + ", ".join(CODES),
    )
    add_capture_arguments(parser, optional=True)
    from ladder.cli.live import add_live_arguments

    add_live_arguments(parser)  # ladder check -d IFACE / -L udp:ADDR:PORT: deviations as calls end
    parser.add_argument(
        "--reference", default="auto", metavar="auto|ID|FILE",
        help="auto (best match, the default), a reference id such as rfc3665-3.2, or a .flow "
        "file whose flows are added to the library",
    )  # fmt: skip
    parser.add_argument("--call", action="append", default=[], metavar="N|CALL-ID",
                        help="check only this call (number from 'ladder calls', or a Call-ID); repeatable")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--ignore", default="", metavar="CODE,...", help="deviation codes not to report")
    parser.add_argument("--no-media", action="store_true", help="skip RTP analysis and media checks")
    parser.add_argument("--t1", type=float, default=500.0, metavar="MS",
                        help="RFC 3261 T1 in milliseconds (default 500)")
    parser.add_argument("--path-mtu", type=int, default=None, metavar="BYTES",
                        help="path MTU, when known, for the RFC 3261 §18.1.1 size rule")
    parser.set_defaults(func=run)


def _library(choice: str):
    """(references, wanted): a .flow path adds flows and matches automatically. A tuple: the
    matching memo tells it by its identity (``call_check._matched``)."""
    if choice == "auto":
        return tuple(load_references()), "auto"
    if choice.endswith(".flow") or os.sep in choice or os.path.isfile(choice):
        return tuple(load_references(choice)), "auto"
    return tuple(load_references()), choice


def run(args: argparse.Namespace) -> int:
    try:
        ignore = parse_ignore(args.ignore)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.t1 <= 0:
        raise UsageError("--t1 must be a positive number of milliseconds")
    references, wanted = _library(args.reference)
    if wanted != "auto" and all(r.id != wanted for r in references):
        raise UsageError(f"no reference flow {wanted!r} (known: {', '.join(r.id for r in references)})")

    from ladder.analysis import analyse
    from ladder.calls.grouping import select_calls

    media = not args.no_media
    if args.device or args.listen or not args.file:
        if args.file:
            raise UsageError("give a capture file or a live source (-d / -L), not both")
        from ladder.cli.live import check_live

        return check_live(args, references, wanted, ignore, media)
    with collector_paced():
        capture = load_capture_from_args(args, media=media, messages=False, locate=True)
        return _check_file(args, capture, references, wanted, ignore, media)


def _check_file(args, capture, references, wanted: str, ignore, media: bool) -> int:
    """Check the calls of a capture file one at a time (``ladder.calls.bounded``): each is
    built, checked, written and released, so memory holds the index and one call."""
    from ladder.analysis import Analysis
    from ladder.calls.bounded import iter_calls
    from ladder.check.rules import RuleSettings
    from ladder.calls.catalogue import CallCatalogue
    from ladder.media.binding import CallMedia, MediaIndex

    store = capture.message_store
    streams = capture.streams if media else []
    bad = [0]  # damaged messages (``continuity.damaged``), counted as the calls are first read

    def count_damage(message) -> None:
        bad[0] += store.damaged(message)

    if streams:
        # Media are bound once over every call (a stream goes to at most one): each call is
        # held as what binding reads of it and where its messages are, not with its messages,
        # then built again from those, fully parsed, one at a time. (A SIP-only capture has
        # nothing to bind: its calls are made once, as they are checked.)
        catalogue = CallCatalogue(capture)
        held = []
        for call in iter_calls(capture):
            for message in itertools.chain(call.messages, *call.copies.values()):
                count_damage(message)  # every message is in one call, once or as a capture copy
            catalogue.hold(call)
            held.append(CallMedia.of(call))
        analysis = Analysis(capture, [], MediaIndex.build(held, streams), media)
        del held
        built: Iterator[Call] = (catalogue.build(key) for key in catalogue.keys())
    else:
        # Pass 3 correlates each call again (transactions, dialogs, legs over the parsed
        # messages) though pass 2 built the INVITE groups' already: pass 2 must have read every
        # group before the links across Call-IDs, hence the calls, are known, and its objects
        # hold the read-back messages, so keeping them for pass 3 would hold the capture. Spilled
        # as message positions (as ``iter_call_rows`` spills rows), they would save
        # ``build_transactions`` only, about 2% of this command (21 µs of some 1,000 µs a call
        # on ``bench/make_sip_capture.py``'s calls), less what the spill costs; dialogs and legs are
        # remade in ``build_call`` either way.
        analysis = Analysis(capture, [], MediaIndex.build([], []), media)
        built = iter_calls(capture, look=count_damage, parse=True)
    first = next(built, None)
    say_no_calls(first is not None)
    calls: Iterable[Call] = itertools.chain([first], built) if first is not None else iter(())
    if args.call:
        calls = _selected(calls, args.call)
    breaks = store.breaks()
    damage = damage_text(bad[0], len(store))
    settings = RuleSettings(end_ns=capture.last_ts_ns, breaks=tuple(b.span for b in breaks),
                            damaged=damage is not None, t1_ns=int(args.t1 * 1_000_000), path_mtu=args.path_mtu)
    notes = [item.describe() for item in breaks] + ([damage] if damage else [])
    out = sys.stdout
    totals = [0, 0, 0]  # calls checked, of them deviating, findings

    def checked():
        # Call by call: the text of a call is written as soon as it is checked, and the call
        # and its ladder released; only counts stay for the totals.
        for call in calls:
            # (JSON shows no ladder: the check reads what it would show, undrawn)
            ladder = None if args.json else analysis.ladder(call)
            result = analysis.check(call, references, reference=wanted, ladder=ladder, ignore=ignore,
                                    settings=settings)
            totals[0] += 1
            totals[1] += not result.conforms
            totals[2] += len(result.deviations)
            if args.json:
                yield result.to_json()
                continue
            from ladder.draw.text import render_text

            if totals[0] > 1:
                out.write("\n")
            out.write(summary_line(result) + "\n\n")
            assert ladder is not None
            out.write(render_text(annotate_ladder(ladder, result)))

    if args.json:
        write_json_stream(out, {"file": args.file}, "calls", checked(),
                          lambda: _json_tail(totals, breaks, notes), ensure_ascii=True)
    else:
        for line in notes:
            out.write(safe_text(f"Capture: {line}") + "\n\n")
        for _ in checked():
            pass
        out.write("\n" + totals_text(*totals) + "\n")
    return 0 if totals[1] == 0 else 1


def _selected(calls, selectors: list[str]) -> list:
    """``select_calls`` over calls that come one at a time: only the named ones are kept."""
    from ladder.calls.grouping import select_calls

    numbers = {int(s) for s in selectors if s.isdigit()}
    names = {s for s in selectors if not s.isdigit()}
    return select_calls([c for c in calls if c.index in numbers or names.intersection(c.call_ids)], selectors)


def _json_tail(totals: list[int], breaks: list[Break], notes: list[str]) -> dict:
    return {
        "conforms": totals[1] == 0,
        "discontinuities": [
            {"frame_before": b.frame_before, "frame": b.frame, "seconds": round((b.after_ns - b.before_ns) / 1e9, 6),
             "detail": b.describe()}
            for b in breaks
        ],
        "capture_notes": notes,
    }


def summary_line(result: CheckResult) -> str:
    verdict = "conforms" if result.conforms else f"deviates ({result.severity})"
    return safe_text(f"Call {result.index} {result.call_id}: {verdict}; {verdict_line(result)}")


def totals_line(results: list[CheckResult]) -> str:
    return totals_text(len(results), sum(1 for r in results if not r.conforms),
                       sum(len(r.deviations) for r in results))


def totals_text(checked: int, bad: int, deviations: int) -> str:
    return f"{checked} call(s) checked, {bad} with deviations of severity warning or above, {deviations} finding(s) in all"


def capture_notes(breaks: list[Break], messages: list) -> list[str]:
    """What ``ladder check`` says once about the capture itself: its breaks, its damage."""
    notes = [item.describe() for item in breaks]
    damage = damage_note(messages)
    return notes + ([damage] if damage else [])
