"""The per-dimension table the robustness benchmarks print: one row per statistic."""

from __future__ import annotations

DIMS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")


def print_dim_table(title: str, rows: dict[str, dict[str, float]], label_width: int) -> None:
    """``rows``: row label -> {dimension: value}; values printed signed, 3 decimals."""
    print(f"\n{title}")
    print(f"{'':<{label_width}}" + "".join(f"{d:>15}" for d in DIMS))
    for label, by_dim in rows.items():
        print(f"{label:<{label_width}}" + "".join(f"{by_dim[d]:>+15.3f}" for d in DIMS))
