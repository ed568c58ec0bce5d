"""Does x264 write the same bytes every time for the same frames, and how fast is it?

On a CPU with AVX-512, x264's AVX-512 routines did not always code the same frames the same way,
and interlaced coding on several threads did not either, so ``tfqa.io.writer.x264_options``
(used by ``write_clip`` and the benchmark builder's variant muxer) has x264 use its AVX2 routines
there, and one thread for interlaced coding.  This encodes the same frames (the scikit-image
astronaut panning) again and again as the writers do (CRF 18, veryfast), the arms interleaved so
that each sees the same machine state, optionally while another process keeps a core busy:

    .venv/bin/python benchmarks/encoder_determinism.py --repeats 40 --size 160x160 --frames 60
    .venv/bin/python benchmarks/encoder_determinism.py --repeats 10
    .venv/bin/python benchmarks/encoder_determinism.py --repeats 20 --size 160x160 --frames 60 --interlaced

Arms: x264's own choice of routines (tfqa before), the same on one thread, its AVX2 routines
(needs an AVX2 CPU), and tfqa's options (AVX2 routines on an AVX-512 CPU, one thread if
interlaced; x264's own choice elsewhere).  Prints, per arm, the median seconds per encode
and how many distinct files came out (1 = reproducible).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import statistics
import time
from fractions import Fraction

import av
import numpy as np

RATE = Fraction(25)
ARMS = ("x264 default", "x264 default, 1 thread", "AVX2 routines", "tfqa")


def options(arm: str, interlaced: bool) -> dict[str, str]:
    from tfqa.io.writer import X264_ASM_NO_AVX512, x264_options

    if arm == "tfqa":
        return x264_options(18, "veryfast", interlaced=interlaced)
    opts = {"crf": "18", "preset": "veryfast"}
    if interlaced:
        opts["flags"] = "+ilme+ildct"
    if arm == "AVX2 routines":
        opts["x264-params"] = X264_ASM_NO_AVX512
    return opts | ({"threads": "1"} if "1 thread" in arm else {})


def frames(n: int, w: int, h: int) -> np.ndarray:
    from skimage import data, transform

    img = (transform.resize(data.astronaut(), (h, w)) * 255).astype(np.uint8)
    return np.stack([np.roll(img, 2 * i, axis=1) for i in range(n)])


def encode(video: np.ndarray, opts: dict[str, str]) -> tuple[float, str]:
    """Seconds to encode ``video`` with x264 options ``opts`` and the file's MD5."""
    t0 = time.perf_counter()
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=RATE)
        s.height, s.width = video.shape[1:3]
        s.pix_fmt = "yuv420p"
        s.options = opts
        for rgb in video:
            out.mux(s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(s.encode(None))
    return time.perf_counter() - t0, hashlib.md5(buf.getvalue()).hexdigest()


def _busy(seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        np.linalg.svd(np.random.default_rng(0).random((300, 300)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30, help="encodes per arm")
    ap.add_argument("--frames", type=int, default=200, help="frames per encode")
    ap.add_argument("--size", default="512x288", help="WIDTHxHEIGHT (the tests' sources: 160x160)")
    ap.add_argument("--load", action="store_true", help="keep one core busy meanwhile")
    ap.add_argument("--interlaced", action="store_true", help="code the frames as interlaced")
    args = ap.parse_args()
    video = frames(args.frames, *map(int, args.size.split("x")))
    load = None
    if args.load:
        load = multiprocessing.get_context("spawn").Process(target=_busy, args=(3600.0,))
        load.start()
    runs: dict[str, list[tuple[float, str]]] = {k: [] for k in ARMS}
    try:
        for _ in range(args.repeats):
            for name in ARMS:
                runs[name].append(encode(video, options(name, args.interlaced)))
    finally:
        if load is not None:
            load.terminate()
    from tfqa.io.writer import _has_avx512

    tfqa_opts = options("tfqa", args.interlaced)
    print(f"CPU with AVX-512: {_has_avx512()}; tfqa's x264 options: {tfqa_opts}")
    how = "".join(
        (", interlaced" if args.interlaced else "", ", one core kept busy" if args.load else "")
    )
    print(
        f"{args.frames} frames of {video.shape[2]}x{video.shape[1]}, {args.repeats} encodes per arm{how}"
    )
    print(f"{'arm':>22} {'median s':>9} {'distinct files':>15}")
    for name, r in runs.items():
        print(f"{name:>22} {statistics.median(t for t, _ in r):9.3f} {len({h for _, h in r}):15d}")


if __name__ == "__main__":
    main()
