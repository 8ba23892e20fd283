"""How quickly the TUI answers keys while a big capture loads (GitHub issue 6: within 100 ms).

``python3 bench/bench_tui.py [--seconds 50] [--file F.pcap] [--interval-ms 50] [--json]``

Without ``--file`` it uses (writing it once with ``bench/make_rtp_capture.py`` when missing)
``/tmp/pcapladder-bench/rtp-1000x{seconds}s.pcap``: ``--seconds 10`` is the 232 MB 1x file,
``--seconds 50`` the 1.15 GB 5x file of BENCHMARKS.md.

The app is built by ``tui.app.create_app`` (the CLI's factory) and run headless with
``app.run_test(size=(140, 40))``. From the moment the call list has focus, a separate thread
presses down/up (ten downs, ten ups, ...) every ``--interval-ms``, through the driver's
``process_message``, which is exactly what a terminal's input thread does with a key it read.
Why not ``await pilot.press(...)``: after each key it waits until the process is idle
(process CPU time against wall time), and with the loader thread busy that wait runs to its
1 s limit twice per key (measured: 2.0 s per press on the 1x file); and pacing from a coroutine on the app's own event loop would not
press at all while the loop is stalled, hiding exactly the delays this measures.

Figures:

* key latency: from the moment a key was due (its tick on the pacer's clock) to the call
  table's cursor action running on the UI thread (the action is wrapped on the widget
  instance). Keys due before the finished list's ``set_rows`` began (its rows are built a
  batch per event-loop turn after ``LoadFinished``) are "while loading"; keys are pressed on for ``--after-load-s`` more seconds (the
  finished list is being drawn, the checker runs) and reported apart. The goal line judges
  the keys while loading.
* stall: the largest lateness of a 20 ms asyncio sleep on the app's loop, and every stall over
  100 ms with its time.
* first rows: when ``add_rows_while_loading`` first got rows (a ``CallsSoFar``); every
  ``add_rows_while_loading`` (one per batch of new calls) / ``set_rows`` with its time, rows and
  own duration; how many slow keys were due within 1 s after one (the suspect for the stalls),
  and when each slow key was due.
* gc pauses: every garbage collection over 10 ms, in any thread (it holds the interpreter lock).
* peak RSS of this process (app, loader and capture together), CPU, load average.
* ladder opening (``--open N``): once the list is complete, N calls spread over the list (first,
  last, between) are opened one after another, each from Enter's handler (``open_ladder``) to its
  ladder screen drawn (``rebuild`` done), then closed; a big capture's call is read back from the
  file and parsed then (``ladder.calls.catalogue``), a call opened again comes from its cache.

Exit status 0 when the capture loaded (whatever the latencies: this prints figures, it does
not pass or fail them), 1 when it did not load in ``--timeout-s`` or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from textual import events

from tui.app import create_app
from tui.call_table import CallTable

DEFAULT_DIR = Path("/tmp/pcapladder-bench")
SIZE = (140, 40)
GOAL_MS = 100.0
STALL_TICK_S = 0.02
REDRAW_WINDOW_NS = 1_000_000_000
KEY_RUN = 10  # downs then ups: the cursor walks the list as a user's would


@dataclass
class KeyLog:
    """Keys pressed and answered; the pacer thread appends, the UI thread pops (FIFO, since
    the app's message queue keeps the order keys were sent in)."""

    pending: deque = field(default_factory=deque)  # (due_ns, key, phase)
    latencies: dict = field(default_factory=lambda: {"loading": [], "after-load": []})  # (due_ns, ms)
    sent: int = 0
    mismatched: int = 0
    send_lag_max_ns: int = 0  # how late the pacer thread itself got to send (GIL wait)


@dataclass
class Timeline:
    start_ns: int = 0
    first_rows_ns: int | None = None
    first_rows_count: int = 0
    partial_lists: int = 0
    set_rows: list = field(default_factory=list)  # (started_ns, spent_ms, rows, while_loading)
    loaded_ns: int | None = None
    checked_ns: int | None = None
    stalls: dict = field(default_factory=lambda: {"loading": [], "after-load": []})
    long_stalls: list = field(default_factory=list)  # (started_ns, late_ms) of stalls over the goal
    gc_pauses: list = field(default_factory=list)  # (started_ns, ms, generation) of slow collections


def ensure_capture(seconds: int, directory: Path) -> Path:
    path = directory / f"rtp-1000x{seconds}s.pcap"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        print(f"writing {path} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "make_rtp_capture.py"), str(path), "--calls", "1000",
                        "--seconds", str(seconds)], check=True)
    return path


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 of 200 keys is a key that happened)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(latencies_ms: list[float]) -> dict:
    if not latencies_ms:
        return {"keys": 0}
    return {
        "keys": len(latencies_ms),
        "median_ms": round(statistics.median(latencies_ms), 2),
        "p95_ms": round(_percentile(latencies_ms, 0.95), 2),
        "p99_ms": round(_percentile(latencies_ms, 0.99), 2),
        "max_ms": round(max(latencies_ms), 2),
        "over_goal": sum(1 for v in latencies_ms if v > GOAL_MS),
    }


def pace_keys(send, log: KeyLog, timeline: Timeline, interval_ns: int, stop: threading.Event) -> None:
    """The pacer thread: one key per tick on an absolute schedule, so a late tick is sent at
    once and still timed from when it was due."""
    due = time.perf_counter_ns()
    number = 0
    while not stop.is_set():
        now = time.perf_counter_ns()
        if now < due:
            time.sleep((due - now) / 1e9)
            continue
        key = "down" if (number // KEY_RUN) % 2 == 0 else "up"
        phase = "loading" if timeline.loaded_ns is None else "after-load"
        log.pending.append((due, key, phase))
        log.send_lag_max_ns = max(log.send_lag_max_ns, time.perf_counter_ns() - due)
        send(events.Key(key, None))
        log.sent += 1
        number += 1
        due += interval_ns


def instrument(app, log: KeyLog, timeline: Timeline) -> None:
    """Wrap the call table's cursor actions and the call list's ``set_rows`` on the instances
    (Textual looks actions up with getattr, and the app calls ``set_rows`` as a method)."""
    table = app.call_list.query_one("#calls", CallTable)

    def answered(action: str, original):
        def wrapper(*args, **kwargs):
            now = time.perf_counter_ns()
            if log.pending:
                due, key, phase = log.pending.popleft()
                if f"cursor_{key}" != action:
                    log.mismatched += 1
                log.latencies[phase].append((due, (now - due) / 1e6))
            else:
                log.mismatched += 1  # a cursor move no key of ours asked for
            return original(*args, **kwargs)
        return wrapper

    table.action_cursor_down = answered("cursor_down", table.action_cursor_down)
    table.action_cursor_up = answered("cursor_up", table.action_cursor_up)

    screen = app.call_list

    def logged(draw):
        """A call-list drawing method, timed: partial lists while loading, the whole at the end."""

        def wrapper(rows):
            started = time.perf_counter_ns()
            if app.loaded and timeline.loaded_ns is None:  # on_load_finished sets loaded, then draws
                timeline.loaded_ns = started
            if rows and not app.loaded:
                timeline.partial_lists += 1
                if timeline.first_rows_ns is None:
                    timeline.first_rows_ns = started
                    timeline.first_rows_count = len(rows)
            try:
                return draw(rows)
            finally:  # the UI thread's own cost of drawing the list: a stall every key waits out
                timeline.set_rows.append((started, (time.perf_counter_ns() - started) / 1e6, len(rows), not app.loaded))

        return wrapper

    screen.set_rows = logged(screen.set_rows)
    # Partial lists while loading append only the new calls (tui/call_list_screen.py).
    screen.add_rows_while_loading = logged(screen.add_rows_while_loading)


async def watch_stalls(timeline: Timeline, done: asyncio.Event) -> None:
    """Lateness of a 20 ms sleep on the app's event loop: how long the loop could not run."""
    while not done.is_set():
        before = time.perf_counter_ns()
        await asyncio.sleep(STALL_TICK_S)
        late_ms = (time.perf_counter_ns() - before) / 1e6 - STALL_TICK_S * 1000
        timeline.stalls["loading" if timeline.loaded_ns is None else "after-load"].append(late_ms)
        if late_ms > GOAL_MS:
            timeline.long_stalls.append((before, late_ms))


GC_PAUSE_MS = 10.0


def watch_gc(timeline: Timeline):
    """Record every garbage collection over GC_PAUSE_MS (any thread's: it holds the interpreter
    lock, so the UI waits it out too). Returns the callback, to be removed afterwards."""
    started: dict[int, int] = {}

    def callback(phase: str, info: dict) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            started[threading.get_ident()] = now
            return
        began = started.pop(threading.get_ident(), None)
        if began is not None and (now - began) / 1e6 >= GC_PAUSE_MS:
            timeline.gc_pauses.append((began, (now - began) / 1e6, info.get("generation")))

    gc.callbacks.append(callback)
    return callback


async def open_ladders(app, count: int) -> list[list]:
    """[call number, ms from ``open_ladder`` to the ladder drawn, ms of this process's CPU
    meanwhile (the checker's too, when it still runs), ms of it in ``build_view`` (the call's own
    work; the rest is Textual making the screen)] for ``count`` calls spread over the list, each
    opened once and closed."""
    from tui.ladder_screen import LadderScreen

    keys = list(app.call_list.rows)
    if not keys or count <= 0:
        return []
    picks = sorted({round(i * (len(keys) - 1) / max(count - 1, 1)) for i in range(count)})
    timings = []
    built: list[float] = []  # ms in ``build_view``: the call read back, parsed, built, drawn, checked
    build = app.build_view

    def timed_build(*args, **kwargs):
        started = time.perf_counter()
        try:
            return build(*args, **kwargs)
        finally:
            built.append((time.perf_counter() - started) * 1e3)

    app.build_view = timed_build
    for pick in picks:
        key = keys[pick]
        started, cpu = time.perf_counter_ns(), time.process_time()
        app.open_ladder([key])
        while not (isinstance(app.screen, LadderScreen) and app.screen.ladder is not None):
            await asyncio.sleep(0.001)
        timings.append([app.call_list.rows[key].index, round((time.perf_counter_ns() - started) / 1e6, 1),
                        round((time.process_time() - cpu) * 1e3, 1), round(built[-1], 1)])
        app.pop_screen()
        await asyncio.sleep(0.05)
    return timings


async def run_bench(path: Path, interval_ms: float, after_load_s: float, timeout_s: float, check: bool,
                    opens: int = 0, bounded: bool | None = None, until_checked: bool = False) -> dict:
    app = create_app(str(path), check=check, bounded=bounded)
    log = KeyLog()
    timeline = Timeline(start_ns=time.perf_counter_ns())
    stop = threading.Event()
    done = asyncio.Event()
    cpu_start = time.process_time()
    gc_callback = watch_gc(timeline)
    async with app.run_test(size=SIZE) as pilot:
        table = app.call_list.query_one("#calls", CallTable)
        while not (app.screen is app.call_list and table.has_focus):
            await asyncio.sleep(0.005)
        instrument(app, log, timeline)
        driver = pilot.app._driver  # the headless driver; process_message is its input path
        pacer = threading.Thread(target=pace_keys, name="key-pacer", daemon=True,
                                 args=(driver.process_message, log, timeline, int(interval_ms * 1e6), stop))
        stalls = asyncio.create_task(watch_stalls(timeline, done))
        pacer.start()
        deadline = time.perf_counter() + timeout_s
        after_deadline: float | None = None
        while time.perf_counter() < deadline:
            # The finished list is built a batch per turn (tui/app.py list_rows): loaded once shown.
            if app.loaded and not app.listing and after_deadline is None:
                if timeline.loaded_ns is None:  # a failed load draws no list
                    timeline.loaded_ns = time.perf_counter_ns()
                after_deadline = timeline.loaded_ns / 1e9 + after_load_s
            if app.checked and timeline.checked_ns is None:
                timeline.checked_ns = time.perf_counter_ns()
            if after_deadline is not None and time.perf_counter() >= after_deadline:
                break
            if until_checked and after_deadline is not None and timeline.checked_ns is not None:
                break
            await asyncio.sleep(0.005)
        stop.set()
        pacer.join()
        for _ in range(400):  # the last keys sent still get answered (2 s at most)
            if not log.pending:
                break
            await asyncio.sleep(0.005)
        done.set()
        await stalls
        unanswered = len(log.pending)
        opened = await open_ladders(app, opens) if timeline.loaded_ns is not None else []
        load_error = app.load_error
        rows = table.row_count
        app.workers.cancel_group(app, "load")  # the checker may still run on the 5x file
    cpu_s = time.process_time() - cpu_start
    gc.callbacks.remove(gc_callback)

    def seconds(ns: int | None) -> float | None:
        return None if ns is None else round((ns - timeline.start_ns) / 1e9, 2)

    # Which slow keys were due in the second after the call list was (re)drawn: the redraw's
    # cost on the UI thread (rows added, widths and cells of the rows on screen) is the suspect.
    redraws = [at for at, _ms, _rows, _partial in timeline.set_rows]
    slow = [due for due, ms in log.latencies["loading"] if ms > GOAL_MS]
    near_redraw = sum(1 for due in slow if any(at - 50_000_000 <= due <= at + REDRAW_WINDOW_NS for at in redraws))

    return {
        "file": str(path),
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "interval_ms": interval_ms,
        "loaded": timeline.loaded_ns is not None,
        "load_error": load_error,
        "load_s": seconds(timeline.loaded_ns),
        "checked_s": seconds(timeline.checked_ns),
        "first_rows_s": seconds(timeline.first_rows_ns),
        "first_rows_count": timeline.first_rows_count,
        "partial_lists": timeline.partial_lists,
        "rows_at_end": rows,
        "keys_sent": log.sent,
        "keys_unanswered": unanswered,
        "keys_mismatched": log.mismatched,
        "pacer_send_lag_max_ms": round(log.send_lag_max_ns / 1e6, 2),
        "while_loading": summarise([ms for _due, ms in log.latencies["loading"]]),
        "after_load": summarise([ms for _due, ms in log.latencies["after-load"]]),
        "slow_keys_near_redraw": near_redraw,
        "slow_keys": [[seconds(due), round(ms, 1), phase] for phase in ("loading", "after-load")
                      for due, ms in log.latencies[phase] if ms > GOAL_MS],
        "stall_max_ms_loading": round(max(timeline.stalls["loading"], default=0.0), 1),
        "stalls_over_goal_loading": sum(1 for v in timeline.stalls["loading"] if v > GOAL_MS),
        "stall_max_ms_after_load": round(max(timeline.stalls["after-load"], default=0.0), 1),
        "long_stalls": [[seconds(at), round(ms, 1)] for at, ms in timeline.long_stalls],
        "gc_pauses": [[seconds(at), round(ms, 1), generation] for at, ms, generation in timeline.gc_pauses],
        "set_rows": [[seconds(at), round(ms, 1), rows, "partial" if partial else "final"]
                     for at, ms, rows, partial in timeline.set_rows],
        "opened_ms": opened,
        "cpu_s": round(cpu_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def print_report(result: dict) -> None:
    loading = result["while_loading"]
    print(f"file            {result['file']} ({result['file_mb']:,} MB)")
    if not result["loaded"]:
        print("NOT LOADED within the time limit: figures below are partial")
    if result["load_error"]:
        print(f"load error      {result['load_error']}")
    print(f"load time       {result['load_s']} s (LoadFinished handled); checks done at "
          f"{result['checked_s'] if result['checked_s'] is not None else 'not yet'} s")
    print(f"first rows      {result['first_rows_s']} s into the load ({result['first_rows_count']} calls; "
          f"{result['partial_lists']} partial additions before the end); {result['rows_at_end']} rows at the end")
    for name, label in (("while_loading", "while loading"), ("after_load", "after load")):
        figures = result[name]
        if not figures["keys"]:
            print(f"keys {label:13s} none")
            continue
        print(f"keys {label:13s} {figures['keys']} keys every {result['interval_ms']:g} ms: median "
              f"{figures['median_ms']} ms, p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, "
              f"max {figures['max_ms']} ms; {figures['over_goal']} over {GOAL_MS:g} ms")
    print(f"keys            {result['keys_sent']} sent, {result['keys_unanswered']} unanswered, "
          f"{result['keys_mismatched']} mismatched; pacer thread late by {result['pacer_send_lag_max_ms']} ms at most")
    print(f"stall max       {result['stall_max_ms_loading']} ms while loading "
          f"({result['stalls_over_goal_loading']} stalls over {GOAL_MS:g} ms), "
          f"{result['stall_max_ms_after_load']} ms after load")
    if loading["keys"] and loading["over_goal"]:
        print(f"slow keys       {result['slow_keys_near_redraw']} of the {loading['over_goal']} keys over "
              f"{GOAL_MS:g} ms while loading were due within 1 s after a call-list redraw")
    if result["slow_keys"]:
        print("slow keys at    " + ", ".join(f"{ms:g} ms at {at:g} s ({phase})"
                                             for at, ms, phase in result["slow_keys"]))
    if result["long_stalls"]:
        print("long stalls     " + ", ".join(f"{ms:g} ms at {at:g} s" for at, ms in result["long_stalls"]))
    partial = [entry for entry in result["set_rows"] if entry[3] == "partial"]
    if partial:
        at, ms, _rows, _kind = max(partial, key=lambda entry: entry[1])
        print(f"partial lists   {len(partial)} additions while loading, {sum(e[2] for e in partial):,} rows "
              f"in all; the longest took {ms:g} ms (at {at:g} s)")
    print("call list drawn " + ", ".join(f"{rows} rows ({kind}) at {at:g} s in {ms:g} ms"
                                         for at, ms, rows, kind in result["set_rows"] if kind == "final"))
    if result["gc_pauses"]:
        print(f"gc pauses       (over {GC_PAUSE_MS:g} ms) " + ", ".join(
            f"{ms:g} ms at {at:g} s (generation {generation})" for at, ms, generation in result["gc_pauses"]))
    if result["opened_ms"]:
        print("ladder opened   " + ", ".join(f"call {n} in {ms:g} ms ({cpu:g} ms CPU, {own:g} ms building it)"
                                             for n, ms, cpu, own in result["opened_ms"]))
    print(f"peak RSS        {result['peak_rss_mb']} MB; CPU {result['cpu_s']} s; load average {result['load_avg_1m']}")
    met = result["loaded"] and loading["keys"] > 0 and loading["over_goal"] == 0 and not result["keys_unanswered"]
    print(f"goal            every key answered within {GOAL_MS:g} ms while loading: {'MET' if met else 'NOT MET'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="capture to load (default: the bench capture of --seconds)")
    parser.add_argument("--seconds", type=int, default=50, help="RTP seconds per call of the bench capture "
                        "(10: 232 MB, 50: 1.15 GB)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the bench capture lives")
    parser.add_argument("--interval-ms", type=float, default=50.0, help="one key every N ms")
    parser.add_argument("--after-load-s", type=float, default=5.0, help="keep pressing this long after the load")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="give up on a load that takes longer")
    parser.add_argument("--no-check", action="store_true", help="run the app without the checker")
    parser.add_argument("--until-checked", action="store_true",
                        help="stop pressing keys once the checker is done (--after-load-s is then a limit)")
    parser.add_argument("--open", type=int, default=0, metavar="N",
                        help="once loaded, open N calls' ladders one after another and time each")
    parser.add_argument("--load", choices=("auto", "bounded", "full"), default="auto",
                        help="bounded: messages left in the file (the default for big files); full: all kept")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the report")
    args = parser.parse_args(argv)
    path = args.file if args.file is not None else ensure_capture(args.seconds, args.dir)
    if not path.is_file():
        parser.error(f"no such capture: {path}")
    result = asyncio.run(run_bench(path, args.interval_ms, args.after_load_s, args.timeout_s, not args.no_check,
                                   args.open, {"auto": None, "bounded": True, "full": False}[args.load],
                                   args.until_checked))
    if args.json:
        print(json.dumps(result))
    else:
        print_report(result)
    return 0 if result["loaded"] and not result["load_error"] else 1


if __name__ == "__main__":
    sys.exit(main())
