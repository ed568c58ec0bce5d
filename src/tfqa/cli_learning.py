"""The learning commands: ``extract``, ``train``, ``evaluate``, ``ablate``, ``bench-train``.

A Typer sub-app that the main CLI (``tfqa.cli``) mounts; each command is a
thin shell over one library call (``tfqa.data.extract_manifest``,
``tfqa.training.train``, ``tfqa.evaluation.evaluate``,
``tfqa.evaluation.ablate``, ``tfqa.bench.train.bench_train``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer

from tfqa.errors import ConfigError, TfqaError

app = typer.Typer(no_args_is_help=True, help="Train and evaluate the learned scorer.")

CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", help="Feature cache (default $TFQA_CACHE_DIR or ~/.cache/tfqa/features)."
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Config override KEY=VALUE (dotted, YAML value), repeatable, e.g. --set train.lr=3e-4.",
    ),
]


def parse_overrides(items: list[str] | None, epochs: int | None = None) -> dict[str, Any]:
    """``["train.lr=3e-4", "model.modalities=[audio, au]"]`` → ``{"train.lr": 0.0003, ...}``."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Expected --set KEY=VALUE, but got {item!r}")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads `3e-4` (no dot) as a string
            with contextlib.suppress(ValueError):
                parsed = float(parsed)
        out[key.strip()] = parsed
    if epochs is not None:
        out["train.epochs"] = epochs
    return out


def _fail(e: TfqaError) -> None:
    typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2) from e


@app.command()
def extract(
    manifest: Annotated[Path, typer.Argument(help="Manifest CSV/Parquet (video + five labels).")],
    cache_dir: CacheDir = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Extract the features of every clip of MANIFEST into the cache (resumable)."""
    from tfqa.data.extract import extract_manifest

    try:
        report = extract_manifest(
            manifest, cache_dir, progress=progress, log=lambda m: typer.echo(m, err=True)
        )
    except TfqaError as e:
        _fail(e)
    typer.echo(
        f"{report.total} clips: {report.extracted} extracted, {report.skipped} already cached, "
        f"{len(report.failed)} failed"
    )
    if report.failed:
        raise typer.Exit(1)


@app.command()
def train(
    manifest: Annotated[Path, typer.Option(help="Manifest of extracted, labelled clips.")],
    config: Annotated[
        str, typer.Option(help="YAML config or preset (standard, optimized, smoke).")
    ] = "standard",
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, history, log).")] = Path(
        "runs/train"
    ),
    cache_dir: CacheDir = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in --out.")] = False,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu or cuda (default: the config's).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Override train.epochs.")] = None,
    set_: SetOpt = None,
) -> None:
    """Train the multi-task model (PCA + cross-modal Transformer + five heads)."""
    from tfqa.training.trainer import train as _train

    try:
        res = _train(
            config,
            manifest,
            out,
            cache_dir=cache_dir,
            resume=resume,
            device=device,
            overrides=parse_overrides(set_, epochs),
        )
    except TfqaError as e:
        _fail(e)
    typer.echo(
        f"best epoch {res.best_epoch} ({res.best_metric:.4f}); {res.epoch_time_s:.1f} s/epoch; "
        f"peak {res.peak_memory_mib:.0f} MiB; checkpoint {res.best_checkpoint}"
    )


@app.command()
def evaluate(
    checkpoint: Annotated[
        str,
        typer.Argument(
            help="best.pt written by `tfqa train`, or 'default' for the shipped default scorer "
            "(use --split all on your own labelled clips)."
        ),
    ],
    manifest: Annotated[Path, typer.Argument(help="Labelled manifest (clips extracted).")],
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("runs/eval"),
    trees: Annotated[
        Path | None,
        typer.Option(help="trees.npz of `tfqa compare` for CHECKPOINT: evaluate their average."),
    ] = None,
    cache_dir: CacheDir = None,
    split: Annotated[str, typer.Option(help="test, val, train or all.")] = "test",
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the 95 % CIs.")] = 200,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    figures: Annotated[bool, typer.Option(help="Write the PNG figures.")] = True,
) -> None:
    """Metrics with bootstrap CIs (CSV + Markdown), predictions and figures."""
    from tfqa.evaluation.evaluate import evaluate as _evaluate

    try:
        res = _evaluate(
            checkpoint,
            manifest,
            out,
            trees=trees,
            cache_dir=cache_dir,
            split=split,
            n_resamples=resamples,
            seed=seed,
            device=device,
            figures=figures,
        )
    except TfqaError as e:
        _fail(e)
    typer.echo(res.files["md"].read_text())


@app.command()
def ablate(
    manifest: Annotated[Path, typer.Option(help="Manifest of extracted, labelled clips.")],
    config: Annotated[str, typer.Option(help="Base YAML config or preset.")] = "standard",
    out: Annotated[Path, typer.Option(help="Folder for the variants and tables.")] = Path(
        "runs/ablate"
    ),
    cache_dir: CacheDir = None,
    variants: Annotated[
        str | None, typer.Option(help="Comma-separated variant names (default: all).")
    ] = None,
    compare: Annotated[
        str, typer.Option(help="Comma-separated configs for Table 3.5.")
    ] = "standard,optimized",
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Override train.epochs for every variant.")
    ] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 200,
    set_: SetOpt = None,
) -> None:
    """Thesis Tables 3.1 (weighting), 3.3 (ablations) and 3.5 (configs: accuracy vs cost)."""
    from tfqa.evaluation.ablations import ablate as _ablate

    try:
        res = _ablate(
            config,
            manifest,
            out,
            cache_dir=cache_dir,
            variants=[v.strip() for v in variants.split(",")] if variants else None,
            compare=[c.strip() for c in compare.split(",") if c.strip()],
            overrides=parse_overrides(set_, epochs),
            device=device,
            n_resamples=resamples,
        )
    except TfqaError as e:
        _fail(e)
    typer.echo(res.markdown)


@app.command("bench-train")
def bench_train(
    configs: Annotated[str, typer.Option(help="Comma-separated configs.")] = "standard,optimized",
    clips: Annotated[int, typer.Option(help="Synthetic clips.")] = 2000,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 150,
    steps: Annotated[int, typer.Option(help="Timed micro-batches per case (medians).")] = 5,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    threads: Annotated[int, typer.Option(help="torch CPU threads per case.")] = 2,
    out: Annotated[Path | None, typer.Option(help="JSON output.")] = None,
) -> None:
    """Time per epoch and peak memory: standard vs optimized, PCA / checkpointing / AMP on and off."""
    from tfqa.bench.train import bench_train as _bench

    _bench(
        [c.strip() for c in configs.split(",")],
        n_clips=clips,
        n_frames=frames,
        steps=steps,
        device=device,
        threads=threads,
        out=out,
        log=typer.echo,
    )
