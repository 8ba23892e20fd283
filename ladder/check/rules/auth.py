"""Authentication (RFC 3261 §22): credentials that were rejected."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ladder.check.deviations import WARNING, Code, Deviation, deviation
from ladder.check.rules.facts import CallFacts

AUTH_FAILED = Code("auth-failed", WARNING, "RFC 3261 §22", "credentials rejected: a challenge repeated for the same realm, or 403 after credentials")  # fmt: skip
CODES = (AUTH_FAILED,)
_REALM_RE = re.compile(r"realm\s*=\s*\"([^\"]*)\"", re.IGNORECASE)
_STALE_RE = re.compile(r"stale\s*=\s*\"?true", re.IGNORECASE)


def rule_auth(facts: CallFacts) -> Iterable[Deviation]:
    """Credentials rejected (RFC 3261 §22.2, §22.3): a 401/407 challenging again a realm the
    request already answered (not ``stale=true``), or a 403 to a request with credentials.
    A new realm (a second proxy, RFC 3665 §3.3) is not a failure. (A call without credentials
    has nothing to report.)"""
    if not facts.carries("authorization") and not facts.carries("proxy-authorization"):
        return
    reported: set[tuple] = set()
    for txn in facts.txns.transactions:
        request = txn.request
        if request is None:
            continue
        answered = {
            realm.lower()
            for name in ("authorization", "proxy-authorization")
            for value in request.header_values(name)
            for realm in _REALM_RE.findall(value)
        }
        if not answered:
            continue
        for response in txn.responses:
            if facts.is_retransmission(response):
                continue
            failed = False
            if response.status == 403:
                failed, why = True, "403 Forbidden after credentials"
            elif response.status in (401, 407):
                header = "www-authenticate" if response.status == 401 else "proxy-authenticate"
                challenges = [v for v in response.header_values(header) if not _STALE_RE.search(v)]
                again = {r.lower() for v in challenges for r in _REALM_RE.findall(v)} & answered
                if again:
                    failed, why = True, f"realm {sorted(again)[0]!r} challenged again"
            if not failed:
                continue
            key = (request.call_id, request.cseq)
            if key in reported:
                continue
            reported.add(key)
            yield deviation(
                AUTH_FAILED,
                f"{facts.name(response)} rejects the credentials of {facts.name(request)}: {why} "
                "(RFC 3261 §22)",
                f=facts.fs([response]), frames=facts.frames([response]),
            )  # fmt: skip
