"""Calls built one at a time from the message store (``ladder.calls.bounded``) are the calls
``build_calls`` makes of the parsed messages: every message, transaction, dialog, leg, link,
copy and outcome, on the samples and the shared corpus; and ``ladder check`` over them finds
what the analysis of the fully parsed capture finds."""

from __future__ import annotations

import contextlib
import gc
import gzip
import io
import json
import shutil
from pathlib import Path

import pytest

from conftest import SAMPLES, quick_subset
from ladder.analysis import analyse
from ladder.calls.bounded import iter_call_rows, iter_calls
from ladder.calls.grouping import build_calls
from ladder.capture.continuity import find_breaks
from ladder.capture.loader import load_capture
from ladder.check.call_check import capture_settings
from ladder.check.references import load_references
from ladder.cli.calls import _numbered_dict, _numbered_row, call_dict, table_row
from ladder.cli.check import capture_notes
from ladder.cli.dispatch import main
from ladder.errors import CaptureError
from ladder.textsafe import json_text, write_json_stream

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def _samples() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix in CAPTURE_SUFFIXES)


def _loaded(path: Path):
    """(fully parsed capture, located capture), or None when the loader refuses the file."""
    try:
        full = load_capture(str(path), media=False)
    except CaptureError:
        return None
    return full, load_capture(str(path), media=False, messages=False, locate=True)


def _frames(messages) -> list:
    return [m.frames for m in messages]


def _deep(call) -> tuple:
    """Everything a call holds, compared by value (messages by their bytes, frames and ends)."""
    return (
        call_dict(call),
        [(m.frames, m.ts_ns, m.raw, m.src, m.dst, m.problems) for m in call.messages],
        [(leg.call_id, leg.method, leg.src, leg.dst, leg.ts_ns, leg.final_ns, leg.request.frames) for leg in call.legs],
        [(t.key, t.method, _frames(t.messages), len(t.retransmissions), t.ack is not None, t.cancel is not None)
         for t in call.transactions.transactions],
        [(d.call_id, d.caller_tag, d.callee_tag, _frames(d.messages), d.early_ns, d.confirmed_ns, d.terminated_ns)
         for d in call.dialogs],
        sorted(tuple(m.frames[0].number for m in copies) for copies in call.copies.values()),
        [(link.call_id_a, link.call_id_b, link.reason) for link in call.links],
    )


def _assert_same_calls(path: Path) -> int:
    loaded = _loaded(path)
    if loaded is None:
        return 0
    full, located = loaded
    expected = [_deep(call) for call in build_calls(full)]
    found = [_deep(call) for call in iter_calls(located)]
    assert len(found) == len(expected), path.name
    for want, got in zip(expected, found):
        assert got == want, path.name
    return len(found)


def test_samples_calls_equal_the_full_parse():
    assert sum(_assert_same_calls(path) for path in _samples()) >= 35


def test_corpus_calls_equal_the_full_parse(corpus):
    counts = [_assert_same_calls(path) for path in corpus.paths]
    assert sum(counts) > 100 if corpus.whole else all(counts)


def _assert_same_rows(path: Path) -> int:
    """``ladder calls``' rows (JSON and table), most made in pass 2, are those of the full parse's
    calls; returns how many calls were linked across Call-IDs (built again in pass 3)."""
    loaded = _loaded(path)
    if loaded is None:
        return 0
    full, located = loaded
    calls = build_calls(full)
    assert list(iter_call_rows(located, call_dict, _numbered_dict)) == [call_dict(c) for c in calls], path.name
    assert list(iter_call_rows(located, table_row, _numbered_row)) == [table_row(c) for c in calls], path.name
    return sum(1 for c in calls if len(c.call_ids) > 1)


def test_call_rows_equal_the_full_parse(corpus):
    linked = sum(_assert_same_rows(path) for path in _samples() + corpus.paths)
    assert linked >= (5 if corpus.whole else 1)  # calls of several Call-IDs are among them (rows made in pass 3)


def _check_documents(path: Path) -> tuple[dict, dict] | None:
    """``ladder check --json`` of the file, and what the analysis of the fully parsed capture
    gives for the same document."""
    loaded = _loaded(path)
    if loaded is None:
        return None
    capture = load_capture(str(path))
    analysis = analyse(capture)
    references = load_references()
    settings = capture_settings(capture, t1_ns=500_000_000)
    breaks = find_breaks(capture.sip_messages)
    results = [analysis.check(call, references, settings=settings) for call in analysis.calls]
    expected = {
        "file": str(path),
        "calls": [result.to_json() for result in results],
        "discontinuities": [b.frame for b in breaks],
        "capture_notes": capture_notes(breaks, capture.sip_messages),
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = main(["check", "--json", str(path)])
    gc.unfreeze()  # main froze the heap for a command's life; the next load would count it all
    document = json.loads(out.getvalue())
    expected["conforms"] = all(result.conforms for result in results)
    document["discontinuities"] = [d["frame"] for d in document["discontinuities"]]
    assert status == (0 if expected["conforms"] else 1)
    return expected, document


# The quick run: a registration, calls direct, through proxies (TCP), unanswered and busy,
# PRACK, a transfer, a forked find-me; the long run every sample.
QUICK_SAMPLES = [SAMPLES / name for name in (
    "rfc3665-2.1-successful-new-registration.pcap", "rfc3665-3.1-successful-session.pcap",
    "rfc3665-3.2-session-through-two-proxies.pcap", "rfc3665-3.8-unsuccessful-no-answer.pcap",
    "rfc3665-3.9-unsuccessful-busy.pcap", "rfc3262-3-prack.pcap", "rfc5359-2.5-transfer-attended.pcap",
    "rfc5359-2.12-find-me.pcap")]


@pytest.mark.parametrize("path", quick_subset(_samples(), QUICK_SAMPLES), ids=lambda p: p.name)
def test_check_findings_equal_the_full_parse_on_samples(path):
    expected, document = _check_documents(path)
    assert document == expected


def test_check_findings_equal_the_full_parse_on_the_corpus(corpus):
    compared = 0
    for path in corpus.paths:
        if path.stat().st_size > 3_000_000:
            continue
        documents = _check_documents(path)
        if documents is not None:
            assert documents[1] == documents[0], path.name
            compared += 1
    assert compared > 30 if corpus.whole else compared == len(corpus.paths)


def test_messages_read_back_from_the_file_gzip_and_the_spill(tmp_path):
    """Plain UDP payloads come back from the capture file by offset; a gzip capture's and a
    TCP stream's from the spill file: the same bytes, frames and addresses either way."""
    plain = SAMPLES / "rfc3665-3.10-unsuccessful-no-response-user-agent.pcap"  # SIP over UDP
    zipped = tmp_path / "no-response.pcap.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    tcp = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"
    for path, from_file in ((plain, True), (zipped, False), (tcp, False)):
        full = load_capture(str(path), media=False)
        located = load_capture(str(path), media=False, messages=False, locate=True)
        store = located.message_store
        assert len(store) == len(full.sip_messages) > 0
        assert all((store.where[i] >= 0) == from_file for i in range(len(store)))
        for i, message in enumerate(full.sip_messages):
            again = store.message(i)
            assert (again.raw, again.frames, again.src, again.dst, again.ts_ns) == \
                (message.raw, message.frames, message.src, message.dst, message.ts_ns)
            assert (again.call_id, again.cseq, again.request_uri, again.top_via.sent_by()) == \
                (message.call_id, message.cseq, message.request_uri, message.top_via.sent_by())


def test_a_capture_changed_after_loading_is_an_error_not_wrong_calls(tmp_path):
    path = tmp_path / "changed.pcap"
    shutil.copy(SAMPLES / "rfc3665-3.10-unsuccessful-no-response-user-agent.pcap", path)
    located = load_capture(str(path), media=False, messages=False, locate=True)
    data = bytearray(path.read_bytes())
    data[located.message_store.where[0] + 2] ^= 0x20  # one letter of the first request line
    path.write_bytes(bytes(data))
    with pytest.raises(CaptureError, match="changed"):
        list(iter_calls(located))


@pytest.mark.parametrize("items", [[], [{"a": 1}], [{"a": "\u00e9", "b": [1, {"c": None}]}, {"d": []}]])
def test_streamed_json_is_json_text_of_the_whole(items):
    out = io.StringIO()
    count = write_json_stream(out, {"file": "x"}, "calls", iter(items), lambda: {"conforms": True, "notes": []},
                              ensure_ascii=True)
    whole = {"file": "x", "calls": items, "conforms": True, "notes": []}
    assert count == len(items)
    assert out.getvalue() == json_text(whole, indent=2, ensure_ascii=True) + "\n"
