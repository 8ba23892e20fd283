"""How tests run the ``ladder`` command: one style, for tests/cli/ and any test that needs it.

The fixture ``run_ladder(*args, stdin=None) -> Result(code, out, err)`` (tests/conftest.py)
runs the command in this process, through ``ladder.cli.dispatch.main`` as ``python -m ladder``
does, with its own stdin, stdout and stderr (none a terminal) and argparse's exits turned into
the exit code. It is what every CLI test uses: no interpreter start per call, and a traceback
fails the test where it happens.

The fixture ``ladder_process(*args, stdin=None)`` gives the same ``Result`` from a real
``python -m ladder`` process. Use it only where a process is the point: signals, a real pipe or
terminal, start-up, what the interpreter prints on its way out.
"""

from __future__ import annotations

import gc
import io
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]


class Result(NamedTuple):
    """What a command did; unpacks as ``code, out, err = run_ladder(...)``."""

    code: int
    out: str
    err: str


def _stream(data: bytes = b"") -> io.TextIOWrapper:
    """A text stream over bytes, with ``.buffer``, as a process's standard streams have."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", write_through=True)


def run_in_process(*args: object, stdin: bytes | None = None) -> Result:
    from ladder.cli.dispatch import main

    out, err = _stream(), _stream()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = _stream(stdin or b""), out, err
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exc:  # argparse: usage errors, --help, --version
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        # ``main`` freezes the heap for the command's life; this process goes on, and every
        # later load would pay for counting the frozen objects (see tests/conftest.py).
        gc.unfreeze()
    return Result(code, out.buffer.getvalue().decode("utf-8"), err.buffer.getvalue().decode("utf-8"))


def run_process(*args: object, stdin: bytes | None = None, timeout: float = 120) -> Result:
    done = subprocess.run([sys.executable, "-m", "ladder", *map(str, args)], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=timeout)
    return Result(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))
