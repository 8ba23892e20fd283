"""``ladder calls FILE [--json]``: one row per call (and per registration, OPTIONS …)."""

from __future__ import annotations

import datetime as _dt
import itertools
import math
import sys
import tempfile
from typing import Any, Callable, Iterator

from ladder.calls.bounded import iter_call_rows
from ladder.calls.grouping import Call
from ladder.calls.spill import read_batch, write_batch
from ladder.capture.loader import collector_paced
from ladder.cli.arguments import add_capture_arguments, load_capture_from_args, say_no_calls
from ladder.textsafe import clip, safe_text, write_json_stream


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "calls", help="list the calls, registrations and other SIP exchanges",
        description="One row per call: index, start, from, to, outcome, messages, span (first to last "
        "message), talk time (answer to BYE), legs, kind.",
    )
    add_capture_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (one object per call)")
    parser.set_defaults(func=run)


def format_start(ts_ns: int) -> str:
    """UTC wall-clock time with milliseconds: what the capture says, whatever the viewer's zone.

    ``datetime.fromtimestamp(ts_ns / 1e9)`` cut as it cuts (``_PyTime_DoubleToDenominator``:
    the fraction of the float, in microseconds rounded half to even, carried into the second),
    and the date and time of the second made once for all the rows of that second."""
    fraction, whole = math.modf(ts_ns / 1e9)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        micros -= 1_000_000
        whole += 1.0
    elif micros < 0:
        micros += 1_000_000
        whole -= 1.0
    second = int(whole)
    made = _last_second[0]  # one read: another thread may make another second meanwhile
    if made[0] != second:
        made = _last_second[0] = (second, _dt.datetime.fromtimestamp(second, tz=_dt.timezone.utc)
                                  .strftime("%Y-%m-%d %H:%M:%S."))
    return made[1] + _MILLIS[micros // 1000]


_last_second: list[tuple[int | None, str]] = [(None, "")]  # the second format_start made last, and its text
_MILLIS = [f"{ms:03d}" for ms in range(1000)]


def call_dict(call: Call) -> dict:
    """One call as JSON: ``span`` is first to last captured message; ``setup_time`` (INVITE to
    answer) and ``talk_time`` (answer to BYE) are null when the capture does not show them."""
    return dict(zip(CALL_KEYS, call_values(call)))


CALL_KEYS = ("index", "id", "call_ids", "kind", "start", "start_ns", "from", "to", "method", "outcome", "outcome_text",
             "status", "messages", "span", "setup_time", "talk_time", "legs", "links")


def call_values(call: Call) -> tuple:
    """``call_dict``'s values, in ``CALL_KEYS``' order: what ``ladder calls --json`` keeps of each
    call while the calls are made (a tuple is marshalled to the rows' spill file and back in a
    fifth of a dict's time); ``dict(zip(CALL_KEYS, values))`` is the call's JSON object."""
    timings, links = call.timings, call.links
    setup, talk = timings.setup_time, timings.talk_time  # (in seconds to the microsecond, as the span; None: not shown)
    return (
        call.index, call.id, list(call.call_ids), call.kind, format_start(call.start_ns), call.start_ns,
        call.caller, call.callee, call.first_method, call.outcome.code, str(call.outcome), call.outcome.status,
        len(call.messages), seconds(call.span_ns), None if setup is None else seconds(setup),
        None if talk is None else seconds(talk), len(call.legs),
        [{"a": link.call_id_a, "b": link.call_id_b, "reason": link.reason} for link in links] if links else [],
    )


_EXACT_NS = 10**15  # (11.6 days) below it a float's error in n / 1e9 is under a nanosecond


def seconds(ns: int) -> float:
    """``round(ns / 1e9, 6)``: a duration in seconds to the microsecond, in integers where they
    give the same float (two in three of ``round``'s cost). Why the same: ``round(x, 6)`` is the
    float nearest to ``x``'s exact binary value rounded to 6 decimals. For 0 <= ns < 10**15, the
    float ``x`` of ns / 1e9 is within 2**-53 * 10**6 s (1.2e-10 s) of the exact ns / 10**9, and a
    rounding boundary, (1000 k + 500) / 10**9 s, is at least a nanosecond from ns / 10**9 unless
    ns ends in 500 (mod 1000): ``x`` rounds then as ns / 10**9 does, to ``us`` microseconds, the
    nearest to ns / 1000, and ``us / 1e6`` (both exact floats, one correctly rounded division) is
    the float nearest to us / 10**6. A tie, or a duration out of that range, is ``round``'s."""
    if 0 <= ns < _EXACT_NS:
        us, rest = divmod(ns, 1000)
        if rest != 500:
            return (us + (rest > 500)) / 1e6
    return round(ns / 1e9, 6)


def table_row(call: Call) -> tuple[str, ...]:
    """One call's row of the table."""
    talk = call.timings.talk_time
    return (
        str(call.index), format_start(call.start_ns), clip(call.caller),
        clip(call.callee), _outcome_text(call.outcome), str(len(call.messages)),
        f"{call.span_ns / 1e9:.3f}s", "-" if talk is None else f"{talk / 1e9:.3f}s", str(len(call.legs)), call.kind,
    )


def _outcome_text(outcome: Any) -> str:
    """``clip(str(outcome))``, remembered by the outcome object: the fast lane gives the calls of one
    outcome the same ``Outcome`` (``SimpleLane._outcomes``), and an ``Outcome`` is immutable, so
    its text is the same each time. The object is kept with its text, so its id is not reused."""
    known = _outcome_texts.get(id(outcome))
    if known is not None and known[0] is outcome:
        return known[1]
    if len(_outcome_texts) >= 1024:
        _outcome_texts.clear()
    text = clip(str(outcome))
    _outcome_texts[id(outcome)] = (outcome, text)
    return text


_outcome_texts: dict[int, tuple[Any, str]] = {}


def format_table(calls: list[Call]) -> str:
    return format_rows([table_row(call) for call in calls])


_HEADER = ("#", "start", "from", "to", "outcome", "msgs", "span", "talk", "legs", "kind")
_NUMERIC = {0, 5, 6, 7, 8}


def format_rows(call_rows: list[tuple[str, ...]]) -> str:
    rows = [_HEADER] + call_rows
    line = _layout([max(len(row[i]) for row in rows) for i in range(len(_HEADER))])
    return "".join(line(row) for row in rows)


def _layout(widths: list[int]) -> Callable[[tuple[str, ...]], str]:
    """One table line of a row, its cells padded to ``widths`` (numbers to the right), two
    spaces apart, as one format string."""
    layout = "  ".join(f"{{:{'>' if i in _NUMERIC else '<'}{w}}}" for i, w in enumerate(widths)).format

    def line(row: tuple[str, ...]) -> str:
        return layout(*row).rstrip() + "\n"
    return line


_SPILLED_ROWS = 1024  # rows marshalled to the table's temporary file at once


def write_rows(out, call_rows: Iterator[tuple[str, ...]]) -> None:
    """``format_rows`` of the rows, written a batch at a time: the rows wait in a temporary
    file while the columns' widths are measured, so a busy capture's table is never held."""
    widths = [len(cell) for cell in _HEADER]
    plain = True  # whether every row has the header's cells and a last cell ``_lines`` may write as it is
    with tempfile.TemporaryFile(prefix="ladder-table-") as spill:
        batch: list[tuple[str, ...]] = []
        for row in call_rows:
            batch.append(row)
            if len(batch) == _SPILLED_ROWS:
                widths = _widths(widths, batch)
                plain = plain and _plain_rows(batch)
                write_batch(spill, batch)
                batch = []
        widths = _widths(widths, batch)
        plain = plain and _plain_rows(batch)
        write_batch(spill, batch)
        spill.seek(0)
        line = _layout(widths)
        out.write(line(_HEADER))
        lines = _lines(widths) if plain else None
        while (read := read_batch(spill)) is not None:
            out.write(lines(read) if lines is not None else "".join(map(line, read)))


def _plain_rows(batch: list[tuple[str, ...]]) -> bool:
    """Whether each row of ``batch`` has as many cells as the header and a last cell (the call's
    kind: a word of ``grouping.kind_of_methods``) that is not empty and does not end in whitespace."""
    return all(len(row) == len(_HEADER) and row[-1] and not row[-1][-1].isspace() for row in batch)


def _lines(widths: list[int]) -> Callable[[list[tuple[str, ...]]], str]:
    """``"".join(map(_layout(widths), rows))`` for rows ``_plain_rows`` passed, in one ``%``
    per batch: each row's line is its cells padded as ``_layout`` pads them, but for the last,
    written as it is. Why the same text: ``%5s`` / ``%-5s`` of a ``str`` pad it with spaces to that
    many characters on the left / right, as ``{:>5}`` / ``{:<5}`` do; ``_layout``'s line pads the
    last cell with spaces only, and its ``rstrip`` removes exactly those (the cell itself, not
    empty, ends in no whitespace, so nothing before it is reached)."""
    cells = [f"%{'' if i in _NUMERIC else '-'}{w}s" for i, w in enumerate(widths[:-1])]
    line = "  ".join(cells + ["%s"]) + "\n"

    def lines(rows: list[tuple[str, ...]]) -> str:
        return (line * len(rows)) % tuple(itertools.chain.from_iterable(rows))
    return lines


def _widths(widths: list[int], batch: list[tuple[str, ...]]) -> list[int]:
    """``widths`` grown to the longest cell of each column of ``batch`` (a column at a time:
    the same maxima as row by row, a tenth of the interpreter's work)."""
    return [max(width, max(map(len, column))) for width, column in zip(widths, zip(*batch))] if batch else widths


def run(args) -> int:
    # Messages stay in the file: the calls are built one at a time from the compact index and
    # written as they come (``ladder.calls.bounded``), in memory bounded by the biggest call.
    # Only each call's row is needed: a call nothing links is summed up once, in pass 2.
    capture = load_capture_from_args(args, media=False, messages=False, locate=True)
    # The calls' rows are made as a capture is loaded: many short-lived objects, next to no cycles
    # (``collector_paced``).
    with collector_paced():
        rows: Iterator[Any] = iter_call_rows(capture, call_values, _numbered_values) if args.json \
            else iter_call_rows(capture, table_row, _numbered_row)
        first = next(rows, None)
        say_no_calls(first is not None)
        rows = itertools.chain([first], rows) if first is not None else iter(())
        if args.json:
            write_json_stream(sys.stdout, {}, "calls", (dict(zip(CALL_KEYS, values)) for values in rows))
        else:
            write_rows(sys.stdout, rows)
    return 0


def _numbered_dict(row: dict, number: int) -> dict:
    row["index"] = number
    return row


def _numbered_values(values: tuple, number: int) -> tuple:
    return (number,) + values[1:]  # (``index`` comes first)


def _numbered_row(row: tuple[str, ...], number: int) -> tuple[str, ...]:
    return (str(number),) + row[1:]

