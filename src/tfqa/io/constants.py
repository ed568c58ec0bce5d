"""Signal constants shared by every stage (units in the names)."""

from __future__ import annotations


def exact_div(x: int, y: int) -> int:
    """``x // y``, failing loudly if ``y`` does not divide ``x``."""
    if x % y:
        raise ValueError(f"Expected {y} to divide {x} exactly")
    return x // y


SAMPLE_RATE = 16_000  # Hz: audio is analysed as 16 kHz mono float32 in [-1, 1]
ANALYSIS_RATE = 25  # Hz: every per-frame signal is resampled to this grid
HOP_SAMPLES = exact_div(SAMPLE_RATE, ANALYSIS_RATE)  # 640 samples = one analysis frame
FRAME_MS = exact_div(1000, ANALYSIS_RATE)  # 40 ms

MIN_DURATION_S = 1.0  # shortest clip the analysis accepts (sync needs ~1 s of context)
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")
