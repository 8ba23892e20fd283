"""The fast lane of pass 2 of ``iter_call_rows`` and ``iter_calls``: a Call-ID group of the common call shape (INVITE,
provisional answers, 200, ACK, BYE, 200 between two endpoints; or INVITE, provisionals, a
failure, ACK; either with a CANCEL (RFC 3665 §3.8) or reliable provisionals and their PRACKs
(RFC 3262 §3); any of these after an INVITE challenged once, 401/407 and ACK (RFC 3665 §3.2))
summed up in C (``ladder._accel.simple_calls``), its row made without reading any
message in Python.

A group is *simple* when all of the following hold; ``simple_calls`` checks each in C, and any
doubt (a message the C first pass does not answer for, a failed read or CRC, endpoints of
another transport) leaves the group to the slow lane, unchanged:

 S1  2 to 32 messages, each in the capture file or the spill file (``MessageStore.where``:
     reassembled TCP, IPv6, fragments, all of a gzip file or stdin...), read back with its CRC,
     read by the C first pass (``sip_scan``), with the group's Call-ID (the same bytes), a CSeq,
     a From tag and a top Via with a sent-by and a ``z9hG4bK`` branch.
 S2  two endpoints, every message between them (they may share an address): both C's (UDP/IPv4,
     compared by address and port) or both Python's of transport UDP or TCP (compared by id:
     ``MessageStore._endpoint`` interns each ``Endpoint``, transport included, once), never a mix;
 S3  strictly increasing times;
 S4  two messages of the same bytes go the same way more than ``DUPLICATE_WINDOW_NS`` apart: an
     exact retransmission (RFC 3261 §17); S5 to S9 weigh each message's first sending only;
 S5  the first message is an INVITE, a request without a To tag, CSeq method INVITE; at most one
     other INVITE, *the retry* (RFC 3261 §22.2, RFC 3665 §3.2 F4): after the first INVITE's
     first final, a 401 or 407, and its ACK (S6), with nothing before it but the first INVITE,
     its responses and that ACK; from the caller, without a To tag, with the caller's From tag, a
     higher CSeq number (§8.1.3.5) and a branch unlike any earlier request's; no response to the
     first INVITE after it. From the retry on, "the INVITE" of S6 to S8 is the retry. (Its
     Authorization or Proxy-Authorization is not required: no function of the slow lane reads it.)
 S6  every other request (but the retry) is an ACK, a BYE or a PRACK (the same CSeq method) with a
     To tag, its branch unlike any earlier request's, but for one ACK after a 3xx-6xx final, from
     the caller, with the INVITE's branch, sent-by and CSeq number; or the one CANCEL, from the
     caller, without a To tag, with the INVITE's branch, sent-by and CSeq number (RFC 3261 §9.1), no
     request of that branch before it but the INVITE;
 S7  every response is to INVITE, CANCEL, PRACK or BYE and answers the one earlier request of its
     branch and method (the INVITE and its CANCEL share a branch), with its CSeq number and
     sent-by, going the other way; no status twice per request (branch and CSeq method);
 S8  the INVITE's first final response is a 2xx; or a 3xx-6xx, with no final response to the
     INVITE after it and no BYE (the first INVITE of a retry: its 401/407, nothing after it);
 S9  one dialog: a message with a To tag carries the caller's and the callee's tags (one To tag),
     a message without one is a provisional response, the CANCEL or the retry, with the caller's
     From tag; the dialog starts again at the retry (the challenge's To tag is a proxy's, §8.2.6.2);
 S10 the INVITE has one Via line, and a From and a To;
 S11 a message without a To tag has a plain To (``_accel.plain_name_addr``, see below).

Why the row is then exactly the slow lane's (``_calls`` pass 2: ``fold_duplicates``,
``build_transactions``, ``find_legs``, ``KeptRequest``, ``build_call``, then the row functions,
which read no more than ``SimpleCall`` holds):

- Over TCP (or UDP/IPv6): every function below reads a message's endpoints only as ``Endpoint``
  values compared for equality (or, ``call_outcome``, ``caller_ip``, the source's ``ip``), never
  their transport, so what holds for C's endpoints holds for Python's; S2's ids are equal exactly
  when the ``Endpoint``s are (one interning table; C's and Python's never meet in one group). The
  RFC's transport rules (RFC 3261 §17.1.1.2, §17.2.1: no request retransmission timers over a
  reliable transport) are ``ladder check``'s, not the row's: ``fold_duplicates``,
  ``build_transactions`` and ``_repeats`` treat the same bytes again over TCP as over UDP (a
  2xx the UAS core sends again, §13.3.1.4, whatever the transport; a resent TCP segment is
  dropped by reassembly before either lane sees it), and so does S4. A message's time is its reassembled message's
  (``SipIndex.ts_ns``), the slow lane's too; several messages of one segment share a time: S3
  sends them to the slow lane. The slow lane reads no frame of a message for the row either
  (``odd_frames``: a message over several segments).
- The INVITE's ends, when C's, are made of C's text of each address (``"%u.%u.%u.%u"`` of the store's
  address, what ``inet_ntoa`` writes) and its port: the ``Endpoint`` ``MessageStore.endpoint`` makes, equal
  by value, which is all any function below compares (none reads an endpoint's identity).
- ``duplicates.fold_duplicates`` folds only equal bytes between the same ends within
  ``DUPLICATE_WINDOW_NS`` (S4; C's window is that constant, a test holds them equal): every
  message is kept, no copies.
- ``transactions.build_transactions``: every message takes the RFC 3261 key (``_rfc3261_base``, S1).
  Requests but a failure's ACK and the CANCEL have distinct branches (S5, S6), so each is its own
  transaction (an ACK finds no INVITE of its branch), and the only request of it: no request repeats
  its ``_signature``. The retry is thus an INVITE transaction of its own, initial (no To tag), after
  the first INVITE's, whose ACK ``_acks_non_2xx`` put there (its 401/407). The CANCEL's key is the
  INVITE's branch and sent-by with CANCEL: no transaction had it (the one CANCEL), so it is a
  transaction of its own, whose ``cancels`` is the INVITE's. A response's key is its request's (same
  branch, sent-by, method: S7), found in ``by_key`` since the request came first; its responses
  differ in status, so no first sending repeats a ``_signature`` (a reliable 183 is never weighed
  against another by RSeq). The ACK of a failure finds the INVITE's transaction by its key and
  ``_acks_non_2xx`` (its final, >= 300, came before) puts it there, the CANCEL or not; its method
  makes its signature unlike the others'. A PRACK (in the dialog, a branch of its own) is a
  transaction of its own with its responses. A retransmission (S4) has its first sending's bytes, so
  its key (a failure's ACK again the INVITE's transaction: its final is still >= 300), its
  ``_signature`` and, for a 1xx, its RSeq: ``_repeats`` marks it, and nothing else is changed.
- ``legs.find_legs``: the requests without a To tag are the INVITE and the CANCEL (S5, S6, S9), and
  ``find_legs`` passes over a CANCEL and a retransmitted INVITE: one leg, final_ns the time of the
  INVITE's first final response (S8). The retry, a first sending, has the first INVITE's hop
  (Call-ID, INVITE, the same two endpoints: S2, S5): ``seen``, so one leg still, the first INVITE's,
  its final_ns the challenge's time (C gives it, ``leg_final``), as ``_calls`` gives it to
  ``LinkWindow`` (``last``: its time; ``failed``: below). ``proxy_links`` of one leg is empty. A
  message that may carry X-Call-ID, X-CID or Session-ID (the CORRELATION flag) is read back in
  Python, as the slow lane reads it, for ``header_links``; a group those link to another is built
  again in pass 3, as any linked group is.
- ``outcome.call_outcome``: one initial INVITE transaction (the CANCEL's, the PRACK's and the
  dialog's are of other methods). Its final a 2xx (S8): COMPLETED with that status when any BYE
  transaction exists, else IN_CALL, CANCEL or not (a 200 that crossed it); ``_attempt_failed``
  is False (it counts 2xx responses of CSeq method INVITE: not a CANCEL's or a PRACK's 200).
  A failure: ``call_outcome`` itself decides (``_outcome``), given that transaction as it reads
  it: the INVITE from the caller, whether a 180/183 came, the final's status and Reason-Phrase
  (C cuts it from the status line as ``_parse_status_line`` does), and a CANCEL transaction
  when the group has its CANCEL (``cancelled`` reads only methods): CANCELLED with the 487, or
  with the failure that crossed the CANCEL. ``_attempt_failed`` is True (no 2xx: none after the
  failure, S8). A retransmitted response changes neither the first final nor which statuses came.
  With a retry: two initial INVITE transactions, the first's final a 401/407 (not a 2xx, nor
  any final after it: S8), so the loop for a 2xx finds the retry's, as above; for a failure,
  ``ringing`` reads both (C's ringing is the first 180/183 of either), ``_deciding_final`` both
  (each from the caller's address, S5): its last final is the retry's, which exists (S8), so
  the exception for a challenge with no final after it does not apply, and no INVITE is without
  responses: ``_outcome``'s one transaction with the retry's final gives the same outcome.
  ``_attempt_failed`` reads the retry's final alone (the first INVITE had no 2xx).
- ``timings.call_timings``: sorting by time keeps the capture order (S3); the INVITE is the first
  message; every response to it goes to the caller's endpoint (S7), so to its address, and
  ``toward`` is all of them (whether or not the callee has the same address); responses of CSeq
  method CANCEL or PRACK are not among them (C counts only the INVITE's: S7 ties each response to
  its request by method); with a retry, the INVITE is still the first one (the first message, S5)
  and the responses of both INVITEs count, in capture order: C's first response and ringing weigh
  either's, the answer is the retry's (the first had no 2xx); a retransmission comes after its first
  sending (S3), so the first 180/183 and the answer, the first 2xx (none after a failure), are first
  sendings; the BYE is the first BYE request after the answer, never a PRACK, perhaps a BYE sent
  again (C looks for it among all messages too: the same positions).
- ``grouping.build_call``: the anchor is the (first) INVITE; caller and callee are ``_party`` of the
  From and To URIs ``KeptRequest`` reads (the slow lane reads them from the same kept request
  and, for To, the full parse: the same ``_checked_name_addr`` of the same value, S10; a message
  the C first pass reads has a start line ``parse_sip`` cannot refuse). C gives the URIs and
  parties itself for a plain From and To (``plain_name_addr``, ``plain_uri`` in ``_accel.c``: a
  quoted or token display name, ``<sip:user@host[:port][;params]>`` of characters that leave
  ``parse_name_addr``, ``parse_uri`` and ``_party`` no choice: no escapes, password, IPv6, quotes
  or URI headers, parameter names tokens), else ``KeptRequest.of_texts`` and ``_party`` read them.
  ``dialogs.build_dialogs`` is not read by any row (S9 keeps it to one dialog anyway).
- The TUI's damage count (``tui.bounded_load._Damage``, ``MessageStore.damaged``): every message
  passes the first-pass test (S1; a To tag, or a To that ``_to_parses`` reads, the CANCEL's and the
  retry's too: S11, since ``_checked_name_addr`` reads a plain name-addr without fail), so none is
  damaged (``SimpleCall.intact``).
- ``call_state`` (the TUI): COMPLETED or IN CALL from the outcome alone; for a failure it looks
  for a CANCEL among the messages (``_Member`` answers from the index, as the message read back
  would: CANCELLED when the group has its CANCEL) and then takes the outcome's status.
- ``catalogue._where`` reads the messages' numbers (``Members``), no copies, the links and the
  Call-ID: what a CANCEL, a PRACK, a retry or a retransmission changes is only how many numbers.

The lane is off with ``PCAPLADDER_NO_SIMPLE_CALLS=1`` (A/B benchmarks, the exactness tests) or
``PCAPLADDER_PURE_PYTHON=1``, and without the compiled extension.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, cast

from decoders.records import Endpoint
from decoders.sipuser import uri_user
from ladder.calls.grouping import CALL, _party
from ladder.calls.legs import Leg, Link, compared_user
from ladder.calls.outcome import COMPLETED, IN_CALL, Outcome, call_outcome
from ladder.calls.timings import CallTimings
from ladder.calls.transactions import Transaction, TransactionSet

_c_simple_calls: Callable[..., list[Any]] | None
try:
    from ladder._accel import simple_calls as _c_simple_calls
except ImportError:  # not built: every group takes the slow lane
    _c_simple_calls = None

if TYPE_CHECKING:
    from ladder.capture.loader import Capture
    from ladder.capture.messagestore import MessageStore

# Groups asked of C at once: a bounded list of facts, few calls across. C reads a batch's messages
# in one ``pread`` of the file's range they lie in (``SIMPLE_WINDOW``, 32 MiB at most), which also
# holds the messages of the calls that overlap the batch's in time: the more groups a batch, the
# fewer of those bytes read twice (on a busy hour of 500 calls at once: about twice the batch's own
# bytes at 512 groups, a quarter more at 2,048).
BATCH = 2048
_TRANSPORTS = ("udp", "tcp")  # of the endpoints of Python's a simple call may have (S2)


def enabled() -> bool:
    return (_c_simple_calls is not None and not os.environ.get("PCAPLADDER_NO_SIMPLE_CALLS")
            and not os.environ.get("PCAPLADDER_PURE_PYTHON"))


class _Member:
    """One message of a simple call as the row functions read it: where it is, its ends, and
    (``call_state`` looks for a CANCEL in a call not answered) what it is, from the index."""

    __slots__ = ("index", "_store")

    def __init__(self, index: int, store: "MessageStore") -> None:
        self.index, self._store = index, store

    @property
    def is_request(self) -> bool:
        return self._store.index.status[self.index] == 0

    @property
    def method(self) -> str | None:
        index = self._store.index
        return index.strings[index.method[self.index]] or None

    @property
    def src(self):
        return self._store.endpoint(self._store.src[self.index])

    @property
    def dst(self):
        return self._store.endpoint(self._store.dst[self.index])


class Members:
    """A simple call's messages: how many, and each one's number and ends when asked."""

    __slots__ = ("numbers", "_store")

    def __init__(self, numbers: array, store: "MessageStore") -> None:
        self.numbers, self._store = numbers, store  # ``numbers``: the store's, in the call's order

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, i: int) -> _Member:
        return _Member(self.numbers[i], self._store)

    def __iter__(self) -> Iterator[_Member]:
        store = self._store
        return (_Member(i, store) for i in self.numbers)


class SimpleCall:
    """What ``table_row``/``call_dict`` (``ladder calls``), ``tui.call_rows.call_row`` and
    ``catalogue._where`` read of a ``Call``, for a simple group: the values ``build_call`` would
    give (see the module docstring), numbered 0 as pass 2's calls are."""

    __slots__ = ("id", "call_ids", "messages", "legs", "outcome", "start_ns", "end_ns", "caller", "callee",
                 "post_dial_delay", "setup_time", "talk_time", "first_response")
    intact = True  # no message of it is damaged (``MessageStore.damaged``: S1, S11)
    # What is the same for every simple call is the class's, read as the instance's would be and
    # immutable, so shared: nothing sets them on a call (the row functions and ``_where`` read them).
    index, kind, first_method = 0, CALL, "INVITE"
    links: tuple[Link, ...] = ()  # (``build_call``'s list of one leg's links: ``proxy_links`` of one leg is empty)
    copies: Mapping[int, tuple] = MappingProxyType({})  # no capture copies (S4: every message kept)

    def __init__(self, call_id: str, messages: Members, leg: Leg, outcome: Outcome, start_ns: int, end_ns: int,
                 caller: str, callee: str, post_dial_delay: int | None, setup_time: int | None,
                 talk_time: int | None, first_response: int) -> None:
        self.id, self.call_ids, self.messages, self.legs, self.outcome = call_id, (call_id,), messages, [leg], outcome
        self.start_ns, self.end_ns, self.caller, self.callee = start_ns, end_ns, caller, callee
        self.post_dial_delay, self.setup_time, self.talk_time, self.first_response = (
            post_dial_delay, setup_time, talk_time, first_response)

    @property
    def timings(self) -> CallTimings:
        """The call's ``CallTimings`` as ``call_timings`` gives them: the call itself holds their four
        fields (one object a call the fewer), which is all any reader of a call's timings reads."""
        return self  # type: ignore[return-value]

    @property
    def caller_ip(self) -> str | None:
        src = self.legs[0].src
        return src.ip if src else None

    @property
    def span_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


class SimpleLane:
    """The facts of the simple groups of a capture, asked of C a batch of groups at a time as
    pass 2 comes to them (``take``: groups in increasing order)."""

    def __init__(self, capture: "Capture", store: "MessageStore", groups: Any) -> None:
        self._store, self._groups = store, groups
        self._ts = capture.sip_index.ts_ns
        # (the store's private columns of C's endpoints: address and port by id)
        # (and, per endpoint id of Python's, whether it is UDP or TCP: S2)
        usable = bytes(e is not None and e.transport in _TRANSPORTS for e in store.endpoints)
        self._columns = (store.where, store.length, store.crc, store.src, store.dst, store.flags, self._ts,
                         store._c_address, store._c_port, usable, store.marks)
        self._fd: int | None = None
        if store.path is not None:
            try:
                self._fd = os.open(store.path, os.O_RDONLY)
            except OSError:  # gone since it was read: the slow lane says so, as before
                pass
        self._first = 0
        self._facts: list[Any] = []  # the facts of groups _first, _first + 1, ...
        self._outcomes: dict[tuple, Outcome] = {}

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _batch(self, g: int) -> None:
        assert _c_simple_calls is not None
        groups = self._groups
        last = min(g + BATCH, len(groups.keys))
        wanted = groups.calls(g, last)
        fd = -1 if self._fd is None else self._fd
        self._first, self._facts = g, _c_simple_calls(fd, self._store.spill_fd(), self._columns, groups.members,
                                                      groups.starts, g, wanted)

    def take(self, g: int, cid: str, kept: Callable[..., Any], numbers: array
             ) -> tuple[Leg, bool, SimpleCall, tuple[str, str] | None] | None:
        """Group ``g`` (Call-ID ``cid``, its messages' ``numbers``: ``groups[g]``), when simple:
        its INVITE leg (its request made by ``kept(call_id, from_tag, request_uri, from_value,
        to_value, store, index, from_uri, to_uri)``, a ``KeptRequest``; the URIs None when C left
        them to Python), whether the attempt failed (``grouping._attempt_failed``), its call's
        summary, and the leg's (caller, target) for the links' window when C read From and To as
        plain (``window_parties``), else None (the window reads them of the request)."""
        if not self._first <= g < self._first + len(self._facts):
            self._batch(g)
        facts = self._facts[g - self._first]
        if facts is None:
            return None
        (text, status, first, ringing, final, bye, has_bye, from_tag, request_uri, from_value, to_value,
         from_uri, to_uri, caller, callee, reason, cancelled, challenge, src_ip, src_port, dst_ip, dst_port,
         window_caller, window_target, start, end, leg_final, post_dial_delay, setup_time, talk_time,
         first_response) = facts
        # (the times: C's of the index's ``ts_ns``, the column Python would read, as Python would
        # read them: ``start``, ``ts[numbers[0]]``; ``end``, of the last message; ``leg_final``, of the
        # challenge if any, else of the final ``final``; the delays ``SimpleCall`` keeps, None where
        # below they were: ``post_dial_delay`` (``ringing``), ``setup_time`` (not ``failed``),
        # ``talk_time`` (``bye``) and ``first_response``, from ``start`` or the final's time)
        store = self._store
        invite = numbers[0]
        src: Endpoint | None
        dst: Endpoint | None
        if src_ip is not None:  # C's ends (UDP/IPv4): ``MessageStore.endpoint``'s values, made here
            src, dst = Endpoint(src_ip, src_port, "udp"), Endpoint(dst_ip, dst_port, "udp")
        else:  # Python's, interned in the store
            src, dst = store.endpoint(store.src[invite]), store.endpoint(store.dst[invite])
        call_id = cid if text == cid else text
        request = kept(call_id, from_tag, request_uri, from_value, to_value, store, invite, from_uri, to_uri)
        if caller is None:  # a From or To C does not read as plain (``plain_name_addr``)
            caller, callee = _party(request.from_uri), _party(request.to_uri)
            parties = None
        elif window_target is not None:  # C read them as ``window_parties`` reads them
            parties = (window_caller, window_target)
        else:
            parties = window_parties(caller, callee, request_uri)
        # (the leg is the first INVITE's hop: its transaction's final is the challenge, if any)
        leg = Leg(call_id, "INVITE", src, dst, start, request, leg_final)
        failed = status >= 300
        key = (has_bye, status, reason, ringing >= 0, cancelled)
        outcome = self._outcomes.get(key)
        if outcome is None:
            if len(self._outcomes) >= 4096:
                self._outcomes.clear()
            outcome = self._outcomes[key] = _outcome(leg, status, reason, ringing >= 0, cancelled) if failed \
                else Outcome(COMPLETED, status, "answered, then BYE") if has_bye \
                else Outcome(IN_CALL, status, "answered; no BYE in the capture")
        return leg, failed, SimpleCall(cid, Members(numbers, store), leg, outcome, start, end, caller, callee,
                                       post_dial_delay, setup_time, talk_time, first_response), parties


def window_parties(caller: str, callee: str, request_uri: str) -> tuple[str, str]:
    """``(legs._caller(request), legs._target(request))`` of a simple call's INVITE whose From
    and To C read as plain (``plain_name_addr``), from C's parties rather than the kept texts.
    (C gives them itself when the Request-URI is one ``uri_user``'s regex reads, the user before
    its "@": ``plain_request_user``, and ``compared_user`` of each user, ASCII, as below; else this.)

    Why the same: ``_caller`` is ``uri_user(name_addr_uri(From))``; ``name_addr_uri`` and
    ``_checked_name_addr`` (whose URI C gives for a plain value) are both ``parse_name_addr(value).uri``.
    ``plain_uri`` takes ``sip(s):USER@HOST...`` with a non-empty USER of characters without
    "@" or "%" (nothing to unescape), and ``_party`` of it is ``USER@host`` (the host lowered): the
    text before its first "@" is the user ``uri_user`` gives. ``_target`` is the Request-URI's
    user (read as ``_target`` reads it), else To's, read the same way as From's."""
    target = uri_user(request_uri) if request_uri else None
    if not target:
        target = callee[:callee.index("@")]
    return compared_user(caller[:caller.index("@")]), compared_user(target)


class _Sent:
    """The INVITE as ``call_outcome`` reads it of its transaction."""

    __slots__ = ("src",)
    is_request, to_tag, status = True, None, None

    def __init__(self, src: Any) -> None:
        self.src = src


class _Answer:
    """A response as ``call_outcome`` reads it."""

    __slots__ = ("status", "reason")
    is_request = False

    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason


def _outcome(leg: Leg, status: int, reason: str, ringing: bool, cancelled: bool) -> Outcome:
    """``call_outcome`` of a simple call whose INVITE failed: its transactions (S5 to S7, no
    BYE) as that function reads them: the INVITE from the caller, a 180 when a 180 or 183 came
    (at any place: ``statuses`` is all it asks of them), the final response; and a CANCEL
    transaction when the call has one (only its method is read)."""
    request = _Sent(leg.src)
    answers = ([_Answer(180, "")] if ringing else []) + [_Answer(status, reason)]
    invite = Transaction(key=(), method="INVITE", request=cast(Any, request), messages=cast(Any, [request] + answers))
    transactions = (invite, Transaction(key=(), method="CANCEL")) if cancelled else (invite,)
    return call_outcome(TransactionSet(transactions, {}), leg.src.ip if leg.src else None)
