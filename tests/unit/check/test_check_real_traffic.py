"""``ladder check`` rules on the public captures that showed each false or missed finding
(issue 12): every test names the capture and the RFC section it is judged by."""

from __future__ import annotations

import json
from pathlib import Path

from ladder.capture.loader import load_capture
from ladder.calls.grouping import build_calls
from ladder.check.call_check import capture_settings, check_call
from ladder.check.references import load_references

_REFERENCES = load_references()


def check_capture(path: Path, media: bool = False) -> list[tuple[int, object]]:
    """(call index, deviation) for every finding of every call, as ``ladder check`` makes them."""
    capture = load_capture(str(path), media=media)
    settings = capture_settings(capture)
    found = []
    for call in build_calls(capture):
        result = check_call(call, capture, _REFERENCES, settings=settings)
        found.extend((call.index, d) for d in result.deviations)
    return found


def codes(found, code: str) -> list[tuple[int, tuple[int, ...]]]:
    """(call, F-numbers) of the warnings and errors with ``code``."""
    return [(index, d.f) for index, d in found if d.code == code and d.severity != "info"]


def test_route_set_from_the_invite_record_route_and_the_sender_own_entry(shared):
    """heplify/sip_ipv4_tcp_fragmented.pcap: an SBC Record-Routes itself in the INVITEs it
    sends; its UPDATEs and ACKs then carry no Route. RFC 3261 §12.1.1 takes the UAS's route
    set from the INVITE and §16.4 has a node remove a Route naming itself: 56 false errors
    before, none now."""
    found = check_capture(shared / "captures/heplify/sip_ipv4_tcp_fragmented.pcap")
    assert codes(found, "route-set-violation") == []


def test_route_set_violation_still_found_on_real_bytes(shared):
    """wireshark-wiki/LtoZ_rtpFilter_fail_2.pcap: the UA drops ``;lr`` and the ftag of the
    Record-Route it received, and its ACK routes to the callee's Contact instead (§12.2.1.1)."""
    found = check_capture(shared / "captures/wireshark-wiki/LtoZ_rtpFilter_fail_2.pcap")
    assert codes(found, "route-set-violation") == [(1, (11,)), (1, (16,)), (1, (18,))]


def test_cseq_per_dialog_and_sender(shared):
    """sngrep/ipv6frag.pcap: two forks each number from the INVITE's CSeq (§12.1.2): PRACK 2
    in the second fork is not out of order after UPDATE 3 in the first. The BYE with CSeq 2
    after UPDATE 3 in one dialog is (§12.2.1.1), reported once though a proxy relays it."""
    found = check_capture(shared / "captures/sngrep/ipv6frag.pcap")
    assert codes(found, "cseq-not-increasing") == [(1, (10, 29))]


def test_relayed_register_is_not_a_cseq_fault(shared):
    """heplify/sip_ipv4_tcp_retrans.pcap: an SBC relays each REGISTER with its CSeq; two
    senders, each increasing (§10.2)."""
    found = check_capture(shared / "captures/heplify/sip_ipv4_tcp_retrans.pcap")
    assert codes(found, "cseq-not-increasing") == [] and codes(found, "register-cseq-not-increasing") == []


def test_out_of_dialog_requests_are_not_ordered(shared):
    """hep-wireshark/hep.pcap: OPTIONS 9999 then PUBLISH 1 in the Call-ID of an INVITE a 407
    rejected (no dialog was made): nothing orders them."""
    found = check_capture(shared / "captures/hep-wireshark/hep.pcap")
    assert codes(found, "cseq-not-increasing") == []


def test_sdp_version_per_dialog_of_a_forked_call(shared):
    """sngrep/ipv6frag.pcap: the UAC's UPDATE in the second fork changes its SDP under the
    version that fork accepted (RFC 3264 §8), once though a proxy relays it; nothing is
    compared across forks or against the unanswered offer."""
    found = check_capture(shared / "captures/sngrep/ipv6frag.pcap")
    assert codes(found, "sdp-version-not-incremented") == [(1, (1, 20))]


def test_sdp_version_not_compared_against_rejected_offers(shared):
    """heplify/erspan_sip_ipv4_udp.pcapng: offers answered by 407, retried with other SDP
    under the same version; DTMFsipinfo.pcap the same after a 401. RFC 3264 §8 compares with
    the last SDP the session accepted: none yet."""
    for name in ("heplify/erspan_sip_ipv4_udp.pcapng", "wireshark-wiki/DTMFsipinfo.pcap"):
        found = check_capture(shared / "captures" / name)
        assert codes(found, "sdp-version-not-incremented") == [], name


# --- capture copies, breaks, damage ------------------------------------------------------------


def test_capture_copies_are_one_message_not_retransmissions(shared):
    """wireshark-wiki/T38.pcap: a Linux "any" capture sees each outgoing packet twice, 5 µs
    apart; hep3_compressed.pcap.pcapng: each HEP packet three times. One arrow with ×N, and no
    retransmission, timer or "response lost" finding (issue 12)."""
    from ladder.draw.layout import build_ladder
    from ladder.draw.text import render_text

    t38 = shared / "captures/wireshark-wiki/T38.pcap"
    found = check_capture(t38)
    assert codes(found, "retransmission") == [] and codes(found, "timer-violation") == []
    # F4 is a second 183, 42 ms after F3, that brings the SDP F3 did not: a new provisional
    # response, not a repeat of F3 (RFC 3261 §17.2.1), so no retransmission at all.
    assert [d for _, d in found if d.code == "retransmission"] == []
    capture = load_capture(str(t38), media=False)
    (call,) = build_calls(capture)
    ladder = build_ladder(call, capture, media=False)
    doubled = [a for a in ladder.sip_arrows() if a.copies]
    assert len(doubled) == 7 and all(a.times_seen == 2 for a in doubled)
    assert "100 Trying F2 ×2" in render_text(ladder)
    assert sum(len(c) for c in call.copies.values()) + len(call.messages) == len(capture.sip_messages)
    hep = check_capture(shared / "captures/hep-wireshark/hep3_compressed.pcap.pcapng")
    assert not [d for _, d in hep if d.code in ("retransmission", "timer-violation")]
    assert codes(hep, "auth-failed") == [(1, (4,))]  # what remains is true: credentials refused


def test_a_real_retransmission_is_not_folded(shared):
    """heplify/FAX-Call-t38-CA-TDM-SIP-FB-1.pcap: copies 1 ms apart are folded; the UAS's
    200 OK repeated 500 ms later for want of an ACK is a retransmission still."""
    found = check_capture(shared / "captures/heplify/FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")
    assert not [d for _, d in found if d.code == "timer-violation"]


def test_clock_leaps_stand_the_silence_rules_down(shared, run_ladder):
    """heplify/sip_ipv6_udp.pcap: a collage whose clock leaps by decades; the 200 to the BYE
    arrived "652075650 s later" only because of it."""
    found = check_capture(shared / "captures/heplify/sip_ipv6_udp.pcap")
    assert codes(found, "no-final-response") == []
    done = run_ladder("check", "--json", "--no-media", str(shared / "captures/heplify/sip_ipv6_udp.pcap"))
    report = json.loads(done.out)
    assert len(report["discontinuities"]) == 5 and "years" in report["capture_notes"][0]


def test_a_fuzzed_capture_concludes_nothing_from_silence(shared):
    """ndpi/fuzz-2006-06-26-2594.pcap is aaa.pcap with bytes mutated: 41 of 54 messages lost
    a mandatory header, so a missing answer may be one of them."""
    found = check_capture(shared / "captures/ndpi/fuzz-2006-06-26-2594.pcap", media=True)
    silent = {"no-final-response", "missing-ack", "cancel-without-200", "no-retransmission", "unexpected-payload-type"}
    assert not [d for _, d in found if d.code in silent]


def test_a_call_seen_from_inside_its_dialog_is_partial(shared):
    capture = load_capture(str(shared / "captures/heplify/sip_ipv4_tcp_fragmented.pcap"), media=False)
    partial = [c for c in build_calls(capture) if c.outcome.code == "partial"]
    assert partial and all(not any(m.is_request and m.method == "INVITE" and not m.to_tag for m in c.messages)
                           for c in partial)


# --- the new codes, positive and negative on real bytes -------------------------------------------


def test_via_mismatch(shared):
    """heplify/erspan_sip_ipv4_udp.pcapng: the UA answers NOTIFYs with Via port 5860 for the
    request's 5260 (§8.2.6.2). The same response is still matched to its transaction (§17.1.3:
    branch and method), so no "no final response" follows from it."""
    found = check_capture(shared / "captures/heplify/erspan_sip_ipv4_udp.pcapng")
    assert codes(found, "via-mismatch") == [(1, (7,)), (2, (7,)), (4, (9,))]
    assert codes(found, "no-final-response") == [] and codes(found, "no-retransmission") == []
    clean = check_capture(shared / "captures/heplify/sip_ipv4_tcp_fragmented.pcap")
    assert codes(clean, "via-mismatch") == []


def test_record_route_not_copied(shared):
    """LtoZ_rtpFilter_fail_2.pcap: the UAS's 180 drops the Record-Route's parameters (§12.1.1).
    sip_tcp_websocket.pcap: a proxy past the capture adds its own on top: not a UAS's fault."""
    found = check_capture(shared / "captures/wireshark-wiki/LtoZ_rtpFilter_fail_2.pcap")
    assert codes(found, "record-route-not-copied") == [(1, (5, 7))]
    assert codes(check_capture(shared / "captures/heplify/sip_tcp_websocket.pcap"), "record-route-not-copied") == []


def test_duplicate_parameter(shared):
    """sngrep/ipv6frag.pcap: F24 200 OK has To: …;tag=…0271847;tag=…0171847 (§7.3.1)."""
    found = check_capture(shared / "captures/sngrep/ipv6frag.pcap")
    assert codes(found, "duplicate-parameter") == [(1, (24,))]
    assert codes(check_capture(shared / "captures/heplify/erspan_sip_ipv4_udp.pcapng"), "duplicate-parameter") == []


def test_prack_missing(shared):
    """sngrep/ipv6frag.pcap: the reliable 183 (RSeq 1, CSeq 1 INVITE) is PRACKed with
    RAck 1 2 INVITE, which names no response (RFC 3262 §4); the second fork's 183 is PRACKed."""
    found = check_capture(shared / "captures/sngrep/ipv6frag.pcap")
    assert codes(found, "prack-missing") == [(1, (4,))]


def test_notify_missing(shared):
    """erspan_sip_ipv4_udp.pcapng: calls 1 and 2 get their NOTIFY after the 202; in call 7
    the SBC accepts the SUBSCRIBE and never notifies (RFC 6665 §4.2.1.2)."""
    found = check_capture(shared / "captures/heplify/erspan_sip_ipv4_udp.pcapng")
    assert codes(found, "notify-missing") == [(7, (4,))]


def test_no_retransmission(shared):
    """hep-wireshark/hep.pcap: OPTIONS over UDP answered 2 s later, never retransmitted
    (timer E, §17.1.2.2); the NOTIFYs of erspan are answered within T1."""
    found = check_capture(shared / "captures/hep-wireshark/hep.pcap")
    assert codes(found, "no-retransmission") == [(1, (4,))]


def test_register_cseq_not_increasing(shared):
    """ipfixprobe/sip.pcap: a scanner re-sends REGISTER with CSeq 2 in one Call-ID (§10.2),
    reported once per Call-ID with every repeat."""
    found = check_capture(shared / "captures/ipfixprobe/sip.pcap")
    assert codes(found, "register-cseq-not-increasing") == [(14, (3, 5, 7, 9, 11)), (15, (3, 5, 7, 9))]


# --- the reference matcher on real calls (its findings are audited like the rules') ----------

MATCHER = ("unexpected-message", "missing-message", "out-of-order", "different-response", "wrong-direction")


def composed(path: Path) -> dict[int, tuple[str | None, str, list[str]]]:
    """call index -> (reference, composition, the matcher's warning codes)."""
    capture = load_capture(str(path), media=False)
    settings = capture_settings(capture)
    out = {}
    for call in build_calls(capture):
        result = check_call(call, capture, _REFERENCES, settings=settings)
        warned = [d.code for d in result.deviations if d.code in MATCHER and d.severity != "info"]
        out[call.index] = (result.reference, " + ".join(result.composition), warned)
    return out


def test_a_b2bua_seen_on_two_interfaces_is_matched_leg_by_leg(shared):
    """heplify/erspan_sip_ipv4_udp.pcapng: an SBC relays each call between a public and a
    private address pair that share no column; no flow's roles span both, each leg is a
    dialog of its own (RFC 3261 §6, B2BUA). Before: 40 missing or unexpected messages on three
    calls; now each leg matches its flow (the 407 retry, hold/resume, the REFER refused)."""
    found = composed(shared / "captures/heplify/erspan_sip_ipv4_udp.pcapng")
    assert found[5] == ("rfc3665-3.1", "[rfc3261-22.2 + rfc3665-3.1 + rfc5359-2.5 hold + BYE] + "
                                       "[rfc3261-22.2 + rfc3665-3.1 + rfc5359-2.5 hold + BYE]", [])
    assert found[6][1].startswith("[rfc3665-3.1 + rfc5359-2.1 hold/resume + BYE] + [") and found[6][2] == []
    # The inner leg's second NOTIFY is answered 481: the notifier MUST end the subscription
    # (RFC 6665 §4.2.2); the NOTIFYs' answers may come in either order (one transaction each).
    assert found[1][1].endswith("+ [rfc6665-4.2.2]") and found[1][2] == []
    assert found[4][1].endswith("+ [rfc6665-4.2.2]") and found[4][2] == []


def test_a_fresh_register_after_a_rejection_is_a_new_flow(shared):
    """wireshark-wiki/aaa.pcap #4: registered, then a REGISTER challenged, its credentials
    rejected (401), then a REGISTER without credentials, challenged and accepted. A retry
    answers a challenge with credentials (RFC 3261 §22.2); without them it starts over."""
    found = composed(shared / "captures/wireshark-wiki/aaa.pcap")
    assert found[4] == ("rfc3665-2.1", "rfc3665-2.1 + rfc3665-2.5 + rfc3665-2.1", [])


def test_a_proxy_recursing_on_a_302(shared):
    """wireshark-wiki/filenameGRE199...: the proxy ACKs the first target's 302 and answers the
    caller itself from the contact it recursed to, outside the capture (RFC 3261 §16.7 step 4)."""
    found = composed(shared / "captures/wireshark-wiki/filenameGRE199---fax-iz-InLife-G711---OK!!!.cap")
    assert found[5] == ("rfc3261-16.7.4", "", [])


def test_a_b2bua_answering_its_caller_before_its_callee(shared):
    """wireshark-wiki/wireuploaded.pcap #7: a B2BUA's outgoing INVITE (its own CSeq) is
    challenged and sent again while the incoming one is unanswered; it answers its caller before
    its callee's 200 arrives. Neither is a relay, nor a re-INVITE (RFC 3261 §16.6, §14)."""
    found = composed(shared / "captures/wireshark-wiki/wireuploaded.pcap")
    assert found[7][2] == []


def test_the_matcher_stands_down_on_a_damaged_capture(shared):
    """ndpi/fuzz-2006-06-26-2594.pcap (fuzzed): messages without Call-ID or CSeq are missing from
    their calls or counted in others; the matcher's findings are info, the rules' stay."""
    found = check_capture(shared / "captures/ndpi/fuzz-2006-06-26-2594.pcap")
    assert not [d for _, d in found if d.code in MATCHER and d.severity != "info"]
    assert any(d.code in MATCHER for _, d in found)


def test_a_proxy_answering_a_cancel_after_the_uas_did_is_no_deviation():
    """tests/audit/kamailio-cancel-200-after-uas.pcap (tests/system/test_check_real_peers.py's
    cancelled call, as it came out once): Kamailio relayed the CANCEL, the SIPp UAS's 200 to it
    arrived, then Kamailio's own 200 to the caller's CANCEL went out. Each hop answers its CANCEL
    (RFC 3261 §9, §16.10): RFC 3665 §3.8 through one proxy, no out-of-order (one before)."""
    path = Path(__file__).resolve().parents[2] / "audit" / "kamailio-cancel-200-after-uas.pcap"
    capture = load_capture(str(path))
    (call,) = build_calls(capture)
    result = check_call(call, capture, _REFERENCES, settings=capture_settings(capture))
    assert (result.reference, result.variant, result.deviations) == ("rfc3665-3.8", "without Proxy1", ())


AUDIT = Path(__file__).resolve().parents[2] / "audit"


def check_audit_capture(name: str):
    """The one call of tests/audit/``name`` as ``ladder check`` judges it."""
    capture = load_capture(str(AUDIT / name))
    (call,) = build_calls(capture)
    return check_call(call, capture, _REFERENCES, settings=capture_settings(capture))


def test_a_3pcc_controller_reusing_its_call_id_is_told_and_matched_dialog_by_dialog():
    """tests/audit/sipp-3pcc-one-call-id.pcap: SIPp's 3pcc controller (-sn 3pcc-C-A and
    3pcc-C-B on one host) INVITEs A with no SDP, then B with A's offer, in one Call-ID under two
    From tags, and ACKs A with B's answer (RFC 3725 flow I). F3 is no re-INVITE (no To tag,
    another From tag): a second dialog, and the Call-ID reuse RFC 3261 §8.1.1.4 forbids. Each
    dialog is §3.1; before, F3 was read as a re-INVITE and F6, F9, F10 called unexpected."""
    result = check_audit_capture("sipp-3pcc-one-call-id.pcap")
    assert (result.reference, result.composition) == ("rfc3665-3.1", ("[rfc3665-3.1]", "[rfc3665-3.1]"))
    found = sorted((d.code, d.severity, d.f) for d in result.deviations)
    assert found == [("call-id-reused", "warning", (3,)), ("content-length-mismatch", "warning", (3,)),
                     ("content-length-mismatch", "warning", (6,)), ("different-content", "info", (1,))]  # fmt: skip
    assert "RFC 3261 §8.1.1.4" in next(d.message for d in result.deviations if d.code == "call-id-reused")


def test_a_bye_after_a_403_is_outside_any_dialog():
    """tests/audit/sipp-branchc-bye-after-403.pcap (sipp -sn branchc against -sn branchs): the
    INVITE gets 180 then 403, never ACKed, and the client sends a BYE, which the UAS accepts.
    The 403 ended the early dialog (RFC 3261 §12.3): the BYE is outside any dialog (§15 MUST
    NOT); accepting it is the UAS's choice (§12.2.2 MAY), info."""
    result = check_audit_capture("sipp-branchc-bye-after-403.pcap")
    found = sorted((d.code, d.severity, d.f) for d in result.deviations)
    assert found == [("bye-outside-dialog", "info", (7,)), ("bye-outside-dialog", "warning", (6,)),
                     ("missing-ack", "error", (5,))]  # fmt: skip
    bye = next(d for d in result.deviations if d.code == "bye-outside-dialog" and d.severity == "warning")
    assert "§15" in bye.message and "§12.3" in bye.message and "F5 403" in bye.message


def test_a_response_without_via_is_an_error():
    """tests/audit/kamailio-487-without-via.pcap: the SIPp UAS's 487 to a CANCELled INVITE
    carries only Kamailio's Via; Kamailio removes it and relays a 487 with none (twice), which
    §16.7 step 3 forbids and §18.1.2 has the caller discard; the caller's ACK then has no Via
    either (branch-without-cookie). The UAS's 487 itself is a via-mismatch (one Via for two;
    before, a response with fewer Vias than its request was not compared). RFC 3665 §3.8."""
    result = check_audit_capture("kamailio-487-without-via.pcap")
    assert result.reference == "rfc3665-3.8"
    found = sorted((d.code, d.severity, d.f) for d in result.deviations)
    assert ("response-without-via", "error", (12, 14)) in found
    assert ("branch-without-cookie", "warning", (13,)) in found
    assert ("via-mismatch", "error", (10,)) in found  # the UAS's 487 with one Via of F3's two (§8.2.6.2)
    item = next(d for d in result.deviations if d.code == "response-without-via")
    assert "§8.2.6.2" in item.message and "§16.7 step 3" in item.message and "§18.1.2" in item.message


def test_a_b2bua_keeping_the_call_id_is_two_dialogs_and_no_reuse():
    """tests/audit/sipp-b2bua-one-call-id.pcap: a B2BUA of two SIPp (tests/audit/b2bua-in.xml and
    b2bua-out.xml, twin 3pcc mode) between sipp -sn uac and -sn uas: its outgoing INVITE keeps
    the caller's Call-ID under its own From tag (RFC 7092 §3). Sent by the node the first INVITE
    reached, it is a new UAC's dialog, no Call-ID reuse (RFC 3261 §8.1.1.4 holds each UAC to its
    own). Each leg is §3.1; before, the call was §3.1 through a proxy and the B2BUA's own ACK of
    its leg's 200 (§13.2.2.4) and its own 200 to the caller's BYE (§15.1.2) were out of order.
    The SDP it passes on keeps SIPp's two bytes past Content-Length."""
    result = check_audit_capture("sipp-b2bua-one-call-id.pcap")
    assert (result.reference, result.composition) == ("rfc3665-3.1", ("[rfc3665-3.1]", "[rfc3665-3.1]"))
    assert sorted((d.code, d.f) for d in result.deviations) == [("content-length-mismatch", (2,)),
                                                                 ("content-length-mismatch", (6,))]


def test_glare_on_re_invites_conforms_and_the_next_sdp_may_follow_the_refused_offer():
    """tests/audit/sipp-glare.pcap (tests/audit/uac-glare.xml against uas-glare.xml): the
    caller's hold re-INVITE (o= version 2) crosses the callee's re-INVITE, each answers the
    other's with 491 and ACKs its own 491 on the INVITE's branch (RFC 3261 §14.1, §14.2,
    §17.1.1.3); the callee, not the Call-ID's owner, retries first, offering PCMA besides, and
    the caller answers with its first description again under version 3, the one after its
    refused offer's; the caller's hold goes through 2.1 s after its 491. The refused offer was
    provided to the callee: RFC 3264 §8's "previous SDP", RFC 6337 §5.2.5's "previously sent as
    an offer or answer". Before, F12 was an sdp-version-not-incremented (3 instead of 1)."""
    result = check_audit_capture("sipp-glare.pcap")
    assert (result.reference, result.deviations) == ("rfc3665-3.1", ())
    assert result.composition.count("rfc3261-14 rejected-re-INVITE") == 2


def test_a_hold_answered_sendrecv_is_a_direction_mismatch():
    """tests/audit/sipp-glare-sendrecv-answer.pcap: the same glare, but the callee's retry is a
    hold (a=sendonly) and the caller answers it with no direction attribute, sendrecv, which RFC
    3264 §6.1 forbids ("MUST be marked as recvonly or inactive"): a warning on the answer alone,
    the caller's description otherwise the one it had (version 3 after its refused 2: no
    version finding, as above)."""
    result = check_audit_capture("sipp-glare-sendrecv-answer.pcap")
    found = [(d.code, d.severity, d.f) for d in result.deviations]
    assert found == [("sdp-answer-mismatch", "warning", (12,))]
    assert "answers sendonly with sendrecv, where §6.1 allows recvonly or inactive" in result.deviations[0].message


def test_a_cancel_crossing_the_200_is_its_own_flow():
    """tests/audit/sipp-cancel-crossing-200.pcap and -481.pcap (uac-cancel-race.xml against
    uas-cancel-race.xml, and its 481 variant): the caller CANCELs while the callee rings and
    the callee's 200 crosses it. The CANCEL has no effect on an answered INVITE and gets its
    200, or a 481 from a UAS whose INVITE transaction ended with its 2xx (RFC 3261 §9.2,
    §17.2.1); the caller ACKs the 2xx and hangs up. A race no party can avoid: before, the call
    was §3.1 with the CANCEL and its answer as unexpected-message warnings."""
    for name, reference in (("sipp-cancel-crossing-200.pcap", "rfc3261-9"),
                            ("sipp-cancel-crossing-200-481.pcap", "rfc3261-9-481")):  # fmt: skip
        result = check_audit_capture(name)
        assert (result.reference, result.score, result.deviations) == (reference, 1.0, ()), name


def test_byes_crossing_are_the_ending_and_an_episode():
    """tests/audit/sipp-byes-crossing.pcap and -481.pcap (uac-bye-race.xml against
    uas-bye-race.xml, and their 481 variant): both parties hang up at once; each answers the
    other's BYE with 200, or 481 once its own BYE ended the dialog (RFC 3261 §15.1.2). The
    first BYE ends the flow, the other side's is the `crossing-BYE` episode. Before, it was §3.1
    with that BYE and its answer as unexpected-message warnings."""
    for name, reference in (("sipp-byes-crossing.pcap", "rfc3261-15"),
                            ("sipp-byes-crossing-481.pcap", "rfc3261-15-481")):  # fmt: skip
        result = check_audit_capture(name)
        assert (result.reference, result.score, result.deviations) == ("rfc3665-3.1", 1.0, ()), name
        assert result.composition == ("rfc3665-3.1", f"{reference} crossing-BYE", "BYE"), name


def test_a_re_invite_without_an_offer_is_its_own_flow():
    """tests/audit/sipp-refresh-no-offer.pcap (uac-refresh-no-offer.xml against
    uas-refresh.xml): the session refresh's re-INVITE has no SDP, the 200 offers and the ACK
    answers (RFC 3261 §14.1, §13.2.1). Before, rfc3261-14's re-INVITE with a different-content
    finding (its `sdp` condition); now the flow that has it."""
    result = check_audit_capture("sipp-refresh-no-offer.pcap")
    assert (result.reference, result.score, result.deviations) == ("rfc3261-14-no-offer", 1.0, ())
