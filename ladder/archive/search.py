"""Queries over an archive index: the filter language (``ladder.call_filter``) as SQL that
DuckDB runs over the index's Parquet file, embedded in the process (no server)."""

from __future__ import annotations

import os
from typing import Any

from ladder.archive.slice import CALLS_FILE, is_index
from ladder.call_filter import FilterError, parse_terms, sql_literal, terms_sql
from ladder.errors import UsageError

# What ``ladder search`` returns per call (the frame selections stay in the file).
COLUMNS = ("row", "call_id", "call_ids", "kind", "method", "caller", "caller_number", "callee",
           "callee_number", "start_ns", "answer_ns", "end_ns", "duration_ns", "outcome", "status",
           "messages", "reference", "deviations", "deviation_codes", "mos_fwd", "mos_rev", "loss_fwd",
           "loss_rev", "participants", "legs")


def calls_path(index: str) -> str:
    if not is_index(index):
        raise UsageError(f"{index}: not an index (make one with 'ladder index PATH... -o {index}')")
    return os.path.join(index, CALLS_FILE)


def search_sql(index: str, query: str, *, columns: tuple[str, ...] = COLUMNS, limit: int | None = None) -> str:
    """The SQL for ``query`` over ``index`` (raises ``UsageError`` for a bad filter)."""
    try:
        where = terms_sql(parse_terms(query))
    except FilterError as exc:
        raise UsageError(str(exc)) from None
    sql = (f"SELECT {', '.join(columns)} FROM read_parquet({sql_literal(calls_path(index))}) "
           f"WHERE {where} ORDER BY row")
    return sql + (f" LIMIT {int(limit)}" if limit is not None else "")


def search(index: str, query: str, *, columns: tuple[str, ...] = COLUMNS, limit: int | None = None,
           count: bool = False) -> list[dict[str, Any]] | int:
    """The index rows that match ``query`` (in row order), or their number with ``count``."""
    import duckdb

    sql = search_sql(index, query, columns=columns, limit=limit)
    connection = duckdb.connect(":memory:")
    connection.execute("SET enable_progress_bar = false")  # it would draw on the user's terminal
    try:
        if count:
            return connection.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
        cursor = connection.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values)) for values in cursor.fetchall()]
    except duckdb.Error as exc:
        raise UsageError(f"{index}: cannot query the index: {exc}") from None
    finally:
        connection.close()


def find_rows(index: str, selectors: list[str]) -> list[dict[str, Any]]:
    """The rows named by row number or by any of their Call-IDs, each once, in the order named."""
    import duckdb

    chosen: list[dict[str, Any]] = []
    connection = duckdb.connect(":memory:")
    try:
        for selector in selectors:
            condition = (f"row = {int(selector)}" if selector.isdigit()
                         else f"list_contains(call_ids, {sql_literal(selector)})")
            cursor = connection.execute(
                f"SELECT * FROM read_parquet({sql_literal(calls_path(index))}) WHERE {condition} ORDER BY row LIMIT 1")
            values = cursor.fetchone()
            if values is None:
                raise UsageError(f"no call {selector!r} in the index {index} (see 'ladder search {index}')")
            row = dict(zip([d[0] for d in cursor.description], values))
            if all(row["row"] != r["row"] for r in chosen):
                chosen.append(row)
    finally:
        connection.close()
    return chosen
