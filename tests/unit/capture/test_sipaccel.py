"""The compiled SIP first pass (``ladder/_accel.c``: ``scan_sip`` and the record loop's SIP
branch) against the Python one (``decoders.sipscan.scan_sip`` and ``Pipeline._sip``).

C answers for fewer messages than Python (it leaves anything unusual to Python), but whenever it
answers, every field equals ``scan_sip``'s, which ``tests/unit/decoders/test_sipscan.py`` shows
equal to ``parse_sip``'s. Loaded with ``messages=False`` (``ladder stats``), both paths give the
same ``SipIndex`` (columns, string table and ids), frame classes, diagnostics and RTP streams,
also when SDP bodies C kept for later must reach the RTP table before a stream's packets. The
corpus and crafted tests check that C really took messages (the samples copy the RFC text, whose
folded Via lines are Python's), so they cannot pass by never running the C code.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoders.sipscan import scan_sip
from ladder.capture.loader import load_capture
from ladder.capture.pipeline import Pipeline
from ladder.capture.reader import CHUNK_SIZE, CaptureReader
from ladder.cli.stats import compute_stats
from ladder.errors import CaptureError
from ladder.media import streams as rtp_streams
from rfc_messages import rfc3665_messages, rfc4475_archive
from tests.captures_crafted import (
    ethernet, ipv4, ipv6, pcap_bytes, pcapng_bytes, rtp, sip_invite, sip_response, sll, udp,
)
from tests.conftest import SAMPLES, quick_subset, shared_path
from tests.unit.capture.test_accel import needs_accel

if rtp_streams.Accelerator is not None:
    from ladder._accel import scan_sip as c_scan_sip


def _fields(f) -> tuple | None:
    return None if f is None else (f.is_request, f.method, f.status, f.call_id, f.cseq, f.branch, f.sent_by,
                                   f.from_tag, f.to_tag, f.content_length, f.content_type, f.body)


def _agrees(data: bytes) -> bool:
    """True when C answered for ``data``; asserts its fields are ``scan_sip``'s."""
    fast = c_scan_sip(data)
    if fast is None:
        return False
    assert fast == _fields(scan_sip(data)), data[:300]
    return True


def _plain(data: bytes) -> bool:
    """Whether Python answers for ``data`` and its head has no folded line, tab nor control
    byte: C answers for every such message (it leaves exactly the rest to Python)."""
    head = data[: data.find(b"\r\n\r\n")]
    return (scan_sip(data) is not None and b"\r\n " not in head and b"\r\n\t" not in head
            and not any(b < 0x20 and b not in (13, 10) or b >= 0x7F for b in head))


def _corpus_files() -> list[Path]:
    root = shared_path("captures")
    return sorted(p for p in root.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap", ".gz"))


def _messages(paths) -> list[bytes]:
    out = []
    for path in paths:
        try:
            capture = load_capture(str(path), media=False, engine="dpkt")
        except CaptureError:
            continue  # not a file the fast reader reads: nothing for C either
        out += [m.raw for m in capture.sip_messages]
    return out


# -- the scanner, message by message -----------------------------------------------------------

@needs_accel
def test_rfc4475_and_rfc3665_messages():
    archive = rfc4475_archive(shared_path("reference/rfc4475.txt"))
    answered = [name for name, data in archive.items() if _agrees(data)]
    # The torture messages (folding, escapes, odd spacing) go to Python; the plain ones not.
    assert not {"wsinv", "esc01", "lwsdisp", "longreq", "dblreq"} & set(answered)
    assert answered, "C answered for no RFC 4475 message"
    flows = rfc3665_messages(shared_path("reference/rfc3665.txt"))
    data = [m.data.replace(b"\n", b"\r\n") if b"\r\n" not in m.data else m.data for m in flows]
    for message in data:  # the RFC text folds most Via lines: those are Python's
        assert _agrees(message) or not _plain(message), message[:200]
    assert sum(map(_agrees, data)) >= 30


@needs_accel
def test_samples_and_corpus_messages():
    samples = _messages(sorted(SAMPLES.glob("*.pcap*")))
    corpus = _messages(_corpus_files())
    for message in samples + corpus:
        assert _agrees(message) or not _plain(message), message[:200]
    # The samples copy the RFCs' text (3665, 5359), whose Via lines are mostly folded: C takes
    # only the plainly written ones (every one of them, above), a hundred or more.
    assert sum(map(_agrees, samples)) >= 100
    assert sum(map(_agrees, corpus)) >= len(corpus) // 2


HEAD_PIECES = [b";tag=x", b";branch=z9", b"tag", b" ;", b"; tag = a", b'"a" ', b"\r\nVia: SIP/2.0/UDP h",
               b"\r\n ", b"\r\nl: 0", b"\r\ni: x", b":5060", b":0", b":65536", b"SIP/2.0 ", b" SIP/2.0",
               b"\r\nCSeq: 1 A", b"\r\nc:", b"\t", b"\x80", b"<", b">", b",", b"\\", b"=", b";"]


def _mutate_head(data: bytes, rng: random.Random) -> bytes:
    """Edits inside the head only, so the Content-Length still fits and C may answer."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        end = buf.find(b"\r\n\r\n")
        if end < 1:
            break
        pos = rng.randrange(end)
        op = rng.randrange(3)
        if op == 0:
            del buf[pos: pos + rng.randint(1, 3)]
        elif op == 1:
            buf[pos:pos] = rng.choice(HEAD_PIECES)
        else:
            buf[pos] = rng.choice(b" \t:;<>\"=,/0aZ-.~")
    return bytes(buf)


_SEEDS: list[bytes] = []


def _seeds() -> list[bytes]:
    if not _SEEDS:
        _SEEDS.extend(_messages(sorted(SAMPLES.glob("*.pcap"))))
        _SEEDS.extend(rfc4475_archive(shared_path("reference/rfc4475.txt")).values())
    return _SEEDS


@needs_accel
@pytest.mark.parametrize("examples", quick_subset([500, 3000], [500]))  # the full count in the long run
def test_mutated_heads_agree(examples):
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow],
              derandomize=True, database=None)
    @given(seed=st.integers(0, 10**6), rng=st.randoms(use_true_random=False))
    def agree(seed, rng):
        seeds = _seeds()
        _agrees(_mutate_head(seeds[seed % len(seeds)], rng))

    agree()


@needs_accel
def test_what_c_leaves_to_python():
    plain = sip_invite()
    assert _agrees(plain)
    for odd in (
        plain.replace(b"CSeq: 314159 INVITE\r\n", b"CSeq: 314159\r\n INVITE\r\n"),  # a folded key header
        plain.replace(b"Call-ID: ", b"Call-ID:  \xc3\xa9"),  # not ASCII
        plain.replace(b"From: Alice", b"From: \"Al\\\"ice\""),  # an escaped quote
        plain.replace(b"Via: SIP/2.0/UDP 192.0.2.1:5060", b"Via: SIP/2.0/UDP [2001:db8::1]:5060"),
        plain.replace(b"CSeq: 314159", b"CSeq: 314159\r\nCSeq: 2"),  # repeated
        plain.replace(b"Content-Length: 0", b"Content-Length: 1"),  # short
        plain.replace(b"INVITE sip", b"invite  sip"),
    ):
        assert c_scan_sip(odd) is None, odd[:80]
    assert c_scan_sip(plain + b"x") is None  # a byte the Content-Length does not cover
    # A fold scan_sip ignores (of a header it does not read) changes nothing.
    assert _agrees(plain.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards:\r\n 70\r\n"))


@needs_accel
def test_every_byte_at_every_place_of_the_head():
    """C's line loop (``head_stop``: 16 bytes at a time, then one at a time) refuses a head
    holding a control byte (but HT), DEL or a byte above 0x7F wherever it is: in a 16-byte block
    or in the tail, first or last of its block; a byte a head may hold, there, leaves C as
    ``scan_sip`` (``_agrees``)."""
    plain = sip_invite()
    end = plain.index(b"\r\n\r\n")
    assert end > 64 and c_scan_sip(plain) is not None
    for place in range(end):
        if plain[place] in b"\r\n":
            continue  # (a line's end: another head, not another byte in a line)
        for value in range(256):
            if value in b"\r\n":
                continue
            data = plain[:place] + bytes([value]) + plain[place + 1:]
            if value < 0x20 and value != 9 or value >= 0x7F:
                assert c_scan_sip(data) is None, (place, value)
            elif value in b"\ta:; ":
                _agrees(data)
    for cut in range(1, 40):  # the head's last block short of 16 bytes, or none
        head = plain[:end - cut] + plain[end:]
        _agrees(head)


# -- the record loop -------------------------------------------------------------------------

def _load(path: Path, accelerated: bool, media: bool, monkeypatch, locate: bool = False):
    if accelerated:
        monkeypatch.delenv("PCAPLADDER_PURE_PYTHON", raising=False)
    else:
        monkeypatch.setenv("PCAPLADDER_PURE_PYTHON", "1")
    return load_capture(str(path), media=media, messages=False, engine="dpkt", locate=locate)


def _assert_same(path: Path, monkeypatch, media: bool = True) -> int:
    """Both paths load ``path`` alike; returns the SIP messages C took."""
    fast, slow = _load(path, True, media, monkeypatch), _load(path, False, media, monkeypatch)
    a, b = fast.sip_index, slow.sip_index
    assert (list(a.frame), list(a.ts_ns), list(a.method), list(a.status), list(a.call)) == (
        list(b.frame), list(b.ts_ns), list(b.method), list(b.status), list(b.call))
    assert a.strings == b.strings
    assert compute_stats(fast) == compute_stats(slow)
    assert fast.streams == slow.streams
    return a._interner.sip_taken if a._interner is not None else 0


@needs_accel
@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.pcap")), ids=lambda p: p.stem)
def test_samples_load_alike(path, monkeypatch):
    for media in (True, False):
        _assert_same(path, monkeypatch, media)


def _alike_everywhere(paths: list[Path], assert_same, monkeypatch) -> None:
    """``assert_same(path, monkeypatch)`` on every capture the loader reads; C took messages
    of at least ten of them."""
    taken = {}
    for path in paths:
        try:
            taken[path.name] = assert_same(path, monkeypatch)
        except CaptureError:
            continue
        except AssertionError as exc:
            raise AssertionError(f"{path}: {exc}") from exc
    assert sum(1 for n in taken.values() if n) >= 10, taken


@needs_accel
def test_corpus_loads_alike(monkeypatch):
    _alike_everywhere(_corpus_files(), _assert_same, monkeypatch)


T0 = 1_700_000_000 * 10**9
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\n" \
      b"a=rtpmap:8 PCMA/8000\r\n"


def _invite_with_sdp(call: str) -> bytes:
    return sip_invite(call_id=call, body=SDP).replace(b"Contact:", b"Content-Type: application/sdp\r\nContact:")


def _write(tmp_path: Path, frames: list[bytes], name: str = "c.pcap", **kwargs) -> Path:
    path = tmp_path / name
    path.write_bytes(pcap_bytes([(T0 + i * 20_000_000, f) for i, f in enumerate(frames)], **kwargs))
    return path


@needs_accel
def test_sdp_kept_in_c_reaches_the_rtp_table_first(tmp_path, monkeypatch):
    """The INVITE's SDP (taken by C, parsed later) names PCMA for the stream that follows:
    the stream is the same as when Python parsed the SDP on the spot."""
    media = [ethernet(ipv4(udp(rtp(i, 160 * i, 0xABC, pt=8), 40002, 40000), src="192.0.2.2", dst="192.0.2.1"))
             for i in range(30)]
    frames = [ethernet(ipv4(udp(_invite_with_sdp("a@x")))), ethernet(ipv4(udp(sip_response(180, "a@x"))))] + media
    frames += [ethernet(ipv4(udp(_invite_with_sdp("b@x")))), ethernet(ipv4(udp(sip_response(200, "b@x"))))]
    path = _write(tmp_path, frames)
    assert _assert_same(path, monkeypatch) == 3  # the re-INVITE came while C held the stream: Python's
    fast = _load(path, True, True, monkeypatch)
    assert [s.payload_types for s in fast.streams] and fast.streams[0].packets == 30


@needs_accel
def test_link_layers_and_formats(tmp_path, monkeypatch):
    messages = [_invite_with_sdp("c@x"), sip_response(100, "c@x"), sip_response(200, "c@x")]
    cases = {
        "vlan.pcap": [ethernet(ipv4(udp(m)), vlans=((0x8100, 10),)) for m in messages],
        "sll.pcap": [sll(ipv4(udp(m))) for m in messages],
        "v6.pcap": [ethernet(ipv6(udp(m)), ethertype=0x86DD) for m in messages],  # IPv6 stays Python's
    }
    for name, frames in cases.items():
        path = _write(tmp_path, frames, name, linktype=113 if name == "sll.pcap" else 1)
        assert _assert_same(path, monkeypatch) == (0 if name == "v6.pcap" else 3), name
    ng = tmp_path / "c.pcapng"
    ng.write_bytes(pcapng_bytes([(1, 9)], [(0, T0 + i * 1000, ethernet(ipv4(udp(m)))) for i, m in enumerate(messages)]))
    assert _assert_same(ng, monkeypatch) == 3


@needs_accel
def test_progress_and_call_ids_follow_the_c_records(tmp_path, monkeypatch):
    monkeypatch.delenv("PCAPLADDER_PURE_PYTHON", raising=False)
    frames = [ethernet(ipv4(udp(m))) for k in range(5) for m in (sip_invite(f"{k}@x"), sip_response(200, f"{k}@x"))]
    frames.insert(3, ethernet(ipv4(udp(sip_invite("py@x").replace(b"CSeq: 314159", b"CSeq:\r\n 314159")))))
    path = _write(tmp_path, frames)
    pipeline = Pipeline(messages=False)
    with CaptureReader(str(path)) as reader:
        pipeline.feed_records(reader.records(pipeline.accelerator()))
    pipeline.finish()
    index = pipeline.sip_index
    assert pipeline.call_ids == {index.strings[c] for c in index.call if c} == {f"{k}@x" for k in range(5)} | {"py@x"}
    assert index._interner.sip_taken == 10 and len(index) == 11  # the folded CSeq went the Python way
    assert list(index.frame) == list(range(1, 12)) and index.strings[index.method[3]] == "INVITE"


@needs_accel
def test_sdp_spilled_to_a_file_is_heard_in_order(tmp_path, monkeypatch):
    """SDP bodies beyond the memory bound go to a temporary file and come back, oldest first:
    the stream named by the first of many offers is the same as in pure Python."""
    offers = [ethernet(ipv4(udp(_invite_with_sdp(f"{k}@x").replace(b"40000", str(41000 + 2 * k).encode()))))
              for k in range(40)] + [ethernet(ipv4(udp(_invite_with_sdp("last@x"))))]
    media = [ethernet(ipv4(udp(rtp(i, 160 * i, 0xABC, pt=8), 40002, 40000), src="192.0.2.2", dst="192.0.2.1"))
             for i in range(10)]
    path = _write(tmp_path, offers + media)
    slow = _load(path, False, True, monkeypatch)
    monkeypatch.delenv("PCAPLADDER_PURE_PYTHON", raising=False)
    pipeline = Pipeline(messages=False)
    accel = pipeline.accelerator()
    accel.enable_sip(media=True, spill_bytes=1000)  # a chunk every 3 offers
    with CaptureReader(str(path)) as reader:
        records = reader.records(accel)
        for record in records:  # up to the first datagram: every offer is held, most in the file
            pipeline.feed_records((record,))
            if pipeline.sip_index and len(pipeline.sip_index) == len(offers):
                break
        assert accel.spilled >= 3 and accel.sip_taken == len(offers)
        pipeline.feed_records(records)
    pipeline.finish()
    assert accel.spilled == 0
    assert pipeline.streams == slow.streams and pipeline.streams[0].packets == 10
    assert _counts(pipeline.sip_index, pipeline.frame_classes) == _counts(slow.sip_index, slow.frame_classes)


def _counts(index, classes) -> tuple:
    return dict(classes), index.requests(), index.responses(), index.call_id_count()


# -- with a message store (``ladder calls`` / ``check``: locate=True) --------------------------

def _store_rows(capture) -> tuple:
    """Every row of the message store, endpoints by value."""
    store = capture.message_store
    return (list(store.where), list(store.length), list(store.crc), list(store.record),
            [store.endpoint(i) for i in store.src], [store.endpoint(i) for i in store.dst],
            list(store.flags), store.odd_frames)


def _assert_same_located(path: Path, monkeypatch) -> int:
    """Both paths locate every message of ``path`` alike (file offset, length, CRC, record,
    endpoints, flags); returns the SIP messages C took."""
    fast, slow = _load(path, True, False, monkeypatch, True), _load(path, False, False, monkeypatch, True)
    a, b = fast.sip_index, slow.sip_index
    assert (list(a.frame), list(a.ts_ns), list(a.method), list(a.status), list(a.call), a.strings) == (
        list(b.frame), list(b.ts_ns), list(b.method), list(b.status), list(b.call), b.strings)
    assert _store_rows(fast) == _store_rows(slow)
    assert a._interner is None and b.compiled == 0  # let go once read
    return a.compiled


@needs_accel
def test_samples_and_corpus_located_alike(monkeypatch):
    _alike_everywhere(sorted(SAMPLES.glob("*.pcap")) + _corpus_files(), _assert_same_located, monkeypatch)


@needs_accel
def test_located_messages_read_back_past_the_first_buffer(tmp_path, monkeypatch):
    """Offsets count from the file's start in every buffer the reader fills (several here), in
    pcap and pcapng; the correlation flag is set as Python sets it (any case, in the body too);
    each message read back is its frame's UDP payload."""
    messages = []
    for k in range(4000):
        invite = sip_invite(f"{k}@x")
        if k % 7 == 0:
            invite = invite.replace(b"Contact:", b"X-CALL-ID: a@b\r\nContact:")
        if k % 11 == 0:
            invite = invite.replace(b"Contact:", b"Session-Id: ab\r\nContact:")
        messages += [invite, sip_response(200, f"{k}@x")]
    frames = [ethernet(ipv4(udp(m))) for m in messages]
    pcap = _write(tmp_path, frames)
    ng = tmp_path / "c.pcapng"
    ng.write_bytes(pcapng_bytes([(1, 9)], [(0, T0 + i * 1000, f) for i, f in enumerate(frames)]))
    for path in (pcap, ng):
        assert path.stat().st_size > 2 * CHUNK_SIZE
        # (a record cut by the end of the reader's buffer is Python's: a few of them)
        assert _assert_same_located(path, monkeypatch) > 0.99 * len(messages)
        fast = _load(path, True, False, monkeypatch, True)
        store = fast.message_store
        assert [store.raw(i) for i in range(len(store))] == messages
        assert sum(store.flags) == sum(1 for k in range(4000) if k % 7 == 0 or k % 11 == 0)
        data = path.read_bytes()
        frame = store.frames(len(store) - 1)[0]  # the record's offset: its frame's bytes follow
        assert frames[-1] in data[frame.offset:frame.offset + 64 + len(frames[-1])]
