"""What ``ladder check`` spends reading each call back and building it (issue 13, session 10): CPU
microseconds a call of each step, over the first calls of one capture, measured in this process.

``python3 bench/bench_readback.py FILE [--calls 2000] [--repeat 7]``

* raw: ``MessageStore.raw`` of each message (``pread`` and CRC, one message at a time);
* read: ``bounded._read(store, group, parse=True)``, what pass 3 of ``iter_calls(parse=True)``
  does with each call's Call-ID group: the bytes read back, fully parsed, capture copies folded;
* build: ``build_call`` of the read messages, and three of its steps alone (transactions,
  dialogs given the transactions, legs);
* read + build: both, call by call (the messages of one call released before the next is read).

Each figure is the least of ``--repeat`` rounds, each round running every step once; the cyclic
collector is off while they run (``ladder check`` paces it: ``cli/check._collector_paced``), so
that a collection's cost, which depends on the heap, does not land on one step by chance.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from ladder.calls.bounded import _Groups, _read
    from ladder.calls.dialogs import build_dialogs
    from ladder.calls.grouping import CALL, build_call
    from ladder.calls.legs import find_legs
    from ladder.calls.transactions import build_transactions
    from ladder.capture.loader import load_capture

    capture = load_capture(args.file, media=False, messages=False, locate=True)
    store = capture.located_store()
    groups = _Groups(capture)
    chosen = [g for g in range(len(groups.keys)) if groups.kind(g) == CALL][:args.calls]
    members = [groups[g] for g in chosen]
    keys = [groups.keys[g] for g in chosen]
    read = [_read(store, group, None, True) for group in members]
    transactions = [build_transactions(messages) for messages, _ in read]
    gc.collect()
    gc.freeze()

    def raw() -> None:
        for group in members:
            for i in group:
                store.raw(i)

    def read_back() -> None:
        for group in members:
            _read(store, group, None, True)

    def build() -> None:
        for n, (key, (messages, copies)) in enumerate(zip(keys, read)):
            build_call(n, [key], messages, CALL, [], None, copies)

    def read_and_build() -> None:
        for n, (key, group) in enumerate(zip(keys, members)):
            messages, copies = _read(store, group, None, True)
            build_call(n, [key], messages, CALL, [], None, copies)

    steps = [
        ("raw", raw),
        ("read", read_back),
        ("build", build),
        ("  transactions", lambda: [build_transactions(messages) for messages, _ in read]),
        ("  dialogs", lambda: [build_dialogs(m, t) for (m, _), t in zip(read, transactions)]),
        ("  legs", lambda: [find_legs(m, t) for (m, _), t in zip(read, transactions)]),
        ("read + build", read_and_build),
    ]
    best = [float("inf")] * len(steps)
    gc.disable()
    for _ in range(args.repeat):
        for n, (_label, step) in enumerate(steps):
            start = time.process_time()
            step()
            best[n] = min(best[n], time.process_time() - start)
    gc.enable()
    print(f"{args.file}: {len(chosen)} calls, {sum(len(m) for m, _ in read)} messages")
    for (label, _step), seconds in zip(steps, best):
        print(f"{label:28s} {seconds * 1e6 / len(chosen):8.1f} us/call")


if __name__ == "__main__":
    main()
