"""One label per arrow in every output (issue 11): ``diagram.arrow_label`` builds it, in RFC
3665's order ("INVITE F1"), for the text ladder, Mermaid, the HTML report and the TUI alike;
media bars name each direction's packet count beside its arrow (issue 14)."""

from __future__ import annotations

import re

from conftest import SAMPLES, shared_path
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.draw.diagram import MEDIA, arrow_label
from ladder.draw.layout import build_ladder
from ladder.export.html_report import render_html
from ladder.draw.mermaid import render_mermaid
from ladder.draw.text import render_text
from tui.ladder_lines import ladder_lines

TWO_PROXIES = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


def test_every_output_writes_the_same_label_in_the_same_order():
    capture = load_capture(str(TWO_PROXIES))
    (call,) = build_calls(capture)
    ladder = build_ladder(call, capture)
    text = render_text(ladder)
    mermaid = render_mermaid(ladder)
    page = render_html(capture, [call], charts=False)
    tui = "\n".join(ladder_lines(ladder).lines)
    for arrow in ladder.sip_arrows():
        label = arrow_label(arrow)
        assert re.fullmatch(r".+ F\d+", label) and label.endswith(f" F{arrow.f}")
        assert label in text and f": {label}\n" in mermaid
        assert arrow_label(arrow, sdp=True) in page and arrow_label(arrow, sdp=True) in tui
    assert "P1->>P2: INVITE F1\n" in mermaid and "F1 INVITE" not in mermaid + page + tui
    # "(SDP)" only where asked (the TUI and the report), on the messages that carry SDP.
    assert "(SDP)" not in text and "INVITE F1 (SDP)" in tui


def test_media_bars_name_each_direction_beside_its_arrow():
    capture = load_capture(str(shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")))
    call = next(c for c in build_calls(capture) if c.id == "12013223@200.57.7.195")
    ladder = build_ladder(call, capture)
    (bar,) = [a for a in ladder.arrows if a.kind == MEDIA]
    by_key = {s.key: s for s in capture.streams}
    first, second = (by_key[k] for k in bar.stream_keys)
    # The bar is drawn from its first stream's source column to its destination column.
    left_to_right = first if bar.src < bar.dst else second
    right_to_left = second if left_to_right is first else first
    assert bar.label == f"RTP PCMA → {left_to_right.packets} ← {right_to_left.packets} pkts"
    assert {first.packets, second.packets} == {548, 891}
    assert bar.label in render_text(ladder)
