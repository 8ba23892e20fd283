"""A SIP message reassembled from TCP (or WebSocket) is indexed by the first pass when messages are
not kept (``Pipeline._scanned``, as a datagram is): the index, the frame classes and diagnostics,
and what the message store reads back are those of the full parse (``messages=True``) on every
sample and corpus capture with SIP over a stream, and on the TCP busy hour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SAMPLES
from ladder.capture import pipeline
from ladder.capture.loader import load_capture
from ladder.errors import CaptureError

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def _index(capture) -> tuple:
    a = capture.sip_index
    return (list(a.frame), list(a.ts_ns), [a.strings[m] for m in a.method], list(a.status),
            [a.strings[c] for c in a.call], capture.frame_classes, capture.diagnostics,
            [(d.reason, d.frame) for d in capture.diagnostic_list])


def _stream_sip(path: Path, monkeypatch) -> int | None:
    """How many messages came from a stream in ``path`` (None: not loaded),
    having asserted that both loads agree and each stored message reads back to its parse."""
    scanned: list[int] = []
    take = pipeline.Pipeline._take_stream_messages

    def counted(self, result):
        scanned.append(len(result.messages))
        return take(self, result)

    monkeypatch.setattr(pipeline.Pipeline, "_take_stream_messages", counted)
    try:
        located = load_capture(str(path), media=False, messages=False, locate=True)
        monkeypatch.undo()
        full = load_capture(str(path), media=False, messages=True)
    except CaptureError:
        return None
    finally:
        monkeypatch.undo()
    assert _index(located) == _index(full), path.name
    store = located.message_store
    for i, message in enumerate(full.sip_messages):
        back = store.message(i)
        assert (back.method, back.status, back.call_id, back.cseq, back.from_tag, back.to_tag, back.src, back.dst) == (
            message.method, message.status, message.call_id, message.cseq, message.from_tag, message.to_tag,
            message.src, message.dst), (path.name, i)
    return sum(scanned)


def test_stream_messages_are_indexed_as_the_full_parse_indexes_them(corpus, monkeypatch):
    paths = sorted(p for p in SAMPLES.iterdir() if p.suffix in CAPTURE_SUFFIXES) + list(corpus.paths)
    found = [_stream_sip(path, monkeypatch) for path in paths]
    assert sum(n or 0 for n in found) >= 300  # (the samples alone: their TCP flows)


def test_the_tcp_busy_hour_is_indexed_as_the_full_parse_indexes_it(tmp_path, monkeypatch):
    path = tmp_path / "tcp.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(path), "--calls", "100",
                    "--concurrent", "10", "--mix", "--tcp"], check=True, capture_output=True)
    assert _stream_sip(path, monkeypatch) == 783  # (100 calls of the mix: 783 messages, each a segment)
