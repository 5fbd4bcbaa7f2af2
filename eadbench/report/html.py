"""A self-contained comparison page: tables, figures, and every clip's videos side by side with
one shared play/pause and seek, each video with its clip's scores under it (or why it failed),
filterable by emotion and method and sortable by any per-clip metric of any method, worst first:
the triage view that finds a method's failures in seconds. Opens from the local folder (file://)
with no server and no network: no external scripts, fonts or styles."""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import urllib.parse
from pathlib import Path

from eadbench.atomic import atomic_path
from eadbench.report.tables import CONTROLS, DISPLAY, Table, _arrow, _fmt, direction_of, row_label
from eadbench.run.layout import RunDir, RunRecord

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table.metrics{border-collapse:collapse;margin:8px 0;font-size:14px}
table.metrics th,table.metrics td{padding:4px 10px;border-bottom:1px solid #e5e5e5;text-align:right}
table.metrics th:first-child,table.metrics td:first-child{text-align:left}
table.metrics thead th{border-bottom:2px solid #444}
.best{font-weight:700}.second{text-decoration:underline}
.notes{font-size:12px;color:#555}
.figs img{max-width:48%;margin:4px;border:1px solid #eee}
.clip{border:1px solid #ddd;border-radius:6px;padding:8px;margin:10px 0}
.clip .vids{display:flex;flex-wrap:wrap;gap:8px}
.clip figure{margin:0;text-align:center;font-size:12px}
.clip video{width:200px;height:auto;background:#000}
.controls{display:flex;gap:8px;align-items:center;margin-top:6px}
.controls input[type=range]{flex:1}
.filters{position:sticky;top:0;background:#fafafa;padding:8px;border:1px solid #ddd;z-index:2}
table.scores{font-size:11px;margin:2px auto;border-collapse:collapse}
table.scores td{padding:0 4px;text-align:right}table.scores td:first-child{text-align:left;color:#555}
.failed{color:#b00;font-size:11px;max-width:200px}
"""

JS = """
(function(){
  function groupVideos(g){return Array.prototype.slice.call(g.querySelectorAll('video'));}
  document.querySelectorAll('.clip').forEach(function(g){
    var btn=g.querySelector('button.play'), seek=g.querySelector('input.seek');
    var vids=groupVideos(g);
    if(!vids.length){return;}
    var lead=vids[0];
    btn.addEventListener('click',function(){
      var playing=!lead.paused;
      vids.forEach(function(v){
        if(playing){v.pause();}
        else{var p=v.play(); if(p&&p.catch){p.catch(function(){});}}
      });
      btn.textContent=playing?'Play all':'Pause all';
    });
    seek.addEventListener('input',function(){
      var d=lead.duration||0; var t=d*seek.value/1000;
      vids.forEach(function(v){v.currentTime=t;});
    });
    lead.addEventListener('timeupdate',function(){
      if(lead.duration){seek.value=Math.round(1000*lead.currentTime/lead.duration);}
      vids.slice(1).forEach(function(v){if(Math.abs(v.currentTime-lead.currentTime)>0.15){v.currentTime=lead.currentTime;}});
    });
    lead.addEventListener('ended',function(){btn.textContent='Play all';});
  });
  document.querySelectorAll('section.run').forEach(function(sec){
    var fe=sec.querySelector('select.f-emotion'), sk=sec.querySelector('select.sort-key'),
        sm=sec.querySelector('select.sort-method'), so=sec.querySelector('select.sort-order'),
        box=sec.querySelector('.clips');
    function applyFilters(){
      var emo=fe?fe.value:'all'; var shown={};
      sec.querySelectorAll('input.f-method').forEach(function(c){shown[c.value]=c.checked;});
      sec.querySelectorAll('.clip').forEach(function(g){
        g.style.display=(emo==='all'||g.dataset.emotion===emo)?'':'none';
        g.querySelectorAll('figure').forEach(function(f){f.style.display=shown[f.dataset.method]===false?'none':'';});
      });
    }
    function applySort(){
      var key=sk.value, method=sm.value, worst=so.value==='worst';
      var dir=(sk.options[sk.selectedIndex]||{}).dataset; dir=dir&&dir.direction||'';
      var clips=Array.prototype.slice.call(box.querySelectorAll(':scope > .clip'));
      function val(g){var s=JSON.parse(g.dataset.scores||'{}'); var v=(s[method]||{})[key];
        return (typeof v==='number'&&isFinite(v))?v:null;}
      clips.sort(function(a,b){
        if(!key){return a.dataset.clip<b.dataset.clip?-1:a.dataset.clip>b.dataset.clip?1:0;}
        var x=val(a), y=val(b);
        if(x===null&&y===null){return 0;} if(x===null){return 1;} if(y===null){return -1;}
        var asc=(dir==='lower')?!worst:worst;  // worst first: low values of a higher-is-better metric
        return asc?x-y:y-x;
      });
      clips.forEach(function(g){box.appendChild(g);});
      sec.dataset.sorted=key+'|'+method+'|'+so.value;
    }
    if(fe){fe.addEventListener('change',applyFilters);}
    sec.querySelectorAll('input.f-method').forEach(function(c){c.addEventListener('change',applyFilters);});
    [sk,sm,so].forEach(function(el){if(el){el.addEventListener('change',applySort);}});
  });
  window.eadbenchReady=true;
  // ?selftest: play the first clip's videos through the shared control and report in the DOM
  // (used by the headless-browser test; harmless otherwise).
  if(location.search.indexOf('selftest')>=0){
    var b=document.body; b.dataset.selftest='started';
    b.dataset.tables=String(document.querySelectorAll('table.metrics').length);
    b.dataset.h264=document.createElement('video').canPlayType('video/mp4; codecs="avc1.640028"')||'no';
    var g=document.querySelector('.clip');
    if(!g){b.dataset.selftest='no-clips';return;}
    var v=g.querySelector('video');
    v.addEventListener('timeupdate',function(){
      if(v.currentTime>0.2){b.dataset.selftest='played '+v.currentTime.toFixed(2);}});
    v.addEventListener('error',function(){b.dataset.selftest='error '+(v.error?v.error.code:'?');});
    g.querySelector('button.play').click();
  }
})();
"""


def table_html(t: Table) -> str:
    groups = [g for g, _ in t.columns]
    multi = len(set(groups)) > 1
    head = "".join(f"<th>{html.escape((g + ' ') if multi else '')}{html.escape(h)}</th>"
                   for g, h in t.columns)
    body = []
    for name, cells in t.rows:
        tds = []
        for c in cells:
            cls = {1: "best", 2: "second"}.get(c.rank or 0, "")
            tds.append(f'<td class="{cls}">{html.escape(c.text)}</td>' if cls else f"<td>{html.escape(c.text)}</td>")
        body.append(f"<tr><td>{html.escape(row_label(t, name))}</td>{''.join(tds)}</tr>")
    notes = "".join(f"<li>{html.escape(f)}</li>" for f in t.footnotes)
    return (f'<h3>{html.escape(t.title)}</h3><table class="metrics"><thead><tr><th>Method</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table><ul class="notes">{notes}</ul>')


def write_page(out: Path, runs: list[RunRecord], tables: list[Table], figures: list[Path],
               copy_videos: bool = False, max_clips: int | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width,initial-scale=1'>",
             "<title>eadbench report</title><link rel='icon' href='data:,'>",
             f"<style>{CSS}</style></head><body>",
             "<h1>eadbench report</h1>"]
    parts.append("<h2>Tables</h2>" + "".join(table_html(t) for t in tables))
    pngs = [p for p in figures if p.suffix == ".png"]
    if pngs:
        parts.append("<h2>Figures</h2><div class='figs'>" + "".join(
            f"<a href='{_rel(p, out)}'><img src='{_rel(p, out)}' alt='{html.escape(p.stem)}'></a>" for p in pngs)
            + "</div>")
    for run in runs:
        parts.append(_videos_section(out, run, copy_videos, max_clips))
    parts.append(f"<script>{JS}</script></body></html>")
    page = out / "index.html"
    page.write_text("\n".join(parts), encoding="utf-8")
    return page


def _rel(p: Path, base: Path) -> str:
    """A relative URL: percent-encoded (a run path with '#', '%', '?' or spaces keeps working),
    then HTML-escaped for the attribute."""
    rel = Path(os.path.relpath(p.resolve(), base.resolve())).as_posix()
    return html.escape(urllib.parse.quote(rel, safe="/"), quote=True)


def _clip_scores(run: RunRecord) -> tuple[dict, dict, list[str]]:
    """(clip -> method -> {metric/output: value}), (clip -> method -> failure reason), and the
    per-clip keys present, in the tables' order."""
    df = run.per_clip
    scores: dict[str, dict[str, dict[str, float]]] = {}
    failed: dict[str, dict[str, str]] = {}
    if df is None or df.empty:
        return scores, failed, []
    keys = set()
    for m, c, metric, o, v, st, why in zip(df["method"], df["clip_id"].astype(str), df["metric"], df["output"],
                                           df["value"], df["status"], df["reason"]):
        key = f"{metric}/{o}"
        if st == "ok" and key in DISPLAY and v == v and math.isfinite(float(v)):
            scores.setdefault(c, {}).setdefault(m, {})[key] = float(v)
            keys.add(key)
        elif st == "failed":
            failed.setdefault(c, {}).setdefault(m, f"{metric}: {why}" if why == why else metric)
    return scores, failed, [k for k in DISPLAY if k in keys]


def _scores_html(values: dict[str, float], keys: list[str]) -> str:
    rows = "".join(f"<tr><td>{html.escape(DISPLAY[k][0])}</td><td data-key='{html.escape(k)}'>"
                   f"{html.escape(_fmt(values[k], DISPLAY[k][1], DISPLAY[k][2]))}</td></tr>"
                   for k in keys if k in values)
    return f"<table class='scores'>{rows}</table>" if rows else ""


def _videos_section(out: Path, run: RunRecord, copy_videos: bool, max_clips: int | None) -> str:
    methods = list(run.summary["methods"])
    if "ground_truth" in methods:
        methods = ["ground_truth"] + [m for m in methods if m != "ground_truth"]
    df = run.per_clip
    clip_meta: dict[str, str] = {}
    if not df.empty:
        for cid, emo in zip(df["clip_id"], df["emotion"]):
            clip_meta.setdefault(str(cid), "" if emo != emo else str(emo))  # NaN-safe
    scores, failed, keys = _clip_scores(run)
    clips = sorted({p.stem for m in methods for p in RunDir(run.path).videos(m).glob("*.mp4")})
    if max_clips:
        clips = clips[:max_clips]
    emotions = sorted({clip_meta.get(c, "") for c in clips} - {""})
    filt = ["<div class='filters'>Emotion: <select class='f-emotion'><option value='all'>all</option>"]
    filt += [f"<option value='{html.escape(e)}'>{html.escape(e)}</option>" for e in emotions]
    filt.append("</select> Methods: ")
    filt += [f"<label><input type='checkbox' class='f-method' value='{html.escape(m)}' checked> "
             f"{html.escape(m)}</label> " for m in methods]
    directions = {k: direction_of(run, k) for k in keys}
    contenders = [m for m in methods if m not in CONTROLS] or methods
    filt.append(" Sort by: <select class='sort-key'><option value=''>clip id</option>")
    filt += [f"<option value='{html.escape(k)}' data-direction='{html.escape(directions[k] or '')}'>"
             f"{html.escape((DISPLAY[k][0] + ' ' + _arrow(directions[k])).strip())}</option>" for k in keys]
    filt.append("</select> of <select class='sort-method'>")
    filt += [f"<option value='{html.escape(m)}'{' selected' if m == contenders[0] else ''}>{html.escape(m)}</option>"
             for m in methods]
    filt.append("</select> <select class='sort-order'><option value='worst'>worst first</option>"
                "<option value='best'>best first</option></select></div>")
    groups = []
    for clip in clips:
        figs = []
        for m in methods:
            src = RunDir(run.path).video(m, clip)
            if not src.exists():
                continue
            if copy_videos:
                dst = out / "videos" / run.path.name / m / f"{clip}.mp4"
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    with atomic_path(dst) as tmp:
                        shutil.copyfile(src, tmp)
                src = dst
            why = failed.get(clip, {}).get(m)
            figs.append(f"<figure data-method='{html.escape(m)}'><video src='{_rel(src, out)}' preload='auto' "
                        f"muted playsinline></video><figcaption>{html.escape(m)}</figcaption>"
                        + _scores_html(scores.get(clip, {}).get(m, {}), keys)
                        + (f"<div class='failed'>failed: {html.escape(why)}</div>" if why else "") + "</figure>")
        data = html.escape(json.dumps(scores.get(clip, {}), sort_keys=True), quote=True)
        groups.append(
            f"<div class='clip' data-clip='{html.escape(clip)}' data-emotion='{html.escape(clip_meta.get(clip, ''))}' "
            f"data-scores='{data}'>"
            f"<b>{html.escape(clip)}</b> <span class='notes'>{html.escape(clip_meta.get(clip, ''))}</span>"
            f"<div class='vids'>{''.join(figs)}</div>"
            "<div class='controls'><button class='play'>Play all</button>"
            "<input class='seek' type='range' min='0' max='1000' value='0'></div></div>")
    return (f"<section class='run'><h2>Videos: {html.escape(run.label)}</h2>" + "".join(filt)
            + "<div class='clips'>" + "".join(groups) + "</div></section>")
