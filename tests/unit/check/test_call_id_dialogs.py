"""The dialogs a Call-ID holds (``ladder.check.rules.dialogs``) on RFC 3665's own messages, edited
where a case the audit's captures (tests/audit/) lack must stay silent."""

from __future__ import annotations

from test_check import Mutation, mutated, sample


def test_a_retry_after_a_challenge_under_a_new_from_tag_is_no_call_id_reuse(tmp_path):
    """RFC 3665 §3.2 with the INVITE resubmitted after the 407 (F4) under another From tag, the
    rest of the call following it. §8.1.3.5 asks a retry to keep the From tag (SHOULD), but the
    first INVITE failed before it: no dialog of it stands, so the Call-ID is not reused
    (§8.1.1.4), and the retry stays with its challenge: §3.2 as before."""
    mutation = Mutation(sample("3.2"))
    for f in range(4, 23):
        if b"tag=9fxced76sl" in mutation.by_f[f].raw:
            mutation.rewrite(f, b"tag=9fxced76sl", b"tag=4b1d0c3e77")
    result, _ = mutated(tmp_path, mutation)
    assert result.reference == "rfc3665-3.2"
    assert [d.code for d in result.deviations if d.code in ("call-id-reused", "bye-outside-dialog")] == []
    assert result.composition == ()


def test_a_bye_in_its_dialog_is_silent():
    """RFC 3665 §3.1: the BYE follows the 200 that made its dialog (§12.1): no finding."""
    from test_check import check_file

    result, _, _ = check_file(sample("3.1"))
    assert [d for d in result.deviations if d.code in ("bye-outside-dialog", "call-id-reused")] == []
