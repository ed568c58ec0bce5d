"""Analysis of an exported A/B study (``ab_eval_results.csv``).

Per dimension: the human majority of each pair and how often each scorer agrees with it;
inter-rater agreement (Fleiss' κ, Krippendorff's α, raw pairwise agreement);
Bradley–Terry strengths of each video and each method with bootstrap CIs; a plot.
Scorer choices come from score differences: ``|score_a - score_b| <= tie_margin`` counts
as "equal".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tfqa.errors import ConfigError
from tfqa.scoring import DIMENSIONS
from tfqa.service.study.agreement import bt_bootstrap, fleiss_kappa, krippendorff_alpha_nominal

REQUIRED = ("rater", "pair", "dimension", "choice")
CHOICE_CODES = {"A": 0, "B": 1, "equal": 2}


@dataclass
class StudyAnalysis:
    """Tables of one analysis (pandas DataFrames) and where they were written."""

    majority: pd.DataFrame
    agreement: pd.DataFrame
    inter_rater: pd.DataFrame
    bt_videos: pd.DataFrame
    bt_methods: pd.DataFrame
    written: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def recs(df: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.to_json(orient="records"))

        return {
            "majority": recs(self.majority),
            "agreement": recs(self.agreement),
            "inter_rater": recs(self.inter_rater),
            "bt_videos": recs(self.bt_videos),
            "bt_methods": recs(self.bt_methods),
        }


def read_answers(csv_path: str | Path) -> pd.DataFrame:
    """Load an export and check its columns and values."""
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ConfigError(
            f"{csv_path}: missing column(s) {', '.join(missing)}",
            hint="Expected the output of `tfqa study export`",
        )
    bad = sorted(set(df["choice"]) - set(CHOICE_CODES))
    if bad:
        raise ConfigError(f"{csv_path}: unknown choice(s) {bad}; expected A, B or equal")
    return df


def human_majority(df: pd.DataFrame) -> pd.DataFrame:
    """Per (pair, dimension): answer counts and the majority (``none`` when the top is tied)."""
    counts = (
        df.groupby(["pair", "dimension"])["choice"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=list(CHOICE_CODES), fill_value=0)
    )
    top = counts.max(axis=1)
    n_top = counts.eq(top, axis=0).sum(axis=1)
    majority = counts.idxmax(axis=1).where(n_top == 1, "none")
    out = counts.rename(columns={"A": "n_A", "B": "n_B", "equal": "n_equal"})
    out["n_raters"] = counts.sum(axis=1)
    out["majority"] = majority
    return out.reset_index()


def scorer_choice(score_a: float, score_b: float, tie_margin: float) -> str:
    if not (np.isfinite(score_a) and np.isfinite(score_b)):
        return "missing"
    if abs(score_a - score_b) <= tie_margin:
        return "equal"
    return "A" if score_a > score_b else "B"


def scorer_agreement(
    df: pd.DataFrame,
    majority: pd.DataFrame,
    scores: dict[str, dict[str, dict[str, float]]],
    tie_margin: float,
) -> pd.DataFrame:
    """Agreement of each scorer with the human majority, per dimension.

    ``scores`` is ``{scorer: {video path: {dimension: score}}}``.  Columns: ``agreement``
    (same of A/B/equal, over pairs with a majority), ``decisive_agreement`` (same winner, over
    pairs where both the majority and the scorer pick a winner), ``rater_agreement`` (share of
    individual answers the scorer matches).
    """
    videos = df.drop_duplicates("pair").set_index("pair")
    rows = []
    for name, by_path in scores.items():
        for dim in _dimensions(df):
            maj = majority[(majority["dimension"] == dim) & (majority["majority"] != "none")]
            picks = {}
            for pair in videos.index:
                sa = _lookup(by_path, videos.at[pair, "video_a"]).get(dim, np.nan)
                sb = _lookup(by_path, videos.at[pair, "video_b"]).get(dim, np.nan)
                picks[pair] = scorer_choice(sa, sb, tie_margin)
            m = maj.assign(scorer=maj["pair"].map(picks))
            m = m[m["scorer"] != "missing"]
            decisive = m[m["majority"].isin(["A", "B"]) & m["scorer"].isin(["A", "B"])]
            answers = df[df["dimension"] == dim]
            answered = answers["pair"].map(picks)
            valid = answered != "missing"
            rows.append(
                {
                    "scorer": name,
                    "dimension": dim,
                    "n_pairs": len(m),
                    "agreement": _share(m["scorer"] == m["majority"]),
                    "n_decisive": len(decisive),
                    "decisive_agreement": _share(decisive["scorer"] == decisive["majority"]),
                    "rater_agreement": _share(answers["choice"][valid] == answered[valid]),
                }
            )
    return pd.DataFrame(rows)


def _lookup(by_path: dict[str, dict[str, float]], video: str) -> dict[str, float]:
    """Scores of ``video``: by resolved path, else by file name when that is unambiguous."""
    if video in by_path:
        return by_path[video]
    name = Path(video).name
    hits = [v for k, v in by_path.items() if Path(k).name == name]
    return hits[0] if len(hits) == 1 else {}


def _share(mask: pd.Series) -> float:
    return float(mask.mean()) if len(mask) else float("nan")


def _dimensions(df: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(df["dimension"]))
    return [d for d in DIMENSIONS if d in present] + [d for d in present if d not in DIMENSIONS]


def inter_rater(df: pd.DataFrame) -> pd.DataFrame:
    """Per dimension: raters, Fleiss' κ (pairs rated by every rater), Krippendorff's α, raw agreement."""
    rows = []
    raters = sorted(set(df["rater"]))
    for dim in _dimensions(df):
        d = df[df["dimension"] == dim]
        wide = d.pivot_table(index="rater", columns="pair", values="choice", aggfunc="last")
        wide = wide.reindex(index=raters)
        codes = wide.apply(lambda col: col.map(CHOICE_CODES)).to_numpy(dtype=float)
        full = ~np.isnan(codes).any(axis=0)
        kappa = np.nan
        if len(raters) >= 2 and full.any():
            counts = np.stack(
                [(codes[:, full] == k).sum(axis=0) for k in range(len(CHOICE_CODES))], axis=1
            )
            kappa = fleiss_kappa(counts)
        rows.append(
            {
                "dimension": dim,
                "n_raters": len(raters),
                "n_pairs": codes.shape[1],
                "n_pairs_all_raters": int(full.sum()),
                "fleiss_kappa": kappa,
                "krippendorff_alpha": krippendorff_alpha_nominal(codes),
                "pairwise_agreement": _pairwise_agreement(codes),
            }
        )
    return pd.DataFrame(rows)


def _pairwise_agreement(codes: np.ndarray) -> float:
    """Share of rater pairs (over items) that gave the same answer."""
    same = total = 0
    for unit in codes.T:
        vals = unit[~np.isnan(unit)]
        for i in range(len(vals)):
            for j in range(i + 1, len(vals)):
                same += vals[i] == vals[j]
                total += 1
    return same / total if total else float("nan")


def bradley_terry(
    df: pd.DataFrame, by: str, *, n_resamples: int, seed: int, confidence: float = 0.95
) -> pd.DataFrame:
    """BT strength per item (``by`` = ``"video"`` or ``"method"``) and dimension, with CIs."""
    col_a, col_b = f"{by}_a", f"{by}_b"
    if col_a not in df.columns or col_b not in df.columns or not (df[col_a] != "").all():
        return pd.DataFrame(columns=["dimension", by, "strength", "ci_low", "ci_high", "n"])
    rows = []
    for k, dim in enumerate(_dimensions(df)):
        d = df[df["dimension"] == dim]
        same = d[col_a] == d[col_b]
        d = d[~same]  # two clips of one method say nothing about methods
        items = sorted(set(d[col_a]) | set(d[col_b]))
        idx = {v: i for i, v in enumerate(items)}
        a = d[col_a].map(idx).to_numpy()
        b = d[col_b].map(idx).to_numpy()
        choice = d["choice"].to_numpy()
        winners = np.where(choice == "B", b, a)
        losers = np.where(choice == "B", a, b)
        ties = choice == "equal"
        theta, low, high = bt_bootstrap(
            len(items), winners, losers, ties,
            n_resamples=n_resamples, confidence=confidence, seed=seed + k,
        )  # fmt: skip
        n_by_item = pd.concat([d[col_a], d[col_b]]).value_counts()
        for i, item in enumerate(items):
            rows.append(
                {"dimension": dim, by: item, "strength": theta[i], "ci_low": low[i],
                 "ci_high": high[i], "n": int(n_by_item.get(item, 0))}
            )  # fmt: skip
    return pd.DataFrame(rows)


def load_score_files(paths: Iterable[str | Path]) -> dict[str, dict[str, dict[str, float]]]:
    """``tfqa score -o results.json`` outputs -> ``{scorer: {resolved path: scores}}``."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for p in paths:
        data = json.loads(Path(p).read_text())
        records = data if isinstance(data, list) else [data]
        for rec in records:
            if rec.get("status", "ok") != "ok":
                continue
            name = rec.get("scorer") or Path(p).stem
            out.setdefault(name, {})[str(Path(rec["path"]).resolve())] = rec.get("scores", {})
    return out


def score_videos(
    videos: Iterable[str], scorers: Iterable[str], on_clip: Callable[[str], None] | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Score the study's videos with each named scorer (library call, feature cache on)."""
    from tfqa.scoring import create_scorer

    videos = sorted(set(videos))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in scorers:
        scorer = create_scorer(name)
        out[name] = {}
        for res in scorer.score_many(videos):
            if on_clip:
                on_clip(res.path)
            if res.status == "ok":
                out[name][str(Path(res.path).resolve())] = res.scores
    return out


def _resolve_video_columns(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in ("video_a", "video_b"):
        if col in df.columns:
            df[col] = df[col].map(lambda v: str(Path(v).resolve()) if v else v)
    if "video_a" in df.columns and "video_b" in df.columns:
        df["video_a_name"], df["video_b_name"] = (
            df["video_a"].map(lambda v: Path(v).name),
            df["video_b"].map(lambda v: Path(v).name),
        )
    return df


def analyze(
    answers_csv: str | Path,
    out_dir: str | Path,
    *,
    scores: dict[str, dict[str, dict[str, float]]] | None = None,
    tie_margin: float = 0.1,
    n_resamples: int = 200,
    seed: int = 0,
) -> StudyAnalysis:
    """Run the whole analysis and write CSV, Markdown, JSON and a PNG into ``out_dir``."""
    df = _resolve_video_columns(read_answers(answers_csv))
    majority = human_majority(df)
    agreement = (
        scorer_agreement(df, majority, scores, tie_margin)
        if scores and "video_a" in df.columns
        else pd.DataFrame()
    )
    bt_v = bradley_terry(df, "video", n_resamples=n_resamples, seed=seed)
    if len(bt_v):
        bt_v.insert(2, "name", bt_v["video"].map(lambda v: Path(v).name))
    result = StudyAnalysis(
        majority=majority,
        agreement=agreement,
        inter_rater=inter_rater(df),
        bt_videos=bt_v,
        bt_methods=bradley_terry(df, "method", n_resamples=n_resamples, seed=seed),
    )
    from tfqa.service.study.report import write_outputs

    result.written = write_outputs(
        result,
        Path(out_dir),
        meta={
            "answers": str(answers_csv),
            "n_answers": len(df),
            "n_raters": df["rater"].nunique(),
            "n_pairs": df["pair"].nunique(),
            "tie_margin": tie_margin,
            "n_resamples": n_resamples,
            "seed": seed,
        },
    )
    return result
