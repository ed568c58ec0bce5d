"""Shot cuts: known answers on change sequences, and a real cut between two people."""

from __future__ import annotations

import numpy as np
import pytest

from tfqa.errors import ConfigError
from tfqa.features.visual_quality import ShotsConfig, shot_cuts

CFG = ShotsConfig()


def _cuts(diff, repeat=None, new_frame=None):
    diff = np.asarray(diff, dtype=np.float32)
    n = len(diff)
    repeat = np.zeros(n) if repeat is None else np.asarray(repeat, dtype=np.float32)
    new_frame = np.ones(n, bool) if new_frame is None else np.asarray(new_frame, bool)
    return shot_cuts(diff, new_frame, repeat, CFG)


def test_one_cut_is_found_where_it_is():
    diff = np.full(150, 0.5)
    diff[75] = 30.0
    assert _cuts(diff) == [75]


def test_motion_and_short_shots_are_not_cuts():
    fast = np.full(150, 8.0)
    fast[50] = 26.0  # the largest change in a single-shot shared clip: 2.6x its neighbourhood
    assert _cuts(fast) == []
    early = np.full(150, 0.5)
    early[10] = 30.0  # would leave a 0.4-s first shot
    late = np.full(150, 0.5)
    late[140] = 30.0
    assert _cuts(early) == [] and _cuts(late) == []
    two = np.full(150, 0.5)
    two[[60, 70]] = 30.0  # the second would leave a 10-frame shot: one cut kept
    assert _cuts(two) == [60]


def test_repeated_and_held_frames_do_not_set_the_neighbourhood():
    """Every other frame repeats its predecessor (change 0): the neighbourhood is the moving
    frames' change (3), so a change of 25 is not 10x it; held grid slots are not frames."""
    diff = np.tile([3.0, 0.0], 75)
    repeat = np.tile([0.0, 1.0], 75)
    diff[76] = 25.0
    repeat[76] = 0.0
    assert _cuts(diff, repeat) == []
    assert _cuts(diff) != []  # counting the repeats as motion would call it a cut
    held = np.full(150, 0.5)
    held[75:78] = 30.0  # one decoded frame held over three slots
    new_frame = np.ones(150, bool)
    new_frame[76:78] = False
    assert _cuts(held, new_frame=new_frame) == [75]


def test_bad_config_is_refused():
    with pytest.raises(ConfigError, match="min_ratio"):
        ShotsConfig(min_ratio=0.5)


GRID_SPEAKERS = ("real_grid_sbia1a", "real_grid_swiz3n")


def _grid_parts(shared_clips, tmp_path, delay_b: int = 0):
    """Two GRID speakers' first 3 s at 256x256 (B's audio delayed by ``delay_b`` frames),
    written alone and joined at one cut: (parts, [clip A, clip B], joined clip)."""
    import cv2

    from tfqa.bench.sync import shift_audio
    from tfqa.io.audio import load_audio
    from tfqa.io.video import FrameStream
    from tfqa.io.writer import write_clip

    parts = []
    for k, name in enumerate(GRID_SPEAKERS):
        src = shared_clips / "real" / f"{name}.mp4"
        frames = [cv2.resize(g.rgb, (256, 256)) for g in FrameStream(src) for _ in g.grid][:75]
        x = load_audio(src).samples
        parts.append((frames, (shift_audio(x, delay_b) if k else x)[: 75 * 640]))
    tag = f"d{delay_b}"
    clips = [
        write_clip(tmp_path / f"part{k}{tag}.mp4", f, 25, x, 16000)
        for k, (f, x) in enumerate(parts)
    ]
    joined = write_clip(
        tmp_path / f"joined{tag}.mp4",
        parts[0][0] + parts[1][0],
        25,
        np.concatenate([parts[0][1], parts[1][1]]),
        16000,
    )
    return parts, clips, joined


def test_a_cut_between_two_people_keeps_their_expressions(shared_clips, tmp_path):
    """Two GRID speakers, 3 s each, joined at one cut: one cut is found at the join, and the
    joined clip's action units read as the parts' do alone (with one clip-wide neutral face,
    AU12 read 1.09 joined against 0.30 and 0.45 alone)."""
    from tfqa import create_scorer
    from tfqa.features.pipeline import FeaturePipeline

    parts, clips, joined = _grid_parts(shared_clips, tmp_path)
    pipe = FeaturePipeline(cache=False)
    alone = [pipe.extract(c) for c in clips]
    both = pipe.extract(joined)
    assert both.blocks["shots"].meta["cuts"] == [75]
    assert all(f.blocks["shots"].meta["cuts"] == [] for f in alone)
    assert both.stats()["n_shots"] == 2
    assert any("2 shots (cuts at 3.0 s)" in w for w in both.warnings)
    assert not any("shots" in w for f in alone for w in f.warnings)
    for key in ("AU12_mean", "AU07_mean", "AU01_mean", "expression_activity"):
        mean_alone = np.mean([f.stats()[key] for f in alone])
        assert both.stats()[key] == pytest.approx(mean_alone, abs=0.1), key
    # the default scorer's expression lies between the parts' (it read below both, 4.11 against
    # 4.19 and 4.82, before the cut was kept out of the action units and the visual change)
    scorer = create_scorer()
    expression = [scorer.score_features(f)[0]["expression"] for f in (*alone, both)]
    assert min(expression[:2]) <= expression[2] <= max(expression[:2])


@pytest.mark.media
def test_each_shot_keeps_its_own_av_offset(shared_clips, tmp_path):
    """The same two GRID speakers with the second one's audio delayed by 5 frames (200 ms)
    before the join: each shot's offset reads as that part's does alone, the clip's offset
    is their mean, the per-second curve shows which part is late, and a warning says so."""
    from tfqa.features.pipeline import FeaturePipeline

    _, clips, joined = _grid_parts(shared_clips, tmp_path, delay_b=5)
    pipe = FeaturePipeline(cache=False)
    alone = [pipe.extract(c).blocks["sync"].stats for c in clips]
    both = pipe.extract(joined)
    sync = both.blocks["sync"]
    own = [a["av_offset_ms"] for a in alone]
    assert own[1] - own[0] == pytest.approx(200, abs=40)
    assert sync.meta["shot_offsets_ms"] == pytest.approx(own, abs=40)
    assert sync.stats["av_offset_ms"] == pytest.approx(np.mean(own), abs=20)
    for key in ("sync_confidence", "sync_peak_corr", "sync_significance"):
        mean_alone = np.mean([a[key] for a in alone])
        assert sync.stats[key] == pytest.approx(mean_alone, rel=0.1), key
    curve = sync.curves["offset_ms"]
    assert len(curve) == 6
    assert np.nanmedian(curve[:3]) == pytest.approx(own[0], abs=40)
    assert np.nanmedian(curve[3:]) == pytest.approx(own[1], abs=40)
    assert sync.sequences["sync"].shape == (150, 5)
    assert any("A/V offsets differ" in w for w in both.warnings)
