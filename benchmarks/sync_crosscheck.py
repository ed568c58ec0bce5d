"""Cross-check of each clip's own A/V offset with a method that shares nothing learned with tfqa.

`tfqa bench sync` reads, for every real clip, the clip's *own* offset (before any shift), and
explains its literal misses by clips that are themselves out of sync.  This script asks a crude,
independent estimator the same question: the lag (±15 frames) that maximises the correlation of
the frame-to-frame change of the inner-lip opening (MediaPipe landmarks 13/14) with the change
of the log speech-band (300–3400 Hz) envelope.  No ridge model, no band-pass of the mouth signal,
no confidence gate — it is noisy (GRID's rhythmic carrier sentences give several peaks), so only
agreement is informative: where both read the same non-zero offset, the clip really is offset.

    .venv/bin/python benchmarks/sync_crosscheck.py ../shared/data/clips/real --sync-json bench-sync.json

Positive offsets: the audio lags the video (tfqa's convention).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tfqa.data.own_offset import decide, measure_clip  # the estimators live in the package


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", type=Path, help="folder of clips (or one clip)")
    ap.add_argument(
        "--sync-json", type=Path, help="bench-sync.json of `tfqa bench sync` to compare"
    )
    ap.add_argument("--cache-dir", type=Path, help="feature cache folder")
    ap.add_argument("--out", type=Path, default=Path("sync-crosscheck.json"))
    args = ap.parse_args(argv)

    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline

    paths = sorted(args.clips.glob("*.mp4")) if args.clips.is_dir() else [args.clips]
    own = {}
    if args.sync_json:
        own = {
            c["clip"]: c["own_offset_frames"]
            for c in json.loads(args.sync_json.read_text())["clips"]
        }
    cache = FeatureCache(args.cache_dir) if args.cache_dir else None
    pipe = FeaturePipeline(["face_mesh", "face"], cache=cache)
    rows = []
    for p in paths:
        seg = measure_clip(p, pipe)  # tfqa's estimate and the crude one, on the whole clip
        lag, r = int(seg.crude_frames), seg.crude_corr
        row = {"clip": p.name, "crude_offset_frames": lag, "crude_corr": round(r, 3),
               "tfqa_whole_clip_frames": seg.tfqa_frames,
               "counted_in_labels_frames": decide(seg.tfqa_frames, seg.crude_frames)}  # fmt: skip
        if p.name in own:
            row["tfqa_own_offset_frames"] = int(round(own[p.name]))
            row["agree_within_1"] = abs(row["tfqa_own_offset_frames"] - lag) <= 1
        rows.append(row)
        print(
            f"{p.name:40s} crude {lag:+3d} (r={r:.2f})"
            + (
                f"  tfqa {row['tfqa_own_offset_frames']:+3d}"
                if "tfqa_own_offset_frames" in row
                else ""
            ),
            flush=True,
        )
    both = [r for r in rows if "agree_within_1" in r]
    offset = [r for r in both if abs(r["tfqa_own_offset_frames"]) >= 2]
    summary = {
        "clips": len(rows),
        "agree_within_1": sum(r["agree_within_1"] for r in both),
        "tfqa_offset_ge_2": len(offset),
        "tfqa_offset_ge_2_confirmed": sum(r["agree_within_1"] for r in offset),
    }
    print(json.dumps(summary))
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
