"""Queries over an archive index: the filter language (``ladder.call_filter``) as SQL that
DuckDB runs over the index's Parquet file, embedded in the process (no server).

A search runs in two steps, because on 10M rows the cost is reading columns, not testing them:
(1) DuckDB reads only the columns the filter names (text terms read the index's lower-cased
search columns, one per term) and returns the matching row numbers; (2) the columns shown are
read only for the rows asked for (``limit``), from the row groups they lie in. Row ``N`` is
the file's ``N``-th row (``ladder index`` writes them so), so no join is needed to find it.
"""

from __future__ import annotations

import re
from typing import Any, Literal, overload

from ladder.archive.slice import CALLS_FILE, is_index
from ladder.archive.store import duckdb_connection, join, open_parquet
from ladder.call_filter import HAYSTACK_FIELDS, TEXT_FIELDS, FilterError, Term, parse_terms, sql_literal, term_sql
from ladder.errors import UsageError

# What ``ladder search`` returns per call (the frame selections stay in the file).
COLUMNS = ("row", "call_id", "call_ids", "kind", "method", "caller", "caller_number", "callee",
           "callee_number", "start_ns", "answer_ns", "end_ns", "duration_ns", "outcome", "status",
           "messages", "reference", "deviations", "deviation_codes", "mos_fwd", "mos_rev", "loss_fwd",
           "loss_rev", "participants", "legs")

# The index's search column for each text field of the filter language (``schema.search_columns``).
_SEARCH_COLUMN = {HAYSTACK_FIELDS: "text", **{fields: f"{name}_text" for name, fields in TEXT_FIELDS.items()
                                              if name in ("from", "to", "callid")}}


def calls_path(index: str) -> str:
    if not is_index(index):
        raise UsageError(f"{index}: not an index (make one with 'ladder index PATH... -o {index}')")
    return join(index, CALLS_FILE)


def index_term_sql(term: Term, names: frozenset[str]) -> str:
    """``call_filter.term_sql``, with text and regex terms on the lower-cased search column
    when the index has it (an index written before them gets the slower generic SQL)."""
    column = _SEARCH_COLUMN.get(term.field) if term.op in ("text", "regex") else None
    if column is None or column not in names:
        return term_sql(term)
    if term.op == "text" and (column == "text" or "\n" not in term.value):
        # The column is the field's values lower-cased, one a line, so a needle without a
        # line break is in the column exactly when it is in one of the values.
        return f"contains(coalesce({column}, ''), {sql_literal(term.value)})"
    if term.op == "text":
        return term_sql(term)
    regex = f"regexp_matches(coalesce({column}, ''), {sql_literal('(?m)' + term.value.pattern)}, 'i')"
    literal = required_literal(term.value)
    # A substring every match contains, tested first: contains() is ~10x cheaper than RE2, and
    # DuckDB runs the regex only on the rows that pass it.
    return f"contains(coalesce({column}, ''), {sql_literal(literal)}) AND {regex}" if literal else regex


def required_literal(pattern: "re.Pattern[str]") -> str:
    """The longest run of plain ASCII characters in the pattern's top-level sequence (outside
    any group, class, repeat or alternative), lower-cased: every match contains it, in a text
    that is lower-cased (the search columns). Empty when there is none or the parse fails."""
    import re._parser as parser  # type: ignore[import-not-found]  # the parser re compiles with (no stub)
    try:
        items = list(parser.parse(pattern.pattern, pattern.flags))
    except Exception:  # noqa: BLE001 - no prefilter is always correct
        return ""
    best, run = "", ""
    for op, argument in [*items, (None, None)]:
        if str(op) == "LITERAL" and argument < 128:
            run += chr(argument).lower()
            continue
        best, run = max(best, run, key=len), ""
    return best


def where_sql(query: str, names: frozenset[str]) -> str:
    """The WHERE condition for ``query`` (raises ``UsageError`` for a bad filter)."""
    try:
        terms = parse_terms(query)
    except FilterError as exc:
        raise UsageError(str(exc)) from None
    return " AND ".join(f"({index_term_sql(t, names)})" for t in terms) or "TRUE"


def matching_rows(index: str, query: str):
    """Step 1: the numbers of the rows that match ``query``, in order (an Arrow array)."""
    import duckdb

    path = calls_path(index)
    names = frozenset(open_parquet(path).schema_arrow.names)
    sql = f"SELECT row FROM read_parquet({sql_literal(path)}) WHERE {where_sql(query, names)} ORDER BY row"
    connection = duckdb_connection(index)
    try:
        return connection.sql(sql).to_arrow_table().column("row").combine_chunks()
    except duckdb.Error as exc:
        raise UsageError(f"{index}: cannot query the index: {exc}") from None
    finally:
        connection.close()


def read_rows(index: str, rows, columns: tuple[str, ...] = COLUMNS) -> list[dict[str, Any]]:
    """Step 2: ``columns`` of the rows numbered ``rows`` (ascending, a list or Arrow array),
    read from only the row groups that hold them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(rows):
        return []
    parquet = open_parquet(calls_path(index))
    wanted = rows if isinstance(rows, pa.Array) else pa.array(rows, pa.int64())
    found: list[dict[str, Any]] = []
    first = 1
    for group in range(parquet.metadata.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        last = first + size - 1
        inside = pc.filter(wanted, pc.and_(pc.greater_equal(wanted, first), pc.less_equal(wanted, last)))
        if len(inside):
            table = parquet.read_row_group(group, columns=list(dict.fromkeys(("row", *columns))))
            picked = table.take(pc.subtract(inside, first))
            if picked.column("row").to_pylist() != inside.to_pylist():
                raise UsageError(f"{index}: its rows are not numbered in file order (index it again)")
            found.extend({name: row[name] for name in columns} for row in picked.to_pylist())
        first = last + 1
    return found


@overload
def search(index: str, query: str, *, columns: tuple[str, ...] = ..., limit: int | None = ...,
           count: Literal[False] = ...) -> list[dict[str, Any]]: ...


@overload
def search(index: str, query: str, *, columns: tuple[str, ...] = ..., limit: int | None = ...,
           count: Literal[True]) -> int: ...


def search(index: str, query: str, *, columns: tuple[str, ...] = COLUMNS, limit: int | None = None,
           count: bool = False) -> list[dict[str, Any]] | int:
    """The index rows that match ``query`` (in row order, the first ``limit``), or their
    number with ``count``."""
    rows = matching_rows(index, query)
    if count:
        return len(rows)
    return read_rows(index, rows[:limit] if limit is not None else rows, columns)


def find_rows(index: str, selectors: list[str]) -> list[dict[str, Any]]:
    """The rows named by row number or by any of their Call-IDs, each once, in the order named."""
    import duckdb

    chosen: list[dict[str, Any]] = []
    path = calls_path(index)
    names = frozenset(open_parquet(path).schema_arrow.names)
    connection = duckdb_connection(index)
    try:
        for selector in selectors:
            condition = (f"row = {int(selector)}" if selector.isdigit()
                         else f"list_contains(call_ids, {sql_literal(selector)})")
            if not selector.isdigit() and "callid_text" in names:  # a cheap test first, on one column
                condition = f"contains(callid_text, {sql_literal(selector.lower())}) AND {condition}"
            cursor = connection.execute(
                f"SELECT * FROM read_parquet({sql_literal(path)}) WHERE {condition} ORDER BY row LIMIT 1")
            values = cursor.fetchone()
            if values is None:
                raise UsageError(f"no call {selector!r} in the index {index} (see 'ladder search {index}')")
            row = dict(zip([d[0] for d in cursor.description], values))
            if all(row["row"] != r["row"] for r in chosen):
                chosen.append(row)
    finally:
        connection.close()
    return chosen
