"""The TUI's pure parts on real captures: call rows, the filter language, sorting, text
safety, SIP highlighting, the ladder line mapping, progress throttling and export naming."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.draw.layout import build_ladder
from ladder.capture.progress import Progress
from ladder.draw.text import render_text
from tests.conftest import SAMPLES, shared_path
from tui.call_filter import FilterError, parse_filter
from tui.call_rows import call_row, format_duration, format_start, sort_rows
from tui.export import free_path, output_stem
from tui.ladder_lines import ladder_lines
from tui.loading import CallsSoFar, LoadFailed, LoadFinished, LoadProgress, ProgressThrottle, load_in_thread
from tui.safe_text import clean, safe_rich_text
from tui.sip_highlight import HEADER_NAME_STYLE, SDP_KEY_STYLE, START_STYLE, highlight_sip

TWO_PROXIES = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


@pytest.fixture(scope="module")
def aaa():
    """A proxy/registrar capture: REGISTERs and INVITEs with several outcomes."""
    capture = load_capture(str(shared_path("captures/wireshark-wiki/aaa.pcap")), media=False)
    return capture, build_calls(capture)


@pytest.fixture(scope="module")
def two_proxies():
    capture = load_capture(str(TWO_PROXIES), media=False)
    calls = build_calls(capture)
    return capture, calls, build_ladder(calls[0], capture, media=False)


# --- rows, filter, sort ---------------------------------------------------------------------


def test_rows_carry_the_call_model_values(aaa):
    _capture, calls = aaa
    rows = [call_row(c) for c in calls]
    assert [r.index for r in rows] == [c.index for c in calls]
    for row, call in zip(rows, calls):
        assert row.method == call.first_method
        assert row.caller == call.caller and row.callee == call.callee
        assert row.messages == len(call.messages)
        assert row.outcome == str(call.outcome)
        assert row.duration_ns == call.end_ns - call.start_ns
        assert row.deviations is None


def test_filter_by_method_outcome_and_fields(aaa):
    _capture, calls = aaa
    rows = [call_row(c) for c in calls]
    registers = parse_filter("method:REGISTER").apply(rows)
    assert [r.index for r in registers] == [c.index for c in calls if c.first_method == "REGISTER"]
    assert registers and len(registers) < len(rows)
    invites = parse_filter("method:invite,bye").apply(rows)
    assert {r.index for r in invites} == {c.index for c in calls if c.first_method == "INVITE"}
    rejected = parse_filter("outcome:rejected").apply(rows)
    assert rejected and all(r.outcome.startswith("rejected") for r in rejected)
    codes = {c.outcome.code for c in calls}
    for code in codes:  # kebab-case codes and their spelled-out form both work
        by_code = parse_filter(f"outcome:{code}").apply(rows)
        assert {r.index for r in by_code} == {c.index for c in calls if c.outcome.code == code}
    first = calls[1]
    user = first.caller.split("@")[0]
    by_from = parse_filter(f"from:{user}").apply(rows)
    assert all(user in r.caller for r in by_from) and first.index in {r.index for r in by_from}
    call_id = first.call_ids[0]
    assert [r.index for r in parse_filter(f"callid:{call_id[:10]}").apply(rows)] == [
        c.index for c in calls if any(cid.startswith(call_id[:10]) for cid in c.call_ids)]


def test_filter_free_text_regex_and_combination(aaa):
    _capture, calls = aaa
    rows = [call_row(c) for c in calls]
    host = calls[0].caller.split("@")[1]
    assert {r.index for r in parse_filter(host.upper()).apply(rows)} == {
        c.index for c in calls if host in (c.caller + c.callee + " ".join(c.call_ids)).lower()}
    regex = parse_filter(r"/^\d+@/").apply(rows)  # ^ anchors each field: From, To, Call-ID…
    numeric = re.compile(r"^\d+@")
    assert {r.index for r in regex} == {
        c.index for c in calls if any(numeric.match(v) for v in (c.caller, c.callee, *c.call_ids))}
    assert 0 < len(regex) < len(rows)
    to_regex = parse_filter(r"to:/^\d{10,}@/").apply(rows)
    assert to_regex and all(r.callee.split("@")[0].isdigit() and len(r.callee.split("@")[0]) >= 10
                            for r in to_regex)
    both = parse_filter("method:INVITE outcome:rejected").apply(rows)
    assert {r.index for r in both} == {c.index for c in calls
                                      if c.first_method == "INVITE" and c.outcome.code == "rejected"}
    assert parse_filter("").apply(rows) == rows


def test_filter_on_deviations():
    capture = load_capture(str(TWO_PROXIES), media=False)
    call = build_calls(capture)[0]
    clean_row, bad_row, unknown = call_row(call, deviations=0), call_row(call, deviations=2), call_row(call)
    assert parse_filter("has:deviations").apply([clean_row, bad_row, unknown]) == [bad_row]
    assert parse_filter("!dev").apply([clean_row, bad_row, unknown]) == [clean_row]


@pytest.mark.parametrize("query", ["/(unclosed/", 're:[a-', '"unterminated'])
def test_bad_filter_is_a_clear_error(query):
    with pytest.raises(FilterError) as info:
        parse_filter(query)
    assert str(info.value)


def test_sort_rows_by_any_column(aaa):
    _capture, calls = aaa
    rows = [call_row(c) for c in calls]
    by_messages = sort_rows(rows, "messages")
    assert [r.messages for r in by_messages] == sorted(len(c.messages) for c in calls)
    assert [r.index for r in sort_rows(rows, "index", reverse=True)] == sorted((c.index for c in calls), reverse=True)
    assert [r.duration_ns for r in sort_rows(rows, "duration")] == sorted(r.duration_ns for r in rows)


def test_time_formats():
    assert format_start(1_120_469_572_844_000_000) == "2005-07-04 09:32:52.844"
    assert format_duration(936_755_000_000) == "15:36.755"
    assert format_duration(3_723_000_000_000) == "1:02:03"


# --- text safety and highlighting -----------------------------------------------------------


def test_capture_text_is_cleaned_and_never_markup():
    hostile = "Eve\x1b[31m\x1b]0;pwned\x07 [bold red]x[/] \u202eevil\x00\x9b2J"
    cleaned = clean(hostile)
    assert "\x1b" not in cleaned and "\x07" not in cleaned and "\u202e" not in cleaned
    assert "\x00" not in cleaned and "\x9b" not in cleaned and "pwned" not in cleaned
    text = safe_rich_text(hostile)
    assert "[bold red]x[/]" in text.plain and not text.spans  # shown literally, unstyled
    assert clean("a\r\nb", keep_newlines=True) == "a\nb"


def test_highlight_real_invite_with_sdp(two_proxies):
    _capture, _calls, ladder = two_proxies
    invite = next(a.message for a in ladder.arrows if a.method == "INVITE" and a.message.sdp is not None)
    text = highlight_sip(invite.raw)
    lines = text.plain.split("\n")
    assert lines[0] == invite.raw.split(b"\r\n", 1)[0].decode()
    styled = {text.plain[s.start:s.end]: str(s.style) for s in text.spans}
    assert styled[lines[0]] == START_STYLE
    assert styled["Via"].startswith(HEADER_NAME_STYLE)
    assert styled["v="] == SDP_KEY_STYLE and styled["m="] == SDP_KEY_STYLE
    assert "\r" not in text.plain


# --- the ladder's lines ---------------------------------------------------------------------


def test_ladder_lines_are_the_text_renderer_lines(two_proxies):
    _capture, _calls, ladder = two_proxies
    for time in (False, True):
        for compact in (False, True):
            mapped = ladder_lines(ladder, time=time, compact=compact)
            text = render_text(ladder, time=time, compact=compact, sdp=True, clock=True)
            assert list(mapped.lines) == text.rstrip("\n").split("\n")[2:]  # the screen shows the title
            assert len(mapped.arrow_lines) == len(ladder.arrows)
            for arrow, (first, last) in zip(ladder.arrows, mapped.arrow_lines):
                label_line, arrow_line = mapped.lines[first], mapped.lines[last]
                assert f"F{arrow.f}" in label_line.split()  # the label row names the F-number
                assert "--" in arrow_line and first < last


def test_compact_ladder_shares_label_rows_and_the_mapping_says_so(two_proxies):
    _capture, _calls, ladder = two_proxies
    plain, compact = ladder_lines(ladder), ladder_lines(ladder, compact=True)
    assert len(compact.lines) < len(plain.lines)
    # In the compact layout a label may sit on the previous arrow's shaft row (RFC 3665 style).
    shafts = {last for _first, last in compact.arrow_lines}
    assert any(first in shafts for first, _last in compact.arrow_lines)


# --- loading --------------------------------------------------------------------------------


def test_progress_is_throttled_and_cancellable():
    posted = []
    now = [0.0]
    throttle = ProgressThrottle(posted.append, lambda: False, 1000, interval_s=0.25, clock=lambda: now[0])
    for step in range(100):  # 100 reports over 1 s: at most 5 posts
        now[0] = step * 0.01
        throttle(Progress(step * 10, step * 100, 1000, now[0], sip_messages=step, call_ids=step // 10))
    assert 4 <= len(posted) <= 5
    assert all(isinstance(m, LoadProgress) for m in posted)
    assert posted[-1].figures.packets <= 990 and posted[0].figures.total_bytes == 1000
    last = posted[-1].figures
    assert last.sip_messages == last.packets // 10 and last.call_ids == last.sip_messages // 10
    stop = ProgressThrottle(posted.append, lambda: True, 0)
    with pytest.raises(Exception) as info:
        stop(Progress(1, 1, 1, 0.1))
    assert type(info.value).__name__ == "LoadCancelled"


def test_call_list_fills_in_while_loading():
    """Every couple of seconds of loading, the calls built from the SIP messages found so far
    are posted; the last partial list is what the finished load gives for those messages."""
    messages = load_capture(str(SAMPLES / "rfc3665-3.8-unsuccessful-no-answer.pcap")).sip_messages
    posted = []
    now = [0.0]
    throttle = ProgressThrottle(posted.append, lambda: False, 1000, clock=lambda: now[0])
    seen_at_post = []
    for step in range(1, len(messages) + 1):  # one message a second
        now[0] = float(step)
        so_far = messages[:step]
        before = len(posted)
        throttle(Progress(step, step, 1000, now[0], sip_messages=step, sip_so_far=so_far.copy))
        seen_at_post += [step for m in posted[before:] if isinstance(m, CallsSoFar)]
    partial = [m for m in posted if isinstance(m, CallsSoFar)]
    assert 4 <= len(partial) <= len(messages) // 2  # not at every report: at most every 2 s
    assert seen_at_post[0] == 2  # the first list comes 2 s into the load
    for message, step in zip(partial, seen_at_post):
        (call,) = message.calls  # one call, growing
        assert call.messages == messages[:step]
    # A finished read posts no partial list: the LoadFinished that follows has the whole one.
    before = len(posted)
    throttle(Progress(len(messages), 1, 1, 99.0, done=True, sip_so_far=messages.copy))
    assert not any(isinstance(m, CallsSoFar) for m in posted[before:])


def test_worker_function_posts_progress_then_calls():
    posted = []
    load_in_thread(posted.append, lambda: False, str(TWO_PROXIES), media=False, check=False)
    kinds = [type(m).__name__ for m in posted]
    assert kinds[0] == "LoadProgress" and "LoadFinished" in kinds
    finished = next(m for m in posted if isinstance(m, LoadFinished))
    assert [c.index for c in finished.calls] == [1]
    figures = posted[0].figures  # the report at the end of the read (the sample is small)
    assert figures.packets == finished.capture.frames
    assert figures.sip_messages == len(finished.capture.sip_messages) == 23
    assert figures.call_ids == 1


def test_worker_function_reports_bad_files(tmp_path):
    bad = tmp_path / "notes.pcap"
    bad.write_bytes(b"these are my notes, not a capture\n")
    posted = []
    load_in_thread(posted.append, lambda: False, str(bad), check=False)
    assert len(posted) == 1 and isinstance(posted[0], LoadFailed)
    assert "not a pcap or pcapng capture" in posted[0].message
    cancelled = []
    load_in_thread(cancelled.append, lambda: True, str(TWO_PROXIES), check=False)
    assert cancelled == []  # stopped at the first progress report, nothing half-done posted


# --- export names ---------------------------------------------------------------------------


def test_export_names_never_overwrite(tmp_path: Path):
    stem = output_stem("/x/My Capture (1).pcapng", [3])
    assert stem == "My_Capture_1_-call3"
    assert output_stem("a.pcap", [1, 2, 3, 4, 5, 6]) == "a-calls1-2-3-4-5-more"
    first = free_path(tmp_path, stem, ".txt")
    first.write_text("x")
    assert free_path(tmp_path, stem, ".txt").name == f"{stem}-2.txt"


def test_layers_the_tui_stays_on_top():
    """The CLI imports the TUI only when it opens it; the TUI loads no plotly/pyshark up front."""
    import subprocess
    import sys

    code = (
        "import sys, ladder.cli.dispatch, ladder.cli.open\n"
        "ladder.cli.dispatch.build_parser()\n"
        "assert 'textual' not in sys.modules and 'tui' not in sys.modules, 'core imported the TUI'\n"
        "import tui.app\n"
        "assert 'plotly' not in sys.modules and 'pyshark' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
