"""The compiled parse of a plain SIP message (``decoders/_sipparse.c``, ``parse_plain``) against
``parse_sip_python``, field for field and problem for problem.

C answers for fewer messages than Python (anything with a problem or a shape it does not read
exactly goes to Python), but whenever it answers, every slot of the ``SipMessage`` and of every
record in it (start line, NameAddr, Via, SdpSession, SdpOrigin, SdpMedia) equals Python's, dicts
in the same order. The corpus and sample tests also check that C answered for many messages,
so they cannot pass by never running the C code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import decoders.sip as sip
from decoders.errors import DecodeError
from decoders.records import Endpoint, FrameRef
from fuzz_sipparse import crafted, mutate, seeds, shape
from ladder.capture.loader import load_capture
from ladder.errors import CaptureError
from rfc_messages import rfc3665_messages, rfc4475_archive
from tests.captures_crafted import sip_invite
from tests.conftest import SAMPLES, quick_subset, shared_path

needs_c = pytest.mark.skipif(sip._parse_plain is None, reason="decoders._sipparse not built (or pure Python)")
SRC, DST = Endpoint("192.0.2.1", 5060), Endpoint("192.0.2.2", 5060, "tcp")
FRAMES = (FrameRef(7, 1_700_000_000_123_456_789, 4096),)


def _agrees(data: bytes) -> bool:
    """True when C answered for ``data``; asserts its message is Python's, slot for slot."""
    assert sip._parse_plain is not None
    fast = sip._parse_plain(data, SRC, DST, FRAMES, 1_700_000_000_123_456_789)
    if fast is None:
        return False
    slow = sip.parse_sip_python(data, src=SRC, dst=DST, frames=FRAMES, ts_ns=1_700_000_000_123_456_789)
    assert shape(fast) == shape(slow), data[:400]
    assert fast.problems == () and (fast.sdp is None or fast.sdp.problems == ())
    return True


def _answers_or_python(data: bytes) -> bool:
    """``_agrees``, and a message C leaves to Python still parses (or fails) in Python."""
    if _agrees(data):
        return True
    try:
        sip.parse_sip_python(data)
    except DecodeError:
        pass
    return False


def _messages(paths) -> list[bytes]:
    out = []
    for path in paths:
        try:
            capture = load_capture(str(path), media=False, engine="dpkt")
        except CaptureError:
            continue
        out += [m.raw for m in capture.sip_messages]
    return out


def _corpus_files() -> list[Path]:
    root = shared_path("captures")
    return sorted(p for p in root.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap", ".gz"))


@needs_c
def test_samples_messages():
    samples = _messages(sorted(SAMPLES.glob("*.pcap*")))
    assert sum(map(_agrees, samples)) >= 60


@needs_c
def test_corpus_messages():
    corpus = _messages(_corpus_files())
    answered = sum(map(_agrees, corpus))
    assert answered >= len(corpus) // 4, (answered, len(corpus))


@needs_c
def test_rfc4475_and_rfc3665_messages():
    archive = rfc4475_archive(shared_path("reference/rfc4475.txt"))
    answered = [name for name, data in archive.items() if _answers_or_python(data)]
    # The torture messages (folding, escapes, odd spacing, problems) are Python's.
    assert answered, "C answered for no RFC 4475 message"
    assert not {"wsinv", "esc01", "longreq", "dblreq", "mismatch01", "unreason"} & set(answered)
    flows = rfc3665_messages(shared_path("reference/rfc3665.txt"))
    data = [m.data.replace(b"\n", b"\r\n") if b"\r\n" not in m.data else m.data for m in flows]
    assert sum(map(_agrees, data)) >= 30


@needs_c
def test_bench_shapes():
    """Calls' messages (INVITE and 200 with SDP of two media, provisional responses) are C's."""
    messages = crafted()
    assert all(map(_agrees, messages))
    offer = sip._parse_plain(messages[1], None, None, (), 0)
    assert offer is not None and offer.sdp is not None
    assert [(m.direction, m.connection, m.address_type) for m in offer.sdp.media] == [
        ("sendonly", "192.0.2.1", "IP4"), ("sendrecv", "::1", "IP6")]
    assert offer.sdp.media[0].rtpmap[101] == ("telephone-event", 8000, 1) and offer.sdp.media[1].rtcp_mux
    answer = sip._parse_plain(messages[4], None, None, (), 0)
    assert answer is not None and answer.sdp is not None and answer.contacts[0].params == {"expires": "60"}


@needs_c
def test_what_c_leaves_to_python():
    plain = sip_invite()
    assert _agrees(plain)
    for odd in (
        plain.replace(b"CSeq: 314159 INVITE\r\n", b"CSeq: 314159\r\n INVITE\r\n"),  # folded
        plain.replace(b"Call-ID: ", b"Call-ID:  \xc3\xa9"),  # not ASCII
        plain.replace(b"From: Alice", b"From: \"Al\\\"ice\""),  # a quoted-pair
        plain.replace(b"CSeq: 314159", b"CSeq: 314159\r\nCSeq: 2"),  # repeated
        plain.replace(b"Content-Length: 0", b"Content-Length: 1"),  # short
        plain.replace(b";tag=", b";xtag="),  # From without tag: a problem
        plain.replace(b"INVITE sip", b"invite sip"),
        plain.replace(b"SIP/2.0\r\n", b"SIP/2.0\n", 1),
        b"\r\n" + plain,
    ):
        assert odd != plain
        assert sip._parse_plain(odd, None, None, (), 0) is None, odd[:80]
    assert sip._parse_plain(plain + b"x", None, None, (), 0) is None  # beyond the Content-Length


def test_the_compiled_parse_is_on_where_built(monkeypatch):
    """Built, it takes the records (a field added to one without ``_sipparse.c`` learning it
    turns it off: this fails then, rather than every test above being skipped)."""
    pytest.importorskip("decoders._sipparse")
    monkeypatch.delenv("PCAPLADDER_PURE_PYTHON", raising=False)
    monkeypatch.delenv("PCAPLADDER_NO_C_PARSE", raising=False)
    assert sip._compiled_parse() is not None


@pytest.mark.parametrize("variable", ["PCAPLADDER_PURE_PYTHON", "PCAPLADDER_NO_C_PARSE"])
def test_python_alone_on_request(monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    assert sip._compiled_parse() is None


@needs_c
@pytest.mark.parametrize("examples", quick_subset([1000, 20000], [1000]))  # the full count in the long run
def test_mutated_messages_agree(examples):
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow],
              derandomize=True, database=None)
    @given(seed=st.integers(0, 10**6), rng=st.randoms(use_true_random=False))
    def agree(seed, rng):
        answered.append(_answers_or_python(mutate(pool[seed % len(pool)], rng)))

    pool, answered = seeds(), []
    agree()
    assert sum(answered) >= len(answered) // 20, "C answered for too few mutants to compare"


@needs_c
def test_limits_and_long_values():
    """Past C's fixed limits (Vias, SDP lines and media, header name length) Python answers;
    values longer than its memo tables keep agree, and are parsed again each time."""
    plain = sip_invite()
    vias = b"".join(b"Via: SIP/2.0/UDP p%d.example.com;branch=z9hG4bK%d\r\n" % (i, i) for i in range(20))
    many = plain.replace(b"Max-Forwards", vias + b"Max-Forwards")
    assert sip._parse_plain(many, None, None, (), 0) is None and len(sip.parse_sip(many).vias) == 21
    long_name = plain.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nX-" + b"n" * 60 + b": 1")
    assert sip._parse_plain(long_name, None, None, (), 0) is None
    long_tag = plain.replace(b"tag=1928301774", b"tag=" + b"7" * 2000)
    assert _agrees(long_tag) and _agrees(long_tag)
    assert sip.parse_sip(long_tag).from_tag == "7" * 2000
    for sdp in (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\n" + b"a=x\r\n" * 600,
                b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\n" + b"m=audio 1 RTP/AVP 0\r\n" * 20):
        message = plain.replace(b"Content-Length: 0\r\n", b"Content-Type: application/sdp\r\nContent-Length: %d\r\n"
                                % len(sdp)) + sdp
        assert sip._parse_plain(message, None, None, (), 0) is None
        assert sip.parse_sip(message).sdp is not None
