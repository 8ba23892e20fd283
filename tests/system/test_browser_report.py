"""The HTML report reads right (issue 14), checked in headless Chromium: the charts drawn from
the table's own series (marker-bit packets set no maximum, as tshark), silences left as gaps, no
empty loss axis, findings coloured by severity, plurals, one time base (no negative time on a
HEP capture), and a one-call report under 1.5 MB that still draws offline under the strict CSP.
Screenshots go to test-artifacts/ (looked at when the test was written)."""

from __future__ import annotations

import re

from conftest import shared_path
from test_browser_export import ARTIFACTS, _console_errors, _export, _open, _requests, driver  # noqa: F401

HEPLIFY_RTP = "captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap"
G722 = "captures/wireshark-wiki/sip-rtp-g722.pcap"
HEP = "captures/hep-wireshark/hep.pcap"
LIMIT = 1_500_000


def _charts(driver) -> list[dict]:
    """What plotly drew: per chart its title, traces (name, y) and whether a second y axis exists."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('.chart svg.main-svg').length") > 0)
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('.chart')).map(function (el) {
          return { title: el.layout.title.text, y2: el.layout.yaxis2 !== undefined,
                   y2drawn: el.querySelectorAll('.g-y2title text, .yaxislayer-above .y2tick').length,
                   traces: el.data.map(function (t) { return { name: t.name, y: t.y }; }) };
        });""")


def test_one_call_report_is_small_draws_offline_and_charts_follow_the_table(driver, tmp_path):
    from selenium.webdriver.common.by import By

    from ladder.capture.loader import load_capture

    capture = load_capture(str(shared_path(HEPLIFY_RTP)))
    page = tmp_path / "call1.html"
    _export(shared_path(HEPLIFY_RTP), page, "--call", "1")
    size = page.stat().st_size
    assert size < LIMIT, f"{size:,} bytes"
    _open(driver, page)
    charts = _charts(driver)
    assert _console_errors(driver) == []
    assert all(u == page.as_uri() or u.startswith("data:") for u in _requests(driver, page))
    assert len(charts) == 2
    for chart in charts:
        (stream,) = [s for s in capture.streams if s.ssrc_hex in chart["title"]
                     and chart["title"].startswith(f"{s.src.address()} → {s.dst.address()}")]
        jitter, delta = chart["traces"][0]["y"], chart["traces"][1]["y"]
        # The same figures as the table: tshark's max delta skips marker-bit packets (talk
        # spurts after a silence), and so does the chart now (it peaked at 1,600 ms: 380 here).
        assert abs(max(v for v in delta if v is not None) - stream.max_delta_ms) < 0.01
        assert abs(max(v for v in jitter if v is not None) - stream.max_jitter_ms) < 0.01
        # No loss: no "lost" trace, no second axis.
        assert stream.lost == 0 and not chart["y2"] and chart["y2drawn"] == 0
        assert [t["name"] for t in chart["traces"]] == ["jitter (ms, max per bucket)", "delta (ms, max per bucket)"]
    # The 548-packet direction has a 5.8 s silence: a gap (null), not a ramp across it.
    quiet = next(c for c in charts if any(v is None for v in c["traces"][1]["y"]))
    assert quiet["traces"][0]["y"].count(None) >= 1
    table = driver.find_element(By.CSS_SELECTOR, "table.streams")
    for stream in capture.streams:
        if stream.ssrc_hex in table.text:
            assert f"{stream.max_delta_ms:.1f}" in table.text
    first_chart = driver.find_element(By.CSS_SELECTOR, ".chart")
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", first_chart)
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "report-charts-heplify.png"))


def test_summary_plurals_and_severity_colours(driver, tmp_path):
    page = tmp_path / "all.html"
    _export(shared_path(HEPLIFY_RTP), page)
    _open(driver, page)
    facts = driver.execute_script(
        "var dts = document.querySelectorAll('dl.facts dt'); for (var i = 0; i < dts.length; i++) {"
        " if (dts[i].textContent === 'calls') { return dts[i].nextElementSibling.textContent; } } return '';")
    assert facts == "2 calls, 2 registrations"
    # An info-level finding is not painted as an error.
    info = tmp_path / "info.html"
    _export(shared_path(G722), info)
    _open(driver, info)
    colours = driver.execute_script("""
        var g = document.querySelector('svg.ladder g.sip.flagged');
        return { classes: g.getAttribute('class'),
                 label: getComputedStyle(g.querySelector('text.label')).fill,
                 shaft: getComputedStyle(g.querySelector('line')).stroke,
                 severity: getComputedStyle(document.querySelector('.sev.info')).color };""")
    assert "sev-info" in colours["classes"]
    assert colours["label"] == colours["shaft"] == colours["severity"] == "rgb(60, 110, 71)"
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "report-info-finding.png"))
    assert _console_errors(driver) == []


def test_hep_capture_has_one_time_base_and_no_negative_time(driver, tmp_path):
    page = tmp_path / "hep.html"
    _export(shared_path(HEP), page)
    _open(driver, page)
    times = driver.execute_script(
        "return Array.from(document.querySelectorAll('svg.ladder text.time')).map(function (t) {"
        " return t.textContent; });")
    numbers = [float(t) for t in times if re.fullmatch(r"-?\d+\.\d+", t)]
    assert numbers and min(numbers) == 0.0 and all(n >= 0 for n in numbers)
    headings = driver.execute_script(
        "return Array.from(document.querySelectorAll('section.message h4')).map(function (h) {"
        " return h.textContent; });")
    assert headings and not any(" — -" in h for h in headings)
