"""A call's timings, each one thing everywhere (``ladder calls``, the TUI, HTML, JSON).

``setup_time`` runs from the initial INVITE to the first 2xx the caller got, ``talk_time``
from that 2xx to the first BYE (the conversation), ``post_dial_delay`` to the first 180/183.
None of them is the capture span of the call's messages (``Call.span_ns``), which also counts
registrations, retransmissions and whatever the capture caught before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING

from decoders.quick_init import quick_init

if TYPE_CHECKING:
    from ladder.calls.grouping import Call


@quick_init
@dataclass(frozen=True, slots=True)
class CallTimings:
    """Nanoseconds; None when the capture does not show the moment."""

    post_dial_delay: int | None
    setup_time: int | None
    talk_time: int | None
    first_response: int | None


def call_timings(call: "Call") -> CallTimings:
    # One pass per step, with no closure or generator per call: ``ladder calls`` times every call.
    messages = sorted(call.messages, key=_TIME)
    invite = None
    for m in messages:
        if m.is_request and m.method == "INVITE" and not m.to_tag:
            invite = m
            break
    if invite is None:
        return CallTimings(None, None, None, None)
    caller = invite.src.ip if invite.src else None
    start = invite.ts_ns
    responses = [m for m in messages if not m.is_request and m.method == "INVITE"
                 and m.ts_ns >= start and m.status is not None]
    # those toward the caller (each, when the caller's address is unknown)
    toward = [m for m in responses if caller is None or m.dst is None or m.dst.ip == caller] or responses
    ringing = answer = None
    for m in toward:
        status = m.status
        if ringing is None and status in (180, 183):
            ringing = m
        if answer is None and 200 <= (status or 0) < 300:
            answer = m
        if ringing is not None and answer is not None:
            break
    first = toward[0] if toward else None
    bye = None
    if answer is not None:
        answered = answer.ts_ns
        for m in messages:
            if m.is_request and m.method == "BYE" and m.ts_ns >= answered:
                bye = m
                break
    return CallTimings(
        post_dial_delay=ringing.ts_ns - start if ringing else None,
        setup_time=answer.ts_ns - start if answer else None,
        talk_time=bye.ts_ns - answer.ts_ns if (bye and answer) else None,
        first_response=first.ts_ns - start if first else None,
    )


_TIME = attrgetter("ts_ns")
