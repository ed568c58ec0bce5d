"""benchmarks/fewer_people.py: a benchmark with fewer training people, same val and test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS, load_manifest
from tfqa.data.splits import assign_splits


def _manifest(tmp_path, n_groups=20, per_group=3):
    rows = []
    for g in range(n_groups):
        for k in range(per_group):
            video = tmp_path / f"g{g:02d}_{k}.mp4"
            video.touch()
            rows.append({"video": video.name, "group": f"g{g:02d}", "split": "",
                         **dict.fromkeys(TASKS, 1.0 + (g + k) % 5)})  # fmt: skip
    path = tmp_path / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_keeps_every_kth_training_person_and_all_val_test(tmp_path, load_benchmark):
    mod = load_benchmark("fewer_people")
    path = _manifest(tmp_path)
    full = load_manifest(path)
    split = assign_splits(full, (0.6, 0.2, 0.2), 3)
    train = sorted(set(full["group"][split == "train"]))
    out = mod.fewer_people(path, 3, (0.6, 0.2, 0.2), 3)
    kept_train = sorted(set(out.loc[out["split"] == "train", "group"]))
    assert kept_train == train[::3] and len(train) > len(kept_train) > 1
    for s in ("val", "test"):  # the same clips, pinned to the same split
        assert sorted(out.loc[out["split"] == s, "video"]) == sorted(full["video"][split == s])
    # pinned splits survive a reload: a run on the copy measures the same people
    copy = tmp_path / "copy.csv"
    out.to_csv(copy, index=False)
    again = load_manifest(copy)
    np.testing.assert_array_equal(assign_splits(again, (0.8, 0.1, 0.1), 0), out["split"])
    assert mod.fewer_people(path, 1, (0.6, 0.2, 0.2), 3).shape[0] == len(full)


def test_curve_reads_people_and_plcc(tmp_path, load_benchmark):
    mod = load_benchmark("fewer_people")
    run, ev = tmp_path / "run", tmp_path / "ev"
    run.mkdir()
    ev.mkdir()
    (run / "best.pt").touch()
    pd.DataFrame({"video": list("abcdef"), "group": list("xxyzzw"),
                  "split": ["train", "train", "train", "val", "val", "test"]}).to_csv(run / "splits.csv", index=False)  # fmt: skip
    rows = [{"dimension": d, "metric": m, "value": v}
            for i, d in enumerate(TASKS) for m, v in (("plcc", 0.5 + 0.1 * i), ("rmse", 9.0))]  # fmt: skip
    pd.DataFrame(rows).to_csv(ev / "metrics.csv", index=False)
    (ev / "metrics.md").write_text(f"| table |\n\ncheckpoint: `{run / 'best.pt'}`\n")
    table = mod.curve([ev])
    assert table.loc[0, "train_people"] == 2  # groups x and y
    assert table.loc[0, "lip_sync"] == 0.5 and abs(table.loc[0, "overall"] - 0.9) < 1e-9
    assert abs(table.loc[0, "mean"] - 0.7) < 1e-9
