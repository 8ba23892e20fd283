"""``MessageStore.parsed_all``: ``parsed`` of each message in one loop (``ladder check`` reads every
call's messages so). The same ``SipMessage`` slot for slot (bytes, endpoints, frames, time and
every parsed field) as ``parsed(i)``, with the compiled parse and without it, for messages in the
capture file and in the spill file (reassembled TCP, HEP, fragments), and the same error when
the capture changed under it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import decoders.sip as sip
from conftest import ROOT, SAMPLES
from fuzz_sipparse import shape
from ladder.capture.loader import load_capture
from ladder.errors import CaptureError


def busy_hour(directory, *options: str):
    """``bench/make_sip_capture.py``'s busy hour, 150 calls: plain UDP/IPv4, read back by offset
    from the capture file, C's endpoints."""
    path = directory / "busy.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(path), "--calls", "150",
                    "--concurrent", "20", *options], check=True, capture_output=True)
    return path


def _agree(path) -> tuple[int, int, int]:
    """Asserts ``parsed_all`` is ``parsed`` of each; returns (messages, those in the spill file,
    runs of messages read from the capture file at once)."""
    try:
        capture = load_capture(str(path), media=False, messages=False, locate=True)
    except CaptureError:
        return 0, 0, 0
    store = capture.located_store()
    numbers = list(range(len(store)))
    found = store.parsed_all(numbers)
    assert [shape(m) for m in found] == [shape(store.parsed(i)) for i in numbers], path.name
    # (and in another order, each number twice: the loop keeps no state between messages)
    again = numbers[::-1] + numbers
    assert [shape(m) for m in store.parsed_all(again)] == [shape(store.parsed(i)) for i in again], path.name
    return len(numbers), sum(1 for i in numbers if store.where[i] < 0), sum(1 for run in store._runs.values() if run)


@pytest.mark.parametrize("compiled", [True, False], ids=["C parse", "Python parse"])
def test_samples(compiled, monkeypatch):
    if not compiled:
        monkeypatch.setattr(sip, "_parse_plain", None)
    counts = [_agree(path) for path in sorted(SAMPLES.glob("*.pcap"))]
    assert sum(n for n, _, _ in counts) > 500


@pytest.mark.parametrize("compiled", [pytest.param(True, id="C parse"),
                                      pytest.param(False, id="Python parse", marks=pytest.mark.slow)])  # fmt: skip
def test_a_busy_hour_read_from_the_capture_file(compiled, monkeypatch, tmp_path):
    if not compiled:
        monkeypatch.setattr(sip, "_parse_plain", None)
    messages, spilled, runs = _agree(busy_hour(tmp_path, "--mix"))
    assert (messages, spilled) == (len(load_capture(str(tmp_path / "busy.pcap")).sip_messages), 0)
    assert runs == -(-messages // 64)  # (every run dense: each read at once)


def test_corpus(corpus):
    counts = [_agree(path) for path in corpus.paths]
    assert sum(spilled for _, spilled, _ in counts) > 20  # TCP, HEP, fragments: read from the spill file
    assert sum(n for n, _, _ in counts) > (1000 if corpus.whole else 100)


@pytest.mark.parametrize("spilled", [False, True], ids=["capture file", "spill file"])
def test_a_changed_capture_is_told_as_parsed_tells_it(spilled, tmp_path):
    path = tmp_path / "changed.pcap"
    if spilled:  # (each message a copy of the file's bytes in the spill file: its bytes changed there)
        shutil.copy(SAMPLES / "rfc3665-3.1-successful-session.pcap", path)
    else:
        shutil.move(busy_hour(tmp_path), path)
    capture = load_capture(str(path), media=False, messages=False, locate=True)
    store = capture.located_store()
    assert (store.where[3] < 0) == spilled
    if spilled:
        assert store._spill is not None
        store._spill.seek(-1 - store.where[3] + 2)
        store._spill.write(b"#")
    else:
        with open(path, "r+b") as f:
            f.seek(store.where[3] + 2)
            f.write(b"#")
    with pytest.raises(CaptureError) as slow:
        store.parsed(3)
    with pytest.raises(CaptureError) as fast:
        store.parsed_all([0, 1, 2, 3])
    assert str(fast.value) == str(slow.value) and "changed while it was read (SIP message 4)" in str(fast.value)
