"""Dialogs a Call-ID holds (RFC 3261 §8.1.1.4, §12, §15): a UAC that starts a second dialog in
the Call-ID of its first one, and a BYE sent where no dialog exists.

RFC 3261 §8.1.1.4: a new request outside a dialog gets a Call-ID unique across space and time;
only the requests of one dialog (and the retry of a failed request, §8.1.3.5) share it. So a
second dialog-creating INVITE (no To tag) with another From tag, *from the same sender*, while
its first one stands (answered with a 2xx or not answered yet), reuses the Call-ID: SIPp's 3pcc
controller does this to its two parties (RFC 3725 flow I with one Call-ID). Legal and silent:

- forking (one INVITE, one From tag, several To tags: §12.1, §16.7);
- a B2BUA's outgoing legs (another From tag, sent by a node that received an INVITE of the
  Call-ID before: a new UAC, RFC 7092 §3, keeping the Call-ID to correlate its legs, even when
  it forks to several);
- a retry after a failure (401, 407, 491 ...): the earlier INVITE ended with a non-2xx before it
  (§8.1.3.5 asks for the same From tag, but no dialog of the first stands to be confused with).

``dialog_numbers`` gives each message of such a call, and of a B2BUA's whose legs share the
Call-ID, the number of its dialog (1, 2 ...) by the From tag of the INVITE that created it, so
the matcher composes the call dialog by dialog: the second INVITE is no re-INVITE of the first,
and a B2BUA that ACKs its leg's 2xx or answers a BYE itself (each leg its own dialog, RFC 7092
§3, RFC 3261 §13.2.2.4, §15.1.2) is not held to a proxy's order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ladder.check.deviations import INFO, WARNING, Code, Deviation, deviation
from ladder.check.rules.facts import CallFacts

if TYPE_CHECKING:
    from decoders.sip import SipMessage

CALL_ID_REUSED = Code("call-id-reused", WARNING, "RFC 3261 §8.1.1.4", "a second dialog-creating INVITE from the same UA in the Call-ID of a dialog it still holds, with another From tag")  # fmt: skip
BYE_OUTSIDE_DIALOG = Code("bye-outside-dialog", WARNING, "RFC 3261 §15, §12.3", "a BYE for a dialog that does not exist: its INVITE got a non-2xx final response (info: the UAS accepted it, which §12.2.2 allows)")  # fmt: skip
CODES = (CALL_ID_REUSED, BYE_OUTSIDE_DIALOG)

Sides = Callable[["SipMessage"], tuple[Hashable, Hashable]]  # (sender, receiver) nodes


def _creates(message: "SipMessage") -> bool:
    return message.is_request and message.method == "INVITE" and not message.to_tag and message.from_tag is not None


def _opens(message: "SipMessage") -> bool:
    """A dialog-creating INVITE whose (non-empty) From tag tells its dialog apart."""
    return message.method == "INVITE" and message.is_request and not message.to_tag and bool(message.from_tag)


def _failures(messages: Sequence["SipMessage"]) -> dict[tuple, int]:
    """(Call-ID, CSeq, From tag) of an INVITE -> the earliest time a final response of 300 or
    more to it was seen: what ``_failed_before`` asks, indexed once per call instead of scanning
    every message for every pair of INVITEs (a flood of INVITEs in one Call-ID made that cubic)."""
    at: dict[tuple, int] = {}
    for m in messages:
        if not m.is_request and (m.status or 0) >= 300 and m.method == "INVITE":
            key = (m.call_id, m.cseq, m.from_tag)
            if key not in at or m.ts_ns < at[key]:
                at[key] = m.ts_ns
    return at


def _refused_at(failures: dict[tuple, int], invite: "SipMessage") -> int | None:
    """When ``invite`` first got a final response of 300 or more (``_failures``), or None."""
    return failures.get((invite.call_id, invite.cseq, invite.from_tag))


def _failed_before(failures: dict[tuple, int], invite: "SipMessage", before: "SipMessage") -> bool:
    """Whether ``invite`` got a final response of 300 or more before ``before`` was sent."""
    at = _refused_at(failures, invite)
    return at is not None and at <= before.ts_ns


def _new_dialogs(messages: Sequence["SipMessage"], failures: dict[tuple, int],
                 group: Callable[["SipMessage"], Hashable], eligible: Callable[["SipMessage"], bool] = lambda m: True,
                 ) -> Iterator[tuple["SipMessage", Iterator["SipMessage"]]]:
    """For each dialog-creating INVITE whose (Call-ID, From tag) is new, in capture order: it and,
    lazily, the earlier such INVITEs of its ``group`` (a Call-ID, or a Call-ID and a sender) that
    are ``eligible`` and stand (not refused before it), in the order they came. A refused INVITE is dropped from its
    group once it was refused before every INVITE still to come (the least time of those), so it
    is never asked about again: a flood of refused INVITEs stays linear."""
    creating = [m for m in messages if _opens(m)]
    least_to_come = [0] * len(creating)
    least = None
    for index in range(len(creating) - 1, -1, -1):
        ts = creating[index].ts_ns
        least = ts if least is None or ts < least else least
        least_to_come[index] = least
    seen: set[tuple] = set()
    standing: dict[Hashable, list["SipMessage"]] = {}
    for index, message in enumerate(creating):
        key = (message.call_id, message.from_tag)
        if key in seen:
            continue  # a retransmission, a relayed copy, or the same dialog's retry after a challenge
        seen.add(key)
        earlier = standing.setdefault(group(message), [])
        yield message, _standing(earlier, failures, message, least_to_come[index])
        if eligible(message):
            earlier.append(message)


def _standing(earlier: list["SipMessage"], failures: dict[tuple, int], message: "SipMessage",
              floor: int) -> Iterator["SipMessage"]:
    """The INVITEs of ``earlier`` not refused before ``message``, in order; one refused at or
    before ``floor`` (no INVITE to come is older) is removed from ``earlier`` on the way."""
    index = 0
    while index < len(earlier):
        first = earlier[index]
        at = _refused_at(failures, first)
        if at is not None and at <= floor:
            del earlier[index]
            continue
        if at is None or at > message.ts_ns:
            yield first
        index += 1


def _second_dialog_failures(messages: Sequence["SipMessage"]) -> dict[tuple, int] | None:
    """The call's refusals (``_failures``) when a dialog-creating INVITE's From tag is new in its
    Call-ID while an earlier one there stands (not refused before it: a retry after a failure
    starts over, §8.1.3.5); None when none does. ``messages`` in capture order. A proxy keeps
    the From tag (§16.6), so the second is another UAC's dialog: the same node's
    (``reused_invites``) or a B2BUA's outgoing leg."""
    if len({(m.call_id, m.from_tag) for m in messages if _opens(m)}) < 2:
        return None  # the common case: one dialog-creating From tag per Call-ID
    failures = _failures(messages)
    standing = any(next(earlier, None) is not None
                   for _, earlier in _new_dialogs(messages, failures, lambda m: m.call_id))
    return failures if standing else None


def holds_second_dialogs(messages: Sequence["SipMessage"]) -> bool:
    """Whether the call's Call-ID holds a second UAC's dialog beside a standing first one
    (``_second_dialog_failures``)."""
    return _second_dialog_failures(messages) is not None


def reused_invites(messages: Sequence["SipMessage"], sides: Sides) -> list[tuple["SipMessage", "SipMessage"]]:
    """The second dialogs (``holds_second_dialogs``) sent from the node that sent the first, which
    had received no dialog-creating INVITE of that Call-ID before (else it relays a call as a
    B2BUA, whose outgoing legs may all keep the incoming Call-ID, RFC 7092 §3): one UAC reusing
    the Call-ID it made (module docstring); one pair per second dialog, with the first such
    first dialog."""
    failures = _second_dialog_failures(messages)
    if failures is None:
        return []
    received: dict[tuple, int] = {}  # (Call-ID, node) -> when it first received a dialog-creating INVITE
    for m in messages:
        if _creates(m):
            key = (m.call_id, sides(m)[1])
            if key not in received or m.ts_ns < received[key]:
                received[key] = m.ts_ns

    def sent_before_receiving(first: "SipMessage") -> bool:
        limit = received.get((first.call_id, sides(first)[0]))
        return limit is None or limit > first.ts_ns

    found: list[tuple["SipMessage", "SipMessage"]] = []
    for second, earlier in _new_dialogs(messages, failures, lambda m: (m.call_id, sides(m)[0]),
                                        sent_before_receiving):
        first = next(earlier, None)
        if first is not None:
            found.append((first, second))
    return found


def dialog_numbers(messages: Sequence["SipMessage"], sides: Sides) -> dict[int, int]:
    """``id(message)`` -> the number (1, 2 ...) of the dialog it belongs to, for a call whose
    Call-ID holds the dialogs of two UACs at once (``holds_second_dialogs``: a UAC reusing it, a
    B2BUA keeping it for its outgoing leg); empty otherwise. A message belongs to the dialog
    whose creating From tag is its From tag (the caller's requests and their responses) or its
    To tag (the callee's requests and theirs); other messages get 0. An INVITE sent again by
    the node whose INVITE of another From tag was refused before it is that attempt's retry
    (§8.1.3.5, a new tag or not): one dialog, so that a challenge stays with its retry."""
    failures = _second_dialog_failures(messages)
    if failures is None:
        return {}
    number: dict[tuple, int] = {}
    dialogs = 0
    refused: dict[tuple, list["SipMessage"]] = {}  # (Call-ID, sender) -> its refused INVITEs so far
    for message in (m for m in messages if _creates(m)):
        key = (message.call_id, message.from_tag)
        group = (message.call_id, sides(message)[0])
        if key not in number:
            retried = next((m for m in reversed(refused.get(group, ())) if _failed_before(failures, m, message)), None)
            if retried is not None:
                number[key] = number[(retried.call_id, retried.from_tag)]
            else:
                dialogs += 1
                number[key] = dialogs
        if _refused_at(failures, message) is not None:
            refused.setdefault(group, []).append(message)
    found: dict[int, int] = {}
    for message in messages:
        found[id(message)] = number.get((message.call_id, message.from_tag)) or number.get(
            (message.call_id, message.to_tag), 0)
    return found


def rule_call_id_reuse(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §8.1.1.4: a UAC's new dialog gets a new Call-ID (see the module docstring). (A
    second dialog needs a second dialog-creating INVITE: a call with one INVITE has none.)"""
    if len(facts.requests("INVITE")) < 2:
        return
    for first, second in reused_invites(facts.messages, facts.sides):
        yield deviation(
            CALL_ID_REUSED,
            f"{facts.name(second)} starts a new dialog (no To tag, From tag {second.from_tag}) in the Call-ID of "
            f"{facts.name(first)} (From tag {first.from_tag}), sent from the same node and not refused; a request "
            "outside a dialog MUST get a Call-ID unique across space and time (RFC 3261 §8.1.1.4)",
            f=facts.fs([second]), frames=facts.frames([second]),
        )  # fmt: skip


def _tags(message: "SipMessage") -> frozenset:
    return frozenset((message.from_tag, message.to_tag))


def rule_bye_outside_dialog(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §15: "A UA MUST NOT send a BYE outside of a dialog". A dialog is made by a 2xx
    (or, early, a 1xx with a To tag) to the INVITE; a non-2xx final response ends the early
    ones (§12.3). So a BYE after its sender received such a final response for the INVITE of its
    Call-ID and tags, with no 2xx between those tags before it, names no dialog. Its UAS may
    answer 481 (§12.2.2 "MUST ... if it rejects") or accept it to recover a dialog it lost
    (§12.2.2 "MAY"): an accepting answer is info. A capture without the INVITE tells nothing."""
    byes = [m for m in facts.requests("BYE") if m.to_tag and not facts.is_retransmission(m)]
    if not byes or all((m.status or 0) < 300 for m in facts.responses("INVITE")):
        return  # (no BYE, or no final response that could have ended the dialog: nothing to report)
    answered: dict[tuple, list["SipMessage"]] = {}  # (Call-ID, tags) -> the INVITE's responses with a To tag
    for m in facts.responses("INVITE"):
        if m.to_tag and m.from_tag:
            answered.setdefault((m.call_id, _tags(m)), []).append(m)
    reported: set[tuple] = set()
    for bye in byes:
        dialog = answered.get((bye.call_id, _tags(bye)), [])
        if any(200 <= (m.status or 0) < 300 and m.ts_ns <= bye.ts_ns for m in dialog):
            continue
        sender = facts.sides(bye)[0]
        failed = next((m for m in dialog if (m.status or 0) >= 300 and m.ts_ns <= bye.ts_ns
                       and facts.sides(m)[1] == sender), None)
        key = (bye.call_id, bye.cseq, bye.from_tag)
        if failed is None or key in reported:
            continue  # no final response seen by its sender: the dialog may stand (or the capture misses it)
        reported.add(key)  # the same BYE relayed by a proxy: one finding
        yield deviation(
            BYE_OUTSIDE_DIALOG,
            f"{facts.name(bye)} is sent for a dialog that does not exist: its INVITE was answered "
            f"{facts.name(failed)}, a non-2xx final response, which ends any early dialog (RFC 3261 §12.3); "
            "a UA MUST NOT send a BYE outside of a dialog (§15)",
            f=facts.fs([bye]), frames=facts.frames([bye]),
        )  # fmt: skip
        txn = facts.txns.of(bye)
        accepted = [r for r in (txn.responses if txn is not None else ())
                    if 200 <= (r.status or 0) < 300 and not facts.is_retransmission(r)]
        if accepted:
            yield deviation(
                BYE_OUTSIDE_DIALOG,
                f"{facts.name(accepted[0])} accepts {facts.name(bye)}, a BYE for a dialog its INVITE never made "
                f"({facts.name(failed)}): a UAS MAY accept a request for an unknown dialog to recover one it lost, "
                "and MUST answer 481 when it rejects it (RFC 3261 §12.2.2)",
                f=facts.fs(accepted), frames=facts.frames(accepted), severity=INFO,
            )  # fmt: skip
