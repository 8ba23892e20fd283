#!/usr/bin/env python3
"""Build the 16 RFC 3665 sample captures and ``rfc3665-flows.json`` from the RFC text itself.

    python3 samples/build_samples.py [--rfc PATH] [--out DIR]

For each flow (§2.1–§2.5, §3.1–§3.11) this reads the diagram (columns, arrows with their
F-numbers, media bars) and the "Message Details" (the messages as printed, the RFC's known
text errors corrected by ``rfc3665_errata.py``), then writes a pcap in which the messages
travel between the actors' addresses in F-number order, with SIP timer-true timing and PCMU
RTP where the diagram shows media. Deterministic: no clock,
no randomness; the same RFC text gives the same bytes. See samples/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (ROOT, HERE):  # runnable from a plain checkout (installed or not), and importable
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from ladder.export.pcap_writer import FrameFactory, PcapWriter, TcpConnection  # noqa: E402
from rfc3665_diagram import Diagram, MediaBar, parse_diagram  # noqa: E402
from rfc3665_errata import apply_corrections  # noqa: E402
from rfc3665_text import BuildError, Message, Section, parse_actors, parse_messages, slug  # noqa: E402
from rfc3665_text import split_sections, strip_page_breaks  # noqa: E402
from sample_rtp import MS, RTP_PACKET_NS, RTP_PACKETS, rtp_frames  # noqa: E402
from sample_sip import sdp_address, sip_facts  # noqa: E402

DEFAULT_RFC = ROOT.parent / "shared" / "reference" / "rfc3665.txt"
DEFAULT_OUT = HERE
FLOWS_JSON = "rfc3665-flows.json"

# 2003-12-01T00:00:00Z (the RFC's month); each flow starts one hour after the previous one.
BASE_TS_NS = 1_070_236_800 * 1_000_000_000
FLOW_SPACING_NS = 3600 * 1_000_000_000

T1_NS = 500 * MS  # RFC 3261 §17.1.1.1: retransmissions at T1, 2*T1, 4*T1 ...
TIMER_B_NS = 64 * T1_NS  # RFC 3261 §17.1.1.2: the INVITE client transaction gives up
RING_NS = 2500 * MS  # the callee's phone rings this long before the answer (or 480)
GIVE_UP_NS = 5000 * MS  # the caller listens to ringing this long before CANCEL (§3.8)
RTP_START_NS = 20 * MS  # first media packet after the ACK that precedes the bar
RTP_REVERSE_OFFSET_NS = 2_500_000  # the answering side's packets lag by 2.5 ms
RTP_LEG_OFFSET_NS = 5 * MS  # a second bar on the same row (§3.5's ALG legs) starts later
TCP_HANDSHAKE_LEAD_NS = 1 * MS  # SYN this long before the first message on a connection
TCP_CLOSE_AFTER_NS = 100 * MS

SIP_PORT = 5060
SIPS_PORT = 5061

# The diagram's column names and the host each stands for (hosts resolve through the RFC's
# §1.3 actors table). The §3.6 redirect server is not in that table: biloxi.example.com's
# redirect service is given ss2 (its proxy/registrar, which knows where Bob is).
COLUMN_HOSTS = {
    "Alice": "client.atlanta.example.com",
    "Bob": "client.biloxi.example.com",
    "SIP Server": "ss2.biloxi.example.com",
    "Proxy 1": "ss1.atlanta.example.com",
    "Proxy 2": "ss2.biloxi.example.com",
    "Proxy 3": "ss3.chicago.example.com",
    "ALG": "alg1.atlanta.example.com",
    "Redirect Server": "ss2.biloxi.example.com",
}
USER_AGENT_COLUMNS = {"Alice", "Bob"}
# Names the message headings use where they differ from the diagram's column names.
HEADING_ALIASES = {"SIP ALG": "ALG", "Redirect Proxy": "Redirect Server", "Proxy": "Proxy 3"}


@dataclass(frozen=True, slots=True)
class Flow:
    """One RFC flow: its section, diagram, messages, and notes on where the bytes differ from
    the printed text."""

    section: Section
    diagram: Diagram
    messages: list[Message]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Cross-checks between the diagram and the message details
# ---------------------------------------------------------------------------------------


def check_flow(flow: Flow) -> None:
    """The diagram and the message details must tell the same story: the same F-numbers,
    each message's method or status code as the arrow's label, the heading's "A -> B" as
    the arrow's columns."""
    number = flow.section.number
    arrows, messages, columns = flow.diagram.arrows, flow.messages, flow.diagram.columns
    if len(messages) != len(arrows) or [m.f for m in messages] != [a.f for a in arrows]:
        raise BuildError(
            f"§{number}: the diagram has F1..F{len(arrows)}, the message details "
            f"{', '.join(f'F{m.f}' for m in messages) or 'none'}"
        )
    for arrow, message in zip(arrows, messages):
        facts = sip_facts(message.raw)
        printed = facts.method if facts.is_request else str(facts.status)
        if printed != arrow.label:
            raise BuildError(f"§{number} F{arrow.f}: diagram says {arrow.label}, message is {printed}")
        sender, receiver = heading_ends(message.heading, columns)
        if (sender, receiver) != (columns[arrow.src], columns[arrow.dst]):
            raise BuildError(
                f"§{number} F{arrow.f}: heading says {sender} -> {receiver}, diagram "
                f"{columns[arrow.src]} -> {columns[arrow.dst]}"
            )


def heading_ends(heading: str, columns: list[str]) -> tuple[str | None, str]:
    """Sender and receiver named by a heading such as "INVITE SIP ALG -> Proxy 2", as column
    names: the longest known name that ends the text before the arrow, and the text after it."""
    before, _, after = heading.rpartition(" -> ")

    def as_column(name: str) -> str:
        return name if name in columns else HEADING_ALIASES.get(name, name)

    known = sorted(set(columns) | set(HEADING_ALIASES), key=len, reverse=True)
    sender = next((name for name in known if before.endswith(" " + name)), None)
    return (as_column(sender) if sender else None), as_column(after.strip())


# ---------------------------------------------------------------------------------------
# The capture
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hop:
    """One SIP message on the wire."""

    f: int
    raw: bytes
    src_column: int
    dst_column: int
    src: tuple[str, int]
    dst: tuple[str, int]
    transport: str  # "udp" or "tcp" (TLS is written as plain TCP, see README)
    ts_ns: int = 0


def route_hops(flow: Flow, hosts: dict[str, str]) -> list[Hop]:
    """Addresses and ports for every message. A user agent's address follows its messages:
    the Request-URI host of a request sent to it, the Via host of a request it sends (so
    Bob's move to client.chicago in §3.7 moves his packets too)."""
    columns = flow.diagram.columns
    address = {}
    for index, name in enumerate(columns):
        host = COLUMN_HOSTS.get(name)
        if host is None or host not in hosts:
            raise BuildError(f"§{flow.section.number}: no address for the column {name!r}")
        address[index] = hosts[host]
    hops = []
    for arrow, message in zip(flow.diagram.arrows, flow.messages):
        facts = sip_facts(message.raw)
        tls = facts.via_transport == "tls"
        listening = SIPS_PORT if tls else SIP_PORT
        if facts.is_request:
            if columns[arrow.src] in USER_AGENT_COLUMNS and facts.via_host in hosts:
                address[arrow.src] = hosts[facts.via_host]
            if columns[arrow.dst] in USER_AGENT_COLUMNS and facts.uri_host in hosts:
                address[arrow.dst] = hosts[facts.uri_host]
            sport = facts.via_port or listening
            dport = SIPS_PORT if tls or facts.uri_scheme == "sips" else SIP_PORT
        else:
            sport = listening
            dport = facts.via_port or listening
        transport = "udp" if facts.via_transport == "udp" else "tcp"
        src, dst = (address[arrow.src], sport), (address[arrow.dst], dport)
        hops.append(Hop(arrow.f, message.raw, arrow.src, arrow.dst, src, dst, transport))
    return hops


def hop_gap_ns(section_index: int, f: int) -> int:
    """A quick network-and-processing hop: 5–16 ms, varied deterministically."""
    return (5 + (f * 7 + section_index * 3) % 12) * MS + (f * 337 + section_index * 91) % 1000 * 1000


def schedule(flow: Flow, hops: list[Hop], section_index: int, t0: int) -> tuple[list[Hop], dict[int, int]]:
    """The hops with their times, and when each media bar starts {bar index: time}.

    Rules (RFC 3261 timers): a re-sent message (``Same as``/``Resend of``) goes out at T1,
    2*T1, 4*T1 … after the original; the message after a run of re-sends comes when Timer B
    (64*T1) fires; after ringing reaches the caller, the callee answers (or gives up) after
    RING_NS, or the caller cancels after GIVE_UP_NS; media bars hold 2 s of RTP after the
    message above them; every other message follows the previous one by a quick hop.
    """
    messages = {m.f: m for m in flow.messages}
    caller = flow.diagram.arrows[0].src
    bars_after: dict[int, list[int]] = {}
    for bar_index, bar in enumerate(flow.diagram.media):
        above = [a.f for a in flow.diagram.arrows if a.line < bar.line]
        bars_after.setdefault(max(above), []).append(bar_index)
    windows: dict[int, int] = {}
    times: dict[int, int] = {}
    sent_at: dict[int, int] = {}
    resends: dict[int, int] = {}
    previous: Hop | None = None
    media_end = None
    for hop in hops:
        message = messages[hop.f]
        if previous is None:
            ts = t0
        elif message.copy_of is not None:
            count = resends.get(message.copy_of, 0) + 1
            resends[message.copy_of] = count
            ts = sent_at[message.copy_of] + T1_NS * (2**count - 1)
        elif messages[previous.f].copy_of is not None:
            ts = sent_at[messages[previous.f].copy_of] + TIMER_B_NS
        elif media_end is not None:
            ts = media_end + hop_gap_ns(section_index, hop.f) + RTP_PACKET_NS
        elif _is_ringing_to(previous, caller):
            facts = sip_facts(hop.raw)
            ts = times[previous.f] + (GIVE_UP_NS if facts.method == "CANCEL" else RING_NS)
        else:
            ts = times[previous.f] + hop_gap_ns(section_index, hop.f)
        times[hop.f] = ts
        sent_at.setdefault(hop.f, ts)
        media_end = None
        for leg, bar_index in enumerate(bars_after.get(hop.f, [])):
            start = ts + RTP_START_NS + leg * RTP_LEG_OFFSET_NS
            windows[bar_index] = start
            last_packet = start + RTP_REVERSE_OFFSET_NS + (RTP_PACKETS - 1) * RTP_PACKET_NS
            media_end = last_packet if media_end is None else max(media_end, last_packet)
        previous = hop
    return [replace(hop, ts_ns=times[hop.f]) for hop in hops], windows


def _is_ringing_to(hop: Hop, caller: int) -> bool:
    facts = sip_facts(hop.raw)
    return not facts.is_request and 180 <= (facts.status or 0) < 190 and hop.dst_column == caller


def media_endpoints(flow: Flow, hops: list[Hop], bar: MediaBar) -> tuple[tuple[str, int], tuple[str, int]]:
    """The RTP address of each end of a bar: the latest SDP that end sent toward the other
    end before the bar (an ALG offers one address to each side, §3.5)."""
    ends = []
    for me, other in ((bar.src, bar.dst), (bar.dst, bar.src)):
        chosen = None
        for arrow, hop in zip(flow.diagram.arrows, hops):
            if arrow.line > bar.line or hop.src_column != me:
                continue
            toward_other = (hop.dst_column - me) * (other - me) > 0
            offer = sdp_address(sip_facts(hop.raw).body)
            if toward_other and offer:
                chosen = offer
        if chosen is None:
            raise BuildError(f"§{flow.section.number}: no SDP from column {me} for a media bar")
        ends.append(chosen)
    return ends[0], ends[1]








@dataclass(frozen=True, slots=True)
class Capture:
    """What one sample holds: its frames in time order, where each SIP message went and in
    which frame (1-based) it is, and the RTP endpoints of each media bar."""

    frames: list[tuple[int, bytes]]
    hops: list[Hop]
    message_frames: dict[int, int]
    media_endpoints: list[tuple[tuple[str, int], tuple[str, int]]]


def capture_frames(flow: Flow, hosts: dict[str, str], section_index: int) -> Capture:
    hops = route_hops(flow, hosts)
    t0 = BASE_TS_NS + section_index * FLOW_SPACING_NS
    hops, windows = schedule(flow, hops, section_index, t0)
    factory = FrameFactory()
    frames: list[tuple[int, bytes, int | None]] = []  # (time, frame, F-number it carries)
    connections: dict[frozenset, TcpConnection] = {}
    for hop in hops:
        if hop.transport == "udp":
            frames.append((hop.ts_ns, factory.udp(hop.src[0], hop.src[1], hop.dst[0], hop.dst[1], hop.raw), hop.f))
            continue
        key = frozenset((hop.src, hop.dst))
        connection = connections.get(key)
        if connection is None:
            seed = zlib.crc32(f"{flow.section.number} {hop.src} {hop.dst}".encode("ascii"))
            connection = TcpConnection(
                factory, hop.src, hop.dst, client_isn=seed, server_isn=(seed * 2654435761) & 0xFFFFFFFF
            )
            connections[key] = connection
            frames.extend((ts, frame, None) for ts, frame in connection.open(hop.ts_ns - TCP_HANDSHAKE_LEAD_NS))
        segments = connection.send(hop.ts_ns, hop.src, hop.raw)
        # The last frame is the peer's pure ACK; the message is "in" its last data segment.
        for i, (ts, frame) in enumerate(segments):
            frames.append((ts, frame, hop.f if i == len(segments) - 2 else None))
    endpoints = []
    for bar_index, bar in enumerate(flow.diagram.media):
        start = windows[bar_index]
        left, right = media_endpoints(flow, hops, bar)
        endpoints.append((left, right))
        seed = f"{flow.section.number}/{bar_index}"
        # Two tones (400 Hz one way, 500 Hz the other) tell the directions apart by ear.
        forward = rtp_frames(factory, left, right, start, seed + "/a", 20)
        backward = rtp_frames(factory, right, left, start + RTP_REVERSE_OFFSET_NS, seed + "/b", 16)
        frames.extend((ts, frame, None) for ts, frame in forward + backward)
    last = max(item[0] for item in frames)
    for index, connection in enumerate(connections.values()):
        closing = connection.close(last + TCP_CLOSE_AFTER_NS + index * MS, connection.client)
        frames.extend((ts, frame, None) for ts, frame in closing)
    frames.sort(key=lambda item: item[0])  # stable: equal times keep build order
    message_frames = {f: number for number, (_, _, f) in enumerate(frames, start=1) if f is not None}
    return Capture([(ts, frame) for ts, frame, _ in frames], hops, message_frames, endpoints)


# ---------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------


def load_flows(rfc_text: str) -> tuple[list[Flow], dict[str, str]]:
    lines = strip_page_breaks(rfc_text)
    hosts = parse_actors(lines)
    flows = []
    for section in split_sections(lines):
        notes: list[str] = []
        # The RFC's known text errors are corrected so that every sample conforms (README).
        messages = apply_corrections(section.number, parse_messages(section, notes), notes)
        flow = Flow(section, parse_diagram(section), messages, notes)
        check_flow(flow)
        flows.append(flow)
    if len(flows) != 16:
        raise BuildError(f"found {len(flows)} flows with message details, expected 16")
    return flows, hosts


def file_name(flow: Flow) -> str:
    return f"rfc3665-{flow.section.number}-{slug(flow.section.title)}.pcap"


def flow_entry(flow: Flow, capture: Capture) -> dict:
    hops = capture.hops
    columns = flow.diagram.columns
    addresses: dict[int, list[str]] = {i: [] for i in range(len(columns))}
    for hop in hops:
        for column, (ip, _) in ((hop.src_column, hop.src), (hop.dst_column, hop.dst)):
            if ip not in addresses[column]:
                addresses[column].append(ip)
    participants = []
    for index, name in enumerate(columns):
        entry = {"name": name, "ip": addresses[index][0]}
        if len(addresses[index]) > 1:
            entry["ips"] = addresses[index]
        participants.append(entry)
    items: list[tuple[int, int, dict]] = []
    for arrow in flow.diagram.arrows:
        item = {"f": arrow.f, "label": arrow.label, "from": arrow.src, "to": arrow.dst}
        item["frame"] = capture.message_frames[arrow.f]
        if arrow.optional:
            item["optional"] = True
        items.append((arrow.f, 0, item))
    for bar, ends in zip(flow.diagram.media, capture.media_endpoints):
        above = max(a.f for a in flow.diagram.arrows if a.line < bar.line)
        (low, low_rtp), (high, high_rtp) = sorted(zip((bar.src, bar.dst), ends))
        rtp = {
            "from": f"{low_rtp[0]}:{low_rtp[1]}",
            "to": f"{high_rtp[0]}:{high_rtp[1]}",
            "packets_each_way": RTP_PACKETS,
        }
        items.append((above, 1 + low, {"media": True, "from": low, "to": high, "rtp": rtp}))
    items.sort(key=lambda item: (item[0], item[1]))
    return {
        "section": flow.section.number,
        "title": flow.section.title,
        "file": file_name(flow),
        "participants": participants,
        "messages": len(flow.messages),
        "transports": sorted({"tls" if sip_facts(h.raw).via_transport == "tls" else h.transport for h in hops}),
        "arrows": [item for _, _, item in items],
        "notes": flow.notes,
    }


def build(rfc_path: Path, out_dir: Path) -> list[Path]:
    flows, hosts = load_flows(rfc_path.read_text(encoding="ascii"))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    entries = []
    for index, flow in enumerate(flows):
        capture = capture_frames(flow, hosts, index)
        path = out_dir / file_name(flow)
        with open(path, "wb") as handle:
            writer = PcapWriter(handle)
            for ts_ns, frame in capture.frames:
                writer.write(ts_ns, frame)
        written.append(path)
        entries.append(flow_entry(flow, capture))
    flows_path = out_dir / FLOWS_JSON
    flows_path.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    written.append(flows_path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rfc", type=Path, default=DEFAULT_RFC, help=f"RFC 3665 text (default {DEFAULT_RFC})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        written = build(args.rfc, args.out)
    except (OSError, BuildError, UnicodeDecodeError) as exc:
        print(f"build_samples: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
