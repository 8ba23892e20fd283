"""The CLI traps a new user fell into (issue 14): options in any order, ``ladder -``, one
message for an empty capture from every command, long fields cut in text output only."""

from __future__ import annotations

import json

from captures_crafted import udp_sip_frame, write_pcap
from conftest import SAMPLES

SAMPLE = SAMPLES / "rfc3665-3.1-successful-session.pcap"


def test_call_before_the_file_in_show_and_export(tmp_path, run_ladder):
    after = run_ladder("show", SAMPLE, "--call", "1")
    before = run_ladder("show", "--call", "1", SAMPLE)
    assert before.code == 0, before.err
    assert before.out == after.out and "INVITE F1" in before.out
    report = tmp_path / "r.html"
    done = run_ladder("export", "--call", "1", SAMPLE, "--html", report)
    assert done.code == 0, done.err
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # Several calls, then the file: the last value is the file.
    assert run_ladder("show", "--call", "1", "1", SAMPLE, "--format", "json").code == 0
    missing = run_ladder("show", "--call", "1")
    assert missing.code == 2 and "required: file" in missing.err


def test_dash_reads_standard_input(run_ladder, ladder_process):
    data = SAMPLE.read_bytes()
    piped = ladder_process("-", stdin=data)  # a real pipe: not seekable, read once
    assert piped.code == 0, piped.err
    assert piped.out == run_ladder("show", SAMPLE).out
    # Options before the file go to ``ladder FILE`` too.
    timed = run_ladder("--time", SAMPLE)
    assert timed.code == 0 and timed.out == run_ladder("show", "--time", SAMPLE).out != piped.out


def test_one_message_for_an_empty_capture_from_every_command(tmp_path, run_ladder):
    empty = write_pcap(tmp_path / "empty.pcap", [])
    # ``stats`` counts frames, and its "SIP messages: 0" says it already.
    for command in ("calls", "show", "streams", "check", "export"):
        extra = ("--json", "-") if command == "export" else ()
        result = run_ladder(command, empty, *extra)
        assert result.err.splitlines() == ["ladder: no SIP calls in this capture"], command
        assert result.code == 0, command
    assert run_ladder("check", empty).out.count("conforms") == 0


def test_long_fields_cut_in_text_whole_in_json(tmp_path, run_ladder):
    method = "X" * 2049
    message = (f"{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-9\r\n"
               "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: long@x\r\n"
               f"CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n").encode()
    path = write_pcap(tmp_path / "long.pcap", [(1_000_000_000, udp_sip_frame(message))])
    text = run_ladder("stats", path).out
    assert max(len(line) for line in text.splitlines()) < 120
    assert "X" * 47 + "…" in text
    whole = json.loads(run_ladder("stats", path, "--json").out)
    assert whole["sip_requests"] == {method: 1}
    drawn = run_ladder("show", path).out
    assert max(len(line) for line in drawn.splitlines()) < 120 and "X" * 40 in drawn and "…" in drawn
    shown = json.loads(run_ladder("show", path, "--format", "json").out)
    assert shown["calls"][0]["arrows"][0]["label"] == method
