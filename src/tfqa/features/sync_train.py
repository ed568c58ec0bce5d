"""Train the audio-to-mouth model behind the ``sync`` extractor.

The embedded model (``assets/sync_ridge.npz``) was made with::

    tfqa train-sync ../shared/data/clips/generated --audio-shift-frames -1 \
        --out src/tfqa/assets/sync_ridge.npz

i.e. on the 40 AI-generated clips only, so that the 41 real clips stay a
held-out test set for ``tfqa bench sync``.  Training is a ridge regression
(closed form, seconds on a CPU) of band-passed, z-scored mouth signals on
stacked log-mel frames.  Each clip is also heard through white noise (20 and
10 dB SNR) and through two synthetic rooms (RT60 0.4 and 0.9 s,
:func:`tfqa.data.degrade_audio.reverberate`): a reverberant tail smears the
speech envelope later in time, and a model that never heard one reads reverberant
speech as late audio (``benchmarks/sync_rooms.py``: in rooms of RT60 1.0 / 1.5 /
2.5 s the whole-clip offset of the 41 real clips stays within a frame of its clean
reading for 83 / 51 / 39 % of them without the rooms in training, 90 / 59 / 51 %
with them).

Where zero lies: the fit treats its clips as in sync.  Trained as they are,
the generated clips put the zero one frame late: the project's synthesiser
(whose mouth is timed from its phones, opening ~55 ms before each vowel)
then reads -13 to -58 ms at a true offset of 0.  Advancing the training
audio by one frame (``--audio-shift-frames -1``) centres the synthesiser's
clean clips on 0 (-16..+28 ms); LRS2 clips, which their authors aligned with
SyncNet, and studio GRID recordings move from -1 frame to 0 with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import Ridge

from tfqa.bench.sync import shift_audio
from tfqa.features.landmarks import MOUTH_PAIRS
from tfqa.features.sync import SyncModel, log_mel_frames, prepare_mouth, stack_context
from tfqa.io import load_audio

DEFAULT_TARGETS = tuple(name for name, _, _ in MOUTH_PAIRS)


def add_white_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` plus Gaussian white noise at ``snr_db`` below its mean power."""
    power = float(np.mean(x.astype(np.float64) ** 2))
    return x + rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(x)).astype(np.float32)


def clip_training_pair(
    path: str | Path,
    pipeline,
    n_mels: int,
    audio_shift_frames: int = 0,
    noise_floor_percentile: float | None = None,
    noise_snr_db: float | None = None,
    seed: int = 0,
    subframes: int = 4,
    reverb_rt60_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mel (T, subframes * n_mels), mouth (T, K) prepared, valid (T,)) for one clip.

    ``audio_shift_frames`` delays (> 0) or advances (< 0) the clip's audio before
    the fit: it sets where the estimator's zero lies (see ``train_sync_model``).
    ``noise_snr_db`` / ``reverb_rt60_s`` hear the clip through white noise / a
    synthetic room first (augmentation).
    """
    feats = pipeline.extract(path)
    face = feats.blocks["face"]
    present = face.sequences["present"][:, 0] > 0.5
    audio = load_audio(path, video_start_s=feats.info.video_start_s)
    samples = shift_audio(audio.samples, audio_shift_frames)
    if noise_snr_db is not None:  # augmentation: the same clip heard through white noise
        samples = add_white_noise(samples, noise_snr_db, np.random.default_rng(seed))
    if reverb_rt60_s is not None:  # augmentation: the same clip heard in a room
        from tfqa.data.degrade_audio import reverberate

        samples = reverberate(samples, reverb_rt60_s, np.random.default_rng(seed))
    mouth = prepare_mouth(face.sequences["mouth"], present)
    mel = log_mel_frames(samples, len(mouth), n_mels, noise_floor_percentile, subframes)
    return mel, mouth, present


def fit_sync_model(
    pairs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    n_mels: int = 40,
    context: int = 3,
    alpha: float = 1000.0,
    targets: tuple[str, ...] = DEFAULT_TARGETS,
    provenance: dict | None = None,
    noise_floor_percentile: float | None = None,
    subframes: int = 4,
) -> SyncModel:
    """Closed-form ridge fit on frames where a face was tracked."""
    xs, ys = [], []
    for mel, mouth, valid in pairs:
        xs.append(stack_context(mel, context)[valid])
        ys.append(mouth[valid])
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    ridge = Ridge(alpha=alpha).fit(x, y)
    r2 = float(ridge.score(x, y))
    prov = {"name": "tfqa-sync-ridge", "n_pairs": len(pairs), "n_frames": int(len(x)), "train_r2": r2,
            "alpha": alpha, **(provenance or {})}  # fmt: skip
    return SyncModel(
        ridge.coef_.T.copy(),
        ridge.intercept_.copy(),
        n_mels,
        context,
        targets,
        prov,
        noise_floor_percentile,
        subframes,
    )


def train_sync_model(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    cache_dir: str | Path | None = None,
    alpha: float = 1000.0,
    context: int = 3,
    n_mels: int = 20,
    subframes: int = 1,
    audio_shift_frames: int = 0,
    noise_floor_percentile: float | None = 20.0,
    augment_snr_db: Sequence[float] = (20.0, 10.0),
    augment_rt60_s: Sequence[float] = (0.4, 0.9),
    on_clip: Callable[[str, Exception | None], None] | None = None,
) -> SyncModel:
    """Extract mouth signals + audio of ``paths``, fit, save to ``out``; unusable clips are skipped.

    The fit treats the training clips as in sync after their audio is shifted by
    ``audio_shift_frames``; that choice defines the estimator's zero.  Each clip
    is also seen through white noise at ``augment_snr_db`` and in synthetic rooms
    of ``augment_rt60_s`` so that noisy and reverberant speech still predict the mouth.
    """
    from tfqa.errors import InputError
    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline

    pipeline = FeaturePipeline(
        ["face_mesh", "face"], cache=FeatureCache(cache_dir) if cache_dir else None
    )
    pairs = []
    used = []
    for p in paths:
        try:
            views = [(None, None)] + [(snr, None) for snr in augment_snr_db]
            views += [(None, rt60) for rt60 in augment_rt60_s]
            for i, (snr, rt60) in enumerate(views):
                pairs.append(
                    clip_training_pair(
                        p,
                        pipeline,
                        n_mels,
                        audio_shift_frames,
                        noise_floor_percentile,
                        snr,
                        i,
                        subframes,
                        rt60,
                    )
                )
            used.append(Path(p).name)
            err = None
        except InputError as exc:
            err = exc
        if on_clip:
            on_clip(str(p), err)
    if not pairs:
        raise ValueError("Expected at least one usable training clip, but got none")
    prov = {
        "clips": used,
        "n_clips": len(used),
        "audio_shift_frames": audio_shift_frames,
        "augment_snr_db": list(augment_snr_db),
        "augment_rt60_s": list(augment_rt60_s),
    }
    model = fit_sync_model(pairs, n_mels=n_mels, context=context, alpha=alpha, provenance=prov,
                           noise_floor_percentile=noise_floor_percentile, subframes=subframes)  # fmt: skip
    model.save(out)
    return model
