"""Archives for the index tests: real captures split into rotated files the way a capture
ring leaves them (``editcap -c N``, as ``dumpcap -b packets:N`` would), so that calls span
the splits."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, require_tool


def split_capture(source: Path, directory: Path, packets: int, *, gzip_every: int = 0) -> list[Path]:
    """``source`` as files of ``packets`` frames each in ``directory`` (made), in time order;
    with ``gzip_every`` every n-th file is gzip-compressed (rotations are often compressed)."""
    editcap = require_tool("editcap")
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run([editcap, "-c", str(packets), str(source), str(directory / "ring.pcap")],
                   check=True, capture_output=True)
    files = sorted(directory.glob("ring_*.pcap"))
    assert len(files) >= 2, f"{source} split into {len(files)} file(s)"
    if gzip_every:
        for number, path in enumerate(files):
            if number % gzip_every == gzip_every - 1:
                packed = path.with_suffix(".pcap.gz")
                with open(path, "rb") as plain, gzip.open(packed, "wb") as out:
                    shutil.copyfileobj(plain, out)
                path.unlink()
                files[number] = packed
    return files


def rtp_capture(path: Path, calls: int, seconds: int) -> Path:
    """bench/make_rtp_capture.py's trunk: overlapping calls with RTP both ways."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_rtp_capture.py"), str(path),
                    "--calls", str(calls), "--seconds", str(seconds)], check=True, capture_output=True)
    return path
