"""``ladder check`` rules on the public captures that showed each false or missed finding
(issue 12): every test names the capture and the RFC section it is judged by."""

from __future__ import annotations

from pathlib import Path

from ladder.capture import load_capture
from ladder.calls import build_calls
from ladder.check import check_call
from ladder.reference import load_references
from ladder.rules import RuleSettings

_REFERENCES = load_references()


def check_capture(path: Path, media: bool = False) -> list[tuple[int, object]]:
    """(call index, deviation) for every finding of every call, as ``ladder check`` makes them."""
    capture = load_capture(str(path), media=media)
    settings = RuleSettings(end_ns=capture.last_ts_ns)
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
