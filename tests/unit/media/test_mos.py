"""ladder.media.mos: the E-model against worked numbers (each computed by hand from G.107/G.113)."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import shared_path
from ladder.media.mos import (burst_ratio, delay_impairment, estimate_mos, r_to_mos, stream_mos)
from test_rtp_capture_helper import feed_table


def test_g711_without_impairment_is_r_93_2_mos_4_41():
    e = estimate_mos("PCMU")
    assert e.r == pytest.approx(93.2) and round(e.mos, 2) == 4.41


def test_g729_codec_impairment():
    e = estimate_mos("G729")
    assert e.r == pytest.approx(82.2) and round(e.mos, 2) == 4.10


def test_random_loss_with_and_without_plc():
    # G.711 + PLC, 2 %: Ie_eff = 95 * 2 / (2 + 25.1) = 7.011; R = 86.19; MOS 4.235
    e = estimate_mos("PCMA", 2.0)
    assert e.ie_eff == pytest.approx(7.011, abs=1e-3) and e.mos == pytest.approx(4.235, abs=1e-3)
    # Without PLC (Bpl 4.3): Ie_eff = 190 / 6.3 = 30.16; R = 63.04
    assert estimate_mos("PCMU", 2.0, plc=False).r == pytest.approx(63.04, abs=0.01)
    # G.729, 5 %: Ie_eff = 11 + 84 * 5 / 24 = 28.5; R = 64.7
    assert estimate_mos("G729", 5.0).r == pytest.approx(64.7)


def test_bursty_loss_hurts_more():
    random = estimate_mos("PCMU", 5.0, burst_ratio=1.0)
    bursty = estimate_mos("PCMU", 5.0, burst_ratio=3.0)
    assert bursty.mos < random.mos
    assert burst_ratio(10, 1, 100) == pytest.approx(1 / (0.01 + 0.1))  # one run of 10
    assert burst_ratio(10, 10, 1000) == 1.0  # isolated losses: random


def test_delay_impairment_and_annex_b_limits():
    assert delay_impairment(100) == pytest.approx(2.4)
    assert delay_impairment(200) == pytest.approx(0.024 * 200 + 0.11 * 22.7)
    assert r_to_mos(-5) == 1.0 and r_to_mos(120) == 4.5
    assert r_to_mos(50) == pytest.approx(1 + 1.75 + 50 * -10 * 50 * 7e-6)


def test_unknown_codec_has_no_estimate():
    assert estimate_mos("H263") is None


def test_real_stream_estimate_and_loss_sensitivity():
    streams = feed_table(shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")).finish()
    stream = next(s for s in streams if s.ssrc == 0x58F33DEA and s.src.port == 40376)
    clean = stream_mos(stream)
    # 60 ms buffer + ~20 ms packets + RTT/2: a few points of Id, no loss.
    assert 4.3 < clean.mos < 4.41 and clean.loss_pct == pytest.approx(100 * stream.late_packets / stream.expected)
    lossy = stream_mos(dataclasses.replace(stream, lost=45, loss_events=45))
    assert lossy.mos < clean.mos - 0.1
