"""``build_ladder``: one call (or several) as a ``Ladder`` — columns, F-numbered arrows, media
bars and notes — computed once, so every renderer draws the same thing.

F-numbers follow RFC 3665: every SIP message of the ladder in capture order is F1..Fn,
retransmissions included (§3.4 and §3.10 number them too) and marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from decoders.quick_init import quick_init
from ladder.draw.aliases import AliasMap
from ladder.draw.diagram import MEDIA, REQUEST, RESPONSE, Arrow, Ladder, media_label
from ladder.calls.duplicates import copies_note
from ladder.draw.participants import Columns, build_columns
from ladder.textsafe import safe_text

if TYPE_CHECKING:
    from ladder.media.binding import MediaBar
    from ladder.media.streams import RtpStream, StreamKey
    from ladder.capture.loader import Capture
    from decoders.sip import SipMessage
    from ladder.calls.grouping import Call
    from ladder.media.binding import MediaBinding, MediaIndex


def message_label(message: "SipMessage") -> str:
    """``INVITE`` for a request, ``180 Ringing`` (code and reason phrase) for a response."""
    if message.is_request:
        return safe_text(message.method or "?")
    return safe_text(f"{message.status} {message.reason or ''}".rstrip())


def _order_key(message: "SipMessage") -> tuple[int, int]:
    return (message.ts_ns, message.frames[0].number if message.frames else 0)


def media_bars_for(call: "Call", capture: "Capture",
                   bindings: "MediaIndex | list[MediaBinding] | None" = None) -> tuple[list[MediaBar], list[str]]:
    """The media bars of a call from ``ladder.media.binding`` (SDP ↔ RTP streams) and the call-level
    media problems as notes (``no-media`` …); nothing when the capture holds no RTP at all
    (a SIP-only capture says nothing about media). ``bindings``: the capture's
    ``MediaIndex`` (``ladder.analysis``), made once for all calls so a stream on reused ports
    is claimed by one call only; a plain binding list is filtered; None binds this call alone."""
    streams = getattr(capture, "streams", None) or []
    if not streams:
        return [], []
    from ladder.media import binding as media  # imported here: the SIP-only paths never need it

    if bindings is None:
        bindings = media.MediaIndex.build([call], streams)
    if isinstance(bindings, media.MediaIndex):
        mine = list(bindings.of(call.id))
        own = bindings.call_problems.get(call.id, ())
    else:
        mine = [b for b in bindings if b.call_id == call.id]
        own = tuple(media.own_problems(call, mine))
    bars = list(media.media_bars(call, mine))
    notes = [f"{p.code}: {safe_text(p.detail)}" for p in own if p.stream_key is None]
    return bars, notes


def _bar_label(bar: "MediaBar", streams: "dict[StreamKey, RtpStream]", *, rightward: bool) -> str:
    """``RTP PCMA → 548 ← 891 pkts``: the bar's first stream runs src → dst, drawn left to right
    when ``rightward``; its reverse stream (a both-way bar) runs the other way."""
    found = [stream for stream in (streams.get(key) for key in bar.stream_keys) if stream is not None]
    if not found or len(found) != len(bar.stream_keys):
        return bar.label  # streams unknown here: the binder's own words
    forward: int | None = found[0].packets
    backward: int | None = found[1].packets if len(found) > 1 else None
    if not rightward:
        forward, backward = backward, forward
    return media_label(found[0].codec, forward, backward)


def _streams_by_key(capture: "Capture", bindings: "MediaIndex | list[MediaBinding] | None") -> dict[StreamKey, RtpStream]:
    """The capture's streams by key: the capture's ``MediaIndex`` has them, made once (made here
    for every call, a whole-capture command was quadratic in calls)."""
    streams = getattr(capture, "streams", None) or []
    known = getattr(bindings, "stream_by_key", None)
    if known is not None and getattr(bindings, "streams", None) is streams:
        return known
    return {stream.key: stream for stream in streams}


def _placed(calls: "Call | list[Call]", capture: "Capture", aliases: AliasMap | None, media: bool,
            bindings: "MediaIndex | list[MediaBinding] | None"):
    """The calls, their SIP messages in F-number order, media bars and notes, and the columns:
    what ``build_ladder`` draws from and ``sip_placement`` gives without drawing."""
    group = [calls] if not isinstance(calls, list) else list(calls)
    if not group:
        raise ValueError("build_ladder needs at least one call")
    messages = sorted((m for call in group for m in call.messages), key=_order_key)
    bars: list[MediaBar] = []
    media_notes: list[str] = []
    if media:
        for call in group:
            call_bars, call_notes = media_bars_for(call, capture, bindings)
            bars.extend(call_bars)
            media_notes.extend(call_notes)
    first = group[0]
    columns = build_columns(
        messages, caller_ip=first.caller_ip, kind=first.kind, aliases=aliases,
        media_endpoints=[e for bar in bars for e in (bar.src, bar.dst)],
    )
    return group, messages, bars, media_notes, columns


@quick_init
@dataclass(frozen=True, slots=True)
class SipPlacement:
    """Where ``build_ladder`` puts each SIP message, without the drawing: ``messages[i]`` is
    F``i + 1``, between ``columns.column(src)`` and ``columns.column(dst)``;
    ``retransmissions`` the ids of those it marks as one. ``ladder check --json`` reads no
    more of a ladder (``check.call_check``): no label, media bar, note nor title is made."""

    messages: list["SipMessage"]
    columns: Columns
    retransmissions: frozenset[int]


def sip_placement(calls: "Call | list[Call]", capture: "Capture", *, media: bool = True,
                  bindings: "MediaIndex | list[MediaBinding] | None" = None) -> SipPlacement:
    """``build_ladder(calls, capture, media=media, bindings=bindings)``'s SIP rows, columns and
    retransmission marks, made by the same steps (``_placed``: the media bars are placed because
    their endpoints may add columns); ``tests/unit/check/test_check_view.py`` holds the two equal."""
    group, messages, _bars, _notes, columns = _placed(calls, capture, None, media, bindings)
    return SipPlacement(messages, columns, _retransmission_ids(group))


def _retransmission_ids(group: "list[Call]") -> frozenset[int]:
    """``build_ladder``'s ``retransmissions`` (the ids of the calls' messages ``is_retransmission``
    says yes to) from the transactions' own sets, without a question per message: a call's
    ``is_retransmission(m)`` is ``id(m) in T.retransmissions`` for the transaction ``T`` holding
    ``m``, and a transaction's set holds ids of its own messages only, each message placed in one
    transaction (``calls.transactions._Builder.add``, whose messages it keeps alive, so no id in
    a set is another live object's); ``rules.facts.CallFacts`` reads them so too. Asked only of
    the calls' messages, the union answers as the questions did (``test_check_view.py``)."""
    return frozenset().union(*[t.retransmissions for call in group for t in call.transactions.transactions
                               if t.retransmissions])


def build_ladder(calls: "Call | list[Call]", capture: "Capture", *, aliases: AliasMap | None = None,
                 media: bool = True, bindings: "MediaIndex | list[MediaBinding] | None" = None) -> Ladder:
    """The ladder of one call, or of several drawn together (numbered as one sequence).
    ``bindings``: the capture's ``MediaIndex``, computed once for every call (optional)."""
    group, messages, bars, media_notes, columns = _placed(calls, capture, aliases, media, bindings)
    first = group[0]
    arrows: list[Arrow] = []
    retransmissions = {id(m) for call in group for m in call.messages if call.is_retransmission(m)}
    copies = {key: tuple(f.number for c in value for f in c.frames[:1])
              for call in group for key, value in call.copies.items()}
    for number, message in enumerate(messages, 1):
        arrows.append(Arrow(
            f=number,
            kind=REQUEST if message.is_request else RESPONSE,
            label=message_label(message),
            src=columns.column(message.src),
            dst=columns.column(message.dst),
            ts_ns=message.ts_ns,
            frames=tuple(frame.number for frame in message.frames),
            method=message.method,
            status=message.status,
            retransmission=id(message) in retransmissions,
            message=message,
            call_id=message.call_id or "",
            copies=copies.get(id(message), ()),
            sdp=message.sdp is not None,
        ))
    notes: list[str] = list(media_notes)
    if copies:
        notes.append(copies_note(len(copies), sorted(n for frames in copies.values() for n in frames)))
    streams = _streams_by_key(capture, bindings) if bars else {}
    for bar in bars:
        problems = tuple(safe_text(p) for p in getattr(bar, "problems", ()) or ())
        src, dst = columns.column(bar.src), columns.column(bar.dst)
        label = safe_text(_bar_label(bar, streams, rightward=dst >= src))
        arrows.append(Arrow(
            f=None, kind=MEDIA, label=label, src=src, dst=dst, ts_ns=bar.ts_ns,
            both_ways=bool(bar.both_ways), stream_keys=tuple(bar.stream_keys), marks=problems,
        ))
        for problem in problems:
            notes.append(f"{label}: {problem}")
    # Media bars sit where their first packet was seen; SIP keeps its capture order.
    arrows.sort(key=lambda a: (a.ts_ns, 0 if a.kind != MEDIA else 1, a.f or 0))
    links = tuple(safe_text(link.reason) for call in group for link in call.links)
    t0 = getattr(capture, "time_base_ns", None)
    if t0 is None:
        t0 = getattr(capture, "first_ts_ns", None)
    if t0 is None:
        t0 = messages[0].ts_ns
    if len(group) == 1:
        title = f"Call {first.index}: {safe_text(first.caller)} -> {safe_text(first.callee)} ({first.outcome})"
        outcome, outcome_text = first.outcome.code, str(first.outcome)
    else:
        title = "Calls " + ", ".join(str(c.index) for c in group)
        outcome, outcome_text = "", ""
    return Ladder(
        call_key=first.id,
        title=title,
        participants=columns.participants,
        arrows=tuple(arrows),
        t0_ns=int(t0),
        notes=tuple(notes),
        call_ids=tuple(cid for call in group for cid in call.call_ids),
        outcome=outcome,
        outcome_text=outcome_text,
        kind=first.kind if len(group) == 1 else "",
        links=links,
    )
