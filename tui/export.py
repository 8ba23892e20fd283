"""Writing what the user sees to files in the current directory: the text ladder, Mermaid,
and, with their writers installed (``ladder.export_pcap``, ``ladder.render_html``), a pcap of
the selected calls and the HTML report.

Every function returns the path it wrote (never overwriting an existing file) so the app can
name it in a notification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ladder.diagram import Ladder


@dataclass(frozen=True, slots=True)
class ExportFormat:
    key: str
    label: str
    suffix: str


TEXT = ExportFormat("text", "Text ladder (RFC 3665 style)", ".txt")
MERMAID = ExportFormat("mermaid", "Mermaid sequence diagram", ".mmd")
PCAP = ExportFormat("pcap", "pcap of the selected calls", ".pcap")
HTML = ExportFormat("html", "HTML report", ".html")


FORMATS = (TEXT, MERMAID, PCAP, HTML)


def output_stem(capture_path: str, call_indexes: list[int]) -> str:
    """``<capture name>-call3`` or ``<capture name>-calls3-5-9`` (at most 5 numbers named)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(capture_path).name) or "capture"
    name = name.rsplit(".", 1)[0] if "." in name else name
    numbers = "-".join(str(i) for i in call_indexes[:5]) + ("-more" if len(call_indexes) > 5 else "")
    return f"{name}-call{'s' if len(call_indexes) > 1 else ''}{numbers}"


def free_path(directory: Path, stem: str, suffix: str) -> Path:
    """``stem+suffix`` in ``directory``, or ``stem-2+suffix``… when that exists already."""
    path = directory / f"{stem}{suffix}"
    number = 2
    while path.exists():
        path = directory / f"{stem}-{number}{suffix}"
        number += 1
    return path


def _write_text(path: Path, text: str) -> Path:
    with open(path, "x", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


def write_text(ladder: Ladder, path: Path, *, time: bool = False) -> Path:
    from ladder.render_text import render_text

    return _write_text(path, render_text(ladder, time=time))


def write_mermaid(ladder: Ladder, path: Path) -> Path:
    from ladder.render_mermaid import render_mermaid

    return _write_text(path, render_mermaid(ladder))


def write_html(capture: Any, calls: list[Any], path: Path, all_calls: list[Any]) -> Path:
    from ladder.render_html import render_html

    return _write_text(path, render_html(capture, calls, all_calls=all_calls))


def write_pcap(capture: Any, calls: list[Any], path: Path, all_calls: list[Any]) -> tuple[Path, str]:
    """The calls' SIP, RTP and RTCP frames copied from the capture (``ladder.export_pcap``).
    A capture of several link types is written as pcapng, and the name says so."""
    from ladder.export_pcap import write_call_pcap

    written = write_call_pcap(capture, calls, str(path), all_calls=all_calls)
    if written.file_format == "pcapng" and path.suffix != ".pcapng":
        renamed = free_path(path.parent, path.stem, ".pcapng")
        path = path.rename(renamed)
    return path, written.describe()


def export(fmt: ExportFormat, *, directory: Path, stem: str, ladder: Ladder, capture: Any,
           calls: list[Any], all_calls: list[Any], time: bool = False) -> tuple[Path, str]:
    """Write one format; returns (path, a few words on what it holds)."""
    path = free_path(directory, stem, fmt.suffix)
    writers: dict[str, Callable[[], tuple[Path, str]]] = {
        "text": lambda: (write_text(ladder, path, time=time), "text ladder"),
        "mermaid": lambda: (write_mermaid(ladder, path), "Mermaid diagram"),
        "pcap": lambda: write_pcap(capture, calls, path, all_calls),
        "html": lambda: (write_html(capture, calls, path, all_calls), "HTML report"),
    }
    return writers[fmt.key]()
