"""A call as a sequence of episodes, each matched against its own reference.

Real calls are rarely one RFC 3665 flow from end to end: after the establishment (possibly
through a 401 or 407 challenge) come in-dialog episodes (a re-INVITE to hold and one to resume,
a T.38 switch, UPDATE session refreshes, PRACKs, INFO, a REFER and its NOTIFYs), then a BYE.
``compose`` splits the call's steps into transactions (CSeq number and method; ACK and CANCEL
belong to their INVITE) and:

- matches the *core* (the initial INVITE transactions, authentication retries included, and
  the BYE) against the whole flows of the library, so the termination is matched against the
  flow's own ending (its ``either`` steps) and named ``BYE`` in the composition;
- matches the other transactions, a window of one to three at a time (hold then resume is two
  re-INVITEs; a REFER keeps the NOTIFYs that follow it), against the library's ``episode``
  parts and its non-call flows (OPTIONS, MESSAGE, INFO ...);
- for exchanges outside a dialog (REGISTER, SUBSCRIBE, OPTIONS ...) every request that is not
  an authentication retry starts a new flow: several registrations in one Call-ID are several
  flows (RFC 3261 §10.2).

A call whose legs share no column (``legs``: a B2BUA on two interfaces, one call seen at two
taps) is composed leg by leg first, each leg as above, and named ``[...] + [...]``.

The composed alignment is the union of the parts' alignments, in captured order; its score is
the same Dice coefficient as for one flow. The composition is kept when it scores better than
the best single flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

from ladder.check.matching import (
    MATCH,
    THRESHOLD,
    UNEXPECTED,
    Alignment,
    Match,
    Observed,
    Pair,
    _score,
    _skip_observed_cost,
    is_partial,
    match_call,
)
from ladder.check.references import Reference, episode_references

GOOD = 0.9  # a window of several transactions is taken over one when it scores this well
MAX_WINDOW = 3
_CHALLENGES = (401, 407)  # RFC 3261 §22.2, §22.3: the request is sent again with credentials


@dataclass(slots=True)
class Unit:
    """One transaction: the indexes of its steps in the call, its method (an ACK or CANCEL
    counts as INVITE) and its last final response."""

    method: str
    steps: list[int] = field(default_factory=list)
    final: int | None = None
    final_at: int | None = None  # index of the step that carried ``final``
    in_dialog: bool = False
    started: bool = False  # its request was captured
    auth: bool = False  # its request carries credentials: a retry after a challenge
    sender: int | None = None  # the column that sent its request


def _family(method: str) -> str:
    return "INVITE" if method in ("ACK", "CANCEL") else method


def transaction_units(observed: Sequence[Observed]) -> list[Unit]:
    """The call's transactions in order of their first step. A request with a CSeq whose
    transaction already has a final response starts a new one (the callee's re-INVITE may
    reuse the caller's number: each side numbers its own requests, RFC 3261 §12.2.1.1)."""
    units: list[Unit] = []
    latest: dict[tuple[str, int | None], Unit] = {}
    for index, obs in enumerate(observed):
        key = (_family(obs.method), obs.cseq)
        unit = latest.get(key)
        opens = obs.is_request and obs.method not in ("ACK", "CANCEL") and not obs.retransmission
        if unit is None or (opens and unit.final is not None):
            unit = Unit(key[0])
            units.append(unit)
            latest[key] = unit
        if opens and not unit.started:
            unit.started, unit.in_dialog, unit.auth = True, obs.in_dialog, "auth" in obs.facts
            unit.sender = obs.src
        if obs.status is not None and obs.status >= 200 and _family(obs.method) == unit.method:
            unit.final, unit.final_at = obs.status, index
        unit.steps.append(index)
    return units


def _invite_core(units: list[Unit]) -> tuple[list[Unit], list[list[Unit]]]:
    """(core units, episode groups) of an INVITE call. An INVITE is a re-INVITE once an earlier
    INVITE got a 2xx or when it carries a To tag; a NOTIFY or a retry after 401/407 stays
    with the request before it (a REFER's progress reports, RFC 3515 §2.4.4). A BYE from the
    other side than a BYE already in the core (both hung up at once, RFC 3261 §15.1.2) is an
    episode of its own: the flow's ending is one BYE."""
    core: list[Unit] = []
    groups: list[list[Unit]] = []
    for unit in units:
        # Established by a 2xx captured before this request: a B2BUA's outgoing INVITE leaves
        # while the incoming one is unanswered, its 2xx comes later (RFC 7092 §3).
        established = any(c.final is not None and 200 <= c.final < 300 and c.final_at is not None
                          and c.final_at < unit.steps[0] for c in core)
        initial = unit.method == "INVITE" and not unit.in_dialog and not established
        crossing = unit.method == "BYE" and any(
            c.method == "BYE" and None not in (c.sender, unit.sender) and c.sender != unit.sender for c in core)
        if initial or (unit.method == "BYE" and not crossing):
            core.append(unit)
            continue
        previous = groups[-1][-1] if groups else None
        if previous is not None and (
            (unit.method == "NOTIFY" and previous.method in ("REFER", "SUBSCRIBE", "NOTIFY"))
            or _retries(previous, unit)
        ):
            groups[-1].append(unit)
        else:
            groups.append([unit])
    return core, groups


# The NOTIFYs a subscription flow holds (the first, and one more); later ones report further
# changes of state (RFC 6665 §4.2.2), each matched as a notification of its own.
_NOTIFYS = 2


def _retries(previous: Unit, unit: Unit) -> bool:
    """``unit`` answers ``previous``'s challenge: the same method sent again with credentials
    (RFC 3261 §22.2). Sent again without them, it starts over: a new attempt, not a retry."""
    return previous.final in _CHALLENGES and previous.method == unit.method and (unit.auth or not unit.started)


def _segments(units: list[Unit]) -> list[list[Unit]]:
    """Out-of-dialog exchanges: a new flow at each request that is not a retry after a
    challenge, nor a NOTIFY of the SUBSCRIBE before it (RFC 6665 §4.1.2.2)."""
    segments: list[list[Unit]] = []
    for unit in units:
        previous = segments[-1][-1] if segments else None
        if previous is not None and (
            _retries(previous, unit)
            or (unit.method == "NOTIFY" and segments[-1][0].method in ("SUBSCRIBE", "REFER")
                and sum(u.method == "NOTIFY" for u in segments[-1]) < _NOTIFYS)
            or not unit.started
        ):
            segments[-1].append(unit)
        else:
            segments.append([unit])
    return segments


@dataclass(frozen=True, slots=True)
class _Part:
    label: str
    match: Match
    steps: tuple[int, ...]  # indexes into the call's observed steps
    core: bool = False


def legs(observed: Sequence[Observed]) -> list[list[int]]:
    """The call's steps grouped by connected columns: each group is a leg that shares no
    address with the others (a B2BUA or SBC seen on two interfaces, or through NAT, one
    call captured at two taps). Indexes into ``observed``, in captured order."""
    parent: dict[int, int] = {}

    def root(column: int) -> int:
        while parent.setdefault(column, column) != column:
            column = parent[column]
        return column

    for obs in observed:
        parent[root(obs.src)] = root(obs.dst)
    groups: dict[int, list[int]] = {}
    for index, obs in enumerate(observed):
        groups.setdefault(root(obs.src), []).append(index)
    return sorted(groups.values(), key=lambda g: g[0])


def compose(observed: Sequence[Observed], references: Sequence[Reference], *, threshold: float = THRESHOLD) -> Match:
    """The best of: the call as one flow, or the call as a composition of episodes. A call
    whose legs share no column is composed leg by leg: a reference flow's roles are all
    connected, so no flow can span both, while each leg is a dialog of its own (a B2BUA is
    two user agents back to back, RFC 3261 §6 and RFC 7092 §3). A call whose Call-ID holds two
    UACs' dialogs at once (``Observed.dialog``: a UAC reusing it, a B2BUA keeping it for its
    outgoing leg) is composed dialog by dialog the same way: the second INVITE starts a dialog
    of its own, it is no re-INVITE of the first."""
    groups = dialogs(observed)
    if len(groups) > 1:
        return _compose_legs(observed, groups, references, threshold, each=compose)
    groups = legs(observed)
    if len(groups) > 1:
        return _compose_legs(observed, groups, references, threshold)
    return _compose_leg(observed, references, threshold)


def dialogs(observed: Sequence[Observed]) -> list[list[int]]:
    """The call's steps grouped by ``Observed.dialog`` (steps of no known dialog, 0, go with the
    first), in captured order; one group when no two UACs' dialogs share the Call-ID."""
    if not any(obs.dialog for obs in observed):
        return [list(range(len(observed)))]
    first = min(obs.dialog for obs in observed if obs.dialog)
    groups: dict[int, list[int]] = {}
    for index, obs in enumerate(observed):
        groups.setdefault(obs.dialog or first, []).append(index)
    return sorted(groups.values(), key=lambda g: g[0])


def _compose_legs(observed, groups: list[list[int]], references, threshold, *, each=None) -> Match:
    flows = whole_flows(references)
    partial = is_partial(observed)
    whole = match_call(observed, flows, threshold=threshold, partial=partial)
    parts: list[_Part] = []
    for number, indexes in enumerate(groups):
        steps = [observed[i] for i in indexes]
        match = each(steps, references, threshold=threshold) if each else _compose_leg(steps, references, threshold)
        label = " + ".join(match.composition) if match.reference is not None else "?"
        parts.append(_Part(f"[{label}]", match, tuple(indexes), core=number == 0))
    composed = _assemble(observed, parts, whole, partial, terminate=False)
    if composed.reference is not None and (whole.reference is None or composed.score > whole.score + 1e-9):
        return composed
    return whole


def whole_flows(references: Sequence[Reference]) -> list[Reference]:
    """The flows one call may be matched against as a whole: not an episode, nor a service
    whose dialogs are several calls (``kind service``: named with ``--reference`` instead)."""
    return [r for r in references if r.kind not in ("episode", "service")]


def _compose_leg(observed: Sequence[Observed], references: Sequence[Reference], threshold: float) -> Match:
    flows = whole_flows(references)
    library = [r for r in references if r.kind != "episode"]
    partial = is_partial(observed)
    whole = match_call(observed, flows, threshold=threshold, partial=partial)
    if not observed or (whole.reference is not None and whole.score >= 0.999):
        return whole
    units = transaction_units(observed)
    if any(u.method in ("INVITE", "BYE") for u in units):
        core, groups = _invite_core(units)
        challenged, rest = _challenges(core)
        choices = [[core]] + ([[challenged, rest]] if challenged and rest else [])
        ways = [_invite_parts(observed, cores, groups, flows, library, threshold) for cores in choices]
    else:
        ways = [_flow_parts(observed, units, flows, threshold)]
    best = whole
    for parts in ways:
        if len(parts) < 2:
            continue
        composed = _assemble(observed, parts, whole, partial)
        if composed.reference is not None and (best.reference is None or composed.score > best.score + 1e-9):
            best = composed
    return best


def _observed(observed: Sequence[Observed], units: Sequence[Unit]) -> tuple[list[Observed], tuple[int, ...]]:
    indexes = tuple(sorted(i for u in units for i in u.steps))
    return [observed[i] for i in indexes], indexes


def _challenges(core: list[Unit]) -> tuple[list[Unit], list[Unit]]:
    """The core's INVITEs challenged (401 or 407) before the one that went on, and the rest:
    an establishment may follow a challenge at any hop (RFC 3261 §22.2, §22.3)."""
    last = max((i for i, u in enumerate(core) if u.method == "INVITE" and u.final not in _CHALLENGES), default=-1)
    challenged = [u for u in core[:last] if u.method == "INVITE" and u.final in _CHALLENGES]
    return challenged, [u for u in core if u not in challenged]


def _invite_parts(observed, cores: list[list[Unit]], groups: list[list[Unit]], flows, library, threshold) -> list[_Part]:
    """``cores`` (the core, or a challenge then the rest of the core) matched against whole
    flows, the last one being the establishment; ``groups`` matched as episodes."""
    parts: list[_Part] = []
    for number, core in enumerate(cores):
        if not core:
            continue
        steps, indexes = _observed(observed, core)
        match = match_call(steps, flows, threshold=threshold, partial=is_partial(steps))
        label = match.reference.id if match.reference else "?"
        parts.append(_Part(label, match, indexes, core=number == len(cores) - 1))
    candidates = episode_references(library) + [r for r in flows if r.kind not in ("call", "registration")]
    # Ties go to the earlier candidate: the one whose steps ask more of the content first, so
    # a re-INVITE that holds the call is named a hold (RFC 5359) rather than any re-INVITE.
    candidates.sort(key=lambda r: -sum(len(s.conditions) for s in r.steps))
    i = 0
    while i < len(groups):
        chosen: tuple[int, Match, tuple[int, ...]] | None = None
        for width in range(min(MAX_WINDOW, len(groups) - i), 0, -1):
            steps, indexes = _observed(observed, [u for g in groups[i:i + width] for u in g])
            match = match_call(steps, candidates, threshold=threshold, partial=not steps[0].is_request)
            if match.reference is not None and (match.score >= GOOD or width == 1):
                chosen = (width, match, indexes)
                break
            if width == 1:
                chosen = (1, match, indexes)
        if chosen is None:
            raise RuntimeError("a window of one group is always tried")
        width, match, indexes = chosen
        label = match.reference.id if match.reference else f"unmatched {observed[indexes[0]].method}"
        parts.append(_Part(label, match, indexes))
        i += width
    return parts


def _flow_parts(observed, units, flows, threshold) -> list[_Part]:
    parts: list[_Part] = []
    for number, segment in enumerate(_segments(units)):
        steps, indexes = _observed(observed, segment)
        match = match_call(steps, flows, threshold=threshold, partial=is_partial(steps))
        parts.append(_Part(match.reference.id if match.reference else "?", match, indexes, core=number == 0))
    return parts


def _assemble(observed: Sequence[Observed], parts: list[_Part], whole: Match, partial: bool, *,
              terminate: bool = True) -> Match:
    """One alignment from the parts', in captured order; unmatched parts' messages are
    unexpected. The core's steps missing after its last message go to the end: the capture
    may have stopped before them."""
    position = {obs.f: index for index, obs in enumerate(observed)}
    keyed: list[tuple[float, int, Pair]] = []
    sequence = 0
    for part in parts:
        alignment = part.match.best if part.match.reference is not None else None
        if alignment is None:
            for index in part.steps:
                obs = observed[index]
                kind = UNEXPECTED if _skip_observed_cost(obs) else "tolerated"
                keyed.append((index, sequence, Pair(kind, obs)))
                sequence += 1
            continue
        seen = [i for i, p in enumerate(alignment.pairs) if p.observed is not None]
        last = seen[-1] if seen else -1
        here = position[alignment.pairs[seen[0]].seen().f] - 0.5 if seen else len(observed)
        for i, pair in enumerate(alignment.pairs):
            if pair.observed is not None:
                here = position[pair.observed.f]
                keyed.append((here, sequence, pair))
            elif i > last and part.core:
                keyed.append((len(observed) + 1, sequence, pair))
            else:
                keyed.append((here + 0.5, sequence, pair))
            sequence += 1
    keyed.sort(key=lambda item: (item[0], item[1]))
    pairs = tuple(p for _, _, p in keyed)
    core = next((p for p in parts if p.core and p.match.reference is not None), None)
    lead = core or next((p for p in parts if p.match.reference is not None), None)
    if lead is None or any(p.core and p.match.reference is None for p in parts):
        return replace(whole, partial=partial)
    reference, best = lead.match.reference, lead.match.best
    if reference is None or best is None:  # (a part matched to a reference has its alignment)
        return replace(whole, partial=partial)
    labels = [p.label for p in parts]
    if terminate and core is not None and len(parts) > 1:
        labels = _with_termination(labels, core)
    score = _score(pairs)
    alignment = Alignment(reference, dict(best.roles), pairs, score, partial)
    if score < THRESHOLD:
        return Match(None, score, alignment, whole.candidates, tuple(labels), partial)
    return Match(reference, score, alignment, whole.candidates, tuple(labels), partial)


def _with_termination(labels: list[str], core: _Part) -> list[str]:
    """``[core, episodes..., "BYE"]`` when the core's ending steps (``either``) were matched:
    the termination is then shown after the episodes it follows."""
    reference, best = core.match.reference, core.match.best
    if reference is None or reference.either is None or best is None:
        return labels
    first, last = reference.either
    matched = [p.step.f for p in best.pairs if p.kind == MATCH and p.step is not None]
    if not any(first <= f <= last for f in matched):
        return labels
    if core.match.partial and all(first <= f <= last for f in matched):
        labels = [label for label in labels if label != core.label]  # only its BYE was captured
    return labels + ["BYE"]

