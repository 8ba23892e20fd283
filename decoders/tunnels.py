"""Tunnels that carry the SIP we look for: IP-in-IP (RFC 2003, RFC 4213), GRE (RFC 2784/2890,
and the PPTP variant of RFC 2637) and ERSPAN types I, II and III (mirrored Ethernet over GRE).

``strip_gre(buf, off, end)`` returns ``(ethertype, offset)`` like the link layer does:
0x0800/0x86DD for IP, ``ETH_BRIDGED`` when a whole Ethernet frame follows (transparent
bridging, ERSPAN), and anything else for payloads we do not follow.
"""

from __future__ import annotations

from decoders.errors import Truncated
from decoders.linklayer import ETH_IPV4, ETH_IPV6, NOT_IP, strip_ppp

IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41
IPPROTO_GRE = 47

ETH_BRIDGED = 0x6558  # transparent Ethernet bridging: an Ethernet frame follows
GRE_PPP = 0x880B
ERSPAN_II = 0x88BE  # type I when the GRE header has no sequence number
ERSPAN_III = 0x22EB

IP_IN_IP = {IPPROTO_IPIP: ETH_IPV4, IPPROTO_IPV6: ETH_IPV6}


def strip_gre(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """The payload of the GRE packet at ``buf[off:end]``; ``Truncated`` (reason
    ``malformed-tunnel``) when a header is cut short."""
    if end - off < 4:
        raise Truncated("GRE header needs 4 bytes", "malformed-tunnel")
    flags = (buf[off] << 8) | buf[off + 1]
    protocol = (buf[off + 2] << 8) | buf[off + 3]
    version = flags & 0x7
    pos = off + 4
    if version == 1:
        # Enhanced GRE (PPTP): key always present, then optional sequence and acknowledgement.
        pos += 4
        if flags & 0x1000:
            pos += 4
        if flags & 0x0080:
            pos += 4
    else:
        if flags & 0xC000:  # checksum or routing present: both add checksum + offset
            pos += 4
        if flags & 0x2000:
            pos += 4
        if flags & 0x1000:
            pos += 4
    if pos > end:
        raise Truncated("GRE optional fields cut short", "malformed-tunnel")
    has_sequence = bool(flags & 0x1000)
    if protocol in (ETH_IPV4, ETH_IPV6):
        return protocol, pos
    if protocol == ETH_BRIDGED:
        return ETH_BRIDGED, pos
    if protocol == GRE_PPP:
        return strip_ppp(buf, pos, end)
    if protocol == ERSPAN_II:
        if not has_sequence:
            return ETH_BRIDGED, pos  # ERSPAN type I: the mirrored frame follows at once
        if end - pos < 8:
            raise Truncated("ERSPAN type II header needs 8 bytes", "malformed-tunnel")
        return ETH_BRIDGED, pos + 8
    if protocol == ERSPAN_III:
        if end - pos < 12:
            raise Truncated("ERSPAN type III header needs 12 bytes", "malformed-tunnel")
        optional = buf[pos + 11] & 0x01  # the O flag: an 8-byte platform sub-header follows
        pos += 12 + (8 if optional else 0)
        if pos > end:
            raise Truncated("ERSPAN type III platform sub-header cut short", "malformed-tunnel")
        return ETH_BRIDGED, pos
    return NOT_IP if protocol < 0x0600 else protocol, pos
