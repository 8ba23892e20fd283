"""``ladder check`` from the command line: output, options and exit statuses."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES, shared_path
from test_check import as_printed

SAMPLE_3_1 = str(next(SAMPLES.glob("rfc3665-3.1-*.pcap")))
SAMPLE_3_8 = str(next(SAMPLES.glob("rfc3665-3.8-*.pcap")))
SAMPLE_2_1 = str(next(SAMPLES.glob("rfc3665-2.1-*.pcap")))
ALL_SAMPLES = sorted(SAMPLES.glob("rfc3665-*.pcap"))
CLEAN = "1 call(s) checked, 0 with deviations of severity warning or above, 0 finding(s) in all"


@pytest.fixture
def printed_3_8(tmp_path) -> str:
    """RFC 3665 §3.8 with its messages as printed (the sample corrects them): the 200s to
    CANCEL without a To tag, F18's ACK with Proxy 2's Via."""
    return str(as_printed(tmp_path, "3.8"))



def test_a_conforming_call_exits_0_and_shows_the_ladder(run_ladder):
    status, out, err = run_ladder("check", SAMPLE_3_1)
    assert status == 0 and err == ""
    assert out.startswith('Call 1 3848276298220188511@atlanta.example.com: conforms; reference: rfc3665-3.1 "Successful')
    assert "INVITE F1" in out and "BYE F5" in out
    assert out.rstrip().endswith(CLEAN)


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=lambda p: p.name.split("-")[1])
def test_every_sample_exits_0_without_a_finding(run_ladder, path):
    status, out, err = run_ladder("check", str(path))
    assert status == 0 and err == ""
    assert " conforms; reference: rfc3665-" in out.splitlines()[0]
    assert out.rstrip().endswith(CLEAN)
    status, out, _ = run_ladder("check", str(path), "--json")
    data = json.loads(out)
    assert status == 0 and data["conforms"] is True
    (call,) = data["calls"]
    assert call["deviations"] == [] and call["ignored"] == 0 and call["score"] == 1.0


def test_deviations_exit_1_and_are_marked_on_the_arrows(run_ladder, printed_3_8):
    status, out, _ = run_ladder("check", printed_3_8)
    assert status == 1
    assert "deviates (error)" in out.splitlines()[0]
    assert "<- missing-ack" in out and "<- missing-to-tag" in out
    assert "  F17: missing-ack (error): F17 487" in out


def test_json_output(run_ladder, printed_3_8):
    status, out, _ = run_ladder("check", printed_3_8, "--json")
    assert status == 1
    data = json.loads(out)
    assert data["conforms"] is False and data["file"] == printed_3_8
    (call,) = data["calls"]
    assert call["reference"] == "rfc3665-3.8" and call["score"] == 1.0
    assert call["roles"]["Bob"] == "Bob"
    assert {(d["code"], tuple(d["f"])) for d in call["deviations"]} == {("missing-ack", (17,)), ("missing-to-tag", (10, 12, 14))}
    for item in call["deviations"]:
        assert set(item) >= {"code", "severity", "f", "reference_f", "message"}


def test_ignore_codes(run_ladder, printed_3_8):
    status, out, _ = run_ladder("check", printed_3_8, "--json", "--ignore", "missing-ack,missing-to-tag")
    assert status == 0
    (call,) = json.loads(out)["calls"]
    assert call["deviations"] == [] and call["ignored"] == 2


def test_a_named_reference_is_used_whatever_its_score(run_ladder):
    status, out, _ = run_ladder("check", SAMPLE_2_1, "--json", "--reference", "rfc3665-2.5")
    assert status == 1
    (call,) = json.loads(out)["calls"]
    assert call["reference"] == "rfc3665-2.5" and call["score"] < 1.0
    found = {(d["code"], tuple(d["f"]), tuple(d["reference_f"])) for d in call["deviations"]}
    # RFC 3665 §2.5 ends in a second 401; this capture's 200 is another outcome.
    assert {("missing-message", (), (4,)), ("unexpected-message", (4,), ())} <= found


def test_a_reference_file_extends_the_library(run_ladder, tmp_path):
    flow = tmp_path / "site.flow"
    flow.write_text(
        'flow site-basic "Our basic call"\nroles A B\nF1 A -> B INVITE\nF2 B -> A 180\nF3 B -> A 200\n'
        "F4 A -> B ACK\nF5 B -> A BYE\nF6 A -> B 200\n",
        encoding="utf-8",
    )
    status, out, _ = run_ladder("check", SAMPLE_3_1, "--json", "--reference", str(flow))
    assert status == 0
    assert json.loads(out)["calls"][0]["reference"] == "site-basic"


def test_call_selection(run_ladder, printed_3_8):
    status, out, _ = run_ladder("check", printed_3_8, "--json", "--call", "2xTb9vxSit55XU7p8@atlanta.example.com")
    assert status == 1 and len(json.loads(out)["calls"]) == 1
    status, out, _ = run_ladder("check", SAMPLE_3_8, "--json", "--call", "1")
    assert status == 0 and json.loads(out)["calls"][0]["id"] == "2xTb9vxSit55XU7p8@atlanta.example.com"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/nonexistent/x.pcap"], "no such file"),
        ([SAMPLE_3_1, "--reference", "rfc9999-1.1"], "no reference flow 'rfc9999-1.1'"),
        ([SAMPLE_3_1, "--ignore", "no-such-code"], "unknown deviation code(s): no-such-code"),
        ([SAMPLE_3_1, "--call", "7"], "no call '7'"),
        ([SAMPLE_3_1, "--t1", "0"], "--t1 must be a positive"),
    ],
)
def test_bad_input_exits_2_with_one_line(run_ladder, argv, message):
    status, out, err = run_ladder("check", *argv)
    assert status == 2 and out == ""
    assert err.startswith("ladder: error: ") and message in err and err.count("\n") == 1


def test_a_broken_flow_file_exits_2_naming_its_line(run_ladder, tmp_path):
    flow = tmp_path / "broken.flow"
    flow.write_text('flow x "t"\nroles A B\nF1 A -> Z INVITE\n', encoding="utf-8")
    status, _, err = run_ladder("check", SAMPLE_3_1, "--reference", str(flow))
    assert status == 2 and f"{flow}:3: unknown role 'Z'" in err


@pytest.mark.parametrize(
    "relative",
    ["captures/wireshark-wiki/sip-rtp-g711.pcap", "captures/heplify/sip_ipv4_tcp_fragmented.pcap",
     "captures/ndpi/fuzz-2006-06-26-2594.pcap", "captures/sngrep/ipv6frag.pcap"],
)  # fmt: skip
def test_real_captures_are_checked_without_a_traceback(run_ladder, relative):
    status, out, err = run_ladder("check", str(shared_path(relative)), "--json")
    assert status in (0, 1)
    data = json.loads(out)
    assert data["calls"]
    for call in data["calls"]:
        assert call["reference"] is None or 0.6 <= call["score"] <= 1.0
        for item in call["deviations"]:
            assert item["severity"] in ("info", "warning", "error")


def test_the_collectors_pace_changes_no_byte_and_is_restored(run_ladder, monkeypatch):
    """``ladder check`` runs with the youngest generation collected less often
    (``loader.collector_paced``): the same bytes out as at CPython's pace, text and JSON, on
    every sample (RFC 3665's sessions carry RTP); the pace is in force while calls are checked and the
    threshold is given back after, also when the command fails."""
    import contextlib
    import gc

    from ladder.capture.loader import LOAD_GC_THRESHOLD
    from ladder.cli import check

    before = gc.get_threshold()
    seen: list[int] = []
    real_check_file = check._check_file

    def watched(*args, **kwargs):
        seen.append(gc.get_threshold()[0])
        return real_check_file(*args, **kwargs)

    files = [str(p) for p in sorted(SAMPLES.glob("*.pcap"))]
    paced = [run_ladder("check", *flags, f) for f in files for flags in ((), ("--json",))]
    monkeypatch.setattr(check, "_check_file", watched)
    run_ladder("check", "--json", SAMPLE_3_1)
    assert seen == [max(before[0], LOAD_GC_THRESHOLD)] and gc.get_threshold() == before
    monkeypatch.setattr(check, "_check_file", real_check_file)
    monkeypatch.setattr(check, "collector_paced", contextlib.nullcontext)
    plain = [run_ladder("check", *flags, f) for f in files for flags in ((), ("--json",))]
    assert paced == plain and all(r.out for r in paced)
    monkeypatch.undo()
    assert run_ladder("check", "no-such-file.pcap").code == 2 and gc.get_threshold() == before
