"""CPU of opening a call's ladder in the TUI, up to its first paint (issue 13: under 200 ms).

``python3 bench/bench_ladder_open.py FILE [--opens 30] [--load bounded|full|auto]``

The app (``tui.app.create_app``, checker off) loads FILE headless at 140x40; once the list is
complete, ``--opens`` calls spread over it are opened one after another from ``open_ladder`` and
closed again. For each: this process's CPU until the ladder screen's ``rebuild`` is done (what
``bench_tui.py --open`` reports) and until the app is idle again, the screen composed, laid out
and painted (footer included). Prints the medians, the largest and the sum, then the first open
apart (the app keeps one ladder screen, composed once the list is shown); ``--each`` prints every
open's figure. CPU, not wall: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.app import create_app  # noqa: E402
from tui.ladder_screen import LadderScreen  # noqa: E402


async def measure(path: str, opens: int, bounded: bool | None) -> tuple[list[float], list[float]]:
    app = create_app(path, check=False, bounded=bounded)
    built: list[float] = []
    painted: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        while not (app.loaded and not app.listing):
            await asyncio.sleep(0.1)
        await pilot.pause()
        keys = list(app.call_list.rows)
        for number in range(opens):
            key = keys[round(number * (len(keys) - 1) / max(opens - 1, 1))]
            started = time.process_time()
            app.open_ladder([key])
            while not (isinstance(app.screen, LadderScreen) and app.screen.ladder is not None):
                await asyncio.sleep(0.001)
            built.append((time.process_time() - started) * 1e3)
            await pilot.pause()  # composed, laid out and painted
            painted.append((time.process_time() - started) * 1e3)
            app.pop_screen()
            await pilot.pause()
    return built, painted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--opens", type=int, default=30)
    parser.add_argument("--load", choices=("auto", "bounded", "full"), default="auto")
    parser.add_argument("--each", action="store_true", help="print every open's figure too")
    args = parser.parse_args()
    built, painted = asyncio.run(measure(args.file, args.opens,
                                         {"auto": None, "bounded": True, "full": False}[args.load]))
    for name, values in (("to rebuild", built), ("to first paint", painted)):
        print(f"{name:15} CPU ms: median {statistics.median(values):6.1f}  max {max(values):6.1f}  "
              f"sum {sum(values):7.0f}  ({len(values)} ladders)")
    # The first open composes the ladder screen the app then keeps; the others refill it.
    later = painted[1:] or painted
    print(f"first paint, first open {painted[0]:6.1f} ms; later opens: median {statistics.median(later):6.1f}  "
          f"max {max(later):6.1f}")
    if args.each:
        print("each, to first paint (ms):", " ".join(f"{value:.0f}" for value in painted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
