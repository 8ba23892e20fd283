"""Write one long call: a big ladder for ``bench_ladder_open.py`` (an open grows with the call).

``python3 bench/make_long_call.py OUT.pcap [--infos 2000]``

INVITE (SDP) / 200 OK (SDP) / ACK, then ``--infos`` INFO transactions in the dialog (DTMF relay,
each answered 200 OK), then BYE / 200 OK, 10 ms apart over UDP: 2 x infos + 5 SIP messages, no
RTP. The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import struct
import sys

from make_rtp_capture import EPOCH_NS, udp_frame

ALICE, BOB = "10.0.0.1", "10.0.0.2"
STEP_NS = 10_000_000


def _message(first: str, cseq: str, branch: str, *, to_tag: bool = True, extra: str = "", body: bytes = b"") -> bytes:
    head = (f"{first}\r\nVia: SIP/2.0/UDP {ALICE}:5060;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\n"
            f"From: <sip:alice@{ALICE}>;tag=a1\r\nTo: <sip:bob@{BOB}>{';tag=b1' if to_tag else ''}\r\n"
            f"Call-ID: long-call@{ALICE}\r\nCSeq: {cseq}\r\nContact: <sip:alice@{ALICE}>\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _sdp(address: str, port: int) -> bytes:
    return f"v=0\r\no=- 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n".encode()


def call_messages(infos: int) -> list[tuple[bool, bytes]]:
    """(from Alice, message) in order."""
    sdp = "Content-Type: application/sdp\r\n"
    messages = [
        (True, _message(f"INVITE sip:bob@{BOB} SIP/2.0", "1 INVITE", "inv", to_tag=False, extra=sdp,
                        body=_sdp(ALICE, 20000))),
        (False, _message("SIP/2.0 200 OK", "1 INVITE", "inv", extra=sdp, body=_sdp(BOB, 30000))),
        (True, _message(f"ACK sip:bob@{BOB} SIP/2.0", "1 ACK", "ack")),
    ]
    for number in range(infos):
        cseq, branch = f"{number + 2} INFO", f"info{number}"
        body = f"Signal={number % 10}\r\nDuration=100\r\n".encode()
        messages.append((True, _message(f"INFO sip:bob@{BOB} SIP/2.0", cseq, branch,
                                        extra="Content-Type: application/dtmf-relay\r\n", body=body)))
        messages.append((False, _message("SIP/2.0 200 OK", cseq, branch)))
    messages.append((True, _message(f"BYE sip:bob@{BOB} SIP/2.0", f"{infos + 2} BYE", "bye")))
    messages.append((False, _message("SIP/2.0 200 OK", f"{infos + 2} BYE", "bye")))
    return messages


def write_messages(path: str, messages: list[tuple[bool, bytes]], first: str, second: str) -> None:
    """A pcap of ``messages`` ((from ``first``, message) in order) over UDP port 5060, 10 ms apart."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for number, (from_first, sip) in enumerate(messages):
            src, dst = (first, second) if from_first else (second, first)
            frame = udp_frame(src, dst, 5060, 5060, sip, ident=number)
            ts_ns = EPOCH_NS + (number + 1) * STEP_NS
            out.write(struct.pack("<IIII", ts_ns // 1_000_000_000, ts_ns % 1_000_000_000 // 1000, len(frame), len(frame)))
            out.write(frame)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="pcap file to write")
    parser.add_argument("--infos", type=int, default=2000, help="INFO transactions in the call")
    options = parser.parse_args(argv)
    messages = call_messages(options.infos)
    write_messages(options.out, messages, ALICE, BOB)
    sys.stderr.write(f"{options.out}: {len(messages):,} SIP messages in one call\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
