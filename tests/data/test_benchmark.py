"""make-benchmark: groups, a deterministic balanced plan, resumable builds, bad sources skipped."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfqa.data import labels as lab
from tfqa.data.benchmark import (
    BenchmarkConfig,
    _bin,
    assign_groups,
    discover_sources,
    plan_variants,
    run_benchmark,
)
from tfqa.data.degrade import check_combination, get_family
from tfqa.data.degrade_prepare import PreparedClip
from tfqa.data.manifest import load_manifest


def test_groups_join_the_same_person_only():
    groups = assign_groups(
        ["real_obama_edtalk", "real_hyperlips_video2", "real_may_5s", "real_grid_x"]
    )
    assert groups["real_obama_edtalk"] == groups["real_hyperlips_video2"] == "obama"
    assert groups["real_may_5s"] == "real_may_5s" and groups["real_grid_x"] == "real_grid_x"


def test_a_voice_link_joins_two_people_only_when_the_linking_clip_is_there():
    pair = ["real_styletalk_andrew_20s", "real_styletalk_reagan_20s"]
    assert len(set(assign_groups(pair).values())) == 2
    linked = assign_groups([*pair, "gen_styletalk_demo_20s"])
    assert len(set(linked.values())) == 1


def test_kinds_come_from_the_manifest_or_the_folder(tmp_path):
    for sub, name in (("real", "a.mp4"), ("generated", "b.mp4"), ("other", "c.mp4")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / name).write_bytes(b"x")
    (tmp_path / "MANIFEST.csv").write_text("file,set\nother/c.mp4,generated\n")
    kinds = {s.name: s.kind for s in discover_sources([tmp_path])}
    assert kinds == {"a": "real", "b": "generated", "c": "generated"}


def _fake_clips(n_sources=8) -> list[PreparedClip]:
    rng = np.random.default_rng(0)
    clips = []
    for k in range(n_sources):
        n_seg = 1 + k % 3
        for s in range(n_seg):
            name = f"src{k}" if n_seg == 1 else f"src{k}__seg{s}"
            clips.append(PreparedClip(name, Path(f"{name}.mp4"), f"src{k}", "", "real", s, n_seg,
                                      150, 256, 256, 18, float(rng.uniform(90, 220)), 0.8, 1.0))  # fmt: skip
    return clips


def _plan(seed=0, per_source=30):
    clips = _fake_clips()
    groups = {c.source: c.source for c in clips}
    return plan_variants(clips, groups, per_source, seed)


def test_plan_is_deterministic_for_a_seed():
    a, b, c = _plan(0, 12), _plan(0, 12), _plan(1, 12)
    key = [(p.id, tuple(d.to_dict()["family"] for d in p.degradations), p.seed) for p in a]
    assert key == [(p.id, tuple(d.to_dict()["family"] for d in p.degradations), p.seed) for p in b]
    assert [p.labels for p in a] == [p.labels for p in b]
    assert [p.degradations for p in a] != [p.degradations for p in c]


def test_plan_counts_clean_variants_and_slots():
    plans = _plan()
    per_source = Counter(p.clip.source for p in plans)
    assert set(per_source.values()) == {30}
    clean = [p for p in plans if p.is_clean]
    assert len(clean) == len(_fake_clips())  # one clean variant per segment
    for p in plans:
        check_combination(p.degradations)  # never two of one slot
        assert len(p.degradations) <= 3


def test_plan_spreads_every_label_over_the_scale():
    plans = _plan(per_source=60)
    for dim in lab.DIMENSIONS:
        hist = np.bincount([_bin(p.labels[dim]) for p in plans], minlength=5) / len(plans)
        assert (hist > 0.04).sum() >= 4, (dim, hist)  # at least 4 of the 5 bins are used
        assert hist.max() < 0.6, (dim, hist)  # not everything at 5 (or at 1)
    used = Counter(d.family for p in plans for d in p.degradations)
    assert all(used[f] > 0 for f in used) and len(used) >= 20


def test_voice_donors_are_of_the_same_kind_and_same_person_means_the_same_voice():
    clips = _fake_clips()
    clips = [c if c.source not in ("src0", "src1") else dataclasses.replace(c, kind="synth")
             for c in clips]  # fmt: skip
    groups = {c.source: c.source for c in clips}
    groups.update(src3="p", src4="p")  # two real clips of one person
    kind = {c.name: c.kind for c in clips}
    source = {c.name: c.source for c in clips}
    for p in plan_variants(clips, groups, 60, 0):
        for d in p.degradations:
            if d.family == "other_voice":
                assert kind[d.extra["donor"]] == p.clip.kind
                assert groups[source[d.extra["donor"]]] != p.group
            if d.family == "same_person_audio":
                donor = d.extra["donor"]
                assert source[donor] == p.clip.source or (
                    groups[source[donor]] == p.group and kind[donor] == "real"
                )


def test_plan_labels_come_from_the_rules():
    for p in _plan()[:40]:
        expected = lab.label([d.to_dict() for d in p.degradations], lab.ClipFacts("real", 150))
        assert p.labels == expected


# -- end to end (tiny: two 2.4-s synthesised sources and one broken file) ------------------------
@pytest.fixture(scope="module")
def source_dir(synth_clip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    shutil.copy(synth_clip("bench_a", duration_s=2.4, size=160, seed=5), folder / "a.mp4")
    shutil.copy(
        synth_clip("bench_b", duration_s=2.4, size=160, seed=6, speaker="female"), folder / "b.mp4"
    )
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    return folder


class _Stop(Exception):
    pass


def _config(source_dir, out, cache):
    return BenchmarkConfig(
        sources=(source_dir,), out=out, seed=3, variants_per_source=4, cache_dir=cache
    )


def test_build_resume_and_bad_source(source_dir, tmp_path):
    cache = tmp_path / "cache"
    fresh = run_benchmark(_config(source_dir, tmp_path / "fresh", cache))
    assert list(fresh.failed_sources) == [str(source_dir / "broken.mp4")]
    assert fresh.n_variants == 8 and fresh.n_groups == 2 and not fresh.failed_variants
    df = load_manifest(fresh.manifest)  # the learning stack's validator accepts it
    raw = pd.read_csv(fresh.manifest, keep_default_na=False)
    assert set(raw["split"]) == {""} and raw["degradations"].str.startswith("[").all()
    assert df[list(lab.DIMENSIONS)].to_numpy().min() >= 1.0
    assert (raw["families"] == "").sum() == 2  # one clean variant per source

    # interrupted after the first rendered variant: no manifest yet, the log has the progress
    out = tmp_path / "resumed"
    rendered = []

    def stop_after_one(stage, done, total, current):
        if stage == "rendering" and current:
            rendered.append(current)
            raise _Stop

    with pytest.raises(_Stop):
        run_benchmark(_config(source_dir, out, cache), progress=stop_after_one)
    assert not (out / "manifest.csv").exists() and len(rendered) == 1
    resumed = run_benchmark(_config(source_dir, out, cache))
    assert resumed.n_rendered == 5 and resumed.n_skipped == 3  # 2 clean + the 1 done before
    assert (out / "manifest.csv").read_bytes() == fresh.manifest.read_bytes()
    for rel in raw["video"]:
        assert (out / rel).read_bytes() == (tmp_path / "fresh" / rel).read_bytes(), rel
    again = run_benchmark(_config(source_dir, out, cache))
    assert (
        again.n_rendered == 0 and (out / "manifest.csv").read_bytes() == fresh.manifest.read_bytes()
    )
    log = (out / "log.jsonl").read_text()
    assert '"event": "source_failed"' in log and '"event": "rendered"' in log

    # another seed in the same folder: no file of the old plan is reused, and they are pruned
    other = run_benchmark(BenchmarkConfig(sources=(source_dir,), out=out, seed=4,
                                          variants_per_source=4, cache_dir=cache))  # fmt: skip
    assert other.n_rendered == 6
    kept = {str(p.relative_to(out)) for p in (out / "variants").rglob("*.mp4")}
    new_rows = pd.read_csv(other.manifest, keep_default_na=False)
    assert kept == {v for v in new_rows["video"] if v.startswith("variants/")}


def test_config_is_validated(tmp_path):
    from tfqa.errors import ConfigError

    with pytest.raises(ConfigError):
        BenchmarkConfig(sources=(), out=tmp_path)
    with pytest.raises(ConfigError):
        BenchmarkConfig(sources=(tmp_path,), out=tmp_path, variants_per_source=0)
    assert get_family("blur").media == "video"
