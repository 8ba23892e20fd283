"""The columns of an archive index (``ladder index``): ``calls.parquet`` and ``files.parquet``.

Times are integer nanoseconds since the epoch (UTC), as everywhere in pcapladder; ``start`` is
the same instant as a Parquet timestamp for tools that read the files directly. MOS and loss
are the worst stream of each direction: ``fwd`` caller → callee, ``rev`` callee → caller.
"""

from __future__ import annotations

import pyarrow as pa

PART = pa.struct([
    ("path", pa.string()),          # the capture file
    ("first_frame", pa.int64()),    # the first and last of the call's frames in it (1-based)
    ("last_frame", pa.int64()),
    ("selection", pa.string()),     # JSON: exactly which frames (ladder.archive.slice)
])

CALL_SCHEMA = pa.schema([
    ("row", pa.int64()),            # 1-based, in start order: ``ladder show INDEX ROW``
    ("call_id", pa.string()),
    ("call_ids", pa.list_(pa.string())),
    ("legs", pa.list_(pa.string())),
    ("kind", pa.string()),
    ("method", pa.string()),
    ("caller", pa.string()), ("caller_user", pa.string()), ("caller_number", pa.string()),
    ("caller_host", pa.string()),
    ("callee", pa.string()), ("callee_user", pa.string()), ("callee_number", pa.string()),
    ("callee_host", pa.string()),
    ("start_ns", pa.int64()), ("answer_ns", pa.int64()), ("end_ns", pa.int64()), ("duration_ns", pa.int64()),
    ("outcome", pa.string()),
    ("status", pa.int32()),         # the deciding final response's code
    ("messages", pa.int32()),
    ("reference", pa.string()),     # best-matching RFC 3665 flow
    ("deviations", pa.int32()),
    ("deviation_codes", pa.list_(pa.string())),
    ("mos_fwd", pa.float64()), ("mos_rev", pa.float64()),
    ("loss_fwd", pa.float64()), ("loss_rev", pa.float64()),  # percent
    ("participants", pa.list_(pa.string())),
    ("parts", pa.list_(PART)),      # in time order: the files where the call's frames lie
    ("signature", pa.string()),     # stitched calls: what they were made from (incremental runs)
    # What ``ladder search`` scans instead of the columns above (``search_columns``): the
    # texts the filter language searches, lower-cased once when the index is written, so a
    # substring over 10M rows is one ``contains()`` per row on one column, no lower(), no join.
    ("text", pa.string()),          # free text: method, From, To, Call-IDs, outcome, kind, reference
    ("from_text", pa.string()),     # from: the caller and its number
    ("to_text", pa.string()),       # to: the callee and its number
    ("callid_text", pa.string()),   # callid: every Call-ID
])

# Row groups of 100k calls (in start order): ``since:``/``until:`` skip the groups outside
# the interval by their statistics, and reading the display columns of the first hits touches
# only the groups they lie in.
ROW_GROUP_SIZE = 100_000

FILE_SCHEMA = pa.schema([
    ("path", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()), ("hash", pa.string()),
    ("status", pa.string()), ("error", pa.string()), ("warnings", pa.list_(pa.string())),
    ("frames", pa.int64()), ("first_ts_ns", pa.int64()), ("last_ts_ns", pa.int64()),
    ("scan", pa.string()),          # JSON: the file's call fragments and RTP streams
])


def search_columns(row: dict) -> dict[str, str]:
    """The search columns of one call row: the very texts ``ladder.call_filter`` searches in
    Python, so SQL over them gives the plain scan's answer."""
    from types import SimpleNamespace

    from ladder.call_filter import field_text, haystack

    view = SimpleNamespace(**row)
    return {"text": haystack(view), "from_text": field_text(view, "from"), "to_text": field_text(view, "to"),
            "callid_text": field_text(view, "callid")}
