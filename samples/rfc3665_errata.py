"""Corrections of RFC 3665's known text errors (GitHub issues 3 and 5), applied to the
messages as printed so that every sample is a conforming call.

The checker stays strict: it reports these faults on the RFC's printed text (tests/unit/check/test_rules.py)
and on a sample with the fault put back (tests/unit/check/test_check.py). The samples carry the corrected
messages, each correction the smallest one that makes the message right, listed in the flow's
``notes`` and in samples/README.md.

Part of ``samples/build_samples.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rfc3665_text import BuildError, Message

# Fresh To tags for the 200 OK a proxy sends to a CANCEL itself (RFC 3261 §16.10: the proxy
# answers the CANCEL; §8.2.6.2: its final response needs a tag). Not used anywhere in the RFC.
PROXY_1_CANCEL_TAG = "c4e7b0a1"
PROXY_2_CANCEL_TAG = "5d2f9e83"
# RFC 3665 §3.8: Bob's To tag on his responses to the INVITE (F6 180, F15 487).
BOB_TAG_3_8 = "314159"


@dataclass(frozen=True, slots=True)
class Correction:
    """Replace one whole line of one message: ``printed`` must occur exactly once."""

    section: str
    f: int
    printed: str
    corrected: str
    why: str


CORRECTIONS: tuple[Correction, ...] = (
    Correction(
        "3.3", 8,
        "Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74b21",
        "Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK230f2.1",
        "Proxy 1's ACK of the 407 F7 carries the top Via of the INVITE F6 it forwarded, not "
        "Alice's (RFC 3261 §17.1.1.3: the ACK of a non-2xx has the INVITE's branch)",
    ),
    Correction(
        "3.7", 10,
        "o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com",
        "o=alice 2890844526 2890844527 IN IP4 client.atlanta.example.com",
        "Alice's answer changes her SDP (port 49172 -> 1000), so its o= version goes up by one "
        "(RFC 3264 §8)",
    ),
    Correction(
        "3.8", 10,
        "To: Bob <sip:bob@biloxi.example.com>",
        f"To: Bob <sip:bob@biloxi.example.com>;tag={PROXY_1_CANCEL_TAG}",
        "Proxy 1's own 200 OK to the CANCEL gets a To tag of its own (RFC 3261 §8.2.6.2, §16.10)",
    ),
    Correction(
        "3.8", 12,
        "To: Bob <sip:bob@biloxi.example.com>",
        f"To: Bob <sip:bob@biloxi.example.com>;tag={PROXY_2_CANCEL_TAG}",
        "Proxy 2's own 200 OK to the CANCEL gets a To tag of its own (RFC 3261 §8.2.6.2, §16.10)",
    ),
    Correction(
        "3.8", 14,
        "To: Bob <sip:bob@biloxi.example.com>",
        f"To: Bob <sip:bob@biloxi.example.com>;tag={BOB_TAG_3_8}",
        "Bob's 200 OK to the CANCEL carries the To tag of his responses to the INVITE "
        "(RFC 3261 §8.2.6.2, §9.2)",
    ),
    Correction(
        "3.8", 18,
        "Via: SIP/2.0/UDP ss2.biloxi.example.com:5060;branch=z9hG4bK721e4.1",
        "Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1",
        "Proxy 1's ACK of the 487 F17 carries the top Via of the INVITE F2 it sent, not Proxy 2's "
        "(RFC 3261 §17.1.1.3: the ACK of a non-2xx has the INVITE's branch)",
    ),
)  # fmt: skip


def apply_corrections(section: str, messages: list[Message], notes: list[str]) -> list[Message]:
    """The section's messages with its corrections applied (a re-sent copy of a corrected
    message gets the same bytes), one note per correction. A correction whose printed line is
    not in the message means the RFC text is not the one these were written for: an error."""
    corrected: dict[int, bytes] = {}
    by_f = {message.f: message for message in messages}
    for correction in CORRECTIONS:
        if correction.section != section:
            continue
        where = f"§{section} F{correction.f}"
        message = by_f.get(correction.f)
        if message is None or message.copy_of is not None:
            raise BuildError(f"{where}: no printed message to correct")
        raw = corrected.get(correction.f, message.raw)
        corrected[correction.f] = replace_line(where, raw, correction.printed, correction.corrected)
        notes.append(f"{where}: '{correction.printed}' -> '{correction.corrected}': {correction.why}")
    out = []
    for message in messages:
        raw = corrected.get(message.copy_of or message.f)
        out.append(message if raw is None else replace(message, raw=raw))
    return out


def replace_line(where: str, raw: bytes, printed: str, corrected: str) -> bytes:
    """``raw`` with its one line ``printed`` (a header line or an SDP line) replaced. A body
    line must keep its length, so that the printed Content-Length stays true."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    head_lines, body_lines = head.split(b"\r\n"), body.split(b"\r\n")
    old, new = printed.encode("ascii"), corrected.encode("ascii")
    hits = head_lines.count(old) + body_lines.count(old)
    if hits != 1:
        raise BuildError(f"{where}: expected the line {printed!r} once, found it {hits} times")
    if old in head_lines:
        head_lines[head_lines.index(old)] = new
    elif len(new) != len(old):
        raise BuildError(f"{where}: a body correction must keep the body's length")
    else:
        body_lines[body_lines.index(old)] = new
    return b"\r\n".join(head_lines) + separator + b"\r\n".join(body_lines)
