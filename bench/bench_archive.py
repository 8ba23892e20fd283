"""Archive benchmarks: ``ladder index`` on a ring of rotated files, and ``ladder search`` on
an index of millions of calls.

    python3 bench/bench_archive.py index [--calls 5000] [--seconds 1] [--files 1000] [--dir /tmp/ladder-bench-archive]
    python3 bench/bench_archive.py search [--rows 10000000] [--dir /tmp/ladder-bench-archive]

``index`` writes one trunk capture (bench/make_rtp_capture.py), splits it into ``--files``
rotated files with editcap, then indexes (a) the single file, (b) the ring with 1 worker,
(c) the ring with 2 workers, (d) the unchanged ring again, each in its own process under
``/usr/bin/time -v``. The machine is shared, so wall time says little: the figures that count
are CPU seconds (user+sys, the workers included) and, for the scaling, the critical path: each
task logs the CPU it used and the process that ran it; with one core per worker, a run lasts
its serial part (listing, merging, writing) plus its busiest worker's CPU. The 2-worker speedup
is (serial + all tasks) / (serial + busiest worker), next to the wall-clock ratio seen, and
again with each worker process's whole CPU up to its last task (its start-up and imports too).

``search`` writes a synthetic index of ``--rows`` calls (the index's columns, made by DuckDB,
the values varied enough that filters select a few rows to a large share) and times what
``ladder search INDEX FILTER`` does for one filter of each kind (DuckDB finds and counts every
match, the table's columns are read for the first 1,000), each filter in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# -- the child that runs one index --------------------------------------------------------------


def _log_cpu(log: str, kind: str, started: float) -> None:
    """The task's CPU, and its process's CPU so far (start-up, imports, pickling included)."""
    now = time.process_time()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{kind} {os.getpid()} {now - started:.6f} {now:.6f}\n")


def _timed_scan(path: str):
    from ladder.archive import indexer as archive_index

    started = time.process_time()
    result = archive_index._bench_scan(path)
    _log_cpu(os.environ["LADDER_BENCH_LOG"], "scan", started)
    return result


def _timed_parts(parts, call_ids, end_ns):
    from ladder.archive import indexer as archive_index

    started = time.process_time()
    result = archive_index._bench_parts(parts, call_ids, end_ns)
    _log_cpu(os.environ["LADDER_BENCH_LOG"], "stitch", started)
    return result


def run_child(args: argparse.Namespace) -> int:
    """One ``build_index`` with every task's CPU logged (the functions are wrapped, not changed)."""
    from ladder.archive import indexer as archive_index

    archive_index._bench_scan, archive_index._safe_scan = archive_index._safe_scan, _timed_scan
    archive_index._bench_parts, archive_index.analyse_parts = archive_index.analyse_parts, _timed_parts
    started = time.process_time()
    report = archive_index.build_index(args.paths, args.output, workers=args.workers)
    _log_cpu(os.environ["LADDER_BENCH_LOG"], "driver", started)
    print(json.dumps({"files": report.files, "scanned": report.scanned, "calls": report.calls,
                      "stitched": report.stitched, "stitched_reused": report.stitched_reused}))
    return 0


# -- the parent -----------------------------------------------------------------------------------


def _time_v(command: list[str], env: dict[str, str]) -> dict:
    wall = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env)
    wall = time.monotonic() - wall
    if done.returncode:
        raise SystemExit(done.stderr)
    field = lambda name: float(re.search(rf"{name}: ([\d.]+)", done.stderr).group(1))  # noqa: E731
    return {"wall": wall, "cpu": field(r"User time \(seconds\)") + field(r"System time \(seconds\)"),
            "rss_mb": field(r"Maximum resident set size \(kbytes\)") / 1024,
            "report": json.loads(done.stdout.strip().splitlines()[-1])}


def _index_run(paths: list[str], output: Path, workers: int, log: Path) -> dict:
    log.unlink(missing_ok=True)
    env = {**os.environ, "LADDER_BENCH_LOG": str(log)}
    result = _time_v([sys.executable, __file__, "child", "-o", str(output), "--workers", str(workers), *paths], env)
    per_process: dict[str, float] = {}
    whole_process: dict[str, float] = {}
    tasks = driver = 0.0
    for line in log.read_text().splitlines():
        kind, pid, cpu, total = line.split()
        if kind == "driver":
            driver = float(cpu)
        else:
            tasks += float(cpu)
            per_process[pid] = per_process.get(pid, 0.0) + float(cpu)
            whole_process[pid] = max(whole_process.get(pid, 0.0), float(total))
    # With one worker the tasks run in the driver's own process: its CPU includes them.
    serial = max(driver - (tasks if workers == 1 else 0.0), 0.0)
    busiest = max(per_process.values(), default=0.0)
    # A worker process's whole CPU up to its last task: its start-up and imports too.
    busiest_process = busiest if workers == 1 else max(whole_process.values(), default=0.0)
    result.update(tasks_cpu=tasks, serial_cpu=serial, busiest_cpu=busiest, processes=len(per_process),
                  critical=serial + busiest, critical_whole=serial + busiest_process)
    return result


def bench_index(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    ring = base / "ring"
    whole = base / "trunk.pcap"
    if not whole.exists() or args.fresh:
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_rtp_capture.py"), str(whole),
                        "--calls", str(args.calls), "--seconds", str(args.seconds)], check=True)
        frames = int(subprocess.run(["capinfos", "-c", "-M", "-T", str(whole)], capture_output=True,
                                    text=True, check=True).stdout.split()[-1])
        ring.mkdir()
        per_file = -(-frames // args.files)
        subprocess.run(["editcap", "-c", str(per_file), str(whole), str(ring / "sbc.pcap")], check=True)
    files = sorted(ring.iterdir())
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"trunk: {whole.stat().st_size / 1e6:.1f} MB; ring: {len(files)} files, {size_mb:.1f} MB")
    log = base / "tasks.log"
    runs = {}
    for name, paths, workers, fresh in (("single file, 1 worker", [str(whole)], 1, True),
                                        ("ring, 1 worker", [str(ring)], 1, True),
                                        ("ring, 2 workers", [str(ring)], 2, True),
                                        ("ring unchanged, again", [str(ring)], 2, False)):
        output = base / ("index-single" if paths[0] == str(whole) else "index-ring")
        if fresh:
            shutil.rmtree(output, ignore_errors=True)
        runs[name] = run = _index_run(paths, output, workers, log)
        count = 1 if paths[0] == str(whole) else len(files)
        mb = whole.stat().st_size / 1e6 if count == 1 else size_mb
        print(f"{name:24} cpu {run['cpu']:7.2f} s  wall {run['wall']:6.2f} s  critical path {run['critical']:7.2f} s "
              f"(serial {run['serial_cpu']:.2f} + busiest worker {run['busiest_cpu']:.2f} of {run['processes']})  "
              f"rss {run['rss_mb']:.0f} MB  {count / run['critical']:.1f} files/s  {mb / run['critical']:.2f} MB/s  "
              f"{run['report']}")
        print(f"{'':24} critical path counting each worker's whole CPU (start-up, imports, pickling): "
              f"{run['critical_whole']:.2f} s")
    single = runs["single file, 1 worker"]["critical"]
    one, two = runs["ring, 1 worker"], runs["ring, 2 workers"]
    print(f"rate vs single-file ingest: 1 worker {single / one['critical']:.2f}x, 2 workers {single / two['critical']:.2f}x")
    print(f"2 workers vs 1: critical path {one['critical'] / two['critical']:.2f}x "
          f"({one['critical_whole'] / two['critical_whole']:.2f}x counting the workers' whole CPU), "
          f"wall {one['wall'] / two['wall']:.2f}x (shared machine)")
    again = runs["ring unchanged, again"]
    print(f"re-index unchanged: {again['cpu'] / one['cpu'] * 100:.1f}% of the first run's CPU")
    return 0


# -- search -----------------------------------------------------------------------------------------


def write_synthetic_index(directory: Path, rows: int) -> None:
    """``rows`` calls with the index's columns, made by DuckDB itself (numbers, hosts,
    outcomes, codes and times varied by hashing the row number, so that the benchmark's filters
    select from a handful of rows to a large share)."""
    import duckdb

    from ladder.archive.schema import ROW_GROUP_SIZE
    from ladder.call_filter import sql_literal

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "files.parquet").unlink(missing_ok=True)
    start0 = 1_796_083_200_000_000_000  # 2026-12-01T00:00Z; a call every 26 ms: 3 days for 10M rows
    # The outcome words of ``ladder.calls.outcome``: 70% completed, 30% failed in some way.
    outcome = ("CASE WHEN h % 100 < 70 THEN 'completed' WHEN h % 100 < 76 THEN 'busy 486' WHEN h % 100 < 84 "
               "THEN 'cancelled' WHEN h % 100 < 89 THEN 'failed 408' WHEN h % 100 < 94 THEN 'rejected 403' "
               "WHEN h % 100 < 98 THEN 'rejected 503' ELSE 'in call' END")
    sql = f"""
    COPY (
      SELECT *, lower(concat_ws(chr(10), method, caller, callee, array_to_string(call_ids, chr(10)), outcome,
                                kind, reference)) AS text,
             lower(caller || chr(10) || caller_number) AS from_text,
             lower(callee || chr(10) || callee_number) AS to_text, lower(call_id) AS callid_text
      FROM (
      SELECT i + 1 AS row, cid AS call_id, [cid] AS call_ids, []::VARCHAR[] AS legs, 'call' AS kind,
             'INVITE' AS method, cnum || '@' || host AS caller, cnum AS caller_user, cnum AS caller_number,
             host AS caller_host, dnum || '@' || host AS callee, dnum AS callee_user, dnum AS callee_number,
             host AS callee_host, start AS start_ns, start + 3000000000 AS answer_ns,
             start + duration AS end_ns, duration AS duration_ns, outcome,
             CAST(CASE WHEN regexp_matches(outcome, '[0-9]{{3}}$') THEN right(outcome, 3)
                  WHEN outcome = 'cancelled' THEN '487' ELSE '200' END AS INTEGER) AS status,
             CAST(7 AS INTEGER) AS messages, 'rfc3665-3.1' AS reference,
             CAST(one_way AS INTEGER) AS deviations,
             CASE WHEN one_way THEN ['one-way-media'] ELSE []::VARCHAR[] END AS deviation_codes,
             round(1.0 + (h2 % 340) / 100.0, 2) AS mos_fwd, round(1.0 + (h3 % 340) / 100.0, 2) AS mos_rev,
             round((h2 % 1000) / 1000.0, 3) AS loss_fwd, round((h3 % 1000) / 1000.0, 3) AS loss_rev,
             []::VARCHAR[] AS participants,
             []::STRUCT(path VARCHAR, first_frame BIGINT, last_frame BIGINT, selection VARCHAR)[] AS parts,
             '' AS signature
      FROM (
        SELECT i, h, h2, h3, 'c' || i || '@synthetic' AS cid, 'sbc' || (i % 16) AS host,
               '+1' || (200 + h % 800) || lpad((h2 % 10000000)::VARCHAR, 7, '0') AS cnum,
               '+44' || (1000000000 + h3 % 8999999999) AS dnum,
               {start0} + i * 26000000 AS start, 1000000000 + h2 % 600000000000 AS duration,
               {outcome} AS outcome, h3 % 100 = 0 AS one_way
        FROM (SELECT range AS i, hash(range) AS h, hash(range * 7 + 1) AS h2, hash(range * 13 + 5) AS h3
              FROM range({int(rows)}))
      ))
    ) TO {sql_literal(str(directory / "calls.parquet"))} (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_SIZE})
    """
    connection = duckdb.connect(":memory:")
    connection.execute("SET enable_progress_bar = false")
    connection.execute("SET preserve_insertion_order = true")  # row N stays the file's N-th row
    try:
        connection.execute(sql)
    finally:
        connection.close()


# One or more of each kind of term the filter language has.
SEARCHES = (
    "from:+1555 outcome:failed since:2026-12-01T14:00 until:2026-12-01T15:00 has:one-way-media",
    "from:+1555",
    "to:+4420 since:2026-12-02",
    "callid:c7654321@synthetic",
    "SBC3",
    "sbc3 code:503",
    "re:sbc3$",
    "from:/^\\+1555/",
    "outcome:failed",
    "outcome:failed has:one-way-media",
    "method:INVITE,BYE kind:call",
    "code:486,603",
    "code:503",
    "has:deviations",
    "!dev since:2026-12-02T10:00 until:2026-12-02T11:00",
)


def time_search(index: str, query: str, runs: int) -> dict:
    """What ``ladder search INDEX QUERY`` does (all matches found and counted, the first
    1,000 read for the table), ``runs`` times in this process."""
    import resource

    from ladder.archive.search import matching_rows, read_rows
    from ladder.cli.search import DEFAULT_LIMIT, TABLE_COLUMNS

    walls, cpus = [], []
    for _ in range(runs):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic()
        found = matching_rows(index, query)
        read_rows(index, found[:DEFAULT_LIMIT], TABLE_COLUMNS)
        walls.append(time.monotonic() - wall)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
    return {"matches": len(found), "wall": statistics.median(walls), "wall_min": min(walls),
            "cpu": statistics.median(cpus), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_search(args: argparse.Namespace) -> int:
    index = Path(args.dir) / f"index-{args.rows}"
    if not (index / "calls.parquet").exists() or args.fresh:
        started = time.monotonic()
        write_synthetic_index(index, args.rows)
        print(f"wrote {args.rows:,} rows in {time.monotonic() - started:.0f} s")
    print(f"index: {(index / 'calls.parquet').stat().st_size / 1e6:.0f} MB, {args.rows:,} rows; "
          f"each filter in a fresh process, median of {args.runs} runs")
    for query in SEARCHES:
        # A process per filter: its peak RSS is that filter's, not the largest so far.
        done = subprocess.run([sys.executable, __file__, "search-child", str(index), query, str(args.runs)],
                              capture_output=True, text=True, check=True)
        run = json.loads(done.stdout)
        print(f"{run['matches']:>10,} matches  cpu {run['cpu']:.3f} s  wall {run['wall']:.3f} s "
              f"(min {run['wall_min']:.3f})  peak rss {run['rss_mb']:.0f} MB  {query!r}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index")
    index.add_argument("--calls", type=int, default=5000)
    index.add_argument("--seconds", type=int, default=1)
    index.add_argument("--files", type=int, default=1000)
    index.add_argument("--dir", default="/tmp/ladder-bench-archive")
    index.add_argument("--fresh", action="store_true", help="write the capture and the ring again")
    search_parser = commands.add_parser("search")
    search_parser.add_argument("--rows", type=int, default=10_000_000)
    search_parser.add_argument("--dir", default="/tmp/ladder-bench-archive")
    search_parser.add_argument("--fresh", action="store_true")
    search_parser.add_argument("--runs", type=int, default=5)
    search_child = commands.add_parser("search-child")
    search_child.add_argument("index")
    search_child.add_argument("query")
    search_child.add_argument("runs", type=int)
    child = commands.add_parser("child")
    child.add_argument("paths", nargs="+")
    child.add_argument("-o", dest="output", required=True)
    child.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "search-child":
        print(json.dumps(time_search(args.index, args.query, args.runs)))
        return 0
    return {"index": bench_index, "search": bench_search, "child": run_child}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
