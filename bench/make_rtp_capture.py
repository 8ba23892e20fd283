"""Write a deterministic, RTP-heavy benchmark capture.

``python3 bench/make_rtp_capture.py OUT.pcap [--calls 1000] [--seconds 10]``

Each call: INVITE (with SDP) / 200 OK (with SDP) / ACK, then G.711 µ-law RTP both ways every
20 ms for ``--seconds``, then BYE / 200 OK. Calls start 100 ms apart and overlap, so the file
interleaves about a hundred live streams as a busy trunk would. 1,000 calls of 10 s are about
1,000,000 packets and 230 MB. Everything is derived from the call index: the same arguments
always give the same bytes. Frames are patched in place from per-stream templates, so writing
is fast (a few seconds).
"""

from __future__ import annotations

import argparse
import heapq
import struct
import sys

EPOCH_NS = 1_700_000_000_000_000_000
PTIME_NS = 20_000_000
CALL_SPACING_NS = 100_000_000
SAMPLES_PER_PACKET = 160
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def _ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes, ident: int = 0) -> bytes:
    """Ethernet / IPv4 / UDP around ``payload`` (IP checksum filled in, UDP checksum zero)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0x4000, 64, 17, 0, _ip(src), _ip(dst))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return MAC_B + MAC_A + b"\x08\x00" + header + udp


def _addresses(index: int) -> tuple[str, str, int, int]:
    caller = f"10.0.{index // 250}.{index % 250 + 1}"
    callee = f"10.1.{index // 250}.{index % 250 + 1}"
    return caller, callee, 20000 + 2 * (index % 10000), 30000 + 2 * (index % 10000)


def _sdp(address: str, port: int, session: int) -> bytes:
    return (
        f"v=0\r\no=- {session} 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        f"a=ptime:20\r\na=sendrecv\r\n"
    ).encode()


def _sip(start: str, index: int, caller: str, callee: str, cseq: str, to_tag: bool, body: bytes = b"") -> bytes:
    head = (
        f"{start}\r\n"
        f"Via: SIP/2.0/UDP {caller}:5060;branch=z9hG4bK-{index}-{cseq.split()[0]}\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:caller{index}@example.com>;tag=from{index}\r\n"
        f"To: <sip:callee{index}@example.com>{';tag=to' + str(index) if to_tag else ''}\r\n"
        f"Call-ID: bench-{index}@{caller}\r\n"
        f"CSeq: {cseq}\r\n"
        f"Contact: <sip:caller{index}@{caller}:5060>\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _call_signalling(index: int, start_ns: int, seconds: int) -> list[tuple[int, bytes]]:
    caller, callee, caller_port, callee_port = _addresses(index)
    uri = f"sip:callee{index}@{callee}"
    invite = _sip(f"INVITE {uri} SIP/2.0", index, caller, callee, "1 INVITE", False, _sdp(caller, caller_port, index))
    ok = _sip("SIP/2.0 200 OK", index, caller, callee, "1 INVITE", True, _sdp(callee, callee_port, index))
    ack = _sip(f"ACK {uri} SIP/2.0", index, caller, callee, "1 ACK", True)
    bye = _sip(f"BYE {uri} SIP/2.0", index, caller, callee, "2 BYE", True)
    bye_ok = _sip("SIP/2.0 200 OK", index, caller, callee, "2 BYE", True)
    end_ns = start_ns + 60_000_000 + seconds * 1_000_000_000
    return [
        (start_ns, udp_frame(caller, callee, 5060, 5060, invite)),
        (start_ns + 40_000_000, udp_frame(callee, caller, 5060, 5060, ok)),
        (start_ns + 50_000_000, udp_frame(caller, callee, 5060, 5060, ack)),
        (end_ns + 10_000_000, udp_frame(caller, callee, 5060, 5060, bye)),
        (end_ns + 30_000_000, udp_frame(callee, caller, 5060, 5060, bye_ok)),
    ]


def write_capture(path: str, calls: int, seconds: int) -> tuple[int, int]:
    """Write the capture; returns (packets, bytes)."""
    per_stream = seconds * 1_000_000_000 // PTIME_NS
    record = struct.Struct("<IIII")
    packets = 0
    written = 0
    # Events: (time, order, kind, payload). RTP streams are generated lazily from a heap of
    # (next time, stream number) so that only the live streams are in memory.
    signalling: list[tuple[int, int, bytes]] = []
    streams = []
    heap: list[tuple[int, int]] = []
    for index in range(calls):
        start_ns = EPOCH_NS + index * CALL_SPACING_NS
        for ts_ns, frame in _call_signalling(index, start_ns, seconds):
            signalling.append((ts_ns, index, frame))
        caller, callee, caller_port, callee_port = _addresses(index)
        media_start = start_ns + 60_000_000
        for direction, (src, dst, sport, dport) in enumerate(
            ((caller, callee, caller_port, callee_port), (callee, caller, callee_port, caller_port))
        ):
            ssrc = (index * 2 + direction) * 2654435761 & 0xFFFFFFFF
            payload = bytearray(struct.pack("!BBHII", 0x80, 0, 0, 0, ssrc) + bytes([0xFF]) * SAMPLES_PER_PACKET)
            template = bytearray(udp_frame(src, dst, sport, dport, bytes(payload)))
            stream_no = len(streams)
            # (template, emitted packets, first time offset: the two directions 7 ms apart)
            streams.append([template, 0])
            heapq.heappush(heap, (media_start + direction * 7_000_000, stream_no))
    signalling.sort(key=lambda item: (item[0], item[1]))
    sig_pos = 0
    with open(path, "wb", buffering=4 << 20) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        written += 24
        write = out.write
        pack = record.pack
        while heap or sig_pos < len(signalling):
            if heap and (sig_pos >= len(signalling) or heap[0][0] <= signalling[sig_pos][0]):
                ts_ns, stream_no = heapq.heappop(heap)
                state = streams[stream_no]
                template, emitted = state
                # RTP header at 42: sequence number (44) and timestamp (46).
                struct.pack_into("!HI", template, 44, emitted & 0xFFFF, (emitted * SAMPLES_PER_PACKET) & 0xFFFFFFFF)
                frame = template
                state[1] = emitted + 1
                if emitted + 1 < per_stream:
                    heapq.heappush(heap, (ts_ns + PTIME_NS, stream_no))
                else:
                    streams[stream_no] = None  # done: free it
            else:
                ts_ns, _index, frame = signalling[sig_pos]
                sig_pos += 1
            sec, ns = divmod(ts_ns, 1_000_000_000)
            write(pack(sec, ns // 1000, len(frame), len(frame)))
            write(frame)
            packets += 1
            written += 16 + len(frame)
    return packets, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="pcap file to write")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10, help="RTP seconds per call")
    args = parser.parse_args(argv)
    packets, size = write_capture(args.out, args.calls, args.seconds)
    print(f"{args.out}: {packets:,} packets, {size / 1e6:,.1f} MB, {args.calls} calls", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
