"""The call list's filter box: one line of terms, all of which a call must match.

Syntax (case-insensitive; terms separated by spaces, quote a term that holds spaces):

    alice                free text: From, To, Call-ID, method, outcome, kind, reference
    /ali.e@/  re:ali.e@  a regular expression over the same text
    from:alice  to:bob   a substring (or /regex/) of From / To
    callid:a84b4c        a substring (or /regex/) of any Call-ID of the call
    method:INVITE,BYE    first method is one of these
    outcome:answered     outcome is one of these (busy, cancelled, rejected 486, …)
    has:deviations       at least one deviation (also ``dev``, ``!dev`` for none)

Bad input (an unterminated quote, an invalid regex) raises ``FilterError`` with a message fit
for the status line; the list keeps its previous filter.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Callable

from tui.call_rows import CallRow


class FilterError(ValueError):
    """A filter line that cannot be used (the message says why)."""


Predicate = Callable[[CallRow], bool]

_FIELDS: dict[str, Callable[[CallRow], list[str]]] = {
    "from": lambda r: [r.caller],
    "to": lambda r: [r.callee],
    "callid": lambda r: list(r.call_ids),
    "call-id": lambda r: list(r.call_ids),
    "id": lambda r: list(r.call_ids),
}


@dataclass(frozen=True, slots=True)
class CallFilter:
    query: str
    predicates: tuple[Predicate, ...]

    def matches(self, row: CallRow) -> bool:
        return all(p(row) for p in self.predicates)

    def apply(self, rows: list[CallRow]) -> list[CallRow]:
        return [r for r in rows if self.matches(r)]


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE | re.MULTILINE)  # ^ and $ anchor each field
    except re.error as exc:
        raise FilterError(f"bad regular expression /{pattern}/: {exc}") from None


def _text_matcher(value: str) -> Callable[[str], bool]:
    """``/regex/`` or a case-insensitive substring."""
    if len(value) >= 2 and value.startswith("/") and value.endswith("/"):
        rx = _regex(value[1:-1])
        return lambda text: rx.search(text) is not None
    needle = value.lower()
    return lambda text: needle in text.lower()


def _field_term(field: str, value: str) -> Predicate:
    values_of = _FIELDS[field]
    match = _text_matcher(value)
    return lambda row: any(match(v) for v in values_of(row))


def _one_of(value: str, attr: Callable[[CallRow], str]) -> Predicate:
    def normal(text: str) -> str:  # "no-answer" and "no answer" are the same outcome
        return text.strip().lower().replace("-", " ")

    wanted = {normal(v) for v in value.split(",") if v.strip()}
    if not wanted:
        raise FilterError("empty list after ':'")
    # "rejected" matches "rejected 486": the words before the status code are enough.
    return lambda row: (normal(attr(row)) in wanted) or (normal(attr(row)).rstrip("0123456789 ") in wanted)


def _term(term: str) -> Predicate:
    lowered = term.lower()
    if lowered in ("has:deviations", "has:deviation", "dev", "deviations", "has:dev"):
        return lambda row: (row.deviations or 0) > 0
    if lowered in ("!dev", "no:deviations", "-dev"):
        return lambda row: row.deviations == 0
    if lowered.startswith("re:"):
        rx = _regex(term[3:])
        return lambda row: rx.search(row.haystack()) is not None
    field, sep, value = term.partition(":")
    field = field.lower()
    if sep and value:
        if field in _FIELDS:
            return _field_term(field, value)
        if field == "method":
            return _one_of(value, lambda r: r.method)
        if field == "outcome":
            return _one_of(value, lambda r: r.outcome)
        if field == "kind":
            return _one_of(value, lambda r: r.kind)
    match = _text_matcher(term)
    return lambda row: match(row.haystack())


def parse_filter(query: str) -> CallFilter:
    """A ``CallFilter`` for the filter box's line (empty: every call)."""
    # Quotes group words; backslashes stay as typed (they belong to regular expressions).
    lexer = shlex.shlex(query, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    try:
        terms = list(lexer)
    except ValueError as exc:
        raise FilterError(f"cannot read the filter: {exc}") from None
    return CallFilter(query=query, predicates=tuple(_term(t) for t in terms))
