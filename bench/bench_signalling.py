"""Signalling-heavy captures (issue 13): ladder beside tshark and sngrep on the same file, in one run.

``python3 bench/bench_signalling.py [FILE ...] [--calls 15000 150000] [--skip COMMAND ...] [--phases]
[--json]``

Without FILE it writes (once) ``bench/make_sip_capture.py``'s capture for each ``--calls`` value to
``/tmp/pcapladder-bench/sip-{calls}.pcap`` (150,000 calls: 1,050,000 SIP messages, 669 MB, no RTP;
15,000: the 10x smaller file). For each file it runs, one after the other, and prints wall time,
CPU time (user + system, the steadier figure on a shared machine) and peak resident memory (from
``wait4``'s rusage, the child's own):

* ``ladder stats --json``, ``ladder calls --json``, ``ladder check --json``
* ``TUI load``: what the TUI's loader thread does before the call list is complete
  (``tui.loading.load_in_thread`` without the checker), in a child process
* ``tshark -n -q -z sip,stat -r FILE``
* ``sngrep -N -q -l CALLS -I FILE`` (``-l``: keep every call, not only the last 20,000)

then each ladder command's CPU over tshark's. ``--skip stats calls ...`` leaves commands out (the
check of the 1M-message file takes minutes). ``--phases`` adds the per-message cost split, measured
in this process: reading the records, the first pass (``ladder stats``'s pipeline) and the full
parse, each over the read; correlation (calls, transactions, dialogs, legs: ``build_calls``); and
rules (``ladder check``'s matching and RFC 3261 rules, over every call).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_ingest import run_measured  # noqa: E402

DEFAULT_DIR = Path("/tmp/pcapladder-bench")
TUI_LOAD = """
import sys
from tui.loading import LoadFinished, load_in_thread
posted = []
load_in_thread(posted.append, lambda: False, sys.argv[1], check=False)
done = [m for m in posted if isinstance(m, LoadFinished)]
print(len(done[0].calls) if done else -1)
"""


def ensure_capture(calls: int) -> Path:
    DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
    path = DEFAULT_DIR / f"sip-{calls}.pcap"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "make_sip_capture.py"), str(path), "--calls", str(calls)],
                       check=True)
    return path


def commands(path: Path, calls: int) -> dict[str, list[str]]:
    ladder = [sys.executable, "-m", "ladder"]
    found = {
        "stats": ladder + ["stats", "--json", str(path)],
        "calls": ladder + ["calls", "--json", str(path)],
        "check": ladder + ["check", "--json", str(path)],
        "tui": [sys.executable, "-c", TUI_LOAD, str(path)],
    }
    if shutil.which("tshark"):
        found["tshark"] = ["tshark", "-n", "-q", "-z", "sip,stat", "-r", str(path)]
    if shutil.which("sngrep"):
        found["sngrep"] = ["sngrep", "-N", "-q", "-l", str(max(calls, 1)), "-I", str(path)]
    return found


NAMES = {"stats": "ladder stats --json", "calls": "ladder calls --json", "check": "ladder check --json",
         "tui": "TUI load (call list complete)", "tshark": "tshark -n -q -z sip,stat",
         "sngrep": "sngrep -N -q -l <all> -I"}


def bench_file(path: Path, calls: int, skip: set[str]) -> list[dict]:
    rows = []
    for key, command in commands(path, calls).items():
        if key in skip:
            continue
        wall, cpu, rss_kib, status, _out = run_measured(command, HERE.parent)
        rows.append({"file": path.name, "size_mb": round(path.stat().st_size / 1e6, 1), "tool": NAMES[key],
                     "key": key, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                     "peak_rss_mb": round(rss_kib / 1024, 1), "exit": status})
    tshark = next((r for r in rows if r["key"] == "tshark"), None)
    for row in rows:
        if tshark and tshark["cpu_s"] and row["key"] not in ("tshark", "sngrep"):
            row["vs_tshark"] = f"{row['cpu_s'] / tshark['cpu_s']:.2f}x tshark's CPU"
    return rows


def phases(path: Path) -> dict[str, float]:
    """Microseconds of CPU per SIP message for each stage, measured in this process."""
    from ladder.analysis import analyse
    from ladder.capture.loader import load_capture
    from ladder.capture.reader import CaptureReader
    from ladder.check.references import load_references

    clock = time.process_time
    started = clock()
    with CaptureReader(str(path)) as reader:
        for _record in reader.records():
            pass
    read = clock() - started
    started = clock()
    first = load_capture(str(path), messages=False)
    first_pass = clock() - started - read
    messages = len(first.sip_index)
    del first
    started = clock()
    capture = load_capture(str(path))
    full_parse = clock() - started - read
    started = clock()
    analysis = analyse(capture)
    correlation = clock() - started
    references = load_references()
    started = clock()
    for call in analysis.calls:
        analysis.check(call, references)
    rules = clock() - started
    per = 1e6 / messages
    return {"messages": messages, "read_us": round(read * per, 1), "first_pass_us": round(first_pass * per, 1),
            "full_parse_us": round(full_parse * per, 1), "correlation_us": round(correlation * per, 1),
            "rules_us": round(rules * per, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ladder vs tshark vs sngrep on signalling-heavy captures")
    parser.add_argument("files", nargs="*", type=Path, help="captures to measure (default: generated ones)")
    parser.add_argument("--calls", type=int, nargs="+", default=[15_000, 150_000],
                        help="calls of each generated capture (7 messages each)")
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(NAMES), help="commands to leave out")
    parser.add_argument("--phases", action="store_true", help="also the per-message cost split (first file)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    files = [(f, max(args.calls)) for f in args.files] or [(ensure_capture(n), n) for n in args.calls]
    rows = [row for path, calls in files for row in bench_file(path, calls, set(args.skip))]
    split = phases(files[0][0]) if args.phases else None
    if args.json:
        print(json.dumps({"rows": rows, "phases": split}, indent=2))
        return 0
    print(f"{'tool':<32} {'file':<18} {'MB':>7} {'wall s':>8} {'CPU s':>8} {'RSS MB':>8}  ")
    for row in rows:
        note = row.get("vs_tshark", "") + ("" if row["exit"] in (0, 1) else f" exit {row['exit']}")
        print(f"{row['tool']:<32} {row['file']:<18} {row['size_mb']:>7} {row['wall_s']:>8} {row['cpu_s']:>8} "
              f"{row['peak_rss_mb']:>8}  {note}")
    if split:
        print(f"per message ({split['messages']:,} messages of {files[0][0].name}), µs of CPU: "
              f"read {split['read_us']}, first pass {split['first_pass_us']}, full parse {split['full_parse_us']}, "
              f"correlation {split['correlation_us']}, rules {split['rules_us']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
