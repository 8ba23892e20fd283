"""IPv4 (RFC 791) and IPv6 (RFC 8200) headers, IPv6 extension headers included.

``parse_ip(ethertype, buf, off, end)`` returns an ``IpHeader``: addresses as text, the upper
protocol and where its bytes are, and the fragment fields when the packet is a fragment.
Ethernet padding is cut off by the IP length; a length beyond the captured bytes sets ``cut``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from decoders.errors import Malformed, Truncated
from decoders.memo import remember

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD

# IPv6 extension headers that are walked to reach the upper-layer protocol (RFC 8200 §4).
HOP_BY_HOP, ROUTING, FRAGMENT, ESP, AUTH, NO_NEXT, DEST_OPTS = 0, 43, 44, 50, 51, 59, 60
EXTENSIONS = {HOP_BY_HOP, ROUTING, DEST_OPTS, AUTH, 135, 139, 140}
MAX_EXTENSIONS = 16

_ntop = socket.inet_ntop
# Address text by its bytes: a capture repeats a few addresses in every packet, and one string
# each keeps the messages that hold them small. Read ``ADDRESSES`` directly where a call per
# packet matters (the pipeline's fast path); ``address_text`` fills it.
MAX_ADDRESSES = 65536
ADDRESSES: dict[bytes, str] = {}


def address_text(family: int, raw: bytes) -> str:
    """The text of a 4-byte IPv4 or 16-byte IPv6 address, one shared string per address."""
    text = ADDRESSES.get(raw)
    if text is None:
        text = remember(ADDRESSES, raw, _ntop(family, raw), MAX_ADDRESSES)
    return text

_AF4 = socket.AF_INET
_AF6 = socket.AF_INET6


@dataclass(frozen=True, slots=True)
class Fragment:
    """The fragment fields: datagram id, offset of this piece in bytes, more fragments follow."""

    ident: int
    offset: int
    more: bool


@dataclass(frozen=True, slots=True)
class IpHeader:
    version: int
    src: str
    dst: str
    proto: int  # upper-layer protocol (after IPv6 extension headers); 59 when there is none
    start: int  # payload offset in the buffer
    end: int  # payload end (IP length, or the captured end when the packet is cut)
    ttl: int
    fragment: Fragment | None = None
    cut: bool = False  # the IP length runs past the captured bytes


def parse_ip(ethertype: int, buf: bytes, off: int, end: int) -> IpHeader:
    """Decode the IPv4 or IPv6 header at ``buf[off:end]``; raises ``Truncated``/``Malformed``
    with reason ``malformed-ip`` for bytes that are no IP header."""
    if ethertype == ETH_IPV4:
        return parse_ipv4(buf, off, end)
    if ethertype == ETH_IPV6:
        return parse_ipv6(buf, off, end)
    raise Malformed(f"EtherType 0x{ethertype:04x} is not IP", "malformed-ip")


def parse_ipv4(buf: bytes, off: int, end: int) -> IpHeader:
    if end - off < 20:
        raise Truncated(f"IPv4 header needs 20 bytes, {end - off} captured", "malformed-ip")
    first = buf[off]
    if first >> 4 != 4:
        raise Malformed(f"IPv4 version field is {first >> 4}", "malformed-ip")
    ihl = (first & 0x0F) * 4
    if ihl < 20:
        raise Malformed(f"IPv4 header length {ihl} is below 20 (RFC 791)", "malformed-ip")
    if end - off < ihl:
        raise Truncated(f"IPv4 header of {ihl} bytes cut at {end - off}", "malformed-ip")
    total = (buf[off + 2] << 8) | buf[off + 3]
    cut = False
    if total == 0:
        total = end - off  # TCP segmentation offload leaves the length zero
    elif total < ihl:
        raise Malformed(f"IPv4 total length {total} is below its header length {ihl}", "malformed-ip")
    if off + total > end:
        cut = True
        total = end - off
    flags_frag = (buf[off + 6] << 8) | buf[off + 7]
    more = bool(flags_frag & 0x2000)
    frag_off = (flags_frag & 0x1FFF) * 8
    fragment = None
    if more or frag_off:
        fragment = Fragment((buf[off + 4] << 8) | buf[off + 5], frag_off, more)
    return IpHeader(
        4,
        address_text(_AF4, bytes(buf[off + 12 : off + 16])),
        address_text(_AF4, bytes(buf[off + 16 : off + 20])),
        buf[off + 9],
        off + ihl,
        off + total,
        buf[off + 8],
        fragment,
        cut,
    )


def parse_ipv6(buf: bytes, off: int, end: int) -> IpHeader:
    if end - off < 40:
        raise Truncated(f"IPv6 header needs 40 bytes, {end - off} captured", "malformed-ip")
    if buf[off] >> 4 != 6:
        raise Malformed(f"IPv6 version field is {buf[off] >> 4}", "malformed-ip")
    payload_len = (buf[off + 4] << 8) | buf[off + 5]
    stop = off + 40 + payload_len
    cut = False
    if payload_len == 0:
        stop = end  # a jumbogram (RFC 2675) or offloaded length: use what was captured
    elif stop > end:
        cut = True
        stop = end
    nxt = buf[off + 6]
    pos = off + 40
    fragment = None
    for _ in range(MAX_EXTENSIONS):
        if nxt == FRAGMENT:
            if stop - pos < 8:
                raise Truncated("IPv6 fragment header cut short", "malformed-ip")
            offset_flags = (buf[pos + 2] << 8) | buf[pos + 3]
            ident = int.from_bytes(buf[pos + 4 : pos + 8], "big")
            fragment = Fragment(ident, offset_flags & 0xFFF8, bool(offset_flags & 1))
            nxt = buf[pos]
            pos += 8
            # What follows is the fragmentable part: reassembly must see it from here on, so
            # the walk stops (RFC 8200 §4.5; every fragment repeats the same Next Header).
            break
        if nxt not in EXTENSIONS:
            break
        if stop - pos < 8:
            raise Truncated("IPv6 extension header cut short", "malformed-ip")
        if nxt == AUTH:
            length = (buf[pos + 1] + 2) * 4  # RFC 4302: in 4-octet units, minus 2
        else:
            length = (buf[pos + 1] + 1) * 8
        nxt = buf[pos]
        pos += length
        if pos > stop:
            raise Truncated("IPv6 extension header runs past the packet", "malformed-ip")
    else:
        raise Malformed("more than 16 IPv6 extension headers", "malformed-ip")
    return IpHeader(
        6,
        address_text(_AF6, bytes(buf[off + 8 : off + 24])),
        address_text(_AF6, bytes(buf[off + 24 : off + 40])),
        nxt,
        pos,
        stop,
        buf[off + 7],
        fragment,
        cut,
    )
