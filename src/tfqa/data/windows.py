"""Fixed-length windows over preprocessed clips: the model's input batches.

The model's positional encoding has a fixed length (150 frames = 6 s at
25 Hz), so clips are cut into windows of that length:

* training: one random crop per clip and epoch (seeded by ``(seed, epoch,
  clip)``, so a resumed run sees the same crops);
* inference: ``n_windows`` evenly spaced windows covering the clip, whose
  predictions are averaged;
* a clip shorter than the window is zero-padded and its ``valid`` mask marks
  the real frames (attention and pooling ignore the padding).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from tfqa.data.store import SEQUENCE_KEYS

Inputs = Mapping[str, np.ndarray]  # preprocessed: (T, K_m) per modality + "clip" (C,)


def n_frames(inputs: Inputs) -> int:
    return len(inputs[SEQUENCE_KEYS[0]])


def window_starts(n: int, window: int, k: int) -> list[int]:
    """Start frames of ``k`` evenly spaced windows over ``n`` frames (one if ``n <= window``).

    Example:
        >>> window_starts(400, 150, 3)
        [0, 125, 250]
    """
    if n <= window:
        return [0]
    if k <= 1:
        return [(n - window) // 2]
    return sorted({int(round(s)) for s in np.linspace(0, n - window, k)})


def cut(inputs: Inputs, start: int, window: int) -> dict[str, np.ndarray]:
    """The window ``[start, start + window)``, zero-padded, with ``valid (window,)``."""
    n = n_frames(inputs)
    stop = min(n, start + window)
    out: dict[str, np.ndarray] = {}
    for k in SEQUENCE_KEYS:
        seq = inputs[k][start:stop]
        if len(seq) < window:
            seq = np.concatenate([seq, np.zeros((window - len(seq), seq.shape[1]), seq.dtype)])
        out[k] = seq
    valid = np.zeros(window, dtype=bool)
    valid[: stop - start] = True
    out["valid"] = valid
    out["clip"] = inputs["clip"]
    return out


def to_tensors(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack windows into a batch: ``(B, W, K_m)`` per modality, ``clip (B, C)``, ``valid (B, W)``."""
    return {k: torch.from_numpy(np.stack([p[k] for p in parts])) for k in parts[0]}


class WindowDataset(Dataset):
    """Random training windows (one per clip per epoch) with their labels.

    Args:
        clips: preprocessed inputs per clip.
        labels: ``(N, 5)`` labels.
        window: window length in frames.
        seed: crop seed; call :meth:`set_epoch` each epoch.
    """

    def __init__(
        self, clips: Sequence[Inputs], labels: np.ndarray, window: int, *, seed: int = 0
    ) -> None:
        self.clips, self.labels = clips, np.asarray(labels, dtype=np.float32)
        self.window, self.seed, self.epoch = window, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        inputs = self.clips[i]
        n = n_frames(inputs)
        rng = np.random.default_rng((self.seed, self.epoch, i))
        start = int(rng.integers(0, n - self.window + 1)) if n > self.window else 0
        part = cut(inputs, start, self.window)
        item = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in part.items()}
        item["labels"] = torch.from_numpy(self.labels[i])
        return item


def eval_batches(
    clips: Sequence[Inputs], window: int, n_windows: int, batch_size: int
) -> Iterator[tuple[dict[str, torch.Tensor], np.ndarray]]:
    """All inference windows of all clips, in batches, with the clip index of each window."""
    parts, owners = [], []
    for i, inputs in enumerate(clips):
        for s in window_starts(n_frames(inputs), window, n_windows):
            parts.append(cut(inputs, s, window))
            owners.append(i)
            if len(parts) == batch_size:
                yield to_tensors(parts), np.array(owners)
                parts, owners = [], []
    if parts:
        yield to_tensors(parts), np.array(owners)
