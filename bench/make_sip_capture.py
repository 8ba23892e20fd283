"""Write a deterministic, signalling-heavy benchmark capture: a busy SBC hour, SIP only.

``python3 bench/make_sip_capture.py OUT.pcap [--calls 150000] [--concurrent 500]``

Each call is INVITE (with SDP) / 100 Trying / 180 Ringing / 200 OK (with SDP) / ACK / BYE /
200 OK, seven messages of about 570 bytes on average, over UDP between a caller and a callee
address drawn from the call index. ``--concurrent`` calls are up at any moment: a call lasts
``CALL_S`` seconds and calls start ``CALL_S / concurrent`` apart. 150,000 calls are 1,050,000
messages and about 680 MB; ``--calls 15000`` is the 10x smaller file. No RTP at all (an SBC's
signalling capture with media filtered out). Everything is derived from the call index: the
same arguments always give the same bytes.

``--mix`` gives the calls the shapes of a real busy hour instead, by call index (``SHAPES``, in
every run of 100 calls the same counts): 65 answered as above, 3 of them with the 200 sent
again after T1 (the ACK late under load, RFC 3261 §13.3.1.4) and 2 with the INVITE sent again
(the 100 late, §17.1.1.2); 20 abandoned while ringing (INVITE / 100 / 180 / CANCEL / 200
(CANCEL) / 487 / ACK, RFC 3665 §3.8); 10 rejected, each with its ACK (5 x 486 Busy Here after
ringing, §3.9; 3 x 480 Temporarily Unavailable after ringing, §3.11; 2 x 404 Not Found); 5
answered with early media sent reliably (INVITE / 100 / 183 (SDP, Require: 100rel, RSeq) /
PRACK / 200 (PRACK) / 200 / ACK / BYE / 200, RFC 3262 §3-4).
Across these shapes, 3 calls in 10 of each (``call_challenged``: in every 1,000 calls, exactly 3
of every 10 of each shape) are first challenged, as a proxy or SBC challenges every INVITE of a
registered UA (RFC 3665 §3.2 F1-F4, RFC 3261 §22.2-22.3): INVITE / 407 Proxy Authentication
Required / ACK, then the shape's INVITE 10 ms after the first, with Proxy-Authorization, the
next CSeq number and a new branch. The shapes keep their shares: a challenge changes no outcome.
Why these: carriers report an answer-seizure ratio of about 50-70 % and a quarter of attempts
abandoned before the answer; the rest are busy, unreachable or unknown numbers; 100rel is what
SBCs facing mobile networks negotiate. The challenged share is an assumption, not a measurement:
an SBC that carries both trunks (trusted by address, never challenged) and registered UAs (each
call challenged) sees the UAs' share of calls challenged; 30 % stands for a site of mostly
trunks. Calls that do not answer end within seconds, so the file is smaller than the
all-answered one at the same ``--calls``.

``--tcp`` sends the same messages over TCP (RFC 3261 §18: as SBCs and PBXs often carry SIP): the
Vias say ``SIP/2.0/TCP``, each message is one segment of the connection between the call's two
addresses (port 5060 both ends, one connection per address pair, each way's sequence numbers
running on from its last segment, no handshake: a capture joined mid-way), in the same frames'
order and times. Without it the file is byte-identical to before the option existed.
"""

from __future__ import annotations

import argparse
import heapq
import struct
import sys

from make_rtp_capture import EPOCH_NS, MAC_A, MAC_B, _checksum, _ip, udp_frame

CALL_S = 30
# Offsets of each message from its call's start: INVITE, 100, 180, 200, ACK, BYE, 200.
OFFSETS_NS = (0, 8_000_000, 120_000_000, 2_400_000_000, 2_410_000_000, (CALL_S - 1) * 1_000_000_000,
              (CALL_S - 1) * 1_000_000_000 + 12_000_000)
RECORD = struct.Struct("<IIII")


def _parties(index: int) -> tuple[str, str]:
    """Many callers behind one SBC-facing trunk: caller and callee addresses per call."""
    return f"10.20.{index // 250 % 250}.{index % 250 + 1}", f"172.16.{index // 200 % 200}.{index % 200 + 1}"


def _sdp(address: str, port: int, session: int) -> bytes:
    return (
        f"v=0\r\no=sbc {session} {session} IN IP4 {address}\r\ns=call\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    ).encode()


# --mix: a call's shape by its index (index * 37 % 100 walks 0..99 once in every 100 calls).
SHAPES = ((60, "answered"), (3, "200-again"), (2, "invite-again"), (20, "cancelled"), (5, "486"), (3, "480"),
          (2, "404"), (5, "100rel"))
T1_NS = 500_000_000  # RFC 3261 §17.1.1.1: the first retransmission interval
REASONS = {"486": "Busy Here", "480": "Temporarily Unavailable", "404": "Not Found"}
CHALLENGE_NS = 10_000_000  # 407 after 4 ms, its ACK after 6 ms, the INVITE again after 10 ms
REALM = "sbc.example.net"


def call_shape(index: int) -> str:
    slot = index * 37 % 100
    for share, shape in SHAPES:
        if slot < share:
            return shape
        slot -= share
    raise AssertionError("SHAPES add up to 100")


def call_challenged(index: int) -> bool:
    """Whether --mix challenges call ``index`` first: 3 of 10, whatever its shape (``call_shape``
    reads index % 100; index // 100 shifts this choice by one for each block of 100 calls)."""
    return (index // 100 + index) % 10 < 3


def call_messages(index: int, session_id: bool = False, mix: bool = False) -> list[tuple[int, bool, bytes]]:
    """(offset from the call's start, sent by the caller, SIP bytes) of one call; with
    ``session_id``, each message carries the RFC 7989 Session-ID of its sender (and, once known,
    of the other end as ``remote``), as SBCs and enterprise phones add it; with ``mix``, the
    call has its ``call_shape``."""
    caller, callee = _parties(index)
    number = 4930000000 + index
    uri = f"sip:+{number}@{callee}"
    call_id = f"{index:08x}-4f1c-9a3e@{caller}"
    from_tag, to_tag = f"{index * 2654435761 & 0xFFFFFFFF:08x}", f"{index * 40503 & 0xFFFFFF:06x}a"
    branch = f"z9hG4bK{index:x}"
    challenged = mix and call_challenged(index)
    n = 2 if challenged else 1  # the CSeq number of the INVITE that gets through

    uuid_a, uuid_b = (f"{(index * 2 + k) * 0x9E3779B97F4A7C15 & (1 << 128) - 1:032x}" for k in (1, 2))

    def message(start: str, cseq: str, tag: bool | str, via_branch: str, body: bytes = b"", extra: str = "") -> bytes:
        if session_id:
            mine, theirs = (uuid_b, uuid_a) if start.startswith("SIP/2.0") else (uuid_a, uuid_b if tag else "0" * 32)
            extra += f"Session-ID: {mine};remote={theirs}\r\n"
        head = (
            f"{start}\r\n"
            f"Via: SIP/2.0/UDP {caller}:5060;branch={via_branch};rport\r\n"
            f"From: \"Caller {index}\" <sip:{index % 90000 + 10000}@{caller}>;tag={from_tag}\r\n"
            f"To: <sip:+{number}@{callee}>{';tag=' + (tag if isinstance(tag, str) else to_tag) if tag else ''}\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: {cseq}\r\n"
            f"{extra}"
            f"X-Trace-Id: {index * 11400714819323198485 & (1 << 128) - 1:032x}\r\n"
            f"P-Charging-Vector: icid-value={index * 2246822519 & (1 << 80) - 1:020x};icid-generated-at=192.0.2.10\r\n"
            "Supported: timer, replaces\r\n"
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    agent = "User-Agent: bench-sbc/1.0\r\n"
    allow = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n"
    contact_a = f"Contact: <sip:{index % 90000 + 10000}@{caller}:5060>\r\n"
    contact_b = f"Contact: <sip:+{number}@{callee}:5060>\r\n"
    port_a, port_b = 10000 + 2 * (index % 20000), 30000 + 2 * (index % 15000)
    shape = call_shape(index) if mix else "answered"
    invite_head = ("Max-Forwards: 70\r\n" + contact_a + agent + allow
                   + f"P-Asserted-Identity: <sip:{index % 90000 + 10000}@{caller}>\r\n"
                   + "Session-Expires: 1800;refresher=uac\r\nMin-SE: 90\r\n"
                   + ("Supported: 100rel\r\n" if shape == "100rel" else ""))
    challenge: list[tuple[int, bool, bytes]] = []
    if challenged:  # RFC 3665 §3.2 F1-F4: the proxy's 407 (its own To tag), the ACK, the INVITE again
        nonce = f"{index * 2246822519 & (1 << 64) - 1:016x}"
        first = message(f"INVITE {uri} SIP/2.0", "1 INVITE", False, branch, _sdp(caller, port_a, index), invite_head)
        challenge = [(0, True, first),
                     (4_000_000, False, message("SIP/2.0 407 Proxy Authentication Required", "1 INVITE", f"{index:x}p",
                                                branch, b"", f'Proxy-Authenticate: Digest realm="{REALM}", '
                                                f'nonce="{nonce}", algorithm=MD5, qop="auth"\r\n')),
                     (6_000_000, True, message(f"ACK {uri} SIP/2.0", "1 ACK", f"{index:x}p", branch, b"",
                                               "Max-Forwards: 70\r\n" + agent))]
        branch += "r"
        invite_head += (f'Proxy-Authorization: Digest username="{index % 90000 + 10000}", realm="{REALM}", '
                        f'nonce="{nonce}", uri="{uri}", response="{index * 3266489917 & (1 << 128) - 1:032x}", '
                        f'algorithm=MD5, cnonce="{index:08x}", qop=auth, nc=00000001\r\n')

    def done(messages: list[tuple[int, bool, bytes]]) -> list[tuple[int, bool, bytes]]:
        """The shape's messages, after the challenge when there is one."""
        return challenge + [(at + CHALLENGE_NS, forward, sip) for at, forward, sip in messages] if challenge \
            else messages

    invite = (OFFSETS_NS[0], True, message(f"INVITE {uri} SIP/2.0", f"{n} INVITE", False, branch,
                                           _sdp(caller, port_a, index), invite_head))
    trying = (OFFSETS_NS[1], False, message("SIP/2.0 100 Trying", f"{n} INVITE", False, branch))
    ringing = (OFFSETS_NS[2], False, message("SIP/2.0 180 Ringing", f"{n} INVITE", True, branch, b"", contact_b))
    max_forwards = "Max-Forwards: 70\r\n" + agent
    if shape == "cancelled":  # the caller gives up after 8 s of ringing
        at = 8_000_000_000
        return done([invite, trying, ringing,
                     (at, True, message(f"CANCEL {uri} SIP/2.0", f"{n} CANCEL", False, branch, b"", max_forwards)),
                     (at + 10_000_000, False, message("SIP/2.0 200 OK", f"{n} CANCEL", True, branch)),
                     (at + 12_000_000, False, message("SIP/2.0 487 Request Terminated", f"{n} INVITE", True, branch)),
                     (at + 22_000_000, True, message(f"ACK {uri} SIP/2.0", f"{n} ACK", True, branch, b"",
                                                     max_forwards))])
    if shape == "invite-again":  # no 100 within T1: the INVITE again, then the late 100
        trying = (T1_NS + 10_000_000, False, trying[2])
        ringing = (T1_NS + 120_000_000, False, ringing[2])
        invite_again = [(T1_NS, True, invite[2])]
    else:
        invite_again = []
    if shape in REASONS:  # busy or unavailable after ringing, or an unknown number at once
        at = 4_000_000_000 if shape != "404" else 60_000_000
        return done([invite, trying] + ([ringing] if shape != "404" else []) + [
            (at, False, message(f"SIP/2.0 {shape} {REASONS[shape]}", f"{n} INVITE", True, branch)),
            (at + 10_000_000, True, message(f"ACK {uri} SIP/2.0", f"{n} ACK", True, branch, b"", max_forwards))])
    answer = (OFFSETS_NS[3], False, message("SIP/2.0 200 OK", f"{n} INVITE", True, branch,
                                            b"" if shape == "100rel" else _sdp(callee, port_b, index + 1),
                                            contact_b + allow + "Session-Expires: 1800;refresher=uac\r\n"))
    bye_cseq = f"{n + 2} BYE" if shape == "100rel" else f"{n + 1} BYE"
    # (200-again: the ACK comes after the 200 is sent again, T1 after the first)
    ack_at = OFFSETS_NS[4] + (T1_NS if shape == "200-again" else 0)
    end = [
        (ack_at, True, message(f"ACK sip:+{number}@{callee}:5060 SIP/2.0", f"{n} ACK", True, branch + "a",
                               b"", max_forwards)),
        (OFFSETS_NS[5], True, message(f"BYE sip:+{number}@{callee}:5060 SIP/2.0", bye_cseq, True, branch + "b",
                                      b"", max_forwards)),
        (OFFSETS_NS[6], False, message("SIP/2.0 200 OK", bye_cseq, True, branch + "b")),
    ]
    if shape == "100rel":  # early media in a reliable 183, acknowledged by a PRACK (RFC 3262 §3)
        return done([invite, trying,
                     (OFFSETS_NS[2], False, message("SIP/2.0 183 Session Progress", f"{n} INVITE", True, branch,
                                                    _sdp(callee, port_b, index + 1),
                                                    contact_b + "Require: 100rel\r\nRSeq: 1\r\n")),
                     (OFFSETS_NS[2] + 15_000_000, True, message(f"PRACK sip:+{number}@{callee}:5060 SIP/2.0",
                                                                f"{n + 1} PRACK", True, branch + "p", b"",
                                                                max_forwards + f"RAck: 1 {n} INVITE\r\n")),
                     (OFFSETS_NS[2] + 25_000_000, False, message("SIP/2.0 200 OK", f"{n + 1} PRACK", True,
                                                                 branch + "p")),
                     answer] + end)
    again = [(OFFSETS_NS[3] + T1_NS, False, answer[2])] if shape == "200-again" else []
    return done([invite] + invite_again + [trying, ringing, answer] + again + end)


def tcp_frame(src: str, dst: str, sport: int, dport: int, seq: int, payload: bytes) -> bytes:
    """Ethernet / IPv4 / TCP (PSH, ACK) around ``payload`` at ``seq`` (IP checksum filled in,
    TCP checksum zero, as ``udp_frame``'s UDP checksum)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 5 << 4, 0x18, 65535, 0, 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, _ip(src), _ip(dst))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return MAC_B + MAC_A + b"\x08\x00" + header + tcp


def write_capture(path: str, calls: int, concurrent: int, session_id: bool = False,
                  mix: bool = False, tcp: bool = False) -> tuple[int, int]:
    """Write the capture; returns (packets, bytes). Calls are generated as they start, so only
    the live ones are in memory."""
    spacing = CALL_S * 1_000_000_000 // concurrent
    heap: list[tuple[int, int, int, bytes | tuple[str, str, bytes]]] = []  # (time, call, message number, frame)
    sequence: dict[tuple[str, str], int] = {}  # (--tcp) each way's next sequence number
    packets = written = 0
    next_call = 0
    with open(path, "wb", buffering=4 << 20) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        written += 24
        while heap or next_call < calls:
            start = EPOCH_NS + next_call * spacing
            if next_call < calls and (not heap or start <= heap[0][0]):
                caller, callee = _parties(next_call)
                for number, (offset, forward, sip) in enumerate(call_messages(next_call, session_id, mix)):
                    src, dst = (caller, callee) if forward else (callee, caller)
                    if tcp:  # (framed when sent: the sequence numbers run in sending order)
                        sip = sip.replace(b"SIP/2.0/UDP ", b"SIP/2.0/TCP ")
                    heapq.heappush(heap, (start + offset, next_call, number,
                                          (src, dst, sip) if tcp else udp_frame(src, dst, 5060, 5060, sip)))
                next_call += 1
                continue
            ts_ns, _call, _number, frame = heapq.heappop(heap)
            if isinstance(frame, tuple):
                src, dst, sip = frame
                seq = sequence.get((src, dst), 1)
                sequence[(src, dst)] = seq + len(sip)
                frame = tcp_frame(src, dst, 5060, 5060, seq, sip)
            record = RECORD.pack(ts_ns // 1_000_000_000, ts_ns % 1_000_000_000 // 1000, len(frame), len(frame))
            out.write(record + frame)
            packets += 1
            written += len(record) + len(frame)
    return packets, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="pcap file to write")
    parser.add_argument("--calls", type=int, default=150_000, help="calls (7 SIP messages each without --mix)")
    parser.add_argument("--concurrent", type=int, default=500, help="calls up at any moment")
    parser.add_argument("--session-id", action="store_true", help="every message carries a Session-ID (RFC 7989)")
    parser.add_argument("--mix", action="store_true",
                        help="a busy hour's shapes: answered, cancelled, rejected, 100rel (SHAPES), "
                             "3 in 10 challenged first (407)")
    parser.add_argument("--tcp", action="store_true", help="over TCP: one segment a message, Vias SIP/2.0/TCP")
    options = parser.parse_args(argv)
    packets, size = write_capture(options.out, options.calls, options.concurrent, options.session_id, options.mix,
                                  options.tcp)
    sys.stderr.write(f"{options.out}: {packets:,} SIP messages, {size / 1e6:,.1f} MB, {options.calls:,} calls\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
