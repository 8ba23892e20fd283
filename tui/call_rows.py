"""One row of the call list: what sngrep users expect to see, plus our reference and deviations.

Rows are plain values computed once per call (sorting and filtering thousands of calls must not
touch SIP messages again). Everything textual is already cleaned of control characters.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from tui.safe_text import clean

if TYPE_CHECKING:
    from ladder.calls.grouping import Call


@dataclass(frozen=True, slots=True)
class CallRow:
    index: int
    key: str  # Call.id: stable across reloads and sorts
    start_ns: int
    method: str
    caller: str
    callee: str
    call_ids: tuple[str, ...]
    messages: int
    outcome: str
    kind: str
    duration_ns: int
    reference: str  # best-matching reference flow id, "" when unknown or none
    deviations: int | None  # None: not known (not checked yet, or no checker installed)
    src: str = ""  # sngrep's Source / Destination: ip:port of the first message
    dst: str = ""
    state: str = ""  # sngrep's call state (``call_state``); "" for what is not an INVITE call
    deviation_codes: tuple[str, ...] = ()  # known for rows of an archive index (filter has:CODE)


# sngrep 1.6's call states (CALL SETUP, IN CALL, CANCELLED, REJECTED, BUSY, DIVERTED, COMPLETED),
# by its rules: a CANCEL during setup is CANCELLED; a final 480, 486 or 600 BUSY; any other
# 4xx-6xx REJECTED; a 3xx DIVERTED; an answered call IN CALL until a BYE, then COMPLETED. The
# deciding final response is our outcome's (a 401/407 challenge answered by a new INVITE does not
# decide; sngrep shows REJECTED until that INVITE arrives).
BUSY_STATUSES = frozenset({480, 486, 600})


def call_state(call: "Call") -> str:
    if str(getattr(call, "kind", "")) != "call":
        return ""
    code = getattr(call.outcome, "code", "")
    if code in ("completed", "in-call"):
        return "COMPLETED" if code == "completed" else "IN CALL"
    if any(m.is_request and m.method == "CANCEL" for m in call.messages):
        return "CANCELLED"
    status = getattr(call.outcome, "status", None) or 0
    if status in BUSY_STATUSES:
        return "BUSY"
    if status >= 400:
        return "REJECTED"
    if status >= 300:
        return "DIVERTED"
    return "CALL SETUP"


# Sort keys by column name; the call list sorts by one of these (then by index, so ties are stable).
SORT_KEYS: dict[str, Any] = {
    "index": lambda r: r.index,
    "start": lambda r: r.start_ns,
    "method": lambda r: r.method,
    "from": lambda r: r.caller.lower(),
    "to": lambda r: r.callee.lower(),
    "messages": lambda r: r.messages,
    "outcome": lambda r: r.outcome,
    "duration": lambda r: r.duration_ns,
    "reference": lambda r: r.reference,
    "src": lambda r: r.src,
    "dst": lambda r: r.dst,
    "state": lambda r: r.state,
    "deviations": lambda r: -1 if r.deviations is None else r.deviations,
}


def sort_rows(rows: list[CallRow], column: str, *, reverse: bool = False) -> list[CallRow]:
    key = SORT_KEYS[column]
    return sorted(rows, key=lambda r: (key(r), r.index), reverse=reverse)


def _party(value: object) -> str:
    """A caller/callee as one clean line, whatever the call model stores (str, URI, name-addr)."""
    return clean("" if value is None else str(value))


def call_row(call: "Call", *, reference: str = "", deviations: int | None = None) -> CallRow:
    """The row for one ``ladder.calls.grouping.Call``."""
    start = int(call.start_ns or 0)
    end = int(call.end_ns or start)
    call_ids = tuple(clean(c) for c in (getattr(call, "call_ids", None) or ()))
    first = call.messages[0] if call.messages else None
    return CallRow(
        index=int(call.index),
        key=str(call.id),
        start_ns=start,
        method=clean(call.first_method or ""),
        caller=_party(call.caller),
        callee=_party(call.callee),
        call_ids=call_ids,
        messages=len(call.messages),
        outcome=clean(str(call.outcome or "")),
        kind=clean(str(getattr(call, "kind", "") or "")),
        duration_ns=max(0, end - start),
        reference=clean(reference or ""),
        deviations=deviations,
        src=first.src.address() if first is not None and first.src is not None else "",
        dst=first.dst.address() if first is not None and first.dst is not None else "",
        state=call_state(call),
    )


def format_start(ts_ns: int, *, date: bool = True) -> str:
    """Wall-clock start in UTC (what the capture says, independent of the viewer's zone);
    without the date when the list names the one date all calls share."""
    moment = _dt.datetime.fromtimestamp(ts_ns / 1e9, tz=_dt.timezone.utc)
    clock = moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return f"{moment:%Y-%m-%d} {clock}" if date else clock


def start_date(ts_ns: int) -> str:
    return f"{_dt.datetime.fromtimestamp(ts_ns / 1e9, tz=_dt.timezone.utc):%Y-%m-%d}"


def format_duration(ns: int) -> str:
    """``0:03.250`` (m:ss.mmm), or ``1:02:03`` past an hour."""
    ms = ns // 1_000_000
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}.{millis:03d}"


def format_deviations(count: int | None, *, pending: bool) -> str:
    """The count, "…" while the checker is still running, "-" when nothing checked the call."""
    if count is None:
        return "…" if pending else "-"
    return str(count)
