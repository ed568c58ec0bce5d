"""Audio-visual synchronisation: offset (frames, ms), confidence and a per-second sync curve.

Method (a landmark-based cousin of SyncNet that runs in milliseconds on a CPU):

1. Mouth articulation signals come from the pose-normalised face track
   (``face`` block: inner/outer lip openings, widths, jaw drop), band-passed
   to 0.3-8 Hz (syllable rates) and z-scored per clip.
2. An *audio-to-mouth* linear model (:class:`SyncModel`, ridge regression
   on log-mel frames with +-3 frames of context) predicts those signals from
   the speech alone.  It ships inside the package (``assets/sync_ridge.npz``;
   fitted on the 40 generated clips, each also heard through white noise and
   in two synthetic rooms) and is re-trainable with
   :func:`tfqa.features.sync_train.train_sync_model` (``tfqa train-sync``).
   Its file's SHA-256 is part of the extractor's cache key.
3. The observed and predicted signals are cross-correlated over lags of
   +-``max_lag`` frames; the lag of the peak is the A/V offset (refined to
   sub-frame precision by a parabola through the peak), positive when the
   audio lags the video.  Confidence is the peak's height above the median
   of the lag curve (as SyncNet's "median - min distance"), and a
   significance z-score tells how unlikely the peak is for unrelated audio.
4. The same estimate on sliding windows gives the per-second offset and
   confidence curves.
5. A clip with shot cuts (the ``shots`` block) is measured shot by shot, each
   shot as a clip of its own: a cut may join recordings with offsets of their
   own.  The clip's statistics and lag curve are the shots' length-weighted
   means; ``meta["shot_offsets_ms"]`` keeps each shot's offset.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

from tfqa.errors import require_model_file
from tfqa.features.base import DerivedExtractor, FeatureBlock, register
from tfqa.io.constants import ANALYSIS_RATE, FRAME_MS, HOP_SAMPLES, SAMPLE_RATE

MEL_HOP = HOP_SAMPLES // 4  # 160 samples = 10 ms: 4 mel frames per analysis frame
MEL_WIN = 400  # 25 ms analysis window
MEL_NFFT = 512
BAND_HZ = (0.3, 8.0)  # articulation band of the mouth signals (syllable rate ~2-8 Hz)
_EPS = 1e-8
_MODEL_HINT = "Omit the path to use the embedded model, or train one with `tfqa train-sync`"


# ------------------------------------------------------------------------------------
# the audio-to-mouth model


@dataclass(frozen=True)
class SyncModel:
    """Linear map from stacked log-mel context to z-scored mouth signals.

    ``coef`` is (D_in, D_out) with D_in = (2 * context + 1) * subframes * n_mels.
    """

    coef: np.ndarray
    intercept: np.ndarray
    n_mels: int
    context: int
    targets: tuple[str, ...]
    provenance: dict[str, Any]
    noise_floor_percentile: float | None = None
    subframes: int = 4  # 10 ms mel frames kept per 40 ms analysis frame (1 = their mean)

    def save(self, path: str | Path) -> Path:
        header = {
            "n_mels": self.n_mels,
            "context": self.context,
            "noise_floor_percentile": self.noise_floor_percentile,
            "subframes": self.subframes,
            "targets": list(self.targets),
            "provenance": self.provenance,
            "format": "tfqa-sync-ridge/1",
        }
        path = Path(path)
        np.savez_compressed(
            path,
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            header=np.frombuffer(json.dumps(header).encode(), np.uint8),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> SyncModel:
        path = require_model_file(path, "sync model file", _MODEL_HINT)
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            return cls(
                coef=data["coef"],
                intercept=data["intercept"],
                n_mels=int(header["n_mels"]),
                context=int(header["context"]),
                targets=tuple(header["targets"]),
                provenance=header.get("provenance", {}),
                noise_floor_percentile=header.get("noise_floor_percentile"),
                subframes=int(header.get("subframes", 4)),
            )

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(T, D_in) stacked features -> (T, D_out) predicted mouth signals."""
        return features @ self.coef + self.intercept


def load_sync_model(path: str | Path | None = None) -> SyncModel:
    """The embedded model (``path=None``) or one saved by :meth:`SyncModel.save`.

    Loaded models are cached by file content, so a file overwritten in place is reloaded.
    """
    if path is None:
        return _load_embedded()
    return _load_file(str(path), sync_model_digest(path))


@lru_cache(maxsize=1)
def _load_embedded() -> SyncModel:
    ref = resources.files("tfqa.assets").joinpath("sync_ridge.npz")
    with resources.as_file(ref) as p:
        return SyncModel.load(p)


@lru_cache(maxsize=4)
def _load_file(path: str, digest: str) -> SyncModel:
    del digest  # part of the cache key only
    return SyncModel.load(path)


def sync_model_digest(path: str | Path | None = None) -> str:
    """SHA-256 (16 hex digits) of the model file: part of the sync cache key.

    An explicit file is read each time (a few kB), so overwriting it changes the key.
    """
    if path is None:
        return _embedded_digest()
    data = require_model_file(path, "sync model file", _MODEL_HINT).read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


@lru_cache(maxsize=1)
def _embedded_digest() -> str:
    data = resources.files("tfqa.assets").joinpath("sync_ridge.npz").read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


# ------------------------------------------------------------------------------------
# signal helpers (pure functions, unit-tested)


def log_mel_frames(
    samples: np.ndarray,
    n_frames: int,
    n_mels: int,
    noise_floor_percentile: float | None = None,
    subframes: int = 4,
) -> np.ndarray:
    """(n_frames, subframes * n_mels) log-mel of 10 ms frames, z-scored per band.

    ``subframes=4`` keeps the four 10 ms frames of each 40 ms analysis frame;
    ``subframes=1`` averages their power (less detail, less noise).

    With ``noise_floor_percentile`` (e.g. 10), each band's stationary noise floor
    (that percentile of its power over the clip, as in minimum-statistics noise
    estimation) is subtracted before the log, so steady noise flattens instead of
    drowning the speech modulation the sync model follows.
    """
    import librosa

    need = n_frames * HOP_SAMPLES
    x = np.pad(samples.astype(np.float32), (0, max(0, need + MEL_NFFT - len(samples))))[
        : need + MEL_NFFT
    ]
    spec = librosa.feature.melspectrogram(
        y=x, sr=SAMPLE_RATE, n_fft=MEL_NFFT, hop_length=MEL_HOP, win_length=MEL_WIN,
        n_mels=n_mels, fmin=50.0, fmax=7600.0, center=True,
    )  # fmt: skip
    spec = spec[:, : n_frames * 4]
    if subframes == 1:
        spec = spec.reshape(n_mels, n_frames, 4).mean(axis=2)
    elif subframes != 4:
        raise ValueError(f"Expected subframes to be 1 or 4, but got {subframes}")
    if noise_floor_percentile is not None:
        floor = np.percentile(spec, noise_floor_percentile, axis=1, keepdims=True)
        spec = np.maximum(spec - floor, 0.1 * floor)
    logm = np.log(spec + 1e-6).T.reshape(n_frames, subframes * n_mels)
    return _zscore(logm)


def stack_context(x: np.ndarray, context: int) -> np.ndarray:
    """(T, D) -> (T, (2c+1) D): each row holds frames t-c..t+c (edges repeated)."""
    n = len(x)
    padded = np.pad(x, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[i : i + n] for i in range(2 * context + 1)], axis=1)


def _zscore(x: np.ndarray) -> np.ndarray:
    mu = np.nanmean(x, axis=0)
    sd = np.nanstd(x, axis=0)
    return (x - mu) / (sd + 1e-6)


def prepare_mouth(mouth: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Interpolate gaps, band-pass to the articulation band and z-score: (T, K) -> (T, K)."""
    t = np.arange(len(mouth))
    ok = present & np.isfinite(mouth).all(axis=1)
    if ok.sum() < 2:
        return np.zeros_like(mouth, dtype=np.float64)
    filled = np.stack([np.interp(t, t[ok], mouth[ok, j]) for j in range(mouth.shape[1])], axis=1)
    sos = butter(2, BAND_HZ, btype="band", fs=ANALYSIS_RATE, output="sos")
    padlen = min(len(filled) - 1, 3 * (2 * len(sos) + 1))
    return _zscore(sosfiltfilt(sos, filled, axis=0, padlen=padlen))


def lag_curve(
    observed: np.ndarray, predicted: np.ndarray, valid: np.ndarray, max_lag: int
) -> np.ndarray:
    """Mean (over signals) Pearson correlation of observed[t] with predicted[t + lag].

    Args:
        observed, predicted: (T, K) signals.
        valid: (T,) frames usable on the observed side (a face was tracked).
        max_lag: lags -max_lag..max_lag frames (positive = audio later than video).

    Returns:
        (2 * max_lag + 1,) correlations; NaN where fewer than 8 frames overlap.
    """
    n = len(observed)
    out = np.full(2 * max_lag + 1, np.nan)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        lo, hi = max(0, -lag), n - max(0, lag)
        if hi - lo < 8:
            continue
        m = valid[lo:hi]
        if m.sum() < 8:
            continue
        a = observed[lo:hi][m]
        b = predicted[lo + lag : hi + lag][m]
        a = a - a.mean(0)
        b = b - b.mean(0)
        r = (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0) + _EPS)
        out[i] = float(np.mean(r))
    return out


def peak_offset(curve: np.ndarray, max_lag: int) -> tuple[float, int, float]:
    """(sub-frame offset, integer offset, peak value) of a lag curve (parabolic refinement)."""
    if not np.isfinite(curve).any():
        return float("nan"), 0, float("nan")
    i = int(np.nanargmax(curve))
    frac = 0.0
    if 0 < i < len(curve) - 1 and np.isfinite(curve[i - 1]) and np.isfinite(curve[i + 1]):
        denom = curve[i - 1] - 2 * curve[i] + curve[i + 1]
        if denom < 0:
            frac = float(np.clip(0.5 * (curve[i - 1] - curve[i + 1]) / denom, -0.5, 0.5))
    return i - max_lag + frac, i - max_lag, float(curve[i])


def confidence(curve: np.ndarray) -> float:
    """Peak height above the median of the lag curve (0 = no preferred alignment)."""
    if not np.isfinite(curve).any():
        return float("nan")
    return float(np.nanmax(curve) - np.nanmedian(curve))


# ------------------------------------------------------------------------------------
# the extractor


@dataclass(frozen=True)
class SyncConfig:
    max_lag: int = 15  # frames searched each way (600 ms at 25 Hz)
    window_s: float = 5.0  # window of the per-second offset/confidence curve
    model_path: str | None = None  # None = the embedded audio-to-mouth model


@register
class Sync(DerivedExtractor):
    """A/V offset, confidence and per-second sync curves from mouth landmarks and speech."""

    name = "sync"
    version = "2"
    inputs = ("face", "waveform", "shots")
    Config = SyncConfig
    description = "audio-to-mouth cross-correlation: A/V offset (frames, ms), confidence, curves"

    def config_hash(self) -> str:
        """The config's hash and the model file's: a retrained model never reuses cached offsets."""
        both = super().config_hash() + sync_model_digest(self.config.model_path)
        return hashlib.sha256(both.encode()).hexdigest()[:16]

    def compute(self, inputs: dict[str, Any]) -> FeatureBlock:
        face: FeatureBlock = inputs["face"]
        audio = inputs["waveform"]
        model = load_sync_model(self.config.model_path)
        present = face.sequences["present"][:, 0] > 0.5
        mouth = face.sequences["mouth"]
        n = len(present)
        cuts = [c for c in inputs["shots"].meta.get("cuts", []) if 0 < c < n]
        bounds = list(zip([0, *cuts], [*cuts, n], strict=True))
        # each shot is measured as if it were a clip of its own: a cut may join recordings
        # with offsets of their own, and a mouth signal z-scored across two faces
        columns = face.columns.get("mouth")
        shots = []
        for lo, hi in bounds:
            end = hi * HOP_SAMPLES if hi < n else None  # the last shot keeps the audio's tail
            samples = audio.samples[lo * HOP_SAMPLES : end]
            shots.append(self._measure(mouth[lo:hi], columns, present[lo:hi], samples, model))
        if len(shots) == 1:
            stats, curve = shots[0]["stats"], shots[0]["curve"]
        else:  # the shots' statistics and lag curves, weighted by their length
            w = np.array([hi - lo for lo, hi in bounds], dtype=float)
            stats = {
                k: _weighted_mean([m["stats"][k] for m in shots], w) for k in shots[0]["stats"]
            }
            curve = np.array(
                [_weighted_mean(c, w) for c in zip(*(m["curve"] for m in shots), strict=True)]
            )
        meta = {
            "lag_curve": [None if not np.isfinite(c) else round(float(c), 4) for c in curve],
            "max_lag": self.config.max_lag,
            "model": model.provenance.get("name", "custom"),
        }
        if len(shots) > 1:
            meta["shot_offsets_ms"] = [round(m["stats"]["av_offset_ms"], 1) for m in shots]
            meta["shot_confidence"] = [round(m["stats"]["sync_confidence"], 4) for m in shots]
        return FeatureBlock(
            name=self.name,
            sequences={"sync": np.concatenate([m["seq"] for m in shots])},
            columns={
                "sync": [
                    "mouth_observed",
                    "mouth_predicted_at_offset",
                    "mouth_predicted_at_zero",
                    "local_corr_at_zero",
                    "local_corr_at_offset",
                ]
            },  # fmt: skip
            stats=stats,
            curves={
                "offset_ms": _per_second(shots, "local_offset", bounds, n) * FRAME_MS,
                "confidence": _per_second(shots, "local_conf", bounds, n),
            },
            meta=meta,
        )

    def _measure(self, mouth, columns, present, samples, model) -> dict[str, Any]:
        """Offset, confidence, lag curve, per-second curves and per-frame evidence of one shot."""
        max_lag = self.config.max_lag
        observed, predicted = aligned_signals(mouth, columns, present, samples, model)
        curve = lag_curve(observed, predicted, present, max_lag)
        offset, offset_int, peak = peak_offset(curve, max_lag)
        n_valid = int(present.sum())
        local_off, local_conf = self._local_curves(observed, predicted, present)
        agree = np.isfinite(local_off) & (np.abs(local_off - offset_int) <= 1)
        stats = {
            "av_offset_frames": float(offset_int) if np.isfinite(offset) else float("nan"),
            "av_offset_ms": float(offset * FRAME_MS),
            "sync_confidence": confidence(curve),
            "sync_peak_corr": peak,
            "sync_corr_at_zero": float(curve[max_lag]),
            # peak correlation against the null of unrelated signals (~N(0, 1/sqrt(n)))
            "sync_significance": float(peak * np.sqrt(max(n_valid, 1) / 3.0)),
            "sync_offset_consistency": float(agree.sum() / max(np.isfinite(local_off).sum(), 1)),
        }
        return {
            "stats": stats,
            "curve": curve,
            "local_offset": local_off,
            "local_conf": local_conf,
            "seq": self._per_frame(observed, predicted, present, offset_int),
        }

    def _local_curves(self, observed, predicted, present) -> tuple[np.ndarray, np.ndarray]:
        """Offset (frames) and confidence of a ``window_s`` window centred on each second."""
        n = len(observed)
        n_sec = int(np.ceil(n / ANALYSIS_RATE))
        half = int(self.config.window_s * ANALYSIS_RATE / 2)
        offs = np.full(n_sec, np.nan)
        confs = np.full(n_sec, np.nan)
        for s in range(n_sec):
            c = int((s + 0.5) * ANALYSIS_RATE)
            lo, hi = max(0, c - half), min(n, c + half)
            if hi - lo < ANALYSIS_RATE or present[lo:hi].mean() < 0.5:
                continue
            curve = lag_curve(
                observed[lo:hi], predicted[lo:hi], present[lo:hi], self.config.max_lag
            )
            _, offs[s], _ = peak_offset(curve, self.config.max_lag)
            confs[s] = confidence(curve)
        return offs, confs

    @staticmethod
    def _per_frame(observed, predicted, present, offset: int) -> np.ndarray:
        """Per-frame sync evidence on the analysis grid (T, 5)."""
        n = len(observed)
        obs = observed[:, 0]
        pred0 = predicted[:, 0]
        pred_off = np.roll(predicted[:, 0], -offset) if offset else pred0
        if offset > 0:
            pred_off[n - offset :] = np.nan
        elif offset < 0:
            pred_off[:-offset] = np.nan
        win = ANALYSIS_RATE  # 1 s running correlation
        corr0 = _running_corr(observed, predicted, win)
        shifted = np.roll(predicted, -offset, axis=0)
        corr_off = _running_corr(observed, shifted, win)
        seq = np.stack([obs, pred_off, pred0, corr0, corr_off], axis=1).astype(np.float32)
        seq[~present, 0] = np.nan
        return seq


def _weighted_mean(values: Any, weights: np.ndarray) -> float:
    """Mean of ``values`` weighted by ``weights``, over the finite values (NaN if none)."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    return float(np.average(v[ok], weights=weights[ok])) if ok.any() else float("nan")


def _per_second(shots: list[dict[str, Any]], key: str, bounds: list, n: int) -> np.ndarray:
    """One value per second of the clip: the shot holding the second's centre gives it."""
    if len(shots) == 1:
        return shots[0][key].astype(np.float32)
    out = np.full(int(np.ceil(n / ANALYSIS_RATE)), np.nan, dtype=np.float32)
    for s in range(len(out)):
        c = min(int((s + 0.5) * ANALYSIS_RATE), n - 1)
        k = next(i for i, (lo, hi) in enumerate(bounds) if lo <= c < hi)
        lo = bounds[k][0]
        values = shots[k][key]
        # the shot's own seconds start at its first frame: take the one whose centre is nearest
        j = int(np.clip(round((c - lo) / ANALYSIS_RATE - 0.5), 0, len(values) - 1))
        out[s] = values[j]
    return out


def aligned_signals(
    mouth: np.ndarray,
    columns: list[str] | None,
    present: np.ndarray,
    samples: np.ndarray,
    model: SyncModel,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed mouth signals (prepared) and their prediction from the audio, both (T, K).

    ``samples`` is 16 kHz audio whose sample 0 is at frame 0 of ``mouth``.
    """
    observed = prepare_mouth(_select(mouth, columns, model.targets), present)
    mel = log_mel_frames(
        samples, len(observed), model.n_mels, model.noise_floor_percentile, model.subframes
    )
    return observed, model.predict(stack_context(mel, model.context))


@dataclass(frozen=True)
class SyncInputs:
    """What the offset estimators read from a clip: mouth signals, face presence, audio."""

    mouth: np.ndarray  # (T, M) mouth-shape signals of the ``face`` block
    columns: list[str] | None
    present: np.ndarray  # (T,) bool
    samples: np.ndarray  # 16 kHz mono, aligned to the first video frame

    def lip_opening(self) -> np.ndarray:
        """The inner-lip opening (NaN where no face): the crude estimators' mouth signal."""
        col = self.columns.index("inner_open_mid") if self.columns else 0
        lip = self.mouth[:, col].astype(float)
        lip[~self.present] = np.nan
        return lip


def sync_inputs(pipeline: Any, path: str | Path) -> SyncInputs:
    """Run (or read from its cache) ``pipeline``'s ``face`` block on ``path`` and load the audio."""
    from tfqa.io import load_audio

    feats = pipeline.extract(path)
    face = feats.blocks["face"]
    samples = load_audio(path, video_start_s=feats.info.video_start_s).samples
    return SyncInputs(face.sequences["mouth"], face.columns.get("mouth"),
                      face.sequences["present"][:, 0] > 0.5, samples)  # fmt: skip


def estimate_offset(
    mouth: np.ndarray,
    columns: list[str] | None,
    present: np.ndarray,
    samples: np.ndarray,
    *,
    model: SyncModel | None = None,
    max_lag: int = 15,
) -> dict[str, float]:
    """Offset (frames, ms; positive = audio lags) and confidence of one window of a clip."""
    model = model or load_sync_model()
    observed, predicted = aligned_signals(mouth, columns, present, samples, model)
    curve = lag_curve(observed, predicted, present, max_lag)
    offset, offset_int, peak = peak_offset(curve, max_lag)
    return {
        "offset_frames": float(offset_int),
        "offset_ms": float(offset * FRAME_MS),
        "confidence": confidence(curve),
        "peak_corr": peak,
    }


def _select(mouth: np.ndarray, columns: list[str] | None, targets: tuple[str, ...]) -> np.ndarray:
    if not columns:
        return mouth
    idx = [columns.index(t) for t in targets]
    return mouth[:, idx]


def _running_corr(a: np.ndarray, b: np.ndarray, win: int) -> np.ndarray:
    """Mean over signals of the Pearson correlation in a centred window of ``win`` frames: (T,)."""
    from scipy.ndimage import uniform_filter1d

    def mean(x):
        return uniform_filter1d(x, size=win, axis=0, mode="nearest")

    ma, mb = mean(a), mean(b)
    cov = mean(a * b) - ma * mb
    va = mean(a * a) - ma**2
    vb = mean(b * b) - mb**2
    r = cov / np.sqrt(np.maximum(va * vb, _EPS))
    return np.clip(r.mean(axis=1), -1, 1)
