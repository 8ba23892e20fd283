"""The CLI traps a new user fell into (issue 14): options in any order, ``ladder -``, one
message for an empty capture from every command, long fields cut in text output only."""

from __future__ import annotations

import json
import subprocess
import sys

from captures_crafted import udp_sip_frame, write_pcap
from conftest import ROOT, SAMPLES

SAMPLE = SAMPLES / "rfc3665-3.1-successful-session.pcap"


def ladder(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ladder", *map(str, args)], cwd=ROOT, capture_output=True,
                          input=stdin, timeout=120)


def test_call_before_the_file_in_show_and_export(tmp_path):
    after = ladder("show", SAMPLE, "--call", "1")
    before = ladder("show", "--call", "1", SAMPLE)
    assert before.returncode == 0, before.stderr
    assert before.stdout == after.stdout and b"INVITE F1" in before.stdout
    report = tmp_path / "r.html"
    done = ladder("export", "--call", "1", SAMPLE, "--html", report)
    assert done.returncode == 0, done.stderr
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # Several calls, then the file: the last value is the file.
    assert ladder("show", "--call", "1", "1", SAMPLE, "--format", "json").returncode == 0
    missing = ladder("show", "--call", "1")
    assert missing.returncode == 2 and b"required: file" in missing.stderr


def test_dash_reads_standard_input():
    data = SAMPLE.read_bytes()
    piped = ladder("-", stdin=data)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == ladder("show", SAMPLE).stdout
    # Options before the file go to ``ladder FILE`` too.
    timed = ladder("--time", SAMPLE)
    assert timed.returncode == 0 and timed.stdout == ladder("show", "--time", SAMPLE).stdout != piped.stdout


def test_one_message_for_an_empty_capture_from_every_command(tmp_path):
    empty = write_pcap(tmp_path / "empty.pcap", [])
    # ``stats`` counts frames, and its "SIP messages: 0" says it already.
    for command in ("calls", "show", "streams", "check", "export"):
        extra = ("--json", "-") if command == "export" else ()
        result = ladder(command, empty, *extra)
        assert result.stderr.decode().splitlines() == ["ladder: no SIP calls in this capture"], command
        assert result.returncode == 0, command
    assert ladder("check", empty).stdout.decode().count("conforms") == 0


def test_long_fields_cut_in_text_whole_in_json(tmp_path):
    method = "X" * 2049
    message = (f"{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-9\r\n"
               "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: long@x\r\n"
               f"CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n").encode()
    path = write_pcap(tmp_path / "long.pcap", [(1_000_000_000, udp_sip_frame(message))])
    text = ladder("stats", path).stdout.decode()
    assert max(len(line) for line in text.splitlines()) < 120
    assert "X" * 47 + "…" in text
    whole = json.loads(ladder("stats", path, "--json").stdout)
    assert whole["sip_requests"] == {method: 1}
    drawn = ladder("show", path).stdout.decode()
    assert max(len(line) for line in drawn.splitlines()) < 120 and "X" * 40 in drawn and "…" in drawn
    shown = json.loads(ladder("show", path, "--format", "json").stdout)
    assert shown["calls"][0]["arrows"][0]["label"] == method
