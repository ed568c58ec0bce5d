"""``tfqa demo``: synthesise clips with known defects, score them, show each score moving the right way.

Everything comes from the project's own synthesiser (no third-party media):
a clean talking photo and, for each defect family, three severities.  The
table marks a family ✓ when its targeted score falls strictly as the
severity grows (clean → mild → moderate → severe).  Outputs in ``out``:
the clips, ``results.csv`` / ``results.json``, ``demo.png`` and
``report.html``.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from tfqa.scoring import DIMENSIONS, ScoreResult, create_scorer, write_results

# defect family -> (SynthSpec field, values from mild to severe, targeted score)
FAMILIES = {
    "audio lag (ms)": ("av_offset_ms", (120.0, 240.0, 480.0), "lip_sync"),
    "audio lead (ms)": ("av_offset_ms", (-60.0, -120.0, -240.0), "lip_sync"),
    "white noise (SNR dB)": ("snr_db", (20.0, 10.0, 0.0), "audio_quality"),
    "frozen face (from)": ("frozen_face_from", (0.75, 0.5, 0.0), "expression"),
    "landmark jitter (px)": ("landmark_jitter_px", (1.0, 2.5, 5.0), "expression"),
    "mumbling (gain)": ("articulation_gain", (0.35, 0.15, 0.0), "lip_sync"),
    "blur (sigma px)": ("blur_sigma", (1.0, 2.5, 5.0), "overall"),
    "other voice": ("other_voice", (True,), "cross_modal"),
}
SEVERITY_ORDER = ("mild", "moderate", "severe")


def _clip_plan(seed: int):
    from tfqa.synth import SynthSpec

    base = SynthSpec(duration_s=6.0, size=256, seed=seed)
    plan = [("clean", "", "none", base)]
    for family, (field, values, _) in FAMILIES.items():
        levels = SEVERITY_ORDER[-len(values) :]
        for sev, value in zip(levels, values, strict=True):
            plan.append((family, f"{field}={value}", sev, base.replace(**{field: value})))
    return plan


def run_demo(out: str | Path, *, seed: int = 0, console=None, progress=None) -> Path:
    """Run the demo into ``out``; returns the HTML report path."""
    from tfqa.synth import synthesize

    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    plan = _clip_plan(seed)
    scorer = create_scorer("zero-shot", cache=False)
    rows: list[tuple[str, str, str, ScoreResult]] = []
    ctx = progress if progress is not None else _NullProgress()
    with ctx:
        task = ctx.add_task("demo clips", total=len(plan), current="")
        for family, preset, sev, spec in plan:
            name = f"{preset.replace('=', '_') or 'clean'}.mp4"
            ctx.update(task, current=name)
            path = synthesize(spec, out / "clips" / name).path
            res = next(scorer.score_many([path]))
            rows.append((family, preset, sev, res))
            ctx.update(task, advance=1)
    results = [r for *_, r in rows]
    write_results(results, out / "results.csv")
    write_results(results, out / "results.json")
    verdicts = _verdicts(rows)
    if console is not None:
        _print_table(rows, verdicts, console)
    png = _plot(rows, out / "demo.png")
    return _write_html(rows, verdicts, png, out / "report.html")


class _NullProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass


def _series(rows, family: str, target: str) -> list[float]:
    clean = next(r for f, *_, r in rows if f == "clean")
    vals = [clean.scores.get(target, np.nan) if clean.status == "ok" else np.nan]
    vals += [
        r.scores.get(target, np.nan) if r.status == "ok" else np.nan
        for f, _, _, r in rows
        if f == family
    ]
    return vals


def _verdicts(rows) -> dict[str, bool]:
    """A family passes when its targeted score falls strictly from clean through each severity."""
    out = {}
    for family, (*_, target) in FAMILIES.items():
        s = _series(rows, family, target)
        out[family] = bool(np.all(np.isfinite(s)) and np.all(np.diff(s) < 0))
    return out


def _print_table(rows, verdicts, console) -> None:
    from rich.table import Table

    t = Table(
        title="tfqa demo: zero-shot scores of synthesised clips with known defects (1-5, higher is better)"
    )
    t.add_column("defect")
    t.add_column("severity")
    for d in DIMENSIONS:
        t.add_column(d.replace("_", " "), justify="right")
    t.add_column("offset ms", justify="right")
    t.add_column("target falls?", justify="center")
    for family, _spec, sev, r in rows:
        target = FAMILIES.get(family, (None, None, None))[2]
        cells = []
        for d in DIMENSIONS:
            v = r.scores.get(d, float("nan")) if r.status == "ok" else float("nan")
            txt = f"{v:.2f}"
            cells.append(f"[bold]{txt}[/]" if d == target else txt)
        mark = ""
        if family != "clean" and sev == "severe":
            mark = "[green]✓[/]" if verdicts[family] else "[red]✗[/]"
        t.add_row(family, sev, *cells, f"{r.evidence.get('av_offset_ms', float('nan')):+.0f}", mark)
    console.print(t)
    n_ok = sum(verdicts.values())
    console.print(
        f"{n_ok}/{len(verdicts)} defect families move their targeted score the right way."
    )


def _plot(rows, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = list(FAMILIES)
    fig, axes = plt.subplots(
        2, (len(fams) + 1) // 2, figsize=(3.2 * ((len(fams) + 1) // 2), 6.2), sharey=True
    )
    for ax, family in zip(axes.ravel(), fams, strict=False):
        target = FAMILIES[family][2]
        labels = ["clean"] + [sev for f, _, sev, _ in rows if f == family]
        for d in DIMENSIONS:
            s = _series(rows, family, d)
            ax.plot(
                labels,
                s,
                marker="o",
                lw=2.5 if d == target else 1,
                alpha=1 if d == target else 0.5,
                label=d,
            )
        ax.set_title(f"{family}\n→ {target}", fontsize=9)
        ax.set_ylim(0.9, 5.1)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    axes.ravel()[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _write_html(rows, verdicts, png: Path, path: Path) -> Path:
    head = "".join(f"<th>{d}</th>" for d in DIMENSIONS)
    body = []
    for family, _, sev, r in rows:
        target = FAMILIES.get(family, (None, None, None))[2]
        cells = "".join(
            f"<td{' class=t' if d == target else ''}>{r.scores.get(d, float('nan')):.2f}</td>"
            for d in DIMENSIONS
        )
        clip = html.escape(Path(r.path).name)
        body.append(f"<tr><td>{html.escape(family)}</td><td>{sev}</td><td><a href='clips/{clip}'>{clip}</a></td>{cells}"
                    f"<td>{r.evidence.get('av_offset_ms', float('nan')):+.0f}</td></tr>")  # fmt: skip
    ok = "".join(
        f"<li>{'✓' if v else '✗'} {html.escape(k)} → {FAMILIES[k][2]}</li>"
        for k, v in verdicts.items()
    )
    path.write_text(
        "<!doctype html><meta charset=utf-8><title>tfqa demo</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:3px 8px;border-bottom:1px solid #ddd}"
        ".t{font-weight:bold;background:#eef}</style>"
        "<h1>tfqa demo</h1><p>Synthesised talking photos with known defects, scored by the zero-shot scorer "
        "(1-5, higher is better). Bold: the score each defect should lower.</p>"
        f"<img src='{png.name}' style='max-width:100%'><ul>{ok}</ul>"
        f"<table><tr><th>defect</th><th>severity</th><th>clip</th>{head}<th>offset ms</th></tr>{''.join(body)}</table>"
    )
    return path
