"""``ladder export --pcap``: the chosen calls' frames, copied by number (tshark reads the result
and finds the same SIP messages and RTP), or rebuilt with anonymised addresses."""

from __future__ import annotations

import subprocess

import pytest

from conftest import SAMPLES, require_tool, shared_path
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.export.pcap_slice import scrub_rtcp, write_call_pcap
from ladder.capture.reader import CaptureReader
from ladder.export.pcap_writer import PcapWriter


def _tshark(path, *args) -> list[str]:
    tshark = require_tool("tshark")
    done = subprocess.run([tshark, "-n", "-r", str(path), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


def _sip_call_ids(path) -> list[str]:
    return _tshark(path, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID")


def _records(path) -> list[tuple[int, int, bytes]]:
    with CaptureReader(str(path)) as reader:
        return [(ts, lt, bytes(buf[off:off + caplen])) for ts, lt, buf, off, caplen, _o, _f in reader.records()]


def test_call_slice_has_the_calls_sip_and_rtp(tmp_path):
    source = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    capture = load_capture(str(source))
    calls = build_calls(capture)
    call = calls[0]
    out = tmp_path / "call1.pcap"
    result = write_call_pcap(capture, [call], str(out), all_calls=calls)
    # tshark: exactly this call's SIP messages, as many as in the original for its Call-ID.
    original = [cid for cid in _sip_call_ids(source) if cid in call.call_ids]
    assert _sip_call_ids(out) == original and len(original) == len(call.messages) == result.sip_frames
    # Its RTP: the bound streams' packets (tshark finds them through the SDP in the slice).
    from ladder.media.binding import bind_media

    mine = [b.stream for b in bind_media(calls, capture.streams) if b.call_id == call.id]
    assert mine and result.rtp_frames == sum(s.packets for s in mine)
    assert len(_tshark(out, "-Y", "rtp")) == result.rtp_frames
    assert result.rtcp_frames > 0 and len(_tshark(out, "-Y", "rtcp")) == result.rtcp_frames
    # Frames are byte-for-byte the original ones, timestamps included.
    originals = {(ts, data) for ts, _lt, data in _records(source)}
    copied = _records(out)
    assert len(copied) == result.frames and all((ts, data) in originals for ts, _lt, data in copied)


@pytest.mark.parametrize("name", ["rfc3665-3.2-session-through-two-proxies.pcap",
                                  "rfc3665-3.6-session-redirect-proxy-servers-sdp-ack.pcap"])
def test_sample_slices_over_tcp_and_udp(tmp_path, name):
    source = SAMPLES / name
    capture = load_capture(str(source))
    calls = build_calls(capture)
    out = tmp_path / "slice.pcap"
    write_call_pcap(capture, calls, str(out), all_calls=calls)
    assert len(_sip_call_ids(out)) == len(_sip_call_ids(source))


def test_link_type_is_kept(tmp_path):
    source = shared_path("captures/wireshark-wiki/T38.pcap")  # Linux cooked capture
    capture = load_capture(str(source))
    calls = build_calls(capture)
    out = tmp_path / "t38.pcap"
    write_call_pcap(capture, calls[:1], str(out), all_calls=calls)
    assert {lt for _ts, lt, _d in _records(out)} == {lt for _ts, lt, _d in _records(source)} == {113}
    assert len(_sip_call_ids(out)) == len(calls[0].messages)


def test_anonymized_slice_is_rebuilt_and_readable(tmp_path):
    from ladder.export.anonymize import Anonymizer, anonymize_capture

    source = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    capture = load_capture(str(source))
    calls = build_calls(capture)
    anonymizer = Anonymizer(b"pcap-test")
    anonymize_capture(capture, anonymizer)
    out = tmp_path / "anon.pcap"
    result = write_call_pcap(capture, calls[:1], str(out), all_calls=calls, anonymizer=anonymizer)
    assert len(_sip_call_ids(out)) == len(calls[0].messages)
    assert len(_tshark(out, "-Y", "rtp")) == result.rtp_frames > 0
    # tshark finds no checksum or length problem in the rebuilt headers.
    bad = _tshark(out, "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-Y",
                  "udp.checksum.status == 0 || ip.checksum.status == 0 || _ws.malformed || _ws.expert.severity >= error")
    assert bad == []
    data = out.read_bytes()
    for ip in {m.src.ip for m in capture.sip_messages} | {s.src.ip for s in capture.streams}:
        assert ip.encode() not in data
        assert bytes(int(x) for x in ip.split(".")) not in data  # nor in any IP header
    assert b"12013223" not in data and b"bestel" not in data


def test_scrub_rtcp_keeps_framing():
    # RR (empty) + SDES with CNAME "alice@192.0.2.1" (15 bytes) and NOTE "hi", padded.
    rr = bytes([0x80, 201, 0, 1]) + b"\x00\x00\x00\x01"
    items = bytes([1, 15]) + b"alice@192.0.2.1" + bytes([7, 2]) + b"hi" + b"\x00"
    chunk = b"\x00\x00\x00\x01" + items + b"\x00" * (-len(items) % 4)
    sdes = bytes([0x81, 202]) + ((4 + len(chunk)) // 4 - 1).to_bytes(2, "big") + chunk
    from ladder.export.anonymize import Anonymizer

    scrubbed = scrub_rtcp(rr + sdes, Anonymizer(b"k"))
    assert len(scrubbed) == len(rr + sdes) and scrubbed[:len(rr) + 10] == (rr + sdes)[:len(rr) + 10]
    assert b"alice" not in scrubbed and b"192.0.2.1" not in scrubbed and b"hi" not in scrubbed
    from decoders.rtcp import decode_rtcp

    assert len(decode_rtcp(scrubbed)) == 2


def test_anonymized_tcp_slice_keeps_every_message(tmp_path):
    from ladder.export.anonymize import Anonymizer, anonymize_capture

    source = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"  # SIP over TCP
    capture = load_capture(str(source))
    calls = build_calls(capture)
    anonymizer = Anonymizer(b"tcp")
    anonymize_capture(capture, anonymizer)
    out = tmp_path / "anon-tcp.pcap"
    write_call_pcap(capture, calls, str(out), all_calls=calls, anonymizer=anonymizer)
    ids = _sip_call_ids(out)
    assert len(ids) == len(calls[0].messages) and set(ids) == {anonymizer.token(calls[0].id, "callid")}
    assert _tshark(out, "-Y", "tcp.analysis.flags && !tcp.analysis.window_update") == []


def _gre_wrapped(path, tmp_path):
    """The hostile call (SIP + 100 RTP packets), every frame re-sent inside GRE between two
    routers, as a tunnelled mirror port delivers it."""
    from ladder.export.pcap_writer import (ETHERTYPE_IPV4, ethernet_frame, ipv4_packet, mac_for_ip)

    out = tmp_path / "gre.pcap"
    with open(out, "wb") as handle:
        writer = PcapWriter(handle, nanosecond=True)
        for ts, _lt, frame in _records(path):
            inner = frame[14:]  # the IPv4 packet of the Ethernet frame
            gre = b"\x00\x00\x08\x00" + inner
            outer = ipv4_packet("10.99.0.1", "10.99.0.2", 47, gre)
            writer.write(ts, ethernet_frame(mac_for_ip("10.99.0.1"), mac_for_ip("10.99.0.2"), ETHERTYPE_IPV4, outer))
    return out


def test_rtp_inside_gre_is_exported(tmp_path):
    from hostile.build import build_hostile_pcap

    source = _gre_wrapped(build_hostile_pcap(tmp_path / "plain.pcap"), tmp_path)
    capture = load_capture(str(source))
    calls = build_calls(capture)
    assert sum(s.packets for s in capture.streams) == 100  # the pipeline follows the tunnel
    result = write_call_pcap(capture, calls, str(tmp_path / "out.pcap"), all_calls=calls)
    assert (result.sip_frames, result.rtp_frames) == (6, 100)
    from ladder.export.anonymize import Anonymizer, anonymize_capture

    anonymizer = Anonymizer(b"gre")
    anonymize_capture(capture, anonymizer)
    anon = tmp_path / "anon.pcap"
    result = write_call_pcap(capture, calls, str(anon), all_calls=calls, anonymizer=anonymizer)
    assert result.rtp_frames == 100 and b"10.99.0.1" not in anon.read_bytes()
    assert bytes([10, 99, 0, 1]) not in anon.read_bytes()  # the tunnel is gone with its addresses


def test_pcapng_writer_for_several_link_types(tmp_path):
    """Frames of two link types (a pcapng with two interfaces) go out as a pcapng that both our
    reader and tshark read back: link types, nanosecond times and bytes kept."""
    import io

    from ladder.export.pcap_slice import PcapngWriter

    frames = [(1, 1_700_000_000_123_456_789, b"\x02" * 60), (113, 1_700_000_001_000_000_001, b"\x00" * 45)]
    buffer = io.BytesIO()
    writer = PcapngWriter(buffer, [1, 113])
    for linktype, ts, data in frames:
        writer.write(linktype, ts, data, len(data) + 10)
    path = tmp_path / "two.pcapng"
    path.write_bytes(buffer.getvalue())
    assert [(lt, ts, data) for ts, lt, data in _records(path)] == frames
    assert len(_tshark(path)) == 2
