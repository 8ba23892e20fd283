"""Values waiting in a temporary file, ``marshal``led a batch at a time: what ``ladder calls``
keeps of a busy capture's rows while the calls are made (``bounded._RowSpill``) and while the
table's column widths are measured (``cli.calls.write_rows``), so neither holds every row.

Each batch is written length first: ``marshal.load`` of a file object reads it in many small
calls, one ``read`` of the whole batch does not."""

from __future__ import annotations

import marshal
from typing import IO, Any


def write_batch(spill: IO[bytes], batch: list[Any]) -> None:
    data = marshal.dumps(batch)
    spill.write(len(data).to_bytes(8, "little") + data)


def read_batch(spill: IO[bytes]) -> list[Any] | None:
    """The next batch ``write_batch`` wrote, or None at the end of the file."""
    size = spill.read(8)
    if len(size) < 8:
        return None
    return marshal.loads(spill.read(int.from_bytes(size, "little")))
