"""Bounded memo tables for values a capture repeats in packet after packet.

Addresses, endpoints and header values recur in every packet of a flow and every message of
a dialog: each is worked out once and its one copy shared. A table that is full is emptied and
starts again, so traffic with endless distinct values cannot make it grow."""

from __future__ import annotations

from collections.abc import Callable
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


def remembered_parse(memo: dict[K, tuple[V, tuple[str, ...]]], key: K, size: int,
                     parse: Callable[[K, list[str]], V], problems: list[str], limit: int, longest: int) -> V:
    """``parse(key, problems)``, remembered by ``key`` with the problems it found (appended to
    ``problems`` on every answer). Not kept when the text of ``key`` (``size``) is longer than
    ``longest``; ``limit`` entries at most. A parse that raises is not kept."""
    entry = memo.get(key)
    if entry is None:
        found: list[str] = []
        entry = (parse(key, found), tuple(found))
        if size <= longest:
            remember(memo, key, entry, limit)
    if entry[1]:
        problems.extend(entry[1])
    return entry[0]
