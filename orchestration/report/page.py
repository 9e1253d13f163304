"""The score report's HTML: one self-contained page that works offline.

Vega, Vega-Lite and vega-embed are inlined from vl-convert's JavaScript bundle (no CDN);
each chart's spec sits in a ``<script type="application/json">`` block whose ``<``, ``>``
and ``&`` are JSON-escaped, so no text from the data can close the block; everything
else from the data is HTML-escaped. A Content-Security-Policy forbids every network
request and every script but the page's own (Vega compiles its expressions with
``Function``, hence ``unsafe-eval``).

When the page has drawn its charts it sets ``data-report-state="done"`` on ``<body>``; a
chart that could not be drawn says so in its box and on the console (the browser test
reads both).
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any

from orchestration.report.charts import Chart
from orchestration.report.data import ReportData

#: The Vega-Lite version of the inlined bundle: the one Altair writes its specs for.
VEGA_LITE_VERSION = "6.4"

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'unsafe-inline'; img-src data:; font-src data:")

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a;
       margin: 0; background: #f5f6f8; }
header { background: #1f3b57; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 2px 0; opacity: .9; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr));
       gap: 18px; padding: 18px 28px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 14px 18px;
          overflow-x: auto; }
section h2 { margin: 0 0 4px; font-size: 16px; }
.caption { margin: 0 0 10px; color: #4a5560; }
.note { margin: 8px 0; padding: 10px 12px; background: #fff8e1; border-left: 4px solid #f2b600; }
.failed { color: #b00020; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e8eb; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1b7f3b; font-weight: 600; }
.fail { color: #b00020; font-weight: 600; }
ul.detail { margin: 4px 0 0 0; padding-left: 18px; color: #4a5560; }
footer { padding: 0 28px 24px; color: #4a5560; }
"""

SCRIPT = """
(function () {
  var boxes = Array.prototype.slice.call(document.querySelectorAll('[data-chart]'));
  var drawn = boxes.map(function (box) {
    var key = box.getAttribute('data-chart');
    var spec = JSON.parse(document.getElementById('spec-' + key).textContent);
    return vegaEmbed(box, spec, {actions: false, renderer: 'svg'}).then(function () {
      box.setAttribute('data-rendered', 'true');
    }).catch(function (error) {
      box.setAttribute('data-rendered', 'false');
      box.className += ' failed';
      box.textContent = 'This chart could not be drawn: ' + error;
      console.error('score report: chart ' + key + ' could not be drawn: ' + error);
    });
  });
  Promise.all(drawn).then(function () {
    document.body.setAttribute('data-report-state', 'done');
  });
})();
"""


@lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed (and their dependencies) as one script that sets
    ``window.vegaEmbed``; ``</script`` cannot occur in it unescaped."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE_VERSION)
    return bundle.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and the line separators
    JavaScript treats as newlines are written as ``\\u`` escapes."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str,
                      separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _chart_section(chart: Chart) -> tuple[str, str]:
    """The section's HTML and, for a drawn chart, its spec block."""
    parts = [f'<section id="{esc(chart.key)}"><h2>{esc(chart.title)}</h2>']
    if chart.caption:
        parts.append(f'<p class="caption">{esc(chart.caption)}</p>')
    spec_block = ""
    if chart.spec is None:
        parts.append(f'<p class="note" data-note="{esc(chart.key)}">{esc(chart.note)}</p>')
    else:
        parts.append(f'<div class="chart" data-chart="{esc(chart.key)}"></div>')
        spec_block = (f'<script type="application/json" id="spec-{esc(chart.key)}">'
                      f'{script_json(chart.spec)}</script>')
    parts.append("</section>")
    return "".join(parts), spec_block


def _quality_section(data: ReportData) -> str:
    parts = ['<section id="quality"><h2>Quality gates</h2>']
    summary = data.summary
    if summary is None:
        parts.append('<p class="note" data-note="quality">No run summary (run_summary.json) '
                     "in the serving folder: the quality gates' results are unknown.</p>")
        return "".join(parts) + "</section>"
    checks = summary.get("checks") or {}
    parts.append(f'<p class="caption">The checks of run {esc(summary.get("run_id"))} '
                 f'(as_of {esc(summary.get("as_of"))}), which published this scoring.</p>')
    parts.append("<table><tr><th>Gate</th><th>Result</th><th>Expectations met</th>"
                 "<th>Detail</th></tr>")
    for gate in checks.get("gx") or []:
        passed = bool(gate.get("passed"))
        details = ([f"{len(gate.get('warnings') or [])} warning(s)"]
                   + [f"not run: {reason}" for reason in gate.get("not_run") or []]
                   + [str(failure) for failure in gate.get("blocking_failures") or []]
                   + [str(warning) for warning in (gate.get("warnings") or [])[:5]])
        if gate.get("files_validated") is not None:
            details.insert(0, f"{gate['files_validated']} new file(s) validated")
        items = "".join(f"<li>{esc(item)}</li>" for item in details)
        parts.append(
            f"<tr><td>{esc(gate.get('title') or gate.get('check'))}</td>"
            f"<td class=\"{'pass' if passed else 'fail'}\">{'passed' if passed else 'FAILED'}</td>"
            f"<td class=\"num\">{esc(gate.get('expectations_met'))} of "
            f"{esc(gate.get('expectations_evaluated'))}</td>"
            f"<td><ul class=\"detail\">{items}</ul></td></tr>")
    tests = checks.get("dbt_tests") or {}
    failed = tests.get("failed") or []
    items = "".join(f"<li>{esc(t.get('asset'))}: {esc(t.get('check'))}</li>" for t in failed)
    not_run = (f"<li>{esc(tests['not_run'])} not run: nothing they read changed since they "
               "passed</li>" if tests.get("not_run") else "")
    parts.append(
        f"<tr><td>dbt data tests</td>"
        f"<td class=\"{'fail' if failed else 'pass'}\">{'FAILED' if failed else 'passed'}</td>"
        f"<td class=\"num\">{esc(tests.get('passed'))} of {esc(tests.get('defined'))}</td>"
        f"<td><ul class=\"detail\">{items}{not_run}</ul></td></tr>")
    parts.append("</table>")
    if summary.get("quality_page"):
        parts.append(f'<p class="caption">Great Expectations\' own pages: '
                     f'{esc(summary["quality_page"])}</p>')
    return "".join(parts) + "</section>"


def _header(data: ReportData) -> str:
    manifest = data.manifest
    lines = [f"{data.leads:,} leads scored as of {manifest.get('as_of')}, published "
             f"{manifest.get('published_at')} (run {manifest.get('run_id') or 'unknown'})."]
    backtest = data.backtest
    if backtest is not None:
        auc = (backtest.get("auc") or {}).get("lead_score")
        lines.append(
            f"Latest backtest: as_of {backtest.get('as_of')}, {backtest.get('horizon_days')} days, "
            f"{backtest.get('outcome_source')}"
            + (f", AUC of the rule score {auc:.3f}" if isinstance(auc, (int, float)) else "")
            + f" ({data.backtest_file.name if data.backtest_file else ''}).")
        lines += [f"Backtest warning: {warning}" for warning in backtest.get("warnings") or []]
    else:
        lines.append("No backtest yet (`leadscore backtest --as-of DATE`).")
    paragraphs = "".join(f"<p>{esc(line)}</p>" for line in lines)
    return f"<header><h1>Lead score report</h1>{paragraphs}</header>"


def render(data: ReportData, charts: list[Chart]) -> str:
    sections, specs = [], []
    for chart in charts:
        section, spec = _chart_section(chart)
        sections.append(section)
        specs.append(spec)
    sections.append(_quality_section(data))
    footer = (f"<footer>Written from the serving layer {esc(data.serving_dir)} "
              "(`leadscore report` rewrites it). Works offline: every script is in this "
              "file.</footer>")
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Lead score report, as_of {esc(data.manifest.get('as_of'))}</title>",
        f"<style>{STYLE}</style></head>\n<body>",
        _header(data),
        "<main>", *sections, "</main>", footer, "\n",
        *specs, "\n",
        f"<script>{javascript_bundle()}</script>\n",
        f"<script>{SCRIPT}</script>\n",
        "</body></html>\n",
    ])
