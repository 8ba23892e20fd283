"""Where a ``ladder`` command spends its CPU, by sampling its stack every millisecond of CPU time.

``python bench/sampled_profile.py check --json FILE > /dev/null`` runs ``ladder check --json FILE``
in this process and prints on stderr, per function, the share of samples it was on the stack
(inclusive) and on top (self). cProfile counts every call and inflates small functions many times
over (on ``ladder check`` it showed ``parse_sip`` at 38% and nothing of the dataclasses' generated
``__init__``s, which were 14% of the samples); a sample costs the same wherever it falls. A generated
``__init__`` (file ``<string>``) is named with its class and its caller, ``__init__[Arrow<build_ladder]``.
"""

from __future__ import annotations

import collections
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

INTERVAL = 0.001  # seconds of CPU time (ITIMER_PROF: user + system) between two samples
SHOWN = 60


def _name(frame) -> str:
    code = frame.f_code
    name = "/".join(code.co_filename.split("/")[-2:]) + ":" + code.co_name
    if code.co_filename == "<string>" and code.co_name == "__init__" and frame.f_back is not None:
        name += f"[{type(frame.f_locals.get('self')).__name__}<{frame.f_back.f_code.co_name}]"
    return name


def main(argv: list[str]) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    on_top: collections.Counter[str] = collections.Counter()
    samples = [0]

    def sample(signum, frame) -> None:
        samples[0] += 1
        on_top[_name(frame)] += 1
        seen = set()
        while frame is not None:
            name = _name(frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += 1
            frame = frame.f_back

    signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)
    sys.argv = ["ladder", *argv]
    from ladder.cli.dispatch import main as ladder_main

    try:
        ladder_main()
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        total = max(samples[0], 1)
        for title, counts in (("inclusive", inclusive), ("self", on_top)):
            print(f"--- {title} ({samples[0]} samples of {INTERVAL * 1000:g} ms CPU)", file=sys.stderr)
            for name, count in counts.most_common(SHOWN):
                print(f"{100 * count / total:5.1f}% {name}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
