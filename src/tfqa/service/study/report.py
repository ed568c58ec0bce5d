"""Writers of a study analysis: CSV tables, a Markdown report, JSON and a Bradley–Terry plot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from tfqa.service.study.analysis import StudyAnalysis

TABLES = ("majority", "agreement", "inter_rater", "bt_videos", "bt_methods")


def _md_table(df: pd.DataFrame, digits: int = 3) -> str:
    if df.empty:
        return "_(none)_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("—" if math.isnan(v) else f"{v:.{digits}f}")
            else:
                cells.append(str(v).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(result: StudyAnalysis, out_dir: Path, meta: dict[str, Any]) -> list[Path]:
    """Write ``<table>.csv`` for each table, ``report.md``, ``analysis.json``, ``bradley_terry.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        path = out_dir / f"{name}.csv"
        getattr(result, name).to_csv(path, index=False)
        written.append(path)
    js = out_dir / "analysis.json"
    js.write_text(json.dumps({"meta": meta, **result.to_dict()}, indent=1))
    written.append(js)
    png = out_dir / "bradley_terry.png"
    if plot_bt(result, png):
        written.append(png)
    md = out_dir / "report.md"
    md.write_text(_markdown(result, meta, png if png in written else None))
    written.append(md)
    return written


def _markdown(result: StudyAnalysis, meta: dict[str, Any], png: Path | None) -> str:
    bt_v = result.bt_videos.drop(columns=["video"], errors="ignore")
    parts = [
        "# A/B study analysis\n",
        f"{meta['n_answers']} answers from {meta['n_raters']} rater(s) on {meta['n_pairs']} "
        f"pair(s) (`{meta['answers']}`). Scorer ties: |Δscore| ≤ {meta['tie_margin']}. "
        f"Bootstrap: {meta['n_resamples']} resamples of the comparisons, seed {meta['seed']}, "
        "95 % percentile intervals.\n",
        "## Agreement of scorers with the human majority\n",
        "`agreement`: same answer (A, B or equal) as the majority, over pairs with a majority; "
        "`decisive_agreement`: same winner where both pick one; `rater_agreement`: share of "
        "individual answers matched.\n",
        _md_table(result.agreement),
        "## Inter-rater agreement\n",
        _md_table(result.inter_rater),
        "## Bradley–Terry strengths per method (log scale, mean 0)\n",
        _md_table(result.bt_methods),
        "## Bradley–Terry strengths per video\n",
        _md_table(bt_v),
        "## Human majority per pair\n",
        _md_table(result.majority),
    ]
    if png is not None:
        parts.insert(3, f"![Bradley–Terry strengths]({png.name})\n")
    return "\n".join(parts)


def plot_bt(result: StudyAnalysis, out: Path) -> bool:
    """Per-dimension BT strengths with CIs (methods if known, else videos); False if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df, key = (
        (result.bt_methods, "method") if not result.bt_methods.empty else (result.bt_videos, "name")
    )
    if df.empty:
        return False
    dims = list(dict.fromkeys(df["dimension"]))
    fig, axes = plt.subplots(1, len(dims), figsize=(3.2 * len(dims), 0.45 * df[key].nunique() + 1.8),
                             sharey=True, squeeze=False)  # fmt: skip
    items = sorted(df[key].unique())
    for ax, dim in zip(axes[0], dims, strict=True):
        d = df[df["dimension"] == dim].set_index(key).reindex(items)
        y = range(len(items))
        err = [
            (d["strength"] - d["ci_low"]).clip(lower=0).fillna(0),
            (d["ci_high"] - d["strength"]).clip(lower=0).fillna(0),
        ]
        ax.errorbar(d["strength"], y, xerr=err, fmt="o", capsize=3)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_title(dim.replace("_", " "))
        ax.set_yticks(list(y), items)
        ax.set_xlabel("BT strength (log)")
    fig.suptitle(f"Bradley–Terry strength per {key} (95 % bootstrap CI)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True
