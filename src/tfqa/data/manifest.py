"""Dataset manifests: one row per video with its five labels.

A manifest is a CSV (or Parquet) table with the columns

==================  ========  ===============================================================
column              required  meaning
==================  ========  ===============================================================
``video``           yes       path to the clip (relative paths are relative to the manifest)
``lip_sync`` ...    yes       the five labels (:data:`TASKS`), each on the 1.0–5.0 scale
``group``           no        identity / source person; splits never share a group
``split``           no        ``train`` / ``val`` / ``test``; honoured when given
==================  ========  ===============================================================

EmotionTalk-style data drops in by writing such a table; nothing else is
needed.  :func:`load_manifest` validates it once and returns a DataFrame with
absolute video paths, float labels and string groups.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tfqa.errors import ConfigError, FileMissingError

TASKS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")
SPLITS = ("train", "val", "test")
LABEL_RANGE = (1.0, 5.0)  # the 5-point opinion scale of every label


class ManifestError(ConfigError):
    """A manifest table is malformed (missing column, bad label, unknown file...)."""

    code = "bad_manifest"


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError as e:
            raise ManifestError(
                "reading Parquet manifests needs pyarrow",
                path=path,
                hint="Run `pip install pyarrow`, or save the manifest as CSV",
            ) from e
    return pd.read_csv(path)


def load_manifest(path: str | Path, *, check_files: bool = True) -> pd.DataFrame:
    """Read and validate a manifest.

    Args:
        path: CSV or Parquet file (see the module docstring for its columns).
        check_files: also require every ``video`` to exist.

    Returns:
        A DataFrame with columns ``video`` (absolute path str), the five
        :data:`TASKS` (float64), ``group`` (str; the video's stem when absent)
        and ``split`` (str or ``None`` per row).

    Raises:
        FileMissingError: the manifest itself does not exist.
        ManifestError: a required column is missing, a label is not a number
            in [1, 5], a video is listed twice or does not exist, or a
            ``split`` value is unknown.
    """
    path = Path(path)
    if not path.is_file():
        raise FileMissingError("manifest not found", path=path, hint="Check the path")
    df = _read_table(path)
    return validate_manifest(df, root=path.parent, source=path, check_files=check_files)


def validate_manifest(
    df: pd.DataFrame,
    *,
    root: str | Path = ".",
    source: str | Path | None = None,
    check_files: bool = True,
) -> pd.DataFrame:
    """Validate an in-memory manifest table (see :func:`load_manifest`)."""
    missing = [c for c in ("video", *TASKS) if c not in df.columns]
    if missing:
        raise ManifestError(
            f"missing column(s) {', '.join(missing)}",
            path=source,
            hint=f"A manifest needs `video` and the five labels {', '.join(TASKS)}",
        )
    if len(df) == 0:
        raise ManifestError("the manifest has no rows", path=source)
    out = pd.DataFrame({"video": [_resolve(v, root) for v in df["video"]]})
    for task in TASKS:
        out[task] = _labels(df[task], task, df["video"], source)
    dup = out["video"][out["video"].duplicated()]
    if len(dup):
        raise ManifestError(f"video listed twice: {dup.iloc[0]}", path=source)
    if check_files:
        absent = [v for v in out["video"] if not Path(v).is_file()]
        if absent:
            more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
            raise ManifestError(
                f"unknown file {absent[0]}{more}",
                path=source,
                hint="Fix the `video` paths (relative paths are relative to the manifest)",
            )
    stems = [Path(v).stem for v in out["video"]]
    groups = df["group"] if "group" in df.columns else pd.Series(stems)
    out["group"] = [s if pd.isna(g) else str(g) for g, s in zip(groups, stems, strict=True)]
    split = _splits(df["split"] if "split" in df.columns else None, len(df), source)
    out["split"] = pd.Series(split, dtype=object)  # None = not given
    return out


def _resolve(video: object, root: str | Path) -> str:
    if not isinstance(video, str) or not video.strip():
        raise ManifestError(f"Expected `video` to be a path, but got {video!r}")
    p = Path(video)
    return str(p if p.is_absolute() else (Path(root) / p).resolve())


def _labels(col: pd.Series, task: str, videos: pd.Series, source) -> np.ndarray:
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    lo, hi = LABEL_RANGE
    bad = ~np.isfinite(values) | (values < lo) | (values > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ManifestError(
            f"label `{task}` of {videos.iloc[i]} is {col.iloc[i]!r}, outside [{lo:g}, {hi:g}]"
            + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else ""),
            path=source,
            hint="Labels are scores on the 1-5 scale; rescale them first",
        )
    return values


def _splits(col: pd.Series | None, n: int, source) -> list[str | None]:
    if col is None:
        return [None] * n
    out: list[str | None] = []
    for v in col:
        if pd.isna(v) or str(v).strip() == "":
            out.append(None)
            continue
        s = str(v).strip().lower()
        if s not in SPLITS:
            raise ManifestError(
                f"unknown split {v!r}", path=source, hint=f"Use one of {', '.join(SPLITS)}"
            )
        out.append(s)
    return out
