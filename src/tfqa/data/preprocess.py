"""The thesis ``data_preprocessing_pipeline``: median imputation, standardisation, PCA.

Per modality, fitted on *training* frames only:

1. ``SimpleImputer(strategy="median")`` — NaN (a lost face, an unmeasured
   stat) becomes the feature's training median;
2. ``StandardScaler`` — zero mean, unit variance;
3. ``PCA`` to the configured size (thesis: visual 100, audio 200, keypoints
   50, AU 17; total 4237 → 367 dims).  ``n_components = min(configured, dim,
   n_fit_samples)``; when that is below the configured size, a note says so.

The sync sequence and the per-clip evidence are imputed and standardised but
not reduced.  The fitted statistics are kept as plain arrays (no pickled
sklearn objects), so a checkpoint carries them as tensors and loads with
``torch.load(weights_only=True)``; :meth:`ModalityTransform.transform` is the
same affine map sklearn applies (a test checks it against sklearn).

The model's ``sync`` input is the standardised sync sequence with the
face-present mask appended as its last column (so the model can tell an
imputed frame from a measured one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfqa.data.store import SEQUENCE_KEYS, ClipArrays

INPUT_KEYS = (*SEQUENCE_KEYS, "clip")


@dataclass
class ModalityTransform:
    """Fitted imputation + scaling (+ PCA) for one modality; arrays of shape (D,) / (K, D)."""

    median: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray | None = None
    pca_mean: np.ndarray | None = None
    explained_variance_ratio: np.ndarray | None = None
    whiten_scale: np.ndarray | None = None
    clip_centred: np.ndarray | None = None  # [1.0]: each clip's own mean is removed first

    @property
    def centred(self) -> bool:
        return self.clip_centred is not None and bool(np.asarray(self.clip_centred).any())

    @property
    def in_dim(self) -> int:
        return len(self.mean)

    @property
    def out_dim(self) -> int:
        return self.in_dim if self.components is None else len(self.components)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(..., D)`` raw features (NaN allowed) → ``(..., K)`` float32."""
        x = np.asarray(x, dtype=np.float32)
        if self.centred:
            x = centre_clip(x)
        x = np.where(np.isnan(x), self.median, x)
        x = (x - self.mean) / self.scale
        if self.components is not None:
            x = (x - self.pca_mean) @ self.components.T
            if self.whiten_scale is not None:
                x = x / self.whiten_scale
        return x.astype(np.float32, copy=False)

    def state(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in vars(self).items() if v is not None}


def aligned(a: np.ndarray, boundary: int = 64) -> np.ndarray:
    """A copy of ``a`` whose data starts on a ``boundary``-byte boundary.

    OpenBLAS's AVX-512 kernels round a matrix product differently with the operand's alignment
    (measured: the same PCA components at offsets 0 and 48 mod 64 gave projections up to 1e-6
    apart), so a transform restored from a checkpoint would not reproduce the fitted one
    bit for bit; the components always sit on the same boundary instead.
    """
    a = np.asarray(a)
    buf = np.empty(a.nbytes + boundary, dtype=np.uint8)
    start = (-buf.ctypes.data) % boundary
    out = buf[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def centre_clip(x: np.ndarray) -> np.ndarray:
    """``(T, D)`` minus each column's mean over its finite frames (NaN stays NaN; an all-NaN
    column is left as is).  Removes what is constant over a clip -- for landmarks, the
    person's face shape -- and keeps the motion."""
    x = np.asarray(x, dtype=np.float32)
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    mean = np.where(ok, x, 0.0).sum(axis=0) / np.maximum(n, 1)
    return (x - mean).astype(np.float32, copy=False)


def fit_modality(
    x: np.ndarray, n_components: int | None, *, whiten: bool = False, seed: int = 0
) -> tuple[ModalityTransform, str | None]:
    """Fit imputer → scaler (→ PCA) on ``x`` of shape ``(n_samples, D)``.

    Returns:
        The transform, and a note when PCA had to use fewer components than asked.
    """
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, dtype=np.float32)
    imputer = SimpleImputer(strategy="median", keep_empty_features=True)
    z = imputer.fit_transform(x)
    scaler = StandardScaler()
    z = scaler.fit_transform(z)
    t = ModalityTransform(
        median=imputer.statistics_.astype(np.float32),
        mean=scaler.mean_.astype(np.float32),
        scale=scaler.scale_.astype(np.float32),
    )
    if n_components is None:
        return t, None
    k = min(n_components, x.shape[1], x.shape[0])
    note = None
    if k < n_components:
        note = f"PCA keeps {k} components instead of {n_components} (dim {x.shape[1]}, {x.shape[0]} fit samples)"
    pca = PCA(n_components=k, random_state=seed).fit(z)
    t.components = aligned(pca.components_.astype(np.float32))
    t.pca_mean = pca.mean_.astype(np.float32)
    t.explained_variance_ratio = pca.explained_variance_ratio_.astype(np.float32)
    if whiten:
        t.whiten_scale = np.sqrt(np.maximum(pca.explained_variance_, 1e-12)).astype(np.float32)
    return t, note


@dataclass
class Preprocessor:
    """One :class:`ModalityTransform` per model input (``visual`` ... ``sync``, ``clip``)."""

    transforms: dict[str, ModalityTransform]
    notes: list[str]

    @property
    def dims(self) -> dict[str, int]:
        """Model input dims after preprocessing (``sync`` includes the face-mask column)."""
        dims = {k: t.out_dim for k, t in self.transforms.items()}
        dims["sync"] += 1
        return dims

    def transform(self, arrays: ClipArrays) -> dict[str, np.ndarray]:
        """One clip's contract arrays → model inputs: ``(T, K_m)`` per modality and ``clip (C,)``."""
        out = {k: self.transforms[k].transform(arrays[k]) for k in INPUT_KEYS}
        mask = np.nan_to_num(np.asarray(arrays["mask"], dtype=np.float32))[:, None]
        out["sync"] = np.concatenate([out["sync"], mask], axis=1)
        return out

    def summary(self) -> dict[str, dict[str, float]]:
        """Per modality: input dim, output dim and the explained variance kept by PCA."""
        out = {}
        for k, t in self.transforms.items():
            ev = t.explained_variance_ratio
            out[k] = {
                "in_dim": t.in_dim,
                "out_dim": t.out_dim,
                "explained_variance": float(ev.sum()) if ev is not None else 1.0,
            }
        return out

    def state(self) -> dict[str, Any]:
        return {
            "transforms": {k: t.state() for k, t in self.transforms.items()},
            "notes": self.notes,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Preprocessor:
        transforms = {
            k: ModalityTransform(
                **{n: aligned(np.asarray(v, dtype=np.float32)) for n, v in t.items()}
            )
            for k, t in state["transforms"].items()
        }
        return cls(transforms, list(state.get("notes", [])))


def fit_preprocessor(
    clips: Sequence[ClipArrays],
    pca_sizes: Mapping[str, int],
    *,
    use_pca: bool = True,
    whiten: bool = False,
    max_fit_frames: int = 50_000,
    seed: int = 0,
    centre: Sequence[str] = (),
    log: Callable[[str], None] | None = None,
) -> Preprocessor:
    """Fit the preprocessing on training clips.

    Args:
        clips: the *training* clips' contract arrays.
        pca_sizes: PCA components per modality (modalities absent are not reduced).
        use_pca: False skips PCA everywhere (imputation + scaling only).
        whiten: divide PCA outputs by their standard deviation.
        max_fit_frames: frames sampled (evenly over clips, seeded) to fit the
            per-frame transforms, bounding memory and time on large corpora.
        seed: sampling and PCA seed.
        centre: sequence modalities whose per-clip mean is removed before everything else
            (e.g. ``("keypoints",)``: motion without the person's face shape).
        log: receives notes (reduced PCA sizes, explained variance).
    """
    rng = np.random.default_rng(seed)
    per_clip = max(1, math.ceil(max_fit_frames / max(1, len(clips))))
    frames: dict[str, list[np.ndarray]] = {k: [] for k in SEQUENCE_KEYS}
    clip_rows = []
    for arrays in clips:
        n = len(arrays["mask"])
        pick = np.sort(rng.choice(n, size=min(n, per_clip), replace=False))
        for k in SEQUENCE_KEYS:
            x = np.asarray(arrays[k], dtype=np.float32)
            frames[k].append((centre_clip(x) if k in centre else x)[pick])
        clip_rows.append(np.asarray(arrays["clip"], dtype=np.float32))
    data = {k: np.concatenate(v) for k, v in frames.items()}
    data["clip"] = np.stack(clip_rows)
    transforms, notes = {}, []
    for k in INPUT_KEYS:
        size = pca_sizes.get(k) if use_pca else None
        transforms[k], note = fit_modality(data[k], size, whiten=whiten, seed=seed)
        if k in centre:
            transforms[k].clip_centred = np.ones(1, np.float32)
        if note:
            notes.append(f"{k}: {note}")
    pre = Preprocessor(transforms, notes)
    if log is not None:
        for note in notes:
            log(note)
        for k, s in pre.summary().items():
            if transforms[k].components is not None:
                log(
                    f"PCA {k}: {s['in_dim']} -> {s['out_dim']} dims, "
                    f"explained variance {s['explained_variance']:.1%}"
                )
    return pre
