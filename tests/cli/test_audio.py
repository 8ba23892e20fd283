"""``ladder audio`` and ladder.export.wav: G.711 to WAV, silence for loss, both directions mixed."""

from __future__ import annotations

import array
import json
import wave

from captures_crafted import ethernet, gre, ipv4, ipv4_fragments, rtp, udp, write_pcap
from conftest import shared_path
from decoders.g711 import alaw_to_linear, ulaw_to_linear
from ladder.export.wav import TrackBuilder, mix


def _read(path) -> tuple[wave.Wave_read, array.array]:
    handle = wave.open(str(path))
    samples = array.array("h", handle.readframes(handle.getnframes()))
    return handle, samples


def test_alaw_stream_to_wav(tmp_path, run_ladder):
    out = tmp_path / "a.wav"
    ssrc = _ssrc(run_ladder)
    code, _, err = run_ladder("audio", shared_path("captures/sipp/g711a.pcap"), "--stream", ssrc, "-o", out)
    assert code == 0, err
    handle, samples = _read(out)
    assert (handle.getnchannels(), handle.getsampwidth(), handle.getframerate()) == (1, 2, 8000)
    assert len(samples) == 236 * 240  # 236 packets of 30 ms, no gaps
    assert "236 of 236 packets" in err
    assert max(abs(s) for s in samples) > 1000


def _ssrc(run_ladder) -> str:
    """The SSRC as ``ladder streams`` shows it (0x...), which is what a user would paste."""
    code, out, _ = run_ladder("streams", shared_path("captures/sipp/g711a.pcap"), "--json")
    assert code == 0
    return json.loads(out)["streams"][0]["ssrc_hex"]


def test_mix_both_directions(tmp_path, run_ladder):
    path = shared_path("captures/heplify/rtp_rtcp_sip_ipv4_udp.pcap")
    one, both = tmp_path / "one.wav", tmp_path / "both.wav"
    first = run_ladder("audio", path, "--stream", "0xD2BD4E3E", "-o", one)
    mixed = run_ladder("audio", path, "--stream", "0xD2BD4E3E", "-o", both, "--mix")
    assert first.code == mixed.code == 0
    err = first.err + mixed.err
    assert "548 of 548 packets from 1 stream" in err and "1439 of 1439 packets from 2 stream" in err
    assert _read(both)[1] != _read(one)[1]


def test_lost_packet_is_silence_at_its_place():
    builder = TrackBuilder(0, 10_000)
    tone = bytes([0xD5 ^ 0x0F]) * 160  # a constant non-zero A-law value
    for seq in (0, 1, 3):  # packet 2 lost
        builder.add(1000 + seq * 160, 8, tone)
    samples = builder.track.samples
    assert len(samples) == 4 * 160
    level = alaw_to_linear(0xD5 ^ 0x0F)
    assert set(samples[0:320]) == {level} and set(samples[320:480]) == {0} and set(samples[480:]) == {level}


def test_events_skipped_and_bogus_leap_dropped():
    builder = TrackBuilder(0, 1000)
    builder.add(0, 0, b"\xff" * 160)
    builder.add(160, 101, b"\x01\x0a\x00\xa0")  # telephone-event
    builder.add(10_000_000, 0, b"\xff" * 160)  # beyond the bound
    assert (builder.track.packets, builder.track.skipped, builder.track.dropped) == (1, 1, 1)


def test_mix_aligns_by_start_time_and_clips():
    a, b = TrackBuilder(0, 10_000), TrackBuilder(10_000_000, 10_000)  # b starts 10 ms = 80 samples later
    a.add(0, 8, bytes([0xAA]) * 160)  # A-law full scale
    b.add(0, 8, bytes([0xAA]) * 160)
    mixed = mix([a.track, b.track]).samples
    assert len(mixed) == 240 and mixed[100] == 32767 and mixed[10] == 32256


def test_not_g711_and_unknown_ssrc_are_usage_errors(tmp_path, run_ladder):
    path = shared_path("captures/wireshark-wiki/sip-rtp-g729a.pcap")
    code, _, err = run_ladder("audio", path, "--stream", 71653793, "-o", tmp_path / "x.wav")
    assert code == 2 and "only G.711" in err
    code, _, err = run_ladder("audio", path, "--stream", "0x1", "-o", tmp_path / "x.wav")
    assert code == 2 and "no RTP stream with SSRC 0x00000001" in err
    assert run_ladder("audio", path, "--stream", "zz", "-o", tmp_path / "x.wav").code == 2


def test_packets_inside_fragments_and_tunnels_are_written(tmp_path, run_ladder):
    """The second pass is the pipeline's frame walk: RTP in IP fragments and in GRE is found
    like plain RTP, so every packet of the stream reaches the WAV file."""
    packets = []
    for i in range(50):
        datagram = udp(rtp(i, i * 160, ssrc=0x1234ABCD), 4000, 4002)
        ts_ns = 1_000_000_000 + i * 20_000_000
        if i % 3 == 1:  # two IPv4 fragments
            packets += [(ts_ns, ethernet(piece)) for piece in ipv4_fragments(datagram, 96, ident=100 + i)]
        elif i % 3 == 2:  # IPv4 inside GRE
            packets.append((ts_ns, ethernet(ipv4(gre(ipv4(datagram), 0x0800), "198.51.100.1", "198.51.100.2", proto=47))))
        else:
            packets.append((ts_ns, ethernet(ipv4(datagram))))
    path = write_pcap(tmp_path / "wrapped.pcap", packets)
    out = tmp_path / "wrapped.wav"
    code, _, err = run_ladder("audio", path, "--stream", "0x1234ABCD", "-o", out)
    assert code == 0 and "50 of 50 packets from 1 stream" in err
    _handle, samples = _read(out)
    assert len(samples) == 50 * 160 and set(samples) == {ulaw_to_linear(0)}
