"""Golden ladders of the 16 RFC 3665 flows (samples/*.pcap).

Each sample's ladder must have the RFC's participants (addresses, and the UAs' names) and its
arrows in the RFC's order with the RFC's F-numbers and labels (samples/rfc3665-flows.json).
Its text rendering is compared byte for byte with tests/golden/<sample>.txt (LF line ends);
``PCAPLADDER_REGEN=1`` rewrites the golden files — then read the diff before committing.
"""

from __future__ import annotations

import json
import os

import pytest

from conftest import ROOT, SAMPLES
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.draw.layout import build_ladder
from ladder.draw.text import render_text

GOLDEN = ROOT / "tests" / "golden"
FLOWS = json.loads((SAMPLES / "rfc3665-flows.json").read_text(encoding="utf-8"))
UA_NAMES = {"Alice", "Bob"}


def sample_ladder(flow: dict):
    # Media bars come from ladder.media.binding (its own tests); the goldens pin the SIP ladder.
    capture = load_capture(str(SAMPLES / flow["file"]), media=False)
    calls = build_calls(capture)
    return calls, build_ladder(calls, capture, media=False)


@pytest.mark.parametrize("flow", FLOWS, ids=[f["section"] for f in FLOWS])
def test_participants_are_the_rfcs(flow):
    _, ladder = sample_ladder(flow)
    ips = [p.endpoints[0].ip for p in ladder.participants]
    assert ips == [p["ip"] for p in flow["participants"]]
    for ours, theirs in zip(ladder.participants, flow["participants"]):
        # UAs carry the From/To display names; proxies are named by their Via host.
        if theirs["name"] in UA_NAMES and ours.role == "ua":
            assert ours.name == theirs["name"]


@pytest.mark.parametrize("flow", FLOWS, ids=[f["section"] for f in FLOWS])
def test_arrows_follow_the_rfc(flow):
    _, ladder = sample_ladder(flow)
    arrows = ladder.sip_arrows()
    ours = [(a.f, a.method if a.kind == "request" else str(a.status), a.src, a.dst) for a in arrows]
    theirs = [(a["f"], a["label"], a["from"], a["to"]) for a in flow["arrows"] if not a.get("media")]
    assert ours == theirs


@pytest.mark.parametrize("flow", FLOWS, ids=[f["section"] for f in FLOWS])
def test_text_rendering_matches_golden(flow):
    _, ladder = sample_ladder(flow)
    text = render_text(ladder)
    golden = GOLDEN / (flow["file"].rsplit(".", 1)[0] + ".txt")
    if os.environ.get("PCAPLADDER_REGEN") == "1":
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"{golden} is missing: run with PCAPLADDER_REGEN=1 and read the diff"
    assert text == golden.read_bytes().decode("utf-8")
    assert "\r" not in text


def test_outcomes_match_the_rfc_titles():
    outcomes = {}
    for flow in FLOWS:
        calls, _ = sample_ladder(flow)
        outcomes[flow["section"]] = [c.outcome.code for c in calls]
    assert outcomes["2.1"] == ["registered"]
    assert outcomes["2.5"] == ["registration-failed"]
    assert outcomes["3.1"] == ["completed"]
    assert outcomes["3.2"] == ["completed"]
    assert outcomes["3.3"] == ["in-call"]  # the RFC's flow ends with the ACK: no BYE
    assert outcomes["3.4"] == ["completed"]  # Proxy 1 never answers; the retry via Proxy 2 is answered
    assert outcomes["3.8"] == ["cancelled"]  # CANCEL after 180
    assert outcomes["3.9"] == ["busy"]
    assert outcomes["3.10"] == ["failed"]  # 480 from Proxy 2: Bob never answered
    assert outcomes["3.11"] == ["rejected"]  # 480 after 180


def test_retransmissions_are_numbered_and_marked():
    flow = next(f for f in FLOWS if f["section"] == "3.10")
    _, ladder = sample_ladder(flow)
    marked = [a.f for a in ladder.sip_arrows() if a.retransmission]
    assert marked == [6, 7, 8, 9, 10, 11]  # "Resend of Message F4"
    assert "INVITE F6 (retransmission)" in render_text(ladder)


MEDIA_FLOWS = [f for f in FLOWS if any(a.get("media") for a in f["arrows"])]


@pytest.mark.parametrize("flow", MEDIA_FLOWS, ids=[f["section"] for f in MEDIA_FLOWS])
def test_media_bars_stand_where_the_rfc_draws_them(flow):
    """The RFC's "Both Way RTP Media" bars: same columns, both ways, after the same message."""
    capture = load_capture(str(SAMPLES / flow["file"]))
    ladder = build_ladder(build_calls(capture), capture)

    def placed(arrows, is_media, f_of, ends):
        out, last_f = [], 0
        for arrow in arrows:
            if is_media(arrow):
                out.append((last_f, tuple(sorted(ends(arrow)))))
            else:
                last_f = f_of(arrow)
        return out

    theirs = placed(flow["arrows"], lambda a: a.get("media"), lambda a: a["f"], lambda a: (a["from"], a["to"]))
    ours = placed(ladder.arrows, lambda a: a.kind == "media", lambda a: a.f, lambda a: (a.src, a.dst))
    assert ours == theirs
    assert all(a.both_ways for a in ladder.arrows if a.kind == "media")
    assert "<====" in render_text(ladder)


@pytest.mark.parametrize("section", ["3.2", "3.8"])
def test_compact_rendering_with_time_matches_golden(section):
    flow = next(f for f in FLOWS if f["section"] == section)
    _, ladder = sample_ladder(flow)
    text = render_text(ladder, compact=True, time=True)
    golden = GOLDEN / (flow["file"].rsplit(".", 1)[0] + ".compact-time.txt")
    if os.environ.get("PCAPLADDER_REGEN") == "1":
        golden.write_bytes(text.encode("utf-8"))
    assert text == golden.read_bytes().decode("utf-8")
    assert len(text.splitlines()) < len(render_text(ladder).splitlines())
