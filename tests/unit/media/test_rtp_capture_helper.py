"""An independent way to get UDP datagrams out of a capture for the RTP tests: dpkt, not our
pipeline, so the RTP decoders and stream table are checked against a second reader. Also the
SDP-carrying SIP messages, so tests can drive ``RtpStreamTable.expect_sdp`` the way the
pipeline does."""

from __future__ import annotations

import socket
from pathlib import Path

import dpkt

from decoders.records import Endpoint
from decoders.sip import looks_like_sip, parse_sip
from decoders.errors import DecodeError
from ladder.media.streams import RtpStreamTable

_LINKS = {1: dpkt.ethernet.Ethernet, 113: dpkt.sll.SLL, 0: dpkt.loopback.Loopback}


def udp_datagrams(path: Path):
    """(frame, ts_ns, src_ip, sport, dst_ip, dport, payload) for every unfragmented UDP
    datagram over Ethernet (VLAN too), Linux SLL or BSD loopback."""
    with open(path, "rb") as handle:
        reader = dpkt.pcap.UniversalReader(handle)
        link = _LINKS[reader.datalink()]
        for number, (ts, raw) in enumerate(reader, 1):
            try:
                ip = link(raw).data
            except (dpkt.UnpackError, IndexError):
                continue
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, dpkt.udp.UDP):
                continue
            family = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else socket.AF_INET6
            udp = ip.data
            yield (number, round(ts * 1_000_000) * 1000, socket.inet_ntop(family, ip.src), udp.sport,
                   socket.inet_ntop(family, ip.dst), udp.dport, bytes(udp.data))


def feed_table(path: Path) -> RtpStreamTable:
    """A table fed like the pipeline feeds it: SIP with SDP to ``expect_sdp``, the rest of UDP
    to ``feed_udp``."""
    table = RtpStreamTable()
    for number, ts_ns, src, sport, dst, dport, data in udp_datagrams(path):
        if looks_like_sip(data):
            try:
                message = parse_sip(data)
            except DecodeError:
                continue
            if message.sdp is not None:
                table.expect_sdp(message.with_context(Endpoint(src, sport), Endpoint(dst, dport), (), ts_ns))
            continue
        table.feed_udp(src, sport, dst, dport, ts_ns, number, data, 0, len(data))
    return table
