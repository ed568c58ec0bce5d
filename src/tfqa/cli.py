"""The ``tfqa`` command line: a thin shell over the library (every command is one library call)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tfqa.cli_benchmark import progress_bar

os.environ.setdefault("GLOG_minloglevel", "2")  # quieten mediapipe's C++ logging

app = typer.Typer(
    name="tfqa",
    help="Quality assessment of AI-generated talking-face videos: lip sync, expression, audio, "
    "cross-modal match and overall (1-5), with the evidence behind each score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(
    help="Benchmarks (speed, sync recovery): print a table and write JSON.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
console = Console(stderr=True)
out_console = Console(width=None if sys.stdout.isatty() else 160)  # files/pipes get full tables

DIMS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def _pipeline_kwargs(cache_dir: Path | None, no_cache: bool) -> dict[str, Any]:
    from tfqa.features.cache import FeatureCache

    if no_cache:
        return {"cache": False}
    return {"cache": FeatureCache(cache_dir) if cache_dir else None}


@app.command()
def score(
    paths: Annotated[
        list[Path], typer.Argument(help="Video files or folders (searched recursively).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="results.csv, results.json or report.html (scores, sub-scores and figures of "
            "the evidence over time); a .csv or .html also gets a full .json beside it.",
        ),
    ] = None,
    scorer: Annotated[
        str, typer.Option(help="learned (the shipped model) or zero-shot (the documented rules).")
    ] = "learned",
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Checkpoint of the learned scorer (default: the shipped one)."),
    ] = None,
    trees: Annotated[
        str | None,
        typer.Option(
            help="Tree member of the learned scorer: a trees.npz from `tfqa compare` for "
            "--checkpoint, or 'none' (default: the shipped trees with the shipped checkpoint)."
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="Feature cache folder (default ~/.cache/tfqa/features or $TFQA_CACHE_DIR)."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the feature cache.")
    ] = False,
) -> None:
    """Score talking-face videos: five scores (1-5) + evidence per clip."""
    from tfqa.io import expand_inputs
    from tfqa.scoring import create_scorer, write_results

    files = expand_inputs(paths)
    if not files:
        _fail(
            "no video files found in "
            + ", ".join(map(str, paths))
            + " (looked for .mp4/.mov/.mkv/.avi/.webm...)"
        )
    kwargs: dict[str, Any] = _pipeline_kwargs(cache_dir, no_cache)
    if scorer == "learned" and checkpoint is not None:
        kwargs["checkpoint"] = checkpoint
    if scorer == "learned" and trees is not None:
        kwargs["trees"] = False if trees.lower() == "none" else Path(trees)
    try:
        engine = create_scorer(scorer, **kwargs)
    except Exception as exc:  # noqa: BLE001 - shown to the user as one line
        _fail(str(exc))
    results = []
    with progress_bar() as prog:
        task = prog.add_task("scoring", total=len(files), current="")

        def on_result(res):
            prog.update(task, advance=1, current=Path(res.path).name)
            if res.status != "ok":
                prog.console.print(f"[red]✗[/] {res.error['message']}", soft_wrap=True)

        prog.update(task, current=files[0].name)
        results = list(engine.score_many(files, on_result=on_result))
    _print_scores(results)
    if out is not None:
        written = [write_results(results, out)]
        if out.suffix.lower() in (".csv", ".html", ".htm"):
            written.append(write_results(results, out.with_suffix(".json")))
        console.print("wrote " + ", ".join(map(str, written)))
    n_bad = sum(r.status != "ok" for r in results)
    if n_bad:
        console.print(
            f"[bold red]{n_bad} of {len(results)} file(s) could not be scored[/] (see above)"
        )
        raise typer.Exit(1)


def _print_scores(results) -> None:
    table = Table(title="tfqa scores (1-5, higher is better)")
    table.add_column("clip", overflow="fold")
    for d in DIMS:
        table.add_column(d.replace("_", " "), justify="right")
    table.add_column("offset ms", justify="right")
    table.add_column("sync conf", justify="right")
    for r in results:
        if r.status != "ok":
            table.add_row(Path(r.path).name, *["—"] * len(DIMS), "", f"[red]{r.error['code']}[/]")
            continue
        ev = r.evidence
        table.add_row(
            Path(r.path).name,
            *[f"{r.scores[d]:.2f}" for d in DIMS],
            f"{ev.get('av_offset_ms', float('nan')):+.0f}",
            f"{ev.get('sync_confidence', float('nan')):.2f}",
        )
    out_console.print(table)


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Output .mp4 path.")],
    preset: Annotated[str | None, typer.Option(help="A named defect (see --list-presets).")] = None,
    severity: Annotated[str, typer.Option(help="mild, moderate or severe.")] = "moderate",
    duration: Annotated[float, typer.Option(help="Seconds.")] = 5.0,
    size: Annotated[int, typer.Option(help="Frame side in pixels.")] = 256,
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 25.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    face: Annotated[
        Path | None, typer.Option(help="Photo of one face (default: the scikit-image astronaut).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Any SynthSpec field as key=value, e.g. --set av_offset_ms=200 --set snr_db=10.",
        ),
    ] = None,
    list_presets: Annotated[
        bool, typer.Option("--list-presets", help="List the defect presets and exit.")
    ] = False,
) -> None:
    """Synthesise a talking clip from a still photo with defects of known size (+ a .truth.json)."""
    from tfqa.synth import DEFECT_PRESETS, PRESET_TARGETS, SynthSpec, preset_spec, synthesize

    if list_presets:
        for name, levels in DEFECT_PRESETS.items():
            out_console.print(f"{name:20s} lowers {PRESET_TARGETS[name]:14s} {levels}")
        return
    values: dict[str, Any] = {"duration_s": duration, "size": size, "fps": fps, "seed": seed}
    if face is not None:
        values["face"] = str(face)
    for item in set_ or []:
        if "=" not in item:
            _fail(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        values[k.strip()] = _parse_value(v.strip())
    try:
        base = SynthSpec.from_dict(values)
        spec = preset_spec(preset, severity, base=base) if preset else base
        result = synthesize(spec, out)
    except Exception as exc:  # noqa: BLE001
        _fail(str(exc))
    truth = result.save_truth()
    console.print(
        f"wrote {result.path} ({spec.duration_s:.1f} s, {result.elapsed_s:.1f} s to make) and {truth}"
    )


def _parse_value(v: str) -> Any:
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the clips, results and report.")] = Path(
        "demo-report"
    ),
    seed: Annotated[int, typer.Option(help="Random seed of the synthesised clips.")] = 0,
) -> None:
    """Synthesise clips with known defects, score them, and show each score moving the right way."""
    from tfqa.demo import run_demo

    try:
        report = run_demo(out, seed=seed, console=out_console, progress=progress_bar())
    except Exception as exc:  # noqa: BLE001
        _fail(str(exc))
    console.print(f"report: {report}")


@app.command()
def info(path: Annotated[Path, typer.Argument(help="A video file.")]) -> None:
    """Describe a media file (streams, duration, frame rate) or say why it cannot be scored."""
    import dataclasses

    from tfqa.errors import TfqaError
    from tfqa.io import probe
    from tfqa.io.video import display_facts

    try:
        info = probe(path)
        shown = display_facts(path)
        info = dataclasses.replace(
            info, rotation_deg=shown.rotation_deg, interlaced=shown.interlaced
        )
        out_console.print_json(json.dumps(info.to_dict()))
    except TfqaError as exc:
        _fail(str(exc), code=1)


@app.command()
def extractors() -> None:
    """List the registered feature extractors."""
    from tfqa.features.base import _REGISTRY, list_extractors

    for name in list_extractors():
        cls = _REGISTRY[name]
        out_console.print(f"{name:16s} inputs={','.join(cls.inputs):24s} {cls.description}")


@app.command("train-sync")
def train_sync(
    paths: Annotated[
        list[Path], typer.Argument(help="Clips (or folders) assumed in sync on average.")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the model (.npz).")],
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
    alpha: Annotated[float, typer.Option(help="Ridge penalty.")] = 1000.0,
    audio_shift_frames: Annotated[
        int,
        typer.Option(
            help="Shift the training audio (frames; <0 = earlier): sets the estimator's zero."
        ),
    ] = 0,
    rt60: Annotated[
        list[float] | None,
        typer.Option(
            help="Also hear each clip in a synthetic room of this RT60 (s); repeatable (default: 0.4 and 0.9)."
        ),
    ] = None,
) -> None:
    """Train the audio-to-mouth model of the sync extractor."""
    from tfqa.features.sync_train import train_sync_model
    from tfqa.io import expand_inputs

    files = expand_inputs(paths)
    with progress_bar() as prog:
        task = prog.add_task("extracting", total=len(files), current="")

        def on_clip(p, err):
            prog.update(task, advance=1, current=Path(p).name)
            if err:
                prog.console.print(f"[yellow]skipped[/] {err}")

        rooms = {} if rt60 is None else {"augment_rt60_s": tuple(rt60)}
        model = train_sync_model(files, out, cache_dir=cache_dir, alpha=alpha,
                                 audio_shift_frames=audio_shift_frames, on_clip=on_clip, **rooms)  # fmt: skip
    console.print(
        f"wrote {out}: {model.provenance['n_clips']} clips, {model.provenance['n_frames']} frames, train R² {model.provenance['train_r2']:.3f}"
    )


@bench_app.command("sync")
def bench_sync(
    paths: Annotated[
        list[Path], typer.Argument(help="Clips or folders (real, in-sync recordings).")
    ],
    out: Annotated[Path, typer.Option(help="JSON output.")] = Path("bench-sync.json"),
    window_s: Annotated[float, typer.Option(help="Window length in seconds.")] = 5.0,
    max_shift: Annotated[int, typer.Option(help="Shifts -N..N frames.")] = 10,
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
) -> None:
    """Recovery of known A/V offsets: audio shifted by k frames, estimate within ±1 frame."""
    from tfqa.bench.sync import run_sync_bench, write_json
    from tfqa.io import expand_inputs

    files = expand_inputs(paths)
    table = Table(title=f"sync recovery, {window_s:g}-s windows, shifts ±{max_shift} frames")
    for col in (
        "clip",
        "windows",
        "own offset (frames)",
        "confidence",
        "crude own",
        "within ±1 of k",
        "within ±1 of k+own",
        "within ±1 of k+agreed own",
    ):
        table.add_column(col, justify="right" if col != "clip" else "left")
    with progress_bar() as prog:
        task = prog.add_task("clips", total=len(files), current="")

        def on_clip(r):
            prog.update(task, advance=1, current=r.clip)
            if r.error:
                table.add_row(r.clip, "—", "—", "—", "—", "—", "—", f"[red]{r.error}[/]")
            else:
                table.add_row(r.clip, str(r.n_windows), f"{r.own_offset_frames:+.0f}", f"{r.own_confidence:.2f}",
                              f"{r.crude_own_offset_frames:+.0f}", f"{r.share_within_tol:.0%}",
                              f"{r.share_within_tol_of_applied:.0%}", f"{r.share_within_tol_of_agreed:.0%}")  # fmt: skip

        result = run_sync_bench(files, shifts=range(-max_shift, max_shift + 1), window_s=window_s,
                                cache_dir=cache_dir, on_clip=on_clip)  # fmt: skip
    out_console.print(table)
    out_console.print(
        f"cases: {len(result.cases)}  within ±1 frame of k: [bold]{result.share('ok'):.1%}[/]  "
        f"within ±1 of k + the clip's own offset: [bold]{result.share('ok_applied'):.1%}[/]  "
        f"within ±1 of k + the own offset where an independent estimator agrees: "
        f"[bold]{result.share('ok_agreed'):.1%}[/]"
    )
    console.print(f"wrote {write_json(result, out)}")


@bench_app.command("speed")
def bench_speed(
    clip: Annotated[
        Path | None,
        typer.Argument(help="Clip to time (default: a synthesised 25 fps 512x512 10-s clip)."),
    ] = None,
    repeats: Annotated[int, typer.Option(help="Timed runs (median reported).")] = 3,
    workers: Annotated[
        str,
        typer.Option(
            help="Frame-pass thread counts to compare, comma-separated, e.g. '2,1' "
            "(default: the pipeline's default, min(2, CPUs)); runs are interleaved."
        ),
    ] = "",
    scorer: Annotated[
        str, typer.Option(help="Scorer to time (default: the default scorer of `tfqa score`).")
    ] = "",
    out: Annotated[Path, typer.Option(help="JSON output.")] = Path("bench-speed.json"),
) -> None:
    """Frames/s and real-time factor of the whole score pipeline and of each stage (cache off)."""
    from tfqa.bench.speed import run_speed_bench

    try:
        counts = [int(w) for w in workers.replace(" ", "").split(",") if w]
    except ValueError:
        _fail(f"--workers takes whole numbers separated by commas, e.g. '2,1'; got {workers!r}")
    if any(w < 1 for w in counts):
        _fail(f"--workers counts must be >= 1; got {workers!r}")
    result = run_speed_bench(
        clip, repeats=repeats, workers=counts, scorer=scorer or None, console=out_console
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    console.print(f"wrote {out}")


@app.command()
def compare(
    manifest: Annotated[Path, typer.Argument(help="Labelled manifest (clips extracted).")],
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(help="NAME=best.pt of a trained model; repeatable."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("runs/compare"),
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache of `tfqa extract`.")] = None,
    split: Annotated[str, typer.Option(help="test (report) or val (model selection).")] = "test",
    baselines: Annotated[str, typer.Option(help="Comma-separated: ridge, gbm.")] = "ridge,gbm",
    zero_shot: Annotated[bool, typer.Option(help="Include the zero-shot scorer.")] = True,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the 95 % CIs.")] = 200,
) -> None:
    """Trained models vs zero-shot vs ridge/GBM baselines on the same held-out clips."""
    from tfqa.evaluation.compare import compare as _compare

    named = {}
    for item in checkpoint or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            _fail(f"--checkpoint expects NAME=PATH, got {item!r}")
        named[name.strip()] = Path(path.strip())
    try:
        res = _compare(manifest, out, checkpoints=named, cache_dir=cache_dir, split=split,
                       baselines=[b.strip() for b in baselines.split(",") if b.strip()],
                       zero_shot=zero_shot, n_resamples=resamples,
                       log=lambda m: console.print(m, soft_wrap=True))  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - shown to the user as one line
        _fail(str(exc))
    out_console.print(res.markdown)


def _mount_optional() -> None:
    """Sub-apps of later stages (learning stack, benchmark builder, service) when present."""
    import copy
    import importlib

    for module, attr, name in (
        ("tfqa.cli_learning", "app", None),
        ("tfqa.cli_benchmark", "app", None),
        ("tfqa.cli_service", "app", None),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        sub = getattr(mod, attr)
        if name:
            app.add_typer(sub, name=name)
            continue
        for cmd in sub.registered_commands:
            cmd_name = cmd.name or cmd.callback.__name__.replace("_", "-")
            if cmd_name.startswith("bench-"):  # `bench-train` -> `tfqa bench train`
                # a renamed copy: the sub-app keeps its own `bench-train` (renaming it in place
                # gave the sub-app two commands called `train`)
                renamed = copy.copy(cmd)
                renamed.name = cmd_name.removeprefix("bench-")
                bench_app.registered_commands.append(renamed)
            else:
                app.registered_commands.append(cmd)
        for grp in sub.registered_groups:
            app.registered_groups.append(grp)


_mount_optional()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
