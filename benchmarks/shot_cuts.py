"""What a shot cut between two people does to the scores (README: "Messy video").

Pairs of clips (clip i and clip i+1 of every third clip of the folder) are cut to 5 s each,
brought to one size, and scored alone and joined (A then B, one cut, their audio joined the
same way), with the default scorer and the feature cache off:

    .venv/bin/python benchmarks/shot_cuts.py ../shared/data/clips/real --pairs 8

Prints each pair's scores and, per dimension, the mean of (joined - mean of the two alone) with
its 95 % bootstrap interval, and its median; writes JSON.  Scores of the joined clip are not
expected to equal the mean exactly (longer audio windows, one offset for both), but a cut should
not move a dimension by itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

# _table: a sibling module (benchmarks run as scripts)
from _table import DIMS, mean_ci_stats, print_dim_table

SIDE = 384
SECONDS = 5


def segment(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    import cv2

    from tfqa.io.audio import load_audio
    from tfqa.io.constants import ANALYSIS_RATE
    from tfqa.io.video import FrameStream

    n = SECONDS * ANALYSIS_RATE
    frames = [cv2.resize(g.rgb, (SIDE, SIDE)) for g in FrameStream(path) for _ in g.grid][:n]
    audio = load_audio(path)
    per_frame = audio.sample_rate // ANALYSIS_RATE
    return frames, audio.samples[: len(frames) * per_frame]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", type=Path, help="folder of clips")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("shot-cuts.json"))
    args = ap.parse_args(argv)

    from tfqa import create_scorer
    from tfqa.io.constants import SAMPLE_RATE
    from tfqa.io.writer import write_clip

    clips = sorted(args.clips.glob("*.mp4"))
    pairs = [(clips[i], clips[i + 1]) for i in range(0, len(clips) - 1, 3)][: args.pairs]
    scorer = create_scorer(cache=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for a, b in pairs:
            (fa, xa), (fb, xb) = segment(a), segment(b)
            parts = {"A": (fa, xa), "B": (fb, xb), "AB": (fa + fb, np.concatenate([xa, xb]))}
            res = {}
            for name, (frames, x) in parts.items():
                clip = write_clip(Path(tmp) / f"{name}.mp4", frames, 25, x, SAMPLE_RATE)
                res[name] = scorer.score(clip)
            if any(r.status != "ok" for r in res.values()):
                print(a.name, b.name, "not scored:", [r.error for r in res.values() if r.error])
                continue
            row = {"clip_A": a.name, "clip_B": b.name}
            row.update({k: {d: r.scores[d] for d in DIMS} for k, r in res.items()})
            row["warnings_AB"] = res["AB"].warnings
            rows.append(row)
            print(a.name, b.name, {d: tuple(round(row[k][d], 2) for k in parts) for d in DIMS})
    diffs = {d: [r["AB"][d] - (r["A"][d] + r["B"][d]) / 2 for r in rows] for d in DIMS}
    delta = {how: {d: float(fn(v)) for d, v in diffs.items()} for how, fn in
             (*mean_ci_stats().items(), ("median Δ", np.median))}  # fmt: skip
    print_dim_table(f"joined - mean(A, B) over {len(rows)} pairs:", delta, 14)
    args.out.write_text(json.dumps({"delta": delta, "pairs": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
