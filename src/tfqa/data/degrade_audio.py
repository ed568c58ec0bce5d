"""Audio degradations with known sizes (16 kHz mono float32 in [-1, 1]).

Every function is pure: it takes the clean track (and, where needed, a seeded
``numpy`` generator or donor tracks) and returns a track of the *same length*,
so the A/V relation of a variant is decided by the caller alone.  Filters and
convolutions come from ``scipy.signal``; codecs run through PyAV (FFmpeg).
"""

from __future__ import annotations

import io
from fractions import Fraction
from functools import lru_cache

import av
import numpy as np
from scipy import signal

from tfqa.io.constants import HOP_SAMPLES, SAMPLE_RATE
from tfqa.synth.defects import clip_fraction, noise_at_snr, shift_audio

__all__ = [
    "active_level_dbfs",
    "babble_noise",
    "bandlimit",
    "clip_fraction",
    "codec_roundtrip",
    "dropouts",
    "fit_length",
    "hum_noise",
    "median_f0_hz",
    "noise_at_snr",
    "reverberate",
    "set_level",
    "shift_audio",
    "speech_activity",
    "white_noise",
]

ACTIVITY_FLOOR_DB = 35.0  # a 40 ms frame is speech when within 35 dB of the loudest frames
ACTIVITY_ABS_DBFS = -55.0  # ...and above this absolute level
FADE_MS = 2.0  # ramps at mute edges, so a mute is a gap and not a click
BANDLIMIT_ORDER = 8  # Butterworth order of the band-limiting low-pass (48 dB/octave)
HUM_HARMONICS = 6  # mains hum: fundamental + 5 harmonics with 1/k amplitudes
BABBLE_TALKERS = 6  # above ~6 voices babble stops being intelligible (Krishnamurthy & Hansen 2009)
RT60_DECAY_DB = 60.0  # RT60: time for the energy of the impulse response to fall by 60 dB
CODEC_PROBE_S = 2.0  # length of the click train that measures a codec's delay


def active_level_dbfs(x: np.ndarray) -> float:
    """Active speech level in dBFS: RMS over the 40 ms frames that :func:`speech_activity` marks.

    A light-weight stand-in for ITU-T P.56 (which uses an envelope threshold
    15.9 dB below the active level); good enough to set test levels.
    """
    frames = _frames(x)
    active = speech_activity(x)
    if not active.any():
        return -np.inf
    power = np.mean(frames[active] ** 2)
    return float(10 * np.log10(power + 1e-20))


def speech_activity(x: np.ndarray) -> np.ndarray:
    """``(len(x) // 640,)`` bool: 40 ms frames holding speech (energy within 35 dB of the top)."""
    frames = _frames(x)
    if len(frames) == 0:
        return np.zeros(0, dtype=bool)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    top = np.percentile(db, 95)
    return (db > top - ACTIVITY_FLOOR_DB) & (db > ACTIVITY_ABS_DBFS)


def set_level(x: np.ndarray, level_dbfs: float, peak: float = 0.99) -> tuple[np.ndarray, float]:
    """Scale ``x`` to an active speech level of ``level_dbfs`` (peak limited to ``peak``).

    Returns:
        The scaled track and the gain in dB that was applied.
    """
    current = active_level_dbfs(x)
    if not np.isfinite(current):
        return x.astype(np.float32), 0.0
    gain = 10 ** ((level_dbfs - current) / 20)
    top = float(np.max(np.abs(x))) * gain
    if top > peak:  # keep the peak: a quieter track beats a clipped one
        gain *= peak / top
    return (x * gain).astype(np.float32), float(20 * np.log10(gain))


def median_f0_hz(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Median fundamental frequency (Hz) over the speech frames (YIN, 60-400 Hz); NaN if none."""
    import librosa

    if len(x) < 2048:
        return float("nan")
    f0 = librosa.yin(
        x.astype(np.float32), fmin=60, fmax=400, sr=sample_rate, hop_length=HOP_SAMPLES
    )
    active = speech_activity(x)
    n = min(len(f0), len(active))
    voiced = f0[:n][active[:n]]
    return float(np.median(voiced)) if len(voiced) else float("nan")


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or zero-padded to ``n`` samples (float32)."""
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(x))
    out[:m] = x[:m]
    return out


# -- noise ---------------------------------------------------------------------------------
def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` Gaussian white noise with unit variance."""
    return rng.standard_normal(n).astype(np.float32)


def hum_noise(
    n: int, rng: np.random.Generator, mains_hz: float = 50.0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Mains hum: ``mains_hz`` and its harmonics with 1/k amplitudes and random phases."""
    t = np.arange(n) / sample_rate
    phases = rng.uniform(0, 2 * np.pi, HUM_HARMONICS)
    hum = sum(
        np.sin(2 * np.pi * k * mains_hz * t + phases[k - 1]) / k
        for k in range(1, HUM_HARMONICS + 1)
    )
    return np.asarray(hum, dtype=np.float32)


def babble_noise(donors: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Babble: the sum of other talkers' speech, each at equal level and a random circular shift.

    Args:
        donors: speech tracks of other people (any lengths; looped to ``n``).
        n: length in samples.
        rng: picks the shifts.
    """
    if not donors:
        raise ValueError("Expected at least one donor track to make babble, but got none")
    mix = np.zeros(n, dtype=np.float64)
    for d in donors:
        d = np.asarray(d, dtype=np.float64)
        reps = int(np.ceil(n / max(1, len(d)))) + 1
        looped = np.tile(d, reps)
        start = int(rng.integers(0, len(d)))
        seg = looped[start : start + n]
        mix += seg / (np.sqrt(np.mean(seg**2)) + 1e-12)
    return mix.astype(np.float32)


# -- channel -------------------------------------------------------------------------------
def bandlimit(x: np.ndarray, cutoff_hz: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Zero-phase Butterworth low-pass at ``cutoff_hz`` (no delay: ``sosfiltfilt``)."""
    sos = signal.butter(BANDLIMIT_ORDER // 2, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return signal.sosfiltfilt(sos, x.astype(np.float64)).astype(np.float32)


def reverberate(
    x: np.ndarray, rt60_s: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Convolve with a synthetic room: a direct path + exponentially decaying noise tail.

    The tail's energy falls by 60 dB in ``rt60_s`` (amplitude ``exp(-6.91 t / RT60)``,
    Schroeder's statistical room model); the direct path sits at t = 0, so the
    reverberant track is not delayed.  The output keeps the input's active level.
    """
    n_ir = int(1.2 * rt60_s * sample_rate) + 1
    t = np.arange(n_ir) / sample_rate
    decay = np.exp(-np.log(10 ** (RT60_DECAY_DB / 20)) * t / rt60_s)
    ir = rng.standard_normal(n_ir) * decay
    ir[0] = 0.0
    # direct-to-reverberant energy 0 dB at 0.5 s: longer rooms carry more tail energy
    ir *= np.sqrt(rt60_s / 0.5) / (np.sqrt(np.sum(ir**2)) + 1e-12)
    ir[0] = 1.0
    y = signal.fftconvolve(x.astype(np.float64), ir)[: len(x)]
    level = active_level_dbfs(x)
    return set_level(y, level)[0] if np.isfinite(level) else y.astype(np.float32)


def dropouts(
    x: np.ndarray,
    share: float,
    rng: np.random.Generator,
    gap_ms: tuple[float, float] = (20.0, 80.0),
    sample_rate: int = SAMPLE_RATE,
) -> tuple[np.ndarray, np.ndarray]:
    """Mute random gaps of ``gap_ms`` until ``share`` of the samples are muted (no concealment).

    Returns:
        The track and the ``(S,)`` bool mask of muted samples.
    """
    n = len(x)
    mask = np.zeros(n, dtype=bool)
    target = int(round(share * n))
    lo, hi = (int(g * sample_rate / 1000) for g in gap_ms)
    while (remaining := target - int(mask.sum())) > 0:  # overlaps just take another round
        length = min(int(rng.integers(lo, hi + 1)), remaining)
        start = int(rng.integers(0, max(1, n - length)))
        mask[start : start + length] = True
    return mute(x, mask, sample_rate), mask


def mute(x: np.ndarray, mask: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Zero the samples under ``mask`` with short linear ramps at each edge."""
    gain = (~mask).astype(np.float64)
    ramp = max(1, int(FADE_MS * sample_rate / 1000))
    kernel = np.ones(ramp) / ramp
    gain = np.minimum(gain, np.convolve(gain, kernel, mode="same"))
    return (x * gain).astype(np.float32)


# -- codec ---------------------------------------------------------------------------------
def codec_roundtrip(
    x: np.ndarray, codec: str, bitrate_kbps: float, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Encode ``x`` with ``codec`` at ``bitrate_kbps`` and decode it again (PyAV / FFmpeg).

    The codec's delay (encoder look-ahead + priming) is measured once per codec
    and bitrate with a click train and removed, so the output is time-aligned
    with the input to the sample.
    """
    y = _roundtrip_raw(x, codec, int(bitrate_kbps * 1000), sample_rate)
    delay = _codec_delay(codec, int(bitrate_kbps * 1000), sample_rate)
    return fit_length(y[delay:], len(x))


@lru_cache(maxsize=32)
def _codec_delay(codec: str, bit_rate: int, sample_rate: int) -> int:
    n = int(CODEC_PROBE_S * sample_rate)
    probe = np.zeros(n, dtype=np.float32)
    probe[sample_rate // 4 :: sample_rate // 4] = 0.5  # clicks every 250 ms
    y = _roundtrip_raw(probe, codec, bit_rate, sample_rate)
    m = min(len(y), n)
    corr = signal.correlate(y[:m], probe[:m], mode="full", method="fft")
    lags = np.arange(-m + 1, m)
    keep = (lags >= 0) & (lags < sample_rate // 8)  # a codec delays, never advances
    return int(lags[keep][np.argmax(corr[keep])])


def _roundtrip_raw(x: np.ndarray, codec: str, bit_rate: int, sample_rate: int) -> np.ndarray:
    fmt = {"libmp3lame": "mp3", "libopus": "ogg", "libopencore_amrnb": "amr"}.get(codec, "matroska")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        rate = 48_000 if codec == "libopus" else sample_rate
        rate = 8_000 if codec == "libopencore_amrnb" else rate
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        stream.bit_rate = bit_rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(
            np.clip(x, -1, 1).astype(np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = sample_rate
        frame.pts = 0
        frame.time_base = Fraction(1, sample_rate)
        for f in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    chunks = []
    with av.open(buf, mode="r") as inp:
        back = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for f in inp.decode(audio=0):
            f.pts = None  # decode order is play order; let the resampler ignore gaps in pts
            chunks.extend(o.to_ndarray().reshape(-1) for o in back.resample(f))
        chunks.extend(o.to_ndarray().reshape(-1) for o in back.resample(None))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _frames(x: np.ndarray) -> np.ndarray:
    n = len(x) // HOP_SAMPLES
    return x[: n * HOP_SAMPLES].astype(np.float64).reshape(n, HOP_SAMPLES)
