"""SIP transactions (RFC 3261 §17): which messages belong to one request/response exchange,
and which of them are retransmissions.

A transaction is keyed per hop: a proxy forwards a request with a NEW top Via branch, so each
hop is its own transaction. RFC 3261 key (§17.1.3, §17.2.3): top Via branch + sent-by + method,
where ACK for a non-2xx final shares its INVITE's transaction and CANCEL is its own transaction
linked to the INVITE with the same branch. Branches without the magic cookie ``z9hG4bK`` come
from RFC 2543 peers and are matched on Call-ID, CSeq, From tag and the whole top Via instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from decoders.records import Endpoint

if TYPE_CHECKING:
    from decoders.sip import SipMessage

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7


@dataclass(eq=False, slots=True)
class Transaction:
    """One transaction on one hop, in capture order.

    ``messages`` holds every message (requests, responses, the ACK of a non-2xx final),
    retransmissions included; ``retransmissions`` holds the ids of those that repeat an
    earlier message. Aggregates compare by identity.
    """

    key: tuple
    method: str
    request: "SipMessage | None" = None
    messages: list["SipMessage"] = field(default_factory=list)
    retransmissions: set[int] = field(default_factory=set)
    ack: "SipMessage | None" = None  # ACK of a non-2xx final (same transaction, §17.1.1.3)
    cancel: "Transaction | None" = None  # the CANCEL transaction aimed at this INVITE
    cancels: "Transaction | None" = None  # for a CANCEL: the INVITE transaction it cancels
    rfc2543: bool = False

    @property
    def responses(self) -> list["SipMessage"]:
        return [m for m in self.messages if not m.is_request]

    @property
    def final(self) -> "SipMessage | None":
        """The first final (>= 200) response, or None."""
        for message in self.messages:
            if not message.is_request and message.status is not None and message.status >= 200:
                return message
        return None

    @property
    def final_status(self) -> int | None:
        final = self.final
        return final.status if final is not None else None

    def statuses(self) -> list[int]:
        return [m.status for m in self.messages if not m.is_request and m.status is not None]

    def is_retransmission(self, message: "SipMessage") -> bool:
        return id(message) in self.retransmissions

    @property
    def start_ns(self) -> int:
        return self.messages[0].ts_ns if self.messages else 0

    @property
    def is_initial(self) -> bool:
        """A dialog-creating request outside any dialog (no To tag, RFC 3261 §12.1)."""
        return self.request is not None and not self.request.to_tag


@dataclass(frozen=True, slots=True)
class TransactionSet:
    """All transactions of a group of messages and, for each message, its transaction."""

    transactions: tuple[Transaction, ...]
    by_message: dict[int, Transaction]

    def of(self, message: "SipMessage") -> Transaction | None:
        return self.by_message.get(id(message))

    def is_retransmission(self, message: "SipMessage") -> bool:
        txn = self.of(message)
        return txn is not None and txn.is_retransmission(message)


def _cseq(message: "SipMessage") -> tuple[int | None, str]:
    cseq = message.cseq
    if not cseq:
        return None, (message.method or "").upper()
    number, method = cseq
    return number, (method or message.method or "").upper()


def _rfc3261_base(message: "SipMessage") -> tuple | None:
    """(branch, sent-by) when the branch carries the magic cookie, else None."""
    via = message.top_via  # (read once: asked of every message)
    if via is None:
        return None
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE):
        return ("3261", branch, via.sent_by().lower())
    return None


def _rfc2543_base(message: "SipMessage") -> tuple:
    """RFC 3261 §17.2.3 backwards-compatible match: Call-ID, CSeq number, From tag and the top
    Via. The To tag and Request-URI are left out so responses (which add a To tag) still match."""
    number, _ = _cseq(message)
    via = message.top_via
    via_text = ""
    if via is not None:
        via_text = f"{via.transport} {via.sent_by().lower()} {via.branch or ''}"
    return ("2543", message.call_id or "", number, message.from_tag or "", via_text)


def _signature(message: "SipMessage") -> tuple:
    """What makes a message "the same message again" on the same hop (a retransmission)."""
    number, method = _cseq(message)
    src: object = message.src
    dst: object = message.dst
    # An endpoint as its fields: what an ``Endpoint`` compares and hashes by, its class being
    # the same (the tuple's hash is C's, the frozen dataclass's a Python call).
    if type(src) is Endpoint:
        src = (src.ip, src.port, src.transport)
    if type(dst) is Endpoint:
        dst = (dst.ip, dst.port, dst.transport)
    if message.is_request:
        return ("req", src, dst, message.method, message.request_uri, number, method)
    # A retransmitted response is the same response again (§17.2.1), body and all: a UAS may
    # send several provisionals of one status (a 183 without SDP, then one with it), and a
    # later one that carries a body the first did not is news, not a repeat.
    return ("resp", src, dst, message.status, message.to_tag or "", number, method, message.body)


def _rseq(message: "SipMessage") -> int | str | None:
    """The RSeq of a provisional response (RFC 3262 §7.1), read only when a provisional would
    otherwise repeat an earlier one: on a message read back, it is a full parse."""
    value = message.header("RSeq")
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isdigit() else text


def _repeats(message: "SipMessage", earlier: list["SipMessage"]) -> bool:
    """Whether ``message``, with the signature of each of ``earlier``, is one of them again. A
    reliable provisional is a retransmission only with the same RSeq too (RFC 3262 §4: "when
    its dialog ID, CSeq, and RSeq match the original response"): a UAS sends each further
    reliable provisional of a request with the next RSeq, the same status and body allowed."""
    if message.is_request or not 101 <= (message.status or 0) <= 199:
        return True
    rseq = _rseq(message)
    return any(_rseq(first) == rseq for first in earlier)


class _Builder:
    def __init__(self) -> None:
        self.by_key: dict[tuple, Transaction] = {}
        self.by_branch: dict[tuple, Transaction] = {}  # (branch, method) of requests with the cookie
        self.ordered: list[Transaction] = []
        self.by_message: dict[int, Transaction] = {}
        # per transaction and kind of message (request, or response of one status): its first
        # sending, or once there are two, signature -> its firsts
        self.seen: dict[int, dict[tuple, Any]] = {}

    def _get(self, key: tuple, method: str, rfc2543: bool) -> Transaction:
        txn = self.by_key.get(key)
        if txn is None:
            # (every field given in order, its default for the rest: a third of the keywords' cost)
            txn = Transaction(key, method, None, [], set(), None, None, None, rfc2543)
            self.by_key[key] = txn
            self.ordered.append(txn)
            if not rfc2543:
                self.by_branch.setdefault((key[1], method), txn)
        return txn

    def add(self, message: "SipMessage") -> None:
        # ``_cseq`` and ``_rfc3261_base`` inlined (asked of every message of every call
        # ``ladder check`` builds): the same values, the CSeq read once.
        cseq = message.cseq
        is_request = message.is_request
        if cseq:
            number, cseq_method = cseq[0], (cseq[1] or message.method or "").upper()
        else:
            number, cseq_method = None, (message.method or "").upper()
        method = (message.method or cseq_method).upper() if is_request else cseq_method
        via = message.top_via
        branch = via.branch if via is not None else None
        if via is not None and branch and branch.startswith(MAGIC_COOKIE):
            port = via.port
            rfc2543 = False
            base: tuple = ("3261", branch, (via.host if port is None else f"{via.host}:{port}").lower())
        else:
            rfc2543 = True
            base = _rfc2543_base(message)
        txn = self._place(message, base, method, rfc2543)
        # Retransmissions: ``_signature`` made only when the transaction already has a message of
        # this kind (a request; a response of this status), since no other can share it (the
        # signature holds the kind and the status): a call's messages mostly have none.
        kind = (is_request, message.status)
        seen = self.seen.get(id(txn))
        if seen is None:
            seen = self.seen[id(txn)] = {}
        bucket = seen.get(kind)
        if bucket is None:
            seen[kind] = message  # the first sending of its kind, its signature not made
        else:
            if type(bucket) is not dict:  # (a message, not a dict: see above)
                bucket = seen[kind] = {_signature(bucket): [bucket]}
            signature = _signature(message)
            earlier = bucket.get(signature)
            if earlier is None:  # (a list there is never empty once made: the first sending is in it)
                bucket[signature] = [message]
            elif _repeats(message, earlier):
                txn.retransmissions.add(id(message))
            else:
                earlier.append(message)
        txn.messages.append(message)
        self.by_message[id(message)] = txn

    def _place(self, message: "SipMessage", base: tuple, method: str, rfc2543: bool) -> Transaction:
        if method == "ACK" and message.is_request:
            invite = self.by_key.get(base + ("INVITE",))
            # §17.1.1.3: the ACK of a non-2xx final reuses the INVITE's branch and belongs to
            # that transaction; an ACK for a 2xx is a transaction of its own (§13.2.2.4).
            if invite is not None and self._acks_non_2xx(invite, rfc2543):
                if invite.ack is None:
                    invite.ack = message
                return invite
            txn = self._get(base + ("ACK",), "ACK", rfc2543)
            if txn.request is None:
                txn.request = message
            return txn
        key = base + (method,)
        known_txn = self.by_key.get(key)
        if known_txn is None and not message.is_request and not rfc2543:
            # §17.1.3: a client matches a response on the top Via's branch and the CSeq method;
            # a sent-by the far end rewrote (a wrong port) does not make it another transaction.
            known = self.by_branch.get((base[1], method))
            if known is not None:
                return known
        txn = known_txn if known_txn is not None else self._get(key, method, rfc2543)
        if message.is_request and txn.request is None:
            txn.request = message
        if method == "CANCEL" and txn.cancels is None:
            invite = self.by_key.get(base + ("INVITE",))
            if invite is not None:
                txn.cancels = invite
                invite.cancel = txn
        return txn

    @staticmethod
    def _acks_non_2xx(invite: Transaction, rfc2543: bool) -> bool:
        final = invite.final_status
        if not rfc2543:
            # Same magic-cookie branch as the INVITE: by construction the non-2xx ACK, unless
            # the INVITE was answered with a 2xx (then it is a UA reusing branches badly).
            return final is None or final >= 300
        return final is not None and final >= 300


def build_transactions(messages: Iterable["SipMessage"]) -> TransactionSet:
    """Group messages (in capture order) into transactions and mark retransmissions."""
    builder = _Builder()
    for message in messages:
        builder.add(message)
    return TransactionSet(tuple(builder.ordered), builder.by_message)
