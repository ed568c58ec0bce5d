"""One vector per clip: each preprocessed modality summarised over time.

The pooled-feature baselines (:mod:`tfqa.evaluation.baselines`) and the tree
member of the default scorer (:mod:`tfqa.model.trees`) read clips this way.
Each modality's sequence has gone through the model's own preprocessing
(median imputation → ``StandardScaler`` → PCA, :class:`Preprocessor`) and is
summarised by :data:`POOL_STATS` — mean, standard deviation, 10th/50th/90th
percentiles and the mean absolute frame-to-frame change (the only temporal
statistic: jitter, stutter and frozen faces live in it).  The standardised
clip-evidence vector is appended as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tfqa.data.preprocess import Preprocessor
from tfqa.data.store import SEQUENCE_KEYS, ClipArrays
from tfqa.errors import ConfigError

POOL_STATS = ("mean", "std", "p10", "p50", "p90", "delta")


def pool_inputs(inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """One preprocessed clip (``(T, K_m)`` per modality + ``clip (C,)``) → ``(F,)`` pooled vector.

    Per modality, in :data:`SEQUENCE_KEYS` order, the :data:`POOL_STATS` of
    each column over time (``delta`` is 0 for a one-frame clip), then the clip vector.
    """
    parts = []
    for key in SEQUENCE_KEYS:
        x = np.asarray(inputs[key], dtype=np.float64)
        p10, p50, p90 = np.percentile(x, [10, 50, 90], axis=0)
        delta = np.abs(np.diff(x, axis=0)).mean(0) if len(x) > 1 else np.zeros(x.shape[1])
        parts += [x.mean(0), x.std(0), p10, p50, p90, delta]
    parts.append(np.asarray(inputs["clip"], dtype=np.float64))
    return np.concatenate(parts).astype(np.float32)


def pooled_names(pre: Preprocessor) -> list[str]:
    """Names of the pooled columns, e.g. ``audio.pc003.p90`` or ``clip.dnsmos_ovrl``."""
    dims = pre.dims
    names = []
    for key in SEQUENCE_KEYS:
        cols = [f"{key}.{j:03d}" for j in range(dims[key])]
        names += [f"{c}.{s}" for s in POOL_STATS for c in cols]
    return names + [f"clip.{j:03d}" for j in range(dims["clip"])]


def pooled_matrix(pre: Preprocessor, clips: Sequence[ClipArrays]) -> np.ndarray:
    """Contract arrays of N clips → ``(N, F)`` pooled features (see the module docstring)."""
    if len(clips) == 0:
        raise ConfigError("Expected at least one clip to pool, but got none")
    return np.stack([pool_inputs(pre.transform(c)) for c in clips])
