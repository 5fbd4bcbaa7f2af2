"""A self-contained comparison page: tables, figures, and every clip's videos side by side with
one shared play/pause and seek, filterable by emotion and method. Opens from the local folder
(file://) with no server and no network: no external scripts, fonts or styles."""

from __future__ import annotations

import html
import os
import shutil
import urllib.parse
from pathlib import Path

from eadbench.atomic import atomic_path
from eadbench.report.tables import Table, row_label
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
  function applyFilters(){
    var emo=document.getElementById('f-emotion').value;
    var shown={};
    document.querySelectorAll('input.f-method').forEach(function(c){shown[c.value]=c.checked;});
    document.querySelectorAll('.clip').forEach(function(g){
      g.style.display=(emo==='all'||g.dataset.emotion===emo)?'':'none';
      g.querySelectorAll('figure').forEach(function(f){f.style.display=shown[f.dataset.method]===false?'none':'';});
    });
  }
  var fe=document.getElementById('f-emotion');
  if(fe){fe.addEventListener('change',applyFilters);}
  document.querySelectorAll('input.f-method').forEach(function(c){c.addEventListener('change',applyFilters);});
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


def _videos_section(out: Path, run: RunRecord, copy_videos: bool, max_clips: int | None) -> str:
    methods = list(run.summary["methods"])
    if "ground_truth" in methods:
        methods = ["ground_truth"] + [m for m in methods if m != "ground_truth"]
    df = run.per_clip
    clip_meta: dict[str, str] = {}
    if not df.empty:
        for cid, emo in zip(df["clip_id"], df["emotion"]):
            clip_meta.setdefault(str(cid), "" if emo != emo else str(emo))  # NaN-safe
    clips = sorted({p.stem for m in methods for p in RunDir(run.path).videos(m).glob("*.mp4")})
    if max_clips:
        clips = clips[:max_clips]
    emotions = sorted({clip_meta.get(c, "") for c in clips} - {""})
    filt = ["<div class='filters'>Emotion: <select id='f-emotion'><option value='all'>all</option>"]
    filt += [f"<option value='{html.escape(e)}'>{html.escape(e)}</option>" for e in emotions]
    filt.append("</select> Methods: ")
    filt += [f"<label><input type='checkbox' class='f-method' value='{html.escape(m)}' checked> "
             f"{html.escape(m)}</label> " for m in methods]
    filt.append("</div>")
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
            figs.append(f"<figure data-method='{html.escape(m)}'><video src='{_rel(src, out)}' preload='auto' "
                        f"muted playsinline></video><figcaption>{html.escape(m)}</figcaption></figure>")
        groups.append(
            f"<div class='clip' data-emotion='{html.escape(clip_meta.get(clip, ''))}'>"
            f"<b>{html.escape(clip)}</b> <span class='notes'>{html.escape(clip_meta.get(clip, ''))}</span>"
            f"<div class='vids'>{''.join(figs)}</div>"
            "<div class='controls'><button class='play'>Play all</button>"
            "<input class='seek' type='range' min='0' max='1000' value='0'></div></div>")
    return f"<h2>Videos: {html.escape(run.label)}</h2>" + "".join(filt) + "".join(groups)
