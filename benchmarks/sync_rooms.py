"""How well the sync estimator keeps a clip's offset when the speech is heard in a room or noise.

For every clip, tfqa's whole-clip A/V offset is read on the clean audio and again after the
audio went through a synthetic room (`tfqa.data.degrade_audio.reverberate`, the benchmark's
reverb family) or white noise at an SNR; a clip *keeps* its offset when the degraded reading
is within ±1 frame of the clean one.  Run it for the embedded sync model and any other model
file side by side (same clips, same seeded rooms):

    .venv/bin/python benchmarks/sync_rooms.py ../shared/data/clips/real \
        --model old=path/to/sync_ridge.npz --cache-dir CACHE

Prints the share of clips that keep their offset per condition and model, and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOMS_S = (0.3, 0.6, 1.0, 1.5, 2.5)  # the benchmark reverb family's levels
SNRS_DB = (10.0, 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", type=Path, help="folder of clips (or one clip)")
    ap.add_argument("--model", action="append", default=[], help="NAME=sync_model.npz (repeatable)")
    ap.add_argument("--cache-dir", type=Path, help="feature cache folder")
    ap.add_argument("--out", type=Path, default=Path("sync-rooms.json"))
    args = ap.parse_args(argv)

    from tfqa.data.degrade_audio import reverberate
    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline
    from tfqa.features.sync import estimate_offset, load_sync_model, sync_inputs
    from tfqa.features.sync_train import add_white_noise

    models = {"embedded": load_sync_model()}
    for spec in args.model:
        name, _, path = spec.partition("=")
        models[name] = load_sync_model(path)
    pipe = FeaturePipeline(["face_mesh", "face"], cache=FeatureCache(args.cache_dir))
    paths = sorted(args.clips.glob("*.mp4")) if args.clips.is_dir() else [args.clips]
    conditions = [("rt60", v) for v in ROOMS_S] + [("snr", v) for v in SNRS_DB]
    keeps: dict[str, dict[str, list[bool]]] = {m: {} for m in models}

    def offset(x, samples: np.ndarray, model) -> float:
        return estimate_offset(x.mouth, x.columns, x.present, samples, model=model)["offset_frames"]

    for path in paths:
        x = sync_inputs(pipe, path)
        for mname, model in models.items():
            clean = offset(x, x.samples, model)
            for k, (kind, value) in enumerate(conditions):
                rng = np.random.default_rng(k)  # the same room / noise for every model
                if kind == "rt60":
                    heard = reverberate(x.samples, value, rng)
                else:
                    heard = add_white_noise(x.samples, value, rng)
                keeps[mname].setdefault(f"{kind} {value:g}", []).append(
                    abs(offset(x, heard, model) - clean) <= 1
                )
        print(f"{path.name}", file=sys.stderr)
    table = {m: {c: float(np.mean(v)) for c, v in per.items()} for m, per in keeps.items()}
    print("share of clips keeping their clean offset (±1 frame), n =", len(paths))
    print(f"{'condition':12s}" + "".join(f"{m:>12s}" for m in models))
    for cond in next(iter(table.values())):
        print(f"{cond:12s}" + "".join(f"{table[m][cond]:12.2f}" for m in models))
    args.out.write_text(json.dumps({"n_clips": len(paths), "share_kept": table}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
