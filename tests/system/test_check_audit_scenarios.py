"""`ladder check` on the traffic of session 9's audit (docs/CHECK-AUDIT.md): SIPp's 3pcc controller
and a B2BUA of two SIPp keeping the caller's Call-ID (several dialogs in one Call-ID), and the
methods not yet run against real peers: MESSAGE, OPTIONS, INFO in a call, SUBSCRIBE/NOTIFY, face
to face and through Kamailio (tests/audit/proxy.cfg), and a REGISTER challenged by Kamailio as
registrar. Every result asserted here was judged against the RFC text. Every process started
here is stopped by its own handle."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from test_check_real_peers import (AUDIT, KAMAILIO, LAB, checked, findings, proxy, run_check, run_sipps,  # noqa: F401 (fixtures)
                                  running_proxy, tools)
from test_kamailio_sipp import (PROXY_IP, UAC_IP, UAS_IP, free_udp_port, kamailio_modules, stop,
                                udp_bound, wait_until)

pytestmark = pytest.mark.slow

PARTY_B_IP = "127.0.0.4"
PASSWORD = "secret"


def free_tcp_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def _sipp(sipp: str, scenario: str | Path, ip: str, port: int, *extra: str) -> list[str]:
    how = ["-sf", str(scenario)] if isinstance(scenario, Path) else ["-sn", scenario]
    return [sipp, *how, "-i", ip, "-p", str(port), "-m", "1", "-nostdin", "-timeout", "15s", *extra]


def test_a_3pcc_controller_is_told_of_its_call_id_reuse_and_each_dialog_is_3_1(tools, tmp_path):
    """sipp -sn 3pcc-C-A and -sn 3pcc-C-B (one controller, two SIPp on one host) with -sn 3pcc-A
    and 3pcc-B: INVITE A without SDP, 200 with A's offer; INVITE B with it, 200, ACK; ACK A with
    B's answer (RFC 3725 flow I), both in one Call-ID under two From tags. The second INVITE is a
    new dialog, not a re-INVITE: the Call-ID reuse RFC 3261 §8.1.1.4 forbids, then §3.1 twice.
    SIPp's relayed SDP keeps the two bytes past Content-Length (§20.14, as in the corpus).
    Face to face only: these scenarios keep no route set, a record-routing proxy drops their ACKs."""
    sipp, tcpdump = tools
    port_a, port_b = free_udp_port(UAS_IP), free_udp_port(PARTY_B_IP)
    port_ca, port_cb, command = free_udp_port(UAC_IP), free_udp_port(UAC_IP), free_tcp_port(UAC_IP)
    target_a, target_b, ip_b = (f"{UAS_IP}:{port_a}",), (f"{PARTY_B_IP}:{port_b}",), PARTY_B_IP
    twin = ("-3pcc", f"{UAC_IP}:{command}")
    pcap = run_sipps(tcpdump, tmp_path / "3pcc.pcap", (port_a, port_b, port_ca, port_cb), [
        _sipp(sipp, "3pcc-A", UAS_IP, port_a), _sipp(sipp, "3pcc-B", ip_b, port_b),
        [*_sipp(sipp, "3pcc-C-B", UAC_IP, port_cb, *twin), *target_b],
    ], [*_sipp(sipp, "3pcc-C-A", UAC_IP, port_ca, *twin), *target_a])
    status, report = run_check(pcap)
    (call,) = report["calls"]
    assert (status, call["reference"], call["composition"]) == (1, "rfc3665-3.1", "[rfc3665-3.1] + [rfc3665-3.1]")
    assert findings(call) == [("call-id-reused", "warning"), ("content-length-mismatch", "warning"),
                              ("content-length-mismatch", "warning"), ("different-content", "info")]  # fmt: skip


def test_a_b2bua_keeping_the_call_id_is_no_reuse_and_each_leg_is_3_1(tools, tmp_path):
    """sipp -sn uac -> a B2BUA of two SIPp (tests/audit/b2bua-in.xml, b2bua-out.xml, twin 3pcc
    mode on 127.0.0.2) -> sipp -sn uas: the outgoing INVITE keeps the Call-ID under the B2BUA's
    own From tag (RFC 7092 §3). Sent by the node the caller's INVITE reached, it is another
    UAC's dialog: no Call-ID reuse. Each leg is §3.1 with its own ACK and BYE answer
    (RFC 3261 §13.2.2.4, §15.1.2), in no proxy's order."""
    sipp, tcpdump = tools
    port_b, port_in, port_out = free_udp_port(UAS_IP), free_udp_port(PROXY_IP), free_udp_port(PROXY_IP)
    port_a, command = free_udp_port(UAC_IP), free_tcp_port(PROXY_IP)
    twin = ("-3pcc", f"{PROXY_IP}:{command}")
    pcap = run_sipps(tcpdump, tmp_path / "b2bua.pcap", (port_a, port_in, port_out, port_b), [
        _sipp(sipp, "uas", UAS_IP, port_b),
        [*_sipp(sipp, AUDIT / "b2bua-out.xml", PROXY_IP, port_out, *twin), f"{UAS_IP}:{port_b}"],
        _sipp(sipp, AUDIT / "b2bua-in.xml", PROXY_IP, port_in, *twin),
    ], [*_sipp(sipp, "uac", UAC_IP, port_a), f"{PROXY_IP}:{port_in}"])
    status, report = run_check(pcap)
    (call,) = report["calls"]
    assert (call["reference"], call["composition"]) == ("rfc3665-3.1", "[rfc3665-3.1] + [rfc3665-3.1]")
    assert findings(call) == [("content-length-mismatch", "warning")] * 2  # the offer and answer passed on


def _request_pair(tmp_path: Path, method: str) -> tuple[Path, Path]:
    paths = []
    for side in ("uac", "uas"):
        text = (AUDIT / f"{side}-request.xml").read_text(encoding="utf-8").replace("@METHOD@", method)
        (tmp_path / f"{side}-{method}.xml").write_text(text, encoding="utf-8")
        paths.append(tmp_path / f"{side}-{method}.xml")
    return paths[0], paths[1]


@pytest.mark.parametrize("method,reference", [("MESSAGE", "rfc3428-10"), ("OPTIONS", "rfc3261-11")])
@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "proxy"])
def test_a_request_outside_a_dialog_answered_200(tools, proxy, tmp_path, method, reference, through_proxy):
    """MESSAGE (RFC 3428 §10, Figure 1, without or through the proxy) and OPTIONS (RFC 3261
    §11), answered 200 with a To tag: nothing to report."""
    uac, uas = _request_pair(tmp_path, method)
    status, (call,) = checked(tools, tmp_path, uac, uas, proxy_port=proxy if through_proxy else None)
    assert (status, call["reference"], call["deviations"]) == (0, reference, [])
    assert (call["variant"] == "without Proxy") == (method == "MESSAGE" and not through_proxy)


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "proxy"])
def test_info_in_a_call_matches_rfc6086(tools, proxy, tmp_path, through_proxy):
    """A DTMF INFO in an established call, answered 200, then the BYE: RFC 6086 §4 (the legacy
    INFO usage), in-dialog requests on the route set through the proxy (RFC 3261 §12.2.1.1)."""
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-info.xml", AUDIT / "uas-info.xml",
                              proxy_port=proxy if through_proxy else None)  # fmt: skip
    assert (status, call["reference"], call["deviations"]) == (0, "rfc6086-4", [])


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "proxy"])
def test_a_subscription_and_its_end_match_rfc6665(tools, proxy, tmp_path, through_proxy):
    """SUBSCRIBE, 200, NOTIFY (active), 200; then SUBSCRIBE with Expires: 0 in the dialog, 200,
    NOTIFY (terminated), 200: RFC 6665 §4.1.2.3 has the unsubscription answered and notified
    like a subscription, so §4's flow twice; through the proxy, which record-routes it."""
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-subscribe.xml", AUDIT / "uas-subscribe.xml",
                              proxy_port=proxy if through_proxy else None)  # fmt: skip
    assert (status, call["reference"], call["deviations"]) == (0, "rfc6665-4", []), call["deviations"]
    assert call["composition"] == "rfc6665-4 + rfc6665-4"


REGISTRAR = '''    if (is_method("REGISTER")) {
        if (!pv_www_authenticate("$td", "@PASSWORD@", "0")) {
            www_challenge("$td", "0");
            exit;
        }
        if (!save("location")) {
            sl_reply_error();
        }
        exit;
    }
'''


def test_a_registration_challenged_by_kamailio_matches_rfc3665_2_1(tools, tmp_path):
    """tests/audit/uac-register.xml against Kamailio as registrar (tests/audit/proxy.cfg with
    auth, usrloc and registrar): REGISTER, 401, REGISTER with credentials, 200 (RFC 3665 §2.1),
    then the removal (Expires: 0, Contact: *) challenged and accepted (RFC 3261 §10.2.2)."""
    kamailio, (sipp, tcpdump) = require_tool("kamailio"), tools
    port, uac_port = free_udp_port(PROXY_IP), free_udp_port(UAC_IP)
    config = (AUDIT / "proxy.cfg").read_text(encoding="utf-8")
    config = config.replace('loadmodule "textops.so"\n', 'loadmodule "textops.so"\nloadmodule "auth.so"\n'
                            'loadmodule "usrloc.so"\nloadmodule "registrar.so"\n')  # fmt: skip
    assert config.count("    t_check_trans();\n") == 1
    config = config.replace("    t_check_trans();\n", REGISTRAR + "    t_check_trans();\n")
    for name, value in (("PROXY_IP", PROXY_IP), ("PROXY_PORT", port), ("UAS_IP", UAS_IP),
                        ("MODULES", kamailio_modules()), ("PASSWORD", PASSWORD)):  # fmt: skip
        config = config.replace(f"@{name}@", str(value))
    (tmp_path / "registrar.cfg").write_text(config, encoding="utf-8")
    registrar = subprocess.Popen([kamailio, "-f", str(tmp_path / "registrar.cfg"), "-DD", "-E", "-Y", str(tmp_path)],
                                 stdout=subprocess.DEVNULL, stderr=open(tmp_path / "kamailio.log", "w"))  # fmt: skip
    try:
        wait_until(lambda: udp_bound(PROXY_IP, port), 15, "kamailio to listen")
        client = [*_sipp(sipp, AUDIT / "uac-register.xml", UAC_IP, uac_port, "-au", "alice", "-ap", PASSWORD),
                  f"{PROXY_IP}:{port}"]  # fmt: skip
        pcap = run_sipps(tcpdump, tmp_path / "register.pcap", (uac_port,), [], client)
    finally:
        stop(registrar)
    status, report = run_check(pcap)
    (call,) = report["calls"]
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-2.1", [])
    assert call["composition"] == "rfc3665-2.1 + rfc3261-10.2.2"



@pytest.mark.parametrize("episode,composition", [
    ("hold", "rfc3665-3.1 + rfc5359-2.1 hold/resume + BYE"),
    ("refer", "rfc3665-3.1 + rfc5359-2.4 transfer + BYE"),
    ("302", None),
])  # fmt: skip
def test_lab_episodes_face_to_face(tools, tmp_path, episode, composition):
    """tests/lab's hold/resume (RFC 5359 §2.1: sendonly answered recvonly, then sendrecv, RFC
    6337 §5.3), REFER with its NOTIFYs (RFC 3515 §2.4) and 302 redirect (RFC 3261 §8.1.3.4),
    run through Kamailio by test_lab_episodes.py, here with no proxy: nothing to report.
    (The PRACK and UPDATE pairs send the INVITE's two Vias: through a proxy only.)"""
    status, (call,) = checked(tools, tmp_path, LAB / f"uac-{episode}.xml", LAB / f"uas-{episode}.xml")
    assert (status, call["deviations"]) == (0, []), call["deviations"]
    if composition is None:
        assert (call["reference"], call["composition"]) == ("rfc3261-8.1.3.4", None)
    else:
        assert call["composition"] == composition


def test_glare_on_re_invites_face_to_face(tools, tmp_path):
    """tests/audit/uac-glare.xml against uas-glare.xml: the caller's hold re-INVITE crosses the
    callee's re-INVITE; each answers the other's with 491 Request Pending and ACKs its own 491
    on the INVITE's branch (RFC 3261 §14.1, §14.2, §17.1.1.3); the callee, not the Call-ID's
    owner, retries first (0-2 s), its offer answered with the caller's first description under
    the version after its refused offer's (RFC 3264 §8, RFC 6337 §5.2.5); the caller's hold goes
    through 2.1 s after its 491, answered recvonly (RFC 3264 §6.1). Nothing to report. Face to
    face only: each 491 is answered from headers SIPp kept, one Via each, which a proxy's added
    Via would outgrow."""
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-glare.xml", AUDIT / "uas-glare.xml")
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.1", [])
    assert call["composition"].count("rfc3261-14 rejected-re-INVITE") == 2


def _changed(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """tests/audit/``name`` with its one ``old`` made ``new``, written to ``tmp_path``: a variant
    of a scenario that differs in one answer."""
    text = (AUDIT / name).read_text(encoding="utf-8")
    assert text.count(old) == 1, name
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# uas-cancel-race.xml's 200 to the CANCEL (its 200 to the INVITE says CSeq: 1 INVITE)
_CANCEL_OK = "SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n" \
             "      [last_Call-ID:]\n      [last_CSeq:]"


@pytest.mark.parametrize("answer", ["200 OK", "481 Call/Transaction Does Not Exist"])
def test_a_cancel_crossing_the_200_face_to_face(tools, tmp_path, answer):
    """tests/audit/uac-cancel-race.xml against uas-cancel-race.xml: the caller CANCELs while the
    callee rings, the callee's 200 crosses it; the CANCEL gets its 200, or (the callee's answer
    changed here) a 481, the UAS's INVITE transaction having ended with the 2xx (RFC 3261 §9.2,
    §17.2.1); the caller ACKs the 2xx and sends BYE. Its own flow
    (ladder/check/flows/rfc3261-9.flow), nothing to report."""
    uas = _changed(tmp_path, "uas-cancel-race.xml", _CANCEL_OK, _CANCEL_OK.replace("200 OK", answer))
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-cancel-race.xml", uas)
    reference = "rfc3261-9" if answer.startswith("200") else "rfc3261-9-481"
    assert (status, call["reference"], call["deviations"]) == (0, reference, [])


@pytest.mark.parametrize("answer", ["200 OK", "481 Call/Transaction Does Not Exist"])
def test_byes_crossing_face_to_face(tools, tmp_path, answer):
    """tests/audit/uac-bye-race.xml against uas-bye-race.xml: both hang up at once, each answers
    the other's BYE with 200, or with 481 once its own BYE ended the dialog (RFC 3261 §15.1.2;
    the caller's answer and the callee's last recv changed here). The first BYE ends the flow,
    the other's is the crossing-BYE episode (ladder/check/flows/rfc3261-15.flow)."""
    code = answer.split()[0]
    their_via = "SIP/2.0 200 OK\n      Via: [$their_via]"
    uac = _changed(tmp_path, "uac-bye-race.xml", their_via, their_via.replace("200 OK", answer))
    last_recv = '  <recv response="200"/>\n  <pause milliseconds="200"/>\n</scenario>'
    uas = _changed(tmp_path, "uas-bye-race.xml", last_recv, last_recv.replace("200", code, 1))
    status, (call,) = checked(tools, tmp_path, uac, uas)
    reference = "rfc3261-15" if code == "200" else "rfc3261-15-481"
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.1", [])
    assert call["composition"] == f"rfc3665-3.1 + {reference} crossing-BYE + BYE"


def test_a_bye_crossing_a_re_invite_face_to_face(tools, tmp_path):
    """tests/audit/uac-bye-reinvite.xml against uas-bye-reinvite.xml: the caller's hold re-INVITE
    crosses the callee's BYE; the callee answers the re-INVITE 481, its dialog ended (RFC 3261
    §12.2.2), the caller answers the BYE 200 and ACKs the 481 (§17.1.1.3): the re-INVITE a
    rejected one, the BYE the flow's ending, nothing to report."""
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-bye-reinvite.xml", AUDIT / "uas-bye-reinvite.xml")
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.1", [])
    assert call["composition"] == "rfc3665-3.1 + rfc3261-14 rejected-re-INVITE + BYE"


def test_a_refresh_without_an_offer_face_to_face(tools, tmp_path):
    """tests/audit/uac-refresh-no-offer.xml against uas-refresh.xml: a re-INVITE without SDP,
    the offer in the 200, the answer in the ACK (RFC 3261 §14.1, §13.2.1): nothing to report."""
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-refresh-no-offer.xml", AUDIT / "uas-refresh.xml")
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3261-14-no-offer", [])


def _bridging(config: str) -> str:
    """proxy.cfg relaying what comes in over UDP out over TCP: Kamailio's record_route() then
    puts two entries, one per transport (RFC 5658 §4, rr's enable_double_rr)."""
    udp = '''    } else {
        $du = "sip:@UAS_IP@:" + $rU;
    }'''
    assert config.count(udp) == 1
    return config.replace(udp, '''    } else {
        $du = "sip:@UAS_IP@:" + $rU + ";transport=tcp";
        force_send_socket(tcp:@PROXY_IP@:@PROXY_PORT@);
    }''')


def test_a_proxy_bridging_udp_to_tcp_double_record_routes(tools, tmp_path):
    """sipp -t u1 (tests/kamailio/uac.xml) -> Kamailio -> sipp -t t1 (uas.xml): two Record-Route
    entries for the one proxy, the TCP one first (RFC 5658 §4); the caller's ACK and BYE carry
    both, reversed, as their Route (RFC 3261 §12.2.1.1), and the proxy takes both off. RFC 3665
    §3.1 through one proxy, nothing to report."""
    sipp, tcpdump = tools
    with running_proxy(tmp_path, _bridging) as port:
        uas_port, uac_port = free_udp_port(UAS_IP), free_udp_port(UAC_IP)
        server = [sipp, "-sf", str(KAMAILIO / "uas.xml"), "-i", UAS_IP, "-p", str(uas_port), "-t", "t1", "-m", "1",
                  "-nostdin", "-timeout", "20s"]  # fmt: skip
        client = [sipp, f"{PROXY_IP}:{port}", "-sf", str(KAMAILIO / "uac.xml"), "-i", UAC_IP, "-p", str(uac_port),
                  "-t", "u1", "-m", "1", "-s", str(uas_port), "-nostdin", "-timeout", "20s"]  # fmt: skip
        pcap = run_sipps(tcpdump, tmp_path / "bridge.pcap", (uas_port, uac_port), [server], client, proto="tcp or udp")
    status, report = run_check(pcap)
    (call,) = report["calls"]
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.1", [])
    assert call["variant"].startswith("hop Alice-Proxy-Bob")
    raw = pcap.read_bytes()
    assert raw.count(b";transport=tcp;r2=on") >= 4 and raw.count(b"Route: <") >= 2  # two entries, in the ACK and BYE too
