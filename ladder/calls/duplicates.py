"""Capture copies: the same SIP message captured more than once is one message.

A Linux "any" capture sees a forwarded or looped packet on two interfaces, a switch mirrors
it from two ports, several HEP agents send the same packet: each copy carries the same bytes
between the same addresses within a millisecond or so. A retransmission (RFC 3261 §17) is
sent again after a timer of at least T1 (500 ms by default; tuned stacks go down to tens of
milliseconds, never to a few), so a copy closer than ``DUPLICATE_WINDOW_NS`` to the first
is a capture artefact: it is folded into the first, counted and listed, and no transaction
or timer rule sees it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol, TypeVar

DUPLICATE_WINDOW_NS = 10_000_000  # 10 ms


class Captured(Protocol):
    """What tells a capture copy: the bytes, the addresses and the time (a ``SipMessage``, or a
    ``StoredMessage`` read back from the message store)."""

    @property
    def raw(self) -> bytes: ...
    @property
    def src(self) -> Hashable: ...
    @property
    def dst(self) -> Hashable: ...
    @property
    def ts_ns(self) -> int: ...


M = TypeVar("M", bound=Captured)


def fold_duplicates(messages: list[M]) -> tuple[list[M], dict[int, tuple[M, ...]]]:
    """``messages`` (capture order) without their capture copies, and the copies of each kept
    message by ``id``. A copy has the same bytes, source and destination (transport
    included) as a kept message at most ``DUPLICATE_WINDOW_NS`` after it."""
    kept: list[M] = []
    copies: dict[int, list[M]] = {}
    # By the bytes first (their hash is C's and kept by the bytes object), then by source and
    # destination among the few with the same bytes: an endpoint's hash is a Python call.
    last: dict[bytes, list[M]] = {}
    for message in messages:
        same = last.get(message.raw)
        if same is None:
            last[message.raw] = [message]
            kept.append(message)
            continue
        for n, first in enumerate(same):
            if first.src == message.src and first.dst == message.dst:
                if 0 <= message.ts_ns - first.ts_ns <= DUPLICATE_WINDOW_NS:
                    copies.setdefault(id(first), []).append(message)
                else:
                    same[n] = message
                    kept.append(message)
                break
        else:
            same.append(message)
            kept.append(message)
    return kept, {key: tuple(value) for key, value in copies.items()}


def copies_note(count: int, frames: list[int]) -> str:
    """One line for a ladder's notes: how many messages were captured more than once."""
    shown = ", ".join(str(n) for n in frames[:12]) + (" …" if len(frames) > 12 else "")
    return (f"capture copies: {count} message(s) captured more than once within "
            f"{DUPLICATE_WINDOW_NS // 1_000_000} ms (copy frames {shown}); drawn once with ×N, "
            "not retransmissions")
