"""The HTML shell: one file, every style and script inline, a Content-Security-Policy that
lets only this module's own script run (by its hash), the chart data as JSON that is never
executed, and a print stylesheet. Text from a host or a log is escaped where it is placed
(`svg.esc`); the JSON is escaped for a <script> element (`json_block`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence

from memstall.outputs.report.svg import esc

CSS = """
body{font:14px/1.4 system-ui,sans-serif;overflow-wrap:anywhere;
margin:0 auto;max-width:1000px;padding:12px 20px;color:#222}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:26px 0 6px;border-bottom:1px solid #ccc}
h3{font-size:15px;margin:16px 0 4px}.meta,.note{color:#555}.note{font-size:13px}
h4{font-size:14px;margin:10px 0 2px}.oom{border-left:3px solid #c33;padding-left:10px;margin:12px 0}
dl.story{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:4px 0}
dl.story dt{font-weight:600}dl.story dd{margin:0}
ul.legend-list{list-style:none;padding:0;margin:2px 0;font-size:13px}
ul.legend-list li{display:inline-block;margin-right:14px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}td,th{border:1px solid #ddd;padding:2px 6px;
text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
.sev-CRITICAL{color:#b00;font-weight:bold}.sev-WARNING{color:#b60}.yes{color:#b00;font-weight:bold}
.chart{position:relative;margin:2px 0 10px}.chart svg{width:100%;height:auto;display:block}
.plot{fill:#fff;stroke:#bbb}.grid{stroke:#eee}.line{fill:none;stroke-width:1.6}
.yl{font-size:11px;text-anchor:end;fill:#555}.xl{font-size:11px;text-anchor:middle;fill:#555}
.unit{font-size:11px;fill:#777}.marker line{stroke:#6c3483;stroke-width:1.5;stroke-dasharray:5 3}
.event path{fill:#c0392b}.hair{stroke:#000;stroke-opacity:.35;visibility:hidden}
.heat image{image-rendering:pixelated}.legend{font-size:12px;color:#444}
.key{margin-right:12px}.key i{display:inline-block;width:12px;height:3px;margin:0 4px 3px 0;background:#000}
#tip{position:fixed;pointer-events:none;background:#fffbe6;border:1px solid #999;padding:3px 6px;
font-size:12px;white-space:pre;display:none;z-index:9}
.bar{display:flex;align-items:center;gap:6px;margin:2px 0}
@media print{#tip,.hair{display:none}.chart,table{break-inside:avoid}body{max-width:none}}
"""

JS = """
(function(){
var data=JSON.parse(document.getElementById('chart-data').textContent);
var tip=document.getElementById('tip');
function fmt(v){if(v===null||v===undefined)return '-';var a=Math.abs(v);
 if(a>=1e10)return (v/1e9).toPrecision(4)+'G';if(a>=1e7)return (v/1e6).toPrecision(4)+'M';
 if(a>=1e4)return (v/1e3).toPrecision(4)+'k';return +v.toPrecision(4)+'';}
function when(ms){return new Date(ms).toISOString().replace('T',' ').slice(0,19)+' UTC';}
document.querySelectorAll('[data-chart]').forEach(function(el){
 var d=data[el.getAttribute('data-chart')];var svg=el.querySelector('svg');if(!d||!svg)return;
 var hair=svg.querySelector('.hair');
 svg.addEventListener('mousemove',function(ev){
  var r=svg.getBoundingClientRect();var x=(ev.clientX-r.left)*d.w/r.width;
  var col=Math.floor((x-d.left)/d.pw*d.n);if(col<0||col>=d.n){tip.style.display='none';return;}
  var y=(ev.clientY-r.top)*d.h/r.height;
  var t0=d.t0+(d.t1-d.t0)*col/d.n,t1=d.t0+(d.t1-d.t0)*(col+1)/d.n;
  var lines=[when(t0)+' .. '+when(t1).slice(11)];
  if(d.rows){var row=d.rows.length-1-Math.floor((y-d.top)/d.ph*d.rows.length);
   if(row>=0&&row<d.rows.length){lines.push(d.what+', order '+d.rows[row]+': '+fmt(d.cells[row][col]));}}
  else{d.s.forEach(function(s){var m=s[2][col],lo=s[1].length?s[1][col]:m,hi=s[3].length?s[3][col]:m;
   lines.push(s[0]+': '+(m===null?'-':fmt(m)+(lo!==hi?' (min '+fmt(lo)+', max '+fmt(hi)+')':'')));});}
  tip.textContent=lines.join('\\n');tip.style.display='block';
  tip.style.left=Math.min(ev.clientX+14,window.innerWidth-300)+'px';tip.style.top=(ev.clientY+14)+'px';
  var hx=d.left+(col+0.5)*d.pw/d.n;hair.setAttribute('x1',hx);hair.setAttribute('x2',hx);
  hair.style.visibility='visible';});
 svg.addEventListener('mouseleave',function(){tip.style.display='none';hair.style.visibility='hidden';});
});
document.body.setAttribute('data-ready','1');
})();
"""


def json_block(doc: object) -> str:
    """JSON that cannot end its <script> element or open a comment: <, >, & and the line
    separators become \\u escapes (JSON.parse reads them back as the same characters)."""
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    for ch, rep in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, rep)
    return text


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(JS.encode()).digest()).decode()
    return (
        f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
        "base-uri 'none'; form-action 'none'"
    )


def table(head: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    """An escaped table; columns in `numeric` are right-aligned. A cell given as
    ('html', s) is trusted markup (built by this package from escaped parts)."""
    out = ["<table><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            cls = ' class="n"' if i in numeric else ""
            if isinstance(cell, tuple) and cell and cell[0] == "html":
                out.append(f"<td{cls}>{cell[1]}</td>")
            else:
                out.append(f"<td{cls}>{esc('' if cell is None else cell)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def page(title: str, body: str, data: Mapping[str, object]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}"
        f'<div id="tip"></div><script type="application/json" id="chart-data">{json_block(data)}</script>'
        f"<script>{JS}</script></body></html>\n"
    )


__all__ = ["CSS", "JS", "json_block", "page", "table"]
