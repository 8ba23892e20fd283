"""Message texts extracted from the RFC .txt files in ../shared/reference, for the decoder tests.

RFC text is paginated: every page ends with padding blank lines, a footer ("... [Page N]"), a
form feed and the next page's header ("RFC 3665   ...   December 2003"). ``rfc_lines`` removes
all of that so a message split across pages comes back whole. A page break that falls exactly on
the empty line between headers and body loses that line; ``_restore_body_separator`` puts it
back where an SDP body (``v=0``) follows the headers directly.

RFC 4475 §3 renders messages with markup (§2.1-§2.3): ``<allOneLine>`` blocks are joined
without line ends, ``<hex>..</hex>`` is raw octets, ``<repeat count=N>..</repeat>`` repeats.
Appendix A holds the same messages bit-exact in a base64 tar.gz; ``rfc4475_archive`` decodes it
so the tests can check the §3 extraction against it.
"""

from __future__ import annotations

import base64
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

_FOOTER_RE = re.compile(r"^\S.*\[Page \d+\]\s*$")
_HEADER_RE = re.compile(r"^RFC \d+ ")


def rfc_lines(path: Path) -> list[str]:
    """The RFC's lines with page footers, form feeds, page headers and page padding removed."""
    lines = path.read_text(encoding="utf-8", errors="replace").replace("\r", "").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FOOTER_RE.match(line):
            while out and not out[-1].strip():
                out.pop()  # padding at the foot of the page
            i += 1
            while i < len(lines) and (
                not lines[i].strip("\f \t") or _HEADER_RE.match(lines[i].lstrip("\f"))
            ):
                i += 1  # form feed, running header, padding at the head of the next page
            continue
        out.append(line.replace("\f", ""))
        i += 1
    return out


def _restore_body_separator(lines: list[str]) -> list[str]:
    if "" in lines:
        return lines
    for index, line in enumerate(lines):
        if line == "v=0" and index > 0:
            return lines[:index] + [""] + lines[index:]
    return lines


def _join_message(lines: list[str]) -> bytes:
    """Lines of one message -> its bytes: CRLF line ends, an empty line after the headers."""
    while lines and not lines[-1].strip():
        lines.pop()
    lines = _restore_body_separator(lines)
    text = "\r\n".join(lines) + "\r\n"
    if "" not in lines:
        text += "\r\n"  # no body: the head still ends with an empty line
    return text.encode("utf-8")


@dataclass(frozen=True)
class RfcMessage:
    section: str  # "3.2", the RFC section holding the flow
    label: str  # "F1 INVITE Alice -> Bob"
    data: bytes

    @property
    def ident(self) -> str:
        return f"{self.section}-{self.label.split()[0]}"


_SECTION_RE = re.compile(r"^(\d+(?:\.\d+)+)\.?\s+\S")
_FLOW_LABEL_RE = re.compile(r"^   (F\d+) (\S.*)$")


def rfc3665_messages(path: Path) -> list[RfcMessage]:
    """Every "Fn ..." message of RFC 3665 §2-§3, in document order."""
    lines = rfc_lines(path)
    messages: list[RfcMessage] = []
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _SECTION_RE.match(line)
        if heading:
            section = heading.group(1)
        label = _FLOW_LABEL_RE.match(line)
        # A flow label is followed by an empty line and an indented start line.
        if label and i + 2 < len(lines) and not lines[i + 1].strip() and lines[i + 2].startswith("   ") \
                and re.match(r"^   (SIP/2\.0 \d{3}|[A-Z]+ \S+ SIP/2\.0)", lines[i + 2]):  # fmt: skip
            body: list[str] = []
            j = i + 2
            while j < len(lines):
                current = lines[j]
                if current.strip() and not current.startswith("   "):
                    break  # the next section heading
                if _FLOW_LABEL_RE.match(current) or current.startswith("   /*"):
                    break  # the next message or an editorial comment
                body.append(current[3:])
                j += 1
            messages.append(RfcMessage(section, f"{label.group(1)} {label.group(2)}", _join_message(body)))
            i = j
            continue
        i += 1
    return messages


def rfc3261_messages(path: Path) -> list[RfcMessage]:
    """The example messages of RFC 3261 §24 (F1-F2 of §24.1, F1-F14 of §24.2).

    §24 indents its messages by 7, 8 or 0 spaces; a message runs from its start line while
    lines are empty or indented at least as deeply, or, at indent 0, up to the next label."""
    lines = rfc_lines(path)
    first = lines.index("24.1 Registration")
    last = next(i for i, line in enumerate(lines) if re.match(r"^25 +Augmented BNF", line))
    messages: list[RfcMessage] = []
    section = "24.1"
    i = first
    while i < last:
        if lines[i].startswith("24.2 "):
            section = "24.2"
        label = re.match(r"^\s*(F\d+) (\S.*)$", lines[i])
        if not label:
            i += 1
            continue
        j = i + 1
        while not lines[j].strip():
            j += 1
        indent = len(lines[j]) - len(lines[j].lstrip())
        body: list[str] = []
        while j < last and not re.match(r"^\s*F\d+ ", lines[j]) and not lines[j].startswith("24.2 "):
            if lines[j].strip() and len(lines[j]) - len(lines[j].lstrip()) < indent:
                break  # prose between two messages
            if indent == 0 and lines[j].startswith("   ") and not lines[j - 1].strip():
                break  # at indent 0, prose is the indented paragraph after an empty line
            body.append(lines[j][indent:])
            j += 1
        messages.append(RfcMessage(section, f"{label.group(1)} {label.group(2)}", _join_message(body)))
        i = j
    return messages


_DETAILS_RE = re.compile(r"^\s+Message Details : (\S+)\s*$")
_SECTION_4475_RE = re.compile(r"^(3\.\d+(?:\.\d+)*)\.\s+\S")


def _expand_4475_markup(lines: list[str]) -> bytes:
    """Apply RFC 4475 §2.1-§2.3 to the (already de-indented) lines of one message."""
    joined: list[str] = []
    one_line: list[str] | None = None
    for line in lines:
        if line.strip() == "<allOneLine>":
            one_line = []
        elif line.strip() == "</allOneLine>":
            joined.append("".join(one_line or []))
            one_line = None
        elif one_line is not None:
            one_line.append(line)
        else:
            joined.append(line)
    data = _join_message(joined)
    data = re.sub(
        rb"<repeat count=(\d+)>(.*?)</repeat>",
        lambda m: m.group(2) * int(m.group(1)),
        data,
        flags=re.DOTALL,
    )
    # <hex> may appear inside <repeat>, so it is expanded last.
    return re.sub(
        rb"<hex>(.*?)</hex>",
        lambda m: bytes.fromhex(re.sub(rb"\s+", b"", m.group(1)).decode("ascii")),
        data,
        flags=re.DOTALL,
    )


def rfc4475_messages(path: Path) -> dict[str, tuple[str, bytes]]:
    """name -> (RFC 4475 section such as "3.1.1.1", message bytes) from §3's rendered text."""
    lines = rfc_lines(path)
    found: dict[str, tuple[str, bytes]] = {}
    section = ""
    i = 0
    while i < len(lines):
        heading = _SECTION_4475_RE.match(lines[i])
        if heading:
            section = heading.group(1)
        details = _DETAILS_RE.match(lines[i])
        if not details:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        message: list[str] = []
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith("      ")):
            message.append(lines[j][6:])
            j += 1
        found[details.group(1)] = (section, _expand_4475_markup(message))
        i = j
    return found


def rfc4475_archive(path: Path) -> dict[str, bytes]:
    """name -> bytes from RFC 4475 Appendix A (base64 of a gzip-compressed tar of ``name.dat``)."""
    text = path.read_text(encoding="ascii", errors="replace")
    # The Perl script in Appendix A quotes the markers too, so take the last pair.
    start = text.rindex("-- BEGIN MESSAGE ARCHIVE --") + len("-- BEGIN MESSAGE ARCHIVE --")
    block = text[start : text.rindex("-- END MESSAGE ARCHIVE --")]
    # As the RFC's Perl script does: keep only lines that are one run of non-space characters.
    encoded = "".join(line.strip() for line in block.splitlines() if re.fullmatch(r"\s*\S+\s*", line))
    archive = tarfile.open(fileobj=io.BytesIO(base64.b64decode(encoded)), mode="r:gz")
    messages: dict[str, bytes] = {}
    for member in archive.getmembers():
        handle = archive.extractfile(member)
        if member.isfile() and handle is not None and member.name.endswith(".dat"):
            messages[Path(member.name).stem] = handle.read()
    return messages


def rfc4317_sdps(path: Path) -> list[tuple[str, bytes]]:
    """("2.1 [Offer]", SDP body) for every SDP in RFC 4317: the indented runs of ``x=`` lines
    that start with v=0, labelled by section and by the ``[Offer]``/``[Answer]`` line above."""
    lines = rfc_lines(path)
    bodies: list[tuple[str, bytes]] = []
    section = role = ""
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        heading = re.match(r"^(\d+\.\d+)\.\s+\S", lines[i])
        if heading:
            section = heading.group(1)
        elif re.fullmatch(r"\[[A-Za-z-]+\]", stripped):
            role = stripped
        if stripped == "v=0":
            sdp: list[str] = []
            while i < len(lines) and re.match(r"^\s+[a-z]=", lines[i]):
                sdp.append(lines[i].strip())
                i += 1
            bodies.append((f"{section} {role}", ("\r\n".join(sdp) + "\r\n").encode("ascii")))
            continue
        i += 1
    return bodies
