"""How a call (or registration, OPTIONS ping …) ended, derived from its transactions.

Codes are stable kebab-case strings: answered, cancelled, busy, rejected, redirected,
no-answer, no-response, in-progress, registered, registration-failed, accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decoders.sip import SipMessage
    from ladder.transactions import Transaction, TransactionSet

ANSWERED = "answered"
CANCELLED = "cancelled"
BUSY = "busy"
REJECTED = "rejected"
REDIRECTED = "redirected"
NO_ANSWER = "no-answer"
NO_RESPONSE = "no-response"
IN_PROGRESS = "in-progress"
REGISTERED = "registered"
REGISTRATION_FAILED = "registration-failed"
ACCEPTED = "accepted"

RINGING = frozenset({180, 183})  # the callee is alerting (or playing early media)
AUTH_CHALLENGES = frozenset({401, 407})  # RFC 3261 §22: the UAC normally retries with credentials
_WITH_STATUS = frozenset({REJECTED, REDIRECTED, REGISTRATION_FAILED})


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
    """Outcome of an INVITE call, following the RFC 3665 §3 flows' vocabulary."""
    invites = _initial(transactions, "INVITE")
    all_txns = transactions.transactions
    if not invites:
        byes = [t for t in all_txns if t.method == "BYE"]
        if byes:
            return Outcome(ANSWERED, None, "answered before the capture started")
        return Outcome(IN_PROGRESS, None, "no initial INVITE in the capture")
    for txn in invites:
        final = txn.final
        if final is not None and final.status is not None and 200 <= final.status < 300:
            ended = any(t.method == "BYE" for t in all_txns)
            return Outcome(ANSWERED, final.status, "" if ended else "no BYE in the capture")
    ringing = any(s in RINGING for txn in invites for s in txn.statuses())
    cancelled = any(t.method == "CANCEL" for t in all_txns)
    gave_up = NO_ANSWER if ringing else CANCELLED
    final = _deciding_final(invites, caller_ip)
    if final is None:
        if cancelled:
            return Outcome(gave_up, None, "CANCEL without a final response")
        if not any(txn.responses for txn in invites):
            return Outcome(NO_RESPONSE, None, "the INVITE got no response at all")
        return Outcome(IN_PROGRESS, None, "no final response in the capture")
    status = final.status or 0
    reason = f"{status} {final.reason or ''}".strip()
    if status == 487 or cancelled:
        return Outcome(gave_up, status, reason)
    if status in (486, 600):
        return Outcome(BUSY, status, reason)
    if status in (408, 480):
        if ringing:
            return Outcome(NO_ANSWER, status, reason)
        # RFC 3665 §3.10: the callee never answered; a proxy gave up on its behalf.
        if any(not txn.responses for txn in invites):
            return Outcome(NO_RESPONSE, status, reason)
    if 300 <= status < 400:
        return Outcome(REDIRECTED, status, reason)
    return Outcome(REJECTED, status, reason)


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
            return Outcome(IN_PROGRESS, None, "no final response in the capture")
        return Outcome(NO_RESPONSE, None, f"the last {method} got no response")
    status = final.status or 0
    reason = f"{status} {final.reason or ''}".strip()
    if 300 <= status < 400 and kind != "registration":
        return Outcome(REDIRECTED, status, reason)
    return Outcome(failure, status, reason)
