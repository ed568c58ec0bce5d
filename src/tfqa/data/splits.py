"""Group-disjoint train/val/test splits.

Random clip-level splits put the same person in train and test and inflate the
correlations by about 0.1 (SPEC §3), so every split here is *group*-disjoint:
all clips of one ``group`` (identity / source clip) land in one split.  A
``split`` column given in the manifest is honoured; groups without one are
assigned greedily, in a seeded random order, to the split furthest below its
target share of clips.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tfqa.data.manifest import SPLITS, ManifestError

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def assign_splits(
    manifest: pd.DataFrame,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> np.ndarray:
    """Give every row a split, keeping groups disjoint.

    Args:
        manifest: a validated manifest (columns ``group`` and ``split``).
        fractions: target shares of clips for train, val, test (sum to 1).
        seed: seeds the order in which free groups are assigned.

    Returns:
        ``(N,)`` array of ``"train"`` / ``"val"`` / ``"test"``.

    Raises:
        ManifestError: the given ``split`` column puts one group in two
            splits, or ``fractions`` is malformed.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ManifestError(
            f"Expected split fractions to be 3 non-negative numbers summing to 1, but got {list(fractions)}"
        )
    groups = manifest["group"].astype(str).to_numpy()
    given = manifest["split"].to_numpy(dtype=object)
    fixed = _fixed_groups(groups, given)
    sizes = pd.Series(groups).value_counts(sort=False)
    counts = dict.fromkeys(SPLITS, 0)
    for g, s in fixed.items():
        counts[s] += int(sizes[g])
    free = [g for g in sizes.index if g not in fixed]
    free = [free[i] for i in np.random.default_rng(seed).permutation(len(free))]
    target = dict(zip(SPLITS, fr * len(groups), strict=True))
    out = dict(fixed)
    # A split that should exist but has no clip yet gets the first free group,
    # so that few-group datasets still have a val and a test split.
    for s in SPLITS:
        if target[s] > 0 and counts[s] == 0 and len(free) >= 3:
            g = free.pop()
            out[g] = s
            counts[s] += int(sizes[g])
    for g in free:
        s = max(SPLITS, key=lambda k: target[k] - counts[k])
        out[g] = s
        counts[s] += int(sizes[g])
    return np.array([out[g] for g in groups], dtype=object)


def _fixed_groups(groups: np.ndarray, given: np.ndarray) -> dict[str, str]:
    fixed: dict[str, str] = {}
    for g, s in zip(groups, given, strict=True):
        if s is None or pd.isna(s):
            continue
        if fixed.setdefault(g, s) != s:
            raise ManifestError(
                f"group {g!r} appears in both the {fixed[g]!r} and the {s!r} split",
                hint="Splits must be group-disjoint (no identity in two splits); fix the `split` column",
            )
    return fixed


def split_summary(splits: np.ndarray, groups: Sequence[str]) -> dict[str, dict[str, int]]:
    """Clips and groups per split, e.g. ``{"train": {"clips": 80, "groups": 16}, ...}``."""
    groups = np.asarray(groups, dtype=object)
    return {
        s: {"clips": int((splits == s).sum()), "groups": len(set(groups[splits == s]))}
        for s in SPLITS
    }
