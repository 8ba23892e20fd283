"""Random values through the compiled indented JSON writer (``_accel.indented_json``), each
compared with the Python writer it stands for (``textsafe._indented``).

Values mix every type C takes or refuses: strings from every plane with controls, DEL, C1 and
lone surrogates, ints at and past 64 bits and past the digit limit, float edges, tuples, str
and int subclasses, dicts with non-text keys, nesting up to and past C's depth limit, long
strings. Any difference, or an exception other than the Python path's own, is a finding.
``tests/system/test_sanitizers.py`` runs it in an ASan/UBSan build::

    .venv/bin/python tests/fuzz_indented_json.py --runs 2000 --seed 3
"""

from __future__ import annotations

import argparse
import enum
import math
import random
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # after PYTHONPATH: the sanitized build goes first

from ladder import _accel, textsafe  # noqa: E402


class _Flag(enum.IntEnum):
    ON = 3


class _Text(str):
    pass


CHARS = "a\"\\\b\f\n\r\t\x00\x1f\x7f\x85\x9b\u00e9\u2028\u202e\ud800\udfff\U0001f600\U0010ffff~ "


def _text(rng: random.Random) -> str:
    n = rng.choice((0, 1, 3, 12, 200, 70_000 if rng.random() < 0.02 else 5))
    return "".join(rng.choice(CHARS) if rng.random() < 0.5 else chr(rng.randrange(0x110000)) for _ in range(n))


def _scalar(rng: random.Random) -> object:
    pick = rng.randrange(10)
    if pick == 0:
        return rng.choice((None, True, False, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308))
    if pick == 1:
        return rng.choice((0, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**4400, _Flag.ON))
    if pick == 2:
        return rng.randrange(-(2**100), 2**100)
    if pick == 3:
        return rng.uniform(-1e20, 1e20)
    if pick == 4:
        return _Text(_text(rng))
    return _text(rng)


def _value(rng: random.Random, depth: int) -> object:
    if depth > 0 and rng.random() < 0.6:
        shape = rng.randrange(4)
        if shape == 0:
            return [_value(rng, depth - 1) for _ in range(rng.randrange(4))]
        if shape == 1:
            return tuple(_value(rng, depth - 1) for _ in range(rng.randrange(3)))
        keys = [_text(rng) if rng.random() < 0.9 else rng.choice((1, None, 2.5)) for _ in range(rng.randrange(4))]
        return {k: _value(rng, depth - 1) for k in keys}
    return _scalar(rng)


def _nested(depth: int) -> object:
    value: object = "x"
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


def _python(value: object, pad: str, ascii_only: bool) -> object:
    parts: list[str] = []
    try:
        textsafe._indented(value, pad, parts, textsafe._encode_ascii if ascii_only else textsafe._encode_text)
    except textsafe._Unfit:
        return None
    except (ValueError, RecursionError):  # an int past the digit limit; nesting past Python's limit
        return None
    return "".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    findings = taken = 0
    for run in range(args.runs):
        value = _nested(rng.choice((190, 199, 200, 201, 400))) if run % 50 == 0 else _value(rng, 6)
        for ascii_only in (True, False):
            pad = rng.choice(("", "  ", "    "))
            compiled = _accel.indented_json(value, pad, ascii_only)
            taken += compiled is not None
            if compiled is not None and compiled != _python(value, pad, ascii_only):
                findings += 1
                print(f"finding: run {run} ascii={ascii_only}: {ascii(value)[:300]}", file=sys.stderr)
    print(f"fuzz-indented-json: accelerator {_accel.__file__}: {args.runs} values, {taken} written in C, "
          f"{findings} finding(s)", file=sys.stderr)
    return 1 if findings or not taken else 0


if __name__ == "__main__":
    sys.exit(main())
