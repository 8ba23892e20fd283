"""The self-contained HTML report (``ladder export --html``): a capture summary, the call list,
and per call its ladder (SVG, F-numbered arrows that open the message and its SDP), its
deviations (listed and marked on their arrows), timings, RTP streams and plotly charts.

Works offline: no external URL; plotly.js is embedded once; a Content-Security-Policy meta tag
allows only our own nonce-carrying scripts, inline styles and data: images. Everything that
came from the capture is escaped with ``html.escape``; the chart data sits in a
``<script type="application/json">`` block with ``</`` written ``<\\/`` and U+2028/2029
escaped, and the page's script writes with ``textContent`` only (see ``ladder.export.html_assets``).
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ladder.export import html_assets
from ladder.calls.timings import CallTimings, call_timings
from ladder.draw.diagram import MEDIA, Arrow, Ladder, arrow_label
from ladder.textsafe import safe_text

if TYPE_CHECKING:
    from ladder.draw.aliases import AliasMap
    from decoders.sip import SipMessage
    from ladder.calls.grouping import Call
    from ladder.capture.loader import Capture
    from ladder.analysis import Analysis
    from ladder.check.deviations import Deviation
    from ladder.media.streams import RtpStream

COLUMN_MIN = 170
ROW = 42
HEAD = 56
TIME_GUTTER = 78
CHAR_PX = 7.3  # monospace 12px, for sizing columns to their labels
_NO_MARKUP = str.maketrans({"<": "\u2039", ">": "\u203a", "&": "+"})


# A group's kind (ladder.calls.grouping) as a noun, singular and plural.
KIND_NOUNS = {"call": ("call", "calls"), "registration": ("registration", "registrations"),
              "options": ("OPTIONS exchange", "OPTIONS exchanges"),
              "subscription": ("subscription", "subscriptions"), "message": ("MESSAGE exchange", "MESSAGE exchanges"),
              "other": ("other exchange", "other exchanges")}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 call``, ``2 calls``, ``0 calls``."""
    return f"{count:,} {singular if count == 1 else (plural_form or singular + 's')}"


def esc(value: object) -> str:
    """Text from a capture, escaped for HTML text and quoted attributes."""
    return html.escape(safe_text(value), quote=True)


def esc_block(value: str) -> str:
    """A multi-line text (a whole SIP message): line breaks kept, other controls dropped."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(html.escape(safe_text(line), quote=True) for line in lines)


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</``, no ``<!--``, and the
    two line separators JavaScript once treated as line ends."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("</", "<\\/").replace("<!--", "\\u003c!--")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --- facts shown beside the ladder ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallReport:
    call: "Call"
    ladder: Ladder
    deviations: tuple[Deviation, ...]
    verdict: str
    streams: tuple[tuple[RtpStream, tuple[str, ...]], ...]  # (stream, problem codes)
    timings: CallTimings


def build_reports(capture: "Capture", calls: list["Call"], *, all_calls: list["Call"] | None = None,
                  analysis: "Analysis | None" = None, media: bool = True, check: bool = True,
                  aliases: "AliasMap | None" = None) -> list[CallReport]:
    """Everything the page shows per call, from the capture's one analysis (calls, media
    bound once, checks); made here from ``all_calls`` when the caller has none."""
    if analysis is None:
        from ladder.analysis import Analysis
        from ladder.media.binding import MediaIndex

        every = all_calls or calls
        streams = list(getattr(capture, "streams", None) or []) if media else []
        analysis = Analysis(capture, every, MediaIndex.build(every, streams), media)
    problems = analysis.media_index.stream_problem_codes()
    references = None
    if check:
        from ladder.check.references import load_references

        references = load_references()
    reports = []
    settings = None  # the rules' view of the capture (its end, its breaks), made once
    for call in calls:
        ladder = analysis.ladder(call, aliases=aliases)
        deviations: tuple[Deviation, ...] = ()
        verdict = ""
        if references is not None:
            from ladder.check.call_check import annotate_ladder, capture_settings, verdict_line

            settings = settings or capture_settings(capture)
            result = analysis.check(call, references, ladder=ladder, settings=settings)
            ladder = annotate_ladder(ladder, result)
            deviations = tuple(result.deviations)
            verdict = verdict_line(result)
        mine = tuple((b.stream, problems.get(b.stream.key, ())) for b in analysis.media_index.of(call.id))
        reports.append(CallReport(call, ladder, deviations, verdict, mine, call_timings(call)))
    return reports


# --- drawing ----------------------------------------------------------------------------------------


def _ms(ns: int | None) -> str:
    return "—" if ns is None else f"{ns / 1e6:,.0f} ms" if ns < 10_000_000_000 else f"{ns / 1e9:,.3f} s"


def _utc(ns: int | None) -> str:
    if ns is None:
        return "—"
    moment = datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _arrow_text(arrow: Arrow) -> str:
    return safe_text(arrow_label(arrow, sdp=True))


SEVERITY_ORDER = ("info", "warning", "error")


def _rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 1


def _worst(marks: tuple[str, ...], severities: dict[str, str]) -> str:
    """The arrow's colour: its worst mark's severity (a media problem, which is not a
    deviation of the check, counts as a warning)."""
    return max((severities.get(mark, "warning") for mark in marks), key=_rank)


def render_ladder_svg(ladder: Ladder, prefix: str, severities: dict[str, str] | None = None) -> str:
    """The ladder as SVG: a lifeline per participant, one row per arrow, F-numbered SIP arrows
    that link to ``#{prefix}-f{n}`` (the message), media bars as thick green lines. Marked
    arrows are coloured by their worst finding's severity (``severities``: code -> severity)."""
    severities = severities or {}
    count = max(1, len(ladder.participants))
    longest = max([len(_arrow_text(a)) for a in ladder.arrows if a.kind != MEDIA]
                  + [len(safe_text(a.label)) for a in ladder.arrows if a.kind == MEDIA]
                  + [len(safe_text(p.name)) for p in ladder.participants] + [10])
    column = max(COLUMN_MIN, int(longest * CHAR_PX) + 40)
    width = TIME_GUTTER + column * count
    height = HEAD + ROW * (len(ladder.arrows) + 1)
    xs = [TIME_GUTTER + column * i + column // 2 for i in range(count)]
    out = [f'<svg class="ladder" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(ladder.title)}">',
           '<defs><marker id="{0}-head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
           'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/>'
           '</marker></defs>'.format(prefix)]
    out.append(f'<text class="time" x="8" y="{HEAD - 12}">time (s)</text>')
    for x, participant in zip(xs, ladder.participants):
        out.append(f'<text class="pname" x="{x}" y="18" text-anchor="middle">{esc(participant.name)}</text>')
        ends = ", ".join(e.address() for e in participant.endpoints[:2])
        if len(participant.endpoints) > 2:
            ends += f" +{len(participant.endpoints) - 2}"
        out.append(f'<text class="pend" x="{x}" y="34" text-anchor="middle">{esc(ends)}</text>')
        out.append(f'<line class="lifeline" x1="{x}" y1="{HEAD - 8}" x2="{x}" y2="{height - 8}"/>')
    marker = f'url(#{prefix}-head)'
    for row, arrow in enumerate(ladder.arrows):
        y = HEAD + ROW * row + 26
        x1, x2 = xs[min(arrow.src, count - 1)], xs[min(arrow.dst, count - 1)]
        seconds = (arrow.ts_ns - ladder.t0_ns) / 1e9
        out.append(f'<text class="time" x="8" y="{y + 4}">{seconds:.3f}</text>')
        flagged = f" flagged sev-{_worst(arrow.marks, severities)}" if arrow.marks else ""
        marks = (f'<text class="marks" x="{(x1 + x2) / 2:.0f}" y="{y + 14}" text-anchor="middle">'
                 f'\u26a0 {esc(", ".join(arrow.marks))}</text>') if arrow.marks else ""
        if arrow.kind == MEDIA:
            start = f' marker-start="{marker}"' if arrow.both_ways else ""
            out.append(f'<g class="media{flagged}"><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" '
                       f'marker-end="{marker}"{start}/>'
                       f'<text x="{(x1 + x2) / 2:.0f}" y="{y - 6}" text-anchor="middle">{esc(arrow.label)}</text>'
                       f'{marks}</g>')
            continue
        target = f"{prefix}-f{arrow.f}"
        classes = f"sip {arrow.kind}{flagged}" + (" retransmission" if arrow.retransmission else "")
        left, right = min(x1, x2), max(x1, x2)
        if x1 == x2:  # a message a node sent to itself (or within one column): a small loop
            shape = (f'<path d="M{x1},{y - 8} h40 v16 h-40" marker-end="{marker}"/>')
            left, right = x1, x1 + 160
            label_x: float = x1 + 46
            anchor = "start"
        else:
            shape = f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" marker-end="{marker}"/>'
            label_x = (x1 + x2) / 2
            anchor = "middle"
        out.append(
            f'<a class="arrow" href="#{target}" data-target="{target}" data-f="{arrow.f}" tabindex="0">'
            f'<g class="{classes}"><rect class="hit" x="{left}" y="{y - 22}" width="{max(right - left, 40)}" '
            f'height="{ROW - 4}"/>{shape}'
            f'<text class="label" x="{label_x:.0f}" y="{y - 6}" text-anchor="{anchor}">{esc(_arrow_text(arrow))}</text>'
            f'{marks}</g></a>')
    out.append("</svg>")
    return "".join(out)


def _sdp_table(message: "SipMessage") -> str:
    sdp = message.sdp
    if sdp is None:
        return ""
    rows = []
    for media in sdp.media:
        codecs = ", ".join(media.codec_names()) if hasattr(media, "codec_names") else " ".join(media.formats)
        rows.append(f"<tr><td>{esc(media.kind)}</td><td>{esc(media.connection or sdp.connection or '')}:{media.port}"
                    f"</td><td>{esc(media.proto)}</td><td>{esc(codecs)}</td><td>{esc(media.direction)}</td></tr>")
    origin = f"{sdp.origin.address} (o= version {sdp.origin.version})" if sdp.origin else "—"
    return (f'<div class="sdp"><strong>SDP</strong> <span class="muted">origin {esc(origin)}</span>'
            '<table><tr><th>media</th><th>address:port</th><th>proto</th><th>codecs</th><th>direction</th></tr>'
            + "".join(rows) + "</table></div>")


def _message_sections(ladder: Ladder, prefix: str) -> str:
    parts = []
    for arrow in ladder.sip_arrows():
        message = arrow.message
        frames = ", ".join(str(f) for f in arrow.frames) or "—"
        route = ""
        if message is not None and message.src is not None and message.dst is not None:
            route = f"{message.src} → {message.dst}"
        seconds = (arrow.ts_ns - ladder.t0_ns) / 1e9
        heading = f"{_arrow_text(arrow)} — {seconds:.3f} s, frame {frames}, {route}"
        text = message.raw.decode("utf-8", "replace") if message is not None else ""
        marks = f'<p class="marks">deviations: {esc(", ".join(arrow.marks))}</p>' if arrow.marks else ""
        parts.append(f'<section class="message" id="{prefix}-f{arrow.f}"><h4>{esc(heading)}</h4>{marks}'
                     f'<pre class="sip">{esc_block(text)}</pre>{_sdp_table(message) if message is not None else ""}'
                     "</section>")
    return "".join(parts)


def _deviation_list(report: CallReport, prefix: str) -> str:
    if not report.deviations:
        none = "no deviations" if report.verdict else "not checked (ladder.check.call_check is not installed)"
        return f'<p class="muted">{esc(report.verdict)}{"; " if report.verdict else ""}{none}</p>'
    items = []
    for item in report.deviations:
        links = " ".join(f'<a href="#{prefix}-f{f}" data-target="{prefix}-f{f}">F{f}</a>' for f in item.f) or "—"
        items.append(f'<li><span class="sev {esc(item.severity)}">{esc(item.severity)}</span> {links} '
                     f'<code class="code">{esc(item.code)}</code>: {esc(item.message)}</li>')
    return f'<p class="muted">{esc(report.verdict)}</p><ul class="deviations">' + "".join(items) + "</ul>"


def _stream_rows(report: CallReport) -> str:
    from ladder.media.mos import stream_mos

    rows = []
    for stream, problems in report.streams:
        mos = stream_mos(stream)
        cname = stream.rtcp.cname if stream.rtcp is not None and stream.rtcp.cname else ""
        rows.append(
            f"<tr><td>{esc(stream.src.address())}</td><td>{esc(stream.dst.address())}</td>"
            f"<td>{esc(stream.ssrc_hex)}</td><td>{esc(stream.codec)}</td><td class=num>{stream.packets}</td>"
            f"<td class=num>{stream.lost} ({stream.lost_pct:.1f}%)</td><td class=num>{stream.max_delta_ms:.1f}</td>"
            f"<td class=num>{stream.max_jitter_ms:.2f}</td><td class=num>{stream.mean_jitter_ms:.2f}</td>"
            f"<td class=num>{'—' if mos is None else f'{mos.mos:.2f}'}</td><td>{esc(cname)}</td>"
            f"<td>{esc(', '.join(problems)) or '—'}</td></tr>")
    return ("<table class=streams><tr><th>source</th><th>destination</th><th>SSRC</th><th>codec</th><th>packets</th>"
            "<th>lost</th><th>max delta ms</th><th>max jitter ms</th><th>mean jitter ms</th><th>MOS</th>"
            "<th>RTCP CNAME</th><th>problems</th></tr>" + "".join(rows) + "</table>")


def _chart_data(report: CallReport, prefix: str, t0: int) -> list[dict]:
    """Per stream, the series the table's figures come from (``RtpStream.series``: the same
    packets count, marker-bit packets set no maximum), with a null where buckets are missing
    so that a silence is drawn as a gap, not as a ramp; the loss bars only where loss was."""
    charts = []
    for index, (stream, _problems) in enumerate(report.streams):
        points = stream.series
        if not points:
            continue
        width = getattr(points, "width_ns", 0)
        t: list[float | None] = []
        jitter: list[float | None] = []
        delta: list[float | None] = []
        previous = None
        for point in points:
            if previous is not None and width and point.ts_ns - previous > width:
                t.append(round((previous + width - t0) / 1e9, 4))  # the first empty bucket
                jitter.append(None)
                delta.append(None)
            t.append(round((point.ts_ns - t0) / 1e9, 4))
            jitter.append(round(point.max_jitter_ms, 3))
            delta.append(round(point.max_delta_ms, 3))
            previous = point.ts_ns
        losses = [(round((p.ts_ns - t0) / 1e9, 4), p.lost) for p in points if p.lost > 0]
        charts.append({
            "id": f"{prefix}-chart{index}",
            # plotly reads a few HTML tags in titles: none may come from the capture.
            "title": safe_text(f"{stream.src.address()} → {stream.dst.address()}  {stream.codec}  "
                               f"SSRC {stream.ssrc_hex}").translate(_NO_MARKUP),
            "t": t,
            "jitter": jitter,
            "delta": delta,
            "loss_t": [x for x, _ in losses],
            "loss": [n for _, n in losses],
        })
    return charts


def _call_section(report: CallReport, t0: int, charts_on: bool) -> tuple[str, list[dict]]:
    call, ladder = report.call, report.ladder
    prefix = f"c{call.index}"
    timings = report.timings
    facts = [("kind", call.kind), ("outcome", ladder.outcome_text or str(call.outcome)),
             ("Call-ID", ", ".join(call.call_ids)), ("start", _utc(call.start_ns)),
             ("messages", str(len(call.messages)))]
    if call.kind == "call":
        facts += [("first response", _ms(timings.first_response)),
                  ("post-dial delay", _ms(timings.post_dial_delay)),
                  ("setup time", _ms(timings.setup_time)), ("talk time", _ms(timings.talk_time))]
    fact_html = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    severities: dict[str, str] = {}
    for item in report.deviations:  # a code found at several severities takes the worst
        known = severities.get(item.code)
        if known is None or _rank(str(item.severity)) > _rank(known):
            severities[item.code] = str(item.severity)
    notes = "".join(f"<li>{esc(n)}</li>" for n in (*ladder.links, *ladder.notes))
    charts = _chart_data(report, prefix, t0) if charts_on else []
    chart_divs = "".join(f'<div class="chart" id="{c["id"]}"></div>' for c in charts)
    if report.streams and not charts_on:
        chart_divs = '<p class="nochart">charts need the plotly package</p>'
    media = (f"<h3>RTP streams</h3>{_stream_rows(report)}{chart_divs}" if report.streams
             else '<p class="muted">no RTP streams bound to this call</p>')
    body = (
        f'<section class="call" id="call-{call.index}"><h2>{esc(ladder.title)}</h2>'
        f'<dl class="facts">{fact_html}</dl>'
        f'<div class="ladder-wrap">{render_ladder_svg(ladder, prefix, severities)}</div>'
        f'<p class="muted noprint">Click an arrow or an F-number to see the whole message.</p>'
        f'<div class="panel" hidden><div class="panel-head"><span class="panel-title"></span>'
        f'<button type="button" class="panel-close">close</button></div><div class="panel-body"></div></div>'
        f'<h3>Deviations</h3>{_deviation_list(report, prefix)}'
        + (f'<h3>Notes</h3><ul class="notes">{notes}</ul>' if notes else "")
        + media
        + f'<details class="messages"><summary>{"All " if len(ladder.sip_arrows()) > 1 else ""}'
        f'{plural(len(ladder.sip_arrows()), "message")}</summary>'
        f'{_message_sections(ladder, prefix)}</details></section>'
    )
    return body, charts


def _summary(capture: "Capture", all_calls: list["Call"]) -> str:
    kinds: dict[str, int] = {}
    for call in all_calls:
        kinds[call.kind] = kinds.get(call.kind, 0) + 1
    first, last = capture.first_ts_ns, capture.last_ts_ns
    span = (last - first) if first is not None and last is not None else None
    facts = [
        ("file", os.path.basename(capture.path) or capture.path),
        ("size", f"{capture.file_size:,} bytes"), ("engine", capture.engine),
        ("frames", f"{capture.frames:,}"), ("first frame", _utc(first)), ("last frame", _utc(last)),
        ("span", "—" if span is None else f"{span / 1e9:,.3f} s"),
        ("SIP messages", f"{max(len(capture.sip_messages), len(capture.sip_index)):,}"),  # (kept, or indexed)
        ("calls", ", ".join(plural(n, *KIND_NOUNS.get(k, (k, k + "s"))) for k, n in kinds.items()) or "none"),
        ("RTP streams", f"{len(capture.streams)}"), ("RTCP packets", f"{capture.rtcp_packets:,}"),
    ]
    classes = ", ".join(f"{k} {v:,}" for k, v in capture.frame_classes.items())
    facts.append(("frame classes", classes or "—"))
    if capture.diagnostics:
        facts.append(("diagnostics", ", ".join(f"{k} {v:,}" for k, v in capture.diagnostics.items())))
    for problem in capture.errors:
        facts.append(("file problem", problem))
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>"


def _call_list(reports: list[CallReport]) -> str:
    rows = []
    for report in reports:
        call = report.call
        counts = len(report.deviations)
        rows.append(f'<tr><td class=num><a href="#call-{call.index}">{call.index}</a></td><td>{esc(_utc(call.start_ns))}</td>'
                    f"<td>{esc(call.caller)}</td><td>{esc(call.callee)}</td><td>{esc(call.kind)}</td>"
                    f"<td>{esc(str(call.outcome))}</td><td class=num>{len(call.messages)}</td>"
                    f"<td class=num>{counts}</td></tr>")
    return ("<h2>Calls</h2><table class=calls><tr><th>#</th><th>start</th><th>from</th><th>to</th><th>kind</th>"
            "<th>outcome</th><th>messages</th><th>deviations</th></tr>" + "".join(rows) + "</table>")


PLOTLY_BASIC = "plotly-basic.min.js"


def _plotly_js() -> str:
    """plotly.js's basic bundle (scatter and bar traces: all the charts use, 1.2 MB instead of
    the full bundle's 4.8 MB), shipped beside this module from the npm package
    plotly.js-basic-dist-min, the same plotly.js version as the plotly Python package's; that
    package's full bundle when the file is missing."""
    path = os.path.join(os.path.dirname(__file__), PLOTLY_BASIC)
    try:
        with open(path, encoding="utf-8") as handle:
            script = handle.read()
    except OSError:
        from plotly.offline import get_plotlyjs  # imported here: only the HTML report needs it

        script = get_plotlyjs()
    # A literal "</script" inside the library would end our script element early.
    return re.sub(r"</(script)", r"<\\/\1", script, flags=re.IGNORECASE)


def render_html(capture: "Capture", calls: list["Call"], *, all_calls: list["Call"] | None = None,
                analysis: "Analysis | None" = None, media: bool = True, check: bool = True,
                charts: bool = True, note: str = "", aliases: "AliasMap | None" = None) -> str:
    """The whole report as one HTML document. ``analysis`` (or ``all_calls``, every call of the
    capture) makes the media binding fair between calls; ``note`` is a line under the title
    (e.g. that the report is anonymised)."""
    all_calls = all_calls if all_calls is not None else calls
    reports = build_reports(capture, calls, all_calls=all_calls, analysis=analysis, media=media, check=check,
                            aliases=aliases)
    plotly_js = _plotly_js() if charts and any(r.streams for r in reports) else None
    t0 = getattr(capture, "time_base_ns", None) or capture.first_ts_ns or 0  # the ladders' time base
    sections, chart_data = [], []
    for report in reports:
        body, data = _call_section(report, t0, plotly_js is not None)
        sections.append(body)
        chart_data.extend(data)
    nonce = secrets.token_urlsafe(18)
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    title = f"pcapladder report: {os.path.basename(capture.path) or capture.path}"
    from ladder import __version__

    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(title)}</title><style>{html_assets.CSS}</style></head><body>",
        f"<header><h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(note)}</p>' if note else "",
        "</header><h2>Capture</h2>", _summary(capture, all_calls),
        _call_list(reports) if len(reports) > 1 else "",
        "".join(sections) if sections else '<p class="muted">No SIP calls in this capture.</p>',
        f'<footer>Generated by pcapladder {esc(__version__)}. F-numbers follow RFC 3665; frame numbers '
        "are Wireshark's.</footer>",
        f'<script type="application/json" id="report-data">{script_json({"charts": chart_data})}</script>',
    ]
    if plotly_js is not None:
        parts.append(f'<script nonce="{nonce}">{plotly_js}</script>')
    parts.append(f'<script nonce="{nonce}">{html_assets.SCRIPT}</script></body></html>\n')
    return "".join(parts)
