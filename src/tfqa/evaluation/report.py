"""Metric tables with confidence intervals, written as CSV and Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS
from tfqa.evaluation.bootstrap import CONFIDENCE, N_RESAMPLES, bootstrap_metrics
from tfqa.evaluation.metrics import METRICS


def evaluate_predictions(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    tasks: Sequence[str] = TASKS,
    metrics: Sequence[str] | None = None,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """Every metric of every dimension with its bootstrap CI.

    Args:
        y_true, y_pred: ``(N, K)`` scores, columns in ``tasks`` order.

    Returns:
        A long table: ``dimension, metric, value, ci_low, ci_high, n``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.shape[1:] != (len(tasks),):
        raise ValueError(
            f"Expected y_true and y_pred of shape (N, {len(tasks)}), but got {y_true.shape} and {y_pred.shape}"
        )
    rows = []
    for k, task in enumerate(tasks):
        est = bootstrap_metrics(
            y_true[:, k],
            y_pred[:, k],
            metrics,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed + k,
        )
        for name, e in est.items():
            rows.append(
                {
                    "dimension": task,
                    "metric": name,
                    "value": e.value,
                    "ci_low": e.low,
                    "ci_high": e.high,
                    "n": len(y_true),
                }
            )
    return pd.DataFrame(rows)


def fmt(value: float, low: float | None = None, high: float | None = None, digits: int = 3) -> str:
    """``0.812 [0.751, 0.860]`` (or just the value; ``n/a`` for NaN)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    s = f"{value:.{digits}f}"
    if low is not None and high is not None and np.isfinite(low) and np.isfinite(high):
        s += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return s


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def wide_markdown(table: pd.DataFrame, metrics: Sequence[str] | None = None) -> str:
    """Dimensions as rows, metrics as columns, each cell ``value [low, high]``."""
    metrics = list(metrics or [m for m in METRICS if m in set(table["metric"])])
    rows = []
    for dim, sub in table.groupby("dimension", sort=False):
        by = sub.set_index("metric")
        rows.append([dim] + [fmt(*by.loc[m, ["value", "ci_low", "ci_high"]]) for m in metrics])
    return markdown_table(["dimension", *metrics], rows)


def write_report(
    table: pd.DataFrame, out_dir: str | Path, *, title: str = "Evaluation", notes: str = ""
) -> dict[str, Path]:
    """Write ``metrics.csv`` (long table) and ``metrics.md`` (wide table + notes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "metrics.csv", "md": out / "metrics.md"}
    table.to_csv(paths["csv"], index=False)
    n = int(table["n"].iloc[0]) if len(table) else 0
    md = [
        f"# {title}",
        "",
        f"{n} clips; each cell: value [95 % bootstrap CI] (percentile, paired resampling of clips).",
        "acc3: low < 2.5 <= mid <= 3.5 < high; qwk: quadratic-weighted kappa on the rounded 1-5 scale.",
        "",
        wide_markdown(table),
        "",
    ]
    if notes:
        md += [notes, ""]
    paths["md"].write_text("\n".join(md))
    return paths
