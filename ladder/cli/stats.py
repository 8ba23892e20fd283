"""``ladder stats FILE [--json]``: counts for the whole capture.

Every frame is counted once in ``frame_classes`` and the classes add up to ``frames``. On a
terminal a long read shows progress on stderr; with ``--json`` or a non-terminal stderr only
the result is written (to stdout). File-level problems are one line each on stderr.
"""

from __future__ import annotations

import argparse
import sys

from ladder.capture.loader import Capture
from ladder.cli.arguments import add_capture_arguments, load_capture_from_args
from ladder.capture.progress import terminal_meter
from ladder.textsafe import clip, json_text, safe_lines, safe_text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="counts for the whole capture (SIP messages, Call-IDs, RTP, diagnostics)",
        description="Count SIP messages, Call-IDs, RTP/RTCP packets and streams, and every frame by class.",
    )
    add_capture_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-media", action="store_true", help="skip RTP/RTCP analysis (faster)")
    parser.set_defaults(func=run)


def compute_stats(capture: Capture) -> dict:
    """The figures ``ladder stats`` prints, as a JSON-ready dict."""
    index = capture.sip_index
    duration = 0.0
    if capture.first_ts_ns is not None and capture.last_ts_ns is not None:
        duration = (capture.last_ts_ns - capture.first_ts_ns) / 1e9
    return {
        "file": capture.path,
        "engine": capture.engine,
        "file_size": capture.file_size,
        "frames": capture.frames,
        "duration_s": round(duration, 6),
        "sip_messages": len(index),
        "sip_requests": index.requests(),
        "sip_responses": index.responses(),
        "call_ids": index.call_id_count(),
        "rtp_packets": capture.frame_classes.get("rtp", 0),
        "rtp_streams": len(capture.streams),
        "rtcp_packets": capture.rtcp_packets,
        "diagnostics": capture.diagnostics,
        "frame_classes": capture.frame_classes,
        "link_types": {str(key): value for key, value in sorted(capture.link_types.items())},
        "errors": capture.errors,
    }


def format_stats(stats: dict) -> str:
    """The human form: aligned ``name: value`` lines, then the breakdowns."""
    lines = [
        f"file:          {safe_text(stats['file'])}",
        f"frames:        {stats['frames']:,} ({stats['duration_s']:.3f} s)",
        f"SIP messages:  {stats['sip_messages']:,} "
        f"({sum(stats['sip_requests'].values()):,} requests, {sum(stats['sip_responses'].values()):,} responses)",
        f"Call-IDs:      {stats['call_ids']:,}",
        f"RTP:           {stats['rtp_packets']:,} packets in {stats['rtp_streams']:,} streams",
        f"RTCP:          {stats['rtcp_packets']:,} packets",
    ]
    for title, key in (("requests", "sip_requests"), ("responses", "sip_responses")):
        if stats[key]:
            lines.append(f"{title + ':':<15}" + ", ".join(f"{clip(name)} {count}" for name, count in stats[key].items()))
    lines.append("frame classes: " + ", ".join(f"{name} {count:,}" for name, count in stats["frame_classes"].items()))
    if stats["diagnostics"]:
        lines.append("diagnostics:   " + ", ".join(f"{clip(name)} {count:,}" for name, count in stats["diagnostics"].items()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    meter = None if args.json else terminal_meter()
    # Counts need no parsed message: the first pass's compact records are enough.
    capture = load_capture_from_args(args, media=not args.no_media, progress=meter, messages=False)
    stats = compute_stats(capture)
    if args.json:
        sys.stdout.write(json_text(stats, indent=2, ensure_ascii=True) + "\n")
    else:
        print(safe_lines(format_stats(stats)))
    return 0
