"""Would more labelled people help?  Train the same recipe on a share of the training people.

Writes a copy of a benchmark manifest whose ``split`` column is pinned to the split a run with
``data.split_fractions`` / ``data.split_seed`` would make (`tfqa.data.splits.assign_splits`), and
keeps only every ``k``-th training group (sorted by name): the val and test people stay the
same, so the runs trained on the copies are measured on the same clips.  Train and evaluate each
copy as usual, then print the per-dimension PLCC against the number of training people:

    for k in 1 2 4; do
      .venv/bin/python benchmarks/fewer_people.py BENCH/manifest.csv --every $k --out RUNS/people$k.csv
      tfqa train --manifest RUNS/people$k.csv --config configs/default.yaml --cache-dir CACHE \\
          --epochs 8 --set train.amp=off --out RUNS/people$k
      tfqa evaluate RUNS/people$k/best.pt RUNS/people$k.csv --split test --cache-dir CACHE \\
          --out RUNS/people$k-test
    done
    .venv/bin/python benchmarks/fewer_people.py --curve RUNS/people1-test RUNS/people2-test RUNS/people4-test

A flat curve on a dimension says the labelled people are not what limits it there (more of the
same kind would not help); a rising one says they are.  Takes seconds (the training is what
costs: ~1 min per 1,000 clips and epoch on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def fewer_people(
    manifest: Path, every: int, fractions: tuple[float, ...], seed: int
) -> pd.DataFrame:
    """The manifest's rows with pinned splits and every ``every``-th training group only."""
    from tfqa.data.manifest import load_manifest
    from tfqa.data.splits import assign_splits
    from tfqa.errors import ConfigError

    if every < 1:
        raise ConfigError(f"Expected --every to be 1 or more, but got {every}")
    raw = pd.read_csv(manifest)
    valid = load_manifest(manifest)  # validates, and makes the video paths absolute
    raw["video"] = valid["video"].to_numpy()
    raw["split"] = assign_splits(valid, fractions, seed)
    train = sorted(raw.loc[raw["split"] == "train", "group"].astype(str).unique())
    keep = set(train[::every])
    return raw[(raw["split"] != "train") | raw["group"].astype(str).isin(keep)]


def curve(runs: list[Path]) -> pd.DataFrame:
    """Per-dimension PLCC of each ``tfqa evaluate`` folder, with its number of training people."""
    rows = []
    for run in runs:
        metrics = pd.read_csv(run / "metrics.csv")
        ckpt_path = _checkpoint_of(run)
        people = None
        if ckpt_path is not None:
            splits = pd.read_csv(ckpt_path.parent / "splits.csv")
            people = splits.loc[splits["split"] == "train", "group"].nunique()
        plcc = metrics[metrics["metric"] == "plcc"].set_index("dimension")["value"]
        rows.append({"run": run.name, "train_people": people, **plcc.to_dict()})
    out = pd.DataFrame(rows)
    dims = [c for c in out.columns if c not in ("run", "train_people")]
    out["mean"] = out[dims].mean(axis=1)
    return out


def _checkpoint_of(run: Path) -> Path | None:
    """The checkpoint a ``tfqa evaluate`` report names (its last line: ``checkpoint: `…```)."""
    md = run / "metrics.md"
    if not md.exists():
        return None
    for line in md.read_text().splitlines()[::-1]:
        if line.startswith("checkpoint:"):
            return Path(line.split("`")[1])
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path, nargs="?", help="manifest.csv of a tfqa benchmark")
    ap.add_argument("--every", type=int, default=2, help="keep every k-th training group")
    ap.add_argument("--fractions", default="0.8,0.1,0.1", help="data.split_fractions")
    ap.add_argument("--split-seed", type=int, default=0, help="data.split_seed")
    ap.add_argument("--out", type=Path, help="where to write the smaller manifest")
    ap.add_argument("--curve", type=Path, nargs="+", help="`tfqa evaluate` folders to tabulate")
    args = ap.parse_args(argv)
    if args.curve:
        from _table import print_dim_table  # a sibling module (benchmarks run as scripts)

        table = curve(args.curve).sort_values("train_people", ascending=False)
        print_dim_table(
            "test PLCC by number of training people (mean over the five in the last column)",
            {
                f"{r.run} ({r.train_people} people, mean {r.mean:.3f})": r._asdict()
                for r in table.itertuples()
            },
            label_width=40,
        )
        return 0
    if args.manifest is None or args.out is None:
        ap.error("give a manifest and --out (or --curve with evaluate folders)")
    fractions = tuple(float(f) for f in args.fractions.split(","))
    df = fewer_people(args.manifest, args.every, fractions, args.split_seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    counts = df.groupby("split")["group"].nunique().to_dict()
    print(f"wrote {args.out}: {len(df)} clips; people per split {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
