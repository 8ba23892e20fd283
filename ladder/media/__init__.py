"""RTP media: per-stream accumulators, chart series, MOS, SDP-to-stream binding."""
