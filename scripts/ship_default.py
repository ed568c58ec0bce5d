"""Ship a trained checkpoint and its trees as tfqa's default scorer (step 6 of train_default.sh).

    python scripts/ship_default.py BEST_PT NAME COMPARE_TEST_DIR SELECT_VAL_DIR MANIFEST

Copies BEST_PT to src/tfqa/assets/models/default.pt and COMPARE_TEST_DIR/trees.npz (the
gradient-boosted trees `tfqa compare` fitted on BEST_PT's pooled features; absent: the default
scorer is the Transformer alone) to default_trees.npz, and writes default.json: hashes, sizes,
provenance and the test metrics of the shipped scorer (NAME+gbm, or NAME without trees) and of
every scorer `tfqa compare` measured.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from tfqa.features.pipeline import default_features_id
from tfqa.model.checkpoint import load_checkpoint
from tfqa.model.trees import TreeEnsemble

MODELS = Path(__file__).resolve().parents[1] / "src" / "tfqa" / "assets" / "models"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(src: str, name: str, test_dir: str, val_dir: str, manifest: str) -> dict:
    dest = MODELS / "default.pt"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    ckpt = load_checkpoint(dest)
    trees_src, trees_dest = Path(test_dir) / "trees.npz", MODELS / "default_trees.npz"
    shipped = name
    side_trees = None
    if trees_src.is_file():
        trees = TreeEnsemble.load(trees_src)
        if trees.header["checkpoint_sha256"] != _sha(dest):
            raise SystemExit(f"{trees_src} was fitted for another checkpoint than {src}")
        shutil.copyfile(trees_src, trees_dest)
        shipped = f"{name}+gbm"
        side_trees = {
            "file": trees_dest.name,
            "sha256": _sha(trees_dest),
            "bytes": trees_dest.stat().st_size,
            "n_trees": trees.n_trees,
            "chosen": trees.header.get("chosen"),
            "scikit_learn": trees.header.get("scikit_learn"),
            "blend": "equal average of the Transformer and the trees (tfqa.model.scorer.blend)",
        }
    else:
        trees_dest.unlink(missing_ok=True)
    t = pd.read_csv(Path(test_dir) / "comparison.csv")
    plcc = t[t["metric"] == "plcc"]

    def per_dim(scorer: str) -> dict:
        rows = plcc[plcc["scorer"] == scorer].set_index("dimension")
        return {d: [float(r.value), float(r.ci_low), float(r.ci_high)] for d, r in rows.iterrows()}

    mean = pd.read_csv(Path(test_dir) / "mean_plcc.csv").set_index("scorer")
    val = pd.read_csv(Path(val_dir) / "mean_plcc.csv").set_index("scorer")
    hist = ckpt["progress"]["history"]
    side = {
        "sha256": _sha(dest),
        "bytes": dest.stat().st_size,
        "trained_as": name,
        "scorer": shipped,
        "trees": side_trees,
        "source_run": str(Path(src).parent),
        "best_epoch": int(ckpt["progress"]["best_epoch"]),
        "epochs_run": len(hist),
        "train_seconds": float(sum(h["epoch_time_s"] for h in hist)),
        "versions": ckpt["versions"],
        # the extractors (sync model included) whose features the model was trained on:
        # train_default.sh extracts, trains and ships with the same code; a test checks that
        # tfqa's current extractors still compute these features
        "features_id": default_features_id(),
        "benchmark_manifest_sha256": _sha(Path(manifest)),
        "test_plcc": per_dim(shipped),
        "transformer_test_plcc": per_dim(name),
        "test_mean_plcc": {
            s: [float(r.value), float(r.ci_low), float(r.ci_high)] for s, r in mean.iterrows()
        },
        "val_mean_plcc": {s: float(r.value) for s, r in val.iterrows()},
        "model_card": "docs/model-card.md",
    }
    dest.with_suffix(".json").write_text(json.dumps(side, indent=1) + "\n")
    return side


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    print(json.dumps(main(*sys.argv[1:]), indent=1))
