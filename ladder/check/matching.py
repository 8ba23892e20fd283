"""Matching a call against the reference library: role assignment, alignment, score.

A call is reduced to ``Observed`` steps (F-number, sender and receiver column, method, status,
retransmission flag, content facts). For each reference flow (and each of its ``hop``/``skip``
variants) we try the ways the call's columns can play the flow's roles, consistent with the
first request's direction, and align the two sequences by dynamic programming (a global
alignment, Needleman-Wunsch style) in which:

- retransmissions and extra 100 Trying cost nothing (RFC 3261 §17 allows them anywhere);
- an optional reference step (provisional responses, retransmissions) costs almost nothing
  when absent;
- a different response code or a reversed direction is a substitution, cheaper than a
  missing plus an unexpected message;
- messages whose order cannot matter are put in the reference's order first: two messages
  on different links commute unless one is the other's answer or relay (``_depends``), e.g. a
  proxy's 100 Trying and the INVITE it forwards, or a 180 relayed after the 200 that
  followed it arrived; a 100 Trying commutes with anything on another link.

The score is a Dice coefficient, ``2 * matched / (reference steps + observed steps)``, in
0..1; below ``THRESHOLD`` no reference is named.

A ``partial`` call (its first captured message belongs to a dialog or transaction already under
way) is aligned with the tail of a flow: the reference steps before its first message cost
nothing and are not reported (``tail``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Sequence

from decoders.quick_init import quick_init
from ladder.check.deviations import INFO, WARNING, Code, Deviation, deviation
from ladder.check.references import Reference, Step, reference_variants

# What a call is found to do against its reference flow (RFC 3665).
REF_MISSING_MESSAGE = Code("missing-message", WARNING, "RFC 3665", "a required message of the reference flow is not in the capture")
REF_UNEXPECTED_MESSAGE = Code("unexpected-message", WARNING, "RFC 3665", "a message the reference flow does not have (info for a provisional response)")
REF_OUT_OF_ORDER = Code("out-of-order", WARNING, "RFC 3665", "a message of the reference flow came before one it depends on")
REF_WRONG_DIRECTION = Code("wrong-direction", WARNING, "RFC 3665", "a message of the reference flow went the other way")
REF_DIFFERENT_RESPONSE = Code("different-response", WARNING, "RFC 3665", "another response code than the reference flow's")
REF_DIFFERENT_CONTENT = Code("different-content", INFO, "RFC 3665", "the message lacks (or has) what the reference shows: SDP, Contact, credentials, Expires: 0")  # fmt: skip
CODES = (
    REF_MISSING_MESSAGE, REF_UNEXPECTED_MESSAGE, REF_OUT_OF_ORDER, REF_WRONG_DIRECTION,
    REF_DIFFERENT_RESPONSE, REF_DIFFERENT_CONTENT)

THRESHOLD = 0.6
MAX_ASSIGNMENTS = 720

# Pair kinds produced by the alignment.
MATCH = "match"
MISSING = "missing"
UNEXPECTED = "unexpected"
TOLERATED = "tolerated"
DIFFERENT_RESPONSE = "different-response"
WRONG_DIRECTION = "wrong-direction"
OUT_OF_ORDER = "out-of-order"

_INF = float("inf")
_OPTIONAL_COST = 0.01  # small, so the alignment prefers matching an optional step when it can
_CONDITION_COST = 0.25


@quick_init
@dataclass(frozen=True, slots=True)
class Observed:
    """One captured SIP arrow, reduced to what matching needs. ``facts`` holds the content
    conditions that hold (``sdp``, ``contact``, ``auth``, ``expires=0``)."""

    f: int
    src: int
    dst: int
    method: str
    status: int | None = None
    retransmission: bool = False
    facts: frozenset[str] = frozenset()
    cseq: int | None = None  # the CSeq number: which transaction the message belongs to
    in_dialog: bool = False  # a request with a To tag (RFC 3261 §12.2)
    dialog: int = 0  # which dialog, when the Call-ID holds two UACs' dialogs at once (``rules.dialogs``); else 0

    @property
    def is_request(self) -> bool:
        return self.status is None

    @property
    def label(self) -> str:
        return self.method if self.status is None else str(self.status)


@dataclass(frozen=True, slots=True)
class Pair:
    """One line of an alignment: an observed step, a reference step, or both."""

    kind: str
    observed: Observed | None = None
    step: Step | None = None
    failed: tuple[str, ...] = ()  # conditions of ``step`` the observed message does not meet

    def seen(self) -> Observed:
        """The captured message: every kind of pair but MISSING has one."""
        if self.observed is None:
            raise ValueError(f"a {self.kind} pair has no captured message")
        return self.observed

    def ref(self) -> Step:
        """The reference step: every kind of pair but UNEXPECTED has one."""
        if self.step is None:
            raise ValueError(f"a {self.kind} pair has no reference step")
        return self.step


@dataclass(frozen=True, slots=True)
class Alignment:
    reference: Reference
    roles: dict[str, int | None]  # role -> column (None: no column plays it)
    pairs: tuple[Pair, ...]
    score: float
    tail: bool = False  # aligned with the tail of the flow (a partial call)


@dataclass(frozen=True, slots=True)
class Match:
    """The verdict for one call. ``reference`` is None when no flow scores ``THRESHOLD``;
    ``best`` is then still the closest alignment (for "closest: ..." hints)."""

    reference: Reference | None
    score: float
    best: Alignment | None
    candidates: tuple[tuple[str, float], ...]  # (reference id, best score), best first
    composition: tuple[str, ...] = ()  # the episodes' references, "rfc5359-2.1 hold/resume"
    partial: bool = False  # matched against the tail of a flow (see ``is_partial``)

    @property
    def alignment(self) -> Alignment | None:
        return self.best if self.reference is not None else None


# --- facts and comparisons -----------------------------------------------------------------


def condition_holds(condition: str, facts: frozenset[str]) -> bool:
    if condition == "expires>0":
        return "expires=0" not in facts
    if condition.startswith("no-"):
        return condition[3:] not in facts
    return condition in facts


def _message_equal(obs: Observed, step: Step) -> bool:
    if obs.method != step.method:
        return False
    if step.is_request:
        return obs.status is None
    if obs.status is None:
        return False
    if step.status is not None:
        # RFC 3261 §22.1: a UAS challenges with 401, a proxy with 407; either one asks for
        # the same thing, so a flow's challenge may come from either kind of server.
        return obs.status == step.status or {obs.status, step.status} == {401, 407}
    return obs.status // 100 == step.status_class


def _is_provisional(obs: Observed) -> bool:
    return obs.status is not None and obs.status < 200


# --- alignment -------------------------------------------------------------------------------


def _skip_observed_cost(obs: Observed) -> float:
    if obs.retransmission or obs.status == 100:
        return 0.0  # RFC 3261 §17: retransmissions and 100 Trying may appear anywhere
    if _is_provisional(obs):
        return 0.25
    return 1.0


def _skip_step_cost(step: Step) -> float:
    return _OPTIONAL_COST if step.optional else 1.0


def _pair_cost(obs: Observed, step: Step, roles: dict[str, int | None]) -> tuple[float, str, tuple[str, ...]]:
    """The cost of aligning ``obs`` with ``step`` and what the pairing means."""
    if obs.retransmission != step.retransmission:
        return _INF, "", ()
    src, dst = roles.get(step.src), roles.get(step.dst)
    if src is None or dst is None:
        return _INF, "", ()
    if _message_equal(obs, step):
        if (obs.src, obs.dst) == (src, dst):
            failed = tuple(c for c in step.conditions if not condition_holds(c, obs.facts))
            return _CONDITION_COST * min(len(failed), 2), MATCH, failed
        if (obs.src, obs.dst) == (dst, src):
            return 1.0, WRONG_DIRECTION, ()
        return _INF, "", ()
    wanted = step.status or (step.status_class or 0) * 100
    if (
        (obs.src, obs.dst) == (src, dst)
        and not step.is_request
        and obs.status is not None
        and obs.method == step.method
        and _same_outcome(obs.status, wanted)
    ):
        return 1.0, DIFFERENT_RESPONSE, ()
    return _INF, "", ()


def _same_outcome(a: int, b: int) -> bool:
    """Two codes one can stand for the other: both provisional, both success, or both
    failures (3xx-6xx). A 200 where the flow fails is another flow, not another code."""
    if a >= 300 and b >= 300:
        return True
    return a // 100 == b // 100


def _key(obs: Observed) -> tuple:
    return (obs.src, obs.dst, obs.method, obs.status, obs.retransmission)


def _step_key(step: Step, roles: dict[str, int | None]) -> tuple | None:
    src, dst = roles.get(step.src), roles.get(step.dst)
    if src is None or dst is None or step.status_class is not None:
        return None
    return (src, dst, step.method, step.status, step.retransmission)


def _depends(first: Observed, then: Observed, hop_acks: frozenset[int] = frozenset()) -> bool:
    """Whether ``then`` can only follow ``first``: on the same link in the same direction
    (the sender's own order), or sent by ``first``'s receiver as its answer (back the same
    way: a response, the ACK of a response) or as the same message passed on (a proxy
    relaying it). A node's other messages need not wait: a proxy may relay a 180 after the
    200 that followed it has already arrived."""
    if (first.src, first.dst) == (then.src, then.dst):
        return True
    if then.src != first.dst:
        return False
    if then.dst == first.src:
        # A response answers its own request only: the answers to two pending NOTIFYs (or an
        # INVITE and its CANCEL) may come in either order (RFC 3261 §17: one transaction each).
        other = None not in (first.cseq, then.cseq) and (first.cseq, first.method) != (then.cseq, then.method)
        if first.is_request and not then.is_request:
            return not other
        # Nor need a non-INVITE request wait for the answer to the previous one of its kind (a
        # notifier's NOTIFYs overlap, RFC 6665); a new INVITE must (RFC 3261 §14.1).
        return not (not first.is_request and then.is_request and other and then.method == first.method != "INVITE")
    # A stateful proxy answers a CANCEL itself, at once (RFC 3261 §9, §16.10): its 200 to the
    # CANCEL is no relay of the next hop's.
    if first.method == "CANCEL" and not first.is_request:
        return False
    # An ACK of a non-2xx is each hop's own (RFC 3261 §17.1.1.3): no relay of another ACK.
    # A proxy passes a message on with its CSeq unchanged (RFC 3261 §16.6); a B2BUA's other leg
    # numbers its own requests, and answers its caller when it chooses (RFC 7092 §3).
    relayed = first.f not in hop_acks and then.f not in hop_acks and (
        None in (first.cseq, then.cseq) or first.cseq == then.cseq)
    return relayed and (then.method, then.status) == (first.method, first.status)


def _commute(a: Observed, b: Observed, hop_acks: frozenset[int] = frozenset()) -> bool:
    """True when the order of ``a`` and ``b`` carries no meaning (see the module doc)."""
    if (a.src, a.dst) == (b.src, b.dst):
        # One link, one direction: the sender's order, except for responses of different
        # transactions (a 487 to the INVITE and the 200 to its CANCEL: RFC 3261 §9.2 ties
        # neither to the other; nor are the answers to two NOTIFYs ordered).
        return not a.is_request and not b.is_request and (a.method, a.cseq) != (b.method, b.cseq)
    if a.status == 100 or b.status == 100:
        return True
    return not _depends(a, b, hop_acks) and not _depends(b, a, hop_acks)


def _hop_acks(observed: Sequence[Observed]) -> frozenset[int]:
    """F-numbers of the ACKs that acknowledge a non-2xx final response on their own hop (the
    latest final response to INVITE that came back the other way on that link)."""
    last_final: dict[tuple[int, int], int] = {}
    found: set[int] = set()
    for obs in observed:
        if obs.method == "INVITE" and obs.status is not None and obs.status >= 200:
            last_final[(obs.src, obs.dst)] = obs.status
        elif obs.method == "ACK" and obs.status is None and last_final.get((obs.dst, obs.src), 0) >= 300:
            found.add(obs.f)
    return frozenset(found)


def canonical_order(observed: Sequence[Observed], steps: Sequence[Step], roles: dict[str, int | None]) -> list[Observed]:
    """``observed`` with commuting neighbours put in the reference's order.

    Each observed step is first paired with the k-th reference step of the same key (k-th
    occurrence); then adjacent paired steps that commute and are inverted are swapped, as in a
    bubble sort, so that only meaningful inversions are left for the alignment to see."""
    wanted: dict[tuple, list[int]] = {}
    for index, step in enumerate(steps):
        key = _step_key(step, roles)
        if key is not None:
            wanted.setdefault(key, []).append(index)
    rank: list[int | None] = []
    for obs in observed:
        queue = wanted.get(_key(obs))
        rank.append(queue.pop(0) if queue else None)
    slots = [i for i, r in enumerate(rank) if r is not None]
    items = [(r, observed[i]) for i, r in enumerate(rank) if r is not None]
    hop_acks = _hop_acks(observed)
    changed = True
    while changed:
        changed = False
        for k in range(len(items) - 1):
            (ra, a), (rb, b) = items[k], items[k + 1]
            if ra > rb and _commute(a, b, hop_acks):
                items[k], items[k + 1] = items[k + 1], items[k]
                changed = True
    result = list(observed)
    for slot, (_, obs) in zip(slots, items):
        result[slot] = obs
    return result


def align(observed: Sequence[Observed], ref: Reference, roles: dict[str, int | None], *, tail: bool = False) -> Alignment:
    """Globally align ``observed`` (already in canonical order or not) with ``ref`` (with
    ``tail``: the tail of a flow, see ``best_alignment``)."""
    obs = canonical_order(observed, ref.steps, roles)
    steps = ref.steps
    n, m = len(obs), len(steps)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    move = [[0] * (m + 1) for _ in range(n + 1)]  # 1 diagonal, 2 skip step, 3 skip observed
    skip_obs = [_skip_observed_cost(o) for o in obs]
    skip_step = [_skip_step_cost(s) for s in steps]
    pair = [[_pair_cost(o, s, roles) for s in steps] for o in obs]
    for j in range(1, m + 1):
        cost[0][j] = cost[0][j - 1] + skip_step[j - 1]
        move[0][j] = 2
    for i in range(1, n + 1):
        cost[i][0] = cost[i - 1][0] + skip_obs[i - 1]
        move[i][0] = 3
        row, above = cost[i], cost[i - 1]
        prow = pair[i - 1]
        so = skip_obs[i - 1]
        for j in range(1, m + 1):
            best = above[j - 1] + prow[j - 1][0]
            how = 1
            c = row[j - 1] + skip_step[j - 1]
            if c < best - 1e-9:
                best, how = c, 2
            c = above[j] + so
            if c < best - 1e-9:
                best, how = c, 3
            row[j] = best
            move[i][j] = how
    pairs: list[Pair] = []
    i, j = n, m
    while i or j:
        how = move[i][j]
        if how == 1:
            _, kind, failed = pair[i - 1][j - 1]
            pairs.append(Pair(kind, obs[i - 1], steps[j - 1], failed))
            i, j = i - 1, j - 1
        elif how == 2:
            pairs.append(Pair(MISSING, None, steps[j - 1]))
            j -= 1
        else:
            o = obs[i - 1]
            kind = TOLERATED if skip_obs[i - 1] == 0.0 else UNEXPECTED
            pairs.append(Pair(kind, o, None))
            i -= 1
    pairs.reverse()
    pairs = _merge_out_of_order(pairs, roles)
    return Alignment(ref, dict(roles), tuple(pairs), _score(pairs), tail)


def _merge_out_of_order(pairs: list[Pair], roles: dict[str, int | None]) -> list[Pair]:
    """An unexpected message and a missing step with the same sender, receiver and message
    are one message in the wrong place: report it once, as out-of-order."""
    result: list[Pair | None] = list(pairs)
    for index, item in enumerate(result):
        if item is None or item.kind != UNEXPECTED:
            continue
        for other, cand in enumerate(result):
            if cand is None or cand.kind != MISSING:
                continue
            step, observed = cand.ref(), item.seen()
            if _step_key(step, roles) == _key(observed) or (
                _message_equal(observed, step)
                and (roles.get(step.src), roles.get(step.dst)) == (observed.src, observed.dst)
            ):
                failed = tuple(c for c in step.conditions if not condition_holds(c, observed.facts))
                result[index] = Pair(OUT_OF_ORDER, observed, step, failed)
                result[other] = None
                break
    return [p for p in result if p is not None]


def _score(pairs: Sequence[Pair]) -> float:
    matched = 0.0
    ref_count = 0.0
    obs_count = 0.0
    last_seen = max((i for i, p in enumerate(pairs) if p.observed is not None), default=-1)
    for index, p in enumerate(pairs):
        if p.kind == MATCH:
            # Optional steps (provisionals, retransmissions) weigh half: they must not make a
            # flow with many of them look closer than the messages that decide the outcome.
            weight = 0.5 if p.ref().optional else 1.0
            matched += weight * (1.0 - _CONDITION_COST * min(len(p.failed), 2))
            ref_count += weight
            obs_count += weight
        elif p.kind in (DIFFERENT_RESPONSE, WRONG_DIRECTION, OUT_OF_ORDER):
            matched += 0.5
            ref_count += 1
            obs_count += 1
        elif p.kind == MISSING:
            # A step after the call's last message may not have happened yet when the capture
            # stopped: weaker evidence against the flow than a gap in the middle.
            ref_count += 0 if p.ref().optional else (0.5 if index > last_seen else 1)
        elif p.kind == UNEXPECTED:
            obs_count += _skip_observed_cost(p.seen())
    total = ref_count + obs_count
    return 2 * matched / total if total else 0.0


# --- role assignment and the search over the library ---------------------------------------


def role_assignments(observed: Sequence[Observed], ref: Reference, *, tail: bool = False) -> list[dict[str, int | None]]:
    """The ways the call's columns can play ``ref``'s roles. The first reference step fixes
    two roles: the sender and receiver of the call's first request with the same method.
    With ``tail`` (``ref`` cut to start where a partial call starts) the call's first message
    fixes them instead."""
    columns: list[int] = []
    for obs in observed:
        for column in (obs.src, obs.dst):
            if column not in columns:
                columns.append(column)
    anchors: list[dict[str, int]] = []
    if tail:
        first_obs = next((o for o in observed if not o.retransmission), None)
        step = ref.steps[0]
        if first_obs is not None and _message_equal(first_obs, step):
            anchors.append({step.src: first_obs.src, step.dst: first_obs.dst})
    else:
        first = ref.steps[0]
        anchor = next((o for o in observed if o.is_request and not o.retransmission and o.method == first.method), None)
        if anchor is not None:
            anchors.append({first.src: anchor.src, first.dst: anchor.dst})
    seen: set[tuple] = set()
    result: list[dict[str, int | None]] = []
    for fixed in anchors:
        rest_roles = [r for r in ref.roles if r not in fixed]
        rest_columns = [c for c in columns if c not in fixed.values()]
        pool: list[int | None] = rest_columns + [None] * max(0, len(rest_roles) - len(rest_columns))
        for combo in itertools.permutations(pool, len(rest_roles)):
            roles: dict[str, int | None] = dict(fixed)
            roles.update(zip(rest_roles, combo))
            key = tuple(roles.get(r) for r in ref.roles)
            if key in seen:
                continue
            seen.add(key)
            result.append(roles)
            if len(result) >= MAX_ASSIGNMENTS:
                return result
    return result


def best_alignment(
    observed: Sequence[Observed], ref: Reference, *, forced: bool = False, tail: bool = False
) -> Alignment | None:
    """The best alignment of ``observed`` with ``ref`` over its variants and role assignments;
    ties go to the variant with fewer changes, then to the first assignment tried. ``forced``
    (the user named this reference) aligns even a call that cannot play the flow's roles."""
    best: Alignment | None = None
    if not forced and not tail and not any(o.is_request and o.method == ref.steps[0].method for o in observed):
        return None  # nothing can play the flow's first request (see ``role_assignments``)
    columns = {c for o in observed for c in (o.src, o.dst)}
    for variant in _tails(observed, reference_variants(ref)) if tail else reference_variants(ref):
        if len(variant.roles) > len(columns) + 1 and not forced and not tail:
            continue  # more roles than columns: that many steps cannot be there
        assignments = role_assignments(observed, variant, tail=tail)
        if not assignments and forced:
            assignments = [{role: None for role in variant.roles}]
        for roles in assignments:
            candidate = align(observed, variant, roles, tail=tail)
            if best is None or _better(candidate, best):
                best = candidate
    return best


def _tails(observed: Sequence[Observed], variants: list[Reference]) -> list[Reference]:
    """For a partial call: each variant cut to begin at a step the call's first message could
    be, so that nothing before it is reported missing. Not a flow's first INVITE: a re-INVITE
    changes a session (RFC 3261 §14) where that one creates it; a refreshing SUBSCRIBE or
    REGISTER may be the first step of its flow (RFC 6665 §4.1.2.1, RFC 3261 §10.2.1)."""
    first = next((o for o in observed if not o.retransmission), None)
    cut: list[Reference] = []
    for variant in variants:
        for k, step in enumerate(variant.steps):
            if k == 0 and step.method == "INVITE":
                continue
            if first is not None and not step.retransmission and _message_equal(first, step):
                # A cut flow loses ties to one that begins where the call begins (a lone NOTIFY
                # is a state change of a subscription before it is a REFER's tail).
                cut.append(replace(variant, steps=variant.steps[k:], cost=variant.cost + (k > 0)))
    return cut


def _better(a: Alignment, b: Alignment) -> bool:
    """Higher score; on a tie the more specific flow (more exact codes: a 407 challenge
    rather than any 4xx), then the fewer variant changes, then the earlier flow."""
    if abs(a.score - b.score) > 1e-9:
        return a.score > b.score
    if _specific(a) != _specific(b):
        return _specific(a) > _specific(b)
    return a.reference.cost < b.reference.cost


def _specific(alignment: Alignment) -> int:
    return sum(p.ref().status is not None for p in alignment.pairs if p.kind == MATCH and not p.ref().is_request)


def is_partial(observed: Sequence[Observed]) -> bool:
    """Whether the capture starts in the middle of the call: its first message is a response,
    or a request that only exists inside a dialog or transaction (ACK, CANCEL, BYE, PRACK,
    UPDATE, INFO, NOTIFY) or carries a To tag (RFC 3261 §12.2)."""
    first = next(iter(observed), None)
    if first is None:
        return False
    return (
        not first.is_request
        or first.in_dialog
        or first.method in ("ACK", "CANCEL", "BYE", "PRACK", "UPDATE", "INFO", "NOTIFY")
    )


def match_call(
    observed: Sequence[Observed], references: Sequence[Reference], *, threshold: float = THRESHOLD,
    partial: bool = False,
) -> Match:
    """Classify ``observed`` against ``references`` (earlier ones win ties); a ``partial``
    call against the tails of the flows."""
    scored: list[Alignment] = []
    for ref in references:
        found = best_alignment(observed, ref, tail=partial)
        if found is not None:
            scored.append(found)
    best: Alignment | None = None
    for candidate in scored:
        if best is None or _better(candidate, best):
            best = candidate
    candidates = tuple(
        sorted(((a.reference.id, round(a.score, 3)) for a in scored), key=lambda item: -item[1])
    )
    if best is None:
        return Match(None, 0.0, None, candidates, partial=partial)
    if best.score < threshold:
        return Match(None, best.score, best, candidates, partial=partial)
    return Match(best.reference, best.score, best, candidates, (best.reference.id,), partial)


def force_match(observed: Sequence[Observed], ref: Reference) -> Match:
    """The alignment with one given reference, whatever its score (``--reference ID``)."""
    partial = is_partial(observed)
    found = best_alignment(observed, ref, forced=True, tail=partial)
    if found is None:
        return Match(None, 0.0, None, ((ref.id, 0.0),), partial=partial)
    return Match(ref, found.score, found, ((ref.id, round(found.score, 3)),), (ref.id,), partial)


# --- deviations from an alignment ----------------------------------------------------------


def alignment_deviations(alignment: Alignment, names: Sequence[str] | None = None) -> list[Deviation]:
    """The reference-flow deviations an alignment shows, in captured order."""

    def name(column: int | None) -> str:
        if column is None:
            return "?"
        if names is not None and 0 <= column < len(names):
            return names[column]
        return f"#{column}"

    def seen(obs: Observed) -> str:
        return f"F{obs.f} {obs.label} {name(obs.src)} -> {name(obs.dst)}"

    found: list[Deviation] = []
    previous: Observed | None = None
    # Steps missing after the call's last captured message may simply not have happened yet
    # when the capture stopped (a call still up, its BYE to come): the capture cannot say.
    last_seen = max((i for i, p in enumerate(alignment.pairs) if p.observed is not None), default=-1)
    for i, p in enumerate(alignment.pairs):
        obs = p.observed
        if p.kind == MISSING and not p.ref().optional:
            where = f" after F{previous.f}" if previous is not None else " at the start"
            if i > last_seen >= 0:
                found.append(deviation(
                    REF_MISSING_MESSAGE,
                    f"reference {p.ref().describe()} is not in the capture{where}, the call's last message: "
                    "the capture may have stopped before it",
                    reference_f=[p.ref().f], severity=INFO,
                ))  # fmt: skip
                continue
            found.append(deviation(
                REF_MISSING_MESSAGE,
                f"reference {p.ref().describe()} is missing{where}",
                reference_f=[p.ref().f],
            ))  # fmt: skip
        elif p.kind == UNEXPECTED:
            severity = INFO if _is_provisional(p.seen()) else None
            found.append(deviation(
                REF_UNEXPECTED_MESSAGE,
                f"{seen(p.seen())} is not in the reference flow",
                f=[p.seen().f], severity=severity,
            ))  # fmt: skip
        elif p.kind == OUT_OF_ORDER:
            found.append(deviation(
                REF_OUT_OF_ORDER,
                f"{seen(p.seen())} is out of order: the reference has it as {p.ref().describe()}",
                f=[p.seen().f], reference_f=[p.ref().f],
            ))  # fmt: skip
        elif p.kind == WRONG_DIRECTION:
            found.append(deviation(
                REF_WRONG_DIRECTION,
                f"{seen(p.seen())} goes the other way than reference {p.ref().describe()}",
                f=[p.seen().f], reference_f=[p.ref().f],
            ))  # fmt: skip
        elif p.kind == DIFFERENT_RESPONSE:
            found.append(deviation(
                REF_DIFFERENT_RESPONSE,
                f"{seen(p.seen())} where the reference has {p.ref().describe()}",
                f=[p.seen().f], reference_f=[p.ref().f],
            ))  # fmt: skip
        if p.kind in (MATCH, OUT_OF_ORDER) and p.failed:
            found.append(deviation(
                REF_DIFFERENT_CONTENT,
                f"{seen(p.seen())} does not meet reference {p.ref().describe()} condition(s): {', '.join(p.failed)}",
                f=[p.seen().f], reference_f=[p.ref().f],
            ))  # fmt: skip
        if obs is not None:
            previous = obs
    return found
