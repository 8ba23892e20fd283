"""``check_call`` without a ladder reads what the ladder would show (``_View.of_placement`` of
``layout.sip_placement``), not drawing it (``ladder check --json``, the TUI's and export's checks):
the view, and the verdict, equal the drawn ladder's on every sample and the corpus, with and
without media bars (whose endpoints may add columns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLES
from ladder.analysis import analyse
from ladder.capture.loader import load_capture
from ladder.check.call_check import _View
from ladder.check.references import load_references
from ladder.draw.layout import build_ladder, sip_placement

REFS = load_references()


def _assert_same_view(path: Path) -> int:
    """Every call of ``path`` (and all of them drawn as one), with and without media: the
    placement's view is the ladder's field for field, and so is the check's JSON. The number of
    SIP rows compared."""
    capture = load_capture(str(path))
    compared = 0
    for media in (True, False):
        analysis = analyse(capture, media=media)
        # (several calls drawn as one, as RFC 3665 §3.4's two Call-IDs are: where they are few)
        groups = [[call] for call in analysis.calls] + ([analysis.calls] if 1 < len(analysis.calls) <= 3 else [])
        for group in groups:
            calls = group[0] if len(group) == 1 else group
            ladder = build_ladder(calls, capture, media=media, bindings=analysis.media_index)
            drawn = _View.of_ladder(ladder)
            placed = _View.of_placement(sip_placement(calls, capture, media=media, bindings=analysis.media_index))
            assert placed.rows == drawn.rows, path
            assert placed.names == drawn.names, path
            assert placed.numbers == drawn.numbers, path
            assert placed.columns == drawn.columns, path
            undrawn = analysis.check(calls, REFS).to_json()
            assert undrawn == analysis.check(calls, REFS, ladder=ladder).to_json(), path
            compared += len(drawn.rows)
    return compared


def test_samples_check_the_same_without_drawing():
    rows = sum(_assert_same_view(path) for path in sorted(SAMPLES.glob("*.pcap")))
    assert rows > 600


def test_corpus_checks_the_same_without_drawing(corpus):
    counts = [_assert_same_view(path) for path in corpus.paths]
    assert all(counts) if not corpus.whole else sum(counts) > 1000


def test_a_media_bar_adds_a_column_to_both(shared):
    """A media-only address is a column of the ladder: the view has it too (so the names the
    check reports, ``roles``, are the drawn ones)."""
    capture = load_capture(str(shared / "captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap"))
    analysis = analyse(capture)
    widened = 0
    for call in analysis.calls:
        with_bars = _View.of_placement(sip_placement(call, capture, media=True, bindings=analysis.media_index))
        without = _View.of_placement(sip_placement(call, capture, media=False, bindings=analysis.media_index))
        assert with_bars.names == [p.name for p in analysis.ladder(call).participants]
        widened += len(with_bars.names) > len(without.names)
    assert widened == 1


@pytest.mark.parametrize("media", [True, False])
def test_the_check_command_json_is_the_drawn_checks(run_ladder, media):
    """``ladder check --json`` (no ladder drawn) gives each call's ``check`` of the drawn ladder."""
    import json

    path = next(p for p in sorted(SAMPLES.glob("*.pcap")) if load_capture(str(p)).streams)
    args = ["check", "--json", str(path)] + ([] if media else ["--no-media"])
    out = json.loads(run_ladder(*args).out)
    capture = load_capture(str(path))
    analysis = analyse(capture, media=media)
    drawn = [analysis.check(c, REFS, ladder=analysis.ladder(c)).to_json() for c in analysis.calls]
    assert out["calls"] == drawn


def test_a_memoised_shape_checks_as_a_fresh_one(corpus):
    """A call whose shape is in the matching memo (``_Matched``: its step map, reference F map
    and ``silent``) is checked as it is with the memo empty; and whether an alignment has flow
    findings never depends on the column names (what ``silent`` rests on)."""
    from ladder.check import call_check
    from ladder.check.matching import alignment_deviations

    compared = 0
    for path in [*sorted(SAMPLES.glob("*.pcap")), *corpus.paths]:
        capture = load_capture(str(path))
        analysis = analyse(capture)
        for call in analysis.calls:
            call_check._MATCH_MEMO.clear()
            fresh = analysis.check(call, REFS).to_json()
            assert analysis.check(call, REFS).to_json() == fresh, path  # the memo's entry
            (_refs, matched), = call_check._MATCH_MEMO.values()
            alignment = matched.match.alignment
            if alignment is not None:
                names = [p.name for p in analysis.ladder(call).participants]
                assert bool(alignment_deviations(alignment, names)) == bool(alignment_deviations(alignment, None))
                assert bool(alignment_deviations(alignment, names)) != matched.silent, path
                compared += 1
    assert compared > 50


def test_the_matching_memo_tells_references_apart():
    """A tuple of references (``ladder check``'s) is one key by its identity; a list is told by
    what it holds now, so a list changed between two checks is matched again, not answered from
    the memo."""
    from ladder.check import call_check

    capture = load_capture(str(SAMPLES / "rfc3665-3.1-successful-session.pcap"))
    analysis = analyse(capture)
    (call,) = analysis.calls
    call_check._MATCH_MEMO.clear()
    library = tuple(REFS)
    first = analysis.check(call, library).to_json()
    assert analysis.check(call, library).to_json() == first and len(call_check._MATCH_MEMO) == 1
    assert first["reference"] == "rfc3665-3.1"
    listed = list(REFS)
    assert analysis.check(call, listed).to_json() == first
    listed[:] = [r for r in listed if r.id != "rfc3665-3.1"]
    assert analysis.check(call, listed).to_json()["reference"] != "rfc3665-3.1"
    assert analysis.check(call, library).to_json() == first
