"""How well a training recipe does on unseen people, over several group-disjoint splits.

One test split holds only 3-4 people, and a bootstrap over its clips says nothing about other
people.  This pools the test predictions of runs trained on *different* group splits (the same
recipe with `data.split_seed` 0, 1, 2...: disjoint test people) and reports, per scorer and
dimension, the PLCC of each split and of the pooled predictions, with a 95 % interval from
resampling **people** (groups), not clips (`tfqa.evaluation.bootstrap`, `groups=`).

    for s in 1 2; do
      tfqa train --manifest BENCH/manifest.csv --config configs/default.yaml --cache-dir CACHE \\
          --epochs 8 --set data.split_seed=$s --out RUNS/split$s
      tfqa compare BENCH/manifest.csv --cache-dir CACHE --split test \\
          --checkpoint model=RUNS/split$s/best.pt --out RUNS/compare_split$s
    done
    .venv/bin/python benchmarks/group_splits.py RUNS/compare_test/predictions.csv \\
        RUNS/compare_split1/predictions.csv RUNS/compare_split2/predictions.csv --model standard,model,model

Each `predictions.csv` is what `tfqa compare` writes (columns `group`, the labels, `SCORER:DIM`).
The checkpoint's column is named by `--model` (one name per file, or one for all); the baselines
(zero-shot, ridge, gbm) keep their names.  Where the runs hold the gbm baseline, the
checkpoint's equal average with it (`model+gbm`, `tfqa.model.scorer.blend`: the shape of the
default scorer) is reported too.  Takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BASELINES = ("zero-shot", "ridge", "gbm")
MODEL = "model"
BLEND = "model+gbm"  # the default scorer's shape: tfqa.model.scorer.blend of the two


def load_runs(paths: list[Path], models: list[str]) -> pd.DataFrame:
    """The runs' test predictions stacked, each checkpoint's columns renamed to ``model:DIM``."""
    from tfqa.data.manifest import TASKS

    if len(models) == 1:
        models = models * len(paths)
    if len(models) != len(paths):
        raise SystemExit(f"Expected 1 or {len(paths)} --model names, but got {len(models)}")
    frames = []
    for k, (path, name) in enumerate(zip(paths, models, strict=True)):
        df = pd.read_csv(path)
        cols = [f"{name}:{d}" for d in TASKS]
        missing = [c for c in ["group", *TASKS, *cols] if c not in df.columns]
        if missing:
            raise SystemExit(
                f"{path}: no column(s) {', '.join(missing)} (a `tfqa compare` output?)"
            )
        keep = ["group", *TASKS, *cols, *[f"{b}:{d}" for b in BASELINES for d in TASKS]]
        df = df[[c for c in keep if c in df.columns]].rename(
            columns={f"{name}:{d}": f"{MODEL}:{d}" for d in TASKS}
        )
        frames.append(df.assign(run=k, source=str(path)))
    out = pd.concat(frames, ignore_index=True)
    if all(f"gbm:{d}" in out.columns for d in TASKS):
        from tfqa.model.scorer import blend

        mixed = blend(out[[f"{MODEL}:{d}" for d in TASKS]], out[[f"gbm:{d}" for d in TASKS]])
        for k, d in enumerate(TASKS):
            out[f"{BLEND}:{d}"] = mixed[:, k]
    shared = out.groupby("group")["run"].nunique()
    if (shared > 1).any():
        raise SystemExit(
            "Expected disjoint test people across runs, but these groups are in several: "
            + ", ".join(shared[shared > 1].index)
        )
    return out


def _scorers(df: pd.DataFrame) -> list[str]:
    """The model, its blend with gbm, then the baselines the runs hold."""
    from tfqa.data.manifest import TASKS

    return [MODEL] + [b for b in (BLEND, *BASELINES) if f"{b}:{TASKS[0]}" in df.columns]


def summarise(df: pd.DataFrame, n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per scorer and dimension: per-run PLCC, pooled PLCC and its people-bootstrap interval."""
    from scipy.stats import pearsonr

    from tfqa.data.manifest import TASKS
    from tfqa.evaluation.bootstrap import bootstrap_metrics

    scorers = _scorers(df)
    rows = []
    for scorer in scorers:
        for dim in TASKS:
            ok = df[f"{scorer}:{dim}"].notna()
            sub = df[ok]
            est = bootstrap_metrics(
                sub[dim].to_numpy(), sub[f"{scorer}:{dim}"].to_numpy(), ["plcc"],
                n_resamples=n_resamples, seed=seed, groups=sub["group"].to_numpy(),
            )["plcc"]  # fmt: skip
            row = {"scorer": scorer, "dimension": dim, "n": len(sub),
                   "groups": sub["group"].nunique(), "pooled_plcc": est.value,
                   "ci_low": est.low, "ci_high": est.high}  # fmt: skip
            for run, part in sub.groupby("run"):
                row[f"run{run}_plcc"] = float(pearsonr(part[dim], part[f"{scorer}:{dim}"])[0])
            rows.append(row)
    return pd.DataFrame(rows)


def mean_plcc(
    df: pd.DataFrame, n_resamples: int = 1000, seed: int = 0, reference: str = MODEL
) -> pd.DataFrame:
    """Per scorer: mean PLCC over the dimensions, and its paired difference to ``reference``,
    with 95 % intervals from resampling people (clips every scorer predicted)."""
    from scipy.stats import bootstrap

    from tfqa.data.manifest import TASKS
    from tfqa.evaluation.bootstrap import group_members
    from tfqa.evaluation.metrics import compute

    scorers = _scorers(df)
    if reference not in scorers:
        raise SystemExit(f"Expected the reference {reference!r} among the scorers {scorers}")
    ref = scorers.index(reference)
    cols = [f"{s}:{d}" for s in scorers for d in TASKS]
    sub = df[df[cols].notna().all(axis=1)]
    members = group_members(sub["group"].to_numpy(), len(sub))
    y = sub[list(TASKS)].to_numpy(np.float64)
    preds = {s: sub[[f"{s}:{d}" for d in TASKS]].to_numpy(np.float64) for s in scorers}

    def means(rows: np.ndarray) -> np.ndarray:
        m = [np.mean([compute(y[rows, k], preds[s][rows, k], ["plcc"])["plcc"]
                      for k in range(len(TASKS))]) for s in scorers]  # fmt: skip
        return np.array(m + [v - m[ref] for v in m])

    def statistic(k: np.ndarray) -> np.ndarray:
        return means(np.concatenate([members[int(i)] for i in k]))

    point = means(np.arange(len(sub)))
    res = bootstrap((np.arange(len(members)),), statistic, vectorized=False,
                    n_resamples=n_resamples, method="percentile",
                    rng=np.random.default_rng(seed))  # fmt: skip
    lo, hi, n = res.confidence_interval.low, res.confidence_interval.high, len(scorers)
    return pd.DataFrame(
        {
            "scorer": scorers,
            "mean_plcc": point[:n],
            "ci_low": lo[:n],
            "ci_high": hi[:n],
            "reference": reference,
            "diff": point[n:],
            "diff_low": lo[n:],
            "diff_high": hi[n:],
            "people": len(members),
            "clips": len(sub),
        }  # fmt: skip
    )


def markdown(table: pd.DataFrame, runs: int, means: pd.DataFrame | None = None) -> str:
    head = "| scorer | dimension | people (clips) | pooled PLCC [95 % CI, people] | " + " | ".join(
        f"split {k}" for k in range(runs)
    )
    lines = [head + " |", "|---" * (4 + runs) + "|"]
    for r in table.itertuples(index=False):
        d = r._asdict()
        per = " | ".join(f"{d.get(f'run{k}_plcc', float('nan')):.3f}" for k in range(runs))
        lines.append(
            f"| {r.scorer} | {r.dimension} | {r.groups} ({r.n}) | {r.pooled_plcc:.3f} "
            f"[{r.ci_low:.3f}, {r.ci_high:.3f}] | {per} |"
        )
    if means is not None and len(means):
        r0 = means.iloc[0]
        lines += ["", f"Mean PLCC over the dimensions ({r0.people} people, {r0.clips} clips "
                  "every scorer predicted; 95 % CI from resampling people):", "",
                  f"| scorer | mean PLCC [95 % CI] | Δ vs {r0.reference} [95 % CI] |",
                  "|---|---|---|"]  # fmt: skip
        for r in means.itertuples(index=False):
            lines.append(
                f"| {r.scorer} | {r.mean_plcc:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | "
                f"{r.diff:+.3f} [{r.diff_low:+.3f}, {r.diff_high:+.3f}] |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("predictions", type=Path, nargs="+", help="predictions.csv of `tfqa compare`")
    ap.add_argument("--model", default=MODEL, help="the checkpoint's scorer name, per file (a,b,c)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--reference", default=MODEL, help="scorer the mean-PLCC Δ is taken against")
    ap.add_argument("--out", type=Path, default=Path("group-splits.json"))
    args = ap.parse_args(argv)
    df = load_runs(args.predictions, args.model.split(","))
    table = summarise(df, args.resamples)
    means = mean_plcc(df, args.resamples, reference=args.reference)
    md = markdown(table, len(args.predictions), means)
    print(f"{len(df)} test clips, {df['group'].nunique()} people, {len(args.predictions)} splits")
    print(md)
    args.out.write_text(
        json.dumps(
            {
                "runs": [str(p) for p in args.predictions],
                "table": table.to_dict("records"),
                "mean_plcc": means.to_dict("records"),
            },
            indent=2,
        )
    )
    args.out.with_suffix(".md").write_text(md + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
