"""Media findings: what ``ladder.media.binding`` found wrong with a call's RTP streams (one
way, none, from another address than the SDP's, after the BYE, an unoffered payload type), as
deviations. The media module decides the facts; the codes and their wording are here."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ladder.check.deviations import INFO, WARNING, Code, Deviation, deviation

if TYPE_CHECKING:
    from ladder.calls.grouping import Call
    from ladder.capture.loader import Capture
    from ladder.media.binding import MediaIndex

ONE_WAY_MEDIA = Code("one-way-media", WARNING, "RFC 3550", "RTP flowed in one direction only")
NO_MEDIA = Code("no-media", WARNING, "RFC 3550", "an established call without any RTP")
MEDIA_ADDRESS_MISMATCH = Code("media-address-mismatch", INFO, "RFC 4566 §5.7, §5.14", "RTP from another address than its sender's SDP (c= names where to send, not the source)")
MEDIA_AFTER_BYE = Code("media-after-bye", WARNING, "RFC 3261 §15", "RTP still flowing more than a second after the BYE")
UNEXPECTED_PAYLOAD_TYPE = Code("unexpected-payload-type", WARNING, "RFC 3264 §5.1", "RTP with a payload type no SDP of the call offered")
NAT_MISMATCH = Code("nat-mismatch", INFO, "RFC 4566 §5.7", "RTP follows the signalling address instead of the SDP's (NAT)")  # fmt: skip
CODES = (ONE_WAY_MEDIA, NO_MEDIA, MEDIA_ADDRESS_MISMATCH, MEDIA_AFTER_BYE, UNEXPECTED_PAYLOAD_TYPE, NAT_MISMATCH)
_BY_NAME = {code.name: code for code in CODES}


def media_deviations(calls: list["Call"], capture: "Capture", index: "MediaIndex | None" = None) -> list[Deviation]:
    """``ladder.media.binding``'s problems of the call's streams, as deviations: the media module
    decides the facts (which stream belongs to the call, what its SDP said); a deviation keeps
    the stream's key so a ladder can mark its media bar, and the RTP frame concerned."""
    if not getattr(capture, "streams", None):
        return []  # a capture without any RTP (SIP only) says nothing about media
    from ladder.media.binding import MediaIndex, sdp_announcements

    if index is None:
        index = MediaIndex.build(calls, capture.streams)
    found: list[Deviation] = []
    for problem in index.problems(calls):
        code = _BY_NAME.get(problem.code)
        if code is None:
            continue  # a media fact ``ladder check`` has no code for
        detail, severity = f"{problem.detail} ({code.rule})", None
        if problem.code == "media-address-mismatch":
            # c= says where to send media, not where it comes from (RFC 4566 §5.7); sending
            # from the receiving port (symmetric RTP, RFC 4961) is a practice, not a rule.
            detail = detail + "; c= names where to send, not the source"
        elif problem.code == "no-media" and not _media_path_seen(calls, capture, sdp_announcements):
            detail, severity = ("no RTP was seen, but the capture holds no RTP to or from any "
                                "address the SDP announced: its media path is outside the capture, "
                                "so it cannot tell"), INFO
        item = deviation(code, detail, frames=[problem.frame] if problem.frame else [],
                         severity=severity)  # fmt: skip
        if problem.stream_key is not None:
            item = replace(item, stream_keys=(problem.stream_key,))
        found.append(item)
    return found


def _media_path_seen(calls: list["Call"], capture: "Capture", announcements) -> bool:
    """Whether the capture holds any RTP stream to or from an address the calls' SDP
    announced (for this call or another): otherwise media ran where the capture was not."""
    addresses = {a.address for call in calls for a in announcements(call)}
    return any(s.src.ip in addresses or s.dst.ip in addresses for s in getattr(capture, "streams", ()) or ())
