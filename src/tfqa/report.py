"""A self-contained HTML report of scored clips: ``tfqa score ... --out report.html``.

One file, no network: a table of every clip's five scores (coloured from red
at 1 to green at 5) with the headline evidence, then one section per clip with
its sub-scores, warnings and a figure of the evidence over time — the A/V
offset the sync estimator reads each second against the detectability band
(ITU-R BT.1359: 45 ms audio lead, 125 ms audio lag), the mouth opening against
its prediction from the voice, speech quality (DNSMOS) and face presence and
sharpness.  Figures are matplotlib PNGs embedded as ``data:`` URIs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tfqa.version import __version__

if TYPE_CHECKING:
    from tfqa.scoring import ScoreResult

DIMENSIONS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")
# headline evidence of the table: (key, column title, format)
TABLE_EVIDENCE = (
    ("av_offset_ms", "offset ms", "{:+.0f}"),
    ("sync_confidence", "sync conf", "{:.2f}"),
    ("face_coverage", "face cover", "{:.0%}"),
    ("dnsmos_ovrl", "DNSMOS", "{:.2f}"),
)
LEAD_MS, LAG_MS = 45.0, 125.0  # detectability of audio lead / lag (ITU-R BT.1359-1)
MAX_FIGURES = 200  # clips drawn; a larger batch gets the table (and its JSON) only beyond this

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}
.err{color:#b00}.warn{color:#a60}.muted{color:#777;font-size:90%}
section{margin-top:2em;border-top:2px solid #ccc;padding-top:.5em}
img{max-width:100%}
"""


def score_colour(value: float | None) -> str:
    """CSS background for a 1–5 score: red (1) → yellow (3) → green (5); grey when missing."""
    if value is None or not math.isfinite(value):
        return "#eee"
    hue = 120.0 * (min(max(value, 1.0), 5.0) - 1.0) / 4.0
    return f"hsl({hue:.0f},70%,80%)"


def _fmt(fmt: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return fmt.format(value)


def _figure_png(res: ScoreResult) -> str | None:
    """The evidence-over-time figure of one clip as a base64 PNG (None if nothing to draw)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    curves, traces = res.curves, res.traces

    def arr(d: dict, k: str):
        v = d.get(k)
        return None if not v else np.array([np.nan if x is None else x for x in v], float)

    offset, conf = arr(curves, "sync.offset_ms"), arr(curves, "sync.confidence")
    observed = arr(traces, "sync.mouth_observed")
    predicted = arr(traces, "sync.mouth_predicted_at_offset")
    dnsmos, speech = arr(curves, "audio.dnsmos_ovrl"), arr(curves, "audio.speech_prob")
    face, sharp = arr(curves, "face.face_present"), arr(curves, "visual.sharpness")
    if all(x is None for x in (offset, observed, dnsmos, face)):
        return None
    fig, axes = plt.subplots(1, 4, figsize=(15, 2.6))
    ax = axes[0]
    if offset is not None:
        t = np.arange(len(offset)) + 0.5
        ax.axhspan(-LEAD_MS, LAG_MS, color="#cfc", alpha=0.6, label="not detectable")
        ax.plot(t, offset, "o-", color="#05a", label="A/V offset")
        if conf is not None:
            tw = ax.twinx()
            tw.plot(t, conf, color="#999", lw=1, label="confidence")
            tw.set_ylim(0, 1)
            tw.set_ylabel("confidence", fontsize=8)
        ax.legend(fontsize=7, loc="upper left")
    ax.set(title="lip sync per second (+ = audio lags)", xlabel="s", ylabel="ms")
    ax = axes[1]
    if observed is not None:
        t = np.arange(len(observed)) / 25.0
        ax.plot(t, observed, lw=1, label="mouth (video)")
        if predicted is not None:
            ax.plot(t, predicted, lw=1, label="mouth predicted from the voice")
        ax.legend(fontsize=7, loc="upper right")
    ax.set(title="mouth vs voice (z-scored)", xlabel="s")
    ax = axes[2]
    if dnsmos is not None:
        ax.plot(np.arange(len(dnsmos)) + 0.5, dnsmos, "o-", color="#a50", label="DNSMOS OVRL")
        ax.set_ylim(1, 5)
    if speech is not None:
        ax.plot(
            np.arange(len(speech)) + 0.5, 1 + 4 * speech, color="#999", lw=1, label="speech (0-1)"
        )
    ax.legend(fontsize=7, loc="lower left")
    ax.set(title="audio quality per second", xlabel="s")
    ax = axes[3]
    if face is not None:
        ax.plot(np.arange(len(face)) + 0.5, face, color="#060", label="face present (share)")
        ax.set_ylim(-0.05, 1.05)
    if sharp is not None and np.isfinite(sharp).any():
        tw = ax.twinx()
        tw.plot(np.arange(len(sharp)) + 0.5, sharp, color="#90c", lw=1, label="sharpness")
        tw.set_ylabel("face sharpness", fontsize=8)
    ax.legend(fontsize=7, loc="lower left")
    ax.set(title="face", xlabel="s")
    # fixed margins: tight_layout would cost ~0.5 s per figure (measured), more than the drawing
    fig.subplots_adjust(left=0.04, right=0.965, bottom=0.19, top=0.88, wspace=0.42)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _anchor(k: int) -> str:
    return f"clip{k}"


def _summary(results: Sequence[ScoreResult]) -> str:
    head = "".join(f"<th>{d}</th>" for d in DIMENSIONS)
    head += "".join(f"<th>{t}</th>" for _, t, _ in TABLE_EVIDENCE)
    rows = []
    for k, r in enumerate(results):
        name = f"<a href='#{_anchor(k)}'>{html.escape(Path(r.path).name)}</a>"
        if r.status != "ok":
            msg = html.escape((r.error or {}).get("message", "failed"))
            span = len(DIMENSIONS) + len(TABLE_EVIDENCE) + 1
            rows.append(f"<tr><td>{name}</td><td class=err colspan={span} style='text-align:left'>{msg}</td></tr>")  # fmt: skip
            continue
        cells = "".join(
            f"<td style='background:{score_colour(r.scores.get(d))}'>"
            f"{_fmt('{:.2f}', r.scores.get(d))}</td>"
            for d in DIMENSIONS
        )
        cells += "".join(f"<td>{_fmt(f, r.evidence.get(k))}</td>" for k, _, f in TABLE_EVIDENCE)
        warn = f"<td class=warn>{len(r.warnings)} ⚠</td>" if r.warnings else "<td></td>"
        rows.append(f"<tr><td>{name}</td>{cells}{warn}</tr>")
    return f"<table><tr><th>clip</th>{head}<th></th></tr>{''.join(rows)}</table>"


def _section(k: int, r: ScoreResult, figure: bool) -> str:
    name = html.escape(Path(r.path).name)
    out = [f"<section id='{_anchor(k)}'><h2>{name}</h2><p class=muted>{html.escape(r.path)}</p>"]
    if r.status != "ok":
        err = r.error or {}
        out.append(f"<p class=err>{html.escape(err.get('message', 'failed'))}</p></section>")
        return "".join(out)
    members = sorted({m for sub in r.subscores.values() for m in sub})
    head = "".join(f"<th>{html.escape(m)}</th>" for m in members)
    rows = []
    for d in DIMENSIONS:
        sub = r.subscores.get(d, {})
        cells = "".join(f"<td>{_fmt('{:.2f}', sub.get(m))}</td>" for m in members)
        score = r.scores.get(d)
        rows.append(f"<tr><td>{d}</td><td style='background:{score_colour(score)}'>"
                    f"<b>{_fmt('{:.2f}', score)}</b></td>{cells}</tr>")  # fmt: skip
    out.append(f"<table><tr><th>dimension</th><th>score</th>{head}</tr>{''.join(rows)}</table>")
    if members:
        out.append(
            "<p class=muted>Sub-scores: the default scorer's two members, or the zero-shot "
            "scorer's evidence terms (the lowest one decides its dimension).</p>"
        )
    if r.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in r.warnings)
        out.append(f"<ul class=warn>{items}</ul>")
    m = r.media
    if m:
        out.append(
            f"<p class=muted>{m.get('width')}×{m.get('height')}, {_fmt('{:.2f}', m.get('fps'))} fps, "
            f"{_fmt('{:.1f}', m.get('duration_s'))} s, {html.escape(str(m.get('video_codec')))} / "
            f"{html.escape(str(m.get('audio_codec')))}</p>"
        )
    png = _figure_png(r) if figure else None
    if png:
        out.append(f"<img alt='evidence over time' src='data:image/png;base64,{png}'>")
    out.append("</section>")
    return "".join(out)


def write_html_report(
    results: Sequence[ScoreResult], out: str | Path, *, max_figures: int = MAX_FIGURES
) -> Path:
    """Write the report of ``results`` to ``out`` (one self-contained HTML file)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n_bad = sum(r.status != "ok" for r in results)
    scorers = sorted({r.scorer for r in results if r.scorer})
    note = (
        f"<p class=muted>Figures for the first {max_figures} clips only; "
        "the JSON beside this file has every clip's curves.</p>"
        if len(results) > max_figures
        else ""
    )
    parts = [
        "<!doctype html><meta charset=utf-8><title>tfqa report</title>",
        f"<style>{_STYLE}</style><h1>tfqa report</h1>",
        f"<p>{len(results)} clip(s), {n_bad} could not be scored · scorer "
        f"{html.escape(', '.join(scorers) or '–')} · tfqa {__version__} · scores 1–5, higher is "
        "better · positive offset = the audio lags the video</p>",
        _summary(results),
        note,
        *(_section(k, r, k < max_figures) for k, r in enumerate(results)),
    ]
    out.write_text("".join(parts), encoding="utf-8")
    return out
