"""What interlacing does to the scores, with and without tfqa's deinterlacer.

Each clip is re-encoded twice from its decoded frames and audio: progressive, and interlaced
(frame k's bottom field woven with frame k+1's top field, coded as interlaced H.264 — a harsh
case: the fields of real 50i video are half a frame period apart, these a whole one).  The
default scorer then scores the progressive copy, the interlaced copy as tfqa reads it
(deinterlaced by FFmpeg's bwdif) and the interlaced copy with the deinterlacer bypassed (what
tfqa did before), all with the feature cache off:

    .venv/bin/python benchmarks/interlace.py ../shared/data/clips/real --limit 12

Prints, per dimension and arm, the mean difference from the progressive copy's score with its
95 % bootstrap interval, the mean and median absolute difference, and writes JSON.
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


def reencode(src: Path, out_dir: Path) -> dict[str, Path]:
    from tfqa.io.audio import load_audio
    from tfqa.io.video import FrameStream
    from tfqa.io.writer import write_clip

    frames = [g.rgb for g in FrameStream(src, max_side=1 << 16) for _ in g.grid]
    audio = load_audio(src)
    woven = []
    for a, b in zip(frames, frames[1:] + frames[-1:], strict=True):
        w = b.copy()
        w[1::2] = a[1::2]  # bottom field first (how the writer codes interlaced frames)
        woven.append(w)
    return {
        "progressive": write_clip(
            out_dir / f"{src.stem}_p.mp4", frames, 25, audio.samples, audio.sample_rate
        ),
        "interlaced": write_clip(
            out_dir / f"{src.stem}_i.mp4",
            woven,
            25,
            audio.samples,
            audio.sample_rate,
            interlaced=True,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", type=Path, help="folder of clips (or one clip)")
    ap.add_argument("--limit", type=int, default=0, help="the first N clips only (0: all)")
    ap.add_argument("--out", type=Path, default=Path("interlace.json"))
    args = ap.parse_args(argv)

    import tfqa.io.video as video
    from tfqa import create_scorer

    paths = sorted(args.clips.glob("*.mp4")) if args.clips.is_dir() else [args.clips]
    paths = paths[: args.limit] if args.limit else paths
    scorer = create_scorer(cache=False)
    deinterlace = video.filtered

    def bypass(graph, frame):  # the frames as decoded, combing and all
        return [] if frame is None else [frame]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            copies = reencode(path, Path(tmp))
            row: dict = {"clip": path.name}
            for arm, copy, fn in (
                ("progressive", copies["progressive"], deinterlace),
                ("deinterlaced", copies["interlaced"], deinterlace),
                ("combed", copies["interlaced"], bypass),
            ):
                video.filtered = fn
                try:
                    res = scorer.score(copy)
                finally:
                    video.filtered = deinterlace
                row[arm] = {d: res.scores[d] for d in DIMS} if res.status == "ok" else None
            rows.append(row)
            print(
                path.name, {a: row[a] and round(row[a]["overall"], 2) for a in row if a != "clip"}
            )
    ok = [r for r in rows if all(r[a] for a in ("progressive", "deinterlaced", "combed"))]
    stats = {**mean_ci_stats(), "mean |Δ|": lambda v: np.mean(np.abs(v)),
             "median |Δ|": lambda v: np.median(np.abs(v))}  # fmt: skip
    summary = {
        f"{arm}, {name}": {
            d: float(fn(np.array([r[arm][d] - r["progressive"][d] for r in ok]))) for d in DIMS
        }
        for arm in ("deinterlaced", "combed")
        for name, fn in stats.items()
    }
    print_dim_table(f"score - progressive score (Δ) over {len(ok)} clips", summary, 26)
    args.out.write_text(json.dumps({"summary": summary, "clips": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
