"""Where an index lies: a local directory or an fsspec URL (``s3://bucket/idx``,
``file:///srv/idx``, ``memory://idx`` …), read and written the same way by ``ladder index``,
pyarrow and DuckDB. DuckDB reads a URL through the same fsspec filesystem
(``register_filesystem``), so no DuckDB extension is downloaded; fsspec comes with Dask, and
a protocol's own package (s3fs for ``s3://``) is what its users install anyway.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ladder.errors import UsageError


def is_url(path: str) -> bool:
    return "://" in path


def join(index: str, name: str) -> str:
    return f"{index.rstrip('/')}/{name}" if is_url(index) else os.path.join(index, name)


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for a URL; a clear error for an unknown protocol."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"{url}: cannot use this location: {exc}") from None


def exists(path: str) -> bool:
    if not is_url(path):
        return os.path.exists(path)
    fs, inner = filesystem(path)
    return fs.exists(inner)


def is_file(path: str) -> bool:
    if not is_url(path):
        return os.path.isfile(path)
    fs, inner = filesystem(path)
    return fs.isfile(inner)


def open_parquet(path: str):
    """A ``pyarrow.parquet.ParquetFile`` (footer read, row groups on demand)."""
    import pyarrow.parquet as pq

    if not is_url(path):
        return pq.ParquetFile(path)
    fs, inner = filesystem(path)
    return pq.ParquetFile(fs.open(inner, "rb"))


def write_parquet(table, directory: str, name: str, **options: Any) -> None:
    """Write ``name`` in ``directory`` so that a reader never sees half a file: beside and
    renamed on a local disk; on an object store a put is whole or absent."""
    import pyarrow.parquet as pq

    if not is_url(directory):
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".{name}.tmp")
        pq.write_table(table, temporary, **options)
        os.replace(temporary, os.path.join(directory, name))
        return
    fs, inner = filesystem(join(directory, name))
    fs.makedirs(inner.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(inner, "wb") as handle:
        pq.write_table(table, handle, **options)


_DUCKDB_LOCK = threading.Lock()
_LOCAL_DUCKDB: dict[int, Any] = {}  # process id -> the in-memory DuckDB for local indexes


def duckdb_connection(index: str):
    """An in-memory DuckDB that can read ``index`` (its URL's filesystem registered); close it
    after the query. A local index gets a cursor on one database per process: opening a DuckDB
    costs ~25 ms of CPU, a cursor ~0.5 ms, and a search as the user types opens one per key. A URL
    gets a database of its own: a filesystem is registered per database, once, by protocol."""
    import duckdb

    if is_url(index):
        connection = duckdb.connect(":memory:")
        connection.register_filesystem(filesystem(index)[0])
    else:
        with _DUCKDB_LOCK:  # keyed by process: a forked worker never uses its parent's database
            database = _LOCAL_DUCKDB.get(os.getpid())
            if database is None:
                database = _LOCAL_DUCKDB[os.getpid()] = duckdb.connect(":memory:")
        connection = database.cursor()  # a cursor per query (and per thread), as DuckDB wants
    connection.execute("SET enable_progress_bar = false")  # it would draw on the user's terminal
    return connection
