"""Bounded memo tables for values a capture repeats in packet after packet.

Addresses, endpoints and header values recur in every packet of a flow and every message of
a dialog: each is worked out once and its one copy shared. A table that is full is emptied and
starts again, so traffic with endless distinct values cannot make it grow."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` under ``key`` in ``memo``, emptied first if it holds ``limit`` entries;
    returns ``value``."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
