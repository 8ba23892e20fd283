"""Write one Call-ID flooded with dialog-creating INVITEs: the worst case of the dialog rules
(``ladder.check.rules.dialogs``), which once compared every pair of INVITEs of a Call-ID.

``python3 bench/make_invite_flood.py OUT.pcap [--invites 1000] [--refused]``

``--invites`` INVITEs from 10.0.0.1 to 10.0.0.2 in one Call-ID, each with a new From tag and
branch and no To tag, 10 ms apart over UDP; with ``--refused`` each is answered 486 Busy Here
before the next. A looping or misconfigured UA, or a scanner, sends such a thing; ``ladder check``
should take about as long per INVITE however many there are. The same arguments always give
the same bytes.
"""

from __future__ import annotations

import argparse
import sys

from make_long_call import write_messages

UA, TARGET = "10.0.0.1", "10.0.0.2"


def flood_messages(invites: int, refused: bool) -> list[tuple[bool, bytes]]:
    """(from the UA, message) in order."""
    out = []
    for number in range(invites):
        common = (f"Via: SIP/2.0/UDP {UA}:5060;branch=z9hG4bK{number}\r\nFrom: <sip:a@{UA}>;tag=t{number}\r\n"
                  f"Call-ID: flood@{UA}\r\nCSeq: 1 INVITE\r\n")
        out.append((True, (f"INVITE sip:b@{TARGET} SIP/2.0\r\n{common}Max-Forwards: 70\r\nTo: <sip:b@{TARGET}>\r\n"
                           f"Contact: <sip:a@{UA}>\r\nContent-Length: 0\r\n\r\n").encode()))
        if refused:
            out.append((False, (f"SIP/2.0 486 Busy Here\r\n{common}To: <sip:b@{TARGET}>;tag=r{number}\r\n"
                                "Content-Length: 0\r\n\r\n").encode()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="pcap file to write")
    parser.add_argument("--invites", type=int, default=1000, help="dialog-creating INVITEs in the Call-ID")
    parser.add_argument("--refused", action="store_true", help="answer each with 486 before the next")
    options = parser.parse_args(argv)
    messages = flood_messages(options.invites, options.refused)
    write_messages(options.out, messages, UA, TARGET)
    sys.stderr.write(f"{options.out}: {len(messages):,} SIP messages in one Call-ID\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
