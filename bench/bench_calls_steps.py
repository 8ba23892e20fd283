"""The per-call steps of ``ladder calls`` outside the group read-back, each beside the way it was
done before (issue 13, session 7): CPU seconds of each over one capture, measured in this process.

``python3 bench/bench_calls_steps.py FILE [--repeat 3]``

* groups: ``bounded._Groups`` compiled (``_accel.call_groups``) / its pure-Python path;
* parties: each INVITE leg's caller and target (``legs._caller``/``_target``) through
  ``decoders.sipuser`` / through ``parse_name_addr`` + ``parse_uri`` as before;
* timings: ``call_timings`` of every call;
* start: ``format_start`` of every call / a ``datetime`` each;
* JSON: each call's ``call_dict`` through ``json_text`` (its own indented encoder) / through ``json.dumps``;
* table: ``write_rows`` of every row (batched spill, one format string) / a ``marshal.dump`` and a
  line padded cell by cell per row.

Each figure is the least of ``--repeat`` runs (the machine is shared). The calls are built once
(``iter_calls``), outside the figures.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import marshal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from decoders.errors import DecodeError  # noqa: E402
from decoders.sipuri import parse_name_addr, parse_uri  # noqa: E402
from ladder.calls import bounded, legs  # noqa: E402
from ladder.calls.timings import call_timings  # noqa: E402
from ladder.capture.loader import load_capture  # noqa: E402
from ladder.cli.calls import _HEADER, _NUMERIC, call_dict, format_start, table_row, write_rows  # noqa: E402
from ladder.textsafe import json_text  # noqa: E402


def _least(work, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def _full_user(text):
    try:
        return parse_uri(text).user
    except DecodeError:
        return None


def _full_parties(request) -> tuple[str, str]:
    """``_caller`` and ``_target`` as they were: the full parse of From, To and the R-URI."""
    value = request.header("From")
    caller = ""
    if value:
        try:
            caller = (parse_uri(parse_name_addr(value).uri).user or "").lstrip("+").lower()
        except DecodeError:
            pass
    to = request.header("To")
    try:
        to_uri = parse_name_addr(to).uri if to else None
    except DecodeError:
        to_uri = None
    target = ""
    for text in (request.request_uri, to_uri):
        user = _full_user(text) if text else None
        if user:
            target = user.lstrip("+").lower()
            break
    return caller, target


def _old_start(ts_ns: int) -> str:
    moment = _dt.datetime.fromtimestamp(ts_ns / 1e9, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _old_table(rows) -> None:
    widths = [len(cell) for cell in _HEADER]
    with tempfile.TemporaryFile() as spill:
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
            marshal.dump(row, spill)
        spill.seek(0)
        out = io.StringIO()
        while True:
            try:
                row = marshal.load(spill)
            except EOFError:
                break
            out.write(_old_line(row, widths))


def _old_line(row, widths) -> str:
    cells = [cell.rjust(w) if i in _NUMERIC else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
    return "  ".join(cells).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    capture = load_capture(args.file, media=False, messages=False, locate=True)
    calls = list(bounded.iter_calls(capture))
    requests = [leg.request for call in calls for leg in call.legs if leg.method == "INVITE"]
    rows = [table_row(call) for call in calls]
    dicts = [call_dict(call) for call in calls]
    figures = [
        ("groups", lambda: bounded._Groups(capture), lambda: bounded._Groups(capture, compiled=False)),
        ("parties", lambda: [(legs._caller(r), legs._target(r)) for r in requests],
         lambda: [_full_parties(r) for r in requests]),
        ("timings", lambda: [call_timings(call) for call in calls], None),
        ("start", lambda: [format_start(call.start_ns) for call in calls],
         lambda: [_old_start(call.start_ns) for call in calls]),
        ("JSON", lambda: [json_text(d, indent=2) for d in dicts],
         # (an option json_text's fast path does not take: json.dumps, as before)
         lambda: [json_text(d, indent=2, sort_keys=False) for d in dicts]),
        ("table", lambda: write_rows(io.StringIO(), iter(rows)), lambda: _old_table(rows)),
    ]
    print(f"{args.file}: {len(capture.sip_index):,} messages, {len(calls):,} calls, "
          f"{len(requests):,} INVITE legs; CPU s, least of {args.repeat}")
    print(f"{'step':<10}{'now':>9}{'before':>9}")
    for name, now, before in figures:
        old = f"{_least(before, args.repeat):9.3f}" if before is not None else f"{'-':>9}"
        print(f"{name:<10}{_least(now, args.repeat):9.3f}{old}")


if __name__ == "__main__":
    main()
