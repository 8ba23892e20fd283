"""Link layers: from a captured frame to its network-layer payload.

``strip_link(linktype, buf, off, end)`` returns ``(ethertype, offset)``: the EtherType of what
follows (0x0800 IPv4, 0x86DD IPv6, anything else is not IP) and where it starts. Link types are
the LINKTYPE_* numbers of pcap/pcapng. Ethernet is shared with tunnels (GRE 0x6558, ERSPAN).
"""

from __future__ import annotations

from decoders.errors import Truncated, Unsupported

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = (0x8100, 0x88A8, 0x9100, 0x9200)  # 802.1Q, 802.1ad (QinQ) and the pre-standard QinQ tags
ETH_PPPOE_SESSION = 0x8864
ETH_MPLS = (0x8847, 0x8848)
NOT_IP = 0  # an EtherType that no IP layer claims (802.3 length field, LLC)

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_12 = 12
LINKTYPE_RAW_14 = 14
LINKTYPE_PPP_HDLC = 50
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

# PPP protocol numbers (RFC 1661/1332/5072) for the two IPs.
PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057
# BSD NULL/LOOP address families: AF_INET everywhere, AF_INET6 differs per BSD.
AF_INET = 2
AF_INET6 = (10, 24, 28, 30)

MAX_VLAN_TAGS = 8


def strip_link(linktype: int, buf: bytes, off: int, end: int) -> tuple[int, int]:
    """``(ethertype, offset)`` of the payload of a ``linktype`` frame in ``buf[off:end]``.

    Raises ``Unsupported`` (reason ``unsupported-link-type``) for link types we do not decode,
    ``Truncated`` (reason ``truncated-link``) when the link header is cut short."""
    if linktype == LINKTYPE_ETHERNET:
        return strip_ethernet(buf, off, end)
    if linktype == LINKTYPE_LINUX_SLL:
        if end - off < 16:
            raise Truncated("Linux SLL header needs 16 bytes", "truncated-link")
        return _sll_protocol(buf, off + 14, off + 16, end)
    if linktype == LINKTYPE_LINUX_SLL2:
        if end - off < 20:
            raise Truncated("Linux SLL2 header needs 20 bytes", "truncated-link")
        return _sll_protocol(buf, off, off + 20, end)
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_12, LINKTYPE_RAW_14):
        return _raw_ip(buf, off, end)
    if linktype == LINKTYPE_IPV4:
        return ETH_IPV4, off
    if linktype == LINKTYPE_IPV6:
        return ETH_IPV6, off
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if end - off < 4:
            raise Truncated("BSD loopback header needs 4 bytes", "truncated-link")
        if linktype == LINKTYPE_LOOP:
            family = int.from_bytes(buf[off : off + 4], "big")
        else:
            # NULL stores the family in the capturing host's byte order: small values tell.
            family = int.from_bytes(buf[off : off + 4], "little")
            if family > 0xFFFF:
                family = int.from_bytes(buf[off : off + 4], "big")
        if family == AF_INET:
            return ETH_IPV4, off + 4
        if family in AF_INET6:
            return ETH_IPV6, off + 4
        return NOT_IP, off + 4
    if linktype in (LINKTYPE_PPP, LINKTYPE_PPP_HDLC):
        return strip_ppp(buf, off, end)
    raise Unsupported(f"link type {linktype} is not decoded", "unsupported-link-type")


def strip_ethernet(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """Ethernet II with any number (up to 8) of 802.1Q/QinQ tags, and PPPoE sessions."""
    if end - off < 14:
        raise Truncated("Ethernet header needs 14 bytes", "truncated-link")
    ethertype = (buf[off + 12] << 8) | buf[off + 13]
    pos = off + 14
    tags = 0
    while ethertype in ETH_VLAN:
        tags += 1
        if tags > MAX_VLAN_TAGS or end - pos < 4:
            raise Truncated("802.1Q tag cut short", "truncated-link")
        ethertype = (buf[pos + 2] << 8) | buf[pos + 3]
        pos += 4
    if ethertype == ETH_PPPOE_SESSION:
        # RFC 2516: ver/type, code, session id, length, then the PPP protocol field.
        if end - pos < 8:
            raise Truncated("PPPoE session header cut short", "truncated-link")
        return _ppp_protocol((buf[pos + 6] << 8) | buf[pos + 7], pos + 8)
    if ethertype < 0x0600:
        return NOT_IP, pos  # an 802.3 length field: LLC/SNAP, never SIP's IP here
    return ethertype, pos


def strip_ppp(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """PPP with or without the HDLC address/control bytes (ff 03) and protocol compression."""
    pos = off
    if end - pos >= 2 and buf[pos] == 0xFF and buf[pos + 1] == 0x03:
        pos += 2
    if end - pos < 1:
        raise Truncated("PPP header cut short", "truncated-link")
    if buf[pos] & 1:  # RFC 1661 §6.5: a compressed one-byte protocol field is odd
        return _ppp_protocol(buf[pos], pos + 1)
    if end - pos < 2:
        raise Truncated("PPP header cut short", "truncated-link")
    return _ppp_protocol((buf[pos] << 8) | buf[pos + 1], pos + 2)


def _ppp_protocol(protocol: int, pos: int) -> tuple[int, int]:
    if protocol == PPP_IPV4:
        return ETH_IPV4, pos
    if protocol == PPP_IPV6:
        return ETH_IPV6, pos
    return NOT_IP, pos


def _sll_protocol(buf: bytes, proto_at: int, payload: int, end: int) -> tuple[int, int]:
    protocol = (buf[proto_at] << 8) | buf[proto_at + 1]
    if protocol < 0x0600:
        return NOT_IP, payload  # Linux "protocol" values 1..0x5ff name non-Ethernet framings
    if protocol in ETH_VLAN or protocol == ETH_PPPOE_SESSION:
        # Tags left in place by the capturing interface: walk them as Ethernet would.
        fake_header = bytes(12) + bytes(buf[proto_at : proto_at + 2])
        ethertype, pos = strip_ethernet(fake_header + bytes(buf[payload:end]), 0, 14 + end - payload)
        return ethertype, payload + pos - 14
    return protocol, payload


def _raw_ip(buf: bytes, off: int, end: int) -> tuple[int, int]:
    if end - off < 1:
        raise Truncated("raw IP frame is empty", "truncated-link")
    version = buf[off] >> 4
    if version == 4:
        return ETH_IPV4, off
    if version == 6:
        return ETH_IPV6, off
    return NOT_IP, off
