"""``ladder search INDEX 'FILTER'``: the calls of an archive index that match a filter (the
TUI's filter language, see ``ladder.call_filter``), as rows or JSON."""

from __future__ import annotations

import datetime as _dt
import json
import sys

# Reading the shown columns costs in proportion to how far apart the shown rows lie; finding
# and counting every match does not (``ladder.archive.search``).
DEFAULT_LIMIT = 1000
# The columns the table shows (``--json`` gives all of ``search.COLUMNS``).
TABLE_COLUMNS = ("row", "start_ns", "caller", "callee", "outcome", "duration_ns", "mos_fwd", "mos_rev",
                 "deviation_codes", "call_id")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "search", help="find calls in an archive index",
        description=(
            "List the calls of an index that match every term of FILTER: free text, /regex/, from:, to:, "
            "callid:, method:, outcome: (failed = not a success), kind:, code:486, has:deviations, "
            "has:CODE (a deviation code such as one-way-media), since:/until: (ISO time, UTC)."
        ),
    )
    parser.add_argument("index", metavar="INDEX", help="a directory made by 'ladder index'")
    parser.add_argument("filter", nargs="*", default=[], metavar="FILTER",
                        help="filter terms (quote them as one argument or give several)")
    parser.add_argument("--json", action="store_true", help="a JSON array of the matching rows")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help=f"show the first N matching calls (default {DEFAULT_LIMIT}; 0: all of them)")
    parser.add_argument("--count", action="store_true", help="only the number of matching calls")
    parser.set_defaults(func=run)


def _time(ns: int | None) -> str:
    if ns is None:
        return "-"
    moment = _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def format_rows(rows: list[dict]) -> str:
    from ladder.textsafe import safe_text

    header = ("row", "start", "from", "to", "outcome", "duration", "mos", "deviations", "call-id")
    table = [header]
    for row in rows:
        mos = f"{_figure(row['mos_fwd'])}/{_figure(row['mos_rev'])}"
        table.append((str(row["row"]), _time(row["start_ns"]), safe_text(row["caller"]), safe_text(row["callee"]),
                      safe_text(row["outcome"]), f"{row['duration_ns'] / 1e9:.3f}s", mos,
                      ",".join(row["deviation_codes"]) or "-", safe_text(row["call_id"])))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() + "\n" for line in table)


def run(args) -> int:
    from ladder.archive.search import COLUMNS, matching_rows, read_rows
    from ladder.errors import UsageError

    if args.limit < 0:
        raise UsageError("--limit must be 0 (all) or more")
    query = " ".join(args.filter)
    found = matching_rows(args.index, query)
    if args.count:
        print(len(found))
        return 0
    shown = found[:args.limit] if args.limit else found
    rows = read_rows(args.index, shown, COLUMNS if args.json else TABLE_COLUMNS)
    if len(shown) < len(found):
        print(f"ladder: {len(found)} calls match; the first {len(shown)} shown (--limit N, 0 for all)",
              file=sys.stderr)
    if args.json:
        for row in rows:
            row["start"] = _time(row["start_ns"])
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_rows(rows))
        print(f"ladder: {len(rows)} call(s)", file=sys.stderr)
    return 0
