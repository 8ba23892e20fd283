"""The call filter language, parsed once and evaluated two ways: in Python on row objects
(the TUI's call list, a plain scan of an archive index) and as a DuckDB SQL condition over an
index's Parquet files (``ladder search``). Both give the same answer for the same rows.

Syntax (case-insensitive; terms separated by spaces, quote a term that holds spaces; every
term must match):

    alice                free text: From, To, Call-ID, method, outcome, kind, reference
    /ali.e@/  re:ali.e@  a regular expression over the same text
    from:alice  to:bob   a substring (or /regex/) of From / To (``from:+1555`` finds a number)
    callid:a84b4c        a substring (or /regex/) of any Call-ID of the call
    method:INVITE,BYE    first method is one of these
    outcome:completed    outcome is one of these (busy, cancelled, rejected 486, …);
                         ``failed`` is every outcome that is not a success
    kind:call            call, registration, options, subscription, message, other
    code:486             the deciding final response's status code is one of these
    has:deviations       at least one deviation (also ``dev``, ``!dev`` for none)
    has:one-way-media    a deviation with this code (any code of ``ladder check``)
    since:2026-12-01T14:00  until:2026-12-01T15:00   the call started in that interval
                         (UTC unless the time says ``Z`` or ``+hh:mm``; a date alone is the
                         whole day, so ``until:2026-12-01`` includes that day)

A row is any object with the attributes ``method caller callee call_ids outcome kind
reference deviations start_ns`` and, where known, ``deviation_codes`` and ``status``.

Bad input (an unterminated quote, an invalid regex, an unreadable time) raises
``FilterError`` with a message fit for a status line.
"""

from __future__ import annotations

import datetime as _dt
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable

from ladder.check.codes import CODES


class FilterError(ValueError):
    """A filter line that cannot be used (the message says why)."""


# Outcomes that are a success; ``outcome:failed`` is every other one (an unanswered,
# rejected, cancelled … call, a failed registration).
SUCCESS_OUTCOMES = frozenset({"completed", "in call", "registered", "accepted", "setup", "ringing", "partial"})
_HAYSTACK = ("method", "caller", "callee", "call_ids", "outcome", "kind", "reference")
# ``from:`` and ``to:`` also search the party's number without visual separators, where a
# row has one (an archive index's rows do): ``from:+1555`` finds ``+1-555-0100@host``.
_TEXT_FIELDS = {"from": ("caller", "caller_number"), "to": ("callee", "callee_number"),
                "callid": ("call_ids",), "call-id": ("call_ids",), "id": ("call_ids",)}
_CHOICE_FIELDS = ("method", "outcome", "kind")
# The fields of free text and of each ``name:`` text term (an index's search columns hold them).
HAYSTACK_FIELDS, TEXT_FIELDS = _HAYSTACK, _TEXT_FIELDS


@dataclass(frozen=True, slots=True)
class Term:
    """One parsed term: ``op`` says what it tests, ``field`` which column, ``value`` with what."""

    op: str  # text | regex | choice | deviations | has | status | since | until
    field: Any = ""  # a column, or the columns a text or regex term searches
    value: Any = None


# -- parsing -----------------------------------------------------------------------------------


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE | re.MULTILINE)  # ^ and $ anchor each field
    except re.error as exc:
        raise FilterError(f"bad regular expression /{pattern}/: {exc}") from None


def _text_term(field: tuple[str, ...], value: str) -> Term:
    """``/regex/`` or a case-insensitive substring."""
    if len(value) >= 2 and value.startswith("/") and value.endswith("/"):
        return Term("regex", field, _regex(value[1:-1]))
    return Term("text", field, value.lower())


def normal_outcome(text: str) -> str:
    """``no-answer`` and ``no answer`` are the same outcome."""
    return text.strip().lower().replace("-", " ")


def _choices(value: str, field: str) -> Term:
    normal = normal_outcome if field == "outcome" else (lambda t: t.strip().lower())
    wanted = frozenset(normal(v) for v in value.split(",") if v.strip())
    if not wanted:
        raise FilterError("empty list after ':'")
    return Term("choice", field, wanted)


def parse_instant(text: str, *, end: bool = False) -> int:
    """Nanoseconds since the epoch for an ISO date or date-time (UTC unless it names an
    offset) or a number of seconds. With ``end``, the end of what the text names: a date is
    the whole day, ``14:05`` the whole minute."""
    raw = text.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", raw) and len(raw) > 8:
            return int(float(raw) * 1e9) + (1 if end else 0)
        moment = _dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(f"cannot read the time {text!r} (use 2026-12-01T14:05 or 2026-12-01)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    ns = int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    if not end:
        return ns
    clock = raw.partition("T")[2] or raw.partition(" ")[2]
    clock = re.split(r"[Zz+-]", clock)[0]
    if not clock:
        span = 86_400
    elif clock.count(":") == 0:
        span = 3600
    elif clock.count(":") == 1:
        span = 60
    else:
        span = 1 if "." not in clock else 0
    return ns + span * 1_000_000_000 if span else ns + 1000


def _term(term: str) -> Term:
    lowered = term.lower()
    if lowered in ("has:deviations", "has:deviation", "dev", "deviations", "has:dev"):
        return Term("deviations", value=True)
    if lowered in ("!dev", "no:deviations", "-dev"):
        return Term("deviations", value=False)
    if lowered.startswith("re:"):
        return Term("regex", _HAYSTACK, _regex(term[3:]))
    field, sep, value = term.partition(":")
    field = field.lower()
    if sep and value:
        if field in _TEXT_FIELDS:
            return _text_term(_TEXT_FIELDS[field], value)
        if field in _CHOICE_FIELDS:
            return _choices(value, field)
        if field == "has" and value.lower() in CODES:
            return Term("has", "deviation_codes", value.lower())
        if field == "has":
            raise FilterError(f"has:{value}: not a deviation code (see 'ladder check --help')")
        if field == "code":
            codes = [v for v in value.split(",") if v.strip()]
            if not codes or not all(c.strip().isdigit() and len(c.strip()) == 3 for c in codes):
                raise FilterError(f"code:{value}: give three-digit status codes, comma-separated")
            return Term("status", "status", frozenset(int(c) for c in codes))
        if field == "since":
            return Term("since", "start_ns", parse_instant(value))
        if field == "until":
            return Term("until", "start_ns", parse_instant(value, end=True))
    return _text_term(_HAYSTACK, term)


def parse_terms(query: str) -> tuple[Term, ...]:
    """The terms of one filter line (empty: no term, every call matches)."""
    # Quotes group words; backslashes stay as typed (they belong to regular expressions).
    lexer = shlex.shlex(query, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError as exc:
        raise FilterError(f"cannot read the filter: {exc}") from None
    return tuple(_term(word) for word in words)


# -- evaluation in Python ----------------------------------------------------------------------


def _values(row: Any, fields: tuple[str, ...]) -> list[str]:
    """The texts of ``fields`` that the row has, a list's items one by one."""
    found: list[str] = []
    for field in fields:
        if not hasattr(row, field):
            continue
        value = getattr(row, field)
        if isinstance(value, (list, tuple)):
            found.extend(str(v) for v in value)
        else:
            found.append("" if value is None else str(value))
    return found


def haystack(row: Any) -> str:
    """The text free-text terms search, lower case, one field a line."""
    return "\n".join(_values(row, _HAYSTACK)).lower()


def field_text(row: Any, name: str) -> str:
    """The lower-case text ``name:`` (from, to, callid) searches, one value a line: a needle
    without a line break is in one of the values exactly when it is in this text."""
    return "\n".join(_values(row, _TEXT_FIELDS[name])).lower()


def _outcome_matches(outcome: str, wanted: frozenset[str]) -> bool:
    text = normal_outcome(outcome)
    # "rejected" matches "rejected 486": the words before the status code are enough.
    bare = text.rstrip("0123456789 ")
    return text in wanted or bare in wanted or ("failed" in wanted and bare not in SUCCESS_OUTCOMES)


def term_predicate(term: Term) -> Callable[[Any], bool]:
    """``row -> bool`` for one term."""
    op, field, value = term.op, term.field, term.value
    if op == "text" and field == _HAYSTACK:
        return lambda row: value in haystack(row)
    if op == "text":
        return lambda row: any(value in v.lower() for v in _values(row, field))
    if op == "regex" and field == _HAYSTACK:
        return lambda row: value.search(haystack(row)) is not None
    if op == "regex":
        return lambda row: any(value.search(v) for v in _values(row, field))
    if op == "choice":
        if field == "outcome":
            return lambda row: _outcome_matches(str(getattr(row, "outcome", "") or ""), value)
        return lambda row: str(getattr(row, field, "") or "").strip().lower() in value
    if op == "deviations":
        if value:
            return lambda row: (getattr(row, "deviations", None) or 0) > 0
        return lambda row: getattr(row, "deviations", None) == 0
    if op == "has":
        return lambda row: value in (getattr(row, field, None) or ())
    if op == "status":
        return lambda row: getattr(row, field, None) in value
    if op == "since":
        return lambda row: (getattr(row, field, None) or 0) >= value
    if op == "until":
        return lambda row: (getattr(row, field, None) or 0) < value
    raise AssertionError(op)


# -- evaluation in DuckDB ----------------------------------------------------------------------


def sql_literal(text: str) -> str:
    """A SQL string literal (DuckDB's: single quotes doubled, no backslash escapes)."""
    return "'" + text.replace("'", "''") + "'"


def _sql_text(fields: tuple[str, ...]) -> str:
    """The columns as one lower-case text, one value a line (as ``_values`` lists them)."""
    parts = ", ".join(
        "array_to_string(call_ids, chr(10))" if f == "call_ids" else f"coalesce({f}, '')" for f in fields)
    return f"lower(concat_ws(chr(10), {parts}))"


def _sql_outcome() -> str:
    return "replace(lower(trim(coalesce(outcome, ''))), '-', ' ')"


def term_sql(term: Term) -> str:
    """The SQL condition for one term over an index's ``calls`` columns."""
    op, field, value = term.op, term.field, term.value
    if op == "text" and "\n" not in value:
        # Column by column (what ``any(...)`` over ``_values`` does), and without lower() when
        # the needle has no letter whose case matters (a number): 10M rows in a fraction of a second.
        cased = value != value.upper()
        columns = ["array_to_string(call_ids, chr(10))" if f == "call_ids" else f"coalesce({f}, '')" for f in field]
        return " OR ".join(f"contains({f'lower({c})' if cased else c}, {sql_literal(value)})" for c in columns)
    if op == "text":
        return f"strpos({_sql_text(field)}, {sql_literal(value)}) > 0"
    if op == "regex":
        # RE2 in DuckDB, ``re`` in Python: the same for the patterns a filter box sees; (?m)
        # makes ^ and $ anchor each line (each field), as re.MULTILINE does.
        return f"regexp_matches({_sql_text(field)}, {sql_literal('(?m)' + value.pattern)}, 'i')"
    if op == "choice":
        items = ", ".join(sql_literal(v) for v in sorted(value))
        if field != "outcome":
            return f"lower(trim(coalesce({field}, ''))) IN ({items})"
        bare = f"rtrim({_sql_outcome()}, '0123456789 ')"
        condition = f"({_sql_outcome()} IN ({items}) OR {bare} IN ({items})"
        if "failed" in value:
            success = ", ".join(sql_literal(v) for v in sorted(SUCCESS_OUTCOMES))
            condition += f" OR {bare} NOT IN ({success})"
        return condition + ")"
    if op == "deviations":
        return "coalesce(deviations, 0) > 0" if value else "deviations = 0"
    if op == "has":
        return f"list_contains({field}, {sql_literal(value)})"
    if op == "status":
        return f"{field} IN ({', '.join(str(v) for v in sorted(value))})"
    if op == "since":
        return f"{field} >= {int(value)}"
    if op == "until":
        return f"{field} < {int(value)}"
    raise AssertionError(op)


def terms_sql(terms: tuple[Term, ...]) -> str:
    """The WHERE condition for all terms (TRUE when there is none)."""
    return " AND ".join(f"({term_sql(t)})" for t in terms) or "TRUE"
