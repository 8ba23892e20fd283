"""Helpers that craft captures byte by byte for the cases the shared corpus lacks.

Packets are built bottom-up (``udp`` → ``ipv4`` → ``ethernet``) and written with ``write_pcap``
(either byte order, micro- or nanoseconds) or ``write_pcapng`` (several interfaces, each with
its own link type and ``if_tsresol``). Nothing here is clever: a test must be able to trust it.
"""

from __future__ import annotations

import gzip
import socket
import struct
from pathlib import Path

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def sip_invite(call_id: str = "crafted-1@example.com", body: bytes = b"", branch: str = "z9hG4bK-1") -> bytes:
    """A small, valid RFC 3261 INVITE (RFC 3665 §3.1 F1 style)."""
    head = (
        "INVITE sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        "From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
        "To: Bob <sip:bob@example.com>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 314159 INVITE\r\n"
        "Contact: <sip:alice@192.0.2.1>\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def sip_response(code: int = 200, call_id: str = "crafted-1@example.com") -> bytes:
    reason = {100: "Trying", 180: "Ringing", 200: "OK"}.get(code, "Whatever")
    return (
        f"SIP/2.0 {code} {reason}\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
        "From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
        "To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 314159 INVITE\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def rtp(seq: int, ts: int, ssrc: int = 0x1234ABCD, pt: int = 0, payload_len: int = 160) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + bytes(payload_len)


def udp(payload: bytes, sport: int = 5060, dport: int = 5060) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(payload: bytes, sport: int, dport: int, seq: int, flags: int = 0x18) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def ipv4(
    payload: bytes,
    src: str = "192.0.2.1",
    dst: str = "192.0.2.2",
    proto: int = 17,
    ident: int = 1,
    frag_offset: int = 0,
    more: bool = False,
    total_length: int | None = None,
) -> bytes:
    flags = (0x2000 if more else 0) | (frag_offset // 8)
    length = 20 + len(payload) if total_length is None else total_length
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, length, ident, flags, 64, proto, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )
    return header + payload


def ipv4_fragments(upper: bytes, size: int, **kwargs) -> list[bytes]:
    """``upper`` (a UDP datagram, say) split into IPv4 fragments of ``size`` bytes (multiple of 8)."""
    pieces = []
    for offset in range(0, len(upper), size):
        chunk = upper[offset : offset + size]
        pieces.append(ipv4(chunk, frag_offset=offset, more=offset + size < len(upper), **kwargs))
    return pieces


def ipv6(payload: bytes, src: str = "2001:db8::1", dst: str = "2001:db8::2", nxt: int = 17) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64,
                       socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)) + payload


def ipv6_fragments(upper: bytes, size: int, ident: int = 7, **kwargs) -> list[bytes]:
    """IPv6 packets each with a Fragment header (RFC 8200 §4.5) carrying ``size`` bytes."""
    packets = []
    for offset in range(0, len(upper), size):
        chunk = upper[offset : offset + size]
        more = 1 if offset + size < len(upper) else 0
        frag = struct.pack("!BBHI", 17, 0, offset | more, ident)
        packets.append(ipv6(frag + chunk, nxt=44, **kwargs))
    return packets


def ethernet(payload: bytes, ethertype: int = 0x0800, vlans: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Ethernet II; ``vlans`` is a list of (TPID, VLAN id), outermost first (QinQ: 0x88a8 then 0x8100)."""
    header = MAC_B + MAC_A
    for tpid, vid in vlans:
        header += struct.pack("!HH", tpid, vid)
    return header + struct.pack("!H", ethertype) + payload


def pppoe(ppp_payload: bytes, protocol: int = 0x0021) -> bytes:
    """A PPPoE session frame body (EtherType 0x8864) around an IP packet."""
    return struct.pack("!BBHHH", 0x11, 0, 0x1234, len(ppp_payload) + 2, protocol) + ppp_payload


def sll(payload: bytes, protocol: int = 0x0800) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, MAC_A + b"\0\0", protocol) + payload


def sll2(payload: bytes, protocol: int = 0x0800) -> bytes:
    return struct.pack("!HHIHBB8s", protocol, 0, 2, 1, 0, 6, MAC_A + b"\0\0") + payload


def null_loopback(payload: bytes, family: int = 2, order: str = "<") -> bytes:
    return struct.pack(order + "I", family) + payload


def gre(payload: bytes, protocol: int, sequence: int | None = None, key: int | None = None) -> bytes:
    flags = (0x2000 if key is not None else 0) | (0x1000 if sequence is not None else 0)
    header = struct.pack("!HH", flags, protocol)
    if key is not None:
        header += struct.pack("!I", key)
    if sequence is not None:
        header += struct.pack("!I", sequence)
    return header + payload


def erspan2(frame: bytes, session: int = 1) -> bytes:
    """GRE (with sequence number) + ERSPAN type II header + the mirrored Ethernet frame."""
    erspan = struct.pack("!HHI", (1 << 12) | 0, session, 0)
    return gre(erspan + frame, 0x88BE, sequence=1)


def erspan3(frame: bytes, platform: bool = True) -> bytes:
    """GRE + ERSPAN type III header (12 bytes, O flag for an 8-byte platform sub-header)."""
    header = struct.pack("!HHIHBB", (2 << 12), 1, 0, 0, 0, 1 if platform else 0)
    if platform:
        header += bytes(8)
    return gre(header + frame, 0x22EB, sequence=1)


# -- files --------------------------------------------------------------------------------

Packet = tuple  # (ts_ns, data) or (ts_ns, data, origlen)


def pcap_bytes(packets: list[Packet], linktype: int = 1, order: str = "<", nanoseconds: bool = False) -> bytes:
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)]
    for packet in packets:
        ts_ns, data = packet[0], packet[1]
        origlen = packet[2] if len(packet) > 2 else len(data)
        sec, rest = divmod(ts_ns, 1_000_000_000)
        frac = rest if nanoseconds else rest // 1000
        out.append(struct.pack(order + "IIII", sec, frac, len(data), origlen) + data)
    return b"".join(out)


def write_pcap(path: Path, packets: list[Packet], linktype: int = 1, order: str = "<",
               nanoseconds: bool = False, compress: bool = False) -> Path:
    data = pcap_bytes(packets, linktype, order, nanoseconds)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _block(block_type: int, body: bytes, order: str) -> bytes:
    body = _pad4(body)
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_bytes(
    interfaces: list[tuple[int, int | None]],
    packets: list[tuple[int, int, bytes]],
    order: str = "<",
    extra_blocks: list[tuple[int, bytes]] = (),
) -> bytes:
    """``interfaces``: (linktype, if_tsresol byte or None for the µs default);
    ``packets``: (interface, ts_ns, data) as Enhanced Packet Blocks."""
    out = [_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)]
    units = []
    for linktype, tsresol in interfaces:
        options = b""
        unit = 1_000_000
        if tsresol is not None:
            options = struct.pack(order + "HH", 9, 1) + bytes([tsresol, 0, 0, 0]) + struct.pack(order + "HH", 0, 0)
            unit = (1 << (tsresol & 0x7F)) if tsresol & 0x80 else 10 ** tsresol
        units.append(unit)
        out.append(_block(1, struct.pack(order + "HHI", linktype, 0, 0) + options, order))
    for block_type, body in extra_blocks:
        out.append(_block(block_type, body, order))
    for iface, ts_ns, data in packets:
        ticks = ts_ns * units[iface] // 1_000_000_000
        body = struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data
        out.append(_block(6, body, order))
    return b"".join(out)


def udp_sip_frame(message: bytes, src: str = "192.0.2.1", dst: str = "192.0.2.2", sport: int = 5060,
                  dport: int = 5060) -> bytes:
    """The usual Ethernet / IPv4 / UDP frame around one SIP message."""
    return ethernet(ipv4(udp(message, sport, dport), src, dst))
