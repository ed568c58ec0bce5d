"""``tfqa bench speed``: throughput of the whole score pipeline and of each stage.

Runs in a fresh child process (so peak memory is the scoring's own), with
the feature cache off.  Run 1 includes loading the models (MediaPipe graph,
DNSMOS and VAD sessions); runs 2..n are what a batch of clips costs per
clip.  Reported: median wall time, frames/s, real-time factor (clip seconds
per wall second; ">= 5x" means a 10-s clip scores in <= 2 s), per-stage
medians, the child's import time and its peak resident memory.

Several frame-pass thread counts (``workers``) are timed in the same child,
their runs interleaved, so that a noisy machine affects them alike.  With
more than one worker the stages overlap, and a stage's time is the time the
frame pass waited for it, not its CPU time.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_CLIP = {"duration_s": 10.0, "size": 512, "fps": 25.0, "seed": 0}


def _child(path: str, repeats: int, workers: list[int], scorer_name: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    from tfqa.scoring import create_scorer

    scorers = {w: create_scorer(scorer_name, cache=False, workers=w) for w in workers}
    t_import = time.perf_counter() - t0
    runs: dict[int, list[dict[str, Any]]] = {w: [] for w in workers}
    res = None
    for _ in range(repeats):
        for w in workers:  # interleaved: w1, w2, w1, w2, ...
            t = time.perf_counter()
            res = scorers[w].score(path)
            wall = time.perf_counter() - t
            runs[w].append(
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
        "scores": res.scores if res is not None else {},
    }


def run_speed_bench(
    clip: str | Path | None = None,
    *,
    repeats: int = 3,
    workers: list[int] | None = None,
    scorer: str | None = None,
    console=None,
) -> dict[str, Any]:
    """Time ``repeats`` scorings of ``clip`` (default: a synthesised 10-s 512x512 25 fps clip).

    Args:
        workers: frame-pass thread counts to compare (default: the pipeline's default);
            the first is the headline figure.
        scorer: scorer name (default: tfqa's default scorer, as ``tfqa score`` uses).
    """
    from tfqa.features.pipeline import default_workers
    from tfqa.scoring import DEFAULT_SCORER

    workers = list(dict.fromkeys(workers or [default_workers()]))
    scorer = scorer or DEFAULT_SCORER
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
            child = pool.submit(_child, str(clip), max(1, repeats), workers, scorer).result()
    finally:
        if tmp is not None:
            tmp.cleanup()
    by_workers = {w: _summary(runs) for w, runs in child["runs"].items()}
    head = by_workers[workers[0]]
    result = {
        "clip": str(clip),
        "resolution": f"{info.width}x{info.height}",
        "fps": info.fps,
        "scorer": scorer,
        "workers": workers[0],
        "cpu_count": os.cpu_count(),
        **head,
        "by_workers": {str(w): v for w, v in by_workers.items()},
        "import_s": child["import_s"],
        "peak_rss_mb": child["peak_rss_mb"],
    }
    if console is not None:
        _print(result, console)
    return result


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    warm = runs[1:] or runs
    duration = runs[0]["n_frames"] / 25.0
    med_wall = statistics.median(r["wall_s"] for r in warm)
    stages = sorted({k for r in warm for k in r["stages"]})
    return {
        "duration_s": duration,
        "repeats": len(runs),
        "first_run_s": runs[0]["wall_s"],
        "median_wall_s": med_wall,
        "frames_per_s": runs[0]["n_frames"] / med_wall,
        "realtime_factor": duration / med_wall,
        "stage_median_s": {
            k: statistics.median(r["stages"].get(k, 0.0) for r in warm) for k in stages
        },
        "all_wall_s": [r["wall_s"] for r in runs],
    }


def _print(r: dict[str, Any], console) -> None:
    from rich.table import Table

    t = Table(
        title=f"tfqa score speed ({r['scorer']}): {Path(r['clip']).name} ({r['resolution']}, "
        f"{r['fps']:g} fps, {r['duration_s']:.1f} s)"
    )
    t.add_column("stage")
    by = r["by_workers"]
    for w in by:
        t.add_column(f"{w} worker{'s' if w != '1' else ''}: median s", justify="right")
        t.add_column("x real time", justify="right")
    stages = [k for k in next(iter(by.values()))["stage_median_s"] if k != "total"]
    for k in stages:
        cells = []
        for v in by.values():
            s = v["stage_median_s"].get(k, 0.0)
            cells += [f"{s:.3f}", f"{v['duration_s'] / s:.1f}" if s > 0 else "—"]
        t.add_row(k, *cells)
    cells = []
    for v in by.values():
        cells += [f"[bold]{v['median_wall_s']:.3f}", f"[bold]{v['realtime_factor']:.1f}"]
    t.add_row("[bold]end to end (median of warm runs)", *cells)
    console.print(t)
    for w, v in by.items():
        console.print(
            f"workers {w}: frames/s {v['frames_per_s']:.0f} · first run (loads models) "
            f"{v['first_run_s']:.2f} s · runs {[round(x, 3) for x in v['all_wall_s']]}"
        )
    console.print(
        f"imports {r['import_s']:.1f} s · peak RSS {r['peak_rss_mb']:.0f} MB (all runs) · "
        f"{r['cpu_count']} CPUs"
    )
