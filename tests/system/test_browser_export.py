"""The HTML export in a real browser (headless Debian Chromium driven by Selenium): no console
error, no network request, clicking an F-number shows its message, the charts draw, and the
hostile call (tests/hostile) executes nothing. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLES, require_tool
from hostile.build import build_hostile_pcap, hostile_messages

ARTIFACTS = ROOT / "test-artifacts"
SAMPLE_33 = SAMPLES / "rfc3665-3.3-session-multiple-proxy-authentication.pcap"
FETCHING = ("http:", "https:", "ws:", "wss:", "ftp:")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    require_tool("chromium")
    require_tool("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1100"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


def _export(capture, out, *extra) -> None:
    done = subprocess.run([sys.executable, "-m", "ladder", "export", str(capture), "--html", str(out), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def _open(driver, page):
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get_log("performance")
    driver.get(page.as_uri())
    driver.execute_script("return document.readyState")


def _requests(driver, page) -> list[str]:
    """URLs requested from our page's load on (the performance log also holds the start page's)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    if page.as_uri() in urls:
        urls = urls[urls.index(page.as_uri()):]
    return urls


def _click(driver, selector: str) -> None:
    """Scroll the element to the middle (the sticky message panel covers the bottom), click."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _no_dialog(driver) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_report_works_offline_in_chromium(driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = tmp_path / "report.html"
    _export(SAMPLE_33, page)
    _open(driver, page)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('.chart svg.main-svg').length") > 0)
    assert _console_errors(driver) == []
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    requests = _requests(driver, page)
    assert requests[0] == page.as_uri()
    assert all(url == page.as_uri() or url.startswith("data:") for url in requests), requests
    charts = driver.execute_script("return document.querySelectorAll('.chart').length")
    drawn = driver.execute_script("return document.querySelectorAll('.chart svg.main-svg').length")
    assert charts >= 2 and drawn >= charts  # one chart per stream direction, each an svg

    panel = driver.find_element(By.CSS_SELECTOR, "#call-1 .panel")
    assert not panel.is_displayed()
    _click(driver, 'a.arrow[data-target="c1-f4"]')
    assert panel.is_displayed()
    text = panel.text
    assert text.startswith("INVITE F4 (SDP)") and "Proxy-Authorization: Digest username=\"alice\"" in text
    assert "m=audio 49172 RTP/AVP 0" in text  # its SDP, raw and as the table
    _click(driver, 'a.arrow[data-target="c1-f2"]')
    assert panel.text.startswith("407 Proxy Authorization Required F2")
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "export-rfc3665-3.3.png"))
    assert _console_errors(driver) == []


def test_print_layout(driver, tmp_path):
    """Print media hides the interactive panel and keeps the ladder and charts; a PDF of the
    printed page is kept as an artifact."""
    import base64

    page = tmp_path / "print.html"
    _export(SAMPLE_33, page)
    _open(driver, page)
    _click(driver, 'a.arrow[data-target="c1-f1"]')
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        shown = driver.execute_script(
            "return [getComputedStyle(document.querySelector('#call-1 .panel')).display,"
            " getComputedStyle(document.querySelector('svg.ladder')).display]")
        assert shown == ["none", "block"]
        pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"])
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "export-rfc3665-3.3.pdf").write_bytes(pdf)
    assert _console_errors(driver) == []


def test_hostile_capture_executes_nothing(driver, tmp_path):
    from selenium.webdriver.common.by import By

    capture = build_hostile_pcap(tmp_path / "hostile.pcap")
    page = tmp_path / "hostile.html"
    _export(capture, page)
    _open(driver, page)
    assert _no_dialog(driver)
    # CSP would log a refusal for any inline handler or script the payloads had created.
    assert _console_errors(driver) == []
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert driver.execute_script(
        "return document.querySelectorAll('img, iframe, [onload], [onerror], [onclick]').length") == 0
    assert driver.execute_script("return document.scripts.length") == 3  # JSON, plotly, ours
    # Open every message in the panel: the hostile text is shown, as text.
    for f in range(1, len(hostile_messages()) + 1):
        _click(driver, f'a.arrow[data-target="c1-f{f}"]')
        assert driver.find_element(By.CSS_SELECTOR, "#call-1 .panel").is_displayed()
    panel_text = driver.find_element(By.CSS_SELECTOR, "#call-1 .panel").text
    assert "window.__pwned" in panel_text
    assert _no_dialog(driver)
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert _console_errors(driver) == []
    assert [u for u in _requests(driver, page) if u.startswith(FETCHING)] == []
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "export-hostile.png"))


def test_anonymized_report_renders(driver, tmp_path):
    page = tmp_path / "anon.html"
    _export(SAMPLE_33, page, "--anonymize", "--anonymize-key", "browser-test")
    _open(driver, page)
    assert _console_errors(driver) == []
    body = driver.find_element("tag name", "body").text
    assert "alice" not in body.lower() and "atlanta" not in body.lower()
    assert "Anonymised" in body
