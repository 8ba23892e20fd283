"""Writing classic pcap files, and building the Ethernet/IP/UDP/TCP frames to put in them.

Used by ``samples/build_samples.py`` (the RFC 3665 sample captures) and by ``ladder export
--pcap``. Everything here is deterministic: no clock, no randomness, so the same calls give
the same bytes. Checksums (IPv4 header, UDP, TCP) are computed, never left zero, because
Wireshark and tshark flag bad ones and some tools drop such packets.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import BinaryIO

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

PCAP_MAGIC_MICRO = 0xA1B2C3D4
PCAP_MAGIC_NANO = 0xA1B23C4D
DEFAULT_SNAPLEN = 262144

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
IPPROTO_TCP = 6
IPPROTO_UDP = 17

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

# A conservative Ethernet MSS: 1500 - 20 (IPv4) - 20 (TCP); stream payloads are cut to it.
DEFAULT_MSS = 1460


class PcapWriter:
    """A classic (libpcap) file: the global header at construction, one record per ``write``.

    ``nanosecond=True`` writes the nanosecond-resolution magic; otherwise times are truncated
    to microseconds. ``orig_len`` is the frame's length on the wire when ``data`` was cut short.
    """

    def __init__(
        self,
        fileobj: BinaryIO,
        linktype: int = LINKTYPE_ETHERNET,
        nanosecond: bool = False,
        snaplen: int = DEFAULT_SNAPLEN,
    ) -> None:
        self._file = fileobj
        self.linktype = linktype
        self.nanosecond = nanosecond
        self.snaplen = snaplen
        self.records = 0
        magic = PCAP_MAGIC_NANO if nanosecond else PCAP_MAGIC_MICRO
        fileobj.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, ts_ns: int, data: bytes, orig_len: int | None = None) -> None:
        if ts_ns < 0:
            raise ValueError(f"negative timestamp {ts_ns} ns")
        wire_len = len(data) if orig_len is None else orig_len
        if wire_len < len(data):
            raise ValueError(f"orig_len {wire_len} is shorter than the {len(data)} bytes given")
        seconds, rest_ns = divmod(ts_ns, 1_000_000_000)
        fraction = rest_ns if self.nanosecond else rest_ns // 1000
        captured = data[: self.snaplen]
        self._file.write(struct.pack("<IIII", seconds, fraction, len(captured), wire_len))
        self._file.write(captured)
        self.records += 1


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum of 16-bit words (odd length padded with a zero byte)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac_for_ip(ip: str) -> bytes:
    """A stable, locally administered MAC for a host (02:00 + the low 4 address bytes), so
    every host in a synthetic capture keeps one MAC."""
    packed = ipaddress.ip_address(ip).packed
    return b"\x02\x00" + packed[-4:]


def ethernet_frame(src_mac: bytes, dst_mac: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def ipv4_packet(
    src: str,
    dst: str,
    protocol: int,
    payload: bytes,
    *,
    ident: int = 0,
    ttl: int = 64,
    dont_fragment: bool = False,
) -> bytes:
    flags_fragment = 0x4000 if dont_fragment else 0
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        ident & 0xFFFF,
        flags_fragment,
        ttl,
        protocol,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    checksum = internet_checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + payload


def ipv6_packet(src: str, dst: str, next_header: int, payload: bytes, *, hop_limit: int = 64) -> bytes:
    header = struct.pack(
        "!IHBB16s16s",
        6 << 28,
        len(payload),
        next_header,
        hop_limit,
        ipaddress.IPv6Address(src).packed,
        ipaddress.IPv6Address(dst).packed,
    )
    return header + payload


def _pseudo_header(src: str, dst: str, protocol: int, length: int) -> bytes:
    """The IPv4 (RFC 768/793) or IPv6 (RFC 8200 §8.1) pseudo-header the L4 checksum covers."""
    source = ipaddress.ip_address(src)
    destination = ipaddress.ip_address(dst)
    if source.version != destination.version:
        raise ValueError(f"address families differ: {src} -> {dst}")
    if source.version == 4:
        return source.packed + destination.packed + struct.pack("!BBH", 0, protocol, length)
    return source.packed + destination.packed + struct.pack("!I3xB", length, protocol)


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    checksum = internet_checksum(_pseudo_header(src, dst, IPPROTO_UDP, length) + header + payload)
    # RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    return header[:6] + struct.pack("!H", checksum or 0xFFFF) + payload


def tcp_segment(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    *,
    window: int = 65535,
    options: bytes = b"",
) -> bytes:
    if len(options) % 4:
        raise ValueError("TCP options must be padded to a multiple of 4 bytes")
    offset_words = (20 + len(options)) // 4
    header = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        offset_words << 4,
        flags,
        window,
        0,
        0,
    ) + options
    segment_length = len(header) + len(payload)
    checksum = internet_checksum(_pseudo_header(src, dst, IPPROTO_TCP, segment_length) + header + payload)
    return header[:16] + struct.pack("!H", checksum) + header[18:] + payload


class FrameFactory:
    """Builds whole Ethernet frames, keeping one MAC and one running IPv4 identification
    counter per source host (real stacks number their datagrams, tools use it to spot
    duplicates)."""

    def __init__(self, first_ident: int = 0x1000) -> None:
        self._first_ident = first_ident
        self._idents: dict[str, int] = {}

    def _next_ident(self, src: str) -> int:
        ident = self._idents.get(src, self._first_ident + (mac_for_ip(src)[-1] << 4))
        self._idents[src] = ident + 1
        return ident & 0xFFFF

    def ip_frame(
        self, src: str, dst: str, protocol: int, transport: bytes, *, dont_fragment: bool = False
    ) -> bytes:
        if ipaddress.ip_address(src).version == 4:
            packet = ipv4_packet(
                src, dst, protocol, transport, ident=self._next_ident(src), dont_fragment=dont_fragment
            )
            ethertype = ETHERTYPE_IPV4
        else:
            packet = ipv6_packet(src, dst, protocol, transport)
            ethertype = ETHERTYPE_IPV6
        return ethernet_frame(mac_for_ip(src), mac_for_ip(dst), ethertype, packet)

    def udp(self, src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
        return self.ip_frame(src, dst, IPPROTO_UDP, udp_datagram(src, dst, sport, dport, payload))

    def tcp(
        self, src: str, sport: int, dst: str, dport: int, seq: int, ack: int, flags: int, payload: bytes = b""
    ) -> bytes:
        segment = tcp_segment(src, dst, sport, dport, seq, ack, flags, payload)
        return self.ip_frame(src, dst, IPPROTO_TCP, segment, dont_fragment=True)


class TcpConnection:
    """One TCP connection between two endpoints, as frames with consistent sequence numbers.

    ``open`` gives the three-way handshake; ``send`` gives the data segments (cut at ``mss``)
    and the peer's ACK; ``close`` gives FIN, FIN/ACK, ACK. Every method returns
    ``[(ts_ns, frame), ...]`` for the caller to merge into its timeline. Initial sequence
    numbers are given, not drawn, so output stays reproducible.
    """

    def __init__(
        self,
        factory: FrameFactory,
        client: tuple[str, int],
        server: tuple[str, int],
        *,
        client_isn: int,
        server_isn: int,
        mss: int = DEFAULT_MSS,
    ) -> None:
        self._factory = factory
        self.client = client
        self.server = server
        self.mss = mss
        # Next sequence number each side will send.
        self._next_seq = {client: client_isn & 0xFFFFFFFF, server: server_isn & 0xFFFFFFFF}
        self.is_open = False
        self.is_closed = False

    def _peer(self, side: tuple[str, int]) -> tuple[str, int]:
        if side == self.client:
            return self.server
        if side == self.server:
            return self.client
        raise ValueError(f"{side} is not an end of this connection")

    def _frame(self, side: tuple[str, int], flags: int, payload: bytes = b"") -> bytes:
        peer = self._peer(side)
        ack = self._next_seq[peer] if flags & TCP_ACK else 0
        return self._factory.tcp(side[0], side[1], peer[0], peer[1], self._next_seq[side], ack, flags, payload)

    def _advance(self, side: tuple[str, int], count: int) -> None:
        self._next_seq[side] = (self._next_seq[side] + count) & 0xFFFFFFFF

    def open(self, ts_ns: int, rtt_ns: int = 300_000) -> list[tuple[int, bytes]]:
        """SYN at ``ts_ns``, SYN/ACK half an RTT later, ACK a full RTT later."""
        if self.is_open:
            raise ValueError("connection already open")
        frames = [(ts_ns, self._frame(self.client, TCP_SYN))]
        self._advance(self.client, 1)
        frames.append((ts_ns + rtt_ns // 2, self._frame(self.server, TCP_SYN | TCP_ACK)))
        self._advance(self.server, 1)
        frames.append((ts_ns + rtt_ns, self._frame(self.client, TCP_ACK)))
        self.is_open = True
        return frames

    def send(
        self, ts_ns: int, side: tuple[str, int], payload: bytes, *, ack_delay_ns: int = 200_000
    ) -> list[tuple[int, bytes]]:
        """``payload`` from ``side`` to its peer, then the peer's pure ACK of all of it."""
        if not self.is_open or self.is_closed:
            raise ValueError("send on a connection that is not open")
        if not payload:
            raise ValueError("send needs a payload")
        frames = []
        for index, start in enumerate(range(0, len(payload), self.mss)):
            chunk = payload[start : start + self.mss]
            frames.append((ts_ns + index * 10_000, self._frame(side, TCP_PSH | TCP_ACK, chunk)))
            self._advance(side, len(chunk))
        frames.append((frames[-1][0] + ack_delay_ns, self._frame(self._peer(side), TCP_ACK)))
        return frames

    def close(self, ts_ns: int, side: tuple[str, int], rtt_ns: int = 300_000) -> list[tuple[int, bytes]]:
        """An orderly close started by ``side``: FIN/ACK, the peer's FIN/ACK, the last ACK."""
        if not self.is_open or self.is_closed:
            raise ValueError("close on a connection that is not open")
        peer = self._peer(side)
        frames = [(ts_ns, self._frame(side, TCP_FIN | TCP_ACK))]
        self._advance(side, 1)
        frames.append((ts_ns + rtt_ns // 2, self._frame(peer, TCP_FIN | TCP_ACK)))
        self._advance(peer, 1)
        frames.append((ts_ns + rtt_ns, self._frame(side, TCP_ACK)))
        self.is_closed = True
        return frames
