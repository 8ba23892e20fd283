"""``SipIndex``: what memory holds of each SIP message when the messages themselves are not kept.

One compact record per message, in columns (``array``s), with the method names and Call-IDs
interned once in a string table: frame, time, method or status, Call-ID. About 30 bytes a
message instead of the 5-6 KB of a parsed ``SipMessage`` with its headers, URIs and SDP, so a
busy SBC hour (a million messages) counts in tens of MB. ``ladder stats`` reads its figures
from here; the pipeline fills it from the first pass (``decoders.sipscan``) or, when it keeps
the messages, from each parsed ``SipMessage``.

Where the compiled first pass runs (``ladder/_accel.c``, ``Pipeline.accelerator``), C appends whole
batches of records (``extend``) and owns the string table: ``attach_interner`` hands it the ids,
and ``strings`` mirrors C's table in the same first-met order, so ids are the same as Python's.
"""

from __future__ import annotations

from array import array


class SipIndex:
    """Per-message columns; string ids index ``strings`` (id 0 is "none")."""

    __slots__ = ("frame", "ts_ns", "method", "status", "call", "strings", "_ids", "_interner", "compiled")

    def __init__(self) -> None:
        self.frame = array("q")
        self.ts_ns = array("q")
        self.method = array("I")  # request method, or the CSeq method of a response (string id)
        self.status = array("H")  # 0 for a request
        self.call = array("I")  # Call-ID (string id; 0: none or empty)
        self.strings: list[str] = [""]
        self._ids: dict[str, int] = {"": 0}
        self._interner = None  # the accelerator whose string table the ids index, if any
        self.compiled = 0  # records C made (``extend``)

    def __len__(self) -> int:
        return len(self.frame)

    def _id(self, text: str | None) -> int:
        if not text:
            return 0
        if self._interner is not None:
            known = self._interner.intern(text)
            if known >= len(self.strings):
                self.sync_strings()
            return known
        known = self._ids.get(text)
        if known is None:
            known = self._ids[text] = len(self.strings)
            self.strings.append(text)
        return known

    def attach_interner(self, interner) -> None:
        """Let ``interner`` (an ``_accel.Accelerator`` with the SIP first pass on) give the
        string ids from now on; only before the first record."""
        if len(self.frame):
            raise ValueError("attach_interner() before the first record")
        self._interner = interner
        self._ids = {}  # C's table answers now: no second copy of every Call-ID

    def release_interner(self) -> None:
        """Let the accelerator go once the capture is read (its string table, a copy of
        ``strings``, and its endpoints weigh tens of MB on a busy capture); no record is added
        after that."""
        if self._interner is not None:
            self.sync_strings()
            self._interner = None
            self._ids = None

    def sync_strings(self) -> None:
        """Append the strings C interned since the last call to ``strings``."""
        if self._interner is not None:
            self.strings.extend(self._interner.strings_from(len(self.strings)))

    def extend(self, frame: bytes, ts_ns: bytes, method: bytes, status: bytes, call: bytes) -> None:
        """A batch of records from C: each column's native bytes (``Accelerator.take_sip``)."""
        self.frame.frombytes(frame)
        self.ts_ns.frombytes(ts_ns)
        self.method.frombytes(method)
        self.status.frombytes(status)
        self.call.frombytes(call)
        self.compiled += len(frame) // 8
        self.sync_strings()

    def add(self, frame: int, ts_ns: int, method: str | None, status: int | None, call_id: str | None) -> None:
        self.frame.append(frame)
        self.ts_ns.append(ts_ns)
        self.method.append(self._id(method))
        self.status.append(status or 0)
        self.call.append(self._id(call_id))

    def add_message(self, message) -> None:
        """One parsed ``SipMessage``'s record."""
        frame = message.frames[0].number if message.frames else 0
        self.add(frame, message.ts_ns, message.method, message.status, message.call_id)

    def call_id_count(self) -> int:
        """Distinct non-empty Call-IDs."""
        return len(set(self.call) - {0})

    def requests(self) -> dict[str, int]:
        """Method -> requests, most frequent first (then by name)."""
        counts: dict[int, int] = {}
        for method, status in zip(self.method, self.status):
            if not status:
                counts[method] = counts.get(method, 0) + 1
        named = {self.strings[k] or "None": v for k, v in counts.items()}
        return dict(sorted(named.items(), key=lambda item: (-item[1], item[0])))

    def responses(self) -> dict[str, int]:
        """Status code (as text) -> responses, by code."""
        counts: dict[str, int] = {}
        for status in self.status:
            if status:
                code = str(status)
                counts[code] = counts.get(code, 0) + 1
        return dict(sorted(counts.items()))
