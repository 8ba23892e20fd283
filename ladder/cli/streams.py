"""``ladder streams FILE [--call N] [--json]``: RTP streams with Wireshark-style figures, MOS,
the call each belongs to and its media problems."""

from __future__ import annotations


from ladder.cli.arguments import add_capture_arguments, load_capture_from_args, say_no_calls
from ladder.errors import UsageError
from ladder.media.streams import RtpStream
from ladder.textsafe import clip, json_text, safe_text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "streams", help="list the RTP streams with loss, jitter, delta and MOS",
        description="One row per RTP stream (src, dst, SSRC): codec, packets, lost, jitter, "
                    "delta and an E-model MOS estimate, bound to its call by SDP.",
    )
    add_capture_arguments(parser)
    parser.add_argument("--call", metavar="N", help="only the streams of call N (index or Call-ID)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def stream_dict(stream: RtpStream, call: str | None, problems: list[str], mos) -> dict:
    rtcp = stream.rtcp
    xr = rtcp.voip_metrics if rtcp is not None else None
    return {
        "ssrc": stream.ssrc,
        "ssrc_hex": stream.ssrc_hex,
        "src": stream.src.address(),
        "dst": stream.dst.address(),
        "codec": stream.codec,
        "payload_types": list(stream.payload_types),
        "clock_rate": stream.clock_rate,
        "packets": stream.packets,
        "expected": stream.expected,
        "lost": stream.lost,
        "lost_pct": _r(stream.lost_pct),
        "duplicates": stream.duplicates,
        "out_of_order": stream.out_of_order,
        "sequence_errors": stream.sequence_errors,
        "seq_wraps": stream.seq_wraps,
        "ssrc_changes": stream.ssrc_changes,
        "markers": stream.markers,
        "timestamp_jumps": stream.timestamp_jumps,
        "late_packets": stream.late_packets,
        "min_delta_ms": _r(stream.min_delta_ms),
        "mean_delta_ms": _r(stream.mean_delta_ms),
        "max_delta_ms": _r(stream.max_delta_ms),
        "max_delta_frame": stream.max_delta_frame,
        "min_jitter_ms": _r(stream.min_jitter_ms),
        "mean_jitter_ms": _r(stream.mean_jitter_ms),
        "max_jitter_ms": _r(stream.max_jitter_ms),
        "first_ns": stream.first_ns,
        "last_ns": stream.last_ns,
        "first_frame": stream.first_frame,
        "last_frame": stream.last_frame,
        "duration_s": round(stream.duration_ns / 1e9, 6),
        "bitrate_kbps": _r(stream.bitrate_kbps),
        "mos": _r(mos.mos, 2) if mos is not None else None,
        "r_factor": _r(mos.r, 1) if mos is not None else None,
        "dtmf": [{"digit": d.digit, "ts_ns": d.ts_ns, "frame": d.frame,
                  "duration_ms": _r(d.duration_ms, 1)} for d in stream.dtmf],
        "rtcp": None if rtcp is None else {
            "sender_reports": rtcp.sender_reports, "receiver_reports": rtcp.receiver_reports,
            "fraction_lost_pct": _r(rtcp.fraction_lost_pct), "cumulative_lost": rtcp.cumulative_lost,
            "jitter_ms": _r(rtcp.jitter_ms), "rtt_ms": _r(rtcp.rtt_ms), "cname": rtcp.cname,
            "xr": None if xr is None else {
                "loss_rate_pct": _r(xr.loss_rate * 100 / 256), "discard_rate_pct": _r(xr.discard_rate * 100 / 256),
                "round_trip_ms": xr.round_trip_delay, "end_system_delay_ms": xr.end_system_delay,
                "r_factor": xr.r_factor, "mos_lq": xr.mos_lq, "mos_cq": xr.mos_cq},
        },
        "found_by": stream.found_by,
        "call": call,
        "problems": problems,
    }


def collect(capture, call_selector: str | None) -> list[dict]:
    """The streams as dicts, bound to calls, optionally only those of one call."""
    from ladder.analysis import analyse
    from ladder.calls.grouping import find_call
    from ladder.media.mos import stream_mos

    analysis = analyse(capture)
    calls = analysis.calls
    if not capture.streams:  # RTP without SIP is what ``streams`` is for: no word then
        say_no_calls(calls)
    bindings = analysis.media_index.by_stream
    problems = analysis.media_index.stream_problem_codes()
    selected = None
    if call_selector is not None:
        selected = find_call(calls, call_selector)
        if selected is None:
            raise UsageError(f"no call {call_selector!r} in {capture.path} ({len(calls)} calls)")
    rows = []
    for stream in capture.streams:
        binding = bindings.get(stream.key)
        call_id = binding.call_id if binding is not None else None
        if selected is not None and call_id != selected.id:
            continue
        codes = list(problems.get(stream.key, ()))
        rows.append(stream_dict(stream, call_id, codes, stream_mos(stream)))
    return rows


def _fmt(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: list[dict]) -> str:
    header = ("src", "dst", "ssrc", "codec", "pkts", "lost", "max delta", "max jit", "mean jit", "mos", "call", "problems")
    table = [header]
    for row in rows:
        table.append((
            row["src"], row["dst"], row["ssrc_hex"], clip(row["codec"]), str(row["packets"]),
            f"{row['lost']} ({row['lost_pct']:.1f}%)", _fmt(row["max_delta_ms"]), _fmt(row["max_jitter_ms"], 2),
            _fmt(row["mean_jitter_ms"], 2), _fmt(row["mos"], 2), clip(row["call"] or "-"),
            ",".join(row["problems"]) or "-",
        ))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    numeric = {4, 5, 6, 7, 8, 9}
    lines = ["  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in table]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    capture = load_capture_from_args(args)
    rows = collect(capture, args.call)
    if args.json:
        print(json_text({"streams": rows}, indent=2))
    else:
        print(format_table(rows) if rows else "no RTP streams\n", end="")
    return 0
