"""Rich link layers decoded with dpkt: IEEE 802.11 (bare, radiotap, AVS, Prism), PPPoE without
Ethernet, and the 802.2 LLC/SNAP header that Wi-Fi and ATM carry IP in.

dpkt decodes the link header only, never the IP packet, so it cannot decode (and silently
swallow errors in) what follows. It decodes each header *layout* once: the radiotap present
bitmaps, the 802.11 frame control bits, PPPoE's code and protocol field, each given to dpkt as a
zero-filled header; the answer (where the flags octet is, how long the MAC header is) is memoised
by ``lru_cache``. Per frame only a few octets are read, because a Wi-Fi capture of a call is
mostly RTP and dpkt objects per packet are what DESIGN §5 warns against (measured: 30 µs -> 2.7 µs
per radiotap QoS data frame). Management and control frames are classed from the frame control
octet alone.

Each ``strip_*`` returns ``(ethertype, offset)`` into the caller's buffer, as
``decoders.linklayer.strip_link`` does, and raises ``DecodeError`` only: every dpkt exception is
mapped to a kebab-case reason. Truncation uses ``truncated-link`` so the pipeline can tell a
snaplen cut from a broken frame.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Any, Callable

import dpkt
from dpkt import ieee80211, pppoe, radiotap

from decoders.errors import Malformed, Truncated, Unsupported
from decoders.linklayer import (
    ETH_IPV4,
    LINKTYPE_ATM_RFC1483,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_AVS,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_PPP_ETHER,
    LINKTYPE_PRISM_HEADER,
    NOT_IP,
    ppp_protocol,
)

# 802.11 frame control, first octet: version (bits 0-1), type (2-3), subtype (4-7).
WLAN_TYPE_DATA = 2
WLAN_SUBTYPE_DATA = 0
WLAN_SUBTYPE_QOS_DATA = 8
WLAN_SUBTYPE_NO_PAYLOAD = 0x4  # Null, CF-Ack, CF-Poll and their QoS forms carry no MSDU
# Frame control, second octet.
WLAN_MORE_FRAGMENTS = 0x04
WLAN_PROTECTED = 0x40
WLAN_ORDER = 0x80  # on a QoS data frame: a 4-byte HT Control field follows QoS Control
WLAN_LAYOUT_FLAGS = 0x03 | WLAN_ORDER  # To DS, From DS and Order decide the header's length
WLAN_HT_CONTROL_LEN = 4
WLAN_QOS_AMSDU = 0x80  # QoS Control bit 7: the payload is an A-MSDU
AMSDU_SUBFRAME_HEADER = 14  # DA, SA, length
# The longest data header dpkt decodes: 4 addresses, sequence control, QoS control.
WLAN_MAX_HEADER = 32

# Radiotap flags field (radiotap.org "Flags"): the header is padded to 32 bits before the
# payload; the frame failed its FCS check.
RADIOTAP_DATA_PAD = 0x20
RADIOTAP_BAD_FCS = 0x40

# AVS capture header (LINKTYPE_IEEE802_11_AVS): big-endian version word 0x8021100N, then length.
AVS_MAGIC_MASK = 0xFFFFFFF0
AVS_MAGIC = 0x80211000
# Prism monitor header (LINKTYPE_PRISM_HEADER): message code and message length, host order.
PRISM_MIN_HEADER = 8

# 802.2 LLC: the SNAP SAP (RFC 1042) and the old SAP for IP (RFC 1042 §"IEEE 802 networks").
LLC_SNAP = 0xAA
LLC_UI = 0x03
LLC_SAP_IP = 0x06
SNAP_ENCAPSULATED_ETHERNET = (b"\x00\x00\x00", b"\x00\x00\xf8")  # RFC 1042, IEEE 802.1H

PPPOE_SESSION = 0x00


def strip_radiotap(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """LINKTYPE_IEEE802_11_RADIOTAP (127): radiotap header, then an 802.11 frame."""
    if end - off < 8:
        raise Truncated("radiotap header needs 8 bytes", "truncated-link")
    if buf[off] != 0:
        raise Malformed(f"radiotap version {buf[off]} (only 0 is defined)", "malformed-radiotap")
    length = buf[off + 2] | (buf[off + 3] << 8)
    if length < 8:
        raise Malformed(f"radiotap length {length} is shorter than its own 8-byte header", "malformed-radiotap")
    if length > end - off:
        raise Truncated(f"radiotap header of {length} bytes cut short", "truncated-link")
    # The layout (length and present bitmaps) fixes where the flags octet is; TSFT and signal
    # values change every frame and do not matter.
    words_end = off + 8
    while buf[words_end - 1] & 0x80:  # bit 31 of a present word: another word follows
        words_end += 4
        if words_end > off + length:
            raise Malformed("radiotap present bitmaps run past the header length", "malformed-radiotap")
    flags_at = _radiotap_flags_at(bytes(buf[off + 2 : words_end]))
    flags = buf[off + flags_at] if flags_at else 0
    if flags & RADIOTAP_BAD_FCS:
        # The receiver discarded this frame: its SIP never reached the far end.
        raise Malformed("802.11 frame failed its FCS check (radiotap flags)", "bad-fcs-80211")
    return strip_80211(buf, off + length, end, data_pad=bool(flags & RADIOTAP_DATA_PAD))


@lru_cache(maxsize=256)
def _radiotap_flags_at(layout: bytes) -> int:
    """Offset of the Flags octet in a radiotap header of ``layout`` (its length field and present
    bitmaps), 0 when absent. dpkt decodes a zero-filled header of that layout: fields that run
    past the declared length make it malformed."""
    length = layout[0] | (layout[1] << 8)
    header = _unpack(
        radiotap.Radiotap, b"\x00\x00" + layout + bytes(length - 2 - len(layout)), "radiotap header",
        "malformed-radiotap", short_is_malformed=True,
    )
    if not header.flags_present:
        return 0
    position = 4 + len(header.present_flags)
    if header.tsft_present:  # the only field before Flags: 8 bytes, 8-aligned
        position += -position % 8 + 8
    return position


def strip_avs(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """LINKTYPE_IEEE802_11_AVS (163): AVS header (big-endian length at byte 4), then 802.11."""
    if end - off < 8:
        raise Truncated("AVS header needs 8 bytes", "truncated-link")
    magic, length = struct.unpack_from("!II", buf, off)
    if magic & AVS_MAGIC_MASK != AVS_MAGIC or length < 8:
        raise Malformed(f"AVS header (version {magic:#x}, length {length}) is not one", "malformed-link")
    if length > end - off:
        raise Truncated(f"AVS header of {length} bytes cut short", "truncated-link")
    return strip_80211(buf, off + length, end)


def strip_prism(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """LINKTYPE_PRISM_HEADER (119): a Prism header (or, as libpcap allows, an AVS one), then 802.11."""
    if end - off < PRISM_MIN_HEADER:
        raise Truncated("Prism header needs 8 bytes", "truncated-link")
    if struct.unpack_from("!I", buf, off)[0] & AVS_MAGIC_MASK == AVS_MAGIC:
        return strip_avs(buf, off, end)
    # The message length is in the capturing host's byte order: the smaller reading is it.
    length = min(struct.unpack_from("<I", buf, off + 4)[0], struct.unpack_from(">I", buf, off + 4)[0])
    if length < PRISM_MIN_HEADER:
        raise Malformed(f"Prism header length {length} is shorter than 8 bytes", "malformed-link")
    if length > end - off:
        raise Truncated(f"Prism header of {length} bytes cut short", "truncated-link")
    return strip_80211(buf, off + length, end)


def strip_80211(buf: bytes, off: int, end: int, data_pad: bool = False) -> tuple[int, int]:
    """LINKTYPE_IEEE802_11 (105): an 802.11 MAC frame. Data and QoS data frames yield their
    LLC/SNAP payload; management, control and payload-less data frames are not IP.

    Raises ``Unsupported`` with ``encrypted-80211`` (protected frames), ``fragmented-80211``,
    ``aggregated-80211`` (an A-MSDU of several MSDUs) or ``unsupported-80211-subtype`` (CF data
    subtypes, unused since PCF never shipped)."""
    if end - off < 2:
        raise Truncated("802.11 frame control needs 2 bytes", "truncated-link")
    control, flags = buf[off], buf[off + 1]
    if control & 0x03:
        raise Malformed(f"802.11 protocol version {control & 0x03} (only 0 is defined)", "malformed-80211")
    subtype = control >> 4
    if (control >> 2) & 0x03 != WLAN_TYPE_DATA or subtype & WLAN_SUBTYPE_NO_PAYLOAD:
        return NOT_IP, off  # beacons, probes, ACKs, RTS/CTS, null data: never SIP
    if flags & WLAN_PROTECTED:
        raise Unsupported("protected 802.11 frame (WEP/WPA/WPA2): its payload is encrypted", "encrypted-80211")
    if subtype not in (WLAN_SUBTYPE_DATA, WLAN_SUBTYPE_QOS_DATA):
        raise Unsupported(f"802.11 data subtype {subtype} (CF-Ack/CF-Poll) is not decoded", "unsupported-80211-subtype")
    header_len = _wlan_header_len(control, flags & WLAN_LAYOUT_FLAGS)
    if end - off < header_len:
        raise Truncated(f"802.11 header of {header_len} bytes cut short", "truncated-link")
    # Sequence control (offset 22, little-endian): the low 4 bits number the fragment.
    if flags & WLAN_MORE_FRAGMENTS or buf[off + 22] & 0x0F:
        raise Unsupported("fragmented 802.11 MSDU (reassembly is not done)", "fragmented-80211")
    amsdu = False
    if subtype == WLAN_SUBTYPE_QOS_DATA:
        qos_at = off + header_len - 2 - (WLAN_HT_CONTROL_LEN if flags & WLAN_ORDER else 0)
        amsdu = bool(buf[qos_at] & WLAN_QOS_AMSDU)
    if data_pad:
        header_len += -header_len % 4
    pos = off + header_len
    if pos > end:
        raise Truncated("802.11 header padding cut short", "truncated-link")
    if amsdu:
        pos, end = _single_amsdu_subframe(buf, pos, end)
    return strip_llc(buf, pos, end)


@lru_cache(maxsize=64)
def _wlan_header_len(control: int, layout_flags: int) -> int:
    """MAC header length of a data / QoS data frame whose frame control is ``control`` and whose
    DS and Order bits are ``layout_flags``: dpkt decodes a zero-filled frame of that layout."""
    frame = bytes([control, layout_flags]) + bytes(WLAN_MAX_HEADER - 2)
    decoded = _unpack(ieee80211.IEEE80211, frame, "802.11 header", "malformed-80211")
    header_len = len(frame) - len(decoded.data)  # dpkt leaves what follows its header in .data
    if control >> 4 == WLAN_SUBTYPE_QOS_DATA and layout_flags & WLAN_ORDER:
        header_len += WLAN_HT_CONTROL_LEN  # dpkt does not know 802.11n's HT Control field
    return header_len


def _single_amsdu_subframe(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The MSDU of an A-MSDU holding exactly one subframe (802.11-2020 §9.3.2.2.2). Several
    subframes would need several results from one frame, which the link layer cannot give."""
    if end - pos < AMSDU_SUBFRAME_HEADER:
        raise Truncated("A-MSDU subframe header cut short", "truncated-link")
    length = (buf[pos + 12] << 8) | buf[pos + 13]
    start = pos + AMSDU_SUBFRAME_HEADER
    if start + length > end:
        raise Truncated(f"A-MSDU subframe of {length} bytes cut short", "truncated-link")
    following = start + length + (-(AMSDU_SUBFRAME_HEADER + length) % 4)
    if end - following >= AMSDU_SUBFRAME_HEADER:
        raise Unsupported("A-MSDU with several subframes is not decoded", "aggregated-80211")
    return start, start + length


def strip_llc(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """802.2 LLC (LINKTYPE_ATM_RFC1483 too): SNAP with an RFC 1042 / 802.1H OUI carries an
    EtherType; the old IP SAP carries IPv4; anything else is not IP."""
    if end - off < 3:
        raise Truncated("802.2 LLC header needs 3 bytes", "truncated-link")
    dsap, ssap, ctl = buf[off], buf[off + 1], buf[off + 2]
    if dsap == LLC_SNAP and ssap == LLC_SNAP and ctl == LLC_UI:
        if end - off < 8:
            raise Truncated("SNAP header needs 5 bytes after LLC", "truncated-link")
        if bytes(buf[off + 3 : off + 6]) not in SNAP_ENCAPSULATED_ETHERNET:
            return NOT_IP, off + 8  # a vendor protocol (Cisco CDP, Apple AARP ...)
        ethertype = (buf[off + 6] << 8) | buf[off + 7]
        return (NOT_IP if ethertype < 0x0600 else ethertype), off + 8
    if dsap == LLC_SAP_IP and ssap == LLC_SAP_IP:
        return ETH_IPV4, off + 3
    return NOT_IP, off + 3


def strip_ppp_ether(buf: bytes, off: int, end: int) -> tuple[int, int]:
    """LINKTYPE_PPP_ETHER (51): a PPPoE header (RFC 2516 §4) without the Ethernet header."""
    if end - off < 6:
        raise Truncated("PPPoE header needs 6 bytes", "truncated-link")
    # Version/type, code and the PPP protocol field decide everything; session id and length
    # change per session and per packet.
    protocol = bytes(buf[off + 6 : min(end, off + 8)])
    if protocol and protocol[0] & 1:
        protocol = protocol[:1]  # compressed: the second octet is already the IP header
    ethertype, length = _pppoe_layout(buf[off], buf[off + 1], protocol)
    return ethertype, off + length


@lru_cache(maxsize=64)
def _pppoe_layout(version_type: int, code: int, protocol: bytes) -> tuple[int, int]:
    """(EtherType, header length) of a PPPoE frame of that layout, decoded by dpkt."""
    session = _unpack(
        pppoe.PPPoE, bytes([version_type, code, 0, 0, 0, len(protocol)]) + protocol, "PPPoE header", "malformed-pppoe"
    )
    if session.v != 1 or session.type != 1:
        raise Malformed(f"PPPoE version/type {session.v}/{session.type} (RFC 2516 requires 1/1)", "malformed-pppoe")
    if session.code != PPPOE_SESSION:
        return NOT_IP, 6  # discovery (PADI, PADO, PADR, PADS, PADT)
    ppp = getattr(session, "ppp", None)
    if ppp is None:  # dpkt drops the PPP layer when its 2-byte protocol field is cut
        raise Truncated("PPP protocol field cut short", "truncated-link")
    protocol_len = 1 if protocol[0] & 1 else 2  # RFC 1661 §6.5 protocol field compression
    ethertype, _ = ppp_protocol(ppp.p, 0)
    return ethertype, 6 + protocol_len


def _unpack(packet_class: Callable[[bytes], Any], data: bytes, what: str, reason: str,
            short_is_malformed: bool = False) -> Any:
    """``packet_class(data)`` with every dpkt failure mapped to a DecodeError. dpkt's
    ``NeedData`` is a cut frame unless ``data`` is a header whose own length field the caller
    already checked (then fields that overrun it are malformed)."""
    try:
        return packet_class(data)
    except dpkt.NeedData as exc:
        if short_is_malformed:
            raise Malformed(f"{what}: fields run past its length ({exc})", reason) from None
        raise Truncated(f"{what} cut short: {exc}", "truncated-link") from None
    except (dpkt.UnpackError, struct.error, IndexError, KeyError, ValueError) as exc:
        raise Malformed(f"{what}: {exc}", reason) from None


def strip_dpkt_link(linktype: int, buf: bytes, off: int, end: int) -> tuple[int, int]:
    """(ethertype, network offset) of a frame of one of ``linklayer.DPKT_LINKS``."""
    if linktype == LINKTYPE_IEEE802_11:
        return strip_80211(buf, off, end)
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        return strip_radiotap(buf, off, end)
    if linktype == LINKTYPE_IEEE802_11_AVS:
        return strip_avs(buf, off, end)
    if linktype == LINKTYPE_PRISM_HEADER:
        return strip_prism(buf, off, end)
    if linktype == LINKTYPE_PPP_ETHER:
        return strip_ppp_ether(buf, off, end)
    if linktype == LINKTYPE_ATM_RFC1483:
        return strip_llc(buf, off, end)
    raise Unsupported(f"link type {linktype} is not decoded through dpkt", "unsupported-link-type")
