#!/usr/bin/env python3
"""Build the sample captures of the references beyond RFC 3665 from ``service-messages.txt``.

    python3 samples/build_service_samples.py [--out DIR]

``service-messages.txt`` holds, per sample, the messages as the RFCs print them (RFC 5359
§2.1-§2.18, RFC 3428 §10, RFC 3903 §15), or, where an RFC prints no complete
message (RFC 3262, 3311, 4028, 6665, 3261 §10, §11, §8.1.3.4), messages written in the same
style from the headers that RFC specifies. The file is the only input: nothing outside this
directory is read. Format::

    === FILE-STEM REFERENCE-ID Title...
    hosts NAME=IP ...
    --- F<n> SENDER -> RECEIVER   # label
    <the message, indented as printed>

Each message is sent in F-number order from its sender's address to its receiver's: over a
TCP connection when its top Via says TLS or TCP (TLS written as plain TCP, as the RFC 3665
samples do), else over UDP. Lines are joined with CRLF, folded header lines kept as printed,
and a ``Content-Length: ...`` (RFC 5359's placeholder) set to the body's length. Messages
follow each other by 10-20 ms, a ring or a wait before CANCEL by 2 s. Deterministic: the same
text gives the same bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (ROOT, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from ladder.export.pcap_writer import FrameFactory, PcapWriter, TcpConnection  # noqa: E402

MESSAGES = HERE / "service-messages.txt"
MS = 1_000_000
BASE_TS_NS = 1_225_497_600 * 1_000_000_000  # 2008-11-01T00:00:00Z, RFC 5359's autumn
SAMPLE_SPACING_NS = 3600 * 1_000_000_000
_SECTION = re.compile(r"^=== (\S+) (\S+) (.+)$")
_HEADING = re.compile(r"^--- F(\d+) (\S+) -> (\S+)(?:\s+#.*)?$")
_VIA = re.compile(r"^(?:Via|v)\s*:\s*SIP/2\.0/(\w+)", re.IGNORECASE | re.MULTILINE)


CORRECTIONS: list[str] = []  # where the bytes differ from the printed text, and why
# Text errors of the RFCs, corrected so that each sample shows the service, not the typo:
# (sample, F-number) -> (printed, corrected, why).
ERRATA = {
    ("rfc5359-2.2-consultation-hold", 19): (
        b"Call-ID: 9876543210@atlanta.example.com", b"Call-ID: 9876543210@biloxi.example.com",
        "Carol's 180 carries another Call-ID than the INVITE it answers (F17)",
    ),
    ("rfc5359-2.10-conference-third-party-added", 9): (
        b"SIP/2.0 200 OK", b"SIP/2.0 180 Ringing",
        "F9, the 180 Ringing of the figure and the heading, is printed as a 200 OK",
    ),
    ("rfc5359-2.16-call-pickup", 12): (
        b";branch=z9hG4bK83749.1", b";branch=z9hG4bK74bf9",
        "Alice's ACK of the 487 carries another branch than her INVITE F1 (RFC 3261 §17.1.1.3)",
    ),
    ("rfc5359-2.18-click-to-dial", 2): (
        b"Via: SIP/2.0/TLS client.biloxi.example.com:5061", b"Via: SIP/2.0/TLS pc.biloxi.example.com:5061",
        "the 202's Via names Bob's phone (client.biloxi), not the PC that sent the REFER F1 (pc.biloxi)",
    ),
    ("rfc5359-2.15-call-park", 1): (
        b"Via: SIP/2.0/TLS client.alice.example.com:5061", b"Via: SIP/2.0/TLS client.atlanta.example.com:5061",
        "Alice's INVITE names a host (client.alice) that Bob's responses and her ACK do not (client.atlanta)",
    ),
}


class BuildError(Exception):
    """``service-messages.txt`` is not in the expected shape."""


@dataclass(slots=True)
class Sample:
    stem: str
    reference: str
    title: str
    hosts: dict[str, str] = field(default_factory=dict)
    messages: list[tuple[int, str, str, bytes]] = field(default_factory=list)  # (F, from, to, bytes)


def parse(text: str) -> list[Sample]:
    samples: list[Sample] = []
    block: list[str] | None = None

    def close() -> None:
        if block is not None and samples:
            head = samples[-1].messages.pop()
            raw = assemble(block, f"{samples[-1].stem} F{head[0]}")
            erratum = ERRATA.get((samples[-1].stem, head[0]))
            if erratum is not None and erratum[0] in raw:
                raw = raw.replace(erratum[0], erratum[1])
                CORRECTIONS.append(f"{samples[-1].stem} F{head[0]}: {erratum[2]}")
            samples[-1].messages.append((*head[:3], raw))

    for line in text.split("\n"):
        if line.startswith("#"):  # a comment at column 0 (messages are indented) ends a message
            close()
            block = None
            continue
        section = _SECTION.match(line)
        heading = _HEADING.match(line)
        if section:
            close()
            block = None
            samples.append(Sample(*section.groups()))
        elif line.startswith("hosts ") and samples and block is None:
            for item in line.split()[1:]:
                name, _, address = item.partition("=")
                samples[-1].hosts[name] = address
        elif heading:
            close()
            f, src, dst = int(heading.group(1)), heading.group(2), heading.group(3)
            if not samples or src not in samples[-1].hosts or dst not in samples[-1].hosts:
                raise BuildError(f"F{f}: {src} or {dst} has no 'hosts' address")
            samples[-1].messages.append((f, src, dst, b""))
            block = []
        elif block is not None:
            block.append(line)
        elif line.strip():
            raise BuildError(f"text outside a message: {line!r}")
    close()
    return samples


def assemble(lines: list[str], where: str) -> bytes:
    """One message from its printed lines: the common indent removed, CRLF line ends, the
    headers' folded lines kept, Content-Length set to the body's length."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    if not lines:
        raise BuildError(f"{where}: empty message")
    lines = _all_one_line(lines, where)
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    lines = [line[indent:].rstrip() for line in lines]
    if len(lines) > 2 and not lines[1] and ":" in lines[2]:
        # RFC 5359 §2.10 F3 prints an empty line under the status line: the headers follow it.
        CORRECTIONS.append(f"{where}: the empty line under the start line removed")
        del lines[1]
    end = next((i for i, line in enumerate(lines) if not line or line in _BODY_STARTS), len(lines))
    if end < len(lines) and lines[end] in _BODY_STARTS:
        # RFC 5359 §2.1 F12 prints its SDP right under the headers (§2.15 F18 its XML): the
        # empty line that ends the headers (RFC 3261 §7) is put back.
        CORRECTIONS.append(f"{where}: the empty line before the {'SDP' if lines[end] == 'v=0' else 'XML'} body put back")
        lines.insert(end, "")
    headers, body = lines[:end], lines[end + 1:]
    while body and not body[0]:
        body = body[1:]
    payload = "".join(line + "\r\n" for line in body).encode("utf-8")
    fixed = []
    for header in headers:
        if re.match(r"^(Content-Length|l)\s*:", header, re.IGNORECASE):
            header = f"Content-Length: {len(payload)}"
        fixed.append(header)
    if not any(re.match(r"^(Content-Length|l)\s*:", h, re.IGNORECASE) for h in headers):
        # Mandatory over TCP and TLS (RFC 3261 §18.3, §20.14); RFC 5359 omits it from some
        # 180s and RFC 3903 from its 200s.
        CORRECTIONS.append(f"{where}: Content-Length: {len(payload)} added")
        fixed.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(fixed) + "\r\n\r\n").encode("utf-8") + payload


_BODY_STARTS = ("v=0", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>')


def _all_one_line(lines: list[str], where: str) -> list[str]:
    """RFC 4475 §2.1's ``<allOneLine>`` convention, which RFC 5359 §1 adopts: the lines
    between the tags are one line, concatenated as printed (a fold point's whitespace is at
    the start of the next line, beyond the first line's indent)."""
    out: list[str] = []
    block: list[str] | None = None
    for line in lines:
        tag = line.strip()
        if tag == "<allOneLine>":
            block = []
        elif tag == "</allOneLine>":
            if not block:
                raise BuildError(f"{where}: empty <allOneLine>")
            indent = len(block[0]) - len(block[0].lstrip())
            out.append(block[0].rstrip() + "".join(part[indent:].rstrip() for part in block[1:]))
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise BuildError(f"{where}: <allOneLine> without </allOneLine>")
    return out


def _transport(raw: bytes) -> str:
    found = _VIA.search(raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace"))
    return "tcp" if found and found.group(1).upper() in ("TLS", "TCP") else "udp"


def _gap_ns(previous: bytes, current: bytes, f: int) -> int:
    """10-20 ms between messages; 2 s after a 180/183 (the phone rings) and before a CANCEL."""
    status = re.match(rb"^SIP/2\.0 (\d{3})", previous)
    if (status and status.group(1) in (b"180", b"183")) or current.startswith(b"CANCEL "):
        return 2000 * MS
    return (10 + (f * 7) % 11) * MS


def frames(sample: Sample, index: int) -> list[tuple[int, bytes]]:
    factory = FrameFactory()
    out: list[tuple[int, bytes]] = []
    connections: dict[frozenset, TcpConnection] = {}
    ts = BASE_TS_NS + index * SAMPLE_SPACING_NS
    previous = b""
    for f, src, dst, raw in sample.messages:
        ts += _gap_ns(previous, raw, f) if previous else 0
        previous = raw
        if _transport(raw) == "udp":
            out.append((ts, factory.udp(sample.hosts[src], 5060, sample.hosts[dst], 5060, raw)))
            continue
        a, b = (sample.hosts[src], 5061), (sample.hosts[dst], 5061)
        key = frozenset((a, b))
        connection = connections.get(key)
        if connection is None:
            seed = zlib.crc32(f"{sample.stem} {a} {b}".encode("ascii"))
            connection = TcpConnection(factory, a, b, client_isn=seed, server_isn=(seed * 2654435761) & 0xFFFFFFFF)
            connections[key] = connection
            out.extend(connection.open(ts - MS))
        out.extend(connection.send(ts, a, raw))
    for number, connection in enumerate(connections.values()):
        out.extend(connection.close(ts + 100 * MS + number * MS, connection.client))
    out.sort(key=lambda item: item[0])
    return out


def build(out_dir: Path) -> list[Path]:
    samples = parse(MESSAGES.read_text(encoding="utf-8"))
    written = []
    for index, sample in enumerate(samples):
        path = out_dir / f"{sample.stem}.pcap"
        with open(path, "wb") as handle:
            writer = PcapWriter(handle)
            for ts_ns, frame in frames(sample, index):
                writer.write(ts_ns, frame)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help=f"output directory (default {HERE})")
    args = parser.parse_args(argv)
    try:
        written = build(args.out)
    except (OSError, BuildError) as exc:
        print(f"build_service_samples: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    for note in CORRECTIONS:
        print(f"corrected: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
