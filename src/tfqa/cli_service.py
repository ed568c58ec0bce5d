"""``tfqa serve`` and ``tfqa study create|export|analyze`` (mounted into ``tfqa`` by cli.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
study_app = typer.Typer(
    help="A/B human study: create it, collect answers in the web app, export, analyze.",
    no_args_is_help=True,
)
app.add_typer(study_app, name="study")
console = Console(stderr=True)
out_console = Console()

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Service data folder (SQLite database, uploads).")
]


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDir = Path("tfqa-data"),
    workers: Annotated[int, typer.Option(help="Scoring worker processes.")] = 1,
    scorer: Annotated[str, typer.Option(help="Scorer of every job (learned, zero-shot).")] = (
        "learned"
    ),
    max_upload_mb: Annotated[float, typer.Option(help="Largest accepted upload, MB.")] = 200.0,
    allowed_root: Annotated[
        list[Path] | None,
        typer.Option(help="Folder whose files may be submitted by path (repeatable)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="Admin bearer token (default: $TFQA_TOKEN, else generated into DATA_DIR/admin-token).",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not use the feature cache in DATA_DIR.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP service: JSON API (/api/v1, docs at /docs), web page (/), study pages."""
    import logging

    import uvicorn

    from tfqa.errors import TfqaError
    from tfqa.service import create_app, load_settings

    try:
        settings = load_settings(
            data_dir=data_dir,
            host=host,
            port=port,
            workers=workers,
            scorer=scorer,
            max_upload_mb=max_upload_mb,
            allowed_roots=tuple(allowed_root or ()),
            token=token,
            cache=not no_cache,
        )
        from tfqa.scoring import list_scorers

        if settings.scorer not in list_scorers():
            _fail(f"unknown scorer `{scorer}`; available: {', '.join(list_scorers())}")
        application = create_app(settings)
    except TfqaError as exc:
        _fail(str(exc))
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    st = application.state.settings
    if token:
        source = "from --token"
    elif os.environ.get("TFQA_TOKEN"):
        source = "from $TFQA_TOKEN"
    else:
        source = f"in {st.data_dir / 'admin-token'}"
    console.print(
        f"tfqa service on http://{host}:{port}/ (API docs /docs), data in {st.data_dir}, "
        f"{st.workers} worker(s), scorer {st.scorer}; admin token {source}"
    )
    try:
        uvicorn.run(application, host=host, port=port, log_level=log_level)
    except TfqaError as exc:
        _fail(str(exc))


@study_app.command("create")
def study_create(
    source: Annotated[
        Path,
        typer.Argument(help="pairs.csv (pair_id,video_a,video_b[,method_a,method_b]) or a folder."),
    ],
    data_dir: DataDir = Path("tfqa-data"),
    raters: Annotated[int, typer.Option(help="Number of raters (ids r01, r02, ...).")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the orders and A/B sides.")] = 0,
    name: Annotated[
        str | None, typer.Option(help="Study name (default: the source's name).")
    ] = None,
    base_url: Annotated[
        str, typer.Option(help="Where raters reach the server, for the printed links.")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Create a study; prints one link per rater.

    Folder rule: DIR/<method>/<item>.mp4 (one sub-folder per method) or DIR/<item>__<method>.mp4;
    clips of the same <item> are paired across methods (every two methods).
    """
    from tfqa.errors import TfqaError
    from tfqa.service.settings import DB_NAME
    from tfqa.service.study.design import load_pairs
    from tfqa.service.study.store import StudyStore

    try:
        pairs = load_pairs(source)
    except TfqaError as exc:
        _fail(str(exc))
    data_dir.mkdir(parents=True, exist_ok=True)
    store = StudyStore(data_dir / DB_NAME)
    sid = store.create(
        pairs, n_raters=raters, seed=seed, name=name or source.stem, source=source.resolve()
    )
    console.print(f"study [bold]{sid}[/]: {len(pairs)} pairs x {raters} raters x 5 dimensions")
    base = base_url.rstrip("/")
    for r in store.raters(sid):
        # Plain echo: one "rater<TAB>link" per line, easy to paste or parse (rich would wrap it).
        typer.echo(f"{r}\t{base}/study/{sid}?rater={r}&k={store.rater_key(sid, r)}")


def _pick_study(store, study: str | None) -> str:
    ids = [s["id"] for s in store.list_studies()]
    if study:
        if study not in ids:
            _fail(f"no study `{study}` in this data folder; studies: {', '.join(ids) or 'none'}")
        return study
    if len(ids) != 1:
        _fail(f"pass --study (studies here: {', '.join(ids) or 'none'})")
    return ids[0]


@study_app.command("export")
def study_export(
    data_dir: DataDir = Path("tfqa-data"),
    study: Annotated[str | None, typer.Option(help="Study id (default: the only one).")] = None,
    out: Annotated[Path, typer.Option(help="CSV to write.")] = Path("ab_eval_results.csv"),
) -> None:
    """Write the answers: rater,pair,dimension,choice,time (+ study, trial, videos, methods, sides)."""
    from tfqa.service.settings import DB_NAME
    from tfqa.service.study.store import StudyStore

    if not (data_dir / DB_NAME).exists():
        _fail(f"no service database in {data_dir}")
    store = StudyStore(data_dir / DB_NAME)
    sid = _pick_study(store, study)
    n = store.export_csv(sid, out)
    console.print(f"wrote {out}: {n} answers of study {sid}")


@study_app.command("analyze")
def study_analyze(
    answers: Annotated[Path, typer.Argument(help="The export (ab_eval_results.csv).")],
    scores: Annotated[
        list[Path] | None,
        typer.Option(help="`tfqa score -o x.json` results (repeatable; one scorer per file)."),
    ] = None,
    scorer: Annotated[
        list[str] | None,
        typer.Option(help="Score the study videos with these scorers when --scores is not given."),
    ] = None,
    out_dir: Annotated[Path, typer.Option(help="Folder for the tables, report and plot.")] = Path(
        "study-analysis"
    ),
    tie_margin: Annotated[
        float, typer.Option(help="Score difference at or below which a scorer says 'equal'.")
    ] = 0.1,
    n_resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 200,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Scorer vs human majority, inter-rater agreement, Bradley–Terry strengths with CIs, a plot."""
    from tfqa.errors import TfqaError
    from tfqa.service.study.analysis import analyze, load_score_files, read_answers, score_videos

    try:
        if scores:
            score_map = load_score_files(scores)
        else:
            df = read_answers(answers)
            videos = list(df["video_a"]) + list(df["video_b"]) if "video_a" in df.columns else []
            console.print(f"scoring {len(set(videos))} study videos with {scorer or ['zero-shot']}")
            score_map = score_videos(videos, scorer or ["zero-shot"])
        result = analyze(
            answers,
            out_dir,
            scores=score_map,
            tie_margin=tie_margin,
            n_resamples=n_resamples,
            seed=seed,
        )
    except (TfqaError, OSError, json.JSONDecodeError, KeyError) as exc:
        _fail(str(exc))
    _print_tables(result)
    console.print("wrote " + ", ".join(str(p) for p in result.written))


def _print_tables(result) -> None:
    if not result.agreement.empty:
        t = Table(title="scorer vs human majority")
        for col in ("scorer", "dimension", "n_pairs", "agreement", "decisive_agreement"):
            t.add_column(col)
        for _, r in result.agreement.iterrows():
            t.add_row(r["scorer"], r["dimension"], str(r["n_pairs"]),
                      f"{r['agreement']:.2f}", f"{r['decisive_agreement']:.2f}")  # fmt: skip
        out_console.print(t)
    t = Table(title="inter-rater agreement")
    for col in ("dimension", "raters", "Fleiss κ", "Krippendorff α", "pairwise"):
        t.add_column(col)
    for _, r in result.inter_rater.iterrows():
        t.add_row(r["dimension"], str(r["n_raters"]), f"{r['fleiss_kappa']:.2f}",
                  f"{r['krippendorff_alpha']:.2f}", f"{r['pairwise_agreement']:.2f}")  # fmt: skip
    out_console.print(t)
