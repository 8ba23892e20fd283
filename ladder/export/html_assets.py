"""The fixed parts of the HTML report: its style sheet and its one script.

Nothing here comes from a capture. The script reads capture data only from DOM text the
server already escaped (cloning nodes) and from the ``application/json`` block (JSON.parse),
and writes with ``textContent``: it never parses capture text as HTML.
"""

from __future__ import annotations

CSS = """
:root { --fg:#1d2330; --muted:#5b6473; --line:#c9ced8; --accent:#1f5fbf; --bad:#b3261e;
        --warn:#9a5b00; --info:#3c6e47; --bg:#ffffff; --panel:#f4f6fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; padding: 16px 24px 48px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
a { color: var(--accent); }
.muted { color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 6px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
.ladder-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg.ladder { display: block; font: 12px ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
svg.ladder .lifeline { stroke: #9aa3b2; stroke-width: 1; }
svg.ladder .pname { font-weight: 600; font-size: 13px; }
svg.ladder .pend { fill: var(--muted); font-size: 11px; }
svg.ladder .time { fill: var(--muted); font-size: 11px; }
svg.ladder .sip line, svg.ladder .sip path { stroke: #26324a; stroke-width: 1.4; fill: none; }
svg.ladder .sip.response line, svg.ladder .sip.response path { stroke: #3b6fb6; }
svg.ladder .sip.retransmission line { stroke-dasharray: 5 3; }
svg.ladder .sip text.label { fill: #1d2330; }
svg.ladder .sip.flagged text.label { fill: var(--bad); font-weight: 600; }
svg.ladder .sip.flagged line, svg.ladder .sip.flagged path { stroke: var(--bad); }
svg.ladder text.marks { fill: var(--bad); font-size: 11px; }
svg.ladder .sip.flagged.sev-warning text.label, svg.ladder .flagged.sev-warning text.marks { fill: var(--warn); }
svg.ladder .sip.flagged.sev-warning line, svg.ladder .sip.flagged.sev-warning path { stroke: var(--warn); }
svg.ladder .sip.flagged.sev-info text.label, svg.ladder .flagged.sev-info text.marks { fill: var(--info); }
svg.ladder .sip.flagged.sev-info line, svg.ladder .sip.flagged.sev-info path { stroke: var(--info); }
svg.ladder a.arrow { cursor: pointer; }
svg.ladder a.arrow:hover text.label, svg.ladder a.arrow:focus text.label { text-decoration: underline; }
svg.ladder a.arrow.selected rect.hit { fill: #fff3c4; }
svg.ladder rect.hit { fill: transparent; }
svg.ladder .media line { stroke: #2f8f46; stroke-width: 3; }
svg.ladder .media text { fill: #2f6f3a; font-size: 11px; }
svg.ladder .media.flagged line { stroke: #c77700; }
.panel { position: sticky; bottom: 0; max-height: 45vh; overflow: auto; background: var(--panel);
         border: 1px solid var(--line); border-radius: 6px; margin: 10px 0; padding: 8px 12px;
         box-shadow: 0 -2px 8px rgba(0,0,0,.08); }
.panel-head { display: flex; justify-content: space-between; align-items: center; gap: 12px; }
.panel-title { font-weight: 600; }
pre.sip { white-space: pre-wrap; word-break: break-all; font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", Menlo, monospace;
          background: #fff; border: 1px solid var(--line); padding: 6px 8px; margin: 4px 0; }
section.message h4 { margin: 10px 0 2px; font-size: 13px; }
ul.deviations { padding-left: 18px; }
ul.deviations li { margin: 2px 0; }
.sev { display: inline-block; min-width: 58px; font-size: 11px; font-weight: 700; text-transform: uppercase; }
.sev.error { color: var(--bad); } .sev.warning { color: var(--warn); } .sev.info { color: var(--info); }
code.code { font-weight: 600; }
.chart { width: 100%; max-width: 1100px; height: 300px; margin: 6px 0 14px; }
.nochart { color: var(--muted); font-style: italic; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  .panel, .noprint, button { display: none !important; }
  .ladder-wrap { overflow: visible; border: none; }
  svg.ladder { max-width: 100%; height: auto; }
  section.call { break-before: page; }
  section.call:first-of-type { break-before: auto; }
  .ladder-wrap, table, .chart, section.message { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

# Behaviour: a click on an arrow or an F-link shows that message in the call's panel. The
# message sections are server-escaped DOM; they are cloned, never re-parsed from text.
SCRIPT = r"""
(function () {
  "use strict";
  function showMessage(targetId) {
    var section = document.getElementById(targetId);
    if (!section) { return false; }
    var callEl = section.closest("section.call");
    if (!callEl) { return false; }
    var panel = callEl.querySelector(".panel");
    var title = panel.querySelector(".panel-title");
    var body = panel.querySelector(".panel-body");
    var heading = section.querySelector("h4");
    title.textContent = heading ? heading.textContent : targetId;
    var copy = section.cloneNode(true);
    copy.removeAttribute("id");
    var innerHeading = copy.querySelector("h4");
    if (innerHeading) { innerHeading.remove(); }
    body.replaceChildren(copy);
    panel.hidden = false;
    callEl.querySelectorAll("a.arrow.selected").forEach(function (el) { el.classList.remove("selected"); });
    callEl.querySelectorAll('a.arrow[data-target="' + targetId + '"]').forEach(function (el) {
      el.classList.add("selected");
    });
    return true;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-target]");
    if (link) {
      if (showMessage(link.getAttribute("data-target"))) { event.preventDefault(); }
      return;
    }
    var close = event.target.closest(".panel-close");
    if (close) { close.closest(".panel").hidden = true; }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    var link = event.target.closest && event.target.closest("[data-target]");
    if (link && showMessage(link.getAttribute("data-target"))) { event.preventDefault(); }
  });
  // Printing: every message list opens, so the paper copy holds the messages too.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.messages").forEach(function (d) { d.open = true; });
  });

  var dataEl = document.getElementById("report-data");
  var data = dataEl ? JSON.parse(dataEl.textContent) : { charts: [] };
  if (typeof Plotly === "undefined") { return; }
  data.charts.forEach(function (chart) {
    var el = document.getElementById(chart.id);
    if (!el) { return; }
    var traces = [
      // Markers too: a bucket alone between two silences (a talk spurt's first packet) has no
      // line to a neighbour, and would otherwise not be drawn at all.
      { x: chart.t, y: chart.jitter, name: "jitter (ms, max per bucket)", mode: "lines+markers",
        connectgaps: false, line: { color: "#1f5fbf", width: 1.5 }, marker: { size: 3 } },
      { x: chart.t, y: chart.delta, name: "delta (ms, max per bucket)", mode: "lines+markers",
        connectgaps: false, line: { color: "#8a8f99", width: 1 }, marker: { size: 3 } }
    ];
    var layout = {
      title: { text: chart.title, font: { size: 13 } },
      margin: { l: 56, r: 56, t: 36, b: 76 },
      xaxis: { title: { text: "seconds since the capture's time base" } },
      yaxis: { title: { text: "ms" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.42 },
      bargap: 0
    };
    // The loss axis only when something was lost: no empty axis.
    if (chart.loss.length) {
      traces.push({ x: chart.loss_t, y: chart.loss, name: "lost packets", type: "bar", yaxis: "y2",
                    marker: { color: "#b3261e" } });
      layout.yaxis2 = { title: { text: "lost" }, overlaying: "y", side: "right", rangemode: "tozero",
                        showgrid: false };
    }
    Plotly.newPlot(el, traces, layout, { displayModeBar: false, responsive: true });
  });
})();
"""
