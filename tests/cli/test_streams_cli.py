"""``ladder streams``: JSON contract, table, --call, and errors."""

from __future__ import annotations

import json

from conftest import shared_path


def _json(run_ladder, *args) -> dict:
    code, out, err = run_ladder("streams", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_json_contract_on_heplify(run_ladder):
    data = _json(run_ladder, str(shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")))
    streams = data["streams"]
    assert len(streams) == 5
    for row in streams:
        assert isinstance(row["ssrc"], int) and isinstance(row["packets"], int) and isinstance(row["lost"], int)
        for key in ("max_jitter_ms", "mean_jitter_ms", "max_delta_ms"):
            assert isinstance(row[key], float)
        assert row["mos"] is None or 1.0 <= row["mos"] <= 4.5
        assert isinstance(row["problems"], list)
        assert row["call"] is None or isinstance(row["call"], str)
    row = next(r for r in streams if r["src"] == "200.57.7.204:8000")
    assert (row["ssrc"], row["codec"], row["packets"], row["lost"]) == (0xD2BD4E3E, "PCMA", 548, 0)
    assert row["max_jitter_ms"] == 7.407 and row["max_delta_ms"] == 5843.742
    assert row["call"] == "12013223@200.57.7.195" and row["problems"] == []
    assert row["rtcp"]["sender_reports"] > 0


def test_call_filter_and_dtmf(run_ladder):
    data = _json(run_ladder, str(shared_path("captures/wireshark-wiki/SIP_DTMF2.cap")), "--call", "25672@192.168.105.110")
    assert len(data["streams"]) == 2
    dtmf = [d["digit"] for row in data["streams"] for d in row["dtmf"]]
    assert dtmf and set(dtmf) <= set("0123456789*#")


def test_table_output(run_ladder):
    code, out, _ = run_ladder("streams", shared_path("captures/sipp/g711a.pcap"))
    assert code == 0
    out = out.splitlines()
    assert out[0].split()[:5] == ["src", "dst", "ssrc", "codec", "pkts"]
    assert "PCMA" in out[1] and " 236 " in out[1]


def test_unknown_call_is_a_usage_error(run_ladder):
    code, _, err = run_ladder("streams", shared_path("captures/sipp/g711a.pcap"), "--call", "7")
    assert code == 2 and err.startswith("ladder: error: no call '7'")
