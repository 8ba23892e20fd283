"""How a call (or registration, OPTIONS ping …) ended, derived from its transactions.

Codes are stable kebab-case strings, in the words engineers use for a call: setup (INVITE
sent, nothing back yet but a 100), ringing (a 180/183), in-call (answered, no BYE in the
capture), completed (answered, then BYE), cancelled, rejected (with its code), busy,
redirected, failed (no response at all, or a proxy's 408 for a callee that never answered),
partial (the capture starts inside the dialog). Other groups: registered,
registration-failed, accepted, rejected, failed, setup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from decoders.quick_init import quick_init

if TYPE_CHECKING:
    from decoders.sip import SipMessage
    from ladder.calls.transactions import Transaction, TransactionSet

SETUP = "setup"
RINGING_NOW = "ringing"
IN_CALL = "in-call"
COMPLETED = "completed"
CANCELLED = "cancelled"
BUSY = "busy"
REJECTED = "rejected"
REDIRECTED = "redirected"
FAILED = "failed"
PARTIAL = "partial"
REGISTERED = "registered"
REGISTRATION_FAILED = "registration-failed"
ACCEPTED = "accepted"

RINGING = frozenset({180, 183})  # the callee is alerting (or playing early media)
AUTH_CHALLENGES = frozenset({401, 407})  # RFC 3261 §22: the UAC normally retries with credentials
_WITH_STATUS = frozenset({REJECTED, REDIRECTED, REGISTRATION_FAILED, BUSY, FAILED})


@quick_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """``code`` (kebab-case), the deciding final ``status`` if any, and a short ``detail``."""

    code: str
    status: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        text = self.code.replace("-", " ")
        if self.status is not None and self.code in _WITH_STATUS:
            text += f" {self.status}"
        return text


def _initial(transactions: "TransactionSet", method: str) -> list["Transaction"]:
    return [t for t in transactions.transactions if t.method == method and t.is_initial]


def _deciding_final(txns: list["Transaction"], caller_ip: str | None) -> "SipMessage | None":
    """The final response the caller saw last; an auth challenge only when nothing followed it."""
    def hop_finals(only_caller: bool) -> list["SipMessage"]:
        finals = []
        for txn in txns:
            if only_caller and caller_ip is not None:
                src = txn.request.src if txn.request is not None else None
                if src is None or src.ip != caller_ip:
                    continue
            if txn.final is not None:
                finals.append(txn.final)
        return finals

    finals = hop_finals(True) or hop_finals(False)
    if not finals:
        return None
    last = finals[-1]
    # A challenge followed by a retried INVITE that got no final yet is not a failure.
    if last.status in AUTH_CHALLENGES and txns and txns[-1].final is None:
        return None
    return last


def call_outcome(transactions: "TransactionSet", caller_ip: str | None) -> Outcome:
    """Outcome of an INVITE call (see the module docstring for the words)."""
    invites = _initial(transactions, "INVITE")
    all_txns = transactions.transactions
    if not invites:
        seen = ", ".join(dict.fromkeys(t.method for t in all_txns)) or "nothing"
        return Outcome(PARTIAL, None, f"the capture starts inside the call ({seen} seen, no initial INVITE)")
    for txn in invites:
        final = txn.final
        if final is not None and final.status is not None and 200 <= final.status < 300:
            if any(t.method == "BYE" for t in all_txns):
                return Outcome(COMPLETED, final.status, "answered, then BYE")
            return Outcome(IN_CALL, final.status, "answered; no BYE in the capture")
    ringing = any(s in RINGING for txn in invites for s in txn.statuses())
    cancelled = any(t.method == "CANCEL" for t in all_txns)
    final = _deciding_final(invites, caller_ip)
    if final is None:
        if cancelled:
            return Outcome(CANCELLED, None, "CANCEL without a final response" + (" after ringing" if ringing else ""))
        if not any(txn.responses for txn in invites):
            return Outcome(FAILED, None, "no response to the INVITE")
        if ringing:
            return Outcome(RINGING_NOW, None, "ringing; no final response in the capture")
        return Outcome(SETUP, None, "no final response in the capture")
    status = final.status or 0
    reason = f"{status} {final.reason or ''}".strip()
    if status == 487 or cancelled:
        return Outcome(CANCELLED, status, reason + (" after ringing" if ringing else ""))
    if status in (486, 600):
        return Outcome(BUSY, status, reason)
    if status in (408, 480) and not ringing and any(not txn.responses for txn in invites):
        # RFC 3665 §3.10: the callee never answered; a proxy gave up on its behalf.
        return Outcome(FAILED, status, reason + ": the callee never answered")
    if 300 <= status < 400:
        return Outcome(REDIRECTED, status, reason)
    return Outcome(REJECTED, status, reason + (" after ringing" if ringing else ""))


def request_outcome(transactions: "TransactionSet", method: str, kind: str) -> Outcome:
    """Outcome of a non-INVITE group (REGISTER, OPTIONS, SUBSCRIBE, MESSAGE …)."""
    txns = [t for t in transactions.transactions if t.method == method] or list(transactions.transactions)
    success = REGISTERED if kind == "registration" else ACCEPTED
    failure = REGISTRATION_FAILED if kind == "registration" else REJECTED
    for txn in txns:
        if txn.final_status is not None and 200 <= txn.final_status < 300:
            return Outcome(success, txn.final_status, "")
    final = _deciding_final(txns, None)
    if final is None:
        if txns and txns[-1].responses:
            return Outcome(SETUP, None, "no final response in the capture")
        return Outcome(FAILED, None, f"the last {method} got no response")
    status = final.status or 0
    reason = f"{status} {final.reason or ''}".strip()
    if 300 <= status < 400 and kind != "registration":
        return Outcome(REDIRECTED, status, reason)
    return Outcome(failure, status, reason)
