"""Reading RFC 3665's text: pages put back together, the §1.3 actors table, the flow
sections, and each flow's messages exactly as printed (joined with CRLF).

Part of ``samples/build_samples.py``; see samples/README.md for what is kept and what fixed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Words left out of file-name slugs to keep them short ("Session Establishment Through Two
# Proxies" -> "session-through-two-proxies").
SLUG_STOPWORDS = {"a", "and", "establishment", "for", "from", "in", "of", "the", "via", "with"}

PAGE_FOOTER = re.compile(r"^Johnston, et al\.\s+Best Current Practice\s+\[Page \d+\]$")
PAGE_HEADER = re.compile(r"^RFC 3665\s+SIP Basic Call Flow Examples\s+December 2003$")
SECTION_HEADING = re.compile(r"^(\d)\.(\d{1,2})\.\s+(\S.*)$")
MESSAGE_HEADING = re.compile(r"^   F(\d+) (\S.*)$")
COPY_REFERENCE = re.compile(r"^(?:Same as|Resend of) Message F(\d+)$")
COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
HEADER_LINE = re.compile(r"^[A-Za-z0-9!%*_+`'~.-]+[ \t]*:")
SDP_LINE = re.compile(r"^[a-z]=")
ACTOR_ROW = re.compile(r"^\s{3}\S.*?\s(\S+@\S+|\S+\.example\.com)\s+(\d+\.\d+\.\d+\.\d+)\s*$")


class BuildError(Exception):
    """The RFC text did not have the shape this script expects (a wrong file, say)."""


def strip_page_breaks(text: str) -> list[str]:
    """The RFC's lines without page footers, form feeds and page headers, and without the
    blank lines around them, so a message split by a page break reads as one block."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if PAGE_FOOTER.match(line):
            while out and not out[-1].strip():
                out.pop()
            index += 1
            while index < len(lines) and (
                not lines[index].strip() or lines[index] == "\f" or PAGE_HEADER.match(lines[index])
            ):
                index += 1
            continue
        out.append(line.rstrip())
        index += 1
    return out


def parse_actors(lines: list[str]) -> dict[str, str]:
    """Host name -> IPv4 address from the §1.3 actors table. A user's URI (alice@atlanta…)
    stands for the device the messages call ``client.<domain>``."""
    hosts: dict[str, str] = {}
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("Actors:")), None)
    if start is None:
        raise BuildError("no 'Actors:' table (section 1.3) in the RFC text")
    for line in lines[start + 1 : start + 20]:
        match = ACTOR_ROW.match(line)
        if not match:
            continue
        name, address = match.groups()
        try:
            address = str(ipaddress.IPv4Address(address))
        except ValueError as exc:
            raise BuildError(f"actors table: {exc}") from exc
        if "@" in name:
            hosts["client." + name.split("@", 1)[1]] = address
        else:
            hosts[name] = address
    if len(hosts) < 7:
        raise BuildError(f"the actors table gave {len(hosts)} hosts, expected 7")
    return hosts


@dataclass(frozen=True, slots=True)
class Section:
    number: str
    title: str
    lines: list[str]


def split_sections(lines: list[str]) -> list[Section]:
    """The 16 flow sections (§2.x and §3.x that have "Message Details")."""
    starts = [(i, SECTION_HEADING.match(line)) for i, line in enumerate(lines)]
    starts = [(i, m) for i, m in starts if m]
    sections = []
    for position, (start, match) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        body = lines[start + 1 : end]
        # §2.5 runs on into "3.  SIP Session Establishment", §3.11 into "4.  Security
        # Considerations": a flow ends at the next top-level heading.
        top_level = next((i for i, line in enumerate(body) if re.match(r"^\d\.\s+\S", line)), len(body))
        body = body[:top_level]
        if match.group(1) in ("2", "3") and any(line.strip() == "Message Details" for line in body):
            sections.append(Section(f"{match.group(1)}.{match.group(2)}", match.group(3).strip(), body))
    return sections


def slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", title.lower())
    return "-".join(word for word in words if word not in SLUG_STOPWORDS)


@dataclass(frozen=True, slots=True)
class Message:
    f: int
    heading: str
    raw: bytes
    copy_of: int | None = None  # F-number of the message this one re-sends


def parse_messages(section: Section, notes: list[str]) -> list[Message]:
    lines = section.lines
    start = next(i for i, line in enumerate(lines) if line.strip() == "Message Details")
    text = COMMENT.sub("", "\n".join(lines[start + 1 :]))
    body_lines = text.split("\n")
    headings = [(i, MESSAGE_HEADING.match(line)) for i, line in enumerate(body_lines)]
    headings = [(i, m) for i, m in headings if m]
    messages: list[Message] = []
    by_f: dict[int, Message] = {}
    for position, (index, match) in enumerate(headings):
        end = headings[position + 1][0] if position + 1 < len(headings) else len(body_lines)
        f = int(match.group(1))
        block = body_lines[index + 1 : end]
        content = [line for line in block if line.strip()]
        copy = COPY_REFERENCE.match(content[0].strip()) if content else None
        if copy:
            original = by_f.get(int(copy.group(1)))
            if original is None:
                raise BuildError(f"§{section.number} F{f}: refers to F{copy.group(1)}, not seen before")
            message = Message(f, match.group(2), original.raw, copy_of=original.copy_of or original.f)
        else:
            message = Message(f, match.group(2), assemble_message(section.number, f, block, notes))
        messages.append(message)
        by_f[f] = message
    return messages


def assemble_message(number: str, f: int, block: list[str], notes: list[str]) -> bytes:
    """One message from its printed lines: the RFC's three-space indent removed, lines joined
    with CRLF, headers then an empty line then the body; Content-Length corrected only when
    the printed value is not the body's length."""
    where = f"§{number} F{f}"
    lines = []
    for line in block:
        if line.strip() and not line.startswith("   "):
            raise BuildError(f"{where}: line not indented like a message line: {line!r}")
        lines.append(line[3:])
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        raise BuildError(f"{where}: empty message")
    start_line, headers, body = lines[0], [], []
    if re.match(r"^SIP/2\.0 {2,}\d{3} ", start_line):
        # §3.9 prints "SIP/2.0  486 Busy Here": RFC 3261 §7.2 has exactly one SP there, and
        # tshark reads no status code from the doubled one.
        start_line = re.sub(r"^SIP/2\.0 +", "SIP/2.0 ", start_line)
        notes.append(f"{where}: status line 'SIP/2.0  {start_line[8:]}' had two spaces, now one")
    part = "headers"  # then "body", then "after" (only blank lines may follow a body)
    for line in lines[1:]:
        if not line:
            if part == "body":
                part = "after"
            continue
        if part == "after":
            raise BuildError(f"{where}: text after the body: {line!r}")
        if part == "headers" and HEADER_LINE.match(line):
            headers.append(line)
        elif part == "headers" and headers and line[0] in " \t":
            headers.append(line)  # folded continuation, kept as printed (RFC 3261 §7.3.1)
        elif part == "headers" and headers and headers[-1].endswith(","):
            # The list header's next line was printed without the folding indent (§3.10 F4):
            # as printed it would be a broken header line of its own, so fold it.
            headers.append(" " + line)
            notes.append(f"{where}: folded the unindented continuation line '{line}'")
        elif SDP_LINE.match(line):
            part = "body"
            body.append(line)
        else:
            raise BuildError(f"{where}: unexpected line {line!r}")
    body_bytes = "".join(line + "\r\n" for line in body).encode("ascii")
    headers = fix_content_length(where, headers, len(body_bytes), notes)
    head = "\r\n".join([start_line, *headers]) + "\r\n\r\n"
    return head.encode("ascii") + body_bytes


def fix_content_length(where: str, headers: list[str], length: int, notes: list[str]) -> list[str]:
    out = []
    found = False
    for header in headers:
        match = re.match(r"^(Content-Length|l)([ \t]*:[ \t]*)(\d+)$", header, re.IGNORECASE)
        if match:
            found = True
            if int(match.group(3)) != length:
                notes.append(f"{where}: Content-Length {match.group(3)} -> {length} (the body's length)")
                header = f"{match.group(1)}{match.group(2)}{length}"
        out.append(header)
    if not found:
        notes.append(f"{where}: no Content-Length header, left as printed (allowed over UDP)")
    return out
