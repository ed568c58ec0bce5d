"""How far tfqa's per-clip evidence alone can predict each benchmark label on *unseen people*.

Leave-one-group-out over every group of a benchmark (`tfqa make-benchmark`): for each group, a
gradient-boosted regressor (scikit-learn's HistGradientBoostingRegressor) is fitted on the other
groups' per-clip evidence — the model's clip inputs (`tfqa.features.contract.CLIP_STATS`: offset,
sync confidence, DNSMOS, SNR, face motion, sharpness...) and, with `--sync-extras`, the sync
statistics the model does not read (significance, correlation at zero lag, offset consistency,
the zero-shot offset score) — and predicts the held-out group.  Reported: PLCC of the pooled
out-of-group predictions and the median of the per-group PLCCs, per dimension.

It separates "the model fits badly" from "the evidence does not carry the label": the shipped
model's test PLCC on lip_sync and cross_modal sits at this ceiling (model card, Known limits).

    .venv/bin/python benchmarks/evidence_ceiling.py BENCH/manifest.csv --cache-dir CACHE --sync-extras

Reads features from the cache (run `tfqa extract` first, or it extracts them).  ~3 min to read
3,375 cached clips and ~3 min per feature set for 41 groups x 5 dimensions on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SYNC_EXTRAS = ("sync_significance", "sync_corr_at_zero", "sync_offset_consistency")


def evidence_table(manifest: pd.DataFrame, cache_dir: Path | None) -> pd.DataFrame:
    """One row of per-clip stats (``ClipFeatures.stats()``) per manifest row that has features."""
    from tfqa.calibration import offset_score
    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline

    pipe = FeaturePipeline(cache=FeatureCache(cache_dir) if cache_dir else None)
    rows = []
    for i, video in enumerate(manifest["video"]):
        try:
            stats = pipe.extract(video).stats()
        except Exception as exc:  # noqa: BLE001 - a failed clip is reported and skipped
            print(f"skipped {video}: {exc}", file=sys.stderr)
            continue
        stats["sync_offset_score"] = offset_score(stats.get("av_offset_ms", np.nan))
        rows.append({"row": i, **stats})
    return pd.DataFrame(rows).set_index("row")


def leave_one_group_out(x: pd.DataFrame, y: pd.DataFrame, groups: pd.Series, seed: int = 0):
    """Out-of-group predictions ``(N, tasks)`` of a gradient-boosted regressor per task."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    pred = pd.DataFrame(np.nan, index=y.index, columns=y.columns)
    for g in groups.unique():
        test = groups == g
        for task in y.columns:
            model = HistGradientBoostingRegressor(
                max_iter=200, learning_rate=0.05, random_state=seed
            )
            model.fit(x[~test], y.loc[~test, task])
            pred.loc[test, task] = model.predict(x[test])
    return pred


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path, help="manifest.csv of a tfqa benchmark")
    ap.add_argument("--cache-dir", type=Path, help="feature cache folder")
    ap.add_argument("--sync-extras", action="store_true", help="also fit with the extra sync stats")
    ap.add_argument("--out", type=Path, default=Path("evidence-ceiling.json"))
    args = ap.parse_args(argv)

    from scipy.stats import pearsonr

    from tfqa.data.manifest import TASKS, load_manifest
    from tfqa.features.contract import CLIP_STATS

    manifest = load_manifest(args.manifest)
    ev = evidence_table(manifest, args.cache_dir)
    data = manifest.loc[ev.index]
    sets = {"clip stats": list(CLIP_STATS)}
    if args.sync_extras:
        sets["clip stats + sync extras"] = [*CLIP_STATS, *SYNC_EXTRAS, "sync_offset_score"]
    report = {"manifest": str(args.manifest), "clips": len(ev), "groups": data["group"].nunique()}
    for name, cols in sets.items():
        y = data[list(TASKS)].astype(float)
        pred = leave_one_group_out(ev[cols].astype(float), y, data["group"])
        pooled = {t: float(pearsonr(pred[t], y[t])[0]) for t in TASKS}
        per_group = {
            t: float(
                np.nanmedian(
                    [
                        pearsonr(pred.loc[m, t], y.loc[m, t])[0]
                        for _, m in data.groupby("group").groups.items()
                    ]
                )
            )  # fmt: skip
            for t in TASKS
        }
        report[name] = {"pooled_plcc": pooled, "median_group_plcc": per_group}
        print(
            f"\n{name} ({len(cols)} features), leave-one-group-out over {report['groups']} groups"
        )
        print(f"{'dimension':15s} {'pooled PLCC':>12s} {'median per group':>17s}")
        for t in TASKS:
            print(f"{t:15s} {pooled[t]:12.3f} {per_group[t]:17.3f}")
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
