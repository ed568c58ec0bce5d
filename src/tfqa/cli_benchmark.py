"""The benchmark commands: ``make-benchmark``, ``degradations`` and ``bench-monotonic``.

A Typer sub-app mounted into ``tfqa`` by :func:`tfqa.cli._mount_optional`; each
command is a thin shell over one library call
(:func:`tfqa.data.benchmark.run_benchmark`, :func:`tfqa.bench.monotonic.run_monotonic`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tfqa.errors import TfqaError

app = typer.Typer(no_args_is_help=True, help="Build the degraded, labelled benchmark.")
console = Console(stderr=True)
out_console = Console()

DEFAULT_REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "clips" / "real"


def progress_bar() -> Progress:
    """The progress bar of every tfqa command (on stderr: tables and JSON stay clean on stdout)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        TimeElapsedColumn(),
        console=console,
    )


CacheDirOpt = Annotated[
    Path | None, typer.Option(help="Feature cache for the face mesh (default tfqa's).")
]
OwnOffsetsOpt = Annotated[
    bool,
    typer.Option(help="Count a source's own A/V offset in its labels where two estimators agree."),
]


def stage_reporter(prog: Progress):
    """A ``(stage, done, total, current)`` callback that keeps one bar per stage."""
    tasks: dict[str, int] = {}

    def tell(stage: str, done: int, total: int, current: str) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(stage, total=total, current="")
        prog.update(tasks[stage], completed=done, total=total, current=current)

    return tell


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
    raise typer.Exit(2) from exc


@app.command("make-benchmark")
def make_benchmark(
    sources: Annotated[list[Path], typer.Argument(help="Folders (or files) of source clips.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (outside the repo).")],
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    variants_per_source: Annotated[
        int, typer.Option(help="Variants per source clip (clean ones included).")
    ] = 75,
    max_side: Annotated[int, typer.Option(help="Longest side of prepared clips (px).")] = 512,
    segment_s: Annotated[float, typer.Option(help="Longer sources are cut into segments.")] = 8.0,
    include_synth: Annotated[
        int, typer.Option(help="Synthesised talking photos to add as sources.")
    ] = 0,
    jobs: Annotated[int, typer.Option(help="Worker processes rendering variants.")] = 1,
    cache_dir: CacheDirOpt = None,
    own_offsets: OwnOffsetsOpt = True,
) -> None:
    """Degrade source clips in controlled ways and write DIR/manifest.csv with five labels each."""
    from tfqa.data.benchmark import BenchmarkConfig, run_benchmark
    from tfqa.data.degrade_prepare import PrepareConfig

    try:
        cfg = BenchmarkConfig(
            sources=tuple(sources), out=out, seed=seed, variants_per_source=variants_per_source,
            include_synth=include_synth, jobs=jobs, cache_dir=cache_dir, own_offsets=own_offsets,
            prepare=PrepareConfig(max_side=max_side, segment_s=segment_s),
        )  # fmt: skip
    except TfqaError as exc:
        _fail(exc)
    with progress_bar() as prog:
        tell = stage_reporter(prog)
        try:
            report = run_benchmark(cfg, progress=tell)
        except TfqaError as exc:
            _fail(exc)
    for src, err in report.failed_sources.items():
        console.print(f"[yellow]skipped source[/] {src}: {err}", soft_wrap=True)
    for vid, err in list(report.failed_variants.items())[:20]:
        console.print(f"[red]failed variant[/] {vid}: {err}", soft_wrap=True)
    _print_report(report)
    if report.failed_sources or report.failed_variants:
        raise typer.Exit(1)


def _print_report(report) -> None:
    table = Table(title=f"benchmark: {report.n_variants} variants, {report.n_groups} groups")
    table.add_column("label")
    for edge in ("<1.8", "1.8-2.6", "2.6-3.4", "3.4-4.2", ">=4.2"):
        table.add_column(edge, justify="right")
    for dim, counts in report.label_histograms.items():
        table.add_row(dim, *map(str, counts))
    out_console.print(table)
    t = report.timings_s
    console.print(
        f"rendered {report.n_rendered}, already there {report.n_skipped}; prepare "
        f"{t.get('prepare', 0):.0f} s, render {t.get('render', 0):.0f} s, total {t.get('total', 0):.0f} s"
    )
    console.print(f"wrote {report.manifest}")


@app.command("relabel")
def relabel(
    bench: Annotated[Path, typer.Argument(help="A folder written by `tfqa make-benchmark`.")],
    cache_dir: CacheDirOpt = None,
    own_offsets: OwnOffsetsOpt = True,
) -> None:
    """Recompute the labels of an existing benchmark with the current label rules (no re-render)."""
    from tfqa.data.benchmark import relabel as run_relabel
    from tfqa.data.labels import DIMENSIONS

    with progress_bar() as prog:
        tell = stage_reporter(prog)
        try:
            res = run_relabel(bench, cache_dir, own_offsets, progress=tell)
        except TfqaError as exc:
            _fail(exc)
    table = Table(title=f"relabelled {res['rows']} rows of {bench / 'manifest.csv'}")
    for col in ("label", "changed", "mean change"):
        table.add_column(col, justify="right")
    for d in DIMENSIONS:
        table.add_row(d, str(res["changed"][d]), f"{res['mean_change'][d]:+.3f}")
    out_console.print(table)
    if own_offsets:
        offs = ", ".join(f"{k} {v:+.0f} ms" for k, v in res["own_offsets_ms"].items()) or "none"
        console.print(f"sources counted as offset: {offs}  (table: {bench / 'own_offsets.csv'})",
                      soft_wrap=True)  # fmt: skip


@app.command("degradations")
def degradations() -> None:
    """List the degradation families: target dimensions, parameter, unit and levels."""
    from tfqa.data.degrade import FAMILIES

    table = Table(title="degradation families (in application order)")
    for col in ("family", "lowers", "parameter", "unit", "levels", "media"):
        table.add_column(col, overflow="fold")
    for f in FAMILIES:
        table.add_row(f.name, ", ".join(f.dims), f.param, f.unit,
                      " ".join(f"{v:g}" for v in f.levels), f.media)  # fmt: skip
    out_console.print(table)


@app.command("bench-monotonic")
def bench_monotonic(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Real clips or folders (default: the shared real clips)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="JSON output (a .csv is written beside it).")] = Path(
        "bench-monotonic.json"
    ),
    work_dir: Annotated[
        Path, typer.Option(help="Folder for prepared clips and variants (re-used).")
    ] = Path("runs/monotonic"),
    limit: Annotated[int | None, typer.Option(help="Only the first N clips.")] = None,
    segment_s: Annotated[
        float, typer.Option(help="Each clip's first segment of this length.")
    ] = 8.0,
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
) -> None:
    """Issue 2's monotonicity check: Spearman(severity, targeted score) per defect family."""
    from tfqa.bench.monotonic import TARGET_RHO, run_monotonic, write_csv, write_json
    from tfqa.io import expand_inputs

    files = expand_inputs(paths or [DEFAULT_REAL])
    if limit is not None:
        files = files[:limit]
    if not files:
        _fail(ValueError(f"no clips found in {paths or [DEFAULT_REAL]}"))
    with progress_bar() as prog:
        task = prog.add_task("clips", total=len(files), current="")

        def on_clip(name, rows, err):
            prog.update(task, advance=1, current=name)
            if err:
                prog.console.print(f"[yellow]skipped[/] {name}: {err}", soft_wrap=True)

        result = run_monotonic(files, work_dir, segment_s=segment_s, cache_dir=cache_dir,
                               on_clip=on_clip)  # fmt: skip
    table = Table(title=f"monotonicity on {len(files)} clips (target rho <= {TARGET_RHO})")
    for col in ("sweep", "target", "clips", "pooled rho", "pooled rho, clip-centred",
                "median rho", "share <= -0.8", "mean score per level"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("sweep", "target") else "right")
    for s in result.summary():
        table.add_row(s["sweep"], s["target"], str(s["n_clips"]), f"{s['pooled_rho']:+.3f}",
                      f"{s['pooled_rho_centred']:+.3f}", f"{s['median_rho']:+.3f}",
                      f"{s['share_le_target']:.0%}",
                      " ".join(f"{v:.2f}" for v in s["mean_score_by_level"]))  # fmt: skip
    out_console.print(table)
    console.print(
        f"wrote {write_json(result, out)} and {write_csv(result, out.with_suffix('.csv'))}"
    )
