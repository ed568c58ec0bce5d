"""Audio features: per-frame descriptors on the 25 Hz grid and per-clip speech-quality evidence.

One derived extractor, ``audio`` (input: the clip's 16 kHz mono ``waveform``):

* ``sequences["audio"]`` (T, n_mels + 16): log-mel bands (10 ms hop, averaged
  per 40 ms frame) and cheap per-frame descriptors (level, spectral shape,
  periodicity, clipping, gaps, speech probability); see :func:`column_names`.
* ``sequences["speech_envelope"]`` (T, 1): RMS of the 300-3400 Hz band.
* ``stats``: DNSMOS SIG/BAK/OVRL/P808 (speechmos, offline), speech ratio,
  clipping, active speech level, noise floor, SNR, effective bandwidth,
  dropouts, mains hum, duration; NaN where not measurable.
* ``curves`` (1 Hz): ``dnsmos_ovrl``, ``speech_energy_db``, ``speech_prob``.

Frame t covers samples ``[640 t, 640 t + 640)``; T = ceil(n_samples / 640).
Levels are dB re full scale *power*: a full-scale square wave is 0 dBFS, a
full-scale sine -3 dBFS.  The ONNX models (Silero VAD, DNSMOS) are loaded
once per process and reused.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import binary_closing, uniform_filter1d
from scipy.signal import resample_poly, welch

from tfqa.errors import ClipTooShortError, ConfigError, ModelNotFoundError
from tfqa.features.base import DerivedExtractor, FeatureBlock, register
from tfqa.io.audio import Audio
from tfqa.io.constants import ANALYSIS_RATE, HOP_SAMPLES, SAMPLE_RATE, exact_div

# --- framing -------------------------------------------------------------------------
STFT_HOP = exact_div(SAMPLE_RATE, 100)  # 160 samples = 10 ms
SUBFRAMES = exact_div(HOP_SAMPLES, STFT_HOP)  # 4 STFT hops per 40 ms analysis frame
STFT_WIN = 400  # samples = 25 ms Hann window
N_FFT = 512  # bins of 31.25 Hz
BLOCK_FRAMES = 1500  # 60 s of frames per block: bounds memory on long clips
POWER_FLOOR = 1e-10  # -100 dBFS: the floor of every level in dB

# --- spectral descriptors ------------------------------------------------------------
MEL_FMIN_HZ, MEL_FMAX_HZ = 50.0, 8000.0
SPEECH_BAND_HZ = (300.0, 3400.0)  # telephone band: where speech energy (and lip sync) lives
HF_SPLIT_HZ = 4000.0  # share of energy above this: sibilance / bandwidth evidence
ROLLOFF_SHAPE = 0.85  # roll-off fraction describing the spectral shape
# 99.9 % roll-off: the band edge.  At 99 % a 3.4 kHz low-pass read ~3.15 kHz (the top
# few hundred Hz of speech hold < 1 % of its energy); at 99.9 % it reads ~3.35 kHz.
ROLLOFF_EDGE = 0.999
BANDWIDTH_PERCENTILE = 95  # of the band edge over speech frames
F0_RANGE_HZ = (60.0, 400.0)  # pitch search range of the autocorrelation
VOICED_PERIODICITY = 0.5  # normalised autocorrelation peak above which a frame is voiced
ACF_FFT = 1024  # >= 640 + longest lag (267 samples): no circular wrap

# --- clipping, gaps ------------------------------------------------------------------
NEAR_FULL_SCALE = 0.9  # |x| >= -0.9 dBFS peak counts as clipped once a codec smeared the plateau
PLATEAU_REL_TOL = 1e-6  # samples this close to the extreme value belong to a PCM clip plateau
MIN_PLATEAU_LEVEL = 0.1  # a "plateau" at a lower peak level is quantisation, not clipping
MIN_PLATEAU_FRAC = 1e-4  # a real clip plateau holds at least this share of samples
DIGITAL_SILENCE_AMP = 2e-5  # below one 16-bit step: exact digital zero
MIN_GAP_SAMPLES = exact_div(SAMPLE_RATE, 200)  # 5 ms: shorter zero runs are zero crossings
# Pauses up to 0.32 s belong to the speech region (a gap there is a dropout); longer
# ones are phrase breaks, which TTS voices often fill with digital silence.
SPEECH_BRIDGE_FRAMES = 8

# --- level, noise, SNR ---------------------------------------------------------------
NOISE_PERCENTILE = 10  # minimum statistics: the quietest 10 % of frames are noise
MIN_NOISE_FRAMES = 10  # 0.4 s of non-speech needed to trust the non-speech median
SNR_RANGE_DB = (-20.0, 80.0)

# --- energy VAD (fallback / option) --------------------------------------------------
VAD_MIN_MARGIN_DB = 3.0  # speech-band level above the floor that starts to count as speech
VAD_MARGIN_SHARE = 0.25  # ... or this share of the floor-to-peak range, whichever is larger
VAD_ABS_FLOOR_DBFS = -60.0  # quieter frames are never speech
VAD_SLOPE_DB = 2.0  # softness of the level -> probability sigmoid
VAD_SMOOTH_FRAMES = 5  # 200 ms moving average (syllable scale)
MIN_SPEECH_FRAMES = 5  # fewer speech frames: the stats use the energy VAD's mask instead

# --- mains hum -----------------------------------------------------------------------
HUM_BASES_HZ = (50.0, 60.0)
HUM_HARMONICS = 8
HUM_HALF_WIDTH_HZ = 2.0  # a Hann-windowed tone spreads over +-2 bins of 1 Hz
HUM_NEIGHBOUR_HZ = 15.0  # the local median over +-15 Hz is the speech/noise baseline

# --- DNSMOS (speechmos) --------------------------------------------------------------
DNSMOS_WINDOW = int(9.01 * SAMPLE_RATE)  # 144160 samples: the models' fixed input length
DNSMOS_MIN_S = 1.0  # shorter audio: no DNSMOS (tiling 9x would be meaningless)
# A remainder shorter than half a window is owned by the last full window: scoring it
# would cost a whole window (~1 core-second, the most expensive step of the pipeline) for
# under 4.5 s of audio, and the speech quality of one recording rarely changes that fast.
DNSMOS_MIN_TAIL_S = 4.5

DNSMOS_KEYS = ("sig", "bak", "ovrl", "p808")

VAD_BACKENDS = ("silero", "energy")
SILERO_CHUNK = 512  # samples per Silero VAD decision (32 ms)
SPECTRAL_COLUMNS = (
    "energy_dbfs",
    "speech_band_dbfs",
    "peak_dbfs",
    "centroid_hz",
    "spread_hz",
    "flatness",
    "rolloff85_hz",
    "rolloff999_hz",
    "hf_ratio",
    "mel_flux_db",
    "zcr",
    "periodicity",
    "f0_hz",
    "clip_frac",
    "dropout_frac",
    "speech_prob",
)


@dataclass(frozen=True)
class AudioConfig:
    """Options of the ``audio`` extractor.

    Attributes:
        dnsmos: run DNSMOS (about 0.5 s of CPU per 9 s window); False leaves its stats NaN.
        dnsmos_personalized: use the personalised DNSMOS model (interfering talkers count as noise).
        dnsmos_max_segments: score at most this many evenly spread windows (0 = the whole clip).
        vad: ``"silero"`` (neural, default) or ``"energy"`` (adaptive speech-band level threshold).
        n_mels: log-mel bands in the sequence.
        speech_threshold: speech probability above which a frame counts as speech.
    """

    dnsmos: bool = True
    dnsmos_personalized: bool = False
    dnsmos_max_segments: int = 0
    vad: str = "silero"
    n_mels: int = 64
    speech_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.vad not in VAD_BACKENDS:
            raise ConfigError(
                f"Expected `vad` to be one of {', '.join(VAD_BACKENDS)}, but got {self.vad!r}"
            )
        if not 8 <= self.n_mels <= 128:
            raise ConfigError(f"Expected `n_mels` in [8, 128], but got {self.n_mels}")
        if not 0.0 < self.speech_threshold < 1.0:
            raise ConfigError(
                f"Expected `speech_threshold` in (0, 1), but got {self.speech_threshold}"
            )
        if self.dnsmos_max_segments < 0:
            raise ConfigError(
                f"Expected `dnsmos_max_segments` >= 0, but got {self.dnsmos_max_segments}"
            )


def column_names(n_mels: int) -> list[str]:
    """Names of the ``audio`` sequence's columns: ``mel_00..`` then :data:`SPECTRAL_COLUMNS`."""
    return [f"mel_{i:02d}" for i in range(n_mels)] + list(SPECTRAL_COLUMNS)


def n_frames(n_samples: int) -> int:
    """Length T of the 25 Hz grid for ``n_samples`` (a partial last frame counts)."""
    return math.ceil(n_samples / HOP_SAMPLES)


def to_db(power: np.ndarray | float) -> np.ndarray:
    """Power (mean square re full scale) to dBFS, floored at -100 dB."""
    return 10.0 * np.log10(np.maximum(power, POWER_FLOOR))


# ---------------------------------------------------------------------------------------
# models, loaded once per process


@lru_cache(maxsize=1)
def silero_model() -> Any:
    """Silero VAD's batched ONNX model (bit-identical to ``load_silero_vad(onnx=True)``)."""
    try:
        from silero_vad import load_silero_vad
    except ImportError as exc:
        raise ModelNotFoundError(
            "the Silero VAD model is not installed",
            hint="Run `pip install silero-vad==6.2.3`, or use the option vad='energy'",
        ) from exc
    # The sequence model runs 512 chunks per ONNX call instead of one: same numbers, ~3x faster.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its importlib.resources.path use
        return load_silero_vad(sequence=True)


@lru_cache(maxsize=2)
def dnsmos_model(personalized: bool = False) -> Any:
    """speechmos' DNSMOS (P.835 SIG/BAK/OVRL + P.808), from the ONNX files inside its wheel."""
    try:
        from importlib import resources

        from speechmos.dnsmos import DNSMOS
    except ImportError as exc:
        raise ModelNotFoundError(
            "the DNSMOS models (speechmos) are not installed",
            hint="Run `pip install speechmos==0.0.1.1 requests`, or use the option dnsmos=False",
        ) from exc
    import onnxruntime as ort

    root = resources.files("speechmos")
    primary = root / ("pdnsmos_models" if personalized else "dnsmos_models") / "sig_bak_ovr.onnx"
    p808 = root / "dnsmos_models" / "model_v8.onnx"
    model = DNSMOS(str(primary), str(p808))
    # The pipeline runs this extractor in a thread beside the frame pass (face mesh): give
    # DNSMOS half the cores and no busy-waiting threads, so the two stages don't fight.
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, (os.cpu_count() or 2) // 2)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    model.onnx_sess = ort.InferenceSession(str(primary), opts, providers=providers)
    model.p808_onnx_sess = ort.InferenceSession(str(p808), opts, providers=providers)
    return model


@lru_cache(maxsize=4)
def _mel_basis(n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels, fmin=MEL_FMIN_HZ, fmax=MEL_FMAX_HZ
    )


# ---------------------------------------------------------------------------------------
# per-frame features


def spectral_features(x: np.ndarray, n_mels: int) -> dict[str, np.ndarray]:
    """Spectral descriptors per 40 ms frame, from a 10 ms-hop STFT, in blocks of 60 s.

    Args:
        x: (N,) float32 samples at 16 kHz, N >= 1.
        n_mels: mel bands.

    Returns:
        ``mel_db`` (T, n_mels) mean of the four 10 ms log-mel frames, and (T,) arrays
        ``speech_band_power`` (mean square), ``centroid_hz``, ``spread_hz``, ``flatness``
        (0..1), ``rolloff85_hz``, ``rolloff999_hz``, ``hf_ratio`` and ``mel_flux_db``.
    """
    t_total = n_frames(len(x))
    # Sub-frame j is centred on sample 160 j + 80, so frame t's four sub-frames are centred
    # inside [640 t, 640 t + 640): no lag between these features and the time-domain ones.
    lead = STFT_WIN // 2 - STFT_HOP // 2
    xp = np.zeros(lead + t_total * HOP_SAMPLES + lead, np.float32)
    xp[lead : lead + len(x)] = x
    parts = [
        _spectral_block(xp, t0, min(t_total, t0 + BLOCK_FRAMES), n_mels)
        for t0 in range(0, t_total, BLOCK_FRAMES)
    ]
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["mel_flux_db"] = _mel_flux(out["mel_db"])
    return out


_bin_hz = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
_WINDOW = np.hanning(STFT_WIN + 1)[:-1].astype(np.float32)  # periodic Hann: 50 % overlaps sum flat
# One-sided power normalisation: the bins of a frame sum to its windowed mean square.
_BIN_SCALE = np.where((_bin_hz > 0) & (_bin_hz < SAMPLE_RATE / 2), 2.0, 1.0) / (
    N_FFT * float(np.sum(_WINDOW.astype(np.float64) ** 2))
)


def _spectral_block(xp: np.ndarray, t0: int, t1: int, n_mels: int) -> dict[str, np.ndarray]:
    seg = xp[t0 * HOP_SAMPLES : t1 * HOP_SAMPLES + STFT_WIN - STFT_HOP]
    frames = sliding_window_view(seg, STFT_WIN)[::STFT_HOP][: (t1 - t0) * SUBFRAMES]
    spec = np.fft.rfft(frames * _WINDOW, n=N_FFT, axis=1)
    power = (spec.real**2 + spec.imag**2) * _BIN_SCALE.astype(np.float32)  # (4n, bins)
    mel_db = to_db(power @ _mel_basis(n_mels).T).reshape(t1 - t0, SUBFRAMES, n_mels).mean(1)
    p = power.reshape(t1 - t0, SUBFRAMES, -1).mean(1).astype(np.float64)  # (n, bins)
    total = p.sum(1) + POWER_FLOOR
    centroid = p @ _bin_hz / total
    spread = np.sqrt(np.maximum(p @ _bin_hz**2 / total - centroid**2, 0.0))
    flatness = np.exp(np.mean(np.log(p + POWER_FLOOR), 1)) / (p.mean(1) + POWER_FLOOR)
    cum = np.cumsum(p, 1) / total[:, None]

    band = (_bin_hz >= SPEECH_BAND_HZ[0]) & (_bin_hz <= SPEECH_BAND_HZ[1])
    return {
        "mel_db": mel_db.astype(np.float32),
        "speech_band_power": p[:, band].sum(1),
        "centroid_hz": centroid,
        "spread_hz": spread,
        "flatness": np.minimum(flatness, 1.0),
        "rolloff85_hz": _bin_hz[np.argmax(cum >= ROLLOFF_SHAPE, axis=1)],
        "rolloff999_hz": _bin_hz[np.argmax(cum >= ROLLOFF_EDGE, axis=1)],
        "hf_ratio": p[:, _bin_hz >= HF_SPLIT_HZ].sum(1) / total,
    }


def _mel_flux(mel_db: np.ndarray) -> np.ndarray:
    """RMS change of the log-mel spectrum from the previous frame (dB); 0 for frame 0."""
    flux = np.zeros(len(mel_db), np.float32)
    if len(mel_db) > 1:
        flux[1:] = np.sqrt(np.mean(np.diff(mel_db, axis=0) ** 2, axis=1))
    return flux


def time_features(x: np.ndarray, clipped: np.ndarray, silent: np.ndarray) -> dict[str, np.ndarray]:
    """Time-domain descriptors per frame (T,): power, peak, ZCR, clipping and gap shares.

    Args:
        x: (N,) samples, N >= 1.
        clipped: (N,) bool, from :func:`clipped_mask`.
        silent: (N,) bool, from :func:`digital_silence_mask`.

    Returns:
        ``power`` (mean square), ``peak`` (max |x|), ``zcr`` (sign changes per sample),
        ``clip_frac`` and ``dropout_frac`` (share of the frame's clipped / silent samples).
    """
    t_total = n_frames(len(x))
    n = np.full(t_total, HOP_SAMPLES, np.float64)
    n[-1] = len(x) - (t_total - 1) * HOP_SAMPLES  # the last frame may be partial
    xf = _frames(x, t_total)
    signs = np.signbit(xf)
    return {
        "power": np.einsum("ij,ij->i", xf, xf, dtype=np.float64) / n,
        "peak": np.abs(xf).max(1),
        "zcr": np.count_nonzero(signs[:, 1:] != signs[:, :-1], axis=1) / np.maximum(n - 1, 1),
        "clip_frac": _frames(clipped, t_total).sum(1) / n,
        "dropout_frac": _frames(silent, t_total).sum(1) / n,
    }


def _frames(x: np.ndarray, t_total: int) -> np.ndarray:
    """(T, 640) view of ``x`` zero-padded to whole frames."""
    out = np.zeros(t_total * HOP_SAMPLES, x.dtype)
    out[: len(x)] = x
    return out.reshape(t_total, HOP_SAMPLES)


def periodicity_f0(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the normalised autocorrelation peak in the pitch range and its f0.

    Returns:
        ``periodicity`` (T,) in [0, 1] (1 = perfectly periodic) and ``f0_hz`` (T,),
        0 where the frame is not voiced (periodicity < 0.5).
    """
    t_total = n_frames(len(x))
    lag_lo = int(SAMPLE_RATE / F0_RANGE_HZ[1])
    lag_hi = int(SAMPLE_RATE / F0_RANGE_HZ[0])
    per = np.zeros(t_total)
    lag = np.zeros(t_total, int)
    for t0 in range(0, t_total, BLOCK_FRAMES):
        t1 = min(t_total, t0 + BLOCK_FRAMES)
        fr = _frames(x[t0 * HOP_SAMPLES : t1 * HOP_SAMPLES], t1 - t0)
        fr = fr - fr.mean(1, keepdims=True)
        spec = np.fft.rfft(fr, n=ACF_FFT, axis=1)
        acf = np.fft.irfft(spec.real**2 + spec.imag**2, n=ACF_FFT, axis=1)
        # Unbiased scaling: lag k has only (640 - k) products.
        lags = np.arange(lag_lo, lag_hi + 1)
        r = acf[:, lags] / (acf[:, :1] + POWER_FLOOR) * HOP_SAMPLES / (HOP_SAMPLES - lags)
        best = np.argmax(r, axis=1)
        per[t0:t1] = np.clip(r[np.arange(len(r)), best], 0.0, 1.0)
        lag[t0:t1] = lags[best]
    f0 = np.where(per >= VOICED_PERIODICITY, SAMPLE_RATE / np.maximum(lag, 1), 0.0)
    return per, f0


# ---------------------------------------------------------------------------------------
# voice activity


def silero_speech_prob(x: np.ndarray) -> np.ndarray:
    """(T,) Silero VAD speech probability averaged over each 40 ms frame.

    Silero decides per 32 ms chunk; a frame's value is the overlap-weighted mean of
    the chunks it spans (exact, via the integral of the piecewise-constant curve).
    """
    t_total = n_frames(len(x))
    probs = np.asarray(silero_model().audio_forward(x, SAMPLE_RATE), np.float64).reshape(-1)
    knots = np.arange(len(probs) + 1) * SILERO_CHUNK
    integral = np.concatenate([[0.0], np.cumsum(probs) * SILERO_CHUNK])
    edges = np.minimum(np.arange(t_total + 1) * HOP_SAMPLES, knots[-1])
    area = np.interp(edges, knots, integral)
    return np.clip(np.diff(area) / np.maximum(np.diff(edges), 1), 0.0, 1.0)


def energy_speech_prob(band_db: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T,) energy VAD: a soft threshold on the speech-band level, adapted to the clip.

    The threshold sits ``max(3 dB, 25 % of the range)`` above the clip's floor (10th
    percentile of the speech-band level) and never below -60 dBFS; the probability is a
    sigmoid of the distance to it (2 dB slope), smoothed over 200 ms.  It is not a
    speech detector (any loud sound counts), which is why Silero is the default.

    Args:
        band_db: (T,) speech-band level, dBFS.
        valid: (T,) frames that are not digital silence.
    """
    if not np.any(valid):
        return np.zeros(len(band_db))
    floor = np.percentile(band_db[valid], NOISE_PERCENTILE)
    top = np.percentile(band_db[valid], 95)
    thr = max(floor + max(VAD_MIN_MARGIN_DB, VAD_MARGIN_SHARE * (top - floor)), VAD_ABS_FLOOR_DBFS)
    z = np.clip((band_db - thr) / VAD_SLOPE_DB, -30.0, 30.0)
    prob = np.where(valid, 1.0 / (1.0 + np.exp(-z)), 0.0)
    return uniform_filter1d(prob, VAD_SMOOTH_FRAMES, mode="nearest")


# ---------------------------------------------------------------------------------------
# per-clip evidence


def digital_silence_mask(x: np.ndarray) -> np.ndarray:
    """(N,) True inside runs of >= 5 ms of digital silence (|x| below one 16-bit step)."""
    quiet = np.abs(x) <= DIGITAL_SILENCE_AMP
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.view(np.int8), [0]])))
    starts, stops = edges[::2], edges[1::2]
    keep = (stops - starts) >= MIN_GAP_SAMPLES
    out = np.zeros(len(x), bool)
    for a, b in zip(starts[keep], stops[keep], strict=True):
        out[a:b] = True
    return out


def clipped_mask(x: np.ndarray) -> tuple[np.ndarray, str]:
    """(N,) samples judged clipped, and the rule used (``"plateau"`` or ``"near_full_scale"``).

    PCM clipping leaves exact plateaus at the extreme values: when at least 0.01 % of the
    samples sit on them, those samples are the clipped ones (at any level >= -20 dBFS).
    A lossy codec (AAC) smears the plateaus into ringing that peaks at 1.0-1.4 and dips to
    about 0.75; then every sample at or above -0.9 dBFS counts.  Clean speech has almost
    none there, but on coded audio the share is a lower bound of the true clipped share
    (AAC 128 kb/s round trip: true 0.2 / 1.4 / 4.6 % read 0.15 / 0.3 / 0.7 %).
    """
    plateau = np.zeros(len(x), bool)
    for extreme in (float(x.max()), float(x.min())):
        if abs(extreme) >= MIN_PLATEAU_LEVEL:
            plateau |= np.abs(x - extreme) <= PLATEAU_REL_TOL * abs(extreme)
    if plateau.mean() >= MIN_PLATEAU_FRAC:
        return plateau, "plateau"
    return np.abs(x) >= NEAR_FULL_SCALE, "near_full_scale"


def noise_and_snr(
    power: np.ndarray, speech: np.ndarray, valid: np.ndarray
) -> tuple[float, float, float, str]:
    """Active speech level, noise floor and SNR (all broadband), in dB.

    Noise power, by what the pauses hold:

    * >= 0.4 s of audible non-speech: the smaller of its median and the 10th percentile
      of all audible frames (``"non_speech_median"`` / ``"percentile"``);
    * pauses that are digital silence (typical of TTS): the floor is -100 dBFS
      (``"digital_silence"``); SNR then says "no audible background", not "no noise
      under the speech" (DNSMOS BAK judges that);
    * hardly any pause: the 10th percentile of all audible frames (minimum statistics,
      right when noise is stationary under continuous speech; ``"percentile"``).

    The speech power is the mean over the speech region (speech frames and their short
    pauses, P.56-style) minus the noise power.

    Args:
        power: (T,) frame mean square.
        speech: (T,) bool speech frames.
        valid: (T,) bool frames that are not digital silence.

    Returns:
        ``(loudness_dbfs, noise_floor_dbfs, snr_db, noise_method)``; NaN when not measurable.
    """
    nan = float("nan")
    if not np.any(valid):
        return nan, nan, nan, "none"
    quiet = ~speech & valid
    noise = float(np.percentile(power[valid], NOISE_PERCENTILE))
    method = "percentile"
    if quiet.sum() >= MIN_NOISE_FRAMES:
        median_quiet = float(np.median(power[quiet]))
        if median_quiet < noise:
            noise, method = median_quiet, "non_speech_median"
    elif (~speech & ~valid).sum() >= MIN_NOISE_FRAMES:
        noise, method = POWER_FLOOR, "digital_silence"
    active = speech_region(speech) & valid
    if not np.any(active):
        return nan, float(to_db(noise)), nan, method
    level = float(np.mean(power[active]))
    clean = max(level - noise, POWER_FLOOR)
    snr = float(np.clip(to_db(clean) - to_db(noise), *SNR_RANGE_DB))
    return float(to_db(level)), float(to_db(noise)), snr, method


def hum_ratio(x: np.ndarray) -> tuple[float, float]:
    """Share of the total power in narrow 50 or 60 Hz harmonic lines, and that base (Hz).

    Each harmonic k * f (k = 1..8) counts only its excess over the local median of a
    1 Hz Welch spectrum (+-15 Hz), so speech harmonics gliding through a line barely count.
    """
    if len(x) < SAMPLE_RATE // 4:
        return float("nan"), float("nan")
    freqs, psd = _welch_psd(x)
    df = freqs[1] - freqs[0]
    total = float(psd.sum() * df)
    if total <= POWER_FLOOR:
        return float("nan"), float("nan")
    best, best_base = 0.0, HUM_BASES_HZ[0]
    for base in HUM_BASES_HZ:
        excess = 0.0
        for k in range(1, HUM_HARMONICS + 1):
            f = k * base
            line = np.abs(freqs - f) <= HUM_HALF_WIDTH_HZ
            near = (np.abs(freqs - f) <= HUM_NEIGHBOUR_HZ) & (
                np.abs(freqs - f) > HUM_HALF_WIDTH_HZ + 1
            )
            baseline = float(np.median(psd[near])) if np.any(near) else 0.0
            excess += max(0.0, float(np.sum(psd[line] - baseline)) * df)
        if excess / total > best:
            best, best_base = excess / total, base
    return min(best, 1.0), best_base


def _welch_psd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1 Hz Welch PSD (1 s Hann segments, 50 % overlap), computed per 60 s block.

    Each block reaches half a segment into the next, so the blocks hold exactly the
    segments of one long Welch estimate, while memory stays bounded on long clips.
    """
    nper = min(len(x), SAMPLE_RATE)
    block = BLOCK_FRAMES * HOP_SAMPLES
    total, count = 0.0, 0
    for start in range(0, max(1, len(x) - nper + 1), block):
        seg = x[start : start + block + nper // 2].astype(np.float64)
        freqs, psd = welch(seg, fs=SAMPLE_RATE, nperseg=nper)
        n_seg = 1 + (len(seg) - nper) // (nper // 2)
        total, count = total + psd * n_seg, count + n_seg
    return freqs, total / count


def speech_region(speech: np.ndarray) -> np.ndarray:
    """Speech frames with pauses of up to 0.32 s bridged (where a gap is a dropout)."""
    if not np.any(speech):
        return speech.copy()
    structure = np.ones(SPEECH_BRIDGE_FRAMES + 1, bool)  # closing fills gaps shorter than this
    pad = SPEECH_BRIDGE_FRAMES + 1
    closed = binary_closing(np.pad(speech, pad), structure=structure)[pad:-pad]
    return closed | speech


# ---------------------------------------------------------------------------------------
# DNSMOS


def dnsmos_plan(n_samples: int, max_segments: int = 0) -> list[tuple[int, int, int, int]]:
    """Windows to score: ``(start, stop, own_start, own_stop)`` in samples.

    Non-overlapping 9.01 s windows from the start; a remainder of >= 4.5 s gets one more
    window aligned to the clip's end (real audio rather than a tiled copy) that *owns*
    only the remainder; a shorter remainder is owned by the last window.  Audio shorter
    than one window is one window, tiled by :func:`run_dnsmos` as DNSMOS does.
    """
    if n_samples < DNSMOS_MIN_S * SAMPLE_RATE:
        return []
    if n_samples <= DNSMOS_WINDOW:
        return [(0, n_samples, 0, n_samples)]
    full = n_samples // DNSMOS_WINDOW
    plan = [(k * DNSMOS_WINDOW, (k + 1) * DNSMOS_WINDOW) * 2 for k in range(full)]
    tail = n_samples - full * DNSMOS_WINDOW
    if tail >= DNSMOS_MIN_TAIL_S * SAMPLE_RATE:
        plan.append((n_samples - DNSMOS_WINDOW, n_samples, n_samples - tail, n_samples))
    else:
        a, b, own_a, _ = plan[-1]
        plan[-1] = (a, b, own_a, n_samples)
    if 0 < max_segments < len(plan):
        keep = np.unique(np.round(np.linspace(0, len(plan) - 1, max_segments)).astype(int))
        plan = [plan[i] for i in keep]
    return plan


def run_dnsmos(x: np.ndarray, plan: list[tuple[int, int, int, int]], personalized: bool) -> dict:
    """Score each planned window with DNSMOS.

    Returns:
        ``{"sig", "bak", "ovrl", "p808"}`` -> (S,) arrays of per-window MOS (1-5).
    """
    model = dnsmos_model(personalized)
    # DNSMOS refuses samples outside [-1, 1]; codec overshoot is what a DAC would clip.
    x = np.clip(x, -1.0, 1.0).astype(np.float32)
    out: dict[str, list[float]] = {k: [] for k in DNSMOS_KEYS}
    for start, stop, _, _ in plan:
        seg = x[start:stop]
        if len(seg) < DNSMOS_WINDOW:
            seg = np.resize(seg, DNSMOS_WINDOW)  # cyclic repetition, as DNSMOS tiles
        # Exactly one window long, so DNSMOS makes exactly one model call.
        res = model(seg, SAMPLE_RATE, personalized)
        for key in out:
            out[key].append(float(res[f"{key}_mos"]))
    return {k: np.asarray(v) for k, v in out.items()}


def _dnsmos_curve(scores: np.ndarray, plan: list, n_seconds: int, n_samples: int) -> np.ndarray:
    """Per-second value of the window that owns each second's centre (nearest if none)."""
    curve = np.full(n_seconds, np.nan, np.float32)
    if not plan:
        return curve
    own = np.array([(p[2], p[3]) for p in plan], float)
    centres = np.minimum((np.arange(n_seconds) + 0.5) * SAMPLE_RATE, n_samples - 1)
    for s, c in enumerate(centres):
        inside = np.flatnonzero((own[:, 0] <= c) & (c < own[:, 1]))
        k = inside[0] if len(inside) else int(np.argmin(np.abs(own.mean(1) - c)))
        curve[s] = scores[k]
    return curve


def per_second(x: np.ndarray) -> np.ndarray:
    """(ceil(T / 25),) mean of a (T,) frame signal per second (NaNs ignored)."""
    n = math.ceil(len(x) / ANALYSIS_RATE)
    pad = np.full(n * ANALYSIS_RATE, np.nan)
    pad[: len(x)] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN second stays NaN
        return np.nanmean(pad.reshape(n, ANALYSIS_RATE), axis=1).astype(np.float32)


# ---------------------------------------------------------------------------------------
# the extractor


@register
class AudioFeatures(DerivedExtractor):
    """Per-frame audio descriptors and per-clip speech-quality evidence (see module docstring)."""

    name = "audio"
    version = "1"
    inputs = ("waveform",)
    Config = AudioConfig
    description = "log-mel + spectral/level descriptors, VAD, DNSMOS, SNR, clipping, bandwidth, hum"

    def compute(self, inputs: dict[str, Any]) -> FeatureBlock:
        """Compute the block from ``inputs["waveform"]`` (an :class:`~tfqa.io.Audio`)."""
        cfg = self.config
        x = _samples(inputs)
        clipped, clip_method = clipped_mask(x)
        spec = spectral_features(x, cfg.n_mels)
        tf = time_features(x, clipped, digital_silence_mask(x))
        periodicity, f0 = periodicity_f0(x)
        valid = tf["dropout_frac"] < 0.5
        band_db = to_db(spec["speech_band_power"])
        energy_prob = energy_speech_prob(band_db, valid)
        prob = silero_speech_prob(x) if cfg.vad == "silero" else energy_prob
        speech = prob >= cfg.speech_threshold
        stats_vad = cfg.vad
        if speech.sum() < MIN_SPEECH_FRAMES:
            # Silero heard no speech (music, a crude synthetic voice...): level, SNR and
            # bandwidth then describe the clip's active sound, found by the energy VAD.
            speech, stats_vad = energy_prob >= cfg.speech_threshold, "energy"
        columns = {
            **spec,
            "energy_dbfs": to_db(tf["power"]),
            "speech_band_dbfs": band_db,
            "peak_dbfs": 20.0 * np.log10(np.maximum(tf["peak"], math.sqrt(POWER_FLOOR))),
            "zcr": tf["zcr"],
            "periodicity": periodicity,
            "f0_hz": f0,
            "clip_frac": tf["clip_frac"],
            "dropout_frac": tf["dropout_frac"],
            "speech_prob": prob,
        }
        seq = np.column_stack([spec["mel_db"]] + [columns[k] for k in SPECTRAL_COLUMNS])
        stats = {
            "duration_s": len(x) / SAMPLE_RATE,
            "speech_ratio": float(np.mean(prob >= cfg.speech_threshold)),
            "clipping_ratio": float(clipped.mean()),
            "peak_dbfs": float(20 * np.log10(max(float(tf["peak"].max()), 1e-5))),
        }
        evidence, evidence_meta = self._signal_evidence(x, tf, spec, speech, valid)
        stats.update(evidence)
        n_seconds = math.ceil(len(prob) / ANALYSIS_RATE)
        mos_stats, mos_curve, mos_meta = self._dnsmos(x, n_seconds)
        stats.update(mos_stats)
        return FeatureBlock(
            name=self.name,
            sequences={
                "audio": seq.astype(np.float32),
                "speech_envelope": np.sqrt(spec["speech_band_power"]).astype(np.float32)[:, None],
            },
            columns={"audio": column_names(cfg.n_mels), "speech_envelope": ["speech_band_rms"]},
            stats=stats,
            curves={
                "dnsmos_ovrl": mos_curve,
                "speech_energy_db": to_db(per_second(spec["speech_band_power"])).astype(np.float32),
                "speech_prob": per_second(prob),
            },
            meta={
                "vad": cfg.vad,
                "stats_vad": stats_vad,
                "clipping_method": clip_method,
                **evidence_meta,
                **mos_meta,
            },
        )

    @staticmethod
    def _signal_evidence(x, tf, spec, speech, valid) -> tuple[dict[str, float], dict[str, Any]]:
        """Level, noise, SNR, bandwidth, dropouts and hum stats, and how they were found."""
        nan = float("nan")
        loudness, floor, snr, noise_method = noise_and_snr(tf["power"], speech, valid)
        region = speech_region(speech)
        edge = spec["rolloff999_hz"][speech & valid]
        hum, hum_hz = hum_ratio(x)
        stats = {
            "loudness_dbfs": loudness,
            "noise_floor_dbfs": floor,
            "snr_db": snr,
            "bandwidth_hz": float(np.percentile(edge, BANDWIDTH_PERCENTILE)) if len(edge) else nan,
            "dropout_ratio": float(np.mean(tf["dropout_frac"][region])) if region.any() else nan,
            "hum_ratio": float(hum),
        }
        return stats, {"noise_method": noise_method, "hum_base_hz": hum_hz}

    def _dnsmos(self, x: np.ndarray, n_seconds: int) -> tuple[dict, np.ndarray, dict]:
        """DNSMOS stats (window-length-weighted means), the 1 Hz OVRL curve and meta."""
        cfg = self.config
        plan = dnsmos_plan(len(x), cfg.dnsmos_max_segments) if cfg.dnsmos else []
        meta = {
            "dnsmos_model": ("dnsmos_personalized" if cfg.dnsmos_personalized else "dnsmos")
            if cfg.dnsmos
            else None,
            "dnsmos_segments": len(plan),
            "dnsmos_windows_s": [[a / SAMPLE_RATE, b / SAMPLE_RATE] for a, b, _, _ in plan],
        }
        if not plan:
            stats = {f"dnsmos_{k}": float("nan") for k in DNSMOS_KEYS}
            return stats, np.full(n_seconds, np.nan, np.float32), meta
        mos = run_dnsmos(x, plan, cfg.dnsmos_personalized)
        weights = [own_stop - own_start for _, _, own_start, own_stop in plan]
        stats = {f"dnsmos_{k}": float(np.average(mos[k], weights=weights)) for k in DNSMOS_KEYS}
        return stats, _dnsmos_curve(mos["ovrl"], plan, n_seconds, len(x)), meta


def _samples(inputs: dict[str, Any]) -> np.ndarray:
    """The 16 kHz mono float32 samples of ``inputs["waveform"]`` (or ``inputs["audio"]``)."""
    audio = inputs.get("waveform", inputs.get("audio"))
    if not isinstance(audio, Audio):
        raise ConfigError(
            f"Expected `inputs['waveform']` to be a tfqa.io.Audio, but got {type(audio).__name__}",
            hint="Decode the clip with tfqa.io.load_audio(path)",
        )
    x = np.asarray(audio.samples, np.float32).reshape(-1)
    if audio.sample_rate != SAMPLE_RATE:
        g = math.gcd(SAMPLE_RATE, int(audio.sample_rate))
        x = resample_poly(x, SAMPLE_RATE // g, int(audio.sample_rate) // g).astype(np.float32)
    if len(x) < HOP_SAMPLES:
        raise ClipTooShortError(
            f"the audio holds {len(x)} samples; the audio features need at least one "
            f"{1000 // ANALYSIS_RATE} ms frame ({HOP_SAMPLES} samples at {SAMPLE_RATE} Hz)",
            path=inputs.get("path"),
            hint="Score a clip with a longer audio track",
        )
    return np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
