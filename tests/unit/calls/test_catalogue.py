"""A call rebuilt by ``CallCatalogue`` from where its messages are (the TUI's bounded source) is
the call ``build_calls`` makes of the fully parsed capture: every message, transaction,
dialog, leg, link, copy and outcome, on the samples and the shared corpus; and the summaries
``fill`` yields are those of the full parse's calls, in order."""

from __future__ import annotations

from pathlib import Path

from conftest import SAMPLES
from ladder.calls.catalogue import CallCatalogue
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.cli.calls import _numbered_dict, call_dict
from ladder.errors import CaptureError
from tests.unit.calls.test_bounded import _deep, _samples


def _both(path: Path):
    try:
        full = load_capture(str(path), media=False)
    except CaptureError:
        return None
    return build_calls(full), CallCatalogue(load_capture(str(path), media=False, messages=False, locate=True))


def _assert_rebuilt_equal(path: Path) -> int:
    """Every call of ``path`` rebuilt, in reverse order (nothing depends on having built the
    one before), equals the full parse's; returns how many."""
    loaded = _both(path)
    if loaded is None:
        return 0
    calls, catalogue = loaded
    assert list(catalogue.fill(call_dict, _numbered_dict)) == [call_dict(c) for c in calls], path.name
    assert list(catalogue.keys()) == [c.id for c in calls] and len(catalogue) == len(calls)
    for call in reversed(calls):
        rebuilt = catalogue.call(call.id)
        assert _deep(rebuilt) == _deep(call), (path.name, call.index)
        assert all(type(m).__name__ == "SipMessage" for m in rebuilt.messages)  # fully parsed
    return len(calls)


def test_samples_rebuilt_calls_equal_the_full_parse():
    assert sum(_assert_rebuilt_equal(path) for path in _samples()) >= 35


def test_corpus_rebuilt_calls_equal_the_full_parse(corpus):
    counts = [_assert_rebuilt_equal(path) for path in corpus.paths]
    assert sum(counts) > 100 if corpus.whole else all(counts)


def test_the_cache_is_bounded_and_reused():
    path = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"
    catalogue = CallCatalogue(load_capture(str(path), media=False, messages=False, locate=True), cached=1)
    (row,) = list(catalogue.fill(call_dict, _numbered_dict))
    first = catalogue.call(row["id"])
    assert catalogue.call(row["id"]) is first and catalogue.rebuilt == 1  # kept: not read again
    assert len(catalogue.message_numbers(row["id"])) == row["messages"] == len(first.messages)
