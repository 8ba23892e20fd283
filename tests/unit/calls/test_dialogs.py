"""Dialogs (RFC 3261 §12) on RFC 3665 message texts."""

from __future__ import annotations

import dataclasses

from test_calls_rfc3665 import rfc3665_messages
from ladder.calls.dialogs import CONFIRMED, TERMINATED, build_dialogs
from ladder.calls.transactions import build_transactions


def dialogs_of(messages):
    return build_dialogs(messages, build_transactions(messages))


def test_answered_call_is_confirmed_then_terminated_by_bye():
    (dialog,) = dialogs_of(rfc3665_messages("3.1"))
    assert dialog.state == TERMINATED
    assert dialog.confirmed_ns is not None and dialog.early_ns is not None
    assert dialog.caller_tag and dialog.callee_tag


def test_busy_call_has_no_confirmed_dialog():
    dialogs = dialogs_of(rfc3665_messages("3.9"))
    assert all(d.state != CONFIRMED for d in dialogs)


def test_early_dialog_ends_with_the_non_2xx_final():
    (dialog,) = dialogs_of(rfc3665_messages("3.11"))  # 180 then 480
    assert dialog.state == TERMINATED and dialog.confirmed_ns is None


def test_forked_answers_are_separate_dialogs():
    messages = rfc3665_messages("3.1")
    ringing = next(m for m in messages if m.status == 180)
    forked = dataclasses.replace(ringing, to_addr=dataclasses.replace(
        ringing.to_addr, params={**ringing.to_addr.params, "tag": "fork2"}))
    position = messages.index(ringing) + 1
    dialogs = dialogs_of(messages[:position] + [forked] + messages[position:])
    assert len(dialogs) == 2
    assert {d.callee_tag for d in dialogs} == {ringing.to_tag, "fork2"}
    assert next(d for d in dialogs if d.callee_tag == "fork2").state == TERMINATED
