"""decoders.rtp on real captured bytes and on the RFC's own layouts."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, strategies as st

from conftest import shared_path
from decoders.errors import DecodeError
from decoders.rtp import (NOT_RTP, RTCP, RTP, classify_rtp, decode_rtp_header,
                          decode_telephone_event, rtp_header_end)
from test_rtp_capture_helper import udp_datagrams


def test_real_g711_rtp_headers_decode():
    path = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    headers = [decode_rtp_header(data) for *_, sport, _dst, dport, data in udp_datagrams(path)
               if sport == 8000 and dport == 40376]
    assert len(headers) == 548  # tshark: 548 packets, SSRC 0xD2BD4E3E, g711A
    assert {h.ssrc for h in headers} == {0xD2BD4E3E}
    assert {h.payload_type for h in headers} == {8}
    assert all(h.payload_end - h.payload_offset == 160 for h in headers[1:])
    assert [b.sequence - a.sequence for a, b in zip(headers, headers[1:])] == [1] * 547


def test_classify_accepts_every_tshark_rtp_packet_and_rejects_snmp():
    path = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    kinds = {}
    for *_, sport, _dst, dport, data in udp_datagrams(path):
        kinds.setdefault((sport, dport), set()).add(classify_rtp(data, 0, len(data)))
    assert kinds[(4800, 40378)] == {RTP}
    assert kinds[(40377, 8001)] == {RTCP}
    assert kinds[(1161, 161)] == {NOT_RTP}  # SNMP: BER starts 0x30


def test_rtp_with_header_extension_from_ndpi():
    path = shared_path("captures/ndpi/rtp.pcapng")
    packets = [data for *_, sport, _dst, _dport, data in udp_datagrams(path)
               if sport == 50003 and data[8:12] == (0x001A757D).to_bytes(4, "big")]
    header = decode_rtp_header(packets[0])
    assert header.extension_profile is not None
    assert header.payload_type == 120 and header.sequence == 52486
    assert header.payload_offset > 12


def test_marker_payload_types_72_to_76_are_not_rtp():
    # RFC 5761 §4: PT 72..76 with M set collides with RTCP SR..APP.
    base = bytearray(struct.pack("!BBHII", 0x80, 0x80 | 72, 1, 160, 1) + b"\0" * 160)
    assert classify_rtp(bytes(base), 0, len(base)) == RTCP
    base[1] = 0x80 | 76
    assert classify_rtp(bytes(base), 0, len(base)) == RTCP
    base[1] = 72
    assert classify_rtp(bytes(base), 0, len(base)) == NOT_RTP


def test_csrc_extension_and_padding_must_fit():
    header = struct.pack("!BBHII", 0x8F, 0, 1, 2, 3)  # 15 CSRCs announced, none present
    assert rtp_header_end(header, 0, len(header)) == -1
    with pytest.raises(DecodeError) as info:
        decode_rtp_header(header)
    assert info.value.reason == "rtp-truncated"
    padded = struct.pack("!BBHII", 0xA0, 0, 1, 2, 3) + b"\x01\x02\x03\x09"  # padding 9 > 4
    assert classify_rtp(padded, 0, len(padded)) == NOT_RTP
    ok = struct.pack("!BBHII", 0xA0, 0, 1, 2, 3) + b"\x01\x00\x00\x03"
    assert decode_rtp_header(ok).payload_end == len(ok) - 3


def test_telephone_event_digit_1_from_sipp():
    path = shared_path("captures/sipp/dtmf_2833_1.pcap")
    events = []
    for *_, data in udp_datagrams(path):
        header = decode_rtp_header(data)
        events.append(decode_telephone_event(data, header.payload_offset, header.payload_end))
    assert {e.digit for e in events} == {"1"}
    assert events[-1].end and not events[0].end
    assert events[-1].duration >= events[0].duration


def test_telephone_event_truncated():
    with pytest.raises(DecodeError) as info:
        decode_telephone_event(b"\x01\x80")
    assert info.value.reason == "rtp-event-truncated"


@given(st.binary(max_size=64))
def test_any_bytes_classify_or_decode_error(data):
    kind = classify_rtp(data, 0, len(data))
    assert kind in (NOT_RTP, RTP, RTCP)
    try:
        decode_rtp_header(data)
    except DecodeError as exc:
        assert exc.reason.startswith("rtp-")
    else:
        assert len(data) >= 12 and data[0] >> 6 == 2
