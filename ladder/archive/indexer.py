"""``ladder index``: an archive of capture files read once into an index of calls.

An index is a directory of Parquet files:

``calls.parquet``  one row per call (``CALL_SCHEMA``), what ``ladder search`` queries;
``files.parquet``  one row per capture file: its identity (path, size, mtime, BLAKE2b of its
                   bytes), whether it could be read, and its scan (calls, frame selections, RTP
                   streams) as JSON, so a later run reads only new or changed files.

Steps: (1) list the files (directories walked, globs expanded); (2) scan each new or changed
file (``archive_scan.scan_file``), spread over local processes (one per core) or a Dask
cluster; (3) merge: the fragments of one Call-ID in several files of one directory (a rotated
set) are stitched into one call, whose row is made again from its frames read back from every
file (``archive_slice.analyse_parts``), also on the workers; (4) write both tables. Steps 2
and 3 give the same rows whichever engine runs them.

A file is unchanged when its path, size and mtime are; a file whose size or mtime changed but
whose bytes hash the same (touched, copied back) keeps its scan too.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ladder.archive.merge import merge_fragments
from ladder.archive.scan import file_hash, scan_file
from ladder.archive.slice import CALLS_FILE, analyse_parts, is_index
from ladder.archive.store import is_file, is_url, join, open_parquet, write_parquet
from ladder.errors import CaptureError, UsageError

if TYPE_CHECKING:
    from distributed import Client

FILES_FILE = "files.parquet"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")


def list_captures(sources: Iterable[str]) -> list[str]:
    """Every capture file the arguments name: files as given, directories walked (files with
    a capture suffix), globs expanded; absolute paths, each once, sorted."""
    found: set[str] = set()
    for source in sources:
        matches = glob.glob(source, recursive=True) if glob.has_magic(source) else [source]
        if not matches:
            raise UsageError(f"{source}: no such file or directory")
        for match in matches:
            if os.path.isdir(match):
                for root, _dirs, names in os.walk(match):
                    found.update(os.path.join(root, n) for n in names if n.lower().endswith(CAPTURE_SUFFIXES))
            elif os.path.isfile(match):
                found.add(match)
            else:
                raise UsageError(f"{source}: no such file or directory")
    return sorted(os.path.abspath(p) for p in found)


# -- running tasks ----------------------------------------------------------------------------------


class Runner:
    """Maps a function over items on local processes or a Dask cluster, results in item order."""

    def __init__(self, workers: int | None = None, cluster: str | None = None):
        self.cluster = cluster
        self.workers = workers or os.cpu_count() or 1
        self._client: Client | None = None
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Runner:
        if self.cluster:
            from distributed import Client

            try:
                self._client = Client(self.cluster, timeout=30)
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot reach the Dask scheduler at {self.cluster}: {exc}") from None
        elif self.workers > 1:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._pool is not None:
            self._pool.shutdown()

    def map(self, function: Callable, items: list, *more: list) -> list:
        if not items:
            return []
        if self._client is not None:
            futures = self._client.map(function, items, *more, pure=False)
            return self._client.gather(futures)
        if self._pool is not None:
            return list(self._pool.map(function, items, *more, chunksize=max(1, len(items) // (self.workers * 8))))
        return [function(*args) for args in zip(items, *more)]


# -- the index ------------------------------------------------------------------------------------


@dataclass
class IndexReport:
    files: int = 0
    scanned: int = 0
    reused: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    calls: int = 0
    stitched: int = 0
    stitched_reused: int = 0


IDENTITY = ["path", "size", "mtime_ns", "hash", "status", "error"]


def _read_table(path: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    if not is_file(path):
        return []
    return open_parquet(path).read(columns=columns).to_pylist()


def _plan(paths: list[str], previous: list[dict[str, Any]]) -> tuple[dict[str, tuple], list[str]]:
    """(path -> (the previous run's path whose scan it keeps, size, mtime) for files kept from
    the previous run, paths to scan)."""
    by_path = {row["path"]: row for row in previous}
    by_hash: dict[str, str] = {}
    for row in previous:
        if row["hash"]:
            by_hash.setdefault(row["hash"], row["path"])
    kept: dict[str, tuple] = {}
    todo: list[str] = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            todo.append(path)  # vanished since listing: the scan says so
            continue
        old = by_path.get(path)
        if old is not None and old["size"] == stat.st_size and old["mtime_ns"] == stat.st_mtime_ns:
            kept[path] = (path, stat.st_size, stat.st_mtime_ns)
            continue
        if old is None and not by_hash:
            todo.append(path)
            continue
        try:
            digest = file_hash(path)
        except OSError:
            todo.append(path)
            continue
        if digest in by_hash:
            kept[path] = (by_hash[digest], stat.st_size, stat.st_mtime_ns)
        else:
            todo.append(path)
    return kept, todo


def _up_to_date(output: str, previous: list[dict[str, Any]], kept: dict[str, tuple], todo: list[str]) -> bool:
    """Nothing to do: every file of the previous run is there, unchanged, and no other."""
    from ladder.archive.schema import CALL_SCHEMA

    calls = join(output, CALLS_FILE)
    return (not todo and is_file(calls) and set(CALL_SCHEMA.names) <= set(open_parquet(calls).schema_arrow.names)
            and len(kept) == len(previous) and all(kept.get(r["path"], ("",))[0] == r["path"] for r in previous))


def _safe_scan(path: str) -> dict[str, Any]:
    """``scan_file`` that turns an unreadable file into a record instead of an exception."""
    try:
        result = scan_file(path)
    except OSError as exc:
        return _failed_scan(path, f"{path}: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - a decoder bug on one file must not stop the archive
        return _failed_scan(path, f"{path}: internal error while reading it: {type(exc).__name__}: {exc}")
    scan = {"calls": result.pop("calls"), "streams": result.pop("streams")}
    result["scan"] = json.dumps(scan, separators=(",", ":"))
    return result


def _failed_scan(path: str, error: str) -> dict[str, Any]:
    return {"path": path, "size": 0, "mtime_ns": 0, "hash": "", "status": "error", "error": error,
            "warnings": [], "frames": 0, "first_ts_ns": None, "last_ts_ns": None,
            "scan": json.dumps({"calls": [], "streams": []})}


def _safe_parts(parts: list[dict[str, Any]], call_ids: list[str], end_ns: int | None) -> dict[str, Any]:
    """``analyse_parts``, or ``{"error": why}`` when the call cannot be read back."""
    try:
        return analyse_parts(parts, call_ids, end_ns)
    except (OSError, CaptureError) as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one call's failure must not lose the archive's others
        return {"error": f"internal error: {type(exc).__name__}: {exc}"}


def _unreadable_row(parts: list[dict[str, Any]], call_ids: list[str]) -> dict[str, Any]:
    """What is known of a call whose frames could not be analysed again: its Call-IDs, when
    its packets begin and where they lie."""
    from ladder.export.pcap_slice import RTCP_SLACK_NS

    start = min(p["selection"]["start_ns"] for p in parts) + RTCP_SLACK_NS
    return {"call_id": call_ids[0], "call_ids": call_ids, "start_ns": start, "outcome": "unreadable"}


def _file_order(record: dict[str, Any]) -> tuple:
    return (record["first_ts_ns"] if record["first_ts_ns"] is not None else 0, record["path"])


def _part_column(part: dict[str, Any]) -> dict[str, Any]:
    selection = part["selection"]
    frames = [*selection["sip"], *(item[4] for item in selection["rtp"] if item[4] > 1),
              *(item[5] for item in selection["rtp"])]
    return {"path": part["path"], "first_frame": min(frames, default=0), "last_frame": max(frames, default=0),
            "selection": json.dumps(selection, separators=(",", ":"))}


def _signature(parts: list[dict[str, Any]]) -> str:
    import hashlib

    text = json.dumps([[p["path"], p["hash"], p["selection"]] for p in parts], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def build_index(sources: list[str], output: str, *, workers: int | None = None, cluster: str | None = None,
                progress: Callable[[str], None] | None = None) -> IndexReport:
    """Index (or bring up to date) ``output`` from the captures ``sources`` name."""
    report = IndexReport()
    say = progress or (lambda _text: None)
    paths = list_captures(sources)
    report.files = len(paths)
    if not is_url(output) and os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"{output}: exists and is not an index directory")
    files_path, calls_path = join(output, FILES_FILE), join(output, CALLS_FILE)
    identities = _read_table(files_path, IDENTITY)  # not the scans: an unchanged archive needs none
    kept, todo = _plan(paths, identities)
    report.reused = len(kept)
    say(f"{len(paths)} file(s): {len(todo)} to read, {len(kept)} unchanged")
    if _up_to_date(output, identities, kept, todo):
        signatures = _read_table(calls_path, ["signature"])
        report.bad = [(r["path"], r["error"]) for r in identities if r["status"] != "ok"]
        report.calls, report.stitched = len(signatures), sum(1 for r in signatures if r["signature"])
        report.stitched_reused = report.stitched
        return report
    previous = {row["path"]: row for row in _read_table(files_path)}
    previous_calls = {row["signature"]: row for row in _read_table(calls_path) if row.get("signature")}
    with Runner(workers, cluster) as runner:
        scanned = runner.map(_safe_scan, todo)
        report.scanned = len(scanned)
        reused = [{**previous[source], "path": path, "size": size, "mtime_ns": mtime}
                  for path, (source, size, mtime) in kept.items()]
        records = sorted([*reused, *scanned], key=_file_order)
        for record in records:
            record["_scan"] = json.loads(record["scan"])
            if record["status"] != "ok":
                report.bad.append((record["path"], record["error"]))
            report.warnings.extend(record["warnings"])
        rows, jobs = merge_fragments(records)
        for row in rows:
            row["parts"] = [_part_column(p) for p in row["parts"]]
        kept_rows, stitch_jobs = _rows_of_jobs(jobs, previous_calls, report)
        rows.extend(kept_rows)
        if stitch_jobs:
            say(f"{len(stitch_jobs)} call(s) span several files: reading them back")
            made = runner.map(_safe_parts, [j[0] for j in stitch_jobs], [j[1] for j in stitch_jobs],
                              [j[2] for j in stitch_jobs])
            for (parts, call_ids, _end, signature), row in zip(stitch_jobs, made):
                if "error" in row:
                    report.warnings.append(f"call {call_ids[0]}: {row['error']}")
                    row, signature = _unreadable_row(parts, call_ids), ""
                rows.append({**row, "parts": [_part_column(p) for p in parts], "signature": signature})
    _write_index(output, rows, records)
    report.calls = len(rows)
    return report


def _rows_of_jobs(jobs: list[tuple], previous_calls: dict[str, dict], report: IndexReport):
    """Rows of the calls made again from their frames that an earlier run made from the same
    parts of the same files, and the jobs still to run."""
    kept, todo = [], []
    for parts, call_ids, end_ns in jobs:
        signature = _signature(parts)
        if signature in previous_calls:
            kept.append({k: v for k, v in previous_calls[signature].items() if k != "row"})
            continue
        todo.append(([{"path": p["path"], "selection": p["selection"]} for p in parts], call_ids, end_ns, signature))
    report.stitched = len(jobs)
    report.stitched_reused = len(kept)
    return kept, todo


def _write_index(output: str, rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    from ladder.archive.schema import CALL_SCHEMA, FILE_SCHEMA, ROW_GROUP_SIZE, search_columns

    # Row N is the file's N-th row: ``ladder search`` reads a row back by its number alone.
    rows.sort(key=lambda r: (r["start_ns"], r["call_id"], r["parts"][0]["path"] if r["parts"] else ""))
    for number, row in enumerate(rows, 1):
        row["row"] = number
        row.update(search_columns(row))
    files = [{k: v for k, v in r.items() if k != "_scan"} for r in records]
    for name, table in ((CALLS_FILE, pa.Table.from_pylist(rows, schema=CALL_SCHEMA)),
                        (FILES_FILE, pa.Table.from_pylist(files, schema=FILE_SCHEMA))):
        write_parquet(table, output, name, row_group_size=ROW_GROUP_SIZE)


def print_report(report: IndexReport, output: str, out=None) -> None:
    out = out or sys.stderr
    from ladder.textsafe import safe_text

    for path, error in report.bad:
        print(f"ladder: warning: skipped {safe_text(path)}: {safe_text(error)}", file=out)
    for warning in report.warnings:
        print(f"ladder: warning: {safe_text(warning)}", file=out)
    print(f"ladder: indexed {report.files} file(s) into {output}: {report.scanned} read, {report.reused} unchanged, "
          f"{len(report.bad)} skipped; {report.calls} call(s), {report.stitched} stitched across files", file=out)
