"""`ladder check` on real peers' traffic the public corpus lacks (docs/CHECK-AUDIT.md): SIPp calls
through Kamailio (tests/audit/proxy.cfg: stateful, record-routing, UDP and TCP on 127.0.0.2 and
UDP on ::1) and SIPp peers face to face, each call captured by its own tcpdump on lo and checked.
Every result asserted here was judged against the RFC text in the audit; a change that makes
check find fault with this traffic (or match it with another flow) fails here.
Every process started here is stopped by its own handle."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import ROOT, require_tool
from test_kamailio_auth import PASSWORD, challenged_uac, challenging_config
from test_kamailio_sipp import (HERE as KAMAILIO, PROXY_IP, UAC_IP, UAS_IP, free_udp_port, kamailio_modules,
                                start_proxy_and_uas, start_sniffer, stop, udp_bound, wait_until)

pytestmark = pytest.mark.slow

AUDIT = Path(__file__).resolve().parents[1] / "audit"
LAB = Path(__file__).resolve().parents[1] / "lab"
V6 = "::1"


def _scenario(scenario) -> list[str]:
    return ["-sf", str(scenario)] if isinstance(scenario, Path) else ["-sn", scenario]


def run_check(pcap: Path) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "ladder", "check", str(pcap), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def run_sipps(tcpdump: str, pcap: Path, ports, servers: list[list[str]], client: list[str],
              proto: str = "udp") -> Path:
    """``servers`` started in order, then ``client`` run to its end; the ``proto`` traffic of
    ``ports`` on lo captured alone into ``pcap``. The servers' failures are left in the capture
    for check to find."""
    sniffer = start_sniffer(tcpdump, pcap, ports, proto=proto)
    started = [sniffer]
    try:
        for argv in servers:
            started.append(subprocess.Popen(argv, cwd=pcap.parent, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))  # fmt: skip
            _listening(argv)
        subprocess.run(client, cwd=pcap.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=40,
                       check=True)  # fmt: skip
        for process in started[1:]:
            try:
                process.wait(timeout=6)
            except subprocess.TimeoutExpired:
                pass  # stopped below
        time.sleep(1.2)  # tcpdump writes its last block
    finally:
        for process in reversed(started[1:]):
            stop(process)
        stop(sniffer, signal.SIGINT)
    return pcap


def _listening(argv: list[str]) -> None:
    """Wait until the SIPp just started with ``argv`` listens on its UDP port (IPv4 over UDP;
    else a pause: SIPp binds at once). Of twins (-3pcc), the one whose scenario starts by
    receiving a command listens for the other, which tries again until it connects."""
    options = dict(zip(argv, argv[1:]))
    ip, port = options.get("-i", ""), options.get("-p", "")
    if port and ":" not in ip and options.get("-t", "u1").startswith("u"):
        wait_until(lambda: udp_bound(ip, int(port)), 15, f"SIPp to listen on {ip}:{port}")
    else:
        time.sleep(0.4)
    if "-3pcc" in options:
        time.sleep(0.4)  # a moment for its command socket


def one_call(sipp: str, tcpdump: str, pcap: Path, uac, uas, transport: str, version: int,
             proxy: tuple[str, int] | None, ports: tuple[int, int]) -> Path:
    """One call of SIPp ``uac`` to SIPp ``uas`` (through ``proxy`` when given), captured alone."""
    uas_port, uac_port = ports
    uas_ip, uac_ip = (V6, V6) if version == 6 else (UAS_IP, UAC_IP)
    target = proxy or ((V6 if version == 6 else UAS_IP), uas_port)
    host = f"[{target[0]}]" if ":" in target[0] else target[0]
    server = [sipp, *_scenario(uas), "-i", uas_ip, "-p", str(uas_port), "-t", transport, "-m", "1", "-nostdin",
              "-timeout", "20s"]  # fmt: skip
    client = [sipp, f"{host}:{target[1]}", *_scenario(uac), "-i", uac_ip, "-p", str(uac_port), "-t", transport,
              "-m", "1", "-s", str(uas_port), "-nostdin", "-timeout", "20s"]  # fmt: skip
    return run_sipps(tcpdump, pcap, (uas_port, uac_port), [server], client, proto="tcp or udp")  # each hop has one


@pytest.fixture(scope="module")
def tools() -> tuple[str, str]:
    return require_tool("sipp"), require_tool("tcpdump")


@contextlib.contextmanager
def running_proxy(work: Path, edit: Callable[[str], str] = lambda config: config) -> Iterator[int]:
    """Kamailio on tests/audit/proxy.cfg (changed by ``edit``), listening; its UDP/TCP port."""
    kamailio = require_tool("kamailio")
    port = free_udp_port(PROXY_IP)
    config = edit((AUDIT / "proxy.cfg").read_text(encoding="utf-8"))
    for name, value in (("PROXY_IP", PROXY_IP), ("PROXY_PORT", port), ("UAS_IP", UAS_IP),
                        ("MODULES", kamailio_modules())):  # fmt: skip
        config = config.replace(f"@{name}@", str(value))
    (work / "proxy.cfg").write_text(config, encoding="utf-8")
    check = subprocess.run([kamailio, "-c", "-f", str(work / "proxy.cfg")], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr[-2000:]
    process = subprocess.Popen([kamailio, "-f", str(work / "proxy.cfg"), "-DD", "-E", "-Y", str(work)],
                               stdout=subprocess.DEVNULL, stderr=open(work / "kamailio.log", "w"))  # fmt: skip
    try:
        wait_until(lambda: udp_bound(PROXY_IP, port), 15, "kamailio to listen")
        yield port
    finally:
        stop(process)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[int]:
    """Kamailio on tests/audit/proxy.cfg, listening; its UDP/TCP port."""
    with running_proxy(tmp_path_factory.mktemp("audit-proxy")) as port:
        yield port


def checked(tools, tmp_path, uac, uas, transport="u1", version=4, proxy_port=None) -> tuple[int, list[dict]]:
    """`ladder check --json` of one call made alone, on ports of its own (what Kamailio still
    repeats of an earlier call stays out of this capture); its status and calls."""
    proxy = None if proxy_port is None else ((V6 if version == 6 else PROXY_IP), proxy_port)
    ports = (free_udp_port(UAS_IP), free_udp_port(UAC_IP))  # free on ::1 too (a port both families share)
    pcap = one_call(*tools, tmp_path / "call.pcap", uac, uas, transport, version, proxy, ports)
    status, report = run_check(pcap)
    return status, report["calls"]


def findings(call: dict) -> list[tuple[str, str]]:
    return sorted((d["code"], d["severity"]) for d in call["deviations"])


@pytest.mark.parametrize("transport,version", [("u1", 4), ("t1", 4), ("u1", 6)], ids=["udp", "tcp", "ipv6"])
def test_a_call_through_the_proxy_conforms_to_3_1(tools, proxy, tmp_path, transport, version):
    """RFC 3665 §3.1 through one record-routing proxy, on UDP, TCP and IPv6: nothing to report."""
    status, (call,) = checked(tools, tmp_path, KAMAILIO / "uac.xml", KAMAILIO / "uas.xml", transport, version, proxy)
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.1", [])
    assert call["roles"]["Proxy"].startswith(f"[{V6}]" if version == 6 else PROXY_IP)


def test_a_call_cancelled_while_ringing_conforms_to_3_8(tools, proxy, tmp_path):
    """RFC 3665 §3.8: 180, CANCEL, its 200, the 487 and its ACK on each hop (§9, §17.1.1.3)."""
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-cancel.xml", AUDIT / "uas-cancel.xml", proxy_port=proxy)
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.8", [])


def test_a_session_refresh_is_a_re_invite_and_no_sdp_finding(tools, proxy, tmp_path):
    """RFC 4028 §10: the refresher's re-INVITE re-offers its SDP unchanged with the o= version one
    higher, which RFC 3264 §8 allows (RFC 6337 §5.2.5); before the audit, check called it an
    sdp-version-not-incremented (info) on both SDPs."""
    status, (call,) = checked(tools, tmp_path, AUDIT / "uac-refresh.xml", AUDIT / "uas-refresh.xml", proxy_port=proxy)
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.1", [])
    assert call["composition"] == "rfc3665-3.1 + rfc3261-14 re-INVITE + BYE"


def test_sipps_builtin_uas_behind_a_proxy_is_found_at_fault(tools, proxy, tmp_path):
    """SIPp's built-in UAS does not copy Record-Route into its responses (RFC 3261 §12.1.1), so
    the built-in UAC, without a route set, sends its ACK and BYE to the proxy with no Route, which
    drops them: the 200 repeats for want of its ACK (§13.3.1.4), the BYE is never answered nor
    repeated (§17.1.2.2), and §3.1's ACK to Bob is missing."""
    status, (call,) = checked(tools, tmp_path, "uac", "uas", proxy_port=proxy)
    assert (status, call["reference"]) == (1, "rfc3665-3.1")
    assert {code for code, severity in findings(call) if severity != "info"} == {
        "record-route-not-copied", "retransmission", "no-retransmission", "missing-message"}
    assert ("record-route-not-copied", "error") in findings(call)


@pytest.mark.parametrize("uac,transport,version", [("uac", "u1", 4), ("uac", "t1", 4), ("uac", "u1", 6),
                                                    ("regexp", "u1", 4)], ids=["udp", "tcp", "ipv6", "regexp"])
def test_sipps_builtin_uac_and_uas_face_to_face_conform(tools, tmp_path, uac, transport, version):
    """sipp -sn uac (or regexp) against sipp -sn uas with no proxy: RFC 3665 §3.1, the caller
    hanging up (a variant the flow allows)."""
    status, (call,) = checked(tools, tmp_path, uac, "uas", transport, version)
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.1", [])


def test_sipps_branching_scenarios_leave_403s_unacknowledged(tools, tmp_path):
    """sipp -sn branchc/branchs: a REGISTER then an INVITE in one Call-ID; the UAS answers the
    first INVITE with 403, which the client never ACKs (RFC 3261 §17.1.1.3 MUST), sending a BYE
    instead: a BYE outside any dialog (§15, the 403 ended the early one, §12.3), which the UAS
    accepts (info: §12.2.2 lets it)."""
    status, (call,) = checked(tools, tmp_path, "branchc", "branchs")
    assert status == 1 and findings(call) == [("bye-outside-dialog", "info"), ("bye-outside-dialog", "warning"),
                                              ("missing-ack", "error")]  # fmt: skip


def test_an_invite_challenged_by_the_proxy_matches_3_2(tools, tmp_path):
    """Kamailio challenging every INVITE (test_kamailio_auth.py's config): 407, its ACK on the
    INVITE's branch, the INVITE again with Proxy-Authorization, then the call; every hop captured."""
    kamailio, (sipp, tcpdump) = require_tool("kamailio"), tools
    proxy_port, uas_port, uac_port = free_udp_port(PROXY_IP), free_udp_port(UAS_IP), free_udp_port(UAC_IP)
    (tmp_path / "kamailio.cfg").write_text(challenging_config(
        {"PROXY_IP": PROXY_IP, "PROXY_PORT": proxy_port, "UAS_IP": UAS_IP, "UAS_PORT": uas_port,
         "MODULES": kamailio_modules()}), encoding="utf-8")
    (tmp_path / "uac-auth.xml").write_text(challenged_uac(), encoding="utf-8")
    pcap = tmp_path / "challenged.pcap"
    sniffer = start_sniffer(tcpdump, pcap, (uac_port, uas_port))
    started: list[subprocess.Popen] = [sniffer]
    try:
        uas = start_proxy_and_uas(kamailio, sipp, tmp_path, (proxy_port, uas_port), 1, started)
        subprocess.run([sipp, f"{PROXY_IP}:{proxy_port}", "-sf", str(tmp_path / "uac-auth.xml"), "-i", UAC_IP,
                        "-p", str(uac_port), "-m", "1", "-s", "bob", "-au", "alice", "-ap", PASSWORD,
                        "-nostdin", "-timeout", "20s"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=40, check=True)  # fmt: skip
        uas.wait(timeout=20)
        time.sleep(1.2)
    finally:
        for process in reversed(started[1:]):
            stop(process)
        stop(sniffer, signal.SIGINT)
    status, report = run_check(pcap)
    (call,) = report["calls"]  # RFC 3665 §3.2 is Proxy 1 challenging; here there is no Proxy 2
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3665-3.2", [])
    assert call["variant"].startswith("without Proxy2") and call["roles"]["Proxy1"].startswith(PROXY_IP)


def reliable_183_with_sdp(tmp_path: Path) -> tuple[Path, Path]:
    """tests/lab's PRACK pair with the reliable provisional a 183 carrying the answer (RFC 3262
    §3, RFC 3264: the 200 repeats it, RFC 6337 §3.1.1), as SBCs send for early media."""
    uas = (LAB / "uas-prack.xml").read_text(encoding="utf-8")
    answer = uas[uas.index("      Content-Type: application/sdp\n"):uas.index("    ]]>", uas.index("o=bob"))]
    uas = uas.replace("SIP/2.0 180 Ringing", "SIP/2.0 183 Session Progress")
    # reachable on the call's transport (the proxy relays the PRACK and the ACK to it)
    uas = uas.replace("Contact: <sip:bob@[local_ip]:[local_port]>",
                      "Contact: <sip:bob@[local_ip]:[local_port];transport=[transport]>")
    uas = uas.replace("      RSeq: 1\n      Content-Length: 0\n", "      RSeq: 1\n" + answer, 1)
    uac = (LAB / "uac-prack.xml").read_text(encoding="utf-8").replace('<recv response="180"', '<recv response="183"')
    (tmp_path / "uas-183.xml").write_text(uas, encoding="utf-8")
    (tmp_path / "uac-183.xml").write_text(uac, encoding="utf-8")
    return tmp_path / "uac-183.xml", tmp_path / "uas-183.xml"


@pytest.mark.parametrize("transport", ["u1", "t1"], ids=["udp", "tcp"])
def test_early_media_with_prack_matches_rfc3262(tools, proxy, tmp_path, transport):
    """RFC 3262 §3 through the proxy: the reliable 183's SDP is the answer, PRACKed; the 200
    repeats it unchanged (same o= version), which is no offer/answer or version finding."""
    uac, uas = reliable_183_with_sdp(tmp_path)
    status, (call,) = checked(tools, tmp_path, uac, uas, transport, proxy_port=proxy)
    assert (status, call["reference"], call["deviations"]) == (0, "rfc3262-3", [])
    assert call["variant"] == "hop Alice-Proxy-Bob"
