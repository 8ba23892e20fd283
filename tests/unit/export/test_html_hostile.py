"""Hostile SIP (tests/hostile/call.sip) in the HTML report: every byte from the capture comes out
as text. The browser half of this proof is in test_browser_export.py."""

from __future__ import annotations

import re

import pytest

from hostile.build import build_hostile_pcap, hostile_messages
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.export.html_report import render_html
from test_html_export import _without_plotly


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory):
    path = build_hostile_pcap(tmp_path_factory.mktemp("hostile") / "hostile.pcap")
    capture = load_capture(str(path))
    calls = build_calls(capture)
    assert len(calls) == 1 and len(calls[0].messages) == len(hostile_messages())
    return _without_plotly(render_html(capture, calls))


def test_no_hostile_markup_survives(hostile_page):
    page = hostile_page
    assert len(re.findall(r"<script\b", page, re.IGNORECASE)) == 2  # our JSON block and our script
    for tag in ("<img", "<iframe", "<body onload", "<a href=\"javascript", "<svg onload"):
        assert tag not in page.lower()
    assert page.lower().count("<body") == 1
    # No attribute whose value starts with javascript:, no event-handler attribute at all.
    assert not re.search(r"""=\s*["']?\s*javascript:""", page, re.IGNORECASE)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", page, re.IGNORECASE)
    # The payloads are there, as text.
    assert "&lt;script&gt;window.__pwned=2&lt;/script&gt;" in page
    assert "180 &lt;img src=x onerror=window.__pwned=7&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=10&lt;/script&gt;@evil" in page
    assert "s=&lt;script&gt;window.__pwned=8&lt;/script&gt;" in page


def test_line_separators_do_not_reach_the_page(hostile_page):
    assert "\u2028" not in hostile_page and "\u2029" not in hostile_page
