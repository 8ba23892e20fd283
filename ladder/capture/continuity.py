"""Breaks in a capture's time line: where its clock runs backwards or leaps implausibly.

Some captures are collages of packets from unrelated moments (test suites merge them), some
have a clock reset halfway (decades apart). Across such a break the capture says nothing
about what happened: "no response within 64*T1" or "never ACKed" cannot be concluded from
it. ``find_breaks`` reports each break once; the rules stand down across it
(``RuleSettings.breaks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from decoders.sip import SipMessage

BACKWARDS_NS = 1_000_000_000  # capture clocks jitter by microseconds; a second back is a reset
# No SIP at all for an hour and then more: a live signalling capture has keep-alives,
# registrations and refreshes far more often (RFC 3261 §10.2.1 default Expires is 3600 s).
LEAP_NS = 3_600_000_000_000


@dataclass(frozen=True, slots=True)
class Break:
    """The capture's clock jumps between ``frame_before`` and ``frame`` (1-based frames)."""

    frame_before: int
    frame: int
    before_ns: int
    after_ns: int

    @property
    def span(self) -> tuple[int, int]:
        """The time range nothing can be concluded about."""
        return (min(self.before_ns, self.after_ns), max(self.before_ns, self.after_ns))

    def describe(self) -> str:
        seconds = (self.after_ns - self.before_ns) / 1e9
        how = f"runs backwards by {-seconds:.1f} s" if seconds < 0 else f"leaps {_duration(seconds)}"
        return (f"the capture's clock {how} between frames {self.frame_before} and {self.frame}: "
                "rules that need a continuous capture stand down across it")


def _duration(seconds: float) -> str:
    if seconds >= 86400 * 365:
        return f"{seconds / (86400 * 365.25):.1f} years"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 3600:.1f} hours"


def find_breaks(messages: Iterable["SipMessage"]) -> list[Break]:
    """The breaks between consecutive SIP messages in frame order."""
    ordered = sorted((m for m in messages if m.frames), key=lambda m: m.frames[0].number)
    breaks: list[Break] = []
    for before, after in zip(ordered, ordered[1:]):
        gap = after.ts_ns - before.ts_ns
        if gap < -BACKWARDS_NS or gap > LEAP_NS:
            breaks.append(Break(before.frames[-1].number, after.frames[0].number, before.ts_ns, after.ts_ns))
    return breaks


DAMAGED_SHARE = 0.10  # above this share of damaged SIP messages a capture is fuzzed or corrupt


def damaged(message: "SipMessage") -> bool:
    """A message without one of the headers every SIP message has (RFC 3261 §8.1.1): bytes
    damaged in the capture (a fuzzed file, a corrupt one) rather than a peer's choice."""
    return not (message.call_id and message.cseq and message.vias and message.from_addr and message.to_addr)


def damage_note(messages: list["SipMessage"]) -> str | None:
    """One line when the capture is damaged beyond ``DAMAGED_SHARE``: its messages may have
    lost the headers that tie an answer to its request, so silence proves nothing."""
    return damage_text(sum(1 for m in messages if damaged(m)), len(messages))


def damage_text(bad: int, total: int) -> str | None:
    """``damage_note`` for ``bad`` damaged messages of ``total``."""
    if not total or bad / total <= DAMAGED_SHARE:
        return None
    return (f"{bad} of {total} SIP messages lack Call-ID, CSeq, Via, From or To (a damaged or "
            "fuzzed capture): rules that conclude from a missing message stand down")


def continuous(breaks: Iterable[tuple[int, int]], start_ns: int, end_ns: int) -> bool:
    """Whether the capture covers ``start_ns`` to ``end_ns`` without a break."""
    return not any(start_ns <= hi and end_ns >= lo for lo, hi in breaks)
