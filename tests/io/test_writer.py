"""The writer's x264 settings: the same frames always give the same file."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tfqa.io import writer
from tfqa.io.writer import write_clip, x264_options


def _panning(n: int = 60, side: int = 160) -> np.ndarray:
    from skimage import data, transform

    img = (transform.resize(data.astronaut(), (side, side)) * 255).astype(np.uint8)
    return np.stack([np.roll(img, 2 * i, axis=1) for i in range(n)])


@pytest.mark.parametrize("interlaced", [False, True])
def test_same_frames_same_bytes(tmp_path, interlaced):
    # on the CI machine x264 gave 9 different files in 40 encodes of this clip with its AVX-512
    # routines, and 3 in 20 interlaced with its AVX2 ones on several threads
    frames = _panning()
    digests = {
        hashlib.sha256(
            write_clip(
                tmp_path / f"{i}.mp4", frames, 25, None, 16000, interlaced=interlaced
            ).read_bytes()
        ).hexdigest()
        for i in range(10)
    }
    assert len(digests) == 1


@pytest.mark.parametrize("avx512", [True, False])
def test_x264_options(monkeypatch, avx512):
    monkeypatch.setattr(writer, "_has_avx512", lambda: avx512)
    asm = {"x264-params": "asm=AVX2,BMI2,LZCNT"} if avx512 else {}
    assert x264_options(20, "veryfast") == {"crf": "20", "preset": "veryfast", **asm}
    assert x264_options(18, "slow", interlaced=True) == {
        "crf": "18", "preset": "slow", **asm, "flags": "+ilme+ildct", "threads": "1"
    }  # fmt: skip


def test_avx512_flags_read_from_cpuinfo(monkeypatch, tmp_path):
    real = writer.Path
    for flags, want in [
        ("fpu sse2 avx2 avx512f avx512bw avx512vl", True),
        ("fpu sse2 avx2", False),
    ]:
        info = tmp_path / "cpuinfo"
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.setattr(
            writer, "Path", lambda p, info=info: info if p == "/proc/cpuinfo" else real(p)
        )
        writer._has_avx512.cache_clear()
        assert writer._has_avx512() is want
    writer._has_avx512.cache_clear()
