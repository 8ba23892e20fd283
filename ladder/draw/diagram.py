"""The ladder as data: columns (participants) and arrows, computed once by ``build_ladder``.

Every renderer (text, Mermaid, JSON, HTML, the TUI) draws from a ``Ladder``; none of them
re-derives columns, numbering or labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from decoders.quick_init import quick_init
from decoders.records import Endpoint

if TYPE_CHECKING:  # imported for annotations only: keeps this module import-light
    from decoders.sip import SipMessage
    from ladder.media.streams import StreamKey

REQUEST = "request"
RESPONSE = "response"
MEDIA = "media"


@quick_init
@dataclass(frozen=True, slots=True)
class Participant:
    """One column: a network node (one host, or one host:port when a host is ambiguous)."""

    name: str
    endpoints: tuple[Endpoint, ...]
    role: str = "unknown"  # "ua", "proxy", "b2bua", "registrar", "unknown"


@quick_init
@dataclass(frozen=True, slots=True)
class Arrow:
    """One row of the ladder: a SIP message (with its F-number) or a media bar.

    ``src``/``dst`` index ``Ladder.participants``. ``frames`` are 1-based frame numbers.
    ``marks`` are short problem labels drawn beside the arrow (deviation codes, stream
    problems); ``stream_keys`` name the RTP streams a media bar stands for.
    """

    f: int | None
    kind: str
    label: str
    src: int
    dst: int
    ts_ns: int
    frames: tuple[int, ...] = ()
    method: str | None = None
    status: int | None = None
    retransmission: bool = False
    message: "SipMessage | None" = None
    call_id: str = ""
    both_ways: bool = False
    stream_keys: tuple[StreamKey, ...] = ()
    marks: tuple[str, ...] = ()
    copies: tuple[int, ...] = ()  # frames of capture copies folded into this message (ladder.calls.duplicates)

    @property
    def times_seen(self) -> int:
        """How many times the capture holds this message: drawn ``×N`` when more than once."""
        return 1 + len(self.copies)
    sdp: bool = False  # the message carries an SDP body (an offer or an answer)


RETRANSMISSION = "(retransmission)"
SDP_MARK = "(SDP)"


def arrow_label(arrow: Arrow, *, sdp: bool = False) -> str:
    """The words over an arrow, the same in every output (RFC 3665's order: label, then
    F-number): ``INVITE F1``, ``200 OK F6 (SDP)`` with ``sdp`` (sngrep's mark, for the TUI),
    ``INVITE F3 (retransmission)``; a media bar's own label."""
    if arrow.kind == MEDIA or arrow.f is None:
        return arrow.label
    text = f"{arrow.label} F{arrow.f}"
    if sdp and arrow.sdp:
        text += f" {SDP_MARK}"
    if arrow.retransmission:
        text += f" {RETRANSMISSION}"
    if arrow.copies:
        text += f" ×{arrow.times_seen}"  # capture copies, not retransmissions (ladder.calls.duplicates)
    return text


def media_label(codec: str, rightward: int | None, leftward: int | None) -> str:
    """A media bar's label with each direction's packet count beside its arrow, as drawn
    (left to right first): ``RTP PCMA → 548 ← 891 pkts``, so a one-way-audio hunt reads the
    direction off the ladder, whichever side sent first."""
    counts = [f"{arrow} {count}" for arrow, count in (("→", rightward), ("←", leftward)) if count is not None]
    return f"RTP {codec} {' '.join(counts)} pkts"


@quick_init
@dataclass(frozen=True, slots=True)
class Ladder:
    """A whole ladder: one call (or several shown together), ready to draw.

    ``t0_ns`` is the capture's first frame time, so ``arrow.ts_ns - t0_ns`` is the time
    column Wireshark users expect. ``notes`` are lines printed under the ladder
    (deviations, media problems) in order.
    """

    call_key: str
    title: str
    participants: tuple[Participant, ...]
    arrows: tuple[Arrow, ...]
    t0_ns: int = 0
    notes: tuple[str, ...] = field(default=())
    # What the ladder shows, for renderers that print it (JSON, HTML titles, the TUI).
    call_ids: tuple[str, ...] = ()
    outcome: str = ""  # kebab-case code (ladder.outcome), "" when several calls are drawn
    outcome_text: str = ""
    kind: str = ""
    links: tuple[str, ...] = ()  # why several Call-IDs / hops are one call

    def sip_arrows(self) -> tuple[Arrow, ...]:
        return tuple(a for a in self.arrows if a.kind != MEDIA)
