"""The call model on the RFC 3665 message texts themselves.

Each flow's messages are cut out of /work/shared/reference/rfc3665.txt ("F4 INVITE Alice ->
Proxy 1" headings), parsed with ``parse_sip`` and placed on the RFC's actors' addresses, so
transactions, dialogs, outcomes and F-numbers are checked against what the RFC says.
Other test modules import ``rfc3665_flow`` from here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import SimpleNamespace

import pytest

from conftest import shared_path
from decoders.records import Endpoint, FrameRef
from decoders.sip import parse_sip

# RFC 3665 §1.3 actors; the redirect server has no address in the RFC, so one is chosen here.
ACTOR_IPS = {
    "Alice": "192.0.2.101",
    "Bob": "192.0.2.201",
    "Proxy 1": "192.0.2.111",
    "Proxy 2": "192.0.2.222",
    "Proxy 3": "192.0.2.233",
    "SIP Server": "192.0.2.222",
    "SIP ALG": "192.0.2.128",
    "Redirect Server": "192.0.2.150",
    "Redirect Proxy": "192.0.2.150",
    "Proxy": "192.0.2.111",
}
_ACTORS = sorted(ACTOR_IPS, key=len, reverse=True)
_SECTION_RE = re.compile(r"^(\d\.\d+)\.  (.+)$")
_HEADING_RE = re.compile(r"^   F(\d+) (.+) -> (.+)$")
T0_NS = 1_000_000_000_000_000_000


def _clean_lines(text: str) -> list[str]:
    out = []
    for line in text.replace("\f", "").splitlines():
        if line.startswith("Johnston, et al.") or line.startswith("RFC 3665 "):
            continue
        out.append(line)
    return out


def _message_bytes(lines: list[str]) -> bytes:
    body_lines: list[str] = []
    in_comment = False
    for line in lines:
        stripped = line.strip()
        if in_comment or stripped.startswith("/*"):
            in_comment = not stripped.endswith("*/")
            continue
        body_lines.append(line[3:] if line.startswith("   ") else line.lstrip())
    # Page breaks put blank lines anywhere, so blank lines are dropped and the body (always
    # SDP in RFC 3665) is found by its "v=0" line.
    lines_left = [b for b in body_lines if b.strip()]
    split = next((i for i, b in enumerate(lines_left) if b.startswith("v=0")), len(lines_left))
    head, body = lines_left[:split], lines_left[split:]
    text = "\r\n".join(head) + "\r\n\r\n" + "".join(b + "\r\n" for b in body)
    return text.encode()


@lru_cache(maxsize=None)
def _flows() -> dict[str, tuple[str, list[tuple[int, str, str, bytes]]]]:
    text = shared_path("reference/rfc3665.txt").read_text(encoding="utf-8")
    lines = _clean_lines(text)
    flows: dict[str, tuple[str, list]] = {}
    section = None
    current: list | None = None
    for line in lines:
        match = _SECTION_RE.match(line)
        if match and int(match.group(1).split(".")[0]) in (2, 3):
            section = match.group(1)
            flows[section] = (match.group(2), [])
            current = None
            continue
        if re.match(r"^\d\.  ", line):
            section = None
            current = None
            continue
        if section is None:
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            left = heading.group(2)
            src = next(a for a in _ACTORS if left.endswith(" " + a))
            current = [int(heading.group(1)), src, heading.group(3).strip(), []]
            flows[section][1].append(current)
            continue
        if current is not None:
            current[3].append(line)
    result = {}
    for key, (title, items) in flows.items():
        by_number: dict[int, bytes] = {}
        out = []
        for f, src, dst, body in items:
            raw = _message_bytes(body)
            # "Same as Message F1" / "Resend of Message F4": the RFC's retransmissions.
            same = re.match(rb"(?:Same as|Resend of) Message F(\d+)", raw)
            if same:
                raw = by_number[int(same.group(1))]
            # RFC 3665 §3.9 prints "SIP/2.0  486 Busy Here" with two spaces (an erratum).
            raw = raw.replace(b"SIP/2.0  ", b"SIP/2.0 ", 1) if raw.startswith(b"SIP/2.0  ") else raw
            by_number[f] = raw
            out.append((f, src, dst, raw))
        result[key] = (title, out)
    return result


def rfc3665_messages(section: str):
    """The parsed messages of one flow, placed on the actors' addresses, 10 ms apart."""
    title, items = _flows()[section]
    messages = []
    for f, src, dst, raw in items:
        message = parse_sip(raw)
        transport = (message.top_via.transport.lower() if message.top_via else "udp")
        ts = T0_NS + f * 10_000_000
        messages.append(message.with_context(
            Endpoint(ACTOR_IPS[src], 5060, transport), Endpoint(ACTOR_IPS[dst], 5060, transport),
            (FrameRef(f, ts),), ts))
    return messages


def rfc3665_capture(section: str) -> SimpleNamespace:
    """A stand-in for ``Capture`` with just what the call model reads."""
    messages = rfc3665_messages(section)
    return SimpleNamespace(path=f"rfc3665-{section}", sip_messages=messages, streams=[],
                           first_ts_ns=T0_NS, last_ts_ns=messages[-1].ts_ns if messages else T0_NS)


def rfc3665_sections() -> list[str]:
    return sorted(_flows(), key=lambda s: tuple(int(p) for p in s.split(".")))


def test_extraction_finds_every_flow_and_message():
    sections = rfc3665_sections()
    assert sections == ["2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "3.4", "3.5",
                        "3.6", "3.7", "3.8", "3.9", "3.10", "3.11"]
    for section in sections:
        numbers = [f for f, *_ in _flows()[section][1]]
        assert numbers == list(range(1, len(numbers) + 1)), section
    assert len(_flows()["3.2"][1]) == 23


@pytest.mark.parametrize("section", ["3.2", "3.8", "2.1"])
def test_every_extracted_message_parses_with_call_id_and_cseq(section):
    for message in rfc3665_messages(section):
        assert message.call_id
        assert message.cseq is not None
