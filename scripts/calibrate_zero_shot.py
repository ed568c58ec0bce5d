"""Measure where each piece of evidence sits on real talking-face recordings (and on
unrelated audio), to document and check the anchors of src/tfqa/calibration.py.

Run: .venv/bin/python scripts/calibrate_zero_shot.py [../shared/data/clips] [--out calib.json]
Prints percentiles of every evidence value over the real clips, the generated clips, and
the sync evidence when each real clip's audio is replaced by another clip's (the null).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tfqa.features.sync import estimate_offset, load_sync_model
from tfqa.io import load_audio
from tfqa.scoring import collect_evidence, create_scorer

KEYS = (
    "av_offset_ms", "sync_confidence", "sync_peak_corr", "mouth_open_std", "mouth_speech_silence_ratio",
    "frozen_ratio", "landmark_jitter", "blink_rate_per_min", "head_motion_deg_s", "dnsmos_ovrl",
    "dnsmos_p808", "clipping_ratio", "bandwidth_hz", "snr_db", "sharpness", "mouth_sharpness",
    "blockiness", "noise_sigma", "temporal_flicker",
)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/data/clips"))
    ap.add_argument("--out", default="calibration-evidence.json")
    args = ap.parse_args()
    scorer = create_scorer("zero-shot")
    ev: dict[str, list[dict]] = {"real": [], "generated": []}
    faces = {}
    for group in ev:
        for p in sorted((Path(args.root) / group).glob("*.mp4")):
            feats = scorer.pipeline.extract(p)
            e = collect_evidence(feats)
            e["clip"] = p.name
            ev[group].append(e)
            if group == "real":
                faces[p] = feats.blocks["face"]
    # null: each real clip's mouth against the next clip's audio
    model = load_sync_model()
    paths = sorted(faces)
    null = []
    for i, p in enumerate(paths):
        face = faces[p]
        other = load_audio(paths[(i + 7) % len(paths)]).samples
        n = len(face.sequences["mouth"]) * 640
        other = np.resize(other, n)  # loop the other clip's audio to the same length
        est = estimate_offset(face.sequences["mouth"], face.columns["mouth"],
                              face.sequences["present"][:, 0] > 0.5, other, model=model)  # fmt: skip
        null.append({"sync_confidence": est["confidence"], "sync_peak_corr": est["peak_corr"]})
    ev["null_mismatched_audio"] = null
    table = {}
    for group, rows in ev.items():
        table[group] = {}
        for k in KEYS:
            vals = np.array([r.get(k, np.nan) for r in rows], float)
            vals = vals[np.isfinite(vals)]
            if len(vals):
                table[group][k] = {q: float(np.percentile(vals, q)) for q in (5, 10, 25, 50, 75, 90, 95)}
    for k in KEYS:
        line = f"{k:28s}"
        for group in table:
            if k in table[group]:
                t = table[group][k]
                line += f" | {group[:4]} p5 {t[5]:9.4g} p50 {t[50]:9.4g} p95 {t[95]:9.4g}"
        print(line)
    Path(args.out).write_text(json.dumps({"percentiles": table, "clips": ev}, indent=1, default=float))


if __name__ == "__main__":
    main()
