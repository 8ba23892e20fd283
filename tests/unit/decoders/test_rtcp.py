"""decoders.rtcp on real compound packets, RFC 3611 VoIP metrics layout, and hostile bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, strategies as st

from conftest import shared_path
from decoders.errors import DecodeError
from decoders.rtcp import (ExtendedReport, ReceiverReport, SenderReport, SourceDescription,
                           decode_rtcp)
from test_rtp_capture_helper import udp_datagrams


def _rtcp_datagrams(relative: str) -> list[tuple[int, bytes]]:
    path = shared_path(relative)
    return [(number, data) for number, _ts, _s, _sp, _d, _dp, data in udp_datagrams(path)
            if len(data) >= 8 and data[0] >> 6 == 2 and 200 <= data[1] <= 207]


def test_compound_sr_sdes_in_one_datagram():
    datagrams = _rtcp_datagrams("captures/ndpi/rtcp_multiple_pkts_in_the_same_datagram.pcap")
    assert len(datagrams) == 5  # tshark: 5 RTCP frames
    first = decode_rtcp(datagrams[0][1])
    assert [type(p) for p in first] == [SenderReport, SourceDescription]
    sr = first[0]
    assert sr.ssrc == 1569920308 and sr.packet_count == 200 and sr.octet_count == 32000
    assert sr.rtp_timestamp == 32000
    second = decode_rtcp(datagrams[1][1])
    assert isinstance(second[0], ReceiverReport)
    assert second[0].reports[0].highest_sequence == 48834


def test_sr_rr_sdes_from_asterisk_crash_reproducer():
    datagrams = _rtcp_datagrams("captures/asterisk-testsuite/crash-27382.pcap")
    assert [n for n, _ in datagrams] == [122, 276]
    sr, rr, sdes = decode_rtcp(datagrams[0][1])
    # Figures as tshark -V prints them for frame 122.
    assert sr.ssrc == 0x6A1B26D7 and sr.packet_count == 121 and sr.octet_count == 19360
    block = sr.reports[0]
    assert block.ssrc == 0x197F4B44 and block.highest_sequence == 30694
    assert block.lsr == 0x10217A58 and block.dlsr == 161873
    assert rr.reports == sr.reports
    assert sdes.chunks == ((0x6A1B26D7, (("cname", "nr"),)),)
    assert sr.ntp_middle == (sr.ntp_timestamp >> 16) & 0xFFFFFFFF


def test_cut_compound_packets_raise_decode_error():
    data = _rtcp_datagrams("captures/asterisk-testsuite/crash-27382.pcap")[0][1]
    for cut in (3, 20, 60, len(data) - 1):
        with pytest.raises(DecodeError) as info:
            decode_rtcp(data[:cut])
        assert info.value.reason in ("rtcp-truncated", "rtcp-malformed")


def test_trailing_zero_bytes_leniency_from_heplify():
    # Frame 529: the SDES length is 2 bytes short, the datagram ends with two zero bytes.
    datagrams = dict(_rtcp_datagrams("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap"))
    packets = decode_rtcp(datagrams[529])
    assert [type(p).__name__ for p in packets] == ["SenderReport", "ReceiverReport", "SourceDescription"]
    assert packets[2].chunks[0][1] == (("cname", "unknown@200.57.7.204"),)
    with pytest.raises(DecodeError):
        decode_rtcp(datagrams[529][:-2] + b"\x01\x02")  # non-zero stray bytes stay an error


def test_negative_cumulative_lost_is_signed_24_bit():
    block = struct.pack("!IIIIII", 7, (5 << 24) | 0xFFFFFE, 1000, 80, 0, 0)
    data = struct.pack("!BBHI", 0x81, 201, 7, 99) + block
    (rr,) = decode_rtcp(data)
    assert rr.reports[0].cumulative_lost == -2 and rr.reports[0].fraction_lost == 5


def _voip_metrics_xr() -> bytes:
    # RFC 3611 §4.7 layout: block type 7, length 8 words.
    body = struct.pack("!IBBBBHHHHbbBBBBBBBBHHH", 0x1234, 12, 3, 40, 2, 120, 5000, 180, 90,
                       -20, -60, 127, 16, 82, 127, 41, 127, 0, 0, 60, 120, 200)
    block = struct.pack("!BBH", 7, 0, 8) + body
    return struct.pack("!BBHI", 0x80, 207, (4 + len(block)) // 4, 0xABCD) + block


def test_xr_voip_metrics():
    (xr,) = decode_rtcp(_voip_metrics_xr())
    assert isinstance(xr, ExtendedReport) and xr.ssrc == 0xABCD
    (m,) = xr.voip_metrics
    assert m.ssrc == 0x1234 and m.loss_rate == 12 and m.discard_rate == 3
    assert m.burst_density == 40 and m.gap_duration == 5000 and m.round_trip_delay == 180
    assert m.end_system_delay == 90 and m.signal_level == -20 and m.noise_level == -60
    assert m.r_factor == 82 and m.ext_r_factor is None
    assert m.mos_lq == 4.1 and m.mos_cq is None
    assert (m.jb_nominal, m.jb_maximum, m.jb_abs_max) == (60, 120, 200)


def test_xr_voip_block_with_wrong_length_is_malformed():
    data = bytearray(_voip_metrics_xr())
    data[11] = 7  # block length 7 words, RFC 3611 says 8
    with pytest.raises(DecodeError) as info:
        decode_rtcp(bytes(data))
    assert info.value.reason in ("rtcp-malformed", "rtcp-truncated")


@given(st.binary(max_size=80))
def test_any_bytes_decode_or_raise_decode_error(data):
    try:
        packets = decode_rtcp(data)
    except DecodeError as exc:
        assert exc.reason in ("rtcp-truncated", "rtcp-malformed")
    else:
        assert packets and data[0] >> 6 == 2


def test_decoding_at_an_odd_offset_inside_a_frame():
    # The pipeline hands buf[off:end] of the whole frame; SDES padding must align on the
    # packet, not on the buffer.
    data = _rtcp_datagrams("captures/asterisk-testsuite/crash-27382.pcap")[0][1]
    framed = b"\xee" * 43 + data + b"\xee" * 5
    assert decode_rtcp(framed, 43, 43 + len(data)) == decode_rtcp(data)
