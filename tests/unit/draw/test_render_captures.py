"""Every capture of the shared corpus renders as text, JSON and Mermaid without error, and a
few real captures render what a SIP engineer sees in them."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, shared_manifest, shared_path
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.draw.layout import build_ladder
from ladder.draw.json_ladder import render_json
from ladder.draw.mermaid import render_mermaid
from ladder.draw.text import render_text


def _entries():
    # Collection must not fail where ../shared is absent: the one test then skips (or fails in CI).
    if not (SHARED / "captures" / "manifest.json").exists():
        return ["captures/manifest.json"]
    return [entry["file"] for entry in shared_manifest()]


@pytest.mark.shared
@pytest.mark.parametrize("relative", _entries())
def test_capture_renders_in_every_format(relative):
    path = shared_path(relative)
    capture = load_capture(str(path))
    calls = build_calls(capture)
    # Every message is in one call, drawn once, or folded into the one it copies (×N).
    assert sum(len(c.messages) + sum(map(len, c.copies.values())) for c in calls) == len(capture.sip_messages)
    ladders = [build_ladder(call, capture) for call in calls]
    for ladder in ladders:
        text = render_text(ladder, time=True)
        assert "\x1b" not in text
        fs = [a.f for a in ladder.sip_arrows()]
        assert fs == list(range(1, len(fs) + 1))
        assert render_text(ladder, compact=True)
        assert render_mermaid(ladder).startswith("sequenceDiagram\n")
    document = json.loads(render_json(ladders))
    assert len(document["calls"]) == len(calls)


@pytest.mark.shared
def test_heplify_tcp_call_is_one_answered_call():
    capture = load_capture(str(shared_path("captures/heplify/sip_ipv4_tcp.pcap")), media=False)
    calls = build_calls(capture)
    assert len(calls) == 1
    call = calls[0]
    assert call.kind == "call" and call.outcome.code == "completed"
    ladder = build_ladder(call, capture, media=False)
    labels = [a.method if a.kind == "request" else a.status for a in ladder.sip_arrows()]
    assert labels == ["INVITE", 100, 180, 200, "ACK", "BYE", 200]
    assert len(ladder.participants) == 2
    text = render_text(ladder)
    assert "INVITE F1" in text and "200 OK F7" in text


@pytest.mark.shared
def test_heplify_register_and_invite_are_separate_groups():
    capture = load_capture(str(shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")), media=False)
    kinds = [c.kind for c in build_calls(capture)]
    assert "registration" in kinds and "call" in kinds
