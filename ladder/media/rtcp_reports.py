"""RTCP of one capture's RTP streams (RFC 3550 §6): which datagrams are RTCP of a known stream,
and what their sender reports, reception reports, SDES CNAMEs and XR VoIP metrics (RFC 3611)
say about each stream, including the round-trip time from LSR/DLSR."""

from __future__ import annotations

from typing import TYPE_CHECKING

from decoders.errors import DecodeError
from decoders.rtcp import ExtendedReport, ReceiverReport, ReportBlock, SenderReport, SourceDescription, decode_rtcp

if TYPE_CHECKING:
    from ladder.media.streams import _State as StreamState


class RtcpReports:
    """Reads RTCP against the RTP table's own indexes of streams (``flows``: 4-tuple -> latest
    stream; ``by_ssrc``), which it only reads; problems are counted in ``diagnostics``."""

    def __init__(self, flows: dict[tuple[str, int, str, int], StreamState],
                 by_ssrc: dict[int, list[StreamState]], diagnostics: dict[str, int]) -> None:
        self._flows = flows
        self._by_ssrc = by_ssrc
        self._diagnostics = diagnostics
        # RTCP address announced by SDP -> when it was announced (``forget_before`` prunes by it)
        self.ports: dict[tuple[str, int], int] = {}
        self._last_sr: dict[int, tuple[int, int]] = {}  # SSRC -> (NTP middle 32, arrival ns)
        self._sr_arrival: dict[int, int] = {}  # NTP middle 32 of each SSRC's last SR -> arrival
        self.packets = 0  # RTCP datagrams of known streams

    def announce(self, address: str, port: int, ts_ns: int) -> None:
        """SDP said RTCP for a stream arrives at ``address``:``port``."""
        self.ports[(address, port)] = ts_ns

    def forget_before(self, ts_ns: int) -> None:
        """Drop what was last heard of before ``ts_ns`` (a live capture bounded by ``--limit``)."""
        self.ports = {key: seen for key, seen in self.ports.items() if seen >= ts_ns}
        self._last_sr = {ssrc: sr for ssrc, sr in self._last_sr.items() if sr[1] >= ts_ns}
        self._sr_arrival = {ntp: arrival for ntp, arrival in self._sr_arrival.items() if arrival >= ts_ns}

    def feed(self, src_ip: str, src_port: int, dst_ip: str, dst_port: int, ts_ns: int, buf: bytes, off: int,
             end: int) -> None:
        """One datagram that looks like RTCP: counted and read when it belongs to a known stream."""
        flows = self._flows
        # Announced RTCP ports, a stream's own 4-tuple either way (rtcp-mux), or the ports one
        # above a stream's either way (the sender's SRs and the receiver's RRs).
        known = ((dst_ip, dst_port) in self.ports or (src_ip, src_port) in self.ports
                 or (src_ip, src_port, dst_ip, dst_port) in flows
                 or (dst_ip, dst_port, src_ip, src_port) in flows
                 or (src_ip, src_port - 1, dst_ip, dst_port - 1) in flows
                 or (dst_ip, dst_port - 1, src_ip, src_port - 1) in flows)
        try:
            packets = decode_rtcp(buf, off, end)
        except DecodeError as exc:
            if known:
                self.packets += 1
                reason = "rtcp-malformed" if exc.reason != "rtcp-truncated" else exc.reason
                self._diagnostics[reason] = self._diagnostics.get(reason, 0) + 1
            return
        if not known and not isinstance(packets[0], (SenderReport, ReceiverReport)):
            return
        self.packets += 1
        for packet in packets:
            if isinstance(packet, SenderReport):
                previous = self._last_sr.get(packet.ssrc)
                if previous is not None:
                    self._sr_arrival.pop(previous[0], None)
                self._last_sr[packet.ssrc] = (packet.ntp_middle, ts_ns)
                self._sr_arrival[packet.ntp_middle] = ts_ns
                for st in self._streams_of_ssrc(packet.ssrc, src_ip, True):
                    st.sr += 1
            if isinstance(packet, (SenderReport, ReceiverReport)):
                for block in packet.reports:
                    for st in self._streams_of_ssrc(block.ssrc, src_ip, False):
                        st.rr += 1
                        st.rr_report = block
                        st.rtt_ms = self._rtt_ms(block, ts_ns, st.rtt_ms)
            elif isinstance(packet, SourceDescription):
                for ssrc, items in packet.chunks:
                    for name, text in items:
                        if name == "cname":
                            for st in self._streams_of_ssrc(ssrc, src_ip, True):
                                st.cname = text
            elif isinstance(packet, ExtendedReport):
                for metrics in packet.voip_metrics:
                    for st in self._streams_of_ssrc(metrics.ssrc, src_ip, False):
                        st.xr = metrics

    def _rtt_ms(self, block: ReportBlock, ts_ns: int, previous: float | None) -> float | None:
        """RFC 3550 §6.4.1: RTT = arrival of the report - LSR - DLSR, with the SR's capture
        time standing in for LSR (the capture has no access to the sender's NTP clock)."""
        if block.lsr == 0:
            return previous
        sr_ns = self._sr_arrival.get(block.lsr)
        if sr_ns is None:
            return previous
        rtt = (ts_ns - sr_ns) / 1e6 - block.dlsr * 1000 / 65536
        return rtt if rtt >= 0 else previous

    def _streams_of_ssrc(self, ssrc: int, rtcp_src_ip: str, sender: bool) -> list[StreamState]:
        """Streams with ``ssrc``; a sender's RTCP comes from the stream's source address, a
        receiver's report from its destination, which picks the right copy of a relayed SSRC."""
        matches = self._by_ssrc.get(ssrc, [])
        if len(matches) > 1:
            near = [st for st in matches if (st.src_ip if sender else st.dst_ip) == rtcp_src_ip]
            return near or matches
        return matches
