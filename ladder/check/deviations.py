"""Deviations: what ``ladder check`` reports, with stable kebab-case codes and severities.

Codes are part of the public interface (``--ignore CODE``, JSON output, the README): never
rename one. Each code has a default severity and the rule it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

INFO = "info"
WARNING = "warning"
ERROR = "error"
SEVERITIES = (INFO, WARNING, ERROR)
_RANK = {INFO: 0, WARNING: 1, ERROR: 2}


@dataclass(frozen=True, slots=True)
class Code:
    """One deviation code: its default severity, where the rule comes from, and a summary."""

    name: str
    severity: str
    rule: str
    summary: str


_CODES = (
    # --- against a reference flow (RFC 3665) ---
    Code("missing-message", WARNING, "RFC 3665", "a required message of the reference flow is not in the capture"),
    Code("unexpected-message", WARNING, "RFC 3665", "a message the reference flow does not have (info for a provisional response)"),
    Code("out-of-order", WARNING, "RFC 3665", "a message of the reference flow came before one it depends on"),
    Code("wrong-direction", WARNING, "RFC 3665", "a message of the reference flow went the other way"),
    Code("different-response", WARNING, "RFC 3665", "another response code than the reference flow's"),
    Code("different-content", INFO, "RFC 3665", "the message lacks (or has) what the reference shows: SDP, Contact, credentials, Expires: 0"),
    # --- RFC 3261 transactions and timers ---
    Code("missing-ack", ERROR, "RFC 3261 §17.1.1.3, §13.2.2.4", "a final response to INVITE that was never ACKed"),
    Code("retransmission", INFO, "RFC 3261 §17", "a retransmitted message (warning when it reveals a lost message)"),
    Code("timer-violation", WARNING, "RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1", "retransmissions not spaced as timers A, E, G (T1, T2) require, or on a reliable transport"),
    Code("no-final-response", WARNING, "RFC 3261 §17.1.1.2, §17.1.2.2", "no final response within timer B / F (64*T1)"),
    Code("cancel-without-487", WARNING, "RFC 3261 §9.2", "a CANCELled INVITE not answered with 487 Request Terminated"),
    Code("cancel-without-200", WARNING, "RFC 3261 §9.2", "a CANCEL without its 200 OK"),
    Code("max-forwards-not-decremented", ERROR, "RFC 3261 §16.6 step 3", "a proxy forwarded a request without decrementing Max-Forwards"),
    Code("route-set-violation", ERROR, "RFC 3261 §12.2.1.1", "an in-dialog request whose Route does not follow the dialog's route set (Record-Route)"),
    Code("cseq-not-increasing", ERROR, "RFC 3261 §12.2.1.1, §22.2", "a new request in a dialog (or resubmitted with credentials) whose CSeq is not higher than the sender's previous one"),
    Code("register-cseq-not-increasing", ERROR, "RFC 3261 §10.2", "a REGISTER whose CSeq is not higher than the previous REGISTER of the same Call-ID"),
    Code("missing-to-tag", ERROR, "RFC 3261 §8.2.6.2", "a final response without a To tag"),
    Code("via-mismatch", ERROR, "RFC 3261 §8.2.6.2", "a response whose Via values differ from the request's (beyond received/rport)"),
    Code("record-route-not-copied", ERROR, "RFC 3261 §12.1.1", "a UAS's dialog-creating response that does not copy the request's Record-Route verbatim"),
    Code("duplicate-parameter", ERROR, "RFC 3261 §7.3.1", "a header parameter given twice in one header value (two tag= on a To)"),
    Code("prack-missing", WARNING, "RFC 3262 §4", "a reliable provisional response (Require: 100rel, RSeq) never PRACKed"),
    Code("notify-missing", WARNING, "RFC 6665 §4.2.1.2", "a SUBSCRIBE accepted with a 2xx but no NOTIFY from the notifier"),
    Code("no-retransmission", WARNING, "RFC 3261 §17.1.2.2", "a non-INVITE request over UDP unanswered past T1 and never retransmitted"),
    Code("branch-without-cookie", WARNING, "RFC 3261 §8.1.1.7", "a Via branch without the z9hG4bK magic cookie"),
    Code("content-length-mismatch", ERROR, "RFC 3261 §20.14, §18.3", "Content-Length differs from the body's size"),
    Code("oversized-udp", WARNING, "RFC 3261 §18.1.1", "a request over UDP larger than 1300 bytes (or within 200 bytes of the path MTU)"),
    Code("auth-failed", WARNING, "RFC 3261 §22", "credentials rejected: a challenge repeated for the same realm, or 403 after credentials"),
    # --- RFC 3264 offer/answer ---
    Code("sdp-answer-mismatch", ERROR, "RFC 3264 §6", "an SDP answer whose m-lines or codecs do not fit the offer (info when it only adds codecs, which §6.1 allows)"),
    Code("sdp-version-not-incremented", WARNING, "RFC 3264 §8", "a changed SDP whose o= version was not incremented by one"),
    # --- media (facts from ladder/media/binding.py) ---
    Code("one-way-media", WARNING, "RFC 3550", "RTP flowed in one direction only"),
    Code("no-media", WARNING, "RFC 3550", "an established call without any RTP"),
    Code("media-address-mismatch", INFO, "RFC 4566 §5.7, §5.14", "RTP from another address than its sender's SDP (c= names where to send, not the source)"),
    Code("media-after-bye", WARNING, "RFC 3261 §15", "RTP still flowing more than a second after the BYE"),
    Code("unexpected-payload-type", WARNING, "RFC 3264 §5.1", "RTP with a payload type no SDP of the call offered"),
    Code("nat-mismatch", INFO, "RFC 4566 §5.7", "RTP follows the signalling address instead of the SDP's (NAT)"),
)  # fmt: skip

CODES: dict[str, Code] = {code.name: code for code in _CODES}


@dataclass(frozen=True, slots=True)
class Deviation:
    """One finding about one call.

    ``f`` are the captured F-numbers concerned (as the ladder shows them), ``reference_f`` the
    reference flow's F-numbers; ``frames`` the 1-based capture frames (an RTP frame for media);
    ``message`` one sentence citing the rule.
    """

    code: str
    severity: str
    message: str
    f: tuple[int, ...] = ()
    reference_f: tuple[int, ...] = ()
    frames: tuple[int, ...] = ()
    rule: str = ""
    stream_keys: tuple = ()  # the RTP streams of a media deviation (``Arrow.stream_keys``)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "f": list(self.f),
            "reference_f": list(self.reference_f),
            "frames": list(self.frames),
            "rule": self.rule,
            "message": self.message,
        }

    def label(self) -> str:
        """``missing-ack (error)``: how a ladder marks the arrow."""
        return f"{self.code} ({self.severity})"


def deviation(
    code: str,
    message: str,
    *,
    f: tuple[int, ...] | list[int] = (),
    reference_f: tuple[int, ...] | list[int] = (),
    frames: tuple[int, ...] | list[int] = (),
    severity: str | None = None,
) -> Deviation:
    """A ``Deviation`` with the code's default severity and rule unless told otherwise."""
    known = CODES[code]
    return Deviation(
        code=code,
        severity=severity or known.severity,
        message=message,
        f=tuple(sorted(set(f))),
        reference_f=tuple(sorted(set(reference_f))),
        frames=tuple(sorted(set(frames))),
        rule=known.rule,
    )


def at_least(severity: str, threshold: str) -> bool:
    """True when ``severity`` is ``threshold`` or worse."""
    return _RANK[severity] >= _RANK[threshold]


def worst(deviations) -> str | None:
    """The highest severity among ``deviations`` (None when there are none)."""
    best: str | None = None
    for item in deviations:
        if best is None or _RANK[item.severity] > _RANK[best]:
            best = item.severity
    return best


def parse_ignore(text: str) -> frozenset[str]:
    """``--ignore a,b``: the codes, each checked against ``CODES``."""
    codes = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(codes - CODES.keys())
    if unknown:
        raise ValueError(f"unknown deviation code(s): {', '.join(unknown)} (known: {', '.join(CODES)})")
    return codes
