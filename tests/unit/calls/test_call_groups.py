"""``ladder.calls.bounded._Groups``: the compiled grouping (``_accel.call_groups``) equals the
pure-Python one, and both equal what ``build_calls`` groups by: Call-ID groups in the order of
their first messages (time, then frame), each group's messages in that order, the kind
``kind_of_methods`` gives its method names; on the samples, the corpus, and an index whose
times are out of capture order (the sort)."""

from __future__ import annotations

from array import array

import pytest

from conftest import SAMPLES, shared_path
from ladder.calls import bounded
from ladder.calls.grouping import kind_of_methods
from ladder.capture.loader import load_capture
from ladder.errors import CaptureError
from tests.unit.capture.test_accel import needs_accel

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def _located(paths):
    for path in paths:
        try:
            yield path, load_capture(str(path), media=False, messages=False, locate=True)
        except CaptureError:
            continue


def _expected(index) -> tuple[list[str], list[list[int]], list[str]]:
    """Keys, members and kinds, straight from the definition (a sort and a dict of lists)."""
    order = sorted(range(len(index)), key=lambda i: (index.ts_ns[i], index.frame[i]))
    groups: dict[str, list[int]] = {}
    for i in order:
        cid = index.call[i]
        key = index.strings[cid] if cid else f"(no Call-ID, frame {index.frame[i]})"
        groups.setdefault(key, []).append(i)
    kinds = [kind_of_methods([index.strings[index.method[i]] for i in members]) for members in groups.values()]
    return list(groups), list(groups.values()), kinds


def _assert_groups(capture) -> None:
    keys, members, kinds = _expected(capture.sip_index)
    for compiled in (True, False):
        groups = bounded._Groups(capture, compiled=compiled)
        assert groups.keys == keys
        assert [list(groups[g]) for g in range(len(keys))] == members
        assert [groups.kind(g) for g in range(len(keys))] == kinds
        assert all(groups.number[key] == g for g, key in enumerate(keys) if keys.count(key) == 1)


@needs_accel
def test_samples_and_corpus():
    root = shared_path("captures")
    paths = sorted(p for p in SAMPLES.iterdir() if p.suffix in CAPTURE_SUFFIXES) + sorted(
        p for p in root.rglob("*") if p.suffix in CAPTURE_SUFFIXES)
    seen = 0
    for _, capture in _located(paths):
        _assert_groups(capture)
        seen += 1
    assert seen > 100


@needs_accel
@pytest.mark.parametrize("name", ["rfc3665-3.2-session-through-two-proxies.pcap", "rfc5359-2.1-call-hold.pcap"])
def test_times_out_of_capture_order(name):
    """Real columns with their times reversed and a few made equal (the frame then decides):
    the groups come sorted, as ``sorted`` orders them, ties in capture order."""
    capture = load_capture(str(SAMPLES / name), media=False, messages=False, locate=True)
    index = capture.sip_index
    n = len(index)
    assert n > 4
    index.ts_ns = array("q", [index.ts_ns[n - 1 - i] for i in range(n)])
    index.ts_ns[1] = index.ts_ns[2] = index.ts_ns[3]
    index.frame[2], index.frame[3] = index.frame[3], index.frame[2]
    _assert_groups(capture)


def test_without_the_extension(monkeypatch):
    """``PCAPLADDER_PURE_PYTHON`` / no compiler: the Python path alone gives the same groups."""
    monkeypatch.setattr(bounded, "_c_call_groups", None)
    capture = load_capture(str(SAMPLES / "rfc3665-3.4-successful-session-proxy-failure.pcap"), media=False,
                           messages=False, locate=True)
    keys, members, _ = _expected(capture.sip_index)
    groups = bounded._Groups(capture)
    assert groups.keys == keys and [list(groups[g]) for g in range(len(keys))] == members


