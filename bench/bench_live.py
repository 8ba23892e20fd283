"""Sustained live load: ``ladder live -d lo`` next to ``sngrep -d lo`` on the same traffic.

``sudo python3 bench/bench_live.py [--seconds 120] [--calls 500] [--hold 10]``

In a network namespace of its own (tests/live_lab.py), SIPp places calls through Kamailio
at ``calls / hold`` per second, ``calls`` at a time, each held ``hold`` seconds with G.711 RTP
both ways (SIPp's rtp_stream: 50 packets/s per direction and call, so 500 calls are about
50,000 packets/s). ``ladder live -d lo --json`` and ``sngrep -N -q -d lo`` watch the namespace's
loopback meanwhile. Every ``--every`` seconds it prints each watcher's CPU (user+sys, as a
share of one core, its capture engine included) and resident memory; at the end the packet
rate on lo, the calls each reported, and the drops: dumpcap's (its pcap statistics) and ours.
The load runs for ``--seconds`` (short by default: the machine is shared), then everything
started here is stopped and the namespace deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from live_lab import PROXY_IP, PROXY_PORT, UAC_IP, UAC_PORT, Lab, stop  # noqa: E402

HERE = ROOT / "tests" / "kamailio"  # the SIPp scenarios with RTP
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (ladder's dumpcap)."""
    found = [pid]
    for member in found:
        for task in Path(f"/proc/{member}/task").glob("*"):
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def usage(pid: int) -> tuple[float, int]:
    """(CPU seconds user+sys, resident bytes) of ``pid`` and its descendants."""
    cpu, rss = 0.0, 0
    for member in family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / TICKS
            rss += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError):
            pass
    return cpu, rss


def lo_packets(lab: Lab) -> int:
    out = subprocess.run(lab.argv("cat", "/sys/class/net/lo/statistics/rx_packets"), capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def placed(stats: Path) -> str:
    """The calls SIPp made, from the last line of its statistics file (``-trace_stat``)."""
    try:
        header, *rows = [line.split(";") for line in stats.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return "no statistics file"
    if not rows:
        return "no statistics written"
    last = dict(zip(header, rows[-1]))
    return (f"{last.get('TotalCallCreated', '?')} calls placed, {last.get('SuccessfulCall(C)', '?')} successful, "
            f"{last.get('FailedCall(C)', '?')} failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="how long the load runs")
    parser.add_argument("--calls", type=int, default=500, help="concurrent calls")
    parser.add_argument("--hold", type=int, default=10, help="seconds each call lasts")
    parser.add_argument("--every", type=int, default=10, help="seconds between two samples")
    args = parser.parse_args()
    for tool in ("sngrep", "sipp", "kamailio", "dumpcap"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_live: {tool} is not installed")
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    (work / "silence.ulaw").write_bytes(b"\xff" * 8000 * 4)  # 4 s of G.711 µ-law silence, looped
    lab = Lab(work)
    ladder = [sys.executable, "-m", "ladder"]
    rate = max(1, args.calls // args.hold)
    try:
        lab.start_proxy(children=4)
        lab.start_uas("-mp", "30000", "-nd", scenario=HERE / "uas-rtp.xml")
        mine = lab.popen(*ladder, "live", "-d", "lo", "--json", cwd=ROOT,
                         stdout=open(work / "ladder.out", "w"), stderr=open(work / "ladder.err", "w"))
        theirs = lab.popen("sngrep", "-N", "-q", "-d", "lo", stdout=subprocess.DEVNULL,
                           stderr=open(work / "sngrep.err", "w"))
        time.sleep(3)
        caller = lab.popen("sipp", f"{PROXY_IP}:{PROXY_PORT}", "-sf", str(HERE / "uac-rtp.xml"), "-i", UAC_IP,
                           "-p", str(UAC_PORT), "-s", "bob", "-r", str(rate), "-l", str(args.calls),
                           "-d", str(args.hold * 1000), "-mp", "20000", "-nostdin", "-timeout", f"{args.seconds}s",
                           "-trace_stat", "-stf", str(work / "sipp-stats.csv"), "-fd", "5",
                           cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started, packets0 = time.monotonic(), lo_packets(lab)
        print(f"load: {rate} calls/s, {args.calls} at a time, {args.hold} s each, for {args.seconds} s")
        print(f"{'t (s)':>6} {'lo pkt/s':>9} {'ladder CPU':>11} {'ladder RSS':>11} {'sngrep CPU':>11} "
              f"{'sngrep RSS':>11}")
        last = {p.pid: usage(p.pid)[0] for p in (mine, theirs)}
        last_packets, last_t = packets0, started
        while time.monotonic() - started < args.seconds and caller.poll() is None:
            time.sleep(args.every)
            now, packets = time.monotonic(), lo_packets(lab)
            row = [f"{now - started:6.0f}", f"{(packets - last_packets) / (now - last_t):9,.0f}"]
            for process in (mine, theirs):
                cpu, rss = usage(process.pid)
                row += [f"{100 * (cpu - last[process.pid]) / (now - last_t):10.0f}%", f"{rss / 2**20:8.0f} MiB"]
                last[process.pid] = cpu
            print(" ".join(row), flush=True)
            last_packets, last_t = packets, now
        elapsed, total = time.monotonic() - started, lo_packets(lab) - packets0
        stop(caller, signal.SIGINT)
        for process in (mine, theirs):
            stop(process, signal.SIGINT, timeout=180)
    finally:
        lab.close()
    reported = [json.loads(line) for line in (work / "ladder.out").read_text().splitlines() if line.strip()]
    print(f"lo: {total:,} packets in {elapsed:.0f} s = {total / elapsed:,.0f} packets/s")
    print(f"ladder: {len(reported)} calls reported; "
          + (work / "ladder.err").read_text().strip().splitlines()[-1].removeprefix("ladder: "))
    print(f"sngrep: {(work / 'sngrep.err').read_text().strip() or 'no message'}")
    print(f"SIPp: {placed(work / 'sipp-stats.csv')}")
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
