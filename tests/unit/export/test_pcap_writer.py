"""ladder.export.pcap_writer: the file format, the frames, the checksums and TCP sequencing, checked
by reading the bytes back with dpkt and, for the checksums, by tshark's own validation."""

from __future__ import annotations

import io
import struct
import subprocess

import dpkt
import pytest

from conftest import require_tool
from ladder.export.pcap_writer import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    TCP_ACK,
    TCP_FIN,
    TCP_PSH,
    TCP_SYN,
    FrameFactory,
    PcapWriter,
    TcpConnection,
    internet_checksum,
    ipv4_packet,
    mac_for_ip,
    udp_datagram,
)

TS = 1_070_236_800_123_456_789  # 2003-12-01 00:00:00.123456789 UTC


def read_back(data: bytes) -> list[tuple[float, bytes]]:
    return list(dpkt.pcap.Reader(io.BytesIO(data)))


def test_global_header_microsecond():
    out = io.BytesIO()
    PcapWriter(out)
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack("<IHHiIII", out.getvalue())
    assert (magic, major, minor, zone, sigfigs, linktype) == (0xA1B2C3D4, 2, 4, 0, 0, LINKTYPE_ETHERNET)
    assert snaplen == 262144


def test_global_header_nanosecond_and_linktype():
    out = io.BytesIO()
    PcapWriter(out, LINKTYPE_RAW, nanosecond=True)
    magic, *_, linktype = struct.unpack("<IHHiIII", out.getvalue())
    assert magic == 0xA1B23C4D
    assert linktype == LINKTYPE_RAW


def test_record_times_microsecond_truncate():
    out = io.BytesIO()
    writer = PcapWriter(out)
    writer.write(TS, b"\x00" * 60)
    seconds, fraction, caplen, wirelen = struct.unpack_from("<IIII", out.getvalue(), 24)
    assert (seconds, fraction, caplen, wirelen) == (1_070_236_800, 123_456, 60, 60)
    assert writer.records == 1


def test_record_times_nanosecond_kept_and_read_by_dpkt():
    out = io.BytesIO()
    PcapWriter(out, nanosecond=True).write(TS, b"\xaa" * 42)
    seconds, fraction = struct.unpack_from("<II", out.getvalue(), 24)
    assert (seconds, fraction) == (1_070_236_800, 123_456_789)
    ((ts, data),) = read_back(out.getvalue())
    assert data == b"\xaa" * 42
    assert str(ts) == "1070236800.123456789"  # dpkt gives a Decimal for nanosecond files


def test_orig_len_and_snaplen():
    out = io.BytesIO()
    writer = PcapWriter(out, snaplen=64)
    writer.write(0, b"\x01" * 100)  # cut to the snaplen, wire length kept
    writer.write(1000, b"\x02" * 10, orig_len=1500)
    raw = out.getvalue()
    assert struct.unpack_from("<II", raw, 24 + 8) == (64, 100)
    second = 24 + 16 + 64
    assert struct.unpack_from("<II", raw, second + 8) == (10, 1500)


@pytest.mark.parametrize(
    "call",
    [
        lambda w: w.write(-1, b"x"),
        lambda w: w.write(0, b"xyz", orig_len=2),
    ],
    ids=["negative-time", "orig-len-shorter-than-data"],
)
def test_write_rejects_impossible_records(call):
    with pytest.raises(ValueError):
        call(PcapWriter(io.BytesIO()))


def test_internet_checksum_rfc1071_example():
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement), checksum 220d.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    # Odd length is padded with a zero byte.
    assert internet_checksum(b"\x01") == internet_checksum(b"\x01\x00")


def test_ipv4_header_checksum_verifies_to_zero():
    packet = ipv4_packet("192.0.2.101", "192.0.2.111", 17, b"payload", ident=0x1234, dont_fragment=True)
    assert internet_checksum(packet[:20]) == 0
    ip = dpkt.ip.IP(packet)
    assert (ip.id, ip.df, ip.ttl, ip.p, ip.len) == (0x1234, 1, 64, 17, 27)


def test_udp_checksum_over_pseudo_header():
    src, dst = "192.0.2.101", "192.0.2.201"
    datagram = udp_datagram(src, dst, 5060, 5070, b"OPTIONS sip:x SIP/2.0\r\n\r\n")
    pseudo = bytes([192, 0, 2, 101, 192, 0, 2, 201, 0, 17]) + struct.pack("!H", len(datagram))
    assert internet_checksum(pseudo + datagram) == 0
    udp = dpkt.udp.UDP(datagram)
    assert (udp.sport, udp.dport, udp.ulen) == (5060, 5070, len(datagram))


def test_mac_is_stable_and_locally_administered():
    assert mac_for_ip("192.0.2.101") == bytes.fromhex("0200c0000265")
    assert mac_for_ip("192.0.2.101") == mac_for_ip("192.0.2.101")
    assert mac_for_ip("192.0.2.101")[0] & 0x02


def test_factory_udp_frame_layers_and_ident_counter():
    factory = FrameFactory()
    first = dpkt.ethernet.Ethernet(factory.udp("192.0.2.101", 5060, "192.0.2.111", 5060, b"a"))
    second = dpkt.ethernet.Ethernet(factory.udp("192.0.2.101", 5060, "192.0.2.111", 5060, b"b"))
    other = dpkt.ethernet.Ethernet(factory.udp("192.0.2.111", 5060, "192.0.2.101", 5060, b"c"))
    assert first.src == mac_for_ip("192.0.2.101") and first.dst == mac_for_ip("192.0.2.111")
    assert first.type == dpkt.ethernet.ETH_TYPE_IP
    assert second.data.id == first.data.id + 1  # one running counter per source host
    assert other.data.id != first.data.id
    assert first.data.data.data == b"a"


def test_factory_ipv6_udp_and_tcp():
    factory = FrameFactory()
    frame = dpkt.ethernet.Ethernet(factory.udp("2001:db8::1", 5060, "2001:db8::2", 5060, b"hello"))
    assert frame.type == dpkt.ethernet.ETH_TYPE_IP6
    ip6 = frame.data
    assert (ip6.nxt, ip6.plen, ip6.hlim) == (17, 13, 64)
    pseudo = ip6.src + ip6.dst + struct.pack("!I3xB", 13, 17)
    assert internet_checksum(pseudo + bytes(ip6.data)) == 0
    tcp_frame = dpkt.ethernet.Ethernet(factory.tcp("2001:db8::1", 5060, "2001:db8::2", 5061, 1, 0, TCP_SYN))
    segment = bytes(tcp_frame.data.data)
    pseudo = tcp_frame.data.src + tcp_frame.data.dst + struct.pack("!I3xB", len(segment), 6)
    assert internet_checksum(pseudo + segment) == 0


def test_mixed_address_families_rejected():
    with pytest.raises(ValueError):
        udp_datagram("192.0.2.1", "2001:db8::1", 1, 2, b"")


def tcp_of(frame: bytes) -> dpkt.tcp.TCP:
    return dpkt.ethernet.Ethernet(frame).data.data


def test_tcp_connection_sequence_numbers():
    factory = FrameFactory()
    client, server = ("192.0.2.101", 5060), ("192.0.2.111", 5060)
    connection = TcpConnection(factory, client, server, client_isn=1000, server_isn=0xFFFFFFFF, mss=100)
    syn, syn_ack, ack = (tcp_of(f) for _, f in connection.open(TS))
    assert (syn.flags, syn.seq) == (TCP_SYN, 1000)
    assert (syn_ack.flags, syn_ack.seq, syn_ack.ack) == (TCP_SYN | TCP_ACK, 0xFFFFFFFF, 1001)
    assert (ack.flags, ack.seq, ack.ack) == (TCP_ACK, 1001, 0)  # server ISN + 1 wraps to 0

    frames = connection.send(TS + 10**6, client, b"x" * 250)
    segments = [tcp_of(f) for _, f in frames]
    assert [len(s.data) for s in segments] == [100, 100, 50, 0]  # cut at the MSS, then the ACK
    assert [s.seq for s in segments[:3]] == [1001, 1101, 1201]
    assert all(s.flags == TCP_PSH | TCP_ACK for s in segments[:3])
    assert (segments[3].flags, segments[3].seq, segments[3].ack) == (TCP_ACK, 0, 1251)
    times = [ts for ts, _ in frames]
    assert times == sorted(times) and times[0] == TS + 10**6

    reply = [tcp_of(f) for _, f in connection.send(TS + 2 * 10**6, server, b"SIP/2.0 200 OK\r\n\r\n")]
    assert (reply[0].seq, reply[0].ack) == (0, 1251)
    assert (reply[1].seq, reply[1].ack) == (1251, 18)  # 18 bytes sent

    fin, fin_ack, last = (tcp_of(f) for _, f in connection.close(TS + 3 * 10**6, client))
    assert fin.flags == TCP_FIN | TCP_ACK and fin.seq == 1251
    assert fin_ack.flags == TCP_FIN | TCP_ACK and fin_ack.ack == 1252
    assert fin_ack.seq == 18
    assert last.flags == TCP_ACK and last.ack == 19


def test_tcp_connection_misuse_is_an_error():
    connection = TcpConnection(FrameFactory(), ("192.0.2.1", 1), ("192.0.2.2", 2), client_isn=1, server_isn=2)
    with pytest.raises(ValueError):
        connection.send(0, ("192.0.2.1", 1), b"early")
    connection.open(0)
    with pytest.raises(ValueError):
        connection.open(1)
    with pytest.raises(ValueError):
        connection.send(2, ("192.0.2.9", 9), b"stranger")
    with pytest.raises(ValueError):
        connection.send(2, ("192.0.2.1", 1), b"")
    connection.close(3, ("192.0.2.1", 1))
    with pytest.raises(ValueError):
        connection.send(4, ("192.0.2.1", 1), b"late")


def test_tshark_finds_every_checksum_good(tmp_path):
    tshark = require_tool("tshark")
    factory = FrameFactory()
    path = tmp_path / "checksums.pcap"
    with open(path, "wb") as handle:
        writer = PcapWriter(handle)
        writer.write(TS, factory.udp("192.0.2.101", 5060, "192.0.2.111", 5060, b"OPTIONS sip:a SIP/2.0\r\n\r\n"))
        writer.write(TS + 1000, factory.udp("2001:db8::1", 5060, "2001:db8::2", 5060, b"odd length!"))
        client, server = ("192.0.2.101", 5060), ("192.0.2.201", 5060)
        connection = TcpConnection(factory, client, server, client_isn=7, server_isn=9)
        frames = connection.open(TS + 2000) + connection.send(TS + 10**6, client, b"x" * 3001)
        frames += connection.close(TS + 2 * 10**6, server)
        for ts, frame in frames:
            writer.write(ts, frame)
    result = subprocess.run(
        [
            tshark, "-r", str(path), "-n",
            "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
            "-T", "fields", "-E", "separator=,",
            "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status",
            "-e", "_ws.expert.severity",
        ],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    rows = result.stdout.splitlines()
    assert len(rows) == 2 + 3 + 4 + 3  # 2 UDP, handshake, 3 segments + ACK, close
    for row in rows:
        statuses = [s for s in row.split(",")[:3] if s]
        assert statuses and all(s == "1" for s in statuses), row  # 1 = "Good"
    # No warnings or errors (bad checksums, TCP sequence problems) anywhere.
    severities = {int(s, 0) for row in rows for s in row.split(",")[3:] if s}
    assert all(s < 0x00600000 for s in severities), severities
