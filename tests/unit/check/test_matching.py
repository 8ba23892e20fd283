"""Matching on abstract step sequences: role assignment, alignment, tolerance, scores."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ladder.check.matching import (
    THRESHOLD,
    Observed,
    alignment_deviations,
    canonical_order,
    force_match,
    match_call,
)
from ladder.check.references import load_references, parse_flows

REFS = load_references()
BY_ID = {ref.id: ref for ref in REFS}
RFC3665 = [ref for ref in REFS if ref.id.startswith("rfc3665-")]  # no INFO or OPTIONS flows


def play(ref_id: str, order: list[str] | None = None, facts: bool = True) -> list[Observed]:
    """The reference flow as a captured call: column i plays role ``order[i]``; each step
    carries the content facts its conditions ask for."""
    ref = BY_ID[ref_id]
    order = order or list(ref.roles)
    column = {role: order.index(role) for role in ref.roles}
    steps = []
    for n, step in enumerate(ref.steps, start=1):
        held = frozenset(c for c in step.conditions if facts and not c.startswith("no-") and c != "expires>0")
        if step.method == "REGISTER" and "no-contact" not in step.conditions:
            held |= {"contact"}
        status = step.status or (CLASS_CODE[step.status_class] if step.status_class else None)
        steps.append(Observed(n, column[step.src], column[step.dst], step.method, status,
                              step.retransmission, held))  # fmt: skip
    return steps


CLASS_CODE = {1: 183, 2: 200, 3: 302, 4: 480, 5: 503, 6: 603}  # a code of each class, to play a flow


def renumber(steps: list[Observed]) -> list[Observed]:
    return [replace(s, f=n) for n, s in enumerate(steps, start=1)]


def codes(match) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    return [(d.code, d.f, d.reference_f) for d in alignment_deviations(match.best)]


# Flows with the very shape of one earlier in the library, which wins the tie: RFC 5359 §2.14's
# screening refusal is RFC 3261 §22.1's 407 then 403.
SAME_SHAPE = {"rfc5359-2.14": "rfc3261-22.1"}


@pytest.mark.parametrize("ref_id", list(BY_ID))
def test_each_flow_played_back_matches_itself_best(ref_id):
    match = match_call(play(ref_id), REFS)
    assert match.reference is not None and match.reference.id == SAME_SHAPE.get(ref_id, ref_id)
    if ref_id in SAME_SHAPE:
        twin = BY_ID[SAME_SHAPE[ref_id]]
        assert [(s.method, s.label) for s in twin.steps] == [(s.method, s.label) for s in BY_ID[ref_id].steps]
        assert (ref_id, 1.0) in match.candidates
    assert match.score == pytest.approx(1.0)
    assert codes(match) == []
    others = [score for rid, score in match.candidates if rid != ref_id]
    if ref_id.startswith("rfc3665-"):  # the RFC 3665 flows differ from each other everywhere
        assert max(others) < 1.0


def test_roles_follow_the_columns_whatever_their_order():
    # Columns drawn in another order (Bob first): roles still land where the messages go.
    match = match_call(play("rfc3665-3.2", ["Bob", "Proxy2", "Alice", "Proxy1"]), REFS)
    assert match.reference.id == "rfc3665-3.2"
    assert match.best.roles == {"Alice": 2, "Proxy1": 3, "Proxy2": 1, "Bob": 0}


def test_a_removed_required_message_is_missing_with_its_reference_f():
    steps = [s for s in play("rfc3665-3.2") if s.f != 16]  # ACK Proxy1 -> Proxy2
    match = match_call(renumber(steps), REFS)
    assert match.reference.id == "rfc3665-3.2"
    assert codes(match) == [("missing-message", (), (16,))]
    assert THRESHOLD < match.score < 1.0


def test_a_removed_optional_message_is_no_deviation():
    steps = [s for s in play("rfc3665-3.2") if s.f not in (6, 8, 9, 10, 11)]  # every 1xx
    match = match_call(renumber(steps), REFS)
    assert match.reference.id == "rfc3665-3.2" and codes(match) == []
    assert match.score == pytest.approx(1.0)


def test_retransmissions_and_extra_100_trying_are_tolerated():
    steps = play("rfc3665-3.1")
    extra = [steps[0], replace(steps[0], retransmission=True), Observed(0, 1, 0, "INVITE", 100)]
    match = match_call(renumber(extra + steps[1:]), REFS)
    assert match.reference.id == "rfc3665-3.1" and codes(match) == []
    assert match.score == pytest.approx(1.0)


def test_an_extra_provisional_response_is_information():
    steps = play("rfc3665-3.1")
    extra = steps[:2] + [Observed(0, 1, 0, "INVITE", 183)] + steps[2:]
    match = match_call(renumber(extra), REFS)
    found = alignment_deviations(match.best)
    assert [(d.code, d.severity, d.f) for d in found] == [("unexpected-message", "info", (3,))]


def test_an_extra_request_is_unexpected():
    steps = play("rfc3665-3.1")
    extra = steps[:4] + [Observed(0, 0, 1, "INFO"), Observed(0, 1, 0, "INFO", 200)] + steps[4:]
    match = match_call(renumber(extra), RFC3665)
    assert match.reference.id == "rfc3665-3.1"
    assert codes(match) == [("unexpected-message", (5,), ()), ("unexpected-message", (6,), ())]


def test_commuting_messages_in_another_order_are_no_deviation():
    # RFC 3665 §3.2: Proxy 1 may send its 100 (F6) before forwarding the INVITE (F5), and
    # Proxy 2's 100 (F8) may cross Bob's 180 (F9).
    steps = play("rfc3665-3.2")
    order = [1, 2, 3, 4, 6, 5, 7, 9, 8] + list(range(10, 24))
    match = match_call(renumber([steps[i - 1] for i in order]), REFS)
    assert match.reference.id == "rfc3665-3.2" and codes(match) == []


def test_a_response_before_the_response_it_depends_on_is_out_of_order():
    # 200 F13 (Proxy2 -> Proxy1) cannot precede 200 F12 (Bob -> Proxy2) that caused it.
    steps = play("rfc3665-3.2")
    order = list(range(1, 12)) + [13, 12] + list(range(14, 24))
    match = match_call(renumber([steps[i - 1] for i in order]), REFS)
    found = codes(match)
    assert len(found) == 1
    code, f, ref_f = found[0]
    assert code == "out-of-order" and f in ((12,), (13,)) and ref_f in ((12,), (13,))


def test_a_different_final_response_is_a_substitution():
    steps = [replace(s, status=480) if s.status == 486 else s for s in play("rfc3665-3.9")]
    match = force_match(steps, BY_ID["rfc3665-3.9"])
    assert codes(match) == [
        ("different-response", (6,), (6,)), ("different-response", (8,), (8,)), ("different-response", (10,), (10,)),
    ]  # fmt: skip


def test_a_reversed_message_is_wrong_direction():
    steps = play("rfc3665-3.1")
    steps[4] = replace(steps[4], src=0, dst=1)  # Alice hangs up instead of Bob
    match = match_call(steps, REFS)
    assert match.reference.id == "rfc3665-3.1"
    assert ("wrong-direction", (5,), (5,)) in codes(match)


def test_unrelated_traffic_matches_no_reference():
    steps = [Observed(1, 0, 1, "OPTIONS"), Observed(2, 1, 0, "OPTIONS", 200)]
    match = match_call(steps, RFC3665)
    assert match.reference is None and match.best is None
    steps = [Observed(1, 0, 1, "INVITE"), Observed(2, 1, 0, "INVITE", 100), Observed(3, 0, 1, "INFO")]
    match = match_call(steps, RFC3665)
    assert match.reference is None and match.score < THRESHOLD and match.best is not None


def test_a_call_through_one_proxy_matches_3_1_with_a_hop():
    steps = play("rfc3665-3.1")
    # Alice(0) -> Proxy(1) -> Bob(2), the proxy record-routing everything.
    through: list[Observed] = []
    for s in steps:
        a, b = (0, 2) if s.src == 0 else (2, 0)
        through.append(replace(s, src=a, dst=1))
        through.append(replace(s, src=1, dst=b))
    match = match_call(renumber(through), REFS)
    assert match.reference.id == "rfc3665-3.1" and "hop" in match.reference.variant
    assert codes(match) == [] and match.score == pytest.approx(1.0)


def test_a_busy_call_through_one_proxy_matches_3_9_without_proxy1():
    steps = [s for s in play("rfc3665-3.9", facts=True)]
    # Alice(0), Proxy2(2), Bob(3): drop what concerns Proxy 1 and let Alice talk to Proxy 2.
    one = []
    for s in steps:
        src, dst = (0 if s.src == 1 else s.src), (0 if s.dst == 1 else s.dst)
        if src != dst:
            one.append(replace(s, src=src, dst=dst))
    match = match_call(renumber(one), REFS)
    assert match.reference.id == "rfc3665-3.9" and match.reference.variant == "without Proxy1"
    assert codes(match) == []


def test_content_conditions_tell_registrations_apart():
    query = play("rfc3665-2.3")
    assert "contact" not in query[0].facts
    assert match_call(query, REFS).reference.id == "rfc3665-2.3"
    removal = [replace(play("rfc3665-2.4")[0], facts=frozenset({"contact", "auth", "expires=0"})), play("rfc3665-2.4")[1]]
    assert match_call(removal, REFS).reference.id == "rfc3665-2.4"
    update = [replace(query[0], facts=frozenset({"contact", "auth"})), query[1]]
    assert match_call(update, REFS).reference.id == "rfc3665-2.2"


def test_a_failed_condition_is_reported_as_different_content():
    steps = play("rfc3665-3.6")
    steps[3] = replace(steps[3], facts=frozenset({"sdp"}))  # F4 INVITE with SDP after all
    match = match_call(steps, REFS)
    assert match.reference.id == "rfc3665-3.6"
    found = alignment_deviations(match.best)
    assert [(d.code, d.severity, d.f, d.reference_f) for d in found] == [("different-content", "info", (4,), (4,))]


def test_canonical_order_keeps_dependent_inversions():
    ref = BY_ID["rfc3665-3.2"]
    roles = {r: i for i, r in enumerate(ref.roles)}
    steps = play("rfc3665-3.2")
    swapped = steps[:4] + [steps[5], steps[4]] + steps[6:]
    assert [s.f for s in canonical_order(swapped, ref.steps, roles)][:7] == [1, 2, 3, 4, 5, 6, 7]
    dependent = steps[:11] + [steps[12], steps[11]] + steps[13:]
    assert [s.f for s in canonical_order(dependent, ref.steps, roles)][11:13] == [13, 12]


def test_user_flows_win_ties_over_the_library():
    (mine,) = parse_flows(
        'flow site-call "Our PBX"\nroles A B\nF1 A -> B INVITE sdp\nF2 B -> A 180\nF3 B -> A 200 sdp\n'
        "F4 A -> B ACK\nF5 B -> A BYE\nF6 A -> B 200\n"
    )
    match = match_call(play("rfc3665-3.1"), [mine] + REFS)
    assert match.reference.id == "site-call" and match.score == pytest.approx(1.0)


def test_the_caller_hanging_up_is_no_deviation():
    # RFC 3665 §3.2 shows Bob ending the call; Alice may as well.
    steps = play("rfc3665-3.2")
    a, p1, p2, b = 0, 1, 2, 3
    ending = [Observed(0, a, p1, "BYE"), Observed(0, p1, p2, "BYE"), Observed(0, p2, b, "BYE"),
              Observed(0, b, p2, "BYE", 200), Observed(0, p2, p1, "BYE", 200), Observed(0, p1, a, "BYE", 200)]  # fmt: skip
    match = match_call(renumber(steps[:17] + ending), REFS)
    assert match.reference.id == "rfc3665-3.2" and match.reference.variant == "the other party ends the call"
    assert codes(match) == [] and match.score == pytest.approx(1.0)


def test_a_success_is_not_a_different_response_to_a_failure():
    steps = play("rfc3665-3.9")
    steps = [replace(s, status=200) if s.status == 486 else s for s in steps]
    match = force_match(steps, BY_ID["rfc3665-3.9"])
    assert "different-response" not in {code for code, _, _ in codes(match)}


def test_a_180_relayed_after_the_200_arrived_is_no_deviation():
    # Seen with Kamailio: Bob sends 180 and 200 back to back; the proxy relays the 180 to
    # Alice after Bob's 200 has reached it. The 180 depends on Bob's 180, not on his 200.
    steps = play("rfc3665-3.2")
    order = list(range(1, 10)) + [10, 12, 11] + list(range(13, 24))  # F12 (200 Bob -> Proxy2) before F11
    match = match_call(renumber([steps[i - 1] for i in order]), REFS)
    assert match.reference.id == "rfc3665-3.2" and codes(match) == []


def test_a_proxys_200_to_cancel_after_the_next_hops_is_no_deviation():
    # Seen with Kamailio (tests/system/test_check_real_peers.py): it relays the CANCEL, Bob's 200 to
    # it arrives, then Kamailio's own 200 to Alice's CANCEL goes out. Each hop answers its CANCEL
    # (RFC 3261 §9, §16.10): no 200 to a CANCEL waits for another.
    steps = play("rfc3665-3.8")
    order = list(range(1, 10)) + [11, 13, 14, 12, 10] + list(range(15, 21))
    match = match_call(renumber([steps[i - 1] for i in order]), REFS)
    assert match.reference.id == "rfc3665-3.8" and codes(match) == []


def test_a_cancelled_call_between_two_phones_matches_3_8_without_proxies():
    # INVITE, 100, 180, CANCEL, then the 487 before the CANCEL's 200 (seen in ndpi's
    # gre_sip.pcapng): two transactions' responses, in either order.
    steps = [Observed(1, 0, 1, "INVITE", facts=frozenset({"sdp"})), Observed(2, 1, 0, "INVITE", 100),
             Observed(3, 1, 0, "INVITE", 180), Observed(4, 0, 1, "CANCEL"), Observed(5, 1, 0, "INVITE", 487),
             Observed(6, 1, 0, "CANCEL", 200), Observed(7, 0, 1, "ACK")]  # fmt: skip
    match = match_call(steps, REFS)
    assert match.reference.id == "rfc3665-3.8" and match.reference.variant == "without Proxy1, without Proxy2"
    assert codes(match) == [] and match.score == pytest.approx(1.0)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4),
                  st.sampled_from(["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS"]),
                  st.one_of(st.none(), st.sampled_from([100, 180, 200, 302, 401, 407, 480, 486, 487])),
                  st.booleans()),
        max_size=24,
    )
)  # fmt: skip
def test_any_sequence_gets_a_verdict_about_its_own_steps(raw):
    steps = [Observed(n, a, b, method, status, retx) for n, (a, b, method, status, retx) in enumerate(raw, 1) if a != b]
    match = match_call(steps, REFS)
    assert 0.0 <= match.score <= 1.0
    assert (match.reference is None) == (match.score < THRESHOLD or match.best is None)
    if match.best is not None:
        mine = {s.f for s in steps}
        theirs = {s.f for s in match.best.reference.steps}
        for item in alignment_deviations(match.best):
            assert set(item.f) <= mine and set(item.reference_f) <= theirs
