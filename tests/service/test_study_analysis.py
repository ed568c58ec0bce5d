"""Study statistics against published worked examples and independent references, and the
whole analysis on a small export whose answers are known."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import optimize

from tfqa.service.study.agreement import (
    bt_bootstrap,
    bt_strengths,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)

DIMS = ["lip_sync", "expression", "audio_quality", "cross_modal", "overall"]


def test_fleiss_kappa_worked_example():
    # Fleiss (1971) as tabulated on Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, κ = 0.210.
    counts = np.array([
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ])  # fmt: skip
    assert fleiss_kappa(counts) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(np.array([[3, 0], [0, 3]])) == pytest.approx(1.0)
    assert np.isnan(fleiss_kappa(np.array([[3, 0], [3, 0]])))
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa(np.array([[3, 0], [1, 1]]))


def test_krippendorff_alpha_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: α = 0.743.
    n = np.nan
    data = np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ])  # fmt: skip
    assert krippendorff_alpha_nominal(data) == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_close_to_fleiss_on_complete_data():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 200)
    ratings = np.where(rng.random((5, 200)) < 0.7, truth, rng.integers(0, 3, (5, 200)))
    counts = np.stack([(ratings == k).sum(axis=0) for k in range(3)], axis=1)
    # For complete data α = κ_Fleiss-like up to a (n-1)/n small-sample factor.
    assert krippendorff_alpha_nominal(ratings.astype(float)) == pytest.approx(
        fleiss_kappa(counts), abs=0.01
    )


def _bt_mle_reference(n_items, wins):
    """Independent BT fit: maximise the log-likelihood with scipy (ties as half wins)."""

    def nll(theta):
        ll = 0.0
        for (i, j), w in wins.items():
            ll += w * (theta[i] - np.logaddexp(theta[i], theta[j]))
        return -ll + 1e-9 * np.sum(theta**2)

    res = optimize.minimize(nll, np.zeros(n_items), method="BFGS")
    return res.x - res.x.mean()


def test_bt_strengths_match_a_likelihood_fit():
    winners = [0, 0, 0, 1, 1, 2, 2, 1, 0]
    losers = [1, 2, 1, 2, 0, 1, 0, 2, 2]
    ties = np.array([0, 0, 0, 0, 0, 0, 1, 0, 1], bool)
    wins = {}
    for a, b, t in zip(winners, losers, ties, strict=True):
        if t:
            wins[(a, b)] = wins.get((a, b), 0) + 0.5
            wins[(b, a)] = wins.get((b, a), 0) + 0.5
        else:
            wins[(a, b)] = wins.get((a, b), 0) + 1
    ref = _bt_mle_reference(3, wins)
    got = bt_strengths(3, winners, losers, ties, alpha=1e-6)
    np.testing.assert_allclose(got, ref, atol=2e-3)
    assert got[0] > got[1] > got[2]


def test_bt_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    true = np.array([1.0, 0.0, -1.0])
    a = rng.integers(0, 3, 300)
    b = (a + rng.integers(1, 3, 300)) % 3
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    a_wins = rng.random(300) < p
    w, lo = np.where(a_wins, a, b), np.where(a_wins, b, a)
    ties = np.zeros(300, bool)
    t1 = bt_bootstrap(3, w, lo, ties, n_resamples=100, seed=5)
    t2 = bt_bootstrap(3, w, lo, ties, n_resamples=100, seed=5)
    for x, y in zip(t1, t2, strict=True):
        np.testing.assert_array_equal(x, y)
    theta, low, high = t1
    assert np.all(low <= theta) and np.all(theta <= high)
    assert low[0] > high[2]  # the best clearly beats the worst
    assert np.all((low <= true - true.mean() + 0.35) & (high >= true - true.mean() - 0.35))


def _write_export(path, rows):
    cols = [
        "rater",
        "pair",
        "dimension",
        "choice",
        "time",
        "video_a",
        "video_b",
        "method_a",
        "method_b",
    ]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow(dict(zip(cols, r, strict=True)))


def test_analyze_end_to_end(tmp_path):
    from tfqa.service.study.analysis import analyze, load_score_files

    vids = {n: str(tmp_path / f"{n}.mp4") for n in ("x_good", "x_bad", "y_good", "y_bad")}
    pairs = {"px": (vids["x_good"], vids["x_bad"]), "py": (vids["y_bad"], vids["y_good"])}
    # Three raters: lip_sync unanimous for the "good" clip; overall split with one "equal".
    choices = {
        ("r1", "px"): "A", ("r2", "px"): "A", ("r3", "px"): "A",
        ("r1", "py"): "B", ("r2", "py"): "B", ("r3", "py"): "B",
    }  # fmt: skip
    overall = {("r1", "px"): "A", ("r2", "px"): "equal", ("r3", "px"): "B",
               ("r1", "py"): "B", ("r2", "py"): "B", ("r3", "py"): "A"}  # fmt: skip
    rows = []
    for (rater, pair), c in choices.items():
        va, vb = pairs[pair]
        ma, mb = ("good", "bad") if pair == "px" else ("bad", "good")
        for dim in DIMS:
            choice = overall[(rater, pair)] if dim == "overall" else c
            rows.append((rater, pair, dim, choice, "2026-01-01T00:00:00", va, vb, ma, mb))
    answers = tmp_path / "ab.csv"
    _write_export(answers, rows)
    # A scorer that prefers the good clips on every dimension except audio_quality (inverted).
    results = []
    for name, path in vids.items():
        good = name.endswith("good")
        scores = {d: (4.0 if good else 2.0) for d in DIMS}
        scores["audio_quality"] = 2.0 if good else 4.0
        results.append({"path": path, "scorer": "zero-shot", "status": "ok", "scores": scores})
    sfile = tmp_path / "results.json"
    sfile.write_text(json.dumps(results))

    res = analyze(
        answers, tmp_path / "out", scores=load_score_files([sfile]), n_resamples=50, seed=0
    )
    ag = res.agreement.set_index("dimension")
    assert ag.loc["lip_sync", "agreement"] == 1.0 and ag.loc["lip_sync", "n_pairs"] == 2
    assert ag.loc["audio_quality", "agreement"] == 0.0
    # overall: px has no majority (A/equal/B), py majority B (good) -> scorer agrees on 1 of 1.
    assert ag.loc["overall", "n_pairs"] == 1 and ag.loc["overall", "agreement"] == 1.0
    assert ag.loc["overall", "rater_agreement"] == pytest.approx(3 / 6)
    ir = res.inter_rater.set_index("dimension")
    assert ir.loc["lip_sync", "fleiss_kappa"] == pytest.approx(1.0)
    assert ir.loc["lip_sync", "pairwise_agreement"] == 1.0
    assert ir.loc["overall", "pairwise_agreement"] == pytest.approx(1 / 6)  # only (r1,r2) on py
    maj = res.majority.set_index(["pair", "dimension"])
    assert maj.loc[("px", "overall"), "majority"] == "none"
    assert maj.loc[("py", "lip_sync"), "majority"] == "B"
    bt = res.bt_methods[res.bt_methods["dimension"] == "lip_sync"].set_index("method")
    assert bt.loc["good", "strength"] > bt.loc["bad", "strength"]
    assert bt.loc["good", "n"] == 6
    names = {p.name for p in res.written}
    assert {"agreement.csv", "inter_rater.csv", "bt_videos.csv", "bt_methods.csv", "report.md",
            "analysis.json", "bradley_terry.png"} <= names  # fmt: skip
    png = (tmp_path / "out" / "bradley_terry.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Inter-rater agreement" in report and "bradley_terry.png" in report
