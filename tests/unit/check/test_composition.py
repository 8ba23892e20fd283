"""A call composed of episodes (ladder.check.composition): an establishment, in-dialog episodes and
a termination, each matched against its own reference; partial calls against a flow's tail;
and the share of the public corpus's calls that match no reference."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import shared_manifest, shared_path
from ladder.check.composition import compose, transaction_units
from ladder.check.matching import Observed, alignment_deviations, is_partial
from ladder.check.references import load_references

REFS = load_references()
A, P, B = 0, 1, 2  # columns: Alice, a proxy, Bob


class Call:
    """Observed steps written as a conversation: ``req``/``resp`` append with CSeq numbers,
    the To tag of in-dialog requests, and content facts."""

    def __init__(self) -> None:
        self.steps: list[Observed] = []

    def req(self, src, dst, method, cseq, *facts, in_dialog=False):
        self.steps.append(Observed(len(self.steps) + 1, src, dst, method, None, False, frozenset(facts), cseq, in_dialog))
        return self

    def resp(self, src, dst, method, status, cseq, *facts):
        self.steps.append(Observed(len(self.steps) + 1, src, dst, method, status, False, frozenset(facts), cseq))
        return self

    def invite(self, a, b, cseq=1, *facts, in_dialog=False, status=200):
        self.req(a, b, "INVITE", cseq, "sdp", *facts, in_dialog=in_dialog)
        if not in_dialog:
            self.resp(b, a, "INVITE", 180, cseq)
        self.resp(b, a, "INVITE", status, cseq, *(("sdp",) if status == 200 else ()))
        return self.req(a, b, "ACK", cseq, in_dialog=True)

    def transaction(self, a, b, method, cseq, status=200):
        return self.req(a, b, method, cseq, in_dialog=True).resp(b, a, method, status, cseq)


def composed(call: Call):
    match = compose(call.steps, REFS)
    return match, " + ".join(match.composition)


def warnings(match):
    return [(d.code, d.message) for d in alignment_deviations(match.best) if d.severity != "info"]


def test_hold_resume_and_a_refresh_between_establishment_and_bye():
    call = Call().invite(A, B)
    call.req(B, A, "INVITE", 1, "sdp", "hold", in_dialog=True).resp(A, B, "INVITE", 200, 1, "sdp").req(B, A, "ACK", 1, in_dialog=True)
    call.req(B, A, "INVITE", 2, "sdp", in_dialog=True).resp(A, B, "INVITE", 200, 2, "sdp").req(B, A, "ACK", 2, in_dialog=True)
    call.transaction(A, B, "UPDATE", 2)
    call.transaction(A, B, "BYE", 3)
    match, text = composed(call)
    assert text == "rfc3665-3.1 + rfc5359-2.1 hold/resume + rfc4028-10 refresh + BYE"
    assert match.reference.id == "rfc3665-3.1" and match.score == pytest.approx(1.0)
    assert warnings(match) == []


def test_an_episode_no_reference_has_is_reported_unexpected_not_the_whole_call():
    call = Call().invite(A, B).transaction(A, B, "FOO", 2).transaction(A, B, "BYE", 3)
    match, _ = composed(call)
    assert match.reference.id == "rfc3665-3.1"
    assert [(d.code, d.f) for d in alignment_deviations(match.best)] == [
        ("unexpected-message", (5,)), ("unexpected-message", (6,)),
    ]  # fmt: skip


def test_prack_and_early_update_inside_the_establishment():
    call = Call().req(A, B, "INVITE", 1, "sdp").resp(B, A, "INVITE", 183, 1, "sdp")
    call.transaction(A, B, "PRACK", 2)
    call.req(A, B, "UPDATE", 3, "sdp", in_dialog=True).resp(B, A, "UPDATE", 200, 3, "sdp")  # a new offer
    call.resp(B, A, "INVITE", 200, 1).req(A, B, "ACK", 1, in_dialog=True)
    call.req(A, B, "INFO", 4, in_dialog=True).resp(B, A, "INFO", 200, 4).transaction(B, A, "BYE", 1)
    match, text = composed(call)
    assert text == "rfc3665-3.1 + rfc3262-3 PRACK + rfc3311-5 UPDATE + rfc6086-4 INFO + BYE"
    assert warnings(match) == []


def test_an_update_without_an_offer_is_a_session_refresh():
    call = Call().invite(A, B).transaction(A, B, "UPDATE", 2).transaction(A, B, "INFO", 3)
    call.transaction(A, B, "BYE", 4)
    _, text = composed(call)
    assert text == "rfc3665-3.1 + rfc4028-10 refresh + rfc6086-4 INFO + BYE"


def test_a_challenge_at_the_uas_is_as_good_as_a_proxy_challenge():
    # RFC 3261 §22.1: Bob's own 401, then the call with credentials.
    call = Call().req(A, B, "INVITE", 1, "sdp").resp(B, A, "INVITE", 401, 1).req(A, B, "ACK", 1, in_dialog=True)
    call.invite(A, B, 2, "auth").transaction(B, A, "BYE", 1)
    match, text = composed(call)
    assert match.reference is not None and warnings(match) == []
    assert text == "rfc3261-22.2 + rfc3665-3.1 + BYE"  # the challenge, then the basic call


def test_a_403_after_credentials_is_an_allowed_outcome():
    call = Call().req(A, P, "INVITE", 1, "sdp").resp(P, A, "INVITE", 407, 1).req(A, P, "ACK", 1, in_dialog=True)
    call.req(A, P, "INVITE", 2, "sdp", "auth").resp(P, A, "INVITE", 403, 2).req(A, P, "ACK", 2, in_dialog=True)
    match, _ = composed(call)
    assert match.reference.id == "rfc3261-22.1" and match.score == pytest.approx(1.0)


def test_several_registrations_in_one_call_id_are_several_flows():
    # RFC 3261 §10.2: a UA keeps its Call-ID for every REGISTER it sends to one registrar.
    call = Call()
    for cseq in (1, 3):
        call.req(A, B, "REGISTER", cseq, "contact").resp(B, A, "REGISTER", 401, cseq)
        call.req(A, B, "REGISTER", cseq + 1, "contact", "auth").resp(B, A, "REGISTER", 200, cseq + 1)
    call.req(A, B, "REGISTER", 5, "contact", "expires=0").resp(B, A, "REGISTER", 200, 5)
    match, text = composed(call)
    assert text == "rfc3665-2.1 + rfc3665-2.1 + rfc3665-2.4"
    assert warnings(match) == []


def test_a_partial_call_is_matched_against_a_flow_tail():
    # The capture starts after the call was set up: Bob puts Alice on hold, Alice refreshes
    # the session, Bob hangs up.
    call = Call().req(B, A, "INVITE", 4, "sdp", "hold", in_dialog=True).resp(A, B, "INVITE", 200, 4, "sdp")
    call.req(B, A, "ACK", 4, in_dialog=True).transaction(A, B, "UPDATE", 9).transaction(B, A, "BYE", 5)
    assert is_partial(call.steps)
    match, text = composed(call)
    assert match.partial and match.reference is not None
    assert text == "rfc5359-2.5 hold + rfc4028-10 refresh + BYE"
    # Nothing before the first captured message is reported missing.
    assert [d for d in alignment_deviations(match.best) if d.code == "missing-message"] == []


def test_a_partial_call_that_is_the_tail_of_one_flow():
    call = Call().transaction(A, B, "UPDATE", 7).transaction(B, A, "BYE", 3)
    match, text = composed(call)
    assert match.partial and text == "rfc4028-10" and match.score == pytest.approx(1.0)
    assert alignment_deviations(match.best) == []


def test_a_partial_call_of_responses_only():
    call = Call().resp(B, A, "INVITE", 200, 1, "sdp").req(A, B, "ACK", 1, in_dialog=True).transaction(A, B, "BYE", 2)
    match = compose(call.steps, REFS)
    assert match.partial and match.reference.id == "rfc3665-3.1" and warnings(match) == []


def test_transactions_are_split_by_cseq_and_a_reused_number_after_a_final_response():
    call = Call().invite(A, B)  # Alice's CSeq 1
    call.req(B, A, "INVITE", 1, "sdp", in_dialog=True).resp(A, B, "INVITE", 200, 1, "sdp").req(B, A, "ACK", 1, in_dialog=True)
    units = transaction_units(call.steps)
    assert [(u.method, len(u.steps), u.in_dialog) for u in units] == [("INVITE", 4, False), ("INVITE", 3, True)]


def test_two_legs_that_share_no_column_are_matched_one_by_one():
    # A B2BUA with a public and a private address: Alice -> its public side (column 1), its
    # private side (column 3) -> Bob (column 4), each leg a whole call with its own CSeq.
    C, D = 3, 4
    call = Call().invite(A, P, 1).invite(C, D, 7)
    call.transaction(A, P, "BYE", 2).transaction(C, D, "BYE", 8)
    match, text = composed(call)
    assert text == "[rfc3665-3.1] + [rfc3665-3.1]"  # each leg the whole flow, its BYE included
    assert match.score == pytest.approx(1.0) and alignment_deviations(match.best) == []


def test_a_request_sent_again_without_credentials_is_a_new_attempt():
    # REGISTER, 401, REGISTER with credentials, 401 (refused): one failed registration
    # (RFC 3665 §2.5); REGISTER without credentials, 401, with credentials, 200: another flow.
    steps = Call()
    for cseq, auth, status in ((1, False, 401), (2, True, 401), (3, False, 401), (4, True, 200)):
        steps.req(A, B, "REGISTER", cseq, "contact", *(("auth",) if auth else ()))
        steps.resp(B, A, "REGISTER", status, cseq, *(("contact",) if status == 200 else ()))
    match, text = composed(steps)
    assert text == "rfc3665-2.5 + rfc3665-2.1" and alignment_deviations(match.best) == []


# --- the public corpus -----------------------------------------------------------------------

# Measured with this test's method (docs/CHECK.md, "How many calls match a reference"): 6 of
# the 277 calls outside the fuzzed captures (2.2%; 29 of 328, 8.8%, with them). The issue's
# target is at most 10%.
MAX_UNMATCHED = 0.10


def test_most_calls_of_the_public_corpus_match_a_reference(corpus):
    from ladder.calls.grouping import build_calls
    from ladder.capture.loader import load_capture
    from ladder.check.call_check import check_call
    from ladder.errors import UsageError

    total = unmatched = 0
    missed: list[str] = []
    notes = {shared_path(entry["file"]): (entry.get("notes") or "").lower() for entry in shared_manifest()}
    for path in corpus.paths:
        if "fuzz" in notes.get(path, ""):
            continue  # fuzzed junk (PROTOS, a fuzzed copy of aaa.pcap) needs no reference
        try:
            capture = load_capture(str(path), media=False)
        except UsageError:
            continue  # a file the fast reader leaves to tshark: not this test's subject
        for call in build_calls(capture):
            total += 1
            if check_call(call, capture, REFS).reference is None:
                unmatched += 1
                missed.append(f"{path.name} #{call.index}")
    assert total > (250 if corpus.whole else 20)
    assert unmatched / total <= MAX_UNMATCHED, missed


def test_fixtures_are_honest():
    # The helper builds what the tests say: a partial call's first request is in-dialog.
    call = Call().transaction(A, B, "UPDATE", 1)
    assert call.steps[0].in_dialog and replace(call.steps[0], in_dialog=False).in_dialog is False
