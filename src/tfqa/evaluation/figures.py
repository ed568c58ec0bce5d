"""Error-analysis figures (thesis Fig. 3.5) as PNG: scatter, error histograms, CI bars.

Uses matplotlib's object API (``Figure`` + the Agg canvas), never ``pyplot``,
so no display or global backend state is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS


def _figure(n_panels: int, size: float = 3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size * n_panels, size + 0.4), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, axes


def scatter(y_true: np.ndarray, y_pred: np.ndarray, path: str | Path, tasks=TASKS) -> Path:
    """Predicted vs true score per dimension, with the identity line."""
    fig, axes = _figure(len(tasks))
    for k, (ax, task) in enumerate(zip(axes, tasks, strict=True)):
        ax.scatter(y_true[:, k], y_pred[:, k], s=8, alpha=0.6)
        ax.plot([1, 5], [1, 5], color="grey", lw=1, ls="--")
        ax.set(xlim=(1, 5), ylim=(1, 5), xlabel="true", title=task)
        ax.set_aspect("equal")
    axes[0].set_ylabel("predicted")
    fig.savefig(path, dpi=110)
    return Path(path)


def error_histograms(y_true: np.ndarray, y_pred: np.ndarray, path: str | Path, tasks=TASKS) -> Path:
    """Histogram of prediction errors (pred − true) per dimension."""
    fig, axes = _figure(len(tasks))
    err = y_pred - y_true
    bins = np.linspace(-4, 4, 33)
    for k, (ax, task) in enumerate(zip(axes, tasks, strict=True)):
        ax.hist(err[:, k], bins=bins, color="tab:orange", alpha=0.8)
        ax.axvline(0, color="grey", lw=1)
        ax.set(xlabel="pred - true", title=f"{task} (MAE {np.abs(err[:, k]).mean():.2f})")
    axes[0].set_ylabel("clips")
    fig.savefig(path, dpi=110)
    return Path(path)


def ci_bars(
    table: pd.DataFrame, path: str | Path, metrics: Sequence[str] = ("plcc", "srcc")
) -> Path:
    """Bar chart of metrics per dimension with their bootstrap CIs."""
    fig, axes = _figure(1, size=6.0)
    ax = axes[0]
    dims = list(dict.fromkeys(table["dimension"]))
    width = 0.8 / len(metrics)
    x = np.arange(len(dims))
    for j, m in enumerate(metrics):
        sub = table[table["metric"] == m].set_index("dimension").reindex(dims)
        v = sub["value"].to_numpy(dtype=float)
        err = np.abs(np.vstack([v - sub["ci_low"], sub["ci_high"] - v]).astype(float))
        ax.bar(x + j * width, v, width, yerr=np.nan_to_num(err), capsize=3, label=m)
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, dims, rotation=20)
    values = table["value"].to_numpy(dtype=float)
    low = min(0.0, np.nanmin(values)) if np.isfinite(values).any() else 0.0
    ax.set(ylim=(low, 1.0), ylabel="value")
    ax.legend()
    ax.set_title("per-dimension agreement, 95 % bootstrap CI")
    fig.savefig(path, dpi=110)
    return Path(path)


def write_figures(
    y_true: np.ndarray, y_pred: np.ndarray, table: pd.DataFrame, out_dir: str | Path
) -> dict[str, Path]:
    """All three figures into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corr = table[table["metric"].isin(["plcc", "srcc"])]
    return {
        "scatter": scatter(y_true, y_pred, out / "scatter.png"),
        "errors": error_histograms(y_true, y_pred, out / "errors.png"),
        "ci": ci_bars(corr, out / "ci.png"),
    }
