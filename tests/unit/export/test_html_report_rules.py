"""The report's rules without a browser (tests/system/test_browser_report.py looks at them drawn):
charts from the table's series, gaps as nulls, plurals, colours by severity, its size."""

from __future__ import annotations

import json
import re

from conftest import SAMPLES, shared_path
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.export.html_report import plural, render_html

HEPLIFY_RTP = "captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap"


def _chart_data(page: str) -> list[dict]:
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(block)["charts"]


def test_charts_use_the_tables_rules_and_leave_silences_as_gaps():
    capture = load_capture(str(shared_path(HEPLIFY_RTP)))
    calls = build_calls(capture)
    call = next(c for c in calls if c.id == "12013223@200.57.7.195")
    page = render_html(capture, [call], all_calls=calls)
    assert len(page.encode()) < 1_500_000  # plotly's basic bundle, embedded once
    charts = _chart_data(page)
    assert len(charts) == 2
    for chart in charts:
        stream = next(s for s in capture.streams if chart["title"].startswith(
            f"{s.src.address()} → {s.dst.address()}"))
        delta = [v for v in chart["delta"] if v is not None]
        assert abs(max(delta) - stream.max_delta_ms) < 0.01  # 379.9, not the 1,600 ms marker packet
        assert chart["loss"] == [] and stream.lost == 0
        assert len(chart["t"]) == len(chart["delta"]) == len(chart["jitter"])
    assert any(None in chart["delta"] for chart in charts)  # the 5.8 s silence


def test_plurals():
    assert plural(1, "call") == "1 call" and plural(2, "call") == "2 calls" and plural(0, "call") == "0 calls"
    capture = load_capture(str(shared_path(HEPLIFY_RTP)), media=False)
    page = render_html(capture, build_calls(capture), media=False, check=False)
    assert "<dt>calls</dt><dd>2 calls, 2 registrations</dd>" in page
    one = load_capture(str(SAMPLES / "rfc3665-3.1-successful-session.pcap"), media=False)
    assert "<dd>1 call</dd>" in render_html(one, build_calls(one), media=False, check=False)


def test_findings_are_coloured_by_severity():
    capture = load_capture(str(shared_path("captures/wireshark-wiki/sip-rtp-g722.pcap")))
    calls = build_calls(capture)
    page = render_html(capture, calls, charts=False)
    # F3's only finding is sdp-answer-mismatch at severity info: not an error's red.
    assert re.search(r'<g class="sip response flagged sev-info"', page)
    assert re.findall(r'class="[^"]*flagged (sev-\w+)', page) == ["sev-info"]
