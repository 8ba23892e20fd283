"""Every deviation code ``ladder check`` can report, in the order the help and the docs list
them: against a reference flow, then the reference-free rules family by family, then media.
Each is declared beside its logic; this module only gathers them (``--ignore``, the filter's
``has:CODE``)."""

from __future__ import annotations

from ladder.check import matching, rules
from ladder.check.deviations import Code
from ladder.check.rules import media

CODES: dict[str, Code] = {code.name: code for code in (*matching.CODES, *rules.CODES, *media.CODES)}


def parse_ignore(text: str) -> frozenset[str]:
    """``--ignore a,b``: the codes, each checked against ``CODES``."""
    codes = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(codes - CODES.keys())
    if unknown:
        raise ValueError(f"unknown deviation code(s): {', '.join(unknown)} (known: {', '.join(CODES)})")
    return codes
