"""``ladder calls``, ``ladder show`` and ``ladder FILE`` (not a terminal) on the samples."""

from __future__ import annotations

import json
import sys

from conftest import ROOT, SAMPLES

SAMPLE = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


def test_calls_table_and_json(run_ladder):
    result = run_ladder("calls", str(SAMPLES / "rfc3665-3.4-successful-session-proxy-failure.pcap"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["#", "start", "from", "to", "outcome", "msgs", "span", "talk", "legs", "kind"]
    # RFC 3665 §3.4: the attempt via Proxy 1 and the retry via Proxy 2 are one call.
    assert len(lines) == 2 and "completed" in lines[1] and lines[1].split()[-2:] == ["3", "call"]
    retry = json.loads(run_ladder("calls", "--json", str(SAMPLES / "rfc3665-3.4-successful-session-proxy-failure.pcap")).out)
    assert "same From tag 9fxced76sl: 192.0.2.101 retried 32.0 s later" in [
        link["reason"] for link in retry["calls"][0]["links"]]
    document = json.loads(run_ladder("calls", "--json", str(SAMPLE)).out)
    (call,) = document["calls"]
    assert call["outcome"] == "completed" and call["messages"] == 23 and call["legs"] == 3
    # The capture span is not the talk time (answer to BYE), nor the setup time.
    assert 0 < call["talk_time"] < call["span"] and 0 < call["setup_time"] < call["span"]
    assert [link["reason"] for link in call["links"]] == [
        "same Call-ID through 192.0.2.111", "same Call-ID through 192.0.2.222"]


def test_show_json_follows_the_documented_schema(run_ladder):
    result = run_ladder("show", str(SAMPLE), "--format", "json", "--no-media")
    assert result.code == 0, result.err
    (call,) = json.loads(result.out)["calls"]
    assert set(call) >= {"id", "call_ids", "outcome", "participants", "arrows"}
    assert [p["endpoints"][0].split(":")[0] for p in call["participants"]] == [
        "192.0.2.101", "192.0.2.111", "192.0.2.222", "192.0.2.201"]
    first = call["arrows"][0]
    assert first["f"] == 1 and first["kind"] == "request" and first["method"] == "INVITE"
    flows = json.loads((SAMPLES / "rfc3665-flows.json").read_text(encoding="utf-8"))
    flow = next(f for f in flows if f["section"] == "3.2")
    expected_frames = [a["frame"] for a in flow["arrows"] if not a.get("media")]
    assert [a["frames"][-1] for a in call["arrows"] if a["kind"] != "media"] == expected_frames
    assert first["from"] == 0 and first["to"] == 1
    assert isinstance(first["time"], float) and first["retransmission"] is False
    assert call["arrows"][1]["status"] == 407


def test_show_text_with_alias_time_and_call_selection(tmp_path, run_ladder):
    aliases = tmp_path / "aliases"
    aliases.write_text("# the RFC's names\n192.0.2.111 Proxy 1\n192.0.2.222=Proxy 2\n", encoding="utf-8")
    result = run_ladder("show", str(SAMPLE), "--call", "1", "--alias-file", str(aliases),
                        "--alias", "192.0.2.101=Alice A", "--time", "--no-media")
    assert result.code == 0, result.err
    header = result.out.splitlines()[2]
    assert header.split("  ")[0].strip() == "" and header.strip().startswith("Alice A")
    assert "Proxy 1" in header and "Proxy 2" in header
    assert "INVITE F1" in result.out
    assert any(line.lstrip().startswith("0.0") for line in result.out.splitlines())


def test_show_unknown_call_is_a_usage_error(run_ladder):
    result = run_ladder("show", str(SAMPLE), "--call", "7")
    assert result.code == 2
    assert result.err.startswith("ladder: error: no call '7'")


def test_bad_alias_is_a_usage_error(run_ladder):
    result = run_ladder("show", str(SAMPLE), "--alias", "not-an-ip=X")
    assert result.code == 2 and "not an IP address" in result.err


def test_show_mermaid(run_ladder):
    result = run_ladder("show", str(SAMPLE), "--format", "mermaid", "--no-media")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert '    participant P1 as "Alice"' in lines
    assert "    P1->>P2: INVITE F1" in lines


def test_open_without_a_terminal_prints_the_text_ladders(run_ladder):
    result = run_ladder(str(SAMPLE), "--no-media")
    assert result.code == 0, result.err
    golden = (ROOT / "tests" / "golden" / (SAMPLE.stem + ".txt")).read_text(encoding="utf-8")
    assert result.out == golden


def test_open_on_a_terminal_hands_over_to_the_tui(monkeypatch):
    import types

    from ladder.cli import open as cmd_open
    from ladder.cli.dispatch import build_parser

    seen = []
    fake = types.ModuleType("tui.app")
    fake.run_app = lambda args: seen.append(args) or 0
    monkeypatch.setitem(sys.modules, "tui.app", fake)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    args = build_parser().parse_args(["open", str(SAMPLE), "--alias", "192.0.2.101=A", "--engine", "dpkt"])
    assert cmd_open.run(args) == 0
    (handed,) = seen
    assert handed.file == str(SAMPLE) and handed.engine == "dpkt" and handed.tls_keylog is None
    assert handed.aliases.lookup("192.0.2.101") == "A"


def test_several_calls_by_number_and_call_id_from_a_real_capture(run_ladder):
    from conftest import shared_path

    path = str(shared_path("captures/wireshark-wiki/aaa.pcap"))
    listing = json.loads(run_ladder("calls", "--json", path).out)["calls"]
    assert [(c["kind"], c["outcome"]) for c in listing] == [
        ("registration", "registered"), ("call", "cancelled"), ("call", "rejected"),
        ("registration", "registered"), ("call", "rejected"), ("call", "rejected")]  # 480 after 183
    assert listing[2]["status"] == 403
    result = run_ladder("show", path, "--call", "2", listing[5]["id"], "--format", "json", "--no-media")
    assert result.code == 0, result.err
    shown = json.loads(result.out)["calls"]
    assert [c["id"] for c in shown] == [listing[1]["id"], listing[5]["id"]]
    assert [a["f"] for a in shown[0]["arrows"]] == list(range(1, 19))
    assert [a["retransmission"] for a in shown[0]["arrows"]][:3] == [False, True, True]


def test_a_capture_without_sip_prints_nothing_and_says_so(run_ladder):
    from conftest import shared_path

    result = run_ladder("show", str(shared_path("captures/sipp/g711a.pcap")))
    assert result.code == 0 and result.out == ""
    assert "no SIP calls" in result.err
