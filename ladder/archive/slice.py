"""Reading a call back from an archive: the frames its index row points to, taken from each
file where they lie (in the archive's time order) and written as one small capture, which every
command then reads like any other. A call stitched from rotated files so becomes one capture
and one ladder.

A part is ``{"path": file, "selection": {...}}`` (``ladder.archive.scan._selection``): the SIP
frame numbers of the call in that file and its RTP/RTCP 4-tuples with frame ranges. Frames are
walked only up to the last one a part needs.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
from typing import Any, Callable

from ladder.errors import CaptureError
from ladder.capture.reader import CaptureReader

CALLS_FILE = "calls.parquet"


def is_index(path: str) -> bool:
    """True for a directory (or URL, ``ladder.archive.store``) that ``ladder index`` wrote."""
    from ladder.archive.store import is_file, is_url, join

    if is_url(path):
        return is_file(join(path, CALLS_FILE))
    return os.path.isfile(os.path.join(path, CALLS_FILE))


def _as_selection(selection: dict[str, Any]):
    from ladder.export.pcap_slice import _Selection

    rtp: dict[tuple, list[tuple[int, int, int]]] = {}
    for src, sport, dst, dport, first, last, ssrc in selection["rtp"]:
        rtp.setdefault((src, sport, dst, dport), []).append((first, last, ssrc))
    return _Selection(frozenset(selection["sip"]), rtp, frozenset(tuple(f) for f in selection["rtcp"]),
                      frozenset(tuple(f) for f in selection["mux"]), selection["start_ns"],
                      selection["end_ns"], selection["last_frame"])


def merge_selections(selections: list[dict[str, Any]]) -> dict[str, Any]:
    """One selection that takes every frame any of ``selections`` takes (same file)."""
    if len(selections) == 1:
        return selections[0]
    rtp = sorted({tuple(item) for s in selections for item in s["rtp"]})
    return {
        "sip": sorted({n for s in selections for n in s["sip"]}),
        "rtp": [list(item) for item in rtp],
        "rtcp": sorted({tuple(f) for s in selections for f in s["rtcp"]}),
        "mux": sorted({tuple(f) for s in selections for f in s["mux"]}),
        "start_ns": min(s["start_ns"] for s in selections),
        "end_ns": max(s["end_ns"] for s in selections),
        "last_frame": max(s["last_frame"] for s in selections),
    }


def read_parts(parts: list[dict[str, Any]]) -> list[tuple]:
    """The selected frames of every part, in part order then frame order, as the records
    ``ladder.export.pcap_slice._write_copied`` writes."""
    from ladder.export.pcap_slice import _classify

    records: list[tuple] = []
    for part in parts:
        selection = _as_selection(part["selection"])
        # The UDP port pairs of the call's media, as they appear in a UDP header: a frame
        # without one of them is not decoded at all (most frames of a busy trunk).
        fours = [*selection.rtp, *selection.rtcp, *selection.mux]
        needles = tuple({struct.pack("!HH", four[1], four[3]) for four in fours})
        sip, start, end = selection.sip, selection.start_ns, selection.end_ns
        try:
            with CaptureReader(part["path"]) as reader:
                for number, (ts_ns, linktype, buf, off, caplen, origlen, _o) in enumerate(reader.records(), 1):
                    if number > selection.last_frame and ts_ns > end:
                        break
                    if number not in sip and not (start <= ts_ns <= end and any(
                            buf.find(needle, off, off + caplen) >= 0 for needle in needles)):
                        continue
                    kind, _view = _classify(selection, number, ts_ns, linktype, buf, off, off + caplen)
                    if kind is not None:
                        records.append((ts_ns, number, kind, linktype, bytes(buf[off:off + caplen]),
                                        max(origlen, caplen), None))
        except OSError as exc:
            raise CaptureError(f"{part['path']}: cannot read it again: {exc.strerror or exc}") from None
    return records


def write_slice(parts: list[dict[str, Any]], directory: str | None = None) -> str:
    """The parts' frames as one capture file in a new temporary file; the caller removes it."""
    from ladder.export.pcap_slice import _write_copied

    records = read_parts(parts)
    if not records:
        raise CaptureError("the index points to frames that are no longer in its files (re-run 'ladder index')")
    handle, path = tempfile.mkstemp(prefix="ladder-call-", suffix=".pcap", dir=directory)
    with os.fdopen(handle, "wb") as out:
        _write_copied(out, records)
    return path


def analyse_parts(parts: list[dict[str, Any]], call_ids: list[str], end_ns: int | None) -> dict[str, Any]:
    """The index row of a stitched call: its frames read back from every file and analysed as
    one capture, exactly as the unsplit capture would be."""
    from ladder.archive.scan import analyse_capture
    from ladder.capture.loader import load_capture

    path = write_slice(parts)
    try:
        capture = load_capture(path, engine="dpkt")
        rows = analyse_capture(capture, end_ns)
    finally:
        os.unlink(path)
    wanted = set(call_ids)
    for found in rows:
        if wanted & set(found["row"]["call_ids"]):
            return found["row"]
    raise CaptureError(f"call {call_ids[0]!r} not found again in its frames")


def rows_parts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts of several index rows as one list: a file read once, with every frame any
    row takes from it, files in the order the rows (each in time order) name them."""
    order: list[str] = []
    selections: dict[str, list[dict]] = {}
    import json

    for row in rows:
        for part in row["parts"]:
            if part["path"] not in selections:
                order.append(part["path"])
            selections.setdefault(part["path"], []).append(json.loads(part["selection"]))
    return [{"path": path, "selection": merge_selections(selections[path])} for path in order]


def run_on_index(args, command: Callable[[Any], int]) -> int:
    """Run a capture command (``show``, ``export``) on calls of an index: ``args.file`` names the
    index, ``args.calls`` and ``args.call`` the calls (row numbers or Call-IDs). The command runs
    on a capture of just their frames, with ``--call`` set to their Call-IDs."""
    from ladder.archive.search import find_rows
    from ladder.errors import UsageError

    selectors = [*getattr(args, "calls", []), *getattr(args, "call", [])]
    if not selectors:
        raise UsageError(f"name the calls to read from the index {args.file} (row numbers or Call-IDs; "
                         "see 'ladder search')")
    rows = find_rows(args.file, selectors)
    index = args.file
    path = write_slice(rows_parts(rows))
    try:
        args.file, args.calls, args.call = path, [], [row["call_id"] for row in rows]
        if getattr(args, "engine", "auto") == "pyshark" or getattr(args, "tls_keylog", None):
            print(f"ladder: notice: {index} is an index; its frames are read with the fast reader", file=sys.stderr)
            args.engine, args.tls_keylog = "dpkt", None
        return command(args)
    finally:
        os.unlink(path)
