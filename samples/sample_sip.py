"""The few facts the sample builder reads back from an assembled SIP message: start line,
top Via (transport, host, port), Request-URI host, and the SDP's audio address.

Part of ``samples/build_samples.py``; deliberately tiny and independent of ``decoders/``, so
the committed samples never depend on the parser they are used to test.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from rfc3665_text import BuildError


@dataclass(frozen=True, slots=True)
class SipFacts:
    """Start line, top Via and Request-URI of one message, and its body."""

    is_request: bool
    method: str | None
    status: int | None
    via_transport: str
    via_host: str
    via_port: int | None
    uri_host: str | None
    uri_scheme: str | None
    body: bytes


def sip_facts(raw: bytes) -> SipFacts:
    """The facts of one assembled message (CRLF lines, folded headers allowed)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    text = head.decode("ascii")
    lines = text.split("\r\n")
    unfolded: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    via = None
    for header in unfolded:
        name, _, value = header.partition(":")
        if name.strip().lower() in ("via", "v"):  # "v" is Via's compact form
            via = value.strip()
            break
    if via is None:
        raise BuildError(f"no Via header in {lines[0]!r}")
    via_match = re.match(r"SIP\s*/\s*2\.0\s*/\s*(\w+)\s+([^\s;:]+)(?::(\d+))?", via)
    if not via_match:
        raise BuildError(f"unreadable Via {via!r}")
    transport, host, port_text = via_match.groups()
    transport, port = transport.lower(), int(port_text) if port_text else None
    start = lines[0].split()
    if len(start) < 3:
        raise BuildError(f"unreadable start line {lines[0]!r}")
    if start[0] == "SIP/2.0":
        if not (start[1].isdigit() and len(start[1]) == 3):
            raise BuildError(f"unreadable status line {lines[0]!r}")
        return SipFacts(False, None, int(start[1]), transport, host, port, None, None, body)
    uri = re.match(r"(sips?):(?:[^@;>]*@)?([^;:>]+)", start[1])
    if not uri:
        raise BuildError(f"unreadable Request-URI in {lines[0]!r}")
    return SipFacts(True, start[0], None, transport, host, port, uri.group(2), uri.group(1), body)


def sdp_address(body: bytes) -> tuple[str, int] | None:
    """(c= address, first m=audio port) of an SDP body, or None without one."""
    text = body.decode("ascii")
    connection = re.search(r"^c=IN IP4 (\S+)\r?$", text, re.MULTILINE)
    audio = re.search(r"^m=audio (\d+) ", text, re.MULTILINE)
    if not (connection and audio):
        return None
    try:
        address = str(ipaddress.IPv4Address(connection.group(1)))
    except ValueError as exc:
        raise BuildError(f"SDP c= line with a bad address: {exc}") from exc
    return address, int(audio.group(1))
