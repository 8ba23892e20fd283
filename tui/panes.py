"""Tables and texts for the RTP streams, diagnostics and deviations panes, and the heading of
a message (the detail pane and the raw view both start each message with it).

They show what ``ladder.media.streams``, the capture's diagnostics and ``ladder.check.call_check`` computed;
nothing here recomputes a statistic.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol, TYPE_CHECKING

from rich.text import Text
from textual.widgets import DataTable

from ladder.draw.diagram import Arrow, Ladder, arrow_label
from tui.safe_text import clean, safe_rich_text

if TYPE_CHECKING:
    from ladder.media.streams import RtpStream, StreamKey

STREAM_COLUMNS = (
    ("call", "Call"), ("ssrc", "SSRC"), ("src", "Source"), ("dst", "Destination"), ("codec", "Codec"),
    ("packets", "Pkts"), ("lost", "Lost"), ("loss", "Loss %"), ("max_delta", "Max Δ ms"),
    ("max_jitter", "Max jitter ms"), ("mean_jitter", "Mean jitter ms"), ("mos", "MOS"),
    ("problems", "Problems"),
)


class ListedCapture(Protocol):
    """What the call list's status line and diagnostics tab read of what was loaded: a capture
    (``Capture``) or a whole archive index (``tui.index_app.IndexSummary``)."""

    @property
    def file_size(self) -> int: ...
    @property
    def frames(self) -> int: ...
    @property
    def streams(self) -> list[RtpStream]: ...
    @property
    def diagnostics(self) -> dict[str, int]: ...
    @property
    def diagnostic_list(self) -> list[Any]: ...
    @property
    def errors(self) -> list[str]: ...


def _number(value: Any, digits: int = 2) -> Text:
    if value is None:
        return Text("-", justify="right")
    if isinstance(value, float):
        return Text(f"{value:.{digits}f}", justify="right")
    return Text(f"{value:,}", justify="right")


def stream_figures(stream: "RtpStream", problems: tuple[str, ...] = ()) -> dict[str, Any]:
    """The figures of one ``ladder.media.streams.RtpStream`` that the panes show."""
    return {
        "ssrc": stream.ssrc_hex,
        "src": stream.src.address(),
        "dst": stream.dst.address(),
        "codec": clean(str(stream.codec or "")),
        "packets": stream.packets,
        "lost": stream.lost,
        "loss": float(stream.lost_pct),
        "max_delta": float(stream.max_delta_ms),
        "max_jitter": float(stream.max_jitter_ms),
        "mean_jitter": float(stream.mean_jitter_ms),
        "mos": stream_mos(stream),
        "problems": problems,
    }


def stream_mos(stream: "RtpStream") -> float | None:
    """The E-model MOS estimate of ``ladder.media.mos`` (None for codecs it has no figures for)."""
    from ladder.media.mos import stream_mos as _stream_mos

    estimate = _stream_mos(stream)
    return None if estimate is None else float(estimate.mos)


def stream_cells(stream: "RtpStream", problems: tuple[str, ...] = (), call: int | None = None) -> list[Any]:
    f = stream_figures(stream, problems)
    listed = ", ".join(clean(str(p)) for p in f["problems"])
    return [
        Text("-" if call is None else str(call), justify="right"),
        Text(f["ssrc"]), safe_rich_text(f["src"]), safe_rich_text(f["dst"]), safe_rich_text(f["codec"]),
        _number(f["packets"]), _number(f["lost"]), _number(f["loss"]), _number(f["max_delta"]),
        _number(f["max_jitter"]), _number(f["mean_jitter"]), _number(f["mos"]),
        Text(listed or "-", style="bold red" if listed else ""),
    ]


def fill_streams_table(table: DataTable, streams: Iterable["RtpStream"],
                       problems: "dict[StreamKey, tuple[str, ...]] | None" = None,
                       calls: "dict[StreamKey, int] | None" = None) -> None:
    """One row per stream; ``problems`` maps ``RtpStream.key`` to its media problem codes and
    ``calls`` to the number of the call it belongs to."""
    table.clear(columns=True)
    for key, label in STREAM_COLUMNS:
        table.add_column(label, key=key)
    problems = problems or {}
    calls = calls or {}
    for number, stream in enumerate(streams):
        table.add_row(*stream_cells(stream, problems.get(stream.key, ()), calls.get(stream.key)),
                      key=str(number))


def stream_detail(stream: "RtpStream", problems: tuple[str, ...] = ()) -> Text:
    """A media bar's stream, for the detail pane: every figure on its own line."""
    f = stream_figures(stream, problems)
    out = Text()
    out.append(f"RTP stream {f['ssrc']}\n", style="bold blue")
    out.append(f"{f['src']} → {f['dst']}   found by {clean(str(stream.found_by))}\n")
    rows = (
        ("Codec", f"{f['codec']} (PT {', '.join(str(p) for p in stream.payload_types)}, {stream.clock_rate} Hz)"),
        ("Packets", f"{stream.packets:,} of {stream.expected:,} expected"),
        ("Lost", f"{stream.lost:,} ({stream.lost_pct:.2f} %)"),
        ("Duplicates", f"{stream.duplicates:,}"),
        ("Sequence errors", f"{stream.sequence_errors:,} ({stream.out_of_order:,} out of order)"),
        ("Delta (ms)", f"min {stream.min_delta_ms:.2f}  mean {stream.mean_delta_ms:.2f}  "
                       f"max {stream.max_delta_ms:.2f} (frame {stream.max_delta_frame})"),
        ("Jitter (ms)", f"mean {stream.mean_jitter_ms:.2f}  max {stream.max_jitter_ms:.2f}"),
        ("Duration", f"{stream.duration_ns / 1e9:.3f} s, frames {stream.first_frame}–{stream.last_frame}"),
        ("Bit rate", f"{stream.bitrate_kbps:.1f} kbit/s"),
        ("Markers", f"{stream.markers:,}  timestamp jumps {stream.timestamp_jumps:,}"),
        ("MOS (estimate)", "-" if f["mos"] is None else f"{f['mos']:.2f}"),
    )
    for label, value in rows:
        out.append(f"{label:<17}", style="bold")
        out.append(clean(value) + "\n")
    if stream.dtmf:
        out.append(f"{'DTMF':<17}", style="bold")
        out.append(" ".join(clean(d.digit) for d in stream.dtmf) + "\n")
    rtcp = stream.rtcp
    if rtcp is not None:
        out.append(f"{'RTCP':<17}", style="bold")
        parts = [f"{rtcp.sender_reports} SR, {rtcp.receiver_reports} RR"]
        if rtcp.fraction_lost_pct is not None:
            parts.append(f"fraction lost {rtcp.fraction_lost_pct:.1f} %")
        if rtcp.jitter_ms is not None:
            parts.append(f"jitter {rtcp.jitter_ms:.2f} ms")
        if rtcp.rtt_ms is not None:
            parts.append(f"RTT {rtcp.rtt_ms:.1f} ms")
        out.append(", ".join(parts) + "\n")
    if problems:
        out.append(f"{'Problems':<17}", style="bold")
        out.append(", ".join(clean(str(p)) for p in problems) + "\n", style="bold red")
    return out


def fill_diagnostics_table(table: DataTable, capture: "ListedCapture") -> None:
    """Counts per reason, then the kept examples (frame number and why)."""
    table.clear(columns=True)
    table.add_column("Reason", key="reason")
    table.add_column("Count", key="count")
    table.add_column("Frame", key="frame")
    table.add_column("Detail", key="detail")
    for reason, count in sorted(capture.diagnostics.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(safe_rich_text(reason, "bold"), _number(count), Text(""), Text("total for this reason", style="dim"))
    for number, diagnostic in enumerate(capture.diagnostic_list):
        table.add_row(safe_rich_text(diagnostic.reason), Text(""), _number(diagnostic.frame),
                      safe_rich_text(diagnostic.detail), key=f"example-{number}")


def arrow_heading(ladder: Ladder, arrow: Arrow) -> Text:
    """The first lines about a message: its label, time, frames, addresses, marks."""
    out = Text()
    out.append(clean(arrow_label(arrow, sdp=True)), style="bold yellow" if arrow.retransmission else "bold")
    if arrow.copies:
        out.append(f"  (capture copies in frames {', '.join(map(str, arrow.copies))})")
    out.append("\n")
    seconds = (arrow.ts_ns - ladder.t0_ns) / 1e9
    out.append(f"time +{seconds:.3f} s")
    if arrow.frames:
        frames = ", ".join(str(f) for f in arrow.frames)
        out.append(f"   frame{'s' if len(arrow.frames) > 1 else ''} {frames}")
    out.append("\n")
    src = ladder.participants[arrow.src].name if arrow.src < len(ladder.participants) else "?"
    dst = ladder.participants[arrow.dst].name if arrow.dst < len(ladder.participants) else "?"
    message = arrow.message
    if message is not None and message.src is not None and message.dst is not None:
        out.append(f"{clean(src)} ({message.src}) → {clean(dst)} ({message.dst})\n")
    else:
        out.append(f"{clean(src)} → {clean(dst)}\n")
    for mark in arrow.marks:
        out.append(f"! {clean(mark)}\n", style="bold red")
    return out
