"""A call's timings, each one thing everywhere (``ladder calls``, the TUI, HTML, JSON).

``setup_time`` runs from the initial INVITE to the first 2xx the caller got, ``talk_time``
from that 2xx to the first BYE (the conversation), ``post_dial_delay`` to the first 180/183.
None of them is the capture span of the call's messages (``Call.span_ns``), which also counts
registrations, retransmissions and whatever the capture caught before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decoders.sip import SipMessage
    from ladder.calls.grouping import Call


@dataclass(frozen=True, slots=True)
class CallTimings:
    """Nanoseconds; None when the capture does not show the moment."""

    post_dial_delay: int | None
    setup_time: int | None
    talk_time: int | None
    first_response: int | None


def call_timings(call: "Call") -> CallTimings:
    messages = sorted(call.messages, key=lambda m: m.ts_ns)
    invite = next((m for m in messages if m.is_request and m.method == "INVITE" and not m.to_tag), None)
    if invite is None:
        return CallTimings(None, None, None, None)
    caller = invite.src.ip if invite.src else None

    def to_caller(m: SipMessage) -> bool:
        return caller is None or m.dst is None or m.dst.ip == caller

    responses = [m for m in messages if not m.is_request and m.method == "INVITE"
                 and m.ts_ns >= invite.ts_ns and m.status is not None]
    toward = [m for m in responses if to_caller(m)] or responses
    ringing = next((m for m in toward if m.status in (180, 183)), None)
    answer = next((m for m in toward if 200 <= (m.status or 0) < 300), None)
    first = next(iter(toward), None)
    bye = next((m for m in messages if m.is_request and m.method == "BYE"
                and answer is not None and m.ts_ns >= answer.ts_ns), None)
    return CallTimings(
        post_dial_delay=ringing.ts_ns - invite.ts_ns if ringing else None,
        setup_time=answer.ts_ns - invite.ts_ns if answer else None,
        talk_time=bye.ts_ns - answer.ts_ns if (bye and answer) else None,
        first_response=first.ts_ns - invite.ts_ns if first else None,
    )
