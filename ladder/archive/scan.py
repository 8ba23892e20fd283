"""One capture file of an archive read into plain data: its calls as index rows, the frames
each call's packets occupy in the file, and the file's RTP streams.

``scan_file(path)`` is the unit of work of ``ladder index`` (a local process or a Dask worker
runs it); its result is JSON-able, so it travels between processes and is kept in the index
for incremental runs. ``call_record`` makes one index row from a call; the merge step calls it
again on a stitched call's frames read back from several files.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, TYPE_CHECKING

from ladder.errors import CaptureError

if TYPE_CHECKING:
    from ladder.capture.loader import Capture
    from ladder.media.binding import MediaBinding
    from ladder.media.streams import RtpStream
    from ladder.calls.grouping import Call

HASH_CHUNK = 1 << 20
_VISUAL_SEPARATORS = re.compile(r"[-.() ]")  # RFC 3966 §5.1.1 visual separators
_NUMBER = re.compile(r"\+?\d{3,}")
_REFERENCES: list | None = None  # loaded once per process: every file is checked against them


def file_hash(path: str) -> str:
    """BLAKE2b of the file's bytes: the content part of a file's identity in the index."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _references() -> list:
    global _REFERENCES
    if _REFERENCES is None:
        from ladder.check.references import load_references

        _REFERENCES = load_references()
    return _REFERENCES


def party_parts(party: str) -> tuple[str, str, str]:
    """(user, number, host) of a ``user@host`` party (``Call.caller``); the number is the user
    without visual separators when it is a telephone number, else empty."""
    user, at, host = party.rpartition("@")
    if not at:
        user, host = party, ""
    plain = _VISUAL_SEPARATORS.sub("", user.split(";", 1)[0])
    return user, plain if _NUMBER.fullmatch(plain) else "", host


def _answer_ns(call: "Call") -> int | None:
    """When the first 2xx to an INVITE of the call was seen (None: never answered)."""
    for message in call.messages:
        status = message.status
        if status is not None and 200 <= status < 300 and message.method == "INVITE":
            return message.ts_ns
    return None


def _media_figures(call: "Call", bindings: list | None) -> dict[str, float | None]:
    """Worst MOS and worst loss (%) per direction: ``fwd`` caller → callee, ``rev`` back."""
    from ladder.media.mos import stream_mos

    figures: dict[str, float | None] = {"mos_fwd": None, "mos_rev": None, "loss_fwd": None, "loss_rev": None}
    for binding in bindings or ():
        if binding.call_id != call.id:
            continue
        stream = binding.stream
        side = "fwd" if call.caller_ip is None or stream.src.ip == call.caller_ip else "rev"
        mos = stream_mos(stream)
        if mos is not None:
            old = figures[f"mos_{side}"]
            figures[f"mos_{side}"] = round(mos.mos, 2) if old is None else min(old, round(mos.mos, 2))
        loss = round(float(stream.lost_pct), 3)
        old = figures[f"loss_{side}"]
        figures[f"loss_{side}"] = loss if old is None else max(old, loss)
    return figures


class _StreamsNear:
    """The capture as one call's check sees it: only the streams on ports its SDP announced.

    ``ladder.media.binding.bind_media`` considers no other stream for a call, so the results are the
    same, but a capture of thousands of calls is not walked once per call (and per check
    step). One other stream is kept when none is near: "this capture has RTP" stays true."""

    def __init__(self, capture: "Capture", streams: list["RtpStream"]):
        self._capture = capture
        self.streams = streams

    def __getattr__(self, name: str) -> Any:
        return getattr(self._capture, name)


def _views(capture: "Capture"):
    """``call -> _StreamsNear`` for the calls of ``capture``."""
    from ladder.media.binding import sdp_announcements

    order = {id(s): i for i, s in enumerate(capture.streams)}
    by_port: dict[int, list] = {}
    for stream in capture.streams:
        by_port.setdefault(stream.dst.port, []).append(stream)
        if stream.src.port != stream.dst.port:
            by_port.setdefault(stream.src.port, []).append(stream)

    def near(call: "Call") -> _StreamsNear:
        ports = {a.port for a in sdp_announcements(call)}
        chosen = {id(s): s for port in ports for s in by_port.get(port, ())}
        streams = sorted(chosen.values(), key=lambda s: order[id(s)])
        if not streams:
            streams = capture.streams[:1]  # on none of the call's ports: it binds to nothing
        return _StreamsNear(capture, streams)

    return near


def call_record(call: "Call", capture: Any, bindings: list | None, end_ns: int | None) -> dict[str, Any]:
    """The index row of one call (without its file parts), with the deviations that
    ``ladder check`` reports for it; ``end_ns`` is where the archive's capture of it ends.
    ``capture`` may be a ``_StreamsNear`` view."""
    from ladder.check.call_check import check_call
    from ladder.check.rules import RuleSettings

    # what ``ladder check`` reports, read from the ladder's placement undrawn (``check_call`` without
    # a ladder: the same verdict, ``tests/unit/check/test_check_view.py``)
    result = check_call(call, capture, _references(), settings=RuleSettings(end_ns=end_ns))
    codes = sorted({d.code for d in result.deviations})
    caller = party_parts(call.caller)
    callee = party_parts(call.callee)
    participants = sorted({e.ip for m in call.messages for e in (m.src, m.dst) if e is not None})
    legs = [f"{leg.call_id} {leg.src.address() if leg.src else '?'} -> {leg.dst.address() if leg.dst else '?'}"
            for leg in call.legs]
    return {
        "call_id": call.id,
        "call_ids": list(call.call_ids),
        "legs": legs,
        "kind": call.kind,
        "method": call.first_method,
        "caller": call.caller,
        "caller_user": caller[0],
        "caller_number": caller[1],
        "caller_host": caller[2],
        "callee": call.callee,
        "callee_user": callee[0],
        "callee_number": callee[1],
        "callee_host": callee[2],
        "start_ns": call.start_ns,
        "answer_ns": _answer_ns(call),
        "end_ns": call.end_ns,
        "duration_ns": call.span_ns,  # start to end (talk time: end_ns - answer_ns)
        "outcome": str(call.outcome),
        "status": call.outcome.status,
        "messages": len(call.messages),
        "reference": result.reference or "",
        "deviations": len(result.deviations),
        "deviation_codes": codes,
        **_media_figures(call, bindings),
        "participants": participants,
    }


def _selection(calls: list, capture: Any, all_calls: list, bindings: list | None) -> dict[str, Any]:
    """Where a call's packets lie in the file, as ``ladder export --pcap`` selects them."""
    from ladder.export.pcap_slice import select_frames

    chosen = select_frames(calls, capture, all_calls=all_calls, bindings=bindings)
    return {
        "sip": sorted(chosen.sip),
        "rtp": [[*four, first, last, ssrc] for four, items in sorted(chosen.rtp.items())
                for first, last, ssrc in items],
        "rtcp": sorted(list(four) for four in chosen.rtcp),
        "mux": sorted(list(four) for four in chosen.mux),
        "start_ns": chosen.start_ns,
        "end_ns": chosen.end_ns,
        "last_frame": chosen.last_frame,
    }


def stream_list(streams: list) -> list[list]:
    """The file's RTP streams: [src, sport, dst, dport, ssrc, first_frame, last_frame, first_ns, last_ns]."""
    return [[s.src.ip, s.src.port, s.dst.ip, s.dst.port, s.ssrc, s.first_frame, s.last_frame, s.first_ns, s.last_ns]
            for s in streams]


def media_facts(call: "Call") -> dict[str, Any]:
    """What binding RTP to the call needs (``ladder.media.binding.bind_media``): its SDP announcements
    ``[address, port, party_ip, ts_ns]`` and its first BYE."""
    from ladder.media.binding import sdp_announcements

    byes = [m.ts_ns for m in call.messages if m.is_request and m.method == "BYE"]
    return {"announced": [[a.address, a.port, a.party_ip, a.ts_ns] for a in sdp_announcements(call)],
            "bye_ns": min(byes) if byes else None}


def link_facts(call: "Call") -> dict[str, Any]:
    """What joins the call to fragments with other Call-IDs in other files, by the rules of
    ``ladder.calls.legs``: correlation header values and Session-IDs (``header_links``), and the
    caller's first hops (``retry_links``: a failed attempt retried with the same From tag)."""
    from ladder.calls.legs import CORRELATION_HEADERS, _session_ids

    keys: set[str] = set()
    for message in call.messages:
        for header in CORRELATION_HEADERS:
            value = message.header(header)
            if value and value.strip():
                keys.add(f"{header.lower()}\n{value.strip()}")
        keys.update(f"session-id\n{session}" for session in _session_ids(message))
    retries = [[leg.call_id, leg.src.ip, leg.request.from_tag, leg.request.from_uri, leg.request.to_uri, leg.ts_ns]
               for leg in call.legs
               if leg.method == "INVITE" and leg.src is not None and call.kind == "call"
               and len(leg.request.vias) == 1 and leg.request.from_tag]
    answered = any(not m.is_request and m.method == "INVITE" and m.status is not None and 200 <= m.status < 300
                   for m in call.messages)
    return {"keys": sorted(keys), "retries": retries, "answered": answered}


# A stream that lasts until this close to the end of its file may go on in the next file.
STREAM_END_MARGIN_NS = 1_000_000_000


def whole_in_file(call: "Call", capture: "Capture", bindings: "list[MediaBinding] | None") -> bool:
    """Whether a call of one file of a ring is surely all there: it starts with its initial
    request, it has ended (a final response; a BYE after a 2xx) and none of its streams runs
    to the end of the file. Any other call may continue in a neighbouring file: its row is
    made by the merge step (from all its frames), so the scan does not check it."""
    first = call.messages[0]
    if not first.is_request or first.to_tag:
        return False
    if call.kind != "call":
        return not call.messages[-1].is_request and (call.messages[-1].status or 0) >= 200
    if call.outcome.code in ("setup", "ringing", "in-call"):  # not over yet: no final answer, or no BYE
        return False
    last_ts = capture.last_ts_ns or 0
    return all(b.stream.last_ns < last_ts - STREAM_END_MARGIN_NS for b in bindings or () if b.call_id == call.id)


def analyse_capture(capture: Any, end_ns: int | None, *, defer: bool = False) -> list[dict[str, Any]]:
    """``{"row", "selection", "media", "links"}`` for every call of a loaded capture. With
    ``defer`` (one file of a ring), a call that may go on in another file gets only its
    Call-IDs and ``"deferred": True`` as its row."""
    from ladder.calls.grouping import build_calls

    calls = build_calls(capture)
    bindings = None
    if capture.streams:
        from ladder.media.binding import bind_media

        bindings = bind_media(calls, capture.streams)
    near = _views(capture)
    found = []
    for call in calls:
        if defer and not whole_in_file(call, capture, bindings):
            row = {"call_id": call.id, "call_ids": list(call.call_ids), "deferred": True}
        else:
            row = call_record(call, near(call), bindings, end_ns)
        found.append({"row": row, "selection": _selection([call], capture, calls, bindings),
                      "media": media_facts(call), "links": link_facts(call)})
    return found


def scan_file(path: str) -> dict[str, Any]:
    """Everything the index keeps about one file. A file that cannot be read at all gives
    ``status: "error"`` and the reason; one read in part keeps its calls and its warnings."""
    from ladder.capture.loader import load_capture

    stat = os.stat(path)
    result: dict[str, Any] = {
        "path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "hash": file_hash(path),
        "status": "ok", "error": "", "warnings": [], "frames": 0, "first_ts_ns": None, "last_ts_ns": None,
        "calls": [], "streams": [],
    }
    try:
        capture = load_capture(path, engine="dpkt")
    except CaptureError as exc:
        result.update(status="error", error=str(exc))
        return result
    result.update(warnings=list(capture.errors), frames=capture.frames,
                  first_ts_ns=capture.first_ts_ns, last_ts_ns=capture.last_ts_ns,
                  streams=stream_list(capture.streams))
    result["calls"] = analyse_capture(capture, capture.last_ts_ns, defer=True)
    return result
