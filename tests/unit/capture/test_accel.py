"""The compiled RTP fast path (ladder/_accel.c) against the pure-Python one.

The accelerator must change nothing but the speed: on every sample, every corpus capture and
crafted captures that walk every branch of the fast path (link layers, pcap flavours, header
extensions, losses, wraps, talk spurts, payload-type changes, long gaps that coarsen the chart
series), both paths give the same frames, classes, diagnostics and RTP streams, every float
bit for bit. Each test also checks that the accelerator really took packets, so the comparison
cannot pass by never running the C code.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ladder.media import streams as rtp_streams
from ladder.errors import CaptureError
from ladder.capture.reader import CaptureReader
from ladder.capture.pipeline import Pipeline
from ladder.media.streams import RtpStreamTable
from tests.captures_crafted import (
    ethernet,
    ipv4,
    ipv6,
    null_loopback,
    pcap_bytes,
    pcapng_bytes,
    sip_invite,
    sll,
    sll2,
    udp,
    udp_sip_frame,
)
from tests.conftest import SAMPLES, shared_path

BUILT = rtp_streams.Accelerator is not None
needs_accel = pytest.mark.skipif(
    not BUILT and os.environ.get("CI") != "true",
    reason="ladder._accel is not built here (no C compiler when it was installed); CI builds it",
)


def run(path: Path, accelerated: bool, table: RtpStreamTable | None = None, media: bool = True):
    """The pipeline after reading ``path``, the accelerator (or None), the reader's errors and
    link-type counts."""
    pipeline = Pipeline(media=media, media_table=table)
    accel = pipeline.accelerator() if accelerated else None
    if accelerated:
        assert accel is not None, "the accelerator is not available"
    with CaptureReader(str(path)) as reader:
        pipeline.feed_records(reader.records(accel))
        pipeline.finish()
        return pipeline, accel, list(reader.errors), dict(reader.link_types)


def assert_same(path: Path) -> int:
    """Both paths agree on ``path``; returns how many frames the accelerator took."""
    fast, accel, fast_errors, fast_links = run(path, True)
    slow, _, slow_errors, slow_links = run(path, False)
    assert fast.frames == slow.frames
    assert (fast.first_ts_ns, fast.last_ts_ns) == (slow.first_ts_ns, slow.last_ts_ns)
    assert fast.frame_classes == slow.frame_classes
    assert fast.diagnostics == slow.diagnostics
    assert fast.rtcp_packets == slow.rtcp_packets
    assert (fast_errors, fast_links) == (slow_errors, slow_links)
    assert [m.raw for m in fast.sip_messages] == [m.raw for m in slow.sip_messages]
    assert [[f.number for f in m.frames] for m in fast.sip_messages] == [
        [f.number for f in m.frames] for m in slow.sip_messages
    ]
    assert len(fast.streams) == len(slow.streams)
    for mine, theirs in zip(fast.streams, slow.streams):
        assert mine == theirs, f"stream {mine.ssrc_hex} differs"
        assert list(mine.series) == list(theirs.series)
    assert accel.armed == 0  # every stream was handed back at the end
    return accel.fed


def test_accelerator_is_built_where_ci_runs():
    """scripts/setup.sh installs a C compiler and the headers, so CI always has it."""
    if os.environ.get("CI") == "true":
        assert BUILT, "ladder._accel was not built: pip install printed why"
    elif not BUILT:
        pytest.skip("ladder._accel is not built here")
    assert Pipeline().accelerator() is not None


def test_pure_python_switch(monkeypatch):
    monkeypatch.setenv("PCAPLADDER_PURE_PYTHON", "1")
    assert Pipeline().accelerator() is None
    assert Pipeline(media=False).accelerator() is None


@needs_accel
@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.pcap")), ids=lambda p: p.stem)
def test_samples_same_both_ways(path):
    taken = assert_same(path)
    streams = run(path, False)[0].streams
    if streams:  # the RTP of the sample went through C, all but each stream's first 100 ms
        assert taken >= sum(s.packets for s in streams) - 7 * len(streams)


def corpus_files() -> list[Path]:
    root = shared_path("captures")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".md", ".json"))


@needs_accel
def test_corpus_same_both_ways():
    taken = {}
    for path in corpus_files():
        try:
            taken[path.name] = assert_same(path)
        except CaptureError:
            continue  # not a file the fast reader reads (NetMon, ...): no accelerator involved
        except AssertionError as exc:  # name the capture: this loops over ~70 files
            raise AssertionError(f"{path}: {exc}") from exc
    # The corpus has RTP in pcap and pcapng, over Ethernet and SLL: C took it in many files.
    assert sum(1 for n in taken.values() if n) >= 15, taken
    assert taken["rtp.pcapng"] > 0 and taken["sip-rtp-g711.pcap"] > 0


# -- crafted captures ------------------------------------------------------------------------

SRC, DST = "198.51.100.10", "198.51.100.20"


def rtp_packet(seq, ts, ssrc, pt=0, marker=False, csrcs=0, extension_words=None, padding=0, payload=160):
    first = 0x80 | csrcs | (0x10 if extension_words is not None else 0) | (0x20 if padding else 0)
    header = struct.pack("!BBHII", first, pt | (0x80 if marker else 0), seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
    header += bytes(4 * csrcs)
    if extension_words is not None:
        header += struct.pack("!HH", 0xBEDE, extension_words) + bytes(4 * extension_words)
    body = bytes(payload)
    if padding:
        body += bytes(padding - 1) + bytes([padding])
    return header + body


def sdp_invite(port: int, ip: str = SRC) -> bytes:
    body = (
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        "m=audio {port} RTP/AVP 0 8 101 13\r\na=rtpmap:101 telephone-event/8000\r\n"
    ).format(ip=ip, port=port).encode()
    return sip_invite(body=body)


# Frame wrappers: the same IPv4 packet under each link layer the scan decodes.
LINKS = {
    "ethernet": (1, lambda ip: ethernet(ip)),
    "qinq": (1, lambda ip: ethernet(ip, vlans=((0x88A8, 10), (0x8100, 20)))),
    "sll": (113, sll),
    "sll2": (276, sll2),
    "raw": (101, lambda ip: ip),
    "null": (0, null_loopback),
    "loop": (108, lambda ip: null_loopback(ip, order=">")),
}


def torture_packets(wrap, src=SRC, dst=DST):
    """(ts_ns, frame) of an SDP-announced stream and a heuristic one, with every oddity the
    fast path must hand to Python or take."""
    out = [(1_000_000_000, wrap(ipv4(udp(sdp_invite(30000, src), 5060, 5060), src, dst)))]
    t = 1_000_000_000
    seq, ts = 65500, 4_294_960_000  # both wrap during the stream
    for i in range(400):
        t += 20_000_000 + (i % 7) * 300_000  # some jitter
        seq += 1
        ts += 160
        kwargs = {}
        if i == 50:
            seq += 3  # three lost
        if i == 60:
            kwargs["marker"] = True  # a talk spurt
        if 100 <= i < 105:
            kwargs["pt"] = 101  # a DTMF event (no clock: Python keeps it)
        if 120 <= i < 125:
            kwargs["pt"] = 13  # comfort noise
        if 150 <= i < 160:
            kwargs["extension_words"] = 2  # header extension: still the fast path, in C
        if 170 <= i < 175:
            kwargs["csrcs"] = 2
        if i == 180:
            kwargs["padding"] = 4
        if i == 200:
            t += 40_000_000_000  # a long pause: the chart series coarsens
        if i == 250:
            ts += 80_000  # timestamp jump
        payload = rtp_packet(seq, ts, 0xA1A2A3A4, **kwargs)
        out.append((t, wrap(ipv4(udp(payload, 30000, 40000), src, dst))))
        if i == 300:  # a duplicate and a late packet
            out.append((t + 1_000, wrap(ipv4(udp(payload, 30000, 40000), src, dst))))
            late = rtp_packet(seq - 5, ts - 800, 0xA1A2A3A4)
            out.append((t + 2_000, wrap(ipv4(udp(late, 30000, 40000), src, dst))))
        # the reverse direction, found by the heuristic (no SDP for its port), PCMA
        back = rtp_packet(1000 + i, 8000 + 160 * i, 0x0B0B0B0B, pt=8)
        out.append((t + 5_000_000, wrap(ipv4(udp(back, 40000, 30000), dst, src))))
        if i == 350:  # an SSRC change on the same ports
            for k in range(5):
                change = rtp_packet(9 + k, 100 + 160 * k, 0x0C0C0C0C)
                out.append((t + 6_000_000 + k, wrap(ipv4(udp(change, 30000, 40000), src, dst))))
    # IPv6 RTP stays with Python, interleaved
    for i in range(20):
        payload = rtp_packet(i, 160 * i, 0x66666666)
        out.append((t + 10_000_000 * (i + 1), wrap(ipv6(udp(payload, 50000, 50002)))))
    out.sort(key=lambda item: item[0])
    return out


@needs_accel
@pytest.mark.parametrize("link", sorted(LINKS))
@pytest.mark.parametrize("flavour", ["le-us", "be-ns"])
def test_crafted_pcap_same_both_ways(tmp_path, link, flavour):
    linktype, wrap = LINKS[link]
    order, nano = ("<", False) if flavour == "le-us" else (">", True)
    path = tmp_path / f"{link}-{flavour}.pcap"
    packets = torture_packets(wrap)
    path.write_bytes(pcap_bytes(packets, linktype, order, nano))
    taken = assert_same(path)
    assert taken > 600, "the scan should take most of the 800 RTP packets"


@needs_accel
@pytest.mark.parametrize("order", ["<", ">"])
def test_crafted_pcapng_two_interfaces_same_both_ways(tmp_path, order):
    """Two interfaces with different link types and time resolutions, packets interleaved:
    the scan takes runs of one interface at a time and the link-type counts stay right."""
    eth = torture_packets(LINKS["ethernet"][1])
    cooked = torture_packets(LINKS["sll2"][1], "203.0.113.1", "203.0.113.2")
    packets = sorted([(0, ts, data) for ts, data in eth] + [(1, ts + 1_000, data) for ts, data in cooked],
                     key=lambda item: item[1])
    path = tmp_path / "two.pcapng"
    path.write_bytes(pcapng_bytes([(1, None), (276, 9)], [(i, ts, d) for i, ts, d in packets], order))
    taken = assert_same(path)
    assert taken > 1200
    _, _, _, links = run(path, True)
    assert links == {1: len(eth), 276: len(cooked)}


@needs_accel
def test_truncated_capture_same_both_ways(tmp_path):
    data = pcap_bytes(torture_packets(LINKS["ethernet"][1]))
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[: len(data) - 100])  # the last record is cut short
    assert assert_same(path) > 600
    _, _, errors, _ = run(path, True)
    assert len(errors) == 1 and "truncated last record" in errors[0]


@needs_accel
def test_absurd_record_length_stops_both_the_same(tmp_path):
    packets = torture_packets(LINKS["ethernet"][1])
    data = bytearray(pcap_bytes(packets[:300]))
    # corrupt the caplen of a record in the middle: the scan must stop there and let the
    # reader report it
    pos, count = 24, 0
    while count < 150:
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        pos += 16 + caplen
        count += 1
    struct.pack_into("<I", data, pos + 8, 10_000_000)
    path = tmp_path / "absurd.pcap"
    path.write_bytes(bytes(data))
    assert assert_same(path) > 0
    pipeline, _, errors, _ = run(path, True)
    assert pipeline.frames == 150 and "absurd record length" in errors[0]


@needs_accel
def test_counting_table_same_both_ways(tmp_path):
    """The benchmark's counting-only table (issue 4's baseline) also runs in C, and counts the
    same packets."""
    path = tmp_path / "count.pcap"
    path.write_bytes(pcap_bytes(torture_packets(LINKS["ethernet"][1])))
    fast, accel, _, _ = run(path, True, RtpStreamTable(statistics=False))
    slow, _, _, _ = run(path, False, RtpStreamTable(statistics=False))
    assert accel.fed > 600
    assert fast.frame_classes == slow.frame_classes
    assert [s.packets for s in fast.streams] == [s.packets for s in slow.streams]


@needs_accel
def test_media_off_same_both_ways(tmp_path):
    """``ladder stats --no-media``: the accelerator only counts the datagrams Python would call
    udp-other."""
    path = tmp_path / "nomedia.pcap"
    path.write_bytes(pcap_bytes(torture_packets(LINKS["qinq"][1])))
    fast, accel, _, _ = run(path, True, media=False)
    slow, _, _, _ = run(path, False, media=False)
    assert accel.fed > 700
    assert fast.frame_classes == slow.frame_classes and fast.frames == slow.frames
    assert fast.frame_classes["udp-other"] > 700 and not fast.streams


@needs_accel
def test_arm_refuses_ipv6_and_pull_of_unknown_state():
    accel = rtp_streams.Accelerator()
    table = RtpStreamTable()
    state = rtp_streams._State("2001:db8::1", 1000, "2001:db8::2", 1002, 1, 0, 1, 160, 0, 1)
    assert accel.arm(state, 0) is False
    state4 = rtp_streams._State("192.0.2.1", 1000, "192.0.2.2", 1002, 1, 0, 1, 160, 0, 1)
    assert accel.pull(state4) is False
    assert table.attach_accelerator() is table.accel


# -- random streams --------------------------------------------------------------------------

STEP = st.sampled_from(["next", "next", "next", "next", "lose", "duplicate", "reorder", "marker", "pt8",
                        "event", "cn", "pause", "ts-jump", "ts-back", "extension", "ssrc"])


@needs_accel
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=5, max_size=120), start_seq=st.integers(0, 65535),
       start_ts=st.integers(0, 2**32 - 1), announced=st.booleans(), jitter=st.integers(0, 30))
def test_random_streams_same_both_ways(tmp_path_factory, steps, start_seq, start_ts, announced, jitter):
    wrap = LINKS["ethernet"][1]
    packets = []
    t = 5_000_000_000
    if announced:
        packets.append((t, udp_sip_frame(sdp_invite(30000), SRC, DST)))
    seq, ts, ssrc = start_seq, start_ts, 0x5EED0001
    last = None
    for n, step in enumerate(steps):
        t += 20_000_000 + (n * 7919 % (jitter + 1)) * 1_000_000
        seq, ts = seq + 1, ts + 160
        kwargs = {}
        if step == "lose":
            seq += 2
        elif step == "marker":
            kwargs["marker"] = True
        elif step == "pt8":
            kwargs["pt"] = 8
        elif step == "event":
            kwargs["pt"] = 101
        elif step == "cn":
            kwargs["pt"] = 13
        elif step == "pause":
            t += 30_000_000_000
        elif step == "ts-jump":
            ts += 50_000
        elif step == "ts-back":
            ts -= 3_000
        elif step == "extension":
            kwargs["extension_words"] = 1
        elif step == "ssrc":
            ssrc += 1
        payload = rtp_packet(seq, ts, ssrc, **kwargs)
        if step == "duplicate" and last is not None:
            payload = last
        elif step == "reorder" and last is not None:
            packets.append((t, wrap(ipv4(udp(payload, 30000, 40000), SRC, DST))))
            payload, t = last, t + 1_000
        packets.append((t, wrap(ipv4(udp(payload, 30000, 40000), SRC, DST))))
        last = payload
    path = tmp_path_factory.mktemp("random") / "random.pcap"
    path.write_bytes(pcap_bytes(packets))
    assert_same(path)


# -- hostile bytes ---------------------------------------------------------------------------

_SMALL = None


def small_capture() -> bytes:
    """Ninety frames of the torture capture (SIP with SDP, both RTP directions, IPv6): small
    enough for many mutated copies."""
    global _SMALL
    if _SMALL is None:
        _SMALL = pcap_bytes(torture_packets(LINKS["qinq"][1])[:90])
    return _SMALL


@needs_accel
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=12))
def test_mutated_bytes_same_both_ways(tmp_path_factory, mutations):
    """Bytes changed anywhere after the file header (record lengths, VLAN tags, IP and UDP
    lengths, RTP headers): the scan takes a frame only when Python would have filed it the
    same way, and never reads outside the buffer."""
    data = bytearray(small_capture())
    for position, value in mutations:
        data[24 + position % (len(data) - 24)] = value
    path = tmp_path_factory.mktemp("mutated") / "mutated.pcap"
    path.write_bytes(bytes(data))
    assert_same(path)
