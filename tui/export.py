"""Writing what the user sees to a file: the text ladders, Mermaid, JSON, a pcap of the calls
(``ladder.export.pcap_slice``) and the HTML report (``ladder.export.html_report``).

A file that exists is never replaced unless the caller says ``overwrite`` (the save dialog asks
first); every function returns the path it wrote so the app can name it in a notification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TYPE_CHECKING

from ladder.draw.diagram import Ladder

if TYPE_CHECKING:
    from ladder.capture.loader import Capture
    from ladder.calls.grouping import Call


@dataclass(frozen=True, slots=True)
class ExportFormat:
    key: str
    label: str
    suffix: str


TEXT = ExportFormat("text", "Text ladder (RFC 3665 style)", ".txt")
MERMAID = ExportFormat("mermaid", "Mermaid sequence diagram", ".mmd")
PCAP = ExportFormat("pcap", "pcap of the calls (SIP, RTP, RTCP)", ".pcap")
JSON = ExportFormat("json", "JSON ladders (docs/JSON.md)", ".json")
HTML = ExportFormat("html", "HTML report", ".html")


FORMATS = (PCAP, TEXT, MERMAID, JSON, HTML)  # sngrep's save dialog lists pcap first


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


def _write_text(path: Path, text: str, overwrite: bool) -> Path:
    with open(path, "w" if overwrite else "x", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


def write_pcap(capture: "Capture", calls: list["Call"], path: Path, all_calls: list["Call"],
               overwrite: bool = False) -> tuple[Path, str]:
    """The calls' SIP, RTP and RTCP frames copied from the capture (``ladder.export.pcap_slice``).
    A capture of several link types is written as pcapng, and the name says so."""
    from ladder.export.pcap_slice import write_call_pcap

    if path.exists() and not overwrite:
        raise FileExistsError(17, "File exists", str(path))
    written = write_call_pcap(capture, calls, str(path), all_calls=all_calls)
    if written.file_format == "pcapng" and path.suffix != ".pcapng":
        renamed = free_path(path.parent, path.stem, ".pcapng")
        path = path.rename(renamed)
    return path, written.describe()


def write_export(fmt: ExportFormat, path: Path, *, ladders: list[Ladder], capture: "Capture", calls: list["Call"],
                 all_calls: list["Call"], time: bool = False, overwrite: bool = False) -> tuple[Path, str]:
    """Write ``calls`` (drawn as ``ladders``) in ``fmt`` to ``path``; returns (path, a few
    words on what it holds). Raises ``FileExistsError`` rather than replace a file, unless
    ``overwrite``."""
    count = f"{len(calls)} call{'s' if len(calls) != 1 else ''}"
    if fmt.key == "pcap":
        return write_pcap(capture, calls, path, all_calls, overwrite)
    if fmt.key == "text":
        from ladder.draw.text import render_text

        text = "\n".join(render_text(ladder, time=time) for ladder in ladders)
    elif fmt.key == "mermaid":
        from ladder.draw.mermaid import render_mermaid

        text = "\n".join(render_mermaid(ladder) for ladder in ladders)
    elif fmt.key == "json":
        from ladder.draw.json_ladder import render_json

        text = render_json(ladders)
    else:
        from ladder.export.html_report import render_html

        text = render_html(capture, calls, all_calls=all_calls)
    return _write_text(path, text, overwrite), f"{fmt.label}, {count}"
