"""Real traffic: a SIPp call challenged by Kamailio (RFC 3665 §3.2 F1-F4) goes through the fast
lane of ``ladder calls`` with the slow lane's row.

Kamailio runs tests/kamailio/kamailio.cfg made to challenge every INVITE (``pv_proxy_authenticate``,
``proxy_challenge``: a stateless 407 with its own To tag); the SIPp UAC runs tests/kamailio/uac.xml
made to answer the challenge: the ACK of the 407 on the INVITE's branch, then the INVITE again
with Proxy-Authorization (SIPp's digest, ``-au``/``-ap``), CSeq 2, a new branch. Both are derived
here from the files test_kamailio_sipp.py uses. tcpdump keeps the UAC's port only: the hop
between the UAC and the proxy, one Call-ID between two endpoints (the proxy's hop to the UAS has
the same Call-ID and a third endpoint, which the lane leaves to the slow lane)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require_tool
from ladder.calls import simple_calls
from ladder.calls.bounded import iter_call_rows
from ladder.capture.loader import load_capture
from ladder.cli.calls import _numbered_dict, call_dict
from test_kamailio_sipp import (HERE, PROXY_IP, UAC_IP, UAS_IP, free_udp_port, kamailio_modules, start_proxy_and_uas,
                                start_sniffer, stop)

pytestmark = pytest.mark.skipif(simple_calls._c_simple_calls is None, reason="the compiled extension is not built")

PASSWORD = "secret"
# (anchor in kamailio.cfg, what is put after it): the auth module, and the challenge of an INVITE
CHALLENGING = (
    ('loadmodule "textops.so"\n', 'loadmodule "auth.so"\n'),
    ('    if (is_method("INVITE")) {\n',
     f'        if (!pv_proxy_authenticate("ladder.test", "{PASSWORD}", "0")) {{\n'
     '            proxy_challenge("ladder.test", "0");\n'
     '            exit;\n'
     '        }\n'
     '        consume_credentials();\n'),
)
ACK_OF_THE_407 = """  <recv response="407" auth="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-2]
      From: alice <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"""


def _inserted(text: str, anchor: str, added: str) -> str:
    assert text.count(anchor) == 1, anchor
    return text.replace(anchor, anchor + added)


def challenging_config(values: dict[str, object]) -> str:
    config = (HERE / "kamailio.cfg").read_text(encoding="utf-8")
    for anchor, added in CHALLENGING:
        config = _inserted(config, anchor, added)
    for name, value in values.items():
        config = config.replace(f"@{name}@", str(value))
    return config


def challenged_uac() -> str:
    """uac.xml with the challenge answered: its INVITE, the 407 and its ACK (``[branch-2]``: the
    branch of the message two before, the INVITE's, RFC 3261 §17.1.1.3; ``[last_To:]``: the 407's
    To tag), then its INVITE again with ``[authentication]`` and each CSeq number one higher."""
    scenario = (HERE / "uac.xml").read_text(encoding="utf-8")
    start = scenario.index('  <send retrans="500">')
    end = scenario.index("  </send>\n", start) + len("  </send>\n")
    invite = scenario[start:end]
    retry = _inserted(invite.replace("CSeq: 1 INVITE", "CSeq: 2 INVITE"), "      Contact: <sip:alice@[local_ip]:"
                      "[local_port]>\n", "      [authentication]\n")
    rest = scenario[end:].replace("CSeq: 1 ACK", "CSeq: 2 ACK").replace("CSeq: 2 BYE", "CSeq: 3 BYE")
    return scenario[:end] + ACK_OF_THE_407 + retry + rest


@pytest.fixture(scope="module")
def challenged_capture(tmp_path_factory) -> Path:
    kamailio, sipp, tcpdump = require_tool("kamailio"), require_tool("sipp"), require_tool("tcpdump")
    work = tmp_path_factory.mktemp("kamailio-auth")
    proxy_port, uas_port, uac_port = free_udp_port(PROXY_IP), free_udp_port(UAS_IP), free_udp_port(UAC_IP)
    (work / "kamailio.cfg").write_text(challenging_config(
        {"PROXY_IP": PROXY_IP, "PROXY_PORT": proxy_port, "UAS_IP": UAS_IP, "UAS_PORT": uas_port,
         "MODULES": kamailio_modules()}), encoding="utf-8")
    (work / "uac-auth.xml").write_text(challenged_uac(), encoding="utf-8")
    check = subprocess.run([kamailio, "-c", "-f", str(work / "kamailio.cfg")], capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr[-2000:]
    pcap = work / "challenged.pcap"
    sniffer = start_sniffer(tcpdump, pcap, (uac_port,))
    started: list[subprocess.Popen] = [sniffer]
    try:
        uas = start_proxy_and_uas(kamailio, sipp, work, (proxy_port, uas_port), 1, started)
        subprocess.run(
            [sipp, f"{PROXY_IP}:{proxy_port}", "-sf", str(work / "uac-auth.xml"), "-i", UAC_IP,
             "-p", str(uac_port), "-m", "1", "-s", "bob", "-au", "alice", "-ap", PASSWORD,
             "-nostdin", "-timeout", "20s"],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=40, check=True,
        )  # fmt: skip
        uas.wait(timeout=30)
        time.sleep(1.5)  # tcpdump reads its ring a block at a time (a 1 s timeout): the last block too
    finally:
        for process in reversed(started[1:]):
            stop(process)
        stop(sniffer, signal.SIGINT)
    return pcap


def test_a_challenged_call_goes_through_the_lane_with_the_slow_lanes_row(challenged_capture, monkeypatch):
    capture = load_capture(str(challenged_capture), media=False, messages=False, locate=True)
    facts: list = []  # what C gives of each group asked
    summed_up = simple_calls._c_simple_calls
    assert summed_up is not None

    def recorded(*args):
        found = summed_up(*args)
        facts.extend(found)
        return found

    monkeypatch.setattr(simple_calls, "_c_simple_calls", recorded)
    (fast,) = iter_call_rows(capture, call_dict, _numbered_dict)
    monkeypatch.setenv("PCAPLADDER_NO_SIMPLE_CALLS", "1")
    (slow,) = iter_call_rows(capture, call_dict, _numbered_dict)
    assert fast == slow
    (call,) = facts  # the lane summed it up (only when on), its challenge the second message
    assert call is not None and call[17] == 1  # (the challenge: the 18th fact)
    # F1-F4 then the call: INVITE, 407, ACK, INVITE (credentials), 100, 180, 200, ACK, BYE, 200
    assert (fast["outcome"], fast["status"], fast["legs"]) == ("completed", 200, 1)
    assert fast["messages"] >= 9 and fast["from"] == f"alice@{UAC_IP}" and fast["to"].startswith("bob@")
