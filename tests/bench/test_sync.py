"""tfqa bench sync: shifts are recovered, and a clip that is itself offset is told apart."""

from __future__ import annotations

import numpy as np
import pytest

from tfqa.bench.sync import run_sync_bench, shift_audio


def test_shift_audio_delays_and_advances_by_whole_frames():
    x = np.arange(1, 1601, dtype=np.float32)  # 2.5 frames of 640 samples
    assert np.array_equal(shift_audio(x, 1)[:640], np.zeros(640)) and shift_audio(x, 1)[640] == 1
    assert shift_audio(x, -1)[0] == 641 and len(shift_audio(x, -1)) == len(x)


@pytest.mark.parametrize(("name", "offset_ms"), [("clean", 0.0), ("offset+200", 200.0)])
def test_a_clip_offset_by_itself_fails_literally_but_passes_relative_to_its_own_offset(
    synth_clip, feature_cache, name, offset_ms
):
    clip = synth_clip(name, av_offset_ms=offset_ms)
    res = run_sync_bench([clip], shifts=range(-3, 4, 3), window_s=3.0, cache_dir=feature_cache.root)
    r = res.clips[0]
    assert r.error is None and len(res.cases) == 3 * r.n_windows
    own = offset_ms / 40.0
    assert r.own_offset_frames == pytest.approx(own, abs=1)
    assert r.agreed_own_offset_frames == pytest.approx(own, abs=1)
    assert res.share("ok_applied") >= 0.8 and res.share("ok_agreed") >= 0.8
    if offset_ms:
        assert res.share("ok") <= 0.2  # the literal test cannot pass on an offset clip
    else:
        assert res.share("ok") >= 0.8
