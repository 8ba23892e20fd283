"""``bind_media`` binds each stream with a sweep over the announcements indexed by key: the same
bindings as trying every call on every candidate stream (the rule as first written, kept here
as the reference), with work that grows with calls plus streams when every call announces the
same address:port, as SIPp's calls do."""

from __future__ import annotations

import struct
import sys
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from conftest import SAMPLES, quick_subset
from decoders.records import Endpoint, FrameRef
from decoders.sip import parse_sip
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.media import binding
from ladder.media.binding import (CallMedia, MediaBinding, MediaIndex, _bye_ns, _stream_problems, bind_media,
                                  ranked_matches, sdp_announcements)
from ladder.media.streams import RtpStreamTable

MS = 1_000_000


def per_call_bind(calls, streams) -> list[MediaBinding]:
    """The rule as first written: each call tries every stream on its announced ports, and a
    stream goes to the best rank (``ranked_matches``) over all calls."""
    group = calls if isinstance(calls, (list, tuple)) else [calls]
    by_port: dict[int, list] = {}
    for stream in streams:
        by_port.setdefault(stream.dst.port, []).append(stream)
        if stream.src.port != stream.dst.port:
            by_port.setdefault(stream.src.port, []).append(stream)
    best: dict[tuple, tuple] = {}
    for order, call in enumerate(group):
        announced = sdp_announcements(call)
        if not announced:
            continue
        bye_ns = _bye_ns(call)
        candidates = {id(s): s for port in {a.port for a in announced} for s in by_port.get(port, ())}
        for stream, matched, rank in ranked_matches(announced, candidates.values(), bye_ns, order):
            if stream.key not in best or rank > best[stream.key][0]:
                best[stream.key] = (rank, call, stream, matched, announced, bye_ns)
    bindings = []
    for _rank, call, stream, (announcement, reason, detail), announced, bye_ns in best.values():
        problems = _stream_problems(call, stream, announcement, reason, announced, bye_ns)
        bindings.append(MediaBinding(call.id, stream, reason, detail, announcement, tuple(problems)))
    bindings.sort(key=lambda b: (b.stream.first_ns, b.stream.first_frame))
    return bindings


# --- crafted calls on real SIP bytes and real RTP packets ----------------------------------------

def _message(start: str, call_id: str, cseq: str, src: tuple[str, int], dst: tuple[str, int], ts_ns: int,
             frame: int, sdp: tuple[str, int] | None = None):
    body = ""
    if sdp is not None:
        body = (f"v=0\r\no=- 1 1 IN IP4 {sdp[0]}\r\ns=-\r\nc=IN IP4 {sdp[0]}\r\nt=0 0\r\n"
                f"m=audio {sdp[1]} RTP/AVP 0\r\na=sendrecv\r\n")
    raw = (f"{start}\r\nVia: SIP/2.0/UDP {src[0]}:{src[1]};branch=z9hG4bK{call_id}{cseq.split()[0]}\r\n"
           f"From: <sip:a@{src[0]}>;tag=a\r\nTo: <sip:b@{dst[0]}>;tag=b\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n"
           + ("Content-Type: application/sdp\r\n" if body else "")
           + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    return parse_sip(raw).with_context(Endpoint(*src), Endpoint(*dst), (FrameRef(frame, ts_ns),), ts_ns)


def _feed(table: RtpStreamTable, src: tuple[str, int], dst: tuple[str, int], ssrc: int, start_ns: int,
          frame: int, packets: int = 4) -> None:
    for i in range(packets):  # four packets: a stream is confirmed after CONFIRM_AFTER
        data = struct.pack("!BBHII", 0x80, 0, i, 160 * i, ssrc) + b"\xff" * 160
        table.feed_udp(src[0], src[1], dst[0], dst[1], start_ns + i * 20 * MS, frame + i, data, 0, len(data))


def sipp_traffic(calls: int, *, failed_every: int = 0):
    """SIPp's calls: every INVITE offers 127.0.0.1:6000 and every 200 OK answers 127.0.0.2:6000,
    a call every 100 ms lasting 3 s (about 30 up at once), RTP both ways; with ``failed_every``
    every n-th call is refused (486, no BYE, no RTP), which leaves its window open."""
    uac, uas = ("127.0.0.1", 5061), ("127.0.0.2", 5060)
    media_a, media_b = ("127.0.0.1", 6000), ("127.0.0.2", 6000)
    table = RtpStreamTable()
    found, frame = [], 1
    for n in range(calls):
        t = n * 100 * MS
        call_id = f"sipp-{n}"
        messages = [_message("INVITE sip:b@127.0.0.2 SIP/2.0", call_id, "1 INVITE", uac, uas, t, frame, media_a)]
        if failed_every and n % failed_every == failed_every - 1:
            messages.append(_message("SIP/2.0 486 Busy Here", call_id, "1 INVITE", uas, uac, t + 40 * MS, frame + 1))
        else:
            messages.append(_message("SIP/2.0 200 OK", call_id, "1 INVITE", uas, uac, t + 50 * MS, frame + 1, media_b))
            messages.append(_message("BYE sip:b@127.0.0.2 SIP/2.0", call_id, "2 BYE", uac, uas, t + 3000 * MS,
                                     frame + 2))
            _feed(table, media_a, media_b, 2 * n + 1, t + 60 * MS, frame + 3)
            _feed(table, media_b, media_a, 2 * n + 2, t + 65 * MS, frame + 7)
        frame += 11
        found.append(SimpleNamespace(id=call_id, index=n + 1, messages=messages))
    return found, table.finish()


def _bindings_alike(calls, streams) -> list[MediaBinding]:
    mine, theirs = bind_media(calls, streams), per_call_bind(calls, streams)
    assert mine == theirs
    # What a whole-capture binding holds of each call (``CallMedia``) binds as the calls do, and
    # gives each call the same own problems (no-media, one-way-media).
    held = [CallMedia.of(call) for call in calls]
    assert bind_media(held, streams) == mine
    assert MediaIndex.build(held, streams) == MediaIndex.build(calls, streams)
    return mine


def test_sipp_traffic_binds_every_stream_as_before():
    calls, streams = sipp_traffic(60, failed_every=7)
    bindings = _bindings_alike(calls, streams)
    assert len(streams) == 2 * (60 - 60 // 7) == len(bindings)
    for b in bindings:  # each by an SDP that named one of the stream's two ends
        ends = {(b.stream.dst.ip, b.stream.dst.port), (b.stream.src.ip, b.stream.src.port)}
        assert (b.announcement.address, b.announcement.port) in ends


def test_sipp_streams_bind_to_their_own_call():
    # Every call announces the same address:port, a call every 100 ms: a stream is its own call's
    # (the SDP made just before it started), not that of a call set up within the 2 s slack after.
    calls, streams = sipp_traffic(60, failed_every=7)
    bindings = _bindings_alike(calls, streams)
    assert [b.call_id for b in bindings] == [f"sipp-{(b.stream.ssrc - 1) // 2}" for b in bindings]


def _work(function, *args) -> int:
    """Lines of ladder/media/binding.py run by ``function(*args)``: work, counted without a clock."""
    count = 0
    target = binding.__file__

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename == target else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        function(*args)
    finally:
        sys.settrace(previous)
    return count


def test_doubling_the_calls_at_most_doubles_the_work():
    # Every fifth call refused: its window never closes (no BYE), the hard case for a sweep.
    small, large = sipp_traffic(60, failed_every=5), sipp_traffic(120, failed_every=5)
    assert bind_media(*large) == per_call_bind(*large)
    ratio = _work(bind_media, *large) / _work(bind_media, *small)
    assert ratio <= 2.05, ratio
    # The counter sees a quadratic rule: trying every call on every stream does nearly three
    # times the work here (four in the limit).
    assert _work(per_call_bind, *large) / _work(per_call_bind, *small) > 2.5


# --- the same bindings everywhere ----------------------------------------------------------------

def test_samples_bind_as_before():
    bound = 0
    for path in sorted(SAMPLES.glob("*.pcap")):
        capture = load_capture(str(path))
        bound += len(_bindings_alike(build_calls(capture), capture.streams))
    assert bound > 0


def test_corpus_binds_as_before(corpus):
    bound = 0
    for path in corpus.paths:
        try:
            capture = load_capture(str(path))
        except Exception:  # a file the loader refuses has no streams to bind
            continue
        bound += len(_bindings_alike(build_calls(capture), capture.streams))
    assert bound > 0


_ADDRESSES = [("10.0.0.1", 4000), ("10.0.0.2", 5000), ("10.0.0.1", 5000), ("192.0.2.9", 4000)]
_CALLS = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(_ADDRESSES), st.sampled_from(_ADDRESSES),
                            st.sampled_from([None, 0, 3, 40]), st.booleans()), min_size=1, max_size=6)
_STREAMS = st.lists(st.tuples(st.sampled_from(_ADDRESSES), st.sampled_from(_ADDRESSES), st.integers(0, 60)),
                    min_size=1, max_size=6)


@pytest.mark.parametrize("examples", quick_subset([40, 300], [40]))  # the full count in the long run
def test_any_calls_and_streams_bind_as_before(examples):
    """Calls offering and answering from a few shared addresses (the same address:port in several
    calls, a party's SDP address as another's signalling address: every kind of match), with or
    without a BYE or an answer, and streams starting anywhere: the same bindings, ties included."""

    @settings(max_examples=examples, deadline=None, database=None)
    @given(_CALLS, _STREAMS)
    def alike(calls, streams):
        made, table, frame = [], RtpStreamTable(), 1
        for n, (start, offer, answer, bye, answered) in enumerate(calls):
            t = start * 500 * MS
            call_id = f"c{n}"
            signalling_a, signalling_b = (offer[0], 5060), (answer[0], 5062)
            messages = [_message("INVITE sip:b@x SIP/2.0", call_id, "1 INVITE", signalling_a, signalling_b, t,
                                 frame, offer)]
            if answered:
                messages.append(_message("SIP/2.0 200 OK", call_id, "1 INVITE", signalling_b, signalling_a,
                                         t + 100 * MS, frame + 1, answer))
            if bye is not None:
                messages.append(_message("BYE sip:b@x SIP/2.0", call_id, "2 BYE", signalling_a, signalling_b,
                                         t + bye * 500 * MS, frame + 2))
            made.append(SimpleNamespace(id=call_id, index=n + 1, messages=messages))
            frame += 3
        for n, (src, dst, start) in enumerate(sorted(streams, key=lambda s: s[2])):
            if src != dst:
                _feed(table, src, dst, 100 + n, start * 500 * MS, 1000 + 10 * n)
        _bindings_alike(made, table.finish())

    alike()
