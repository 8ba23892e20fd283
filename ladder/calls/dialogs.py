"""SIP dialogs (RFC 3261 §12): Call-ID + the two tags, and how far each got.

States come from the transactions, not from a mutable state machine fed by the UI:
early (a 1xx with a To tag to a dialog-creating request), confirmed (a 2xx), terminated
(a 2xx to BYE, or a final response
that leaves an early dialog unconfirmed). A request forked by a proxy can
draw answers with several To tags: each is a separate dialog of the same call (§12.1.2, §13.2.2.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ladder.calls.transactions import TransactionSet

if TYPE_CHECKING:
    from decoders.sip import SipMessage

EARLY = "early"
CONFIRMED = "confirmed"
TERMINATED = "terminated"

# Requests that create dialogs (RFC 3261 §12.1; RFC 6665 §4.1 for SUBSCRIBE, RFC 3515 REFER).
DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


@dataclass(eq=False, slots=True)
class Dialog:
    """``caller_tag`` is the From tag of the creating request, ``callee_tag`` the To tag of
    the answer. ``confirmed_ns``/``terminated_ns`` are None until that happened in the capture."""

    call_id: str
    caller_tag: str
    callee_tag: str
    method: str
    state: str = EARLY
    early_ns: int | None = None
    confirmed_ns: int | None = None
    terminated_ns: int | None = None
    messages: list["SipMessage"] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.caller_tag, self.callee_tag)


def build_dialogs(messages: list["SipMessage"], transactions: TransactionSet) -> list[Dialog]:
    """The dialogs of one Call-ID group (or several), in the order they were created."""
    dialogs: dict[tuple[str, str, str], Dialog] = {}
    ordered: list[Dialog] = []

    def dialog_for(message: "SipMessage", creating_method: str, key: tuple[str, str, str]) -> Dialog:
        dialog = dialogs.get(key)
        if dialog is None:
            dialog = Dialog(
                call_id=message.call_id or "",
                caller_tag=message.from_tag or "",
                callee_tag=message.to_tag or "",
                method=creating_method,
            )
            dialogs[key] = dialog
            ordered.append(dialog)
        return dialog

    of = transactions.by_message.get  # (``transactions.of``)
    for message in messages:
        from_tag, to_tag = message.from_tag, message.to_tag
        if not (from_tag and to_tag):
            continue
        txn = of(id(message))
        method = txn.method if txn is not None else (message.method or "")
        status = message.status
        # A dialog's key: the Call-ID and the set of its two tags, whichever side sends (both
        # present here), as the pair in order: two pairs are equal exactly when the sets are
        # (a set of one tag, both the same: the pair of it twice).
        key = (message.call_id or "", from_tag, to_tag) if from_tag <= to_tag \
            else (message.call_id or "", to_tag, from_tag)
        existing = dialogs.get(key)
        creating = (
            not message.is_request
            and method in DIALOG_CREATING
            and txn is not None
            and txn.is_initial
            and status is not None
            and (100 < status < 300)
        )
        if existing is None and not creating:
            if message.is_request and message.method not in ("ACK", "CANCEL"):
                # A mid-dialog request whose dialog began before the capture did.
                dialog = dialog_for(message, method, key)
                dialog.state = CONFIRMED
                dialog.confirmed_ns = dialog.confirmed_ns or message.ts_ns
            else:
                continue
        else:
            dialog = existing or dialog_for(message, method, key)
        dialog.messages.append(message)
        if creating and status is not None:  # (creating implies a status: for the type checker)
            if status < 200 and dialog.state == EARLY and dialog.early_ns is None:
                dialog.early_ns = message.ts_ns
            elif status >= 200 and dialog.state != TERMINATED and dialog.confirmed_ns is None:
                dialog.state = CONFIRMED
                dialog.confirmed_ns = message.ts_ns
        elif not message.is_request and method == "BYE" and status is not None and 200 <= status < 300:
            dialog.state = TERMINATED
            dialog.terminated_ns = dialog.terminated_ns or message.ts_ns

    _end_early(ordered, transactions)
    return ordered


def _end_early(ordered: list[Dialog], transactions: TransactionSet) -> None:
    """An early dialog ends with its INVITE's non-2xx final (RFC 3261 §12.3)."""
    for dialog in ordered:
        if dialog.state != EARLY:
            continue
        for txn in transactions.transactions:
            if txn.method not in DIALOG_CREATING or not txn.is_initial or txn.request is None:
                continue
            if (txn.request.call_id or "") != dialog.call_id:
                continue
            if (txn.request.from_tag or "") != dialog.caller_tag:
                continue
            # A non-2xx final ends it; so does a 2xx that confirmed another fork (§13.2.2.4).
            final = txn.final
            if final is not None:
                dialog.state = TERMINATED
                dialog.terminated_ns = final.ts_ns
                break
