"""Rules that need no reference flow: RFC 3261 transactions, timers, proxies, dialogs and
framing; RFC 3262 and RFC 6665 follow-ups; RFC 3264 offer/answer. Each finding cites its section.

One module per family; each declares its codes (name, default severity, the RFC section) beside
the rules that report them, and lists them in ``CODES``. A new rule goes in the module of its
family (or a new one): declare its ``Code``, write ``rule_…(facts: CallFacts)``, add both to
that module's ``CODES`` and to ``RULES`` below (which fixes the order findings come in).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING

from ladder.calls.transactions import TransactionSet
from ladder.check.deviations import Code, Deviation
from ladder.check.rules import auth, cseq, dialogs, follow_ups, offer_answer, routing, syntax, transactions, uas_copies
from ladder.check.rules.auth import rule_auth
from ladder.check.rules.cseq import rule_cseq, rule_register_cseq
from ladder.check.rules.dialogs import rule_bye_outside_dialog, rule_call_id_reuse
from ladder.check.rules.facts import CallFacts, RuleSettings
from ladder.check.rules.follow_ups import rule_notify, rule_prack
from ladder.check.rules.offer_answer import rule_sdp_answer, rule_sdp_version
from ladder.check.rules.routing import rule_max_forwards, rule_route_set
from ladder.check.rules.syntax import rule_branch_cookie, rule_content_length, rule_duplicate_parameter, rule_oversized_udp
from ladder.check.rules.transactions import (
    rule_cancel, rule_missing_ack, rule_no_final_response, rule_no_retransmission, rule_retransmissions, rule_timers,
)  # fmt: skip
from ladder.check.rules.uas_copies import rule_response_without_via, rule_to_tag, rule_uas_copies

if TYPE_CHECKING:
    from decoders.sip import SipMessage

__all__ = ["CODES", "RULES", "CallFacts", "RuleSettings", "check_rules"]

# The codes of these rules, family by family (``ladder.check.codes`` adds the reference
# matcher's and the media's).
CODES: tuple[Code, ...] = (
    *transactions.CODES, *routing.CODES, *cseq.CODES, *uas_copies.CODES, *syntax.CODES,
    *follow_ups.CODES, *auth.CODES, *offer_answer.CODES, *dialogs.CODES,
)  # fmt: skip


def check_rules(
    messages: Sequence["SipMessage"],
    *,
    number: Callable[["SipMessage"], int | None] | None = None,
    sides: Callable[["SipMessage"], tuple[Hashable, Hashable]] | None = None,
    settings: RuleSettings | None = None,
    transactions: TransactionSet | None = None,
) -> list[Deviation]:
    """Every reference-free finding for one call's ``messages`` (capture order)."""
    facts = CallFacts(messages, number, sides, settings or RuleSettings(), transactions)
    found: list[Deviation] = []
    for rule in RULES:
        found.extend(rule(facts))
    return found


RULES: tuple[Callable[[CallFacts], Iterable[Deviation]], ...] = (
    rule_missing_ack,
    rule_retransmissions,
    rule_timers,
    rule_no_final_response,
    rule_cancel,
    rule_max_forwards,
    rule_route_set,
    rule_cseq,
    rule_register_cseq,
    rule_to_tag,
    rule_uas_copies,
    rule_response_without_via,
    rule_duplicate_parameter,
    rule_prack,
    rule_notify,
    rule_no_retransmission,
    rule_branch_cookie,
    rule_content_length,
    rule_oversized_udp,
    rule_auth,
    rule_sdp_answer,
    rule_sdp_version,
    rule_call_id_reuse,
    rule_bye_outside_dialog,
)

