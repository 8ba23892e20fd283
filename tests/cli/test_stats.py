"""``ladder stats``: agreement with tshark on the whole shared corpus, frame accounting, and the
command's output contract (JSON on stdout, progress only on a terminal)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from captures_crafted import ethernet, ipv4, rtp, sip_invite, sip_response, udp, udp_sip_frame, write_pcap
from conftest import quick_subset, shared_manifest, shared_path
from ladder.capture.loader import load_capture
from ladder.cli.stats import compute_stats, format_stats
from ladder.capture.progress import Progress, ProgressMeter

# Captures where our (sip_messages, call_ids) differ from tshark's, and why. Each is checked
# against the figures given here, so a change in either direction shows up.
DIFFERENCES = {
    "captures/ipfixprobe/sip.pcap": (
        (40, 15),
        "tshark also dissects the 5 SIP messages quoted inside ICMP port-unreachable errors; they are "
        "copies of messages the capture already holds, so we count those frames as icmp",
    ),
    "captures/ndpi/http_on_sip_port.pcap": (
        (0, 0),
        "HTTP on TCP/5060: tshark labels 2 frames SIP by port; we recognise SIP by content",
    ),
    "captures/ndpi/fuzz-2006-06-26-2594.pcap": (
        (54, 26),
        "fuzzed copy of aaa.pcap: corrupted IP/UDP lengths; we decode 2 more messages in frames whose "
        "IP or UDP length disagrees with the frame (leniencies ip-length-mismatch, udp-length-mismatch) "
        "and agree on the Call-IDs",
    ),
}
# tshark 4.0 has no HEP dissector: the manifest's hep_decoded figures come from a HEP parser.
HEP_FILES = {"captures/hep-wireshark/hep.pcap", "captures/hep-wireshark/hep3_compressed.pcap.pcapng"}


def test_sip_messages_and_call_ids_agree_with_tshark_on_every_capture():
    mismatches = []
    checked = 0
    for entry in shared_manifest():
        name = entry["file"]
        capture = load_capture(str(shared_path(name)))
        stats = compute_stats(capture)
        got = (stats["sip_messages"], stats["call_ids"])
        assert sum(capture.frame_classes.values()) == capture.frames == entry["packets"], name
        if name in HEP_FILES:
            expected = (entry["hep_decoded"]["sip_messages"], entry["hep_decoded"]["call_ids"])
        elif name in DIFFERENCES:
            expected = DIFFERENCES[name][0]
        else:
            expected = (entry["sip_messages"], entry["call_ids"])
        if got != expected:
            mismatches.append(f"{name}: ours {got}, expected {expected}")
        checked += 1
    assert mismatches == []
    assert checked == len(shared_manifest()) >= 67


def test_netmon_file_falls_back_to_the_pyshark_engine_with_a_notice(run_ladder):
    path = shared_path("captures/wireshark-wiki/c07-sip-r2.cap")
    result = run_ladder("stats", path, "--json")
    assert result.code == 0
    (line,) = result.err.splitlines()
    assert line.startswith("ladder: notice: ") and "pyshark engine" in line
    stats = json.loads(result.out)
    assert stats["engine"] == "pyshark" and stats["frames"] == 39


def test_hep_manifest_figures_are_where_the_test_reads_them():
    for entry in shared_manifest():
        if entry["file"] in HEP_FILES:
            assert entry["hep_decoded"]["sip_messages"] > 0 and entry["sip_messages"] == 0


def test_methods_and_status_codes_agree_on_a_busy_capture():
    """wireuploaded.pcap: 196 messages, 65 Call-IDs, presence and registration traffic."""
    entry = next(e for e in shared_manifest() if e["file"].endswith("wireuploaded.pcap"))
    stats = compute_stats(load_capture(str(shared_path(entry["file"]))))
    assert stats["sip_requests"] == entry["methods"]
    assert stats["sip_responses"] == entry["status_codes"]


def test_sip_over_tcp_found_by_content_on_a_non_sip_port():
    """tshark needs ``-d tcp.port==6060,sip`` for this file; we find all 406 messages unaided."""
    capture = load_capture(str(shared_path("captures/heplify/sip_ipv4_tcp_fragmented.pcap")))
    assert len(capture.sip_messages) == 406
    assert {m.src.transport for m in capture.sip_messages} == {"tcp"}
    assert capture.frame_classes.get("sip-segment", 0) > 0


def test_frame_classes_of_a_call_with_media(tmp_path):
    sdp = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    packets = [(1_000_000_000, udp_sip_frame(sip_invite(body=sdp)))]
    packets.append((1_100_000_000, udp_sip_frame(sip_response(200), "192.0.2.2", "192.0.2.1")))
    for i in range(50):
        frame = ethernet(ipv4(udp(rtp(i, i * 160), 4002, 4000), "192.0.2.2", "192.0.2.1"))
        packets.append((1_200_000_000 + i * 20_000_000, frame))
    packets.append((3_000_000_000, ethernet(bytes(28), ethertype=0x0806)))
    packets.append((3_100_000_000, ethernet(ipv4(udp(b"\x00\x01hello", 53, 53)))))
    capture = load_capture(str(write_pcap(tmp_path / "call.pcap", packets)))
    assert capture.frame_classes == {"rtp": 50, "sip": 2, "non-ip": 1, "udp-other": 1}
    stats = compute_stats(capture)
    assert stats["rtp_packets"] == 50 and stats["rtp_streams"] == 1
    assert stats["sip_requests"] == {"INVITE": 1} and stats["sip_responses"] == {"200": 1}
    assert stats["duration_s"] == 2.1
    text = format_stats(stats)
    assert "SIP messages:  2 (1 requests, 1 responses)" in text and "RTP:           50 packets in 1 streams" in text


def test_no_media_skips_the_rtp_table(tmp_path):
    packets = [(i, ethernet(ipv4(udp(rtp(i, i * 160), 4002, 4000)))) for i in range(10)]
    capture = load_capture(str(write_pcap(tmp_path / "m.pcap", packets)), media=False)
    assert capture.frame_classes == {"udp-other": 10} and capture.streams == []


def test_cli_json_keys_and_a_quiet_stderr(run_ladder):
    path = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    result = run_ladder("stats", path, "--json")
    assert result.code == 0 and result.err == ""
    stats = json.loads(result.out)
    for key in ("frames", "sip_messages", "sip_requests", "sip_responses", "call_ids", "rtp_packets",
                "rtp_streams", "rtcp_packets", "diagnostics", "frame_classes", "errors"):
        assert key in stats
    assert stats["frames"] == 4269 and stats["sip_messages"] == 14 and stats["call_ids"] == 4
    assert stats["sip_responses"] == {"100": 2, "180": 2, "200": 4}
    assert stats["rtp_packets"] == 2884  # tshark with heuristic RTP: 2884
    assert sum(stats["frame_classes"].values()) == stats["frames"]


def test_cli_human_output(tmp_path, run_ladder):
    path = write_pcap(tmp_path / "h.pcap", [(0, udp_sip_frame(sip_invite()))])
    result = run_ladder("stats", path)
    assert result.code == 0 and result.err == ""
    assert "SIP messages:  1 (1 requests, 0 responses)" in result.out
    assert "frame classes: sip 1" in result.out


def test_progress_meter_is_throttled_and_erased():
    stream = io.StringIO()
    meter = ProgressMeter(stream, per_second=1.0)
    meter(Progress(10_000, 2_000_000, 10_000_000, 0.5))
    meter(Progress(20_000, 4_000_000, 10_000_000, 0.6))  # within the second: not drawn
    meter(Progress(30_000, 6_000_000, 10_000_000, 0.7, done=True))
    out = stream.getvalue()
    assert out.count("reading:") == 1
    assert "10,000 packets, 2.0 MB of 10.0 MB, 20,000 packets/s" in out
    assert out.endswith("\r\x1b[K")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_shows_on_a_terminal_but_not_with_json(tmp_path):
    # A real process: its stderr is a pseudo-terminal (tests/ladder_runner.py).
    packets = [(i, ethernet(ipv4(udp(bytes(20), 4000, 4002)))) for i in range(9000)]
    path = write_pcap(tmp_path / "long.pcap", packets)
    for extra, expect_progress in (([], True), (["--json"], False)):
        master, slave = os.openpty()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "ladder", "stats", str(path), *extra],
                stdout=subprocess.PIPE, stderr=slave, timeout=120,
            )
            os.close(slave)
            seen = b""
            try:
                while chunk := os.read(master, 4096):
                    seen += chunk
            except OSError:
                pass  # the terminal's other end is closed: all read
        finally:
            os.close(master)
        assert result.returncode == 0
        assert (b"reading: 8,192 packets" in seen) is expect_progress, seen
        assert b"reading" not in result.stdout


def test_load_capture_reports_progress_then_done(tmp_path):
    packets = [(i, udp_sip_frame(sip_invite(call_id=f"call-{i % 3}"))) for i in range(8200)]
    path = write_pcap(tmp_path / "p.pcap", packets)
    seen: list[Progress] = []
    load_capture(str(path), progress=seen.append, media=False)
    assert [p.done for p in seen] == [False, True]
    assert (seen[0].frames, seen[0].sip_messages, seen[0].call_ids) == (8192, 8192, 3)
    assert seen[-1].frames == 8200 and seen[-1].bytes_read == path.stat().st_size


# The pyshark engine runs tshark (a real peer): one capture in the quick run, both in the long run.
@pytest.mark.parametrize("name", quick_subset(["captures/sngrep/ipv6frag.pcap", "captures/ndpi/gre_sip.pcapng"],
                                              ["captures/sngrep/ipv6frag.pcap"]))
def test_both_engines_feed_the_same_pipeline_to_the_same_counts(name):
    path = str(shared_path(name))
    fast = compute_stats(load_capture(path, engine="dpkt"))
    slow = compute_stats(load_capture(path, engine="pyshark"))
    assert (fast["engine"], slow["engine"]) == ("dpkt", "pyshark")
    for key in ("frames", "sip_messages", "call_ids", "sip_requests", "sip_responses", "frame_classes"):
        assert fast[key] == slow[key], (name, key)
