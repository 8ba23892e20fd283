"""SDP offer/answer (RFC 3264 §6, §8): an answer that fits its offer, o= versions that step by
one when a session description changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from decoders.sdp import STATIC_PAYLOAD_TYPES
from ladder.check.deviations import ERROR, INFO, WARNING, Code, Deviation, deviation
from ladder.check.rules.facts import CallFacts, reliable_provisional

if TYPE_CHECKING:
    from decoders.sdp import SdpMedia, SdpSession
    from decoders.sip import SipMessage

SDP_ANSWER_MISMATCH = Code("sdp-answer-mismatch", ERROR, "RFC 3264 §6", "an SDP answer whose m-lines or codecs do not fit the offer (a warning when only a stream's direction does not, info when it only adds codecs, which §6.1 allows)")
SDP_VERSION_NOT_INCREMENTED = Code("sdp-version-not-incremented", WARNING, "RFC 3264 §8", "a changed SDP whose o= version was not incremented by one")  # fmt: skip
CODES = (SDP_ANSWER_MISMATCH, SDP_VERSION_NOT_INCREMENTED,)


# --- SDP offer/answer (RFC 3264) ---------------------------------------------------------------


def _formats(media: "SdpMedia") -> set[str]:
    names: set[str] = set()
    rtpmap = media.rtpmap  # (``media.encoding``, read without a call for each format)
    for fmt in media.formats:
        encoding = (rtpmap.get(int(fmt)) or STATIC_PAYLOAD_TYPES.get(int(fmt))) if fmt.isdigit() and len(fmt) <= 3 else None
        names.add(f"{encoding[0].upper()}/{encoding[1]}" if encoding else fmt.upper())
    return names


# §6.1: the directions an answer may give a stream offered sendonly, recvonly or inactive (a
# sendrecv offer may be answered with any).
_ANSWER_DIRECTIONS = {"sendonly": ("recvonly", "inactive"), "recvonly": ("sendonly", "inactive"),
                      "inactive": ("inactive",)}  # fmt: skip


def _answer_problems(offer: "SdpSession", answer: "SdpSession") -> tuple[list[str], str]:
    """What is wrong with ``answer`` as an answer to ``offer``, and the severity it earns.

    §6: as many m-lines as the offer, each of the same media type; an accepted stream lists at
    least one offered format (none in common means the stream must be rejected with port 0):
    an error, the media cannot flow as negotiated. §6.1: a stream offered sendonly is answered
    recvonly or inactive, one offered recvonly sendonly or inactive, one offered inactive
    inactive: a warning, since the offerer still sends (or not) as it offered, whatever the
    answer says, and the answerer's wrong direction shows where one-way audio was asked for.
    §6.1 lets an answer list extra formats the answerer could also use: information, since the
    offerer cannot send them in this exchange."""
    problems: list[str] = []
    broken = turned = False
    if len(answer.media) != len(offer.media):
        problems.append(f"{len(answer.media)} m-lines answer {len(offer.media)} offered (§6)")
        broken = True
    for index, (o, a) in enumerate(zip(offer.media, answer.media), start=1):
        if a.disabled:
            continue  # a rejected stream's formats carry no meaning
        if a.kind != o.kind:
            problems.append(f"m-line {index} is {a.kind}, offered {o.kind} (§6)")
            broken = True
            continue
        # The offer's formats named alike: the same names, some in common, none added.
        if not (a.formats == o.formats and a.formats and a.rtpmap == o.rtpmap):
            offered, answered = _formats(o), _formats(a)
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
        allowed = _ANSWER_DIRECTIONS.get(o.direction)
        if allowed is not None and not o.disabled and a.direction not in allowed:
            problems.append(f"m-line {index} answers {o.direction} with {a.direction}, "
                            f"where §6.1 allows {' or '.join(allowed)}")  # fmt: skip
            turned = True
    return problems, (ERROR if broken else WARNING if turned else INFO)


def rule_sdp_answer(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3264 §6: the answer has as many m-lines as the offer, of the same types, each
    accepted stream with a format the offer listed and a direction §6.1 allows. The offer is
    the INVITE's SDP and the answer the first response with SDP on the same hop; an INVITE
    without SDP gets its offer in the 2xx and its answer in the ACK."""
    groups: dict[tuple, tuple["SipMessage", list["SipMessage"], list[str], str]] = {}
    for txn in facts.txns.transactions:
        request = txn.request
        if txn.method != "INVITE" or request is None or facts.is_retransmission(request):
            continue
        offer_msg: SipMessage | None
        answer_msg: SipMessage | None
        if request.sdp is not None:
            offer_msg = request
            answer_msg = next((m for m in txn.responses if m.sdp is not None and (m.status or 0) < 300), None)
        else:
            offer_msg = next((m for m in txn.responses if m.sdp is not None and 200 <= (m.status or 0) < 300), None)
            answer_msg = _ack_with_sdp(facts, offer_msg) if offer_msg is not None else None
        if offer_msg is None or answer_msg is None or offer_msg.sdp is None or answer_msg.sdp is None:
            continue
        problems, severity = _answer_problems(offer_msg.sdp, answer_msg.sdp)
        if not problems:
            continue
        key = (request.call_id, request.cseq, tuple(problems))
        if key in groups:
            groups[key][1].append(answer_msg)
        else:
            groups[key] = (offer_msg, [answer_msg], problems, severity)
    for offer_msg, answers, problems, severity in groups.values():
        yield deviation(
            SDP_ANSWER_MISMATCH,
            f"{facts.name(answers[0])} answers the offer in {facts.name(offer_msg)}: "
            f"{'; '.join(problems)} (RFC 3264)",
            f=facts.fs(answers), frames=facts.frames(answers), severity=severity,
        )  # fmt: skip


def _ack_with_sdp(facts: CallFacts, ok: "SipMessage") -> "SipMessage | None":
    """The ACK with SDP the receiver of ``ok`` sent next (wherever to: without Record-Route
    it goes straight to the remote target)."""
    receiver = facts.sides(ok)[1]
    for message in facts.requests("ACK"):
        if (
            message.sdp is not None
            and message.call_id == ok.call_id and message.cseq and ok.cseq
            and message.cseq[0] == ok.cseq[0] and message.ts_ns >= ok.ts_ns
            and facts.sides(message)[0] == receiver
        ):  # fmt: skip
            return message
    return None


def _sdp_without_origin(message: "SipMessage") -> bytes:
    lines = message.body.replace(b"\r\n", b"\n").split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith(b"o=") and line.strip())


def rule_sdp_version(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3264 §8: a new offer in a session whose description changed carries the version
    of the last description that sender had in the session plus one; an unchanged one keeps
    it or goes up by one (RFC 6337 §5.2.5). A sender's description joins the session when the
    exchange completes: an answer at once (in a 2xx, a reliable 1xx or an ACK), an offer when a
    2xx or a reliable 1xx with SDP answers it. An offer still unanswered, or an SDP in an
    unreliable 1xx (a preview, RFC 6337 §3.1.1), is not compared against. An offer rejected (a
    407, a 488, a 491 in glare, §14.1) was still provided to the other party, which makes it the
    "previous SDP" of §8 (RFC 6337 §5.2.5: "previously sent as an offer or answer"), while a UA
    may equally count from the description the session holds: the next SDP is found wrong only
    when it fits neither. Per sender node, Call-ID and o= session.

    Every session entry a sender's SDP is compared with was made from an earlier SDP that sender
    sent (its own answer or description, or its offer when answered; a refused offer is only
    looked at beside one): a call in which no node sends two SDPs (with o=, not retransmitted)
    has nothing to compare, as a plain offer/answer."""
    if not _some_sender_repeats_sdp(facts):
        return
    # (An entry's SDP without its o= line is that of its message, made only when compared: most
    # sessions never change, and their messages' bodies are immutable bytes.)
    accepted: dict[tuple, tuple[int, "SipMessage"]] = {}
    pending: dict[int, tuple[tuple, int, "SipMessage"]] = {}  # id(txn) -> the offer
    rejected: dict[tuple, tuple[int, "SipMessage"]] = {}  # the last offer refused since, by key
    reported: set[tuple] = set()  # the same SDP relayed by a proxy: one finding
    of = facts.txns.of
    for message in facts.messages:
        txn = of(message) if pending and not message.is_request else None  # (none pending: no answer to look for)
        if txn is not None and id(txn) in pending:
            status = message.status or 0
            if 200 <= status < 300 or (message.sdp is not None and reliable_provisional(message)):
                key, version, offer = pending[id(txn)]
                # The session is the dialog the answer made (each fork its own, §12.1.2).
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
                found = []  # it follows the refused offer, the last SDP this side provided
            yield from found
        if message.is_request and message.method != "ACK":
            txn = of(message)
            if txn is not None:
                pending[id(txn)] = (key, origin.version, message)
        elif message.is_request or 200 <= (message.status or 0) < 300 or reliable_provisional(message):
            accepted[key] = (origin.version, message)


def _some_sender_repeats_sdp(facts: CallFacts) -> bool:
    """Whether a node sends two SDPs with an o= line in the call (retransmissions left out)."""
    senders: set = set()
    for message in facts.originals:
        sdp = message.sdp
        if sdp is not None and sdp.origin is not None:
            sender = facts.sides(message)[0]
            if sender in senders:
                return True
            senders.add(sender)
    return False


def _dialog_of(message: "SipMessage") -> frozenset:
    """The dialog a message is in, whichever side sent it (its two tags); a request outside
    any dialog (no To tag) is in none yet."""
    return frozenset((message.from_tag, message.to_tag)) if message.to_tag else frozenset()


def _version_findings(facts: CallFacts, message: "SipMessage", version: int, content: bytes,
                      before: tuple[int, "SipMessage"]) -> Iterable[Deviation]:
    old_version, old_message = before
    old = _sdp_without_origin(old_message)
    if content != old and version <= old_version:
        yield deviation(
            SDP_VERSION_NOT_INCREMENTED,
            f"{facts.name(message)} changes the SDP of {facts.name(old_message)} but keeps "
            f"o= version {version} (was {old_version}; RFC 3264 §8)",
            f=facts.fs([old_message, message]), frames=facts.frames([message]),
        )  # fmt: skip
    elif content == old and version not in (old_version, old_version + 1):
        # RFC 3264 §8 (RFC 6337 §5.2.5): the version stays or goes up by one; one higher on an
        # unchanged description (a session refresh's re-INVITE, RFC 4028 §10) is allowed.
        yield deviation(
            SDP_VERSION_NOT_INCREMENTED,
            f"{facts.name(message)} repeats the SDP of {facts.name(old_message)} with o= "
            f"version {version} instead of {old_version} (RFC 3264 §8)",
            f=facts.fs([old_message, message]), frames=facts.frames([message]),
            severity=INFO,
        )  # fmt: skip
