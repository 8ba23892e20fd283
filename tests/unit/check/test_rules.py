"""Reference-free rules on the RFC 3665 message texts (parsed with ``parse_sip``), as printed
and with one defect introduced at a time. F-numbers are the RFC's (the list position)."""

from __future__ import annotations

import re

import pytest

from decoders.records import Endpoint, FrameRef
from decoders.sip import parse_sip
from ladder.check.rules import RuleSettings, check_rules
from test_calls_rfc3665 import T0_NS, rfc3665_messages, rfc3665_sections

SECOND = 1_000_000_000

# What the rules find on the RFC's own texts. 2.5: the flow is a rejected registration.
# 3.3, 3.7 and 3.8: errata in RFC 3665 itself (§3.3 F8 ACKs Proxy 2's 407 F7 with Alice's
# branch; §3.7 F10 changes Alice's SDP, port 49172 -> 1000, under the same o= version; §3.8
# F18's Via is Proxy 2's, so it cannot ACK the 487 F17, and the 200s to CANCEL carry no To tag). 3.4 and 3.10: the RFC's retransmissions, here 10 ms apart.
RFC_TEXT_FINDINGS = {
    "2.5": {("auth-failed", (4,))},
    "3.3": {("missing-ack", (7,))},
    "3.4": {("retransmission", (2, 3, 4, 5, 6, 7)), ("timer-violation", (2, 3, 4, 5, 6, 7))},
    "3.7": {("sdp-version-not-incremented", (1, 10))},
    "3.8": {("missing-ack", (17,)), ("missing-to-tag", (10, 12, 14))},
    "3.10": {("retransmission", (6, 7, 8, 9, 10, 11)), ("timer-violation", (6, 7, 8, 9, 10, 11))},
}


def found(messages, **kwargs) -> set[tuple[str, tuple[int, ...]]]:
    return {(d.code, d.f) for d in check_rules(messages, **kwargs)}


def edit(message, old: bytes, new: bytes, *, count: int = 1):
    """The message with ``old`` replaced (Content-Length kept true unless the edit is on it)."""
    raw = message.raw
    assert old in raw, old
    raw = raw.replace(old, new, count)
    if b"Content-Length" not in old:
        head, sep, body = raw.partition(b"\r\n\r\n")
        head = re.sub(rb"Content-Length: *\d+", b"Content-Length: %d" % len(body), head)
        raw = head + sep + body
    return parse_sip(raw).with_context(message.src, message.dst, message.frames, message.ts_ns)


def at(message, ts_ns: int, transport: str | None = None):
    src, dst = message.src, message.dst
    if transport:
        src, dst = Endpoint(src.ip, src.port, transport), Endpoint(dst.ip, dst.port, transport)
    return message.with_context(src, dst, (FrameRef(message.frames[0].number, ts_ns),), ts_ns)


def flow(section: str) -> list:
    return rfc3665_messages(section)


@pytest.mark.parametrize("section", ["2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "3.4", "3.5",
                                     "3.6", "3.7", "3.8", "3.9", "3.10", "3.11"])  # fmt: skip
def test_rules_on_the_rfc_texts_find_only_the_known_errata(section):
    assert section in rfc3665_sections()
    assert found(flow(section)) == RFC_TEXT_FINDINGS.get(section, set())


def test_erratum_3_8_names_the_ack_with_the_wrong_branch():
    (item,) = [d for d in check_rules(flow("3.8")) if d.code == "missing-ack"]
    assert item.severity == "error" and item.frames == (17,)
    assert "F18 ACK" in item.message and "z9hG4bK721e4.1" in item.message and "§17.1.1.3" in item.message


# --- ACK ---------------------------------------------------------------------------------------


def test_2xx_never_acked_by_the_uac():
    messages = [m for m in flow("3.2") if m.frames[0].number not in (15, 16, 17)]
    items = check_rules(messages)
    assert [(d.code, d.severity, d.f) for d in items] == [("missing-ack", "error", (14,))]
    assert "§13.2.2.4" in items[0].message


def test_a_capture_that_stops_at_the_2xx_proves_no_missing_ack():
    messages = flow("3.1")[:3]  # INVITE, 180, 200: nothing after
    assert found(messages) == set()
    assert found(messages, settings=RuleSettings(end_ns=messages[2].ts_ns + 40 * SECOND)) == {("missing-ack", (3,))}


def test_route_set_compares_lr_spellings_as_equal():
    messages = flow("3.2")
    messages[14] = edit(messages[14], b"<sip:ss1.atlanta.example.com;lr>", b"<sip:SS1.atlanta.example.com;lr=on>")
    assert found(messages) == set()


def test_2xx_acked_by_the_uac_but_lost_on_a_later_hop_is_not_a_missing_ack():
    # Alice sent her ACK (F15); only the proxies' copies are gone: a reference deviation
    # (missing-message), not an RFC 3261 ACK failure of the UAC.
    messages = [m for m in flow("3.2") if m.frames[0].number not in (16, 17)]
    assert found(messages) == set()


def test_2xx_repeated_because_its_ack_never_came():
    messages = flow("3.1")
    ok = messages[2]
    repeats = [at(ok, ok.ts_ns + SECOND // 2), at(ok, ok.ts_ns + 3 * SECOND // 2)]
    messages = messages[:3] + repeats + [at(m, m.ts_ns + 2 * SECOND) for m in messages[4:]]  # no ACK F4
    items = {(d.code, d.severity, d.f) for d in check_rules(messages)}
    assert items == {("missing-ack", "error", (3,)), ("retransmission", "warning", (4, 5))}


def test_non_2xx_never_acked():
    messages = [m for m in flow("3.9") if m.frames[0].number != 9]  # Proxy 1's ACK of the 486 F8
    items = check_rules(messages)
    assert [(d.code, d.f) for d in items] == [("missing-ack", (8,))]
    assert "486 final response" in items[0].message
    # Alice's ACK (F11), the capture's last message: missing only if the capture went on.
    messages = [m for m in flow("3.9") if m.frames[0].number != 11]
    assert found(messages) == set()
    later = RuleSettings(end_ns=messages[-1].ts_ns + 40 * SECOND)
    assert found(messages, settings=later) == {("missing-ack", (10,))}


# --- retransmissions and timers ----------------------------------------------------------------


def _3_10_retimed(gaps_ms: list[int], transport: str | None = None) -> list:
    """RFC 3665 §3.10 with F6..F11 (the INVITE retransmissions) at the given gaps and the
    480 F12 after them."""
    messages = flow("3.10")
    out = messages[:5]
    out[3] = at(out[3], out[3].ts_ns, transport)
    ts = messages[3].ts_ns
    for message, gap in zip(messages[5:11], gaps_ms):
        ts += gap * 1_000_000
        out.append(at(message, ts, transport))
    out += [at(m, ts + (i + 1) * 10_000_000) for i, m in enumerate(messages[11:])]
    return out


def test_timer_a_doubling_from_t1_is_information_only():
    messages = _3_10_retimed([500, 1000, 2000, 4000, 8000, 16000])
    items = check_rules(messages)
    assert [(d.code, d.severity, d.f) for d in items] == [
        ("retransmission", "info", (6, 7, 8, 9, 10, 11)),
    ]


def test_timer_a_at_a_constant_interval_is_a_violation():
    items = check_rules(_3_10_retimed([500] * 6))
    violation = next(d for d in items if d.code == "timer-violation")
    # The first retransmission after T1 is right; each later one should double.
    assert violation.f == (7, 8, 9, 10, 11) and violation.severity == "warning"
    assert "timer A" in violation.message and "§17.1.1.2" in violation.message


def test_a_larger_t1_is_allowed_when_the_backoff_doubles():
    assert found(_3_10_retimed([1000, 2000, 4000, 8000])) == {("retransmission", (6, 7, 8, 9))}
    # A smaller T1 than 500 ms is not: every retransmission comes early.
    assert ("timer-violation", (6, 7, 8, 9, 10, 11)) in found(_3_10_retimed([100, 200, 400, 800, 1600, 3200]))


def test_requests_are_not_retransmitted_over_tcp():
    items = found(_3_10_retimed([500, 1000, 2000, 4000, 8000, 16000], transport="tcp"))
    assert ("timer-violation", (6, 7, 8, 9, 10, 11)) in items


def test_timer_b_no_final_response_needs_a_capture_that_long():
    messages = _3_10_retimed([500, 1000, 2000, 4000, 8000, 16000])
    assert ("no-final-response", (4,)) not in found(messages)  # the capture ends at 31.6 s
    longer = found(messages, settings=RuleSettings(end_ns=messages[3].ts_ns + 33 * SECOND))
    assert ("no-final-response", (4,)) in longer


def test_non_invite_retransmissions_are_capped_at_t2():
    messages = flow("3.1")
    bye, ok = messages[4], messages[5]
    gaps = [500, 1000, 2000, 4000, 4000]
    copies, ts = [], bye.ts_ns
    bye = at(bye, bye.ts_ns, "udp")  # RFC 3665 §3.1 is over TCP, where nothing is retransmitted
    for gap in gaps:
        ts += gap * 1_000_000
        copies.append(at(bye, ts, "udp"))
    answer = at(ok, ts + 10_000_000, "udp")
    assert found(messages[:4] + [bye] + copies + [answer]) == {("retransmission", (6, 7, 8, 9, 10))}
    doubled = copies[:4] + [at(bye, copies[3].ts_ns + 8 * SECOND, "udp")]
    answer = at(ok, doubled[-1].ts_ns + 1, "udp")
    assert ("timer-violation", (10,)) in found(messages[:4] + [bye] + doubled + [answer])


# --- CANCEL --------------------------------------------------------------------------------------


def test_cancel_without_487():
    messages = [m for m in flow("3.8") if m.frames[0].number not in (15, 16)]  # Bob's 487 + its ACK
    assert ("cancel-without-487", (13,)) in found(messages)


def test_cancel_without_its_200():
    messages = [m for m in flow("3.8") if m.frames[0].number != 14]
    assert ("cancel-without-200", (13,)) in found(messages)


# --- proxies and dialogs ----------------------------------------------------------------------------


def test_max_forwards_not_decremented_by_a_proxy():
    messages = flow("3.2")
    messages[4] = edit(messages[4], b"Max-Forwards: 69", b"Max-Forwards: 70")  # F5 Proxy 1 -> Proxy 2
    items = check_rules(messages)
    assert [(d.code, d.severity, d.f) for d in items] == [("max-forwards-not-decremented", "error", (4, 5))]
    assert "§16.6" in items[0].message


def test_ack_route_not_the_reversed_record_route():
    messages = flow("3.2")
    ack = messages[14]  # F15 ACK Alice -> Proxy 1, Route: ss1, ss2
    assert ack.header_values("route") == ["<sip:ss1.atlanta.example.com;lr>", "<sip:ss2.biloxi.example.com;lr>"]
    messages[14] = edit(ack, b"Route: <sip:ss1.atlanta.example.com;lr>,\r\n <sip:ss2.biloxi.example.com;lr>",
                        b"Route: <sip:ss2.biloxi.example.com;lr>,\r\n <sip:ss1.atlanta.example.com;lr>")  # fmt: skip
    items = check_rules(messages)
    assert [(d.code, d.f) for d in items] == [("route-set-violation", (15,))]
    assert "reversed" in items[0].message


def test_callee_bye_route_is_the_record_route_in_order():
    messages = flow("3.2")
    bye = messages[17]  # F18 BYE Bob -> Proxy 2
    assert len(bye.vias) == 1 and bye.header_values("route")
    route = ",".join(bye.header_values("route"))
    messages[17] = edit(bye, bye.raw[bye.raw.index(b"Route:"):].split(b"\r\n")[0], b"Route: <sip:ss2.biloxi.example.com;lr>")
    assert route.count("sip:") == 2
    assert found(messages) == {("route-set-violation", (18,))}


def test_cseq_not_increasing_in_a_dialog():
    messages = flow("3.7")
    bye = messages[11]  # F12 BYE Alice -> Bob, CSeq 2 after her INVITE's 1
    assert bye.cseq == (2, "BYE")
    messages[11] = edit(bye, b"CSeq: 2 BYE", b"CSeq: 1 BYE")
    items = check_rules(messages)
    assert ("cseq-not-increasing", (1, 12)) in {(d.code, d.f) for d in items}


def test_an_auth_retry_reusing_the_cseq_is_not_increasing():
    messages = flow("3.2")
    messages[3] = edit(messages[3], b"CSeq: 2 INVITE", b"CSeq: 1 INVITE")  # F4 retry with credentials
    assert ("cseq-not-increasing", (1, 4)) in found(messages)


# --- syntax ----------------------------------------------------------------------------------------


def test_final_response_without_to_tag():
    messages = flow("3.1")
    to_line = next(line for line in messages[5].raw.split(b"\r\n") if line.startswith(b"To:"))
    messages[5] = edit(messages[5], to_line, to_line.split(b";tag=")[0])  # F6 200 OK to the BYE
    assert found(messages) == {("missing-to-tag", (6,))}


def test_branch_without_magic_cookie_once_per_sender():
    messages = flow("3.1")
    for i in (0, 3):  # F1 INVITE and F4 ACK from Alice
        messages[i] = edit(messages[i], b"branch=z9hG4bK", b"branch=", count=1)
    items = check_rules(messages)
    assert [(d.code, d.severity, d.f) for d in items] == [("branch-without-cookie", "warning", (1, 4))]


def test_content_length_larger_than_the_body():
    messages = flow("3.1")
    declared = messages[0].content_length
    messages[0] = edit(messages[0], b"Content-Length: %d" % declared, b"Content-Length: %d" % (declared + 10))
    items = check_rules(messages)
    assert [(d.code, d.severity, d.f) for d in items] == [("content-length-mismatch", "error", (1,))]


def test_content_length_smaller_than_the_datagram():
    messages = flow("3.11")  # over UDP: the extra bytes are not part of the message (§18.3)
    declared = messages[0].content_length
    messages[0] = edit(messages[0], b"Content-Length: %d" % declared, b"Content-Length: %d" % (declared - 20))
    items = {(d.code, d.severity, d.f) for d in check_rules(messages)}
    assert items == {("content-length-mismatch", "warning", (1,))}


def test_missing_content_length_over_tcp():
    messages = flow("3.1")  # RFC 3665 §3.1 runs over TCP
    messages[4] = edit(messages[4], b"Content-Length: 0\r\n", b"")
    assert found(messages) == {("content-length-mismatch", (5,))}


def test_oversized_request_over_udp():
    messages = flow("3.11")
    padding = b"X-Padding: " + b"p" * 1300 + b"\r\n"
    messages[0] = edit(messages[0], b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\n" + padding)
    big = messages[0]
    messages[0] = big.with_context(big.src, big.dst, (FrameRef(1, big.ts_ns), FrameRef(2, big.ts_ns)), big.ts_ns)
    items = check_rules(messages)
    assert [(d.code, d.f) for d in items] == [("oversized-udp", (1,))]
    assert "2 IP fragments" in items[0].message and "§18.1.1" in items[0].message
    assert found(messages, settings=RuleSettings(path_mtu=9000)) == set()


# --- authentication and SDP -------------------------------------------------------------------------


def test_auth_failed_on_the_same_realm_not_on_a_new_one():
    items = check_rules(flow("2.5"))
    assert [(d.code, d.f) for d in items] == [("auth-failed", (4,))]
    assert "atlanta.example.com" in items[0].message
    # RFC 3665 §3.3: Proxy 2 challenges another realm after Proxy 1's: not a failure.
    assert "auth-failed" not in {code for code, _ in found(flow("3.3"))}


def test_403_after_credentials_is_auth_failed():
    messages = flow("2.1")
    messages[3] = edit(messages[3], b"SIP/2.0 200 OK", b"SIP/2.0 403 Forbidden")
    assert found(messages) == {("auth-failed", (4,))}


def test_sdp_answer_with_a_codec_not_offered_besides_an_offered_one():
    messages = flow("3.1")
    messages[2] = edit(messages[2], b"RTP/AVP 0\r\n", b"RTP/AVP 0 8\r\na=rtpmap:8 PCMA/8000\r\n")  # F3 answer
    items = check_rules(messages)
    # RFC 3264 §6.1: "The stream MAY indicate additional media formats, not listed in the ...
    # offer": worth saying, not a violation.
    assert [(d.code, d.severity, d.f) for d in items] == [("sdp-answer-mismatch", "info", (3,))]
    assert "PCMA/8000" in items[0].message


def test_sdp_answer_with_no_codec_in_common():
    messages = flow("3.1")
    messages[2] = edit(messages[2], b"RTP/AVP 0\r\na=rtpmap:0 PCMU/8000", b"RTP/AVP 8\r\na=rtpmap:8 PCMA/8000")
    items = check_rules(messages)
    assert [(d.code, d.severity, d.f) for d in items] == [("sdp-answer-mismatch", "error", (3,))]
    assert "no format in common" in items[0].message


def test_sdp_answer_with_another_number_of_m_lines():
    messages = flow("3.1")
    video = b"m=video 3458 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\n"
    messages[2] = edit(messages[2], b"a=rtpmap:0 PCMU/8000\r\n", b"a=rtpmap:0 PCMU/8000\r\n" + video)
    assert [(d.code, d.severity) for d in check_rules(messages)] == [("sdp-answer-mismatch", "error")]


_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# RFC 3264 §6.1, written out here from its text (not from the rule's table).
_ALLOWED = {("sendonly", "recvonly"), ("sendonly", "inactive"), ("recvonly", "sendonly"), ("recvonly", "inactive"),
            ("inactive", "inactive")} | {("sendrecv", d) for d in _DIRECTIONS}  # fmt: skip


@pytest.mark.parametrize("offered", _DIRECTIONS)
@pytest.mark.parametrize("answered", _DIRECTIONS)
@pytest.mark.parametrize("where", ["media", "session"])
def test_sdp_answer_direction_follows_rfc3264_6_1(offered, answered, where):
    """Every pair of directions on RFC 3665 §3.1's F1/F3, the attribute on the m-line or at
    session level (which the m-line inherits); sendrecv also as no attribute at all."""
    messages = flow("3.1")

    def directed(message, direction):
        if where == "media":
            return edit(message, b"a=rtpmap:0 PCMU/8000\r\n", b"a=rtpmap:0 PCMU/8000\r\na=%s\r\n" % direction.encode())
        return edit(message, b"t=0 0\r\n", b"t=0 0\r\na=%s\r\n" % direction.encode())

    messages[0], messages[2] = directed(messages[0], offered), directed(messages[2], answered)
    items = check_rules(messages)
    if (offered, answered) in _ALLOWED:
        assert items == []
    else:
        assert [(d.code, d.severity, d.f) for d in items] == [("sdp-answer-mismatch", "warning", (3,))]
        assert f"answers {offered} with {answered}" in items[0].message


def test_sdp_answer_direction_of_a_rejected_stream_is_not_judged():
    """A stream answered with port 0 is refused (§6): its direction means nothing."""
    messages = flow("3.1")
    messages[0] = edit(messages[0], b"a=rtpmap:0 PCMU/8000\r\n", b"a=rtpmap:0 PCMU/8000\r\na=sendonly\r\n")
    messages[2] = edit(messages[2], b"m=audio 3456 ", b"m=audio 0 ")
    assert "answers sendonly" not in " ".join(d.message for d in check_rules(messages))


def test_sdp_answer_directions_of_rfc4317_examples_conform_but_one():
    """Every offer and answer of RFC 4317 (holds, unidirectional and inactive streams among
    them) as the INVITE and 200 of RFC 3665 §3.1: no direction finding, except in §3.2's
    second exchange, where Bob holds the first stream (a=sendonly) and "Alice responds with
    identical SDP to the initial offer", sendrecv: against RFC 3264 §6.1's "MUST be marked as
    recvonly or inactive", the slip the rule is there to catch."""
    from conftest import shared_path
    from rfc_messages import rfc4317_sdps

    bodies = dict(rfc4317_sdps(shared_path("reference/rfc4317.txt")))
    pairs = [(label, label.replace("Offer", "Answer")) for label in bodies if "Offer" in label]
    assert len(pairs) == 27
    directed, flagged = 0, {}
    for offer, answer in pairs:
        messages = flow("3.1")
        messages[0] = _with_body(messages[0], bodies[offer])
        messages[2] = _with_body(messages[2], bodies[answer])
        directed += b"only" in bodies[offer] or b"inactive" in bodies[offer]
        turned = [d for d in check_rules(messages) if "§6.1 allows" in d.message]
        if turned:
            flagged[offer] = [(d.code, d.severity) for d in turned]
    assert directed == 4  # the offers of §2.4, §3.2 (both) and §4.1 (the second)
    assert flagged == {"3.2 [Second-Offer]": [("sdp-answer-mismatch", "warning")]}


def _with_body(message, body: bytes):
    return edit(message, message.raw[message.raw.index(b"\r\n\r\n") :], b"\r\n\r\n" + body)


def test_sdp_answer_may_renumber_a_dynamic_payload_type():
    messages = flow("3.1")
    messages[0] = edit(messages[0], b"RTP/AVP 0\r\n", b"RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")
    messages[2] = edit(messages[2], b"RTP/AVP 0\r\n", b"RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n")
    assert found(messages) == set()


def test_sdp_answer_in_the_ack_of_a_delayed_offer():
    messages = flow("3.6")  # offer in the 200 (F9/F10), answer in the ACK (F11/F12)
    assert found(messages) == set()
    messages[10] = edit(messages[10], b"RTP/AVP 0\r\n", b"RTP/AVP 18\r\n")
    assert found(messages) == {("sdp-answer-mismatch", (11,))}


def test_sdp_version_must_change_with_the_sdp():
    messages = flow("3.7")
    fixed = edit(messages[9], b"o=alice 2890844526 2890844526", b"o=alice 2890844526 2890844527")
    messages[9] = fixed  # RFC 3665 §3.7 F10 with the erratum corrected
    assert found(messages) == set()
    # The same SDP again must keep its version: info when it does not (F10 back to F1's port).
    messages = flow("3.7")
    messages[9] = edit(messages[9], b"o=alice 2890844526 2890844526", b"o=alice 2890844526 2890844530")
    messages[9] = edit(messages[9], b"m=audio 1000", b"m=audio 49172")
    assert [(d.code, d.severity, d.f) for d in check_rules(messages)] == [
        ("sdp-version-not-incremented", "info", (1, 10))
    ]


def test_sdp_version_may_go_up_by_one_on_an_unchanged_sdp():
    """RFC 3264 §8, RFC 6337 §5.2.5: the o= version of a subsequent SDP stays or goes up by one;
    a session refresh (RFC 4028 §10) re-offering its SDP unchanged under version + 1 is fine."""
    messages = flow("3.7")
    messages[9] = edit(messages[9], b"o=alice 2890844526 2890844526", b"o=alice 2890844526 2890844527")
    messages[9] = edit(messages[9], b"m=audio 1000", b"m=audio 49172")  # F1's SDP again
    assert found(messages) == set()


def test_sdp_version_compared_only_against_an_accepted_offer():
    """RFC 3264 §8: an offer the 407 rejected (RFC 3665 §3.2 F1) is not part of the session;
    the retry F4 may change it under the same version. Once F6's 200 accepted F4's offer, a
    change under the same version is a finding."""
    messages = flow("3.2")
    assert messages[0].sdp is not None and messages[3].sdp is not None
    messages[3] = edit(messages[3], b"m=audio 49172", b"m=audio 49174")
    assert not {code for code, _ in found(messages)} & {"sdp-version-not-incremented"}


def test_rfc_4475_torture_messages_give_findings_never_exceptions():
    """Every RFC 4475 message that parses, alone, repeated and all together, goes through
    every rule: odd Vias, huge or missing headers, bodies that do not fit."""
    from conftest import shared_path
    from decoders.errors import DecodeError
    from rfc_messages import rfc4475_messages

    parsed = []
    for name, (_, data) in sorted(rfc4475_messages(shared_path("reference/rfc4475.txt")).items()):
        try:
            message = parse_sip(data)
        except DecodeError:
            continue  # a message the parser refuses never reaches the rules
        n = len(parsed) + 1
        ts = T0_NS + n * 1_000_000
        parsed.append(message.with_context(Endpoint("192.0.2.1", 5060), Endpoint("192.0.2.2", 5060), (FrameRef(n, ts),), ts))
    assert len(parsed) > 30
    for message in parsed:
        for item in check_rules([message, at(message, message.ts_ns + SECOND)]):
            assert item.severity in ("info", "warning", "error") and item.message
    everything = check_rules(parsed)
    codes = {d.code for d in everything}
    # RFC 4475 §3.1.2.x: bodies shorter or longer than Content-Length; §3.3.x: no magic cookie.
    assert "content-length-mismatch" in codes and "branch-without-cookie" in codes
