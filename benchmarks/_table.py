"""The per-dimension table the robustness benchmarks print: one row per statistic."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DIMS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")


def print_dim_table(title: str, rows: dict[str, dict[str, float]], label_width: int) -> None:
    """``rows``: row label -> {dimension: value}; values printed signed, 3 decimals."""
    print(f"\n{title}")
    print(f"{'':<{label_width}}" + "".join(f"{d:>15}" for d in DIMS))
    for label, by_dim in rows.items():
        print(f"{label:<{label_width}}" + "".join(f"{by_dim[d]:>+15.3f}" for d in DIMS))


def mean_ci_stats() -> dict[str, Callable[[np.ndarray], float]]:
    """The mean and the ends of its 95 % bootstrap interval (clips resampled; scipy's BCa).

    A mean shift whose interval holds 0 is not told apart from the per-clip noise.
    """
    from scipy.stats import bootstrap

    def end(i: int) -> Callable[[np.ndarray], float]:
        def fn(v: np.ndarray) -> float:
            ci = bootstrap((np.asarray(v, float),), np.mean, n_resamples=2000, random_state=0)
            return float(ci.confidence_interval[i])

        return fn

    return {"mean Δ": np.mean, "95 % CI low": end(0), "95 % CI high": end(1)}
