"""Deviations: what ``ladder check`` reports, with stable kebab-case codes and severities.

Codes are part of the public interface (``--ignore CODE``, JSON output, the README): never
rename one. Each ``Code`` (default severity, the rule it stands for) is declared in the module
whose logic reports it: ``ladder.check.rules.*``, ``ladder.check.matching`` (against a reference
flow), ``ladder.check.rules.media``; ``ladder.check.codes`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

INFO = "info"
WARNING = "warning"
ERROR = "error"
SEVERITIES = (INFO, WARNING, ERROR)
_RANK = {INFO: 0, WARNING: 1, ERROR: 2}


@dataclass(frozen=True, slots=True)
class Code:
    """One deviation code: its default severity, where the rule comes from, and a summary."""

    name: str
    severity: str
    rule: str
    summary: str




@dataclass(frozen=True, slots=True)
class Deviation:
    """One finding about one call.

    ``f`` are the captured F-numbers concerned (as the ladder shows them), ``reference_f`` the
    reference flow's F-numbers; ``frames`` the 1-based capture frames (an RTP frame for media);
    ``message`` one sentence citing the rule.
    """

    code: str
    severity: str
    message: str
    f: tuple[int, ...] = ()
    reference_f: tuple[int, ...] = ()
    frames: tuple[int, ...] = ()
    rule: str = ""
    stream_keys: tuple = ()  # the RTP streams of a media deviation (``Arrow.stream_keys``)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "f": list(self.f),
            "reference_f": list(self.reference_f),
            "frames": list(self.frames),
            "rule": self.rule,
            "message": self.message,
        }

    def label(self) -> str:
        """``missing-ack (error)``: how a ladder marks the arrow."""
        return f"{self.code} ({self.severity})"


def deviation(
    code: Code,
    message: str,
    *,
    f: tuple[int, ...] | list[int] = (),
    reference_f: tuple[int, ...] | list[int] = (),
    frames: tuple[int, ...] | list[int] = (),
    severity: str | None = None,
) -> Deviation:
    """A ``Deviation`` with the code's default severity and rule unless told otherwise."""
    return Deviation(
        code=code.name,
        severity=severity or code.severity,
        message=message,
        f=tuple(sorted(set(f))),
        reference_f=tuple(sorted(set(reference_f))),
        frames=tuple(sorted(set(frames))),
        rule=code.rule,
    )


def at_least(severity: str, threshold: str) -> bool:
    """True when ``severity`` is ``threshold`` or worse."""
    return _RANK[severity] >= _RANK[threshold]


def worst(deviations) -> str | None:
    """The highest severity among ``deviations`` (None when there are none)."""
    best: str | None = None
    for item in deviations:
        if best is None or _RANK[item.severity] > _RANK[best]:
            best = item.severity
    return best
