"""The call list's filter box: one line of terms, all of which a call must match.

The language (free text, ``/regex/``, ``from:``, ``to:``, ``callid:``, ``method:``,
``outcome:``, ``has:deviations``, ``has:CODE``, ``since:``/``until:`` …) is parsed by
``ladder.call_filter``, which ``ladder search`` uses too; this module applies it to the
list's ``CallRow`` values. Bad input raises ``FilterError`` with a message fit for the status
line; the list keeps its previous filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ladder.call_filter import FilterError, parse_terms, term_predicate
from tui.call_rows import CallRow

__all__ = ["CallFilter", "FilterError", "parse_filter"]

Predicate = Callable[[CallRow], bool]


@dataclass(frozen=True, slots=True)
class CallFilter:
    query: str
    predicates: tuple[Predicate, ...]

    def matches(self, row: CallRow) -> bool:
        return all(p(row) for p in self.predicates)

    def apply(self, rows: list[CallRow]) -> list[CallRow]:
        return [r for r in rows if self.matches(r)]


def parse_filter(query: str) -> CallFilter:
    """A ``CallFilter`` for the filter box's line (empty: every call)."""
    return CallFilter(query=query, predicates=tuple(term_predicate(t) for t in parse_terms(query)))
