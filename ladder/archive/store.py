"""Where an index lies: a local directory or an fsspec URL (``s3://bucket/idx``,
``file:///srv/idx``, ``memory://idx`` …), read and written the same way by ``ladder index``,
pyarrow and DuckDB. DuckDB reads a URL through the same fsspec filesystem
(``register_filesystem``), so no DuckDB extension is downloaded; fsspec comes with Dask, and
a protocol's own package (s3fs for ``s3://``) is what its users install anyway.
"""

from __future__ import annotations

import os
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


def duckdb_connection(index: str):
    """An in-memory DuckDB that can read ``index`` (its URL's filesystem registered)."""
    import duckdb

    connection = duckdb.connect(":memory:")
    connection.execute("SET enable_progress_bar = false")  # it would draw on the user's terminal
    if is_url(index):
        connection.register_filesystem(filesystem(index)[0])
    return connection
