"""Media binding when every call announces the same address:port (SIPp's calls, a live refresh).

``python3 bench/bench_bind.py [--calls 2000] [--failed-every 10]``

Builds SIPp-like calls in memory (tests/unit/media/test_binding_sweep.py's ``sipp_traffic``: every
INVITE offers 127.0.0.1:6000, every 200 OK answers 127.0.0.2:6000, RTP both ways, every n-th call
refused and left without a BYE) and prints the CPU (process time) of ``bind_media`` and of the
per-call rule it replaced (kept in that test as the reference), with the number of bindings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "unit" / "media")]

from test_binding_sweep import per_call_bind, sipp_traffic  # noqa: E402

from ladder.media.binding import bind_media  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--failed-every", type=int, default=10)
    args = parser.parse_args(argv)
    calls, streams = sipp_traffic(args.calls, failed_every=args.failed_every)
    print(f"{len(calls)} calls, {len(streams)} streams")
    for name, function in (("bind_media (sweep)", bind_media), ("per-call rule", per_call_bind)):
        started = time.process_time()
        bindings = function(calls, streams)
        print(f"{name:20} {time.process_time() - started:7.3f} s CPU  {len(bindings)} bindings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
