"""A/B study design: the pairs (from a CSV or a folder) and each rater's counter-balanced order.

Folder rule (``tfqa study create DIR``), first match wins:

1. **One sub-folder per method**: ``DIR/<method>/<item>.<ext>``.  Clips with the same file
   stem (``<item>``) in two or more method folders form a group.
2. **Flat folder, method in the name**: ``DIR/<item>__<method>.<ext>`` (two underscores).

Each group gives one pair per two methods (all combinations, methods in alphabetical order
as A and B); the pair id is ``<item>:<method_a>-vs-<method_b>``.  Items found under one
method only are reported and left out.

Counter-balancing (``assign_trials``): every rater sees every pair once, in an order
shuffled per rater (seeded).  Whether video A is shown on the left alternates across raters
for each pair (so with an even number of raters each pair appears on each side for exactly
half of them), and within each rater A is on the left for half of the pairs (±1).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfqa.errors import ConfigError, InputError

PAIR_CSV_COLUMNS = ("pair_id", "video_a", "video_b")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
FLAT_SEPARATOR = "__"


@dataclass(frozen=True)
class Pair:
    """Two videos to compare; ``method_*`` name what produced them (may be empty)."""

    pair_id: str
    video_a: Path
    video_b: Path
    method_a: str = ""
    method_b: str = ""


def _check_video(path: Path, where: str) -> Path:
    if not path.is_file():
        raise InputError(f"{where}: no file at `{path}`", hint="Fix the path")
    return path.resolve()


def pairs_from_csv(csv_path: str | Path) -> list[Pair]:
    """Read ``pair_id,video_a,video_b[,method_a,method_b]`` (relative paths: from the CSV's folder)."""
    csv_path = Path(csv_path)
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in PAIR_CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(
                f"{csv_path}: missing column(s) {', '.join(missing)}",
                hint="Expected a header `pair_id,video_a,video_b[,method_a,method_b]`",
            )
        pairs: list[Pair] = []
        seen: set[str] = set()
        for n, row in enumerate(reader, start=2):
            pid = (row["pair_id"] or "").strip()
            if not pid or pid in seen:
                raise ConfigError(f"{csv_path}, line {n}: pair_id `{pid}` is empty or repeated")
            seen.add(pid)
            a, b = (Path((row[k] or "").strip()) for k in ("video_a", "video_b"))
            a, b = (p if p.is_absolute() else csv_path.parent / p for p in (a, b))
            where = f"{csv_path}, line {n}"
            pairs.append(
                Pair(
                    pid,
                    _check_video(a, where),
                    _check_video(b, where),
                    (row.get("method_a") or "").strip(),
                    (row.get("method_b") or "").strip(),
                )
            )
    if not pairs:
        raise ConfigError(f"{csv_path}: no pairs in the file")
    return pairs


def _videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def group_folder(folder: str | Path) -> dict[str, dict[str, Path]]:
    """``{item: {method: path}}`` of a study folder under the rule in the module docstring."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", path=folder, hint="Pass a pairs CSV or a folder of clips")
    groups: dict[str, dict[str, Path]] = {}
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and _videos(d))
    if subdirs:
        for d in subdirs:
            for clip in _videos(d):
                groups.setdefault(clip.stem, {})[d.name] = clip.resolve()
    else:
        for clip in _videos(folder):
            item, sep, method = clip.stem.rpartition(FLAT_SEPARATOR)
            if sep and item and method:
                groups.setdefault(item, {})[method] = clip.resolve()
    return groups


def pairs_from_folder(folder: str | Path) -> list[Pair]:
    """All method pairs of each item in ``folder`` (see the module docstring for the rule)."""
    groups = group_folder(folder)
    pairs = [
        Pair(f"{item}:{ma}-vs-{mb}", methods[ma], methods[mb], ma, mb)
        for item, methods in sorted(groups.items())
        for ma, mb in itertools.combinations(sorted(methods), 2)
    ]
    if not pairs:
        raise ConfigError(
            f"{folder}: found no pairs",
            hint="Use DIR/<method>/<item>.mp4 or DIR/<item>__<method>.mp4 with at least two "
            "methods per item, or pass a pairs CSV",
        )
    return pairs


def load_pairs(source: str | Path) -> list[Pair]:
    """Pairs from a CSV file or a folder."""
    source = Path(source)
    return pairs_from_folder(source) if source.is_dir() else pairs_from_csv(source)


def rater_ids(n: int) -> list[str]:
    width = max(2, len(str(n)))
    return [f"r{i + 1:0{width}d}" for i in range(n)]


def assign_trials(
    pair_ids: list[str], raters: list[str], seed: int
) -> dict[str, list[tuple[str, bool]]]:
    """Each rater's trials: ``[(pair_id, a_on_left), ...]`` in presentation order.

    See the module docstring for the counter-balancing; the result depends only on the
    arguments (seeded), so a study can be re-created identically.
    """
    rng = np.random.default_rng(seed)
    n = len(pair_ids)
    # Half the pairs start with A on the left for the first rater; which half is random.
    base = np.arange(n) % 2
    rng.shuffle(base)
    out: dict[str, list[tuple[str, bool]]] = {}
    for i, rater in enumerate(raters):
        order = np.random.default_rng([seed, i]).permutation(n)
        out[rater] = [(pair_ids[j], bool((base[j] + i) % 2 == 0)) for j in order]
    return out
