"""Speed and memory of ``ladder stats`` beside tshark and sngrep, on the same file, in one run.

``python3 bench/bench_ingest.py [FILE ...] [--calls 1000] [--seconds 10 ...] [--skip-others]
[--code DIR] [--json]``

Without FILE it writes (once) the 1,000-call G.711 capture of ``bench/make_rtp_capture.py`` for
each ``--seconds`` value to ``/tmp/pcapladder-bench/rtp-1000x10s.pcap`` (``--seconds 10 50``:
the 1x file and the 5x file, same 2,000 streams, five times the packets each). For each file it
runs, one after the other:

* ``ladder stats --json FILE`` and ``ladder stats --json --no-media FILE``, and ``ladder stats``
  again with ``PCAPLADDER_PURE_PYTHON=1`` (without the compiled fast path, ``ladder/_accel.c``)
* ``bench/run_pipeline.py FILE --table counting`` and ``--table statistics``: the same frame
  walk with a counting-only RTP table (RTP recognised and counted, no statistics: issue 4's
  baseline) and with the real one; their CPU ratio is the cost of the statistics
* ``tshark -q -z rtp,streams -r FILE`` (with heuristic RTP so it finds the same streams)
* ``sngrep -N -q -r -I FILE``

and prints wall time, CPU time, packets/s and MB/s (by CPU time, the steadier figure on a
shared machine) and the peak resident memory of each process (from ``wait4``'s rusage, so the
figures are the child's own), then the ratios the issues ask about: tshark's and sngrep's CPU
time over ``ladder stats``'s, and the statistics' cost over the counting-only baseline. ``--code DIR`` measures the pcapladder checkout in DIR instead of
this one (for before/after figures); ``--repeat N`` runs each command N times and keeps the run
of median CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = Path("/tmp/pcapladder-bench")


def run_measured(command: list[str], code: Path | None = None,
                 extra_env: dict[str, str] | None = None) -> tuple[float, float, int, int, bytes]:
    """(wall seconds, CPU seconds, peak RSS in KiB, exit status, stdout) of one child process.
    CPU time (user + system) is the steadier figure on a shared machine. With ``code`` the
    child imports pcapladder from that directory."""
    env, cwd = ({**os.environ, **extra_env} if extra_env else None), None
    if code is not None:
        env, cwd = {**(env or os.environ), "PYTHONPATH": str(code)}, str(code)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    out = process.stdout.read() if process.stdout else b""
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, cpu, usage.ru_maxrss, process.returncode, out


def ensure_capture(calls: int, seconds: int) -> Path:
    DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
    path = DEFAULT_DIR / f"rtp-{calls}x{seconds}s.pcap"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "make_rtp_capture.py"), str(path), "--calls", str(calls),
             "--seconds", str(seconds)],
            check=True,
        )
    return path


def count_packets(path: Path) -> int:
    sys.path.insert(0, str(HERE.parent))
    from ladder.capture.reader import CaptureReader

    with CaptureReader(str(path)) as reader:
        return sum(1 for _ in reader.records())


def bench_file(path: Path, skip_others: bool, code: Path | None, repeat: int) -> list[dict]:
    size = path.stat().st_size
    packets = count_packets(path)
    runner = str(HERE / "run_pipeline.py")
    commands = {
        "ladder stats": [sys.executable, "-m", "ladder", "stats", "--json", str(path)],
        "ladder stats --no-media": [sys.executable, "-m", "ladder", "stats", "--json", "--no-media", str(path)],
        "ladder stats, pure Python": [sys.executable, "-m", "ladder", "stats", "--json", str(path)],
    }
    envs = {"ladder stats, pure Python": {"PCAPLADDER_PURE_PYTHON": "1"}}
    if code is None:  # the runner needs Pipeline(media_table=...) and RtpStreamTable(statistics=...)
        commands["pipeline, counting-only RTP"] = [sys.executable, runner, str(path), "--table", "counting"]
        commands["pipeline, RTP statistics"] = [sys.executable, runner, str(path), "--table", "statistics"]
    if not skip_others:
        if shutil.which("tshark"):
            commands["tshark rtp,streams"] = [
                "tshark", "-q", "-o", "rtp.heuristic_rtp:TRUE", "-z", "rtp,streams", "-r", str(path),
            ]
        if shutil.which("sngrep"):
            commands["sngrep -N -q"] = ["sngrep", "-N", "-q", "-r", "-I", str(path)]
    rows = []
    for name, command in commands.items():
        runs = sorted((run_measured(command, None if name.startswith(("tshark", "sngrep")) else code,
                                    envs.get(name))
                       for _ in range(repeat)), key=lambda run: run[1])
        wall, cpu, rss_kib, status, out = runs[len(runs) // 2]
        row = {
            "tool": name,
            "seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "packets_per_s": round(packets / cpu) if cpu else 0,
            "mb_per_s": round(size / 1e6 / cpu, 1) if cpu else 0.0,
            "peak_rss_mb": round(rss_kib / 1024, 1),
            "exit": status,
        }
        if name == "ladder stats" and status == 0:
            stats = json.loads(out)
            row["found"] = f"{stats['sip_messages']} SIP, {stats['rtp_packets']} RTP, {stats['rtp_streams']} streams"
        rows.append(row)
    by_tool = {row["tool"]: row for row in rows}
    base, stats = by_tool.get("pipeline, counting-only RTP"), by_tool.get("pipeline, RTP statistics")
    if base and stats and base["cpu_seconds"]:
        stats["overhead"] = f"{(stats['cpu_seconds'] / base['cpu_seconds'] - 1) * 100:+.0f}% CPU vs counting-only"
    ladder = by_tool.get("ladder stats")
    for other in ("tshark rtp,streams", "sngrep -N -q"):
        if other in by_tool and ladder and ladder["cpu_seconds"]:
            by_tool[other]["speedup"] = f"ladder stats {by_tool[other]['cpu_seconds'] / ladder['cpu_seconds']:.1f}x faster (CPU)"
    return [{"file": str(path), "size_mb": round(size / 1e6, 1), "packets": packets, **row} for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ladder stats vs tshark vs sngrep: speed and memory")
    parser.add_argument("files", nargs="*", help="captures to measure (default: a generated one)")
    parser.add_argument("--calls", type=int, default=1000, help="calls in the generated capture")
    parser.add_argument("--seconds", type=int, nargs="+", default=[10],
                        help="RTP seconds per generated call, one capture per value (10 50: the 1x and 5x files)")
    parser.add_argument("--skip-others", action="store_true", help="measure ladder only")
    parser.add_argument("--code", type=Path, help="measure the pcapladder checkout in this directory")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command; the median CPU run is kept")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    files = [Path(f) for f in args.files] or [ensure_capture(args.calls, seconds) for seconds in args.seconds]
    rows = []
    for path in files:
        rows.extend(bench_file(path, args.skip_others, args.code, max(1, args.repeat)))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'tool':<28} {'file':<20} {'MB':>7} {'packets':>9} {'wall s':>7} {'CPU s':>7} {'pkt/CPU s':>9} "
          f"{'MB/CPU s':>8} {'RSS MB':>7}")
    for row in rows:
        print(
            f"{row['tool']:<28} {Path(row['file']).name:<20} {row['size_mb']:>7} {row['packets']:>9} "
            f"{row['seconds']:>7} {row['cpu_seconds']:>7} {row['packets_per_s']:>9} {row['mb_per_s']:>8} "
            f"{row['peak_rss_mb']:>7}"
            + (f"  {row['found']}" if "found" in row else "")
            + (f"  {row['overhead']}" if "overhead" in row else "")
            + (f"  {row['speedup']}" if "speedup" in row else "")
            + ("" if row["exit"] == 0 else f"  (exit {row['exit']})")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
