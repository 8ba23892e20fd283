"""The rules' shortcuts (issue 13, session 10) give what the slow paths they replaced give.

Each rule that now reads a per-call fact of ``CallFacts`` (``originals``, ``retransmitted``,
``relayed``, ``carries``, ``requests``/``responses``) or remembers what it made of a header by
its lines is run beside the slow path: the oracle below (the rule as it was written before, kept
here as written, so these copies are meant), or the same rule on facts whose shortcut is off. Findings must be equal, in order, on the samples, the
quick corpus (the whole corpus in the long run), the RFC 3665 flows, the RFC 3261 §24 and RFC
4475 messages, and crafted calls that take each shortcut's edge (a mutation of a shortcut makes
one of them differ)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import SAMPLES, shared_path
from decoders.errors import DecodeError
from decoders.records import Endpoint, FrameRef
from decoders.sip import SipMessage, parse_sip
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from decoders.sdp import SdpMedia, SdpSession, parse_sdp
from ladder.check.deviations import INFO, Deviation, deviation
from ladder.check.rules import RULES, CallFacts, RuleSettings
from ladder.check.rules import dialogs, routing, syntax, uas_copies
from ladder.check.rules.cseq import _bottom_branch, _cseq_finding, _cseq_of, _was_challenged
from ladder.check.rules.dialogs import _tags, reused_invites
from ladder.check.rules.facts import reliable_provisional
from ladder.check.rules.offer_answer import _answer_problems, _dialog_of, _sdp_without_origin, _version_findings
from ladder.check.rules.routing import _dialog_route_sets, _show, _uri_of, _via_chain, _without_sender
from ladder.check.rules.uas_copies import _listed, _via_value, _vias
from rfc_messages import rfc3261_messages, rfc4317_sdps, rfc4475_archive
from test_calls_rfc3665 import rfc3665_messages, rfc3665_sections

AUDIT = Path(__file__).resolve().parents[2] / "audit"


# --- the oracles: the rules as they were written before the shortcuts (main d5a5922) ----------


def _oracle_params_twice(name: str, value: str) -> tuple[str, ...]:
    if value.count(";") < 2 and (name == "via" or "<" not in value or ">" not in value):
        return ()
    if name != "via" and "<" in value and ">" in value:
        tail = value[value.index(">") + 1:]
        if tail.count(";") < 2 and not tail.partition(";")[0].strip():
            return ()
    names = syntax._header_params(name, value)  # (unchanged)
    return tuple(sorted({n for n in names if names.count(n) > 1}))


def oracle_duplicate_parameter(facts: CallFacts) -> Iterable[Deviation]:
    groups: dict[tuple, tuple[str, list[SipMessage]]] = {}
    known: dict[tuple[str, str], tuple[str, ...]] = {}
    for message in facts.messages:
        if facts.is_retransmission(message):
            continue
        for name in syntax._PARAM_HEADERS:
            for value in message.header_values(name):
                twice = known.get((name, value))
                if twice is None:
                    twice = known[(name, value)] = _oracle_params_twice(name, value)
                if twice:
                    key = (facts.sides(message)[0], name, tuple(twice))
                    groups.setdefault(key, (value.strip(), []))[1].append(message)
    for (_, name, twice), (value, messages) in groups.items():
        shown = ", ".join(f"{n}=" for n in twice)
        yield deviation(
            syntax.DUPLICATE_PARAMETER,
            f"{facts.name(messages[0])} has {shown} more than once in {name.title()}: {value[:120]!r} "
            f"({len(messages)} message(s) from this sender; RFC 3261 §7.3.1)",
            f=facts.fs(messages), frames=facts.frames(messages),
        )  # fmt: skip


def oracle_max_forwards(facts: CallFacts) -> Iterable[Deviation]:
    incoming: dict[tuple, SipMessage] = {}
    for message in facts.messages:
        if message.is_request and not facts.is_retransmission(message):
            incoming.setdefault(_via_chain(message), message)
    for message in facts.messages:
        if not message.is_request or facts.is_retransmission(message) or len(message.vias) < 2:
            continue
        before = incoming.get(_via_chain(message)[1:])
        if before is None or before.method != message.method:
            continue
        if before.max_forwards is None or message.max_forwards is None:
            continue
        if message.max_forwards >= before.max_forwards:
            yield deviation(
                routing.MAX_FORWARDS_NOT_DECREMENTED,
                f"{facts.name(message)} forwards {facts.name(before)} with Max-Forwards "
                f"{message.max_forwards} (was {before.max_forwards}; RFC 3261 §16.6 step 3)",
                f=facts.fs([before, message]), frames=facts.frames([message]),
            )  # fmt: skip


def oracle_route_set(facts: CallFacts) -> Iterable[Deviation]:
    sets = _dialog_route_sets(facts)
    for message in facts.messages:
        if not message.is_request or len(message.vias) != 1 or not message.to_tag:
            continue
        if message.method == "CANCEL" or facts.is_retransmission(message):
            continue
        txn = facts.txns.of(message)
        if message.method == "ACK" and txn is not None and txn.method == "INVITE":
            continue
        known = sets.get((message.call_id, message.from_tag, message.to_tag))
        if not known:
            continue
        _t, whose, expected = max((e for e in known if e[0] <= message.ts_ns), key=lambda e: e[0], default=known[0])
        if expected and not any(p == "lr" or p.startswith("lr=") for p in expected[0].split(";")[1:]):
            continue
        route = [_uri_of(v) for v in message.header_values("route")]
        if route != expected and _without_sender(route, message) != _without_sender(expected, message):
            yield deviation(
                routing.ROUTE_SET_VIOLATION,
                f"{facts.name(message)} has Route {_show(route)} but the route set is "
                f"{_show(expected)}, {whose} (RFC 3261 §12.2.1.1)",
                f=facts.fs([message]), frames=facts.frames([message]),
            )  # fmt: skip


def _oracle_uas_responses(facts: CallFacts) -> Iterable[tuple[SipMessage, SipMessage]]:
    forwarded: set[tuple] = set()
    for message in facts.messages:
        if message.is_request and len(message.vias) >= 2:
            below = message.vias[1]
            forwarded.add((message.call_id, message.cseq, below.branch, facts.sides(message)[0]))
    for txn in facts.txns.transactions:
        if txn.request is None or txn.method in ("ACK", "CANCEL"):
            continue
        for response in txn.responses:
            if facts.is_retransmission(response):
                continue
            request = next((m for m in reversed(txn.messages) if m.is_request and m.cseq == response.cseq
                            and m.ts_ns <= response.ts_ns and m.vias), None)
            if request is None:
                continue
            hop = facts.sides(request)
            if (request.call_id, request.cseq, request.vias[0].branch, hop[1]) in forwarded:
                continue
            if facts.sides(response) == (hop[1], hop[0]) and 0 < len(response.vias) <= len(request.vias):
                yield request, response


def oracle_uas_copies(facts: CallFacts) -> Iterable[Deviation]:
    via_groups: dict[tuple, list[SipMessage]] = {}
    rr_groups: dict[tuple, tuple[SipMessage, list[SipMessage]]] = {}
    for request, response in _oracle_uas_responses(facts):
        if response.vias is not request.vias and (len(response.vias) != len(request.vias) or any(
                a is not b for a, b in zip(response.vias, request.vias))) \
                and [_via_value(v) for v in response.vias] != [_via_value(v) for v in request.vias]:
            via_groups.setdefault((id(request),), [request]).append(response)
        record_route = request.header_values("record-route")
        if not record_route or not response.to_tag or not 100 < (response.status or 0) < 300:
            continue
        if request.method not in ("INVITE", "SUBSCRIBE", "REFER") or request.to_tag:
            continue
        copied = [v.strip() for v in response.header_values("record-route")]
        wanted = [v.strip() for v in record_route]
        if len(copied) > len(wanted) and copied[len(copied) - len(wanted):] == wanted:
            continue
        if copied != wanted:
            rr_groups.setdefault((id(request), tuple(copied)), (request, []))[1].append(response)
    for group in via_groups.values():
        request, responses = group[0], group[1:]
        yield deviation(
            uas_copies.VIA_MISMATCH,
            f"{', '.join(facts.name(r) for r in responses)} {'answers' if len(responses) == 1 else 'answer'} {facts.name(request)} with other Via "
            f"values than the request's ({_vias(responses[0])} for {_vias(request)}; RFC 3261 §8.2.6.2)",
            f=facts.fs(responses), frames=facts.frames(responses),
        )  # fmt: skip
    for request, responses in rr_groups.values():
        copied = responses[0].header_values("record-route")
        yield deviation(
            uas_copies.RECORD_ROUTE_NOT_COPIED,
            f"{facts.name(responses[0])} has Record-Route {_listed(copied)} but {facts.name(request)} "
            f"arrived with {_listed(request.header_values('record-route'))}; the UAS copies them verbatim, "
            "URI parameters included (RFC 3261 §12.1.1)",
            f=facts.fs(responses), frames=facts.frames(responses),
        )  # fmt: skip


def oracle_sdp_version(facts: CallFacts) -> Iterable[Deviation]:
    accepted: dict[tuple, tuple[int, SipMessage]] = {}
    pending: dict[int, tuple[tuple, int, SipMessage]] = {}
    rejected: dict[tuple, tuple[int, SipMessage]] = {}
    reported: set[tuple] = set()
    for message in facts.messages:
        txn = facts.txns.of(message)
        if not message.is_request and txn is not None and id(txn) in pending:
            status = message.status or 0
            if 200 <= status < 300 or (message.sdp is not None and reliable_provisional(message)):
                key, version, offer = pending[id(txn)]
                accepted[key[:2] + (_dialog_of(message),) + key[3:]] = (version, offer)
            elif status >= 300:
                key, version, offer = pending.pop(id(txn))
                rejected[key] = (version, offer)
        sdp = message.sdp
        if sdp is None or sdp.origin is None or facts.is_retransmission(message):
            continue
        origin = sdp.origin
        key = (facts.sides(message)[0], message.call_id, _dialog_of(message),
               origin.username, origin.session_id, origin.address)
        before = accepted.get(key)
        refused = rejected.pop(key, None)
        unit = (message.call_id, message.cseq, message.status, origin.version)
        if before is not None and unit not in reported:
            reported.add(unit)
            content = _sdp_without_origin(message)
            found = list(_version_findings(facts, message, origin.version, content, before))
            if found and refused is not None and not any(
                _version_findings(facts, message, origin.version, content, refused)
            ):
                found = []
            yield from found
        if message.is_request and message.method != "ACK":
            if txn is not None:
                pending[id(txn)] = (key, origin.version, message)
        elif message.is_request or 200 <= (message.status or 0) < 300 or reliable_provisional(message):
            accepted[key] = (origin.version, message)


def _oracle_formats(media: SdpMedia) -> set[str]:
    names: set[str] = set()
    for fmt in media.formats:
        encoding = media.encoding(int(fmt)) if fmt.isdigit() and len(fmt) <= 3 else None
        names.add(f"{encoding[0].upper()}/{encoding[1]}" if encoding else fmt.upper())
    return names


def oracle_answer_problems(offer: SdpSession, answer: SdpSession) -> tuple[list[str], str]:
    problems: list[str] = []
    broken = turned = False
    if len(answer.media) != len(offer.media):
        problems.append(f"{len(answer.media)} m-lines answer {len(offer.media)} offered (§6)")
        broken = True
    for index, (o, a) in enumerate(zip(offer.media, answer.media), start=1):
        if a.disabled:
            continue
        if a.kind != o.kind:
            problems.append(f"m-line {index} is {a.kind}, offered {o.kind} (§6)")
            broken = True
            continue
        offered, answered = _oracle_formats(o), _oracle_formats(a)
        if not offered & answered:
            problems.append(
                f"m-line {index} answers {', '.join(sorted(answered))} with no format in common "
                f"with the offer's {', '.join(sorted(offered))}; it should have been rejected with port 0 (§6)"
            )
            broken = True
        elif answered - offered:
            problems.append(
                f"m-line {index} adds {', '.join(sorted(answered - offered))}, not offered "
                "(allowed by §6.1, but the offerer cannot use it in this exchange)"
            )
        allowed = {"sendonly": ("recvonly", "inactive"), "recvonly": ("sendonly", "inactive"),
                   "inactive": ("inactive",)}.get(o.direction)  # fmt: skip
        if allowed is not None and not o.disabled and a.direction not in allowed:
            problems.append(f"m-line {index} answers {o.direction} with {a.direction}, "
                            f"where §6.1 allows {' or '.join(allowed)}")  # fmt: skip
            turned = True
    return problems, ("error" if broken else "warning" if turned else "info")


def oracle_bye_outside_dialog(facts: CallFacts) -> Iterable[Deviation]:
    messages = facts.messages
    byes = [m for m in messages if m.method == "BYE" and m.is_request and m.to_tag and not facts.is_retransmission(m)]
    if not byes:
        return
    answered: dict[tuple, list[SipMessage]] = {}
    for m in messages:
        if m.method == "INVITE" and not m.is_request and m.to_tag and m.from_tag:
            answered.setdefault((m.call_id, _tags(m)), []).append(m)
    reported: set[tuple] = set()
    for bye in byes:
        sender = facts.sides(bye)[0]
        dialog = answered.get((bye.call_id, _tags(bye)), [])
        if any(200 <= (m.status or 0) < 300 and m.ts_ns <= bye.ts_ns for m in dialog):
            continue
        failed = next((m for m in dialog if (m.status or 0) >= 300 and m.ts_ns <= bye.ts_ns
                       and facts.sides(m)[1] == sender), None)
        key = (bye.call_id, bye.cseq, bye.from_tag)
        if failed is None or key in reported:
            continue
        reported.add(key)
        yield deviation(
            dialogs.BYE_OUTSIDE_DIALOG,
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
                dialogs.BYE_OUTSIDE_DIALOG,
                f"{facts.name(accepted[0])} accepts {facts.name(bye)}, a BYE for a dialog its INVITE never made "
                f"({facts.name(failed)}): a UAS MAY accept a request for an unknown dialog to recover one it lost, "
                "and MUST answer 481 when it rejects it (RFC 3261 §12.2.2)",
                f=facts.fs(accepted), frames=facts.frames(accepted), severity=INFO,
            )  # fmt: skip


def oracle_call_id_reuse(facts: CallFacts) -> Iterable[Deviation]:
    for first, second in reused_invites(facts.messages, facts.sides):
        yield deviation(
            dialogs.CALL_ID_REUSED,
            f"{facts.name(second)} starts a new dialog (no To tag, From tag {second.from_tag}) in the Call-ID of "
            f"{facts.name(first)} (From tag {first.from_tag}), sent from the same node and not refused; a request "
            "outside a dialog MUST get a Call-ID unique across space and time (RFC 3261 §8.1.1.4)",
            f=facts.fs([second]), frames=facts.frames([second]),
        )  # fmt: skip


def oracle_cseq(facts: CallFacts) -> Iterable[Deviation]:
    start: dict[tuple, tuple[int, SipMessage]] = {}  # (sender, Call-ID, From tag) -> creating request
    last: dict[tuple, tuple[int, str, SipMessage]] = {}
    challenged: dict[tuple, SipMessage] = {}  # (sender, Call-ID, method) -> request a 401/407 answered
    created = {
        (m.call_id, m.from_tag, m.to_tag) for m in facts.messages
        if not m.is_request and m.to_tag and 100 < (m.status or 0) < 300 and m.method in ("INVITE", "SUBSCRIBE", "REFER")
    }  # fmt: skip
    reported: set[tuple] = set()  # the same faulty request relayed by a proxy: reported once
    for message in facts.messages:
        if not message.is_request or message.method in ("ACK", "CANCEL", "REGISTER") or not message.cseq:
            continue
        if facts.is_retransmission(message):
            continue
        sender = facts.sides(message)[0]
        number, branch = _cseq_of(message)[0], _bottom_branch(message)
        if not message.to_tag:
            retry = challenged.pop((sender, message.call_id, message.method), None)
            if retry is not None and number <= _cseq_of(retry)[0] and _bottom_branch(retry) != branch:
                yield _cseq_finding(facts, message, retry, "§22.2: a request resubmitted with credentials")
            if _was_challenged(facts, message):
                challenged[(sender, message.call_id, message.method)] = message
            if message.method in ("INVITE", "SUBSCRIBE", "REFER"):
                start[(sender, message.call_id, message.from_tag)] = (number, message)
            continue
        key = (sender, message.call_id, message.from_tag, message.to_tag)
        previous = last.get(key)
        if previous is None and (message.call_id, message.from_tag, message.to_tag) in created:
            creating = start.get((sender, message.call_id, message.from_tag))
            previous = (creating[0], "", creating[1]) if creating is not None else None
        if previous is not None:
            p_number, p_branch, p_message = previous
            if branch == p_branch and number == p_number:
                continue  # the same request again (a proxy's serial forking, a relay)
            unit = (message.call_id, message.cseq, branch)
            if number <= p_number and unit not in reported:
                reported.add(unit)
                yield _cseq_finding(facts, message, p_message, "§12.2.1.1: in the dialog")
            if number < p_number:
                continue
        last[key] = (number, branch, message)


ORACLES: dict[str, Callable[[CallFacts], Iterable[Deviation]]] = {
    "rule_duplicate_parameter": oracle_duplicate_parameter,
    "rule_max_forwards": oracle_max_forwards,
    "rule_route_set": oracle_route_set,
    "rule_uas_copies": oracle_uas_copies,
    "rule_sdp_version": oracle_sdp_version,
    "rule_bye_outside_dialog": oracle_bye_outside_dialog,
    "rule_call_id_reuse": oracle_call_id_reuse,
    "rule_cseq": oracle_cseq,
}


def _slow_facts(messages: list[SipMessage], settings: RuleSettings) -> CallFacts:
    """Facts with the shortcuts that only skip work turned off: every rule then takes its slow
    path (``originals`` made as the rules made it, message by message)."""
    facts = CallFacts(messages, None, None, settings, None)
    facts.originals = [m for m in facts.messages if not facts.txns.is_retransmission(m)]
    facts.retransmitted = True
    facts.carries = lambda name: True  # type: ignore[method-assign]
    return facts


def _same(messages: list[SipMessage], settings: RuleSettings | None = None) -> int:
    """Compare every rule with its slow path on one call; the number of findings."""
    settings = settings or RuleSettings(end_ns=max((m.ts_ns for m in messages), default=0))
    fast = CallFacts(messages, None, None, settings, None)
    slow = _slow_facts(messages, settings)
    assert fast.originals == slow.originals
    assert fast.relayed == [m for m in messages if m.is_request and len(m.vias) >= 2]
    assert fast.retransmitted == any(fast.is_retransmission(m) for m in messages)
    carried = {name for m in messages for name in m.header_index()}
    for name in ("record-route", "route", "via", "rseq", "authorization", "proxy-authorization"):
        assert fast.carries(name) == (name in carried) == any(m.header(name) is not None for m in messages)
    for method in {m.method for m in messages if m.method} | {"ACK", "BYE", "PRACK", "NOTIFY", "SUBSCRIBE"}:
        assert fast.requests(method) == [m for m in messages if m.is_request and m.method == method]
        assert fast.responses(method) == [m for m in messages if not m.is_request and m.method == method]
    sdps = [m.sdp for m in messages if m.sdp is not None]
    for offer in sdps:  # every SDP of the call against every other, as offer and answer
        for answer in sdps:
            assert _answer_problems(offer, answer) == oracle_answer_problems(offer, answer)
    count = 0
    for rule in RULES:
        got = list(rule(fast))
        oracle = ORACLES.get(rule.__name__)
        want = list(oracle(slow)) if oracle is not None else list(rule(slow))
        assert got == want, (rule.__name__, [m.summary() for m in messages])
        count += len(got)
    return count


def _calls_of(path: Path) -> list[list[SipMessage]]:
    return [list(call.messages) for call in build_calls(load_capture(path))]


def test_samples_and_audit_captures_the_same_both_ways():
    files = sorted(SAMPLES.glob("*.pcap")) + sorted(AUDIT.glob("*.pcap"))
    assert len(files) > 40
    found = 0
    for path in files:
        for messages in _calls_of(path):
            found += _same(messages)
    assert found >= 15  # the samples' known findings are among them: the comparison is not vacuous


def test_corpus_the_same_both_ways(corpus):
    found = 0
    for path in corpus.paths:
        try:
            calls = _calls_of(path)
        except DecodeError:
            continue  # a capture the loader refuses (the CLI reports it): no calls to compare
        for messages in calls:
            found += _same(messages)
    assert found > 0


@pytest.mark.parametrize("section", ["2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "3.4", "3.5",
                                     "3.6", "3.7", "3.8", "3.9", "3.10", "3.11"])  # fmt: skip
def test_rfc3665_flows_the_same_both_ways(section):
    assert section in rfc3665_sections()
    _same(rfc3665_messages(section))


def _placed(raws: list[bytes]) -> list[SipMessage]:
    a, b = Endpoint("192.0.2.1", 5060, "udp"), Endpoint("192.0.2.2", 5060, "udp")
    messages = []
    for n, raw in enumerate(raws):
        try:
            message = parse_sip(raw)
        except DecodeError:
            continue
        src, dst = (a, b) if message.is_request else (b, a)
        ts = 1_000_000_000 + n * 10_000_000
        messages.append(message.with_context(src, dst, (FrameRef(n + 1, ts),), ts))
    return messages


def test_rfc3261_and_rfc4475_messages_the_same_both_ways():
    rfc3261 = [m.data for m in rfc3261_messages(shared_path("reference/rfc3261.txt"))]
    torture = list(rfc4475_archive(shared_path("reference/rfc4475.txt")).values())
    _same(_placed(rfc3261))
    found = sum(_same(_placed([raw])) for raw in torture)
    found += _same(_placed(torture))  # all at once: shared values across messages
    assert found > 0


# --- crafted calls on each shortcut's edge --------------------------------------------------

_A, _P, _B = Endpoint("10.0.0.1", 5060, "udp"), Endpoint("10.0.0.2", 5060, "udp"), Endpoint("10.0.0.3", 5060, "udp")


def _msg(start: str, headers: list[str], src: Endpoint, dst: Endpoint, n: int) -> SipMessage:
    text = start + "\r\n" + "".join(h + "\r\n" for h in headers) + "Content-Length: 0\r\n\r\n"
    ts = 1_000_000_000 + n * 10_000_000
    return parse_sip(text.encode()).with_context(src, dst, (FrameRef(n, ts),), ts)


_COMMON = ["Call-ID: c1@a", "Max-Forwards: 70"]


def _invite_call(invite_extra: list[str], ok_extra: list[str], bye_extra: list[str], *,
                 to_ok: str = "To: <sip:b@b>;tag=bt") -> list[SipMessage]:
    via = "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"
    return [
        _msg("INVITE sip:b@b SIP/2.0", [via, "From: <sip:a@a>;tag=at", "To: <sip:b@b>", "CSeq: 1 INVITE",
                                         *_COMMON, *invite_extra], _A, _B, 1),
        _msg("SIP/2.0 200 OK", [via, "From: <sip:a@a>;tag=at", to_ok, "CSeq: 1 INVITE", "Call-ID: c1@a",
                                *ok_extra], _B, _A, 2),
        _msg("ACK sip:b@b SIP/2.0", ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2", "From: <sip:a@a>;tag=at",
                                     "To: <sip:b@b>;tag=bt", "CSeq: 1 ACK", *_COMMON, *bye_extra], _A, _B, 3),
        _msg("BYE sip:b@b SIP/2.0", ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK3", "From: <sip:a@a>;tag=at",
                                     "To: <sip:b@b>;tag=bt", "CSeq: 2 BYE", *_COMMON, *bye_extra], _A, _B, 4),
    ]


def _codes(messages: list[SipMessage]) -> list[str]:
    facts = CallFacts(messages, None, None, RuleSettings(), None)
    return [d.code for rule in RULES for d in rule(facts)]


def test_a_parameter_twice_behind_one_semicolon_is_found():
    # "<uri> tag=1;tag=2": one ';' but two parameters (text before it); the ';'-free pre-test
    # must not take "fewer than two ';'" for "no parameter twice".
    call = _invite_call([], [], [], to_ok="To: <sip:b@b> tag=bt;tag=bt")
    assert "duplicate-parameter" in _codes(call)
    _same(call)
    # and the same line text under two headers is judged per header
    call = _invite_call(["Contact: <sip:a@a>;expires=1;expires=2"], ["Contact: <sip:a@a>;expires=1;expires=2"], [])
    assert _codes(call).count("duplicate-parameter") == 2
    _same(call)


def test_a_route_without_any_record_route_is_still_checked():
    # No Record-Route anywhere, but the BYE carries a Route: the route set is empty, the Route
    # is not: the pre-test must look for Route too.
    call = _invite_call([], [], ["Route: <sip:10.0.0.2;lr>"])
    assert "route-set-violation" in _codes(call)
    _same(call)
    # Record-Route in the 200 only: the UAC's route set is not empty, the BYE has no Route.
    call = _invite_call(["Record-Route: <sip:10.0.0.2;lr>"], ["Record-Route: <sip:10.0.0.2;lr>"], [])
    assert "route-set-violation" in _codes(call)
    _same(call)


def test_a_record_route_not_copied_is_found():
    call = _invite_call(["Record-Route: <sip:10.0.0.2;lr>"], ["Record-Route: <sip:10.0.0.9;lr>"],
                        ["Route: <sip:10.0.0.9;lr>"])
    assert "record-route-not-copied" in _codes(call)
    _same(call)


def test_a_proxy_that_keeps_max_forwards_is_found():
    via_a = "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"
    via_p = "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKp1"
    head = ["From: <sip:a@a>;tag=at", "To: <sip:b@b>", "CSeq: 1 OPTIONS", "Call-ID: c1@a"]
    call = [_msg("OPTIONS sip:b@b SIP/2.0", [via_a, *head, "Max-Forwards: 70"], _A, _P, 1),
            _msg("OPTIONS sip:b@b SIP/2.0", [via_p, via_a, *head, "Max-Forwards: 70"], _P, _B, 2)]
    facts = CallFacts(call, None, None, RuleSettings(), None)
    assert facts.relayed == [call[1]]
    assert "max-forwards-not-decremented" in _codes(call)
    _same(call)


def test_a_reused_branch_answers_from_its_own_request():
    # Two requests in one transaction (a UA reusing the branch for CSeq 2): each response is
    # compared with the request of its CSeq, not the one-request shortcut's.
    via = "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"
    head = ["From: <sip:a@a>;tag=at", "To: <sip:b@b>", "Call-ID: c1@a"]
    call = [_msg("OPTIONS sip:b@b SIP/2.0", [via, *head, "CSeq: 1 OPTIONS", "Max-Forwards: 70"], _A, _B, 1),
            _msg("OPTIONS sip:b@b SIP/2.0", [via, *head, "CSeq: 2 OPTIONS", "Max-Forwards: 70"], _A, _B, 2),
            _msg("SIP/2.0 200 OK", ["Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1", *head, "CSeq: 2 OPTIONS"], _B, _A, 3),
            _msg("SIP/2.0 200 OK", [via, *head, "CSeq: 1 OPTIONS"], _B, _A, 4)]
    facts = CallFacts(call, None, None, RuleSettings(), None)
    assert len({id(facts.txns.of(m)) for m in call}) == 1
    assert "via-mismatch" in _codes(call)
    _same(call)


def test_retransmissions_are_still_reported():
    call = _invite_call([], [], [])
    again = call[1].with_context(call[1].src, call[1].dst, (FrameRef(9, call[1].ts_ns + 500_000_000),),
                                 call[1].ts_ns + 500_000_000)
    call = call[:2] + [again] + call[2:]
    facts = CallFacts(call, None, None, RuleSettings(), None)
    assert facts.retransmitted and facts.originals == [m for m in call if m is not again]
    assert "retransmission" in _codes(call)
    _same(call)


def test_the_same_line_under_two_headers_is_judged_per_header():
    # "<sip:a@a;x=1;x=1>" has x twice as a Via (its parameters follow the first ';') but none as
    # a Contact (its URI's parameters are inside <>): what was made of it under one name does
    # not answer for the other.
    line = "<sip:a@a;x=1;x=1>"
    call = _invite_call([f"Contact: {line}"], [], [])
    call.append(_msg("SIP/2.0 200 OK", [f"Via: {line}", "From: <sip:a@a>;tag=at", "To: <sip:b@b>;tag=bt",
                                        "CSeq: 2 BYE", "Call-ID: c1@a"], _B, _A, 5))
    assert _codes(call).count("duplicate-parameter") == 1
    _same(call)


def test_a_semicolon_inside_quotes_divides_no_via_parameter():
    # x="a;x=2" is one parameter: the quote-free reading of a Via must not take it for two.
    via = 'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;x="a;x=2"'
    call = _invite_call([], [], [])
    call.append(_msg("OPTIONS sip:b@b SIP/2.0", [via, "From: <sip:a@a>;tag=at", "To: <sip:b@b>", "CSeq: 3 OPTIONS",
                                                  *_COMMON], _A, _B, 5))
    call.append(_msg("OPTIONS sip:b@b SIP/2.0", ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK9;X=1; x = 2",
                                                  "From: <sip:a@a>;tag=at", "To: <sip:b@b>", "CSeq: 4 OPTIONS",
                                                  *_COMMON], _A, _B, 6))
    assert _codes(call).count("duplicate-parameter") == 1  # the second: X and x, one name
    _same(call)


@pytest.mark.parametrize("value, twice", [
    ("SIP/2.0/UDP h;branch=z9hG4bK1;rport", ()),
    ("SIP/2.0/UDP h;branch=z9hG4bK2;rport", ()),  # (the first's memo entry)
    ("SIP/2.0/UDP h;branch=z9hG4bK1;branch=z9hG4bK2", ("branch",)),
    ("SIP/2.0/UDP h;rport;branch=z9hG4bK3;RPORT=1", ("rport",)),
    ("SIP/2.0/UDP h;branch=z9hG4bK1", ()),
    ("SIP/2.0/UDP h;x=1;branch=a=b;x=2", ("x",)),
    # the cut would take the closing quote of x="a;branch=b": two x without it, one with it
    ('SIP/2.0/UDP h;x="a;branch=b";x=1', ("x",)),
    ('SIP/2.0/UDP h;x="a;branch=;x=1', ()),
])  # fmt: skip
def test_via_values_remembered_without_their_branch_answer_alike(value, twice):
    assert syntax._via_params_twice(value) == _oracle_params_twice("via", value) == twice
    assert syntax._via_params_twice(value) == twice  # (asked again: from the memo)


def test_a_response_to_another_cseq_is_not_compared_with_the_one_request():
    # One request in the transaction, a response (same branch) with another CSeq: it answers no
    # request of the capture, so its Via values are not compared.
    via = "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"
    head = ["From: <sip:a@a>;tag=at", "To: <sip:b@b>", "Call-ID: c1@a"]
    call = [_msg("OPTIONS sip:b@b SIP/2.0", [via, *head, "CSeq: 1 OPTIONS", "Max-Forwards: 70"], _A, _B, 1),
            _msg("SIP/2.0 200 OK", ["Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1", *head, "CSeq: 7 OPTIONS"], _B, _A, 2)]
    facts = CallFacts(call, None, None, RuleSettings(), None)
    assert facts.txns.of(call[0]) is facts.txns.of(call[1])
    assert "via-mismatch" not in _codes(call)
    _same(call)


def test_answers_judged_alike_both_ways():
    # RFC 4317's offers and answers, each against each; and the edges of the shortcut (the same
    # formats named otherwise by rtpmap; no format at all on either side).
    sdps = [parse_sdp(raw) for _, raw in rfc4317_sdps(shared_path("reference/rfc4317.txt"))]
    assert len(sdps) > 20
    offer = parse_sdp(b"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                      b"m=audio 49170 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n")
    renamed = parse_sdp(b"v=0\r\no=b 1 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n"
                        b"m=audio 49180 RTP/AVP 96\r\na=rtpmap:96 speex/16000\r\n")
    assert _answer_problems(offer, renamed)[1] == "error"  # no format in common: 96 is another codec there
    empty = replace(offer, media=tuple(replace(m, formats=()) for m in offer.media))
    assert _answer_problems(empty, empty)[1] == "error"  # no format at all: none in common
    sdps += [offer, renamed, empty]
    for o in sdps:
        for a in sdps:
            assert _answer_problems(o, a) == oracle_answer_problems(o, a)


def _with_sdp(start: str, headers: list[str], sdp: str, src: Endpoint, dst: Endpoint, n: int) -> SipMessage:
    body = sdp.replace("\n", "\r\n").encode()
    text = (start + "\r\n" + "".join(h + "\r\n" for h in headers)
            + f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    ts = 1_000_000_000 + n * 10_000_000
    return parse_sip(text + body).with_context(src, dst, (FrameRef(n, ts),), ts)


def test_an_offer_accepted_by_a_2xx_without_sdp_is_compared_later():
    # The 200 carries no SDP but completes the INVITE: the offer joins the session, and the
    # re-INVITE that changes it under the same o= version is reported. The answer is looked
    # for among all responses while an offer is pending, not only those with SDP.
    sdp = "v=0\no=a 1 {v} IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio {port} RTP/AVP 0\n"
    head = ["From: <sip:a@a>;tag=at", "Call-ID: c1@a"]
    call = [
        _with_sdp("INVITE sip:b@b SIP/2.0", ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", *head, "To: <sip:b@b>",
                                              "CSeq: 1 INVITE", "Max-Forwards: 70"], sdp.format(v=1, port=4000), _A, _B, 1),
        _msg("SIP/2.0 200 OK", ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", *head, "To: <sip:b@b>;tag=bt",
                                "CSeq: 1 INVITE"], _B, _A, 2),
        _msg("ACK sip:b@b SIP/2.0", ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2", *head, "To: <sip:b@b>;tag=bt",
                                     "CSeq: 1 ACK", "Max-Forwards: 70"], _A, _B, 3),
        _with_sdp("INVITE sip:b@b SIP/2.0", ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK3", *head,
                                              "To: <sip:b@b>;tag=bt", "CSeq: 2 INVITE", "Max-Forwards: 70"],
                  sdp.format(v=1, port=5000), _A, _B, 4),
    ]
    assert "sdp-version-not-incremented" in _codes(call)
    _same(call)
    # the same re-INVITE sent to another node (a proxy): one sender, two receivers
    call[3] = call[3].with_context(_A, _P, call[3].frames, call[3].ts_ns)
    assert "sdp-version-not-incremented" in _codes(call)
    _same(call)


def test_two_invites_in_one_call_id_are_enough_for_a_reuse():
    # The least a reused Call-ID takes: two dialog-creating INVITEs from one node, other From tags.
    def invite(tag: str, branch: str, n: int) -> SipMessage:
        return _msg("INVITE sip:b@b SIP/2.0", [f"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{branch}",
                                              f"From: <sip:a@a>;tag={tag}", "To: <sip:b@b>", "CSeq: 1 INVITE",
                                              *_COMMON], _A, _B, n)
    call = [invite("t1", "1", 1), invite("t2", "2", 2)]
    assert _codes(call).count("call-id-reused") == 1
    _same(call)


def test_a_request_numbered_as_its_node_s_previous_one_is_found():
    # INFO 2 twice (another branch) from one node in one dialog: not higher, reported; the
    # pre-test on rising numbers must take an equal number for a fall.
    call = _invite_call([], [], [])[:3]
    for n, branch in ((4, "z9hG4bK4"), (5, "z9hG4bK5")):
        call.append(_msg("INFO sip:b@b SIP/2.0", [f"Via: SIP/2.0/UDP 10.0.0.1;branch={branch}", "From: <sip:a@a>;tag=at",
                                                 "To: <sip:b@b>;tag=bt", "CSeq: 2 INFO", *_COMMON], _A, _B, n))
    assert "cseq-not-increasing" in _codes(call)
    _same(call)
    # sent to another node (a proxy): still the same node's number
    call[4] = call[4].with_context(_A, _P, call[4].frames, call[4].ts_ns)
    assert "cseq-not-increasing" in _codes(call)
    _same(call)
    # the other node's requests do not count against this one's
    call[4] = call[4].with_context(_B, _A, call[4].frames, call[4].ts_ns)
    _same(call)
