"""A MOS estimate from the ITU-T G.107 E-model, simplified for what a capture can tell.

    R = R0 - Is - Id - Ie_eff + A

* ``R0 - Is`` = 93.2: G.107's default values (Ro = 94.77 from SLR 8, RLR 2, noise defaults;
  Is = 1.41 from the default loudness and sidetone ratings; Idte/Idle at their defaults folded
  in) give R = 93.2 for a perfect narrowband connection. A (advantage factor) = 0.
* ``Id`` from the one-way mouth-to-ear delay Ta (ms), by the usual simplification of G.107
  §7.4 (Cole & Rosenbluth 2001): Id = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3), H the step.
* ``Ie_eff`` = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)  (G.107 §7.5), Ppl the packet loss in
  percent (network loss plus jitter-buffer discards), BurstR the burst ratio (1 for random
  loss), Ie and Bpl per codec from G.113 Appendix I (estimates where G.113 lists none, marked).
* MOS from R per G.107 Annex B: R < 0 -> 1; R > 100 -> 4.5; else
  1 + 0.035 R + R (R - 60) (100 - R) 7e-6.

Worked numbers: G.711, no loss, no delay -> R 93.2, MOS 4.41. G.729, no loss -> R 82.2, MOS 4.11.

For a stream (``stream_mos``): Ppl = (lost + late packets) / expected, where late packets are
those a fixed ``JITTER_BUFFER_MS`` (60 ms) buffer would have discarded; BurstR from the loss
run lengths (G.107 Annex A: BurstR = 1 / (p + q), p = P(loss after a received packet) ~ loss
events / packets, q = P(received after a loss) ~ loss events / lost packets); Ta = the buffer
(60 ms) + the packet time (mean delta) + RTCP RTT / 2 when RTCP gave one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ladder.media.streams import JITTER_BUFFER_MS, RtpStream

R_DEFAULT = 93.2


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """G.113 equipment impairment ``ie`` and packet-loss robustness ``bpl`` (with PLC);
    ``bpl_no_plc`` where G.113 gives one; ``estimated`` when G.113 has no figure."""

    ie: float
    bpl: float
    bpl_no_plc: float | None = None
    estimated: bool = False


# Keys are upper-case encoding names as SDP's rtpmap or RFC 3551 name them.
CODECS: dict[str, CodecImpairment] = {
    "PCMU": CodecImpairment(0.0, 25.1, 4.3),
    "PCMA": CodecImpairment(0.0, 25.1, 4.3),
    "G729": CodecImpairment(11.0, 19.0),
    "G729A": CodecImpairment(11.0, 19.0),
    "G723": CodecImpairment(15.0, 16.1),
    "G722": CodecImpairment(0.0, 13.0, estimated=True),
    "G726-32": CodecImpairment(7.0, 10.0, estimated=True),
    "G726": CodecImpairment(7.0, 10.0, estimated=True),
    "GSM": CodecImpairment(20.0, 10.0, estimated=True),
    "ILBC": CodecImpairment(11.0, 32.0, estimated=True),
    "SPEEX": CodecImpairment(10.0, 15.0, estimated=True),
    "OPUS": CodecImpairment(0.0, 20.0, estimated=True),
    "AMR": CodecImpairment(5.0, 10.0, estimated=True),
    "AMR-WB": CodecImpairment(0.0, 10.0, estimated=True),
}


@dataclass(frozen=True, slots=True)
class MosEstimate:
    r: float
    mos: float
    ie_eff: float
    id: float
    loss_pct: float
    burst_ratio: float
    delay_ms: float
    codec: str


def r_to_mos(r: float) -> float:
    """G.107 Annex B."""
    if r < 0:
        return 1.0
    if r > 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def delay_impairment(delay_ms: float) -> float:
    """Id for a one-way delay of ``delay_ms`` (the simplified G.107 §7.4 curve)."""
    delay_ms = max(delay_ms, 0.0)
    extra = delay_ms - 177.3
    return 0.024 * delay_ms + (0.11 * extra if extra > 0 else 0.0)


def codec_impairment(codec: str) -> CodecImpairment | None:
    """The G.113 figures for an encoding name (``PCMU``, ``G729``, ``opus`` ...), or None."""
    return CODECS.get(codec.upper().split("/")[0])


def estimate_mos(codec: str, loss_pct: float = 0.0, *, burst_ratio: float = 1.0,
                 delay_ms: float = 0.0, plc: bool = True) -> MosEstimate | None:
    """The E-model for ``codec`` at ``loss_pct`` (0..100) and ``delay_ms`` one way; None for a
    codec without G.113 figures (video, unknown dynamic types)."""
    figures = codec_impairment(codec)
    if figures is None:
        return None
    bpl = figures.bpl if plc or figures.bpl_no_plc is None else figures.bpl_no_plc
    ppl = min(max(loss_pct, 0.0), 100.0)
    burst_ratio = max(burst_ratio, 1e-9)
    ie_eff = figures.ie + (95 - figures.ie) * ppl / (ppl / burst_ratio + bpl)
    id_ = delay_impairment(delay_ms)
    r = R_DEFAULT - id_ - ie_eff
    return MosEstimate(r=r, mos=r_to_mos(r), ie_eff=ie_eff, id=id_, loss_pct=ppl,
                       burst_ratio=burst_ratio, delay_ms=delay_ms, codec=codec)


def burst_ratio(lost: int, loss_events: int, packets: int) -> float:
    """G.107 Annex A BurstR = 1 / (p + q) from a stream's loss runs; 1 without loss."""
    if lost <= 0 or loss_events <= 0 or packets <= 0:
        return 1.0
    p = loss_events / packets
    q = min(loss_events / lost, 1.0)
    return max(1.0 / (p + q), 1.0) if p + q > 0 else 1.0


def stream_mos(stream: RtpStream) -> MosEstimate | None:
    """The estimate for one observed stream (see the module docstring for each input)."""
    codec = next((name.strip() for name in stream.codec.split(",")
                  if codec_impairment(name.strip()) is not None), None)
    if codec is None or stream.expected <= 0:
        return None
    lost = max(stream.lost, 0)
    loss_pct = 100.0 * (lost + stream.late_packets) / stream.expected
    delay = JITTER_BUFFER_MS + stream.mean_delta_ms
    if stream.rtcp is not None and stream.rtcp.rtt_ms is not None:
        delay += stream.rtcp.rtt_ms / 2
    return estimate_mos(codec, loss_pct, delay_ms=delay,
                        burst_ratio=burst_ratio(lost, stream.loss_events, stream.packets))
