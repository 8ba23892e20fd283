"""``UnionFind``: disjoint sets of keys, for what the evidence joins into one call (Call-IDs
by their links, an archive's fragments by their Call-IDs and correlation keys)."""

from __future__ import annotations

from typing import Generic, Hashable, Iterable, TypeVar

K = TypeVar("K", bound=Hashable)


class UnionFind(Generic[K]):
    """``union`` joins two keys' sets; ``find`` names a key's set by its root, the first key
    of the first union that made it (a key never seen is a set of its own)."""

    def __init__(self, keys: Iterable[K] = ()) -> None:
        self.parent: dict[K, K] = {key: key for key in keys}

    def find(self, key: K) -> K:
        parent = self.parent
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]  # path halving keeps later finds short
            key = parent[key]
        return key

    def union(self, a: K, b: K) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
