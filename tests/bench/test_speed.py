"""Speed bench plumbing: both worker settings timed in one child, per-stage medians reported.

Nothing here asserts a speed (benchmarks measure, tests check): only that the
bench runs end to end and reports what it says it reports.
"""

from __future__ import annotations

from tfqa.bench.speed import run_speed_bench


def test_speed_bench_compares_worker_settings_in_one_run(synth_clip):
    clip = synth_clip("clean")
    r = run_speed_bench(clip, repeats=2, workers=[2, 1], scorer="zero-shot")
    assert r["scorer"] == "zero-shot" and r["workers"] == 2
    assert set(r["by_workers"]) == {"2", "1"}
    for v in r["by_workers"].values():
        assert v["repeats"] == 2 and len(v["all_wall_s"]) == 2
        assert v["duration_s"] == 6.0
        assert v["realtime_factor"] == v["duration_s"] / v["median_wall_s"]
        assert {"face_mesh", "visual_quality", "audio", "decode_video", "scoring"} <= set(
            v["stage_median_s"]
        )
    assert r["median_wall_s"] == r["by_workers"]["2"]["median_wall_s"]
    assert r["peak_rss_mb"] > 100
