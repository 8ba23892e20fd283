"""``ladder calls``' rows and output, made cheaper, give the text they gave: ``format_start``
equals the ``datetime`` it replaces, ``textsafe``'s indented JSON equals ``json.dumps(indent=2)``, the
spilled table equals ``format_rows`` of the rows held, and the row spill gives back each row,
across its batches, on real calls (samples and corpus)."""

from __future__ import annotations

import datetime as _dt
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SAMPLES, shared_path
from ladder.calls import bounded
from ladder.calls.bounded import iter_call_rows, iter_calls
from ladder.capture.loader import load_capture
from ladder.cli import calls as cli_calls
from ladder.cli.calls import (
    CALL_KEYS,
    _numbered_row,
    _numbered_values,
    call_dict,
    call_values,
    format_rows,
    format_start,
    table_row,
    write_rows,
)
from ladder.errors import CaptureError
from ladder.textsafe import _dumps

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def _datetime_start(ts_ns: int) -> str:
    """What ``format_start`` was: a ``datetime`` per row."""
    moment = _dt.datetime.fromtimestamp(ts_ns / 1e9, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _real_calls():
    root = shared_path("captures")
    paths = sorted(p for p in SAMPLES.iterdir() if p.suffix in CAPTURE_SUFFIXES) + sorted(
        p for p in root.rglob("*") if p.suffix in CAPTURE_SUFFIXES)
    for path in paths:
        try:
            capture = load_capture(str(path), media=False, messages=False, locate=True)
        except CaptureError:
            continue
        yield capture, list(iter_calls(capture))


EDGES = [0, 1, -1, 999_999_999, -999_999_999, 1_000_000_000, 1_700_000_000_999_999_499,
         1_700_000_000_999_999_500, 1_700_000_000_999_999_501, 1_700_000_000_999_500_000,
         1_120_469_572_844_000_000, 2**62 - 1, -1_500_000_000_000_000_000]


@pytest.mark.parametrize("ts_ns", EDGES)
def test_format_start_edges(ts_ns):
    assert format_start(ts_ns) == _datetime_start(ts_ns)


@given(st.integers(min_value=-(2**61), max_value=2**62 - 1))
def test_format_start_any_time(ts_ns):
    assert format_start(ts_ns) == _datetime_start(ts_ns)
    assert format_start(ts_ns + 1) == _datetime_start(ts_ns + 1)  # the second kept from the last call


def test_real_rows(monkeypatch):
    """Every call of the samples and the corpus: its JSON as ``json.dumps`` writes it, its start
    as ``datetime`` writes it; the table of each capture as ``format_rows`` lays it out, spilled
    in batches of two rows (``write_rows``); and ``iter_call_rows``' spill (batches of three)
    gives back the rows (and ``--json``'s values) ``iter_calls``' calls make."""
    monkeypatch.setattr(cli_calls, "_SPILLED_ROWS", 2)
    monkeypatch.setattr(bounded, "_SPILLED_ROWS", 3)
    captures = rows = 0
    for capture, calls in _real_calls():
        for call in calls:
            assert _dumps(call_dict(call), "", {"indent": 2, "ensure_ascii": False}) \
                == json.dumps(call_dict(call), indent=2, ensure_ascii=False)
            assert format_start(call.start_ns) == _datetime_start(call.start_ns)
        table = [table_row(call) for call in calls]
        out = io.StringIO()
        write_rows(out, iter(table))
        assert out.getvalue() == format_rows(table)
        assert list(iter_call_rows(capture, table_row, _numbered_row)) == table
        # ``--json``'s values, through the same spill, are each call's ``call_dict``, keys in order
        objects = [dict(zip(CALL_KEYS, values)) for values in iter_call_rows(capture, call_values, _numbered_values)]
        assert [list(o.items()) for o in objects] == [list(call_dict(call).items()) for call in calls]
        captures += 1
        rows += len(table)
    assert captures > 100 and rows > 300


def test_row_spill_skips_rows_of_linked_groups_and_says_when_one_is_missing(monkeypatch):
    monkeypatch.setattr(bounded, "_SPILLED_ROWS", 2)
    spill = bounded._RowSpill()
    for tag in range(10):
        spill.put(tag, ("row", tag))
    assert spill.take(0) == ("row", 0)
    assert spill.take(5) == ("row", 5)  # 1..4 were groups that links joined
    assert spill.take(9) == ("row", 9)
    with pytest.raises(ValueError, match="no row for message 3"):
        spill.take(3)
    spill.close()


_CELL = st.text(alphabet=st.sampled_from(["a", "Z", "7", " ", "\t", "é", "中", "-", "%", "{", "}"]), max_size=6)


@given(st.lists(st.tuples(*[_CELL] * len(cli_calls._HEADER)), max_size=7),
       st.integers(min_value=1, max_value=3))
def test_the_table_written_in_batches_is_format_rows(rows, batch):
    """``write_rows`` writes what ``format_rows`` lays out for any cells: a batch of rows whose last
    cell is a plain word by one ``%`` (``_lines``), any other (an empty last cell, or one ending in
    whitespace, which ``rstrip`` would reach into) line by line, whatever the batches' sizes."""
    import unittest.mock

    out = io.StringIO()
    with unittest.mock.patch.object(cli_calls, "_SPILLED_ROWS", batch):
        write_rows(out, iter(rows))
    assert out.getvalue() == format_rows(rows)


def test_lines_are_the_layouts_lines_for_plain_rows():
    """``_lines`` of a batch is ``_layout``'s lines joined, when ``_plain_rows`` says so; a row
    with an empty or space-ended last cell, or another number of cells, is not plain."""
    rows = [("1", "2024-01-01 00:00:00.000", "alice@a", "bob@b", "completed", "7", "1.000s", "-", "1", "call"),
            ("10", "2024-01-01 00:00:01.000", "%s", "{}", "busy 486", "12", "10.250s", "3.000s", "2", "registration")]
    widths = cli_calls._widths([len(c) for c in cli_calls._HEADER], rows)
    assert cli_calls._plain_rows(rows)
    assert cli_calls._lines(widths)(rows) == "".join(map(cli_calls._layout(widths), rows))
    for odd in (rows[0][:-1] + ("",), rows[0][:-1] + ("call ",), rows[0][:-1]):
        assert not cli_calls._plain_rows([odd])


def test_the_outcome_text_is_remembered_per_outcome_object():
    """``table_row``'s outcome cell is ``clip(str(outcome))``, asked again of the same object or of an
    equal one, and of a new object after the memo was cleared."""
    from ladder.calls.outcome import Outcome
    from ladder.textsafe import clip

    outcomes = [Outcome("completed", 200, "x"), Outcome("busy", 486), Outcome("busy", 486), Outcome("x" * 80)]
    for outcome in outcomes * 2:
        assert cli_calls._outcome_text(outcome) == clip(str(outcome))
    for n in range(1100):  # (past the memo's bound: it starts over)
        outcome = Outcome("rejected", 400 + n % 200)
        assert cli_calls._outcome_text(outcome) == clip(str(outcome))


_SECONDS_EDGES = [0, 1, 499, 500, 501, 999, 1000, 1500, 2500, 999_999_999_500, 10**15 - 500, 10**15 - 501, 10**15,
                  10**15 + 1, -1, -500, -1_000_000_001, 2**62, 1_700_000_000_000_000_000]


_SECONDS_TIES = [k * 1000 + r for k in (0, 7, 123_456, 10**11) for r in (499, 500, 501)]


@pytest.mark.parametrize("ns", _SECONDS_EDGES + _SECONDS_TIES)
def test_seconds_is_round_at_the_edges(ns):
    assert cli_calls.seconds(ns) == round(ns / 1e9, 6)
    assert repr(cli_calls.seconds(ns)) == repr(round(ns / 1e9, 6))


@given(st.one_of(st.integers(min_value=-(10**6), max_value=10**16),
                 st.integers(min_value=0, max_value=10**12).map(lambda k: k * 1000 + 500),
                 st.integers(min_value=0, max_value=10**12).map(lambda k: k * 1000 + 499)))
def test_seconds_is_round(ns):
    """``call_values``' durations (span, setup, talk) as ``round(ns / 1e9, 6)`` gives them, the same
    float (its ``repr``, what the JSON holds), for any nanoseconds: ties, near ties, out of range."""
    assert repr(cli_calls.seconds(ns)) == repr(round(ns / 1e9, 6))
