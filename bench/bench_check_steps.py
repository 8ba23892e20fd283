"""The per-call steps of ``ladder check --json`` after the SIP parse (issue 13, session 9): CPU
microseconds a call of each, over the first calls of one capture, measured in this process.

``python3 bench/bench_check_steps.py FILE [--calls 2000] [--repeat 5]``

* build: ``build_call`` of each call (transactions, dialogs, legs, outcome, parties);
* drawn: ``Analysis.ladder`` (``build_ladder``: columns, arrows, labels, media bars, notes);
* placed: ``sip_placement`` and the check's view of it (what ``check --json`` reads instead);
* check drawn / check undrawn: ``Analysis.check`` given the drawn ladder / given none (the view);
* rules: ``check_rules`` alone, each rule after it;
* JSON: ``CheckResult.to_json`` and the compiled writer's text.

Each figure is the least of ``--repeat`` rounds, each round running every step once (the machine
is shared: a load that comes and goes weighs on all steps alike); the calls are read back and
parsed once (``iter_calls(parse=True)``), outside the figures, as is the first check of each shape
(the matching memo is warm, as it is after a busy capture's first calls). On a tree without
``sip_placement`` (before session 9) the steps it lacks are left out.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from ladder.analysis import Analysis
    from ladder.calls.bounded import iter_calls
    from ladder.calls.grouping import build_call
    from ladder.capture.loader import load_capture
    from ladder.check import call_check
    from ladder.check.references import load_references
    from ladder.check.rules import RULES, CallFacts, RuleSettings
    from ladder.draw import layout
    from ladder.media.binding import MediaIndex
    from ladder.textsafe import _c_indented

    capture = load_capture(args.file, media=False, messages=False, locate=True)
    calls = list(itertools.islice(iter_calls(capture, parse=True), args.calls))
    analysis = Analysis(capture, [], MediaIndex.build([], []), False)
    references = load_references()
    settings = RuleSettings(end_ns=capture.last_ts_ns)
    placement = getattr(layout, "sip_placement", None)
    ladders = [analysis.ladder(call) for call in calls]
    results = [analysis.check(call, references, ladder=ladder, settings=settings) for call, ladder in zip(calls, ladders)]
    gc.freeze()

    steps: list[tuple[str, Callable[[], object]]] = []

    def timed(label: str, step: Callable[[], object]) -> None:
        steps.append((label, step))  # (run below, round by round)

    timed("build", lambda: [build_call(c.index, list(c.call_ids), c.messages, c.kind, list(c.links)) for c in calls])
    timed("drawn", lambda: [analysis.ladder(call) for call in calls])
    if placement is not None:
        timed("placed", lambda: [call_check._View.of_placement(placement(call, capture, media=False))
                                 for call in calls])
    timed("check drawn", lambda: [analysis.check(call, references, ladder=ladder, settings=settings)
                                  for call, ladder in zip(calls, ladders)])
    timed("drawn + check drawn", lambda: [analysis.check(call, references, ladder=analysis.ladder(call),
                                                         settings=settings) for call in calls])
    if placement is not None:
        timed("check undrawn", lambda: [analysis.check(call, references, settings=settings) for call in calls])
    facts = [CallFacts(call.messages, None, None, settings, call.transactions) for call in calls]
    timed("rules", lambda: [list(rule(f)) for f in facts for rule in RULES])
    for rule in RULES:
        timed("  " + rule.__name__, lambda rule=rule: [list(rule(f)) for f in facts])
    timed("JSON", lambda: [_c_indented(result.to_json(), "    ", True) for result in results])

    # Round by round, every step once a round: a load that comes and goes weighs on all alike.
    best = [float("inf")] * len(steps)
    for _ in range(args.repeat):
        for n, (_label, step) in enumerate(steps):
            start = time.process_time()
            step()
            best[n] = min(best[n], time.process_time() - start)
    print(f"{args.file}: {len(calls)} calls, {sum(len(c.messages) for c in calls)} messages")
    for (label, _step), seconds in zip(steps, best):
        print(f"{label:28s} {seconds * 1e6 / len(calls):8.1f} us/call")

if __name__ == "__main__":
    main()
