"""Link layers: from a captured frame to its network-layer payload.

``strip_link(linktype, buf, off, end)`` returns ``(ethertype, offset)``: the EtherType of what
follows (0x0800 IPv4, 0x86DD IPv6, anything else is not IP) and where it starts. Link types are
the LINKTYPE_* numbers of pcap/pcapng. Ethernet is shared with tunnels (GRE 0x6558, ERSPAN).

The common link types are walked here with plain byte reads (the hot path). The rich, rare ones
(802.11 and its radio headers, PPPoE without Ethernet, ATM LLC) are in ``decoders.dpkt_links``,
imported on first use so that captures without them never load dpkt.
"""

from __future__ import annotations

from decoders.errors import Malformed, Truncated, Unsupported

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
LINKTYPE_PPP_ETHER = 51
LINKTYPE_ATM_RFC1483 = 100
LINKTYPE_RAW = 101
LINKTYPE_C_HDLC = 104
LINKTYPE_IEEE802_11 = 105
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_PRISM_HEADER = 119
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_IEEE802_11_AVS = 163
LINKTYPE_PPP_PPPD = 166
LINKTYPE_PPI = 192
LINKTYPE_PPP_WITH_DIR = 204
LINKTYPE_C_HDLC_WITH_DIR = 205
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

# Link types decoded through dpkt (``decoders.dpkt_links.strip_dpkt_link``).
DPKT_LINKS = frozenset({
    LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_IEEE802_11_AVS, LINKTYPE_PRISM_HEADER,
    LINKTYPE_PPP_ETHER, LINKTYPE_ATM_RFC1483,
})
# Cisco HDLC address octets (unicast, broadcast); in LINKTYPE_PPP_HDLC they mark Cisco framing.
CISCO_HDLC_ADDRESSES = (0x0F, 0x8F)
# PPI (Per-Packet Information) may wrap only these; never itself (no loops on hostile input).
PPI_INNER = (LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP)

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
    if linktype == LINKTYPE_PPP:
        return strip_ppp(buf, off, end)
    if linktype == LINKTYPE_PPP_HDLC:
        # RFC 1662 framing starts ff 03; Cisco's PPP-in-HDLC (RFC 1547 §4.3.1) starts 0f/8f.
        if end - off >= 1 and buf[off] in CISCO_HDLC_ADDRESSES:
            return strip_cisco_hdlc(buf, off, end)
        return strip_ppp(buf, off, end)
    if linktype == LINKTYPE_C_HDLC:
        return strip_cisco_hdlc(buf, off, end)
    if linktype in (LINKTYPE_PPP_WITH_DIR, LINKTYPE_C_HDLC_WITH_DIR, LINKTYPE_PPP_PPPD):
        # One direction octet first (PPP_PPPD: in place of PPP's address octet, then 03).
        if end - off < 2:
            raise Truncated("direction octet and link header cut short", "truncated-link")
        if linktype == LINKTYPE_C_HDLC_WITH_DIR:
            return strip_cisco_hdlc(buf, off + 1, end)
        skip = 2 if linktype == LINKTYPE_PPP_PPPD and buf[off + 1] == 0x03 else 1
        return strip_ppp(buf, off + skip, end)
    if linktype == LINKTYPE_PPI:
        return strip_ppi(buf, off, end)
    if linktype in DPKT_LINKS:
        from decoders.dpkt_links import strip_dpkt_link  # deferred: dpkt costs ~30 ms to import

        return strip_dpkt_link(linktype, buf, off, end)
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
        return ppp_protocol((buf[pos + 6] << 8) | buf[pos + 7], pos + 8)
    if ethertype < 0x0600:
        return NOT_IP, pos  # an 802.3 length field: LLC/SNAP, never SIP's IP here
    return ethertype, pos


def strip_cisco_hdlc(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control 0, then an EtherType."""
    if end - off < 4:
        raise Truncated("Cisco HDLC header needs 4 bytes", "truncated-link")
    protocol = (buf[off + 2] << 8) | buf[off + 3]
    if protocol < 0x0600:
        return NOT_IP, off + 4
    return protocol, off + 4  # SLARP (0x8035), CDP (0x2000) ... are counted as non-IP later


def strip_ppi(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """PPI (Per-Packet Information, CACE/Riverbed): version 0, flags, little-endian header length
    and link type of the frame it wraps."""
    if end - off < 8:
        raise Truncated("PPI header needs 8 bytes", "truncated-link")
    version = buf[off]
    length = buf[off + 2] | (buf[off + 3] << 8)
    inner = int.from_bytes(buf[off + 4 : off + 8], "little")
    if version != 0 or length < 8:
        raise Malformed(f"PPI header version {version}, length {length} is not one", "malformed-link")
    if length > end - off:
        raise Truncated(f"PPI header of {length} bytes cut short", "truncated-link")
    if inner not in PPI_INNER:
        raise Unsupported(f"link type {inner} inside PPI is not decoded", "unsupported-link-type")
    return strip_link(inner, buf, off + length, end)


def strip_ppp(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """PPP with or without the HDLC address/control bytes (ff 03) and protocol compression."""
    pos = off
    if end - pos >= 2 and buf[pos] == 0xFF and buf[pos + 1] == 0x03:
        pos += 2
    if end - pos < 1:
        raise Truncated("PPP header cut short", "truncated-link")
    if buf[pos] & 1:  # RFC 1661 §6.5: a compressed one-byte protocol field is odd
        return ppp_protocol(buf[pos], pos + 1)
    if end - pos < 2:
        raise Truncated("PPP header cut short", "truncated-link")
    return ppp_protocol((buf[pos] << 8) | buf[pos + 1], pos + 2)


def ppp_protocol(protocol: int, pos: int) -> tuple[int, int]:
    """The EtherType for a PPP protocol number (RFC 1332 IPv4, RFC 5072 IPv6; others not IP)."""
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
