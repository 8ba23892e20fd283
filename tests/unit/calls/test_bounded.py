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

from captures_crafted import udp_sip_frame, write_pcap
from conftest import SAMPLES, quick_subset
from ladder.analysis import analyse
from ladder.calls.bounded import iter_call_rows, iter_calls
from ladder.calls.grouping import build_calls
from ladder.calls.legs import RELAY_WINDOW_NS, RETRY_WINDOW_NS
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


def _shifted(path: Path, copy: int, start_ns: int, gap_at: int, gap_ns: int, renames: dict[bytes, bytes]) -> list:
    """The SIP messages of a sample as UDP frames (time, frame): copy number ``copy`` (its
    Call-IDs and tags renamed, so that copies are calls of their own), starting at ``start_ns``,
    every message from the ``gap_at``-th on ``gap_ns`` later; ``renames`` rewrites the bytes
    of the messages that go between two addresses (a B2BUA's new Call-ID)."""
    messages = load_capture(str(path), media=False).sip_messages
    t0, frames = messages[0].ts_ns, []
    for n, message in enumerate(messages):
        raw = message.raw
        for old, new in renames.items():
            if old[:1] != b"@" or {message.src.ip, message.dst.ip} == {"192.0.2.222", "192.0.2.201"}:
                raw = raw.replace(old.lstrip(b"@"), new)
        raw = raw.replace(message.call_id.encode(), b"%04d-" % copy + message.call_id.encode())
        raw = raw.replace(message.from_tag.encode(), b"%04d" % copy + message.from_tag.encode())
        ts = start_ns + message.ts_ns - t0 + (gap_ns if n >= gap_at else 0)
        frames.append((ts, udp_sip_frame(raw, message.src.ip, message.dst.ip, message.src.port, message.dst.port)))
    return frames


def test_relays_and_retries_at_the_windows_edges_in_a_busy_capture(tmp_path):
    """Copies of a call through a B2BUA (RFC 3665 §3.2, a new Call-ID after Proxy 2) whose
    second leg leaves exactly RELAY_WINDOW_NS after the first arrived, or 1 ns later, and of a
    retry after a failed attempt (§3.4) exactly RETRY_WINDOW_NS after it, or 1 ns later, among
    each other's calls: the bounded calls link and release as the full parse's calls do, and
    a link is made at each window's very edge and not past it."""
    relay = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"
    retry = SAMPLES / "rfc3665-3.4-successful-session-proxy-failure.pcap"
    t0 = 1_700_000_000_000_000_000
    frames = []
    for copy in range(60):  # 5 s apart: no other copy's INVITE is within the window of one
        late = copy % 2
        # the INVITE leaving Proxy 2 is the 7th message, 18.473 ms after the 5th arrived there
        frames += _shifted(relay, copy, t0 + copy * 5_000_000_000, 6, RELAY_WINDOW_NS - 18_473_000 + late,
                           {b"@3848276298220188511@atlanta.example.com": b"b2bua-leg-%d@192.0.2.222" % copy})
    for copy in range(4):  # the retry is the 8th message, 32 s after the first attempt; by Carol, so
        # that the B2BUA rules see no relay of Alice's calls
        frames += _shifted(retry, 100 + copy, t0 + copy * 20_000_000_000, 7, RETRY_WINDOW_NS - 32_000_000_000 + copy % 2,
                           {b"alice": b"carol"})
    frames.sort(key=lambda frame: frame[0])
    path = write_pcap(tmp_path / "edges.pcap", frames, nanoseconds=True)
    assert _assert_same_calls(path) == 30 + 60 + 2 + 4
    reasons = [link.reason for call in build_calls(load_capture(str(path), media=False)) for link in call.links
               if not link.reason.startswith("same Call-ID")]
    assert reasons.count("INVITE to bob left 192.0.2.222 2000 ms after one arrived") == 30
    assert [r for r in reasons if "retried" in r] == [
        f"same From tag {copy:04d}9fxced76sl: 192.0.2.101 retried 64.0 s later" for copy in (100, 102)]
    assert len(reasons) == 30 + 2


_SESSION = "ab30317f1a784dc48ff824d0d3715d86"
_REMOTE = "47755a9de7794ba387653f2099600ef2"
# Correlation headers as real agents write them and as a parser can trip on: case, LWS before the
# colon, a folded line (RFC 3261 §7.3.1), repeats, an empty value, a comma, a tab; and a body
# that names one (the flag is a generous substring test: such a message carries none).
_CORRELATION_LINES = [
    "X-Call-ID: a-1@host",
    "x-call-id:a-2@host",
    "X-Call-ID \t:  a-3@host  ",
    f"Session-ID: {_SESSION}\r\n ;remote={_REMOTE}",
    "X-Call-ID: first@host\r\nX-Call-ID: second@host",
    "X-Call-ID:",
    f"X-CID: 77\r\nSession-ID: {_SESSION};remote={_REMOTE}, {_REMOTE}",
    f"session-id:\t{_REMOTE.upper()}",
    f"Session-ID: {_SESSION}\r\nSession-ID: {_REMOTE};remote=00000000000000000000000000000000",
    "Subject: the session-id of the x-call-id",
]


def test_correlation_headers_read_from_the_head_equal_the_full_parse(tmp_path):
    """``_Correlation`` reads a message the first pass read with ``head_values``, not the full
    parse (a Session-ID in every message made ``ladder calls`` parse each one fully): the same
    values, message by message, as the full parse's ``header``/``header_values``."""
    from captures_crafted import sip_invite
    from ladder.calls.bounded import _Correlation
    from ladder.capture.messagestore import CORRELATION

    frames = []
    for n, line in enumerate(_CORRELATION_LINES):
        raw = sip_invite(call_id=f"corr-{n}@example.com", branch=f"z9hG4bK-c{n}")
        raw = raw.replace(b"Content-Length:", line.encode() + b"\r\nContent-Length:")
        frames.append((1_000_000_000 * (n + 1), udp_sip_frame(raw)))
    path = write_pcap(tmp_path / "correlation.pcap", frames)
    store = load_capture(str(path), media=False, messages=False, locate=True).message_store
    assert len(store) == len(_CORRELATION_LINES)
    read = 0
    for i in range(len(store)):
        assert store.flags[i] & CORRELATION
        message = store.message(i)
        if message._full is not None:
            continue  # the first pass left it to the full parse: so does ``_Correlation``
        from_head = _Correlation(message)
        message.full  # the same message, parsed
        from_full = _Correlation(message)
        assert from_head.key() == from_full.key(), _CORRELATION_LINES[i]
        read += 1
    assert read >= len(_CORRELATION_LINES) - 1
