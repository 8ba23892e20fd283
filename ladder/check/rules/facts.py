"""What every rule reads about one call (``CallFacts``): its messages in capture order, their
transactions, the F-number and the ladder columns of each message, and the timer settings.

Rules read a call's messages in capture order (``SipMessage`` with src/dst/ts_ns set) and
return ``Deviation`` records. Two callables tie them to a ladder: ``number(message)`` gives the
F-number shown for a message, ``sides(message)`` the (sender, receiver) nodes (ladder columns,
so that a UA's TCP source ports do not make it several nodes). Both have defaults (position in
the list; ip:port), so the rules can be tested on bare parsed messages.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ladder.capture.continuity import continuous
from ladder.calls.transactions import TransactionSet, build_transactions

if TYPE_CHECKING:
    from decoders.sip import SipMessage

RELIABLE = frozenset({"tcp", "tls", "sctp", "ws", "wss"})
_NONE: list = []  # (what ``requests`` and ``responses`` give for a method the call lacks)


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Timer values (RFC 3261 §17.1.1.1 defaults) and what is known about the path.

    ``end_ns`` is when the capture stops: "no response within 64*T1" can only be said of a
    capture that went on that long, without a break (``breaks``) in between. ``path_mtu`` None means unknown (then 1300 bytes, §18.1.1).
    """

    t1_ns: int = 500_000_000
    t2_ns: int = 4_000_000_000
    path_mtu: int | None = None
    end_ns: int | None = None
    breaks: tuple[tuple[int, int], ...] = ()  # time ranges the capture does not cover (ladder.capture.continuity)
    damaged: bool = False  # a damaged or fuzzed capture: nothing is concluded from silence


def _default_sides(message: "SipMessage") -> tuple[Hashable, Hashable]:
    src = message.src.address() if message.src else None
    dst = message.dst.address() if message.dst else None
    return src, dst


def _remembered_sides() -> Callable[["SipMessage"], tuple[Hashable, Hashable]]:
    """``_default_sides``, made once a message of the call (the rules ask it of each several
    times; the messages outlive the facts, so their ids stay theirs)."""
    known: dict[int, tuple[Hashable, Hashable]] = {}

    def sides(message: "SipMessage") -> tuple[Hashable, Hashable]:
        found = known.get(id(message))
        if found is None:
            found = known[id(message)] = _default_sides(message)
        return found

    return sides


class CallFacts:
    """What every rule needs: the messages, their transactions, numbering and nodes."""

    def __init__(
        self,
        messages: Sequence["SipMessage"],
        number: Callable[["SipMessage"], int | None] | None,
        sides: Callable[["SipMessage"], tuple[Hashable, Hashable]] | None,
        settings: RuleSettings,
        transactions: TransactionSet | None,
    ) -> None:
        self.messages = list(messages)
        self.settings = settings
        self.txns = transactions if transactions is not None else build_transactions(self.messages)
        # Asked for every message by most rules: one set, not a look-up through its transaction.
        self._repeats = {i for txn in self.txns.transactions for i in txn.retransmissions}
        # The messages that are not retransmissions, in capture order: what most rules walk
        # (``is_retransmission`` of each, asked once a call instead of once a rule).
        repeats = self._repeats
        self.originals = [m for m in self.messages if id(m) not in repeats] if repeats else self.messages
        self.retransmitted = bool(repeats)  # whether any message is a retransmission
        # The requests with two Vias or more (retransmissions included), in capture order: the
        # only ones a proxy can have forwarded (§16.6 step 8 adds its Via on top). Most calls
        # seen at one hop have none, and the rules on forwarding have nothing to say then.
        self.relayed = [m for m in self.messages if m.is_request and len(m.vias) >= 2]
        self._carried: set[str] | None = None
        self._by_method: dict[tuple[bool, str | None], list["SipMessage"]] | None = None
        if number is None:  # (positions made only when no ladder numbers the messages)
            positions = {id(m): i + 1 for i, m in enumerate(self.messages)}
            number = lambda m: positions.get(id(m))
        self._number = number
        self.sides = sides or _remembered_sides()
        last = max([m.ts_ns for m in self.messages], default=0)
        self.end_ns = max(settings.end_ns or 0, last)

    def carries(self, name: str) -> bool:
        """Whether any message of the call has a ``name`` header (canonical: lower-case, full).
        A rule reading only a header most calls lack (Record-Route, Route, credentials) has
        nothing to say of a call without it: one look at the call instead of one per message."""
        carried = self._carried
        if carried is None:
            carried = self._carried = set().union(*(m.header_index() for m in self.messages))
        return name in carried

    def requests(self, method: str) -> list["SipMessage"]:
        """The call's ``method`` requests, retransmissions included, in capture order: what a rule
        looking for the ACKs, the BYEs or the PRACKs of a call finds without a walk of its own
        (shared by the rules: not to be changed)."""
        return self._method_index().get((True, method), _NONE)

    def responses(self, method: str) -> list["SipMessage"]:
        """The call's responses to ``method`` requests (their CSeq method), retransmissions
        included, in capture order (shared by the rules: not to be changed)."""
        return self._method_index().get((False, method), _NONE)

    def _method_index(self) -> dict[tuple[bool, str | None], list["SipMessage"]]:
        index = self._by_method
        if index is None:
            index = self._by_method = {}
            for message in self.messages:
                key = (message.is_request, message.method)
                found = index.get(key)
                if found is None:
                    index[key] = [message]
                else:
                    found.append(message)
        return index

    def covered(self, start_ns: int, end_ns: int) -> bool:
        """Whether the capture runs continuously from ``start_ns`` to ``end_ns``."""
        return continuous(self.settings.breaks, start_ns, end_ns)

    def f(self, message: "SipMessage") -> int | None:
        return self._number(message)

    def fs(self, messages: Iterable["SipMessage"]) -> list[int]:
        return [n for n in (self.f(m) for m in messages) if n is not None]

    def frames(self, messages: Iterable["SipMessage"]) -> list[int]:
        return [ref.number for m in messages for ref in m.frames]

    def is_retransmission(self, message: "SipMessage") -> bool:
        return id(message) in self._repeats

    def name(self, message: "SipMessage") -> str:
        """``F4 INVITE`` / ``F12 200``: how a finding names a message."""
        n = self.f(message)
        what = message.method if message.is_request else str(message.status)
        if what and len(what) > 24:
            what = what[:20] + "…"  # a test suite's 2000-byte method name
        return f"F{n} {what}" if n is not None else str(what)

    def transport(self, message: "SipMessage") -> str:
        if message.src is not None:
            return message.src.transport.lower()
        via = message.top_via
        return (via.transport or "udp").lower() if via is not None else "udp"


def went_on(facts: CallFacts, message: "SipMessage") -> bool:
    """Whether the capture shows what came after ``message``: a later message of the call, or
    64*T1 of capture after it. Without either, a missing answer may just be out of sight."""
    if len(facts.messages) == 1 or facts.settings.damaged:
        return False  # a lone message (a filtered capture), a damaged one: nothing shows it was watched
    limit = 64 * facts.settings.t1_ns
    if facts.end_ns - message.ts_ns >= limit and facts.covered(message.ts_ns, message.ts_ns + limit):
        return True
    return any(m.ts_ns > message.ts_ns and facts.covered(message.ts_ns, m.ts_ns) for m in facts.messages)


def reliable_provisional(message: "SipMessage") -> bool:
    """A 1xx sent reliably (RFC 3262 §3: Require: 100rel and an RSeq)."""
    return (not message.is_request and 100 < (message.status or 0) < 200 and message.header("rseq") is not None
            and any("100rel" in v.lower() for v in message.header_values("require")))
