"""tfqa bench sync: shifts are recovered, and a clip that is itself offset is told apart."""

from __future__ import annotations

import numpy as np
import pytest

from tfqa.bench.sync import run_sync_bench, shift_audio


def test_shift_audio_delays_and_advances_by_whole_frames():
    x = np.arange(1, 1601, dtype=np.float32)  # 2.5 frames of 640 samples
    assert np.array_equal(shift_audio(x, 1)[:640], np.zeros(640)) and shift_audio(x, 1)[640] == 1
    assert shift_audio(x, -1)[0] == 641 and len(shift_audio(x, -1)) == len(x)


@pytest.mark.media
@pytest.mark.parametrize("own", [0, 5])
def test_a_clip_offset_by_itself_fails_literally_but_passes_relative_to_its_own_offset(
    shared_clips, feature_cache, tmp_path, own
):
    """A real LRS2 clip (in sync: tfqa reads 0 frames on it) and the same clip with its audio
    delayed by 5 frames (200 ms): shifting each by -3, 0, +3 frames, the estimate follows the
    shift plus the clip's own offset, so the offset copy fails the literal test only.  (A
    synthesised clip's own offset reads a frame off on some CPUs, too close to the tolerance.)"""
    from tfqa.io.audio import load_audio
    from tfqa.io.video import FrameStream
    from tfqa.io.writer import write_clip

    src = shared_clips / "real" / "real_lrs2_00019.mp4"
    frames = [g.rgb for g in FrameStream(src) for _ in g.grid]
    clip = write_clip(
        tmp_path / f"own{own}.mp4", frames, 25, shift_audio(load_audio(src).samples, own), 16_000
    )
    res = run_sync_bench([clip], shifts=range(-3, 4, 3), window_s=3.0, cache_dir=feature_cache.root)
    r = res.clips[0]
    assert r.error is None and r.n_windows == 3 and len(res.cases) == 9
    assert r.own_offset_frames == pytest.approx(own, abs=1)
    assert r.agreed_own_offset_frames == pytest.approx(own, abs=1)
    assert res.share("ok_applied") >= 0.8 and res.share("ok_agreed") >= 0.8
    if own:
        assert res.share("ok") <= 0.2  # the literal test cannot pass on an offset clip
    else:
        assert res.share("ok") >= 0.8
