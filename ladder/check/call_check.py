"""``check_call``: one call against the reference library and the RFC rules.

The call's ladder (``build_ladder``) gives the F-numbers and columns every renderer shows; the
matcher aligns its SIP arrows with the best reference flow, the rules look at its messages, and
media problems come from ``ladder.media.binding`` as data. Findings the chosen reference itself
produces (``expect=`` in a ``.flow``, its retransmission steps) are set aside as expected.
``annotate_ladder`` marks the deviations on a copy of the ladder for every renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from decoders.quick_init import quick_init
from ladder.check.composition import compose
from ladder.capture.continuity import damage_note, find_breaks
from ladder.check.deviations import INFO, WARNING, Deviation, at_least, worst
from ladder.draw.diagram import MEDIA, Ladder
from ladder.draw.layout import SipPlacement, sip_placement
from ladder.errors import UsageError
from ladder.calls.outcome import PARTIAL
from ladder.check.matching import (
    OUT_OF_ORDER,
    Match,
    Observed,
    alignment_deviations,
    force_match,
)
from ladder.check.references import Reference, Step
from ladder.check.rules import RuleSettings, check_rules
from ladder.check.rules.dialogs import dialog_numbers
from ladder.check.rules.media import media_deviations

if TYPE_CHECKING:
    from ladder.capture.loader import Capture
    from decoders.sip import SipMessage
    from ladder.calls.grouping import Call
    from ladder.media.binding import MediaIndex


@quick_init
@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on one call. ``roles`` maps each reference role to the column playing it;
    ``expected`` are findings the reference itself has (not deviations), ``ignored`` counts
    findings dropped by ``--ignore``."""

    call_id: str
    index: int
    kind: str
    reference: str | None
    title: str
    variant: str
    score: float
    roles: dict[str, str]
    deviations: tuple[Deviation, ...]
    expected: tuple[Deviation, ...] = ()
    candidates: tuple[tuple[str, float], ...] = ()
    closest: str | None = None
    ignored: int = 0
    reference_f: dict[int, int] = field(default_factory=dict)  # captured F -> reference F
    composition: tuple[str, ...] = ()  # ("rfc3665-3.1", "rfc5359-2.1 hold/resume", "BYE")
    partial: bool = False  # the capture starts mid-call: matched against a flow's tail

    @property
    def severity(self) -> str | None:
        return worst(self.deviations)

    @property
    def conforms(self) -> bool:
        """No deviation of severity warning or above."""
        return not any(at_least(d.severity, WARNING) for d in self.deviations)

    def to_json(self) -> dict:
        return {
            "id": self.call_id,
            "index": self.index,
            "kind": self.kind,
            "reference": self.reference,
            "title": self.title,
            "variant": self.variant,
            "score": round(self.score, 3),
            "closest": self.closest,
            "roles": dict(self.roles),
            "deviations": [d.to_json() for d in self.deviations],
            "expected": [d.to_json() for d in self.expected],
            "ignored": self.ignored,
            "candidates": [{"reference": r, "score": s} for r, s in self.candidates[:3]],
            "composition": " + ".join(self.composition) or None,
            "partial": self.partial,
        }


# --- observed steps from the ladder --------------------------------------------------------


def message_facts(message: "SipMessage | None") -> frozenset[str]:
    """The content conditions a ``.flow`` step can require (see ``ladder.check.references``)."""
    if message is None:
        return _NO_FACTS
    header = message.header
    sdp = message.sdp is not None
    contacts = message.header_values("contact")
    hold = t38 = False
    if sdp:
        body = message.body
        if type(body) is not bytes:
            body = bytes(body or b"")
        # RFC 3264 §8.4 (and RFC 2543's 0.0.0.0)
        hold = b"a=sendonly" in body or b"a=inactive" in body or b"c=IN IP4 0.0.0.0" in body
        t38 = b"m=image" in body
    # A few sets in all (at most 2**6), each made once and shared, as ``Observed`` hashes them:
    # told by which conditions hold (the Expires header read only when the Contacts do not
    # already say expires=0: the same answer, one look-up less).
    key = (sdp, bool(contacts), bool(header("authorization") or header("proxy-authorization")),
           contacts == ["*"] or (header("expires") or "").strip() == "0"
           or bool(contacts) and all(_contact_expires(c) == 0 for c in contacts), hold, t38)
    known = _FACTS.get(key)
    if known is None:
        known = _FACTS[key] = frozenset(name for name, holds in zip(_FACT_NAMES, key) if holds)
    return known


_FACT_NAMES = ("sdp", "contact", "auth", "expires=0", "hold", "t38")
_NO_FACTS: frozenset[str] = frozenset()
_FACTS: dict[tuple[bool, ...], frozenset[str]] = {}


def _contact_expires(value: str) -> int | None:
    if ";" not in value:  # (most Contacts) no parameter at all: the loop below finds none
        return None
    params = value.rsplit(">", 1)[-1] if ">" in value else value
    for part in params.split(";")[1:]:
        name, _, number = part.partition("=")
        if name.strip().lower() == "expires" and number.strip().isdigit():
            return int(number.strip())
    return None


def observed_steps(ladder: Ladder) -> list[Observed]:
    """The ladder's SIP arrows as matching input (self-arrows and unnumbered arrows left out).

    A message that repeats an earlier one (same link and direction, method, status, CSeq and
    Call-ID) counts as a retransmission even when the ladder does not draw it as one: a UAC
    sends its ACK again for each retransmitted 2xx (RFC 3261 §13.2.2.4), a mirror port copies a
    frame with a new IP ID, and neither is a step of the flow."""
    return [Observed(*row) for row in step_rows(ladder)]


def step_rows(ladder: Ladder) -> list[tuple]:
    """``observed_steps`` as the tuples of their fields, in ``Observed``'s order: what the
    matching memo compares (``_matched``), so a call of a shape already matched makes no
    ``Observed``. ``Observed(*row)`` is the step; ``test_check.py`` holds them equal."""
    return _rows((a.f, a.src, a.dst, a.method, a.status, a.retransmission, a.message)
                 for a in ladder.arrows if a.kind != MEDIA and a.f is not None)


def _rows(arrows: "Iterable[tuple]", sides: "Callable[[SipMessage], tuple[int, int]] | None" = None) -> list[tuple]:
    """``step_rows`` of SIP arrows given as (F, src, dst, method, status, retransmission,
    message), in the ladder's order: from a ``Ladder`` or from a ``SipPlacement`` (``_View``).
    ``sides``: each message's (src, dst), when the caller has them (made here otherwise)."""
    rows: list[tuple] = []
    seen: set[tuple] = set()
    arrows = [a for a in arrows if a[1] != a[2]]
    if sides is None:
        hop = {id(a[6]): (a[1], a[2]) for a in arrows}
        sides = lambda m: hop[id(m)]  # noqa: E731
    dialog = dialog_numbers([a[6] for a in arrows if a[6] is not None], sides)
    for f, src, dst, arrow_method, status, retransmission, message in arrows:
        if message is None:
            method, cseq, call_id, facts, in_dialog = (arrow_method or "?").upper(), None, None, _NO_FACTS, False
        else:
            method = (arrow_method or message.method or "?").upper()
            cseq = message.cseq[0] if message.cseq else None
            call_id = message.call_id
            facts = message_facts(message)
            in_dialog = bool(message.is_request and message.to_tag)
        repeat = (src, dst, method, status, cseq, call_id)
        rows.append((f, src, dst, method, status, retransmission or (cseq is not None and repeat in seen), facts,
                     cseq, in_dialog, dialog.get(id(message), 0) if dialog else 0))
        seen.add(repeat)
    return rows


@quick_init
@dataclass(frozen=True, slots=True)
class _View:
    """What the check reads of a call's ladder: its step rows (``step_rows``), its column
    names, and each SIP message's F-number and (src, dst) columns, by the message (a
    ``SipMessage`` hashes and compares by identity: ``eq=False``), so that the rules ask them
    of the dicts' own ``get``/``[]`` (``check_call``), not through a function of ours."""

    rows: list[tuple]
    names: list[str]
    numbers: "dict[SipMessage, int]"
    columns: "_Sides"
    messages: "list[SipMessage] | None" = None  # the call's messages in F order, when known

    @classmethod
    def of_ladder(cls, ladder: Ladder) -> "_View":
        return cls(step_rows(ladder), [p.name for p in ladder.participants],
                   {a.message: a.f for a in ladder.arrows if a.message is not None and a.f is not None},
                   _Sides((a.message, (a.src, a.dst)) for a in ladder.arrows if a.message is not None))

    @classmethod
    def of_placement(cls, placed: SipPlacement) -> "_View":
        """``of_ladder`` of the ladder ``build_ladder`` would draw from the same arguments,
        without drawing it. Its SIP arrows are ``placed.messages`` in order, the arrow of
        ``messages[i]`` has F ``i + 1`` (never None), the columns of its src and dst, the
        message's method and status, and ``retransmission`` when its id is in
        ``placed.retransmissions`` (``layout.build_ladder``); the media bars it adds have no
        message and are not SIP arrows, and sorting by time keeps the SIP arrows in F order (times
        ascend with F, ties by F). Its participants are ``placed.columns``'. So each field
        is ``of_ladder``'s (``tests/unit/check/test_check_view.py`` compares them on every sample
        and the quick corpus). ``messages``: ``placed.messages``, sorted by (time, first frame)
        as ``check_call`` sorts the calls' messages (the same key, the same stable sort of the
        same sequence)."""
        retransmissions, messages = placed.retransmissions, placed.messages
        numbers: dict[SipMessage, int] = {}
        columns = _Sides()
        arrows = []
        # ``columns.ends[i]``: ``(column(src), column(dst))`` of ``messages[i]`` (``build_columns``)
        for f, message, ends in zip(range(1, len(messages) + 1), messages, placed.columns.ends, strict=True):
            numbers[message] = f
            columns[message] = ends
            arrows.append((f, ends[0], ends[1], message.method, message.status, id(message) in retransmissions,
                           message))
        return cls(_rows(arrows, columns.__getitem__), [p.name for p in placed.columns.participants], numbers,
                   columns, messages)


# --- the check -------------------------------------------------------------------------------


def find_reference(references: Sequence[Reference], wanted: str) -> Reference:
    for ref in references:
        if ref.id == wanted:
            return ref
    known = ", ".join(r.id for r in references)
    raise UsageError(f"no reference flow {wanted!r} (known: {known})")


def check_call(
    call: "Call | list[Call]",
    capture: "Capture",
    references: Sequence[Reference],
    *,
    reference: str = "auto",
    ladder: Ladder | None = None,
    ignore: Iterable[str] = (),
    settings: RuleSettings | None = None,
    media: "MediaIndex | None" = None,
    bars: bool = True,
) -> CheckResult:
    """Check one call (or several calls drawn as one, such as the two Call-IDs of RFC 3665
    §3.4) against ``references`` ("auto": the best match; else the id of one reference).
    ``media``: the capture's media bound once (``ladder.analysis``); without it the call's
    streams are bound to this call alone, which costs a pass over every stream. Without
    ``ladder``, the check reads what the ladder ``build_ladder(call, capture, media=bars,
    bindings=media)`` would show of the SIP messages, not drawing it (``_View.of_placement``)."""
    calls = call if isinstance(call, list) else [call]
    if ladder is not None:
        view = _View.of_ladder(ladder)
    else:  # what the check reads of the ladder ``build_ladder(..., media=bars)`` would draw
        view = _View.of_placement(sip_placement(calls if len(calls) > 1 else calls[0], capture, media=bars,
                                                bindings=media))
    matched = _matched(view.rows, references, reference)
    match = matched.match

    names = view.names
    found: list[Deviation] = []
    settings = settings or capture_settings(capture)
    if match.alignment is not None and not matched.silent:
        flow_findings = alignment_deviations(match.alignment, names)
        matched.silent = not flow_findings
        if settings.damaged:
            # Messages that lost their Call-ID or CSeq are missing from their call or joined to
            # another: neither a missing step nor an extra one says anything about the call.
            flow_findings = [replace(d, severity=INFO, message=d.message + " (a damaged capture: cannot tell)")
                             for d in flow_findings]
        found.extend(flow_findings)
    messages = view.messages
    if messages is None:
        messages = sorted((m for c in calls for m in c.messages), key=lambda m: (m.ts_ns, _frame(m)))
    found.extend(check_rules(
        messages,
        number=view.numbers.get,
        sides=view.columns.__getitem__,
        settings=settings,
        transactions=calls[0].transactions if len(calls) == 1 else None,
    ))  # fmt: skip
    if not settings.damaged:  # damaged RTP bytes make up payload types
        found.extend(media_deviations(calls, capture, media))

    step_of = matched.step_of
    if all(c.outcome.code == PARTIAL for c in calls):
        found = _without_missing_before_capture(found, step_of)
    expected: list[Deviation] = []
    kept: list[Deviation] = []
    for item in found:
        (expected if _is_expected(item, match, step_of) else kept).append(item)
    ignored = frozenset(ignore)
    shown = [d for d in kept if d.code not in ignored]
    shown.sort(key=_order)
    best = match.best
    roles: dict[str, str] = {}
    if match.alignment is not None:
        for role, column in match.alignment.roles.items():
            roles[role] = names[column] if column is not None and 0 <= column < len(names) else "-"
    first = calls[0]
    return CheckResult(
        call_id=first.id,
        index=first.index,
        kind=first.kind,
        reference=match.reference.id if match.reference is not None else None,
        title=match.reference.title if match.reference is not None else "",
        variant=match.reference.variant if match.reference is not None else "",
        score=match.score,
        roles=roles,
        deviations=tuple(shown),
        expected=tuple(expected),
        candidates=match.candidates,
        closest=best.reference.id if best is not None and match.reference is None else None,
        ignored=len(kept) - len(shown),
        reference_f=dict(matched.reference_f),
        composition=match.composition if len(match.composition) > 1 else (),
        partial=match.partial,
    )


def capture_settings(capture: "Capture", **kwargs: Any) -> RuleSettings:
    """The rules' settings for ``capture``: where it ends and where its clock breaks
    (``ladder.capture.continuity``). Made once per capture by callers that check many calls."""
    messages = getattr(capture, "sip_messages", None) or []
    breaks = find_breaks(messages)
    return RuleSettings(end_ns=getattr(capture, "last_ts_ns", None), breaks=tuple(b.span for b in breaks),
                        damaged=damage_note(messages) is not None, **kwargs)


# Matching depends only on the observed steps (columns are numbers, not addresses), and the
# calls of one capture mostly repeat a few shapes: a busy trunk's 150,000 calls are a handful of
# flows. The verdicts of recent shapes are kept (Match is immutable) instead of aligned again.
# The references are told by the identity of each (the built-in ones are parsed once per
# process, ``load_references`` gives a new list of them on each call: the TUI's every load);
# an entry holds them, so their ids cannot be reused while it is kept.
_MATCH_MEMO: dict[tuple, tuple[tuple[Reference, ...], "_Matched"]] = {}
MATCH_MEMO_SIZE = 4096
# The memo's key holds each step as ``step_rows`` gives it: the tuple of every field of
# ``Observed`` in order, which are the fields its generated ``__eq__`` and ``__hash__`` compare
# (every field is compared: ``test_check.py``), so equal keys are equal steps.


class _Matched:
    """A shape's ``Match`` and what ``check_call`` derives from it alone, kept with it in the
    memo: ``step_of`` (``_step_map``, read only), the captured-to-reference F map of
    ``CheckResult.reference_f`` (copied into each result), and ``silent``: True once
    ``alignment_deviations`` of its alignment gave nothing. That holds whatever the column
    names: they enter only the findings' text (``seen``), never whether one is made (each is
    decided by the pairs' kinds, steps, ``failed`` and positions), so a shape found silent once
    is silent for every call of it (``test_check_view.py`` holds that)."""

    __slots__ = ("match", "step_of", "reference_f", "silent")

    def __init__(self, match: Match) -> None:
        self.match = match
        self.step_of = _step_map(match)
        self.reference_f = {f: s.f for f, s in self.step_of.items()}
        self.silent = False


def _matched(rows: list[tuple], references: Sequence[Reference], reference: str) -> _Matched:
    # A tuple of references (``ladder check``'s) is told by its own identity, the entry holding
    # it: it cannot change, nor its id be reused while kept (60 ids less to gather and hash per
    # call); a list, which may change, by the identity of each reference it holds.
    which = id(references) if type(references) is tuple else tuple(map(id, references))
    key = (tuple(rows), which, reference)
    known = _MATCH_MEMO.get(key)
    if known is not None:
        return known[1]
    observed = [Observed(*row) for row in rows]
    if reference == "auto":
        match = compose(observed, references)
    else:
        match = force_match(observed, find_reference(references, reference))
    if len(_MATCH_MEMO) >= MATCH_MEMO_SIZE:
        del _MATCH_MEMO[next(iter(_MATCH_MEMO))]
    matched = _Matched(match)
    _MATCH_MEMO[key] = (references if type(references) is tuple else tuple(references), matched)
    return matched


def _frame(message: "SipMessage") -> int:
    return message.frames[0].number if message.frames else 0


class _Sides(dict):
    """Ladder columns as nodes, by message: a UA's TCP source ports stay one node, as drawn; a
    message the ladder does not show (none, in practice) is told by its addresses."""

    __slots__ = ()

    def __missing__(self, message: "SipMessage") -> tuple[Hashable, Hashable]:
        return (message.src.address() if message.src else None, message.dst.address() if message.dst else None)


def _step_map(match: Match) -> dict[int, Step]:
    """Captured F-number -> the reference step it was aligned with."""
    if match.alignment is None:
        return {}
    return {
        p.observed.f: p.step
        for p in match.alignment.pairs
        if p.observed is not None and p.step is not None and p.kind != OUT_OF_ORDER
    }


def _without_missing_before_capture(found: list[Deviation], step_of: dict[int, Step]) -> list[Deviation]:
    """A partial call (the capture starts inside the dialog) is matched against the flow's
    tail: reference steps before the first one the capture shows are out of sight, not missing."""
    if not step_of:
        return found
    first = min(step.f for step in step_of.values())
    return [d for d in found if not (d.code == "missing-message" and d.reference_f and max(d.reference_f) < first)]


def _is_expected(item: Deviation, match: Match, step_of: dict[int, Step]) -> bool:
    """A finding the reference flow itself has: named by ``expect`` for the whole flow or at
    the steps it concerns, or a retransmission the flow draws (RFC 3665 §3.4, §3.10)."""
    ref = match.reference
    if ref is None or match.alignment is None:
        return False
    if item.code in ref.expect:
        return True
    if not item.f:
        return False
    found = [step_of.get(f) for f in item.f]
    steps = [step for step in found if step is not None]
    if len(steps) != len(found):
        return False
    if any(item.code in step.expect for step in steps):
        return True
    return item.code == "retransmission" and all(step.retransmission for step in steps)


def _order(item: Deviation) -> tuple:
    first = item.f[0] if item.f else (10**9)
    return (first, item.reference_f[0] if item.reference_f else 0, item.code)


# --- drawing -----------------------------------------------------------------------------------


def annotate_ladder(ladder: Ladder, result: CheckResult) -> Ladder:
    """A copy of ``ladder`` with each deviation's code beside the arrows it concerns
    (``Arrow.marks``) and one note per deviation, after a line naming the reference."""
    marks: dict[int, list[str]] = {}
    stream_marks: dict[Any, list[str]] = {}
    for item in result.deviations:
        for f in item.f:
            marks.setdefault(f, []).append(item.code)
        for key in item.stream_keys:
            stream_marks.setdefault(key, []).append(item.code)
    arrows = []
    for arrow in ladder.arrows:
        if arrow.kind == MEDIA:
            wanted = [code for key in arrow.stream_keys for code in stream_marks.get(key, ())]
        else:
            wanted = marks.get(arrow.f, []) if arrow.f is not None else []
        added = tuple(dict.fromkeys(code for code in wanted if code not in arrow.marks))
        arrows.append(replace(arrow, marks=tuple(arrow.marks) + added) if added else arrow)
    notes = list(ladder.notes) + [verdict_line(result)]
    for item in result.deviations:
        notes.append(deviation_line(item))
    return replace(ladder, arrows=tuple(arrows), notes=tuple(notes))


def verdict_line(result: CheckResult) -> str:
    if result.reference is None:
        closest = f"; closest {result.closest} ({result.score:.2f})" if result.closest else ""
        return f"reference: none matches{closest}"
    variant = f" [{result.variant}]" if result.variant else ""
    composed = f"; composed of {' + '.join(result.composition)}" if result.composition else ""
    tail = " (partial call: matched against the flow's tail)" if result.partial else ""
    return f"reference: {result.reference}{variant} \"{result.title}\" score {result.score:.2f}{composed}{tail}"


def deviation_line(item: Deviation) -> str:
    where = " ".join(f"F{f}" for f in item.f) or "-"
    ref = (" ref " + " ".join(f"F{f}" for f in item.reference_f)) if item.reference_f else ""
    return f"{where}{ref}: {item.code} ({item.severity}): {item.message}"
