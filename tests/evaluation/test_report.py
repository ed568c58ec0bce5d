from __future__ import annotations

import numpy as np

from tfqa.data.manifest import TASKS
from tfqa.evaluation.figures import write_figures
from tfqa.evaluation.report import evaluate_predictions, fmt, write_report


def test_table_files_and_figures(tmp_path):
    rng = np.random.default_rng(0)
    t = rng.uniform(1, 5, (40, 5))
    p = np.clip(t + rng.normal(0, 0.5, t.shape), 1, 5)
    table = evaluate_predictions(t, p, n_resamples=30)
    assert len(table) == 5 * 11 and set(table["dimension"]) == set(TASKS)
    assert (table["ci_low"] <= table["value"] + 1e-12).all()
    paths = write_report(table, tmp_path, title="T")
    md = paths["md"].read_text()
    assert md.startswith("# T") and "| lip_sync |" in md and "plcc" in md and "[" in md
    assert paths["csv"].read_text().startswith("dimension,metric,value,ci_low,ci_high,n")
    figs = write_figures(t, p, table, tmp_path)
    for f in figs.values():
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fmt(float("nan")) == "n/a" and fmt(0.5, 0.4, 0.6) == "0.500 [0.400, 0.600]"
