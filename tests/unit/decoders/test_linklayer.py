"""Link layers, IP headers and tunnels, each proven by getting the SIP message out of a crafted
frame (decoders.linklayer / ip / tunnels through ladder.capture.pipeline)."""

from __future__ import annotations

import struct

import pytest

from captures_crafted import (
    erspan2, erspan3, ethernet, gre, ipv4, ipv6, null_loopback, pppoe, sip_invite, sll, sll2, udp, write_pcap,
)
from decoders.errors import Truncated, Unsupported
from decoders.linklayer import strip_link
from ladder.capture.loader import load_capture

INVITE = sip_invite()
T0 = 1_600_000_000_000_000_000


def _load(tmp_path, frame: bytes, linktype: int = 1):
    path = write_pcap(tmp_path / "one.pcap", [(T0, frame)], linktype=linktype)
    capture = load_capture(str(path))
    assert sum(capture.frame_classes.values()) == capture.frames == 1
    return capture


def _only_sip(capture):
    assert capture.frame_classes == {"sip": 1}, capture.diagnostic_list
    (message,) = capture.sip_messages
    assert message.call_id == "crafted-1@example.com"
    return message


CASES = {
    "ethernet": (1, ethernet(ipv4(udp(INVITE)))),
    "802.1q": (1, ethernet(ipv4(udp(INVITE)), vlans=((0x8100, 10),))),
    "qinq-88a8": (1, ethernet(ipv4(udp(INVITE)), vlans=((0x88A8, 100), (0x8100, 10)))),
    "qinq-9100": (1, ethernet(ipv4(udp(INVITE)), vlans=((0x9100, 100), (0x8100, 10)))),
    "pppoe": (1, ethernet(pppoe(ipv4(udp(INVITE))), ethertype=0x8864)),
    "vlan+pppoe": (1, ethernet(pppoe(ipv4(udp(INVITE))), ethertype=0x8864, vlans=((0x8100, 7),))),
    "linux-sll": (113, sll(ipv4(udp(INVITE)))),
    "linux-sll2": (276, sll2(ipv4(udp(INVITE)))),
    "linux-sll-vlan": (113, sll(struct.pack("!HH", 10, 0x0800) + ipv4(udp(INVITE)), protocol=0x8100)),
    "linux-sll2-ipv6": (276, sll2(ipv6(udp(INVITE)), protocol=0x86DD)),
    "null-little-endian": (0, null_loopback(ipv4(udp(INVITE)), 2, "<")),
    "null-big-endian": (0, null_loopback(ipv4(udp(INVITE)), 2, ">")),
    "null-ipv6-freebsd": (0, null_loopback(ipv6(udp(INVITE)), 28, "<")),
    "loop": (108, null_loopback(ipv4(udp(INVITE)), 2, ">")),
    "raw-101-v4": (101, ipv4(udp(INVITE))),
    "raw-101-v6": (101, ipv6(udp(INVITE))),
    "raw-12": (12, ipv4(udp(INVITE))),
    "raw-14": (14, ipv4(udp(INVITE))),
    "ipv4-228": (228, ipv4(udp(INVITE))),
    "ipv6-229": (229, ipv6(udp(INVITE))),
    "ppp": (9, b"\xff\x03\x00\x21" + ipv4(udp(INVITE))),
    "ppp-compressed-protocol": (9, b"\x21" + ipv4(udp(INVITE))),
    "ip-in-ip": (1, ethernet(ipv4(ipv4(udp(INVITE)), proto=4))),
    "ipv6-in-ipv4": (1, ethernet(ipv4(ipv6(udp(INVITE)), proto=41))),
    "gre-ipv4": (1, ethernet(ipv4(gre(ipv4(udp(INVITE)), 0x0800, key=5), proto=47))),
    "gre-bridged-ethernet": (1, ethernet(ipv4(gre(ethernet(ipv4(udp(INVITE))), 0x6558), proto=47))),
    "gre-ppp": (1, ethernet(ipv4(gre(b"\xff\x03\x00\x21" + ipv4(udp(INVITE)), 0x880B), proto=47))),
    "erspan-1": (1, ethernet(ipv4(gre(ethernet(ipv4(udp(INVITE))), 0x88BE), proto=47))),
    "erspan-2": (1, ethernet(ipv4(erspan2(ethernet(ipv4(udp(INVITE)))), proto=47))),
    "erspan-3": (1, ethernet(ipv4(erspan3(ethernet(ipv4(udp(INVITE)))), proto=47))),
    "erspan-3-no-platform": (1, ethernet(ipv4(erspan3(ethernet(ipv4(udp(INVITE))), platform=False), proto=47))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sip_found_through_every_encapsulation(tmp_path, name):
    linktype, frame = CASES[name]
    _only_sip(_load(tmp_path, frame, linktype))


def test_inner_addresses_of_a_tunnel_are_the_sip_endpoints(tmp_path):
    inner = ipv4(udp(INVITE, 5070, 5080), src="10.0.0.1", dst="10.0.0.2")
    frame = ethernet(ipv4(erspan2(ethernet(inner)), src="192.0.2.9", dst="192.0.2.10", proto=47))
    message = _only_sip(_load(tmp_path, frame))
    assert (str(message.src), str(message.dst)) == ("10.0.0.1:5070/udp", "10.0.0.2:5080/udp")


def test_ipv6_extension_headers_are_walked(tmp_path):
    # Hop-by-hop (8 bytes) then Destination Options (16 bytes) before UDP.
    upper = udp(INVITE)
    hop = bytes([60, 0]) + bytes(6)
    dest = bytes([17, 1]) + bytes(14)
    frame = ethernet(ipv6(hop + dest + upper, nxt=0), ethertype=0x86DD)
    message = _only_sip(_load(tmp_path, frame))
    assert message.src.ip == "2001:db8::1"


def test_ethernet_padding_is_ignored(tmp_path):
    frame = ethernet(ipv4(udp(INVITE))) + b"\x00" * 6
    assert _only_sip(_load(tmp_path, frame)).raw == INVITE


def test_unsupported_link_type_is_a_diagnostic(tmp_path):
    capture = _load(tmp_path, b"\x00" * 40, linktype=147)  # LINKTYPE_USER0
    assert capture.frame_classes == {"unsupported-link-type": 1}
    assert capture.diagnostics == {"unsupported-link-type": 1}
    assert capture.diagnostic_list[0].frame == 1


def test_non_ip_frames_are_counted(tmp_path):
    arp = ethernet(bytes(28), ethertype=0x0806)
    capture = _load(tmp_path, arp)
    assert capture.frame_classes == {"non-ip": 1}


def test_strip_link_errors_carry_reasons():
    with pytest.raises(Unsupported) as info:
        strip_link(999, b"abc", 0, 3)
    assert info.value.reason == "unsupported-link-type"
    with pytest.raises(Truncated) as info:
        strip_link(1, b"\x00" * 10, 0, 10)
    assert info.value.reason == "truncated-link"
    # Nine stacked VLAN tags are no real frame.
    tags = struct.pack("!HH", 0x8100, 1) * 9
    with pytest.raises(Truncated):
        strip_link(1, bytes(12) + tags + b"\x08\x00", 0, 12 + len(tags) + 2)
