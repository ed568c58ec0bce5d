"""benchmarks/encoder_determinism.py: its arms and its encoder."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tfqa.io.writer import x264_options


@pytest.mark.parametrize("interlaced", [False, True])
def test_arms_and_encode(load_benchmark, interlaced):
    bench = load_benchmark("encoder_determinism")
    assert bench.options("tfqa", interlaced) == x264_options(18, "veryfast", interlaced=interlaced)
    assert bench.options("x264 default, 1 thread", interlaced)["threads"] == "1"
    assert ("flags" in bench.options("x264 default", interlaced)) is interlaced
    video = bench.frames(12, 64, 48)
    assert video.shape == (12, 48, 64, 3) and not np.array_equal(video[0], video[1])  # it pans
    (t1, h1), (t2, h2) = (bench.encode(video, bench.options("tfqa", interlaced)) for _ in range(2))
    assert h1 == h2 and t1 > 0 and len(h1) == 32


def test_encode_writes_a_readable_mp4(load_benchmark, tmp_path, monkeypatch):
    bench = load_benchmark("encoder_determinism")
    video = bench.frames(10, 64, 48)
    written = []
    real_open = av.open

    def keep(buf, *args, **kwargs):  # the encoder writes to memory; keep the buffer to read it
        written.append(buf)
        return real_open(buf, *args, **kwargs)

    monkeypatch.setattr(bench.av, "open", keep)
    bench.encode(video, bench.options("tfqa", False))
    written[0].seek(0)
    with real_open(written[0]) as c:
        assert sum(1 for _ in c.decode(video=0)) == 10
