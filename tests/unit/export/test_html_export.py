"""The HTML report's structure on real captures: offline (no external URL), a strict CSP, plotly
embedded once, an anchor for every F-number, deviations marked, timings right."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SAMPLES, shared_path
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.export.html_report import call_timings, render_html, script_json

SAMPLE_33 = SAMPLES / "rfc3665-3.3-session-multiple-proxy-authentication.pcap"
PLOTLY_MARK = "* plotly.js"  # the bundle's licence header, basic or full


def _report(path) -> tuple[str, list]:
    capture = load_capture(str(path))
    calls = build_calls(capture)
    return render_html(capture, calls), calls


def _without_plotly(page: str) -> str:
    """The page minus the embedded plotly.js (third-party code full of URLs in strings)."""
    start = page.find(PLOTLY_MARK)
    if start < 0:
        return page
    begin = page.rfind("<script", 0, start)
    end = page.find("</script>", start)
    return page[:begin] + page[end + len("</script>"):]


@pytest.fixture(scope="module")
def report_33():
    return _report(SAMPLE_33)


def test_page_is_offline_with_strict_csp(report_33):
    page, _calls = report_33
    own = _without_plotly(page)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    assert "default-src 'none'" in csp and "img-src data:" in csp and "style-src 'unsafe-inline'" in csp
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'", csp).group(1)
    scripts = re.findall(r"<script([^>]*)>", page)
    executable = [attrs for attrs in scripts if 'type="application/json"' not in attrs]
    assert executable and all(f'nonce="{nonce}"' in attrs for attrs in executable)
    # No URL the browser could fetch: no src=/href= outside the page, no url(...) in CSS.
    assert not re.search(r'\b(?:src|href|action|poster)\s*=\s*"(?!#)', own)
    assert "url(http" not in own and "@import" not in own
    assert not re.search(r"(?:https?|ftp|wss?)://", own.replace('xmlns="http://www.w3.org/2000/svg"', ""))
    assert page.count(PLOTLY_MARK) == 1


def test_every_f_number_has_an_anchor_and_a_message(report_33):
    page, calls = report_33
    count = len(calls[0].messages)
    for f in range(1, count + 1):
        assert f'id="c1-f{f}"' in page
        assert f'href="#c1-f{f}" data-target="c1-f{f}" data-f="{f}"' in page
    assert f'id="c1-f{count + 1}"' not in page
    # The whole message is there (escaped), with its SDP table.
    assert "Proxy-Authorization: Digest username=&quot;alice&quot;" in page
    assert "<strong>SDP</strong>" in page


def test_deviations_are_listed_and_marked_on_their_arrows(tmp_path):
    from hostile.build import build_hostile_pcap
    from ladder.check.call_check import check_call
    from ladder.check.references import load_references

    path = build_hostile_pcap(tmp_path / "no-ack.pcap", leave_out=("ACK",))  # the 200 OK is never ACKed
    capture = load_capture(str(path))
    calls = build_calls(capture)
    page = render_html(capture, calls)
    result = check_call(calls[0], capture, load_references())
    assert "missing-ack" in {item.code for item in result.deviations}
    for item in result.deviations:
        assert f"<code class=\"code\">{item.code}</code>" in page
        for f in item.f:
            arrow = re.search(rf'<a class="arrow" href="#c1-f{f}".*?</a>', page).group(0)
            assert "flagged" in arrow and item.code in arrow


def test_streams_table_and_chart_data(report_33):
    page, _calls = report_33
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page).group(1))
    assert data["charts"], "the 3.3 sample has RTP both ways"
    for chart in data["charts"]:
        assert f'<div class="chart" id="{chart["id"]}"></div>' in page
        assert len(chart["t"]) == len(chart["jitter"]) == len(chart["delta"]) > 10
        assert chart["t"] == sorted(chart["t"])
    assert "<table class=streams>" in page and "PCMU" in page


def test_timings_follow_the_messages():
    capture = load_capture(str(SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"))
    call = build_calls(capture)[0]
    messages = call.messages
    invite = messages[0]
    alice = invite.src.ip
    ringing = next(m for m in messages if m.status == 180 and m.dst.ip == alice)
    ok = next(m for m in messages if m.status == 200 and m.method == "INVITE" and m.dst.ip == alice)
    bye = next(m for m in messages if m.method == "BYE" and m.is_request)
    timings = call_timings(call)
    assert timings.post_dial_delay == ringing.ts_ns - invite.ts_ns > 0
    assert timings.setup_time == ok.ts_ns - invite.ts_ns > timings.post_dial_delay
    assert timings.talk_time == bye.ts_ns - ok.ts_ns > 0
    page = render_html(capture, [call])
    assert f"<dt>setup time</dt><dd>{timings.setup_time / 1e6:,.0f} ms</dd>" in page


def test_call_list_only_with_several_calls():
    path = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    capture = load_capture(str(path))
    calls = build_calls(capture)
    page = render_html(capture, calls)
    assert "<h2>Calls</h2>" in page
    for call in calls:
        assert f'<a href="#call-{call.index}">{call.index}</a>' in page
        assert f'<section class="call" id="call-{call.index}">' in page
    single = render_html(capture, calls[:1], all_calls=calls)
    assert "<h2>Calls</h2>" not in single


def test_script_json_cannot_end_its_script_element():
    text = script_json({"x": "</script><script>alert(1)</script>", "y": "a\u2028b\u2029c", "z": "<!--"})
    assert "</" not in text and "<!--" not in text and "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"x": "</script><script>alert(1)</script>", "y": "a\u2028b\u2029c", "z": "<!--"}


def test_print_stylesheet_present(report_33):
    page, _calls = report_33
    assert "@media print" in page and "beforeprint" in page
