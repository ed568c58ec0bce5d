"""``tfqa bench speed``: throughput of the whole score pipeline and of each stage.

Runs in a fresh child process (so peak memory is the scoring's own), with
the feature cache off.  Run 1 includes loading the models (MediaPipe graph,
DNSMOS and VAD sessions); runs 2..n are what a batch of clips costs per
clip.  Reported: median wall time, frames/s, real-time factor (clip seconds
per wall second; ">= 5x" means a 10-s clip scores in <= 2 s), per-stage
medians, the child's import time and its peak resident memory.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_CLIP = {"duration_s": 10.0, "size": 512, "fps": 25.0, "seed": 0}


def _child(path: str, repeats: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    from tfqa.scoring import create_scorer

    scorer = create_scorer("zero-shot", cache=False)
    t_import = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        res = scorer.score(path)
        wall = time.perf_counter() - t
        runs.append(
            {
                "wall_s": wall,
                "stages": res.timings,
                "n_frames": int(round(res.evidence["duration_s"] * 25)),
            }
        )
    return {
        "import_s": t_import,
        "runs": runs,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "scores": res.scores,
    }


def run_speed_bench(
    clip: str | Path | None = None, *, repeats: int = 3, console=None
) -> dict[str, Any]:
    """Time ``repeats`` scorings of ``clip`` (default: a synthesised 10-s 512x512 25 fps clip)."""
    tmp = None
    if clip is None:
        from tfqa.synth import SynthSpec, synthesize

        tmp = tempfile.TemporaryDirectory(prefix="tfqa-bench-")
        clip = synthesize(SynthSpec(**DEFAULT_CLIP), Path(tmp.name) / "bench_512.mp4").path
    from tfqa.io import probe

    info = probe(clip)
    try:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            child = pool.submit(_child, str(clip), max(1, repeats)).result()
    finally:
        if tmp is not None:
            tmp.cleanup()
    runs = child["runs"]
    warm = runs[1:] or runs
    duration = runs[0]["n_frames"] / 25.0
    med_wall = statistics.median(r["wall_s"] for r in warm)
    stages = sorted({k for r in warm for k in r["stages"]})
    stage_med = {k: statistics.median(r["stages"].get(k, 0.0) for r in warm) for k in stages}
    result = {
        "clip": str(clip),
        "resolution": f"{info.width}x{info.height}",
        "fps": info.fps,
        "duration_s": duration,
        "repeats": len(runs),
        "first_run_s": runs[0]["wall_s"],
        "median_wall_s": med_wall,
        "frames_per_s": runs[0]["n_frames"] / med_wall,
        "realtime_factor": duration / med_wall,
        "stage_median_s": stage_med,
        "import_s": child["import_s"],
        "peak_rss_mb": child["peak_rss_mb"],
        "all_wall_s": [r["wall_s"] for r in runs],
    }
    if console is not None:
        _print(result, console)
    return result


def _print(r: dict[str, Any], console) -> None:
    from rich.table import Table

    t = Table(
        title=f"tfqa score speed: {Path(r['clip']).name} ({r['resolution']}, {r['fps']:g} fps, {r['duration_s']:.1f} s)"
    )
    t.add_column("stage")
    t.add_column("median s", justify="right")
    t.add_column("x real time", justify="right")
    for k, v in r["stage_median_s"].items():
        if k == "total":
            continue
        t.add_row(k, f"{v:.3f}", f"{r['duration_s'] / v:.1f}" if v > 0 else "—")
    t.add_row("[bold]end to end (median of warm runs)", f"[bold]{r['median_wall_s']:.3f}",
              f"[bold]{r['realtime_factor']:.1f}")  # fmt: skip
    console.print(t)
    console.print(
        f"frames/s {r['frames_per_s']:.0f} · first run (loads models) {r['first_run_s']:.2f} s · "
        f"imports {r['import_s']:.1f} s · peak RSS {r['peak_rss_mb']:.0f} MB · runs {r['all_wall_s']}"
    )
