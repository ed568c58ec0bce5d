"""``tfqa make-benchmark``: controlled degradations of real clips, labelled by documented rules.

Steps (each resumable; the manifest is written atomically at the end):

1. **Sources**: the videos in the given folders (kind ``real``/``generated`` from
   the folder's ``MANIFEST.csv`` or its name) plus ``include_synth`` talking
   photos made by :mod:`tfqa.synth`; each source gets a *group* (the person, see
   :data:`IDENTITY_LINKS`) so that splits can keep people disjoint.
2. **Prepare** every source once (:func:`tfqa.data.degrade_prepare.prepare_source`).
   A source that cannot be prepared is reported and skipped.
2b. **Own offsets**: each source's own A/V offset, counted in its labels where two
   independent estimators agree (:mod:`tfqa.data.own_offset`, ``own_offsets.csv``).
3. **Plan** ``variants_per_source`` variants per source, spread over its
   segments: a clean one per segment, the rest single or combined degradations.
   Each variant is the best of a few random candidates for the label histogram
   (:func:`plan_variants`), so every dimension's labels spread over 1-5.
4. **Render** the variants not already on disk (``variants/<source>/<id>.mp4``),
   logging each to ``log.jsonl`` as it goes.
5. **Manifest** ``manifest.csv``: ``video, lip_sync, expression, audio_quality,
   cross_modal, overall, group, source, split`` (empty: the learning stack makes
   group-disjoint splits), ``degradations`` (JSON), ``own_offset_ms`` and bookkeeping
   columns.  ``relabel`` recomputes the labels of an existing build (no re-render).

Everything random follows ``seed`` through per-clip and per-variant generators,
so one seed gives one manifest and the same files.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import json
import multiprocessing
import os
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tfqa.data import labels as lab
from tfqa.data.degrade import (
    FAMILIES,
    Degradation,
    PlanContext,
    get_family,
    plan_degradation,
    render_variant,
)
from tfqa.data.degrade_prepare import (
    PrepareConfig,
    PreparedClip,
    load_prepared,
    load_prepared_audio,
    prepare_source,
)
from tfqa.errors import ConfigError, TfqaError
from tfqa.io import expand_inputs, probe

BENCHMARK_VERSION = 1
COMBO_WEIGHTS = (0.45, 0.35, 0.20)  # share of degraded variants with 1, 2, 3 degradations
N_CANDIDATES = 12  # random candidate plans per variant; the best for the histogram wins
LABEL_BINS = (1.8, 2.6, 3.4, 4.2)  # edges of the five label bins the planner balances
FAMILY_WEIGHT = 0.5  # weight of family re-use in the planner's cost (keeps every family in)
SYNTH_SEED_BASE = 1000  # synthesised sources use seeds 1000, 1001, ...
SYNTH_GROUP = "synth_astronaut"  # every talking photo shows the same face (skimage astronaut)
MANIFEST_COLUMNS = (
    "video", *lab.DIMENSIONS, "group", "source", "split", "degradations",
    "visual", "kind", "clip", "families", "seed", "own_offset_ms",
)  # fmt: skip

# People who appear in several source clips (same face, or the same voice driving another
# face). Groups are the connected components of these links among the sources present, so a
# person never lands in two splits. From MANIFEST.csv notes and the clips' first frames.
IDENTITY_LINKS: tuple[tuple[str, str, str], ...] = (
    ("real_obama_edtalk", "real_hyperlips_video2", "obama: Barack Obama in both (first frames)"),
    ("real_hyperlips_video2", "gen_hyperlips_video2", "obama: same footage re-dubbed (MANIFEST)"),
    ("real_may_5s", "gen_geneface_may", "theresa_may: same speaker (MANIFEST)"),
    ("real_may_5s", "gen_synctalk_may", "theresa_may: same speaker (MANIFEST)"),
    ("real_vrt_face1", "gen_sadtalker_videolipsync_vrtface1", "vrt_face1: source footage (MANIFEST)"),
    ("real_vrt_face1", "gen_sadtalker_vrtface1", "vrt_face1: source footage (MANIFEST)"),
    ("real_vrt_face1", "gen_videoretalking_vrtface1", "vrt_face1: source footage (MANIFEST)"),
    ("real_vrt_face1", "gen_wav2lip_vrtface1", "vrt_face1: source footage (MANIFEST)"),
    ("real_hyperlips_video1", "gen_hyperlips_video1", "hyperlips_video1: re-dubbed (MANIFEST)"),
    ("real_hyperlips_video4", "gen_hyperlips_video4", "hyperlips_video4: re-dubbed (MANIFEST)"),
    ("real_styletalk_andrew_20s", "gen_styletalk_demo_20s", "andrew: his portrait (MANIFEST)"),
    ("real_styletalk_reagan_20s", "gen_styletalk_demo_20s", "andrew: driven by Reagan's audio (MANIFEST)"),
    ("gen_emo_monalisa", "gen_wav2lip_mona", "mona_lisa: the same painting"),
    ("gen_echomimicv3_actavatar3", "gen_wans2v_actavatar3", "actavatar3: the same portrait"),
    ("gen_hallo3_actavatar4", "gen_multitalk_actavatar4", "actavatar4: the same portrait"),
    ("gen_fantasytalking_end0.1", "gen_fantasytalking_end0.7", "fantasytalking: the same portrait"),
    ("gen_fantasytalking_end0.1", "gen_fantasytalking_end1.0", "fantasytalking: the same portrait"),
)  # fmt: skip


@dataclass(frozen=True)
class BenchmarkConfig:
    """Settings of one benchmark build (validated once; the CLI only fills it).

    Attributes:
        sources: folders (or files) of source clips.
        out: output folder (``prepared/``, ``variants/``, ``manifest.csv``, ``log.jsonl``).
        seed: seeds every random choice.
        variants_per_source: variants per source clip, clean ones included, spread over
            its segments in proportion.
        include_synth: number of synthesised talking photos added as sources.
        synth_duration_s: their length in seconds.
        prepare: normalisation of the sources (max side, segment length, CRF).
        jobs: worker processes rendering variants (1 = in this process).
        cache_dir: feature cache for the face mesh of prepared clips (None = tfqa's default).
        own_offsets: measure each source's own A/V offset and count it in the labels
            where two independent estimators agree (:mod:`tfqa.data.own_offset`).
    """

    sources: tuple[Path, ...]
    out: Path
    seed: int = 0
    variants_per_source: int = 75
    include_synth: int = 0
    synth_duration_s: float = 8.0
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    jobs: int = 1
    cache_dir: Path | None = None
    own_offsets: bool = True

    def __post_init__(self) -> None:
        if not self.sources and self.include_synth == 0:
            raise ConfigError("Expected at least one source folder or --include-synth > 0")
        if self.variants_per_source < 1:
            raise ConfigError(
                f"Expected variants_per_source >= 1, but got {self.variants_per_source}"
            )
        if not 0 <= self.include_synth <= 1000 or not 1 <= self.jobs <= 64:
            raise ConfigError(f"Expected include_synth in [0, 1000] and jobs in [1, 64], but got "
                              f"{self.include_synth} and {self.jobs}")  # fmt: skip


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str
    group: str

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class VariantPlan:
    """One row of the manifest before (or after) its file is rendered."""

    id: str
    clip: PreparedClip
    group: str
    degradations: tuple[Degradation, ...]
    seed: int
    labels: dict[str, float]

    @property
    def is_clean(self) -> bool:
        return not self.degradations

    @property
    def fingerprint(self) -> str:
        """Hash of everything that decides the variant's bytes (in its file name, so a resumed
        build never reuses a file rendered from another plan or another preparation)."""
        c = self.clip
        key = json.dumps([BENCHMARK_VERSION, [d.to_dict() for d in self.degradations], self.seed,
                          c.name, c.n_frames, c.width, c.height, c.crf], sort_keys=True)  # fmt: skip
        return hashlib.sha1(key.encode()).hexdigest()[:8]

    def video_path(self, out: Path) -> Path:
        if self.is_clean:
            return self.clip.path
        return out / "variants" / self.clip.source / f"{self.id}-{self.fingerprint}.mp4"

    def row(self, out: Path, own_offset_ms: float = 0.0) -> dict[str, Any]:
        """The manifest row; labels count the source's own offset (planning used 0)."""
        labels = (
            _labels(self.clip, self.degradations, own_offset_ms) if own_offset_ms else self.labels
        )
        row: dict[str, Any] = {"video": os.path.relpath(self.video_path(out), out)}
        row.update({k: labels[k] for k in lab.DIMENSIONS})
        row.update(group=self.group, source=self.clip.source, split="",
                   degradations=json.dumps([d.to_dict() for d in self.degradations], sort_keys=True),
                   visual=labels["visual"], kind=self.clip.kind, clip=self.clip.name,
                   families="+".join(d.family for d in self.degradations), seed=self.seed,
                   own_offset_ms=own_offset_ms)  # fmt: skip
        return row


@dataclass
class BenchmarkReport:
    """What a build did (also written to ``summary.json``)."""

    out: Path
    n_variants: int = 0
    n_groups: int = 0
    n_rendered: int = 0
    n_skipped: int = 0
    failed_sources: dict[str, str] = field(default_factory=dict)
    failed_variants: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    label_histograms: dict[str, list[int]] = field(default_factory=dict)
    own_offsets_ms: dict[str, float] = field(default_factory=dict)  # sources counted as offset

    @property
    def manifest(self) -> Path:
        return self.out / "manifest.csv"


ProgressFn = Callable[[str, int, int, str], None]  # stage, done, total, current item


# -- sources and groups ------------------------------------------------------------------------
def discover_sources(paths: Sequence[Path]) -> list[Source]:
    """The video files under ``paths`` with their kind and group (sorted by name)."""
    files = expand_inputs(list(paths))
    kinds = {f.stem: _kind_of(f) for f in files}
    groups = assign_groups(sorted(kinds))
    return sorted((Source(f, kinds[f.stem], groups[f.stem]) for f in files), key=lambda s: s.name)


def _kind_of(path: Path) -> str:
    """``real``/``generated`` from a MANIFEST.csv beside the clip's folder, else from the folder name."""
    manifest = path.parent.parent / "MANIFEST.csv"
    if manifest.is_file():
        for row in _manifest_rows(manifest):
            if Path(row.get("file", "")).name == path.name and row.get("set") in (
                "real",
                "generated",
            ):
                return row["set"]
    return "generated" if "generated" in path.parent.name.lower() else "real"


@lru_cache(maxsize=8)
def _manifest_rows(path: Path) -> tuple[dict[str, str], ...]:
    with path.open(newline="") as fh:
        return tuple(csv.DictReader(fh))


def assign_groups(stems: Sequence[str]) -> dict[str, str]:
    """Group of each stem: connected components of :data:`IDENTITY_LINKS` among ``stems``.

    A linked component is named after its link (``obama``, ``theresa_may``...); a clip
    without links is its own group.
    """
    parent = {s: s for s in stems}

    def root(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    names: dict[str, str] = {}
    for a, b, reason in IDENTITY_LINKS:
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            parent[max(ra, rb)] = min(ra, rb)
            names.setdefault(min(ra, rb), reason.split(":")[0])
    out = {}
    for s in stems:
        r = root(s)
        out[s] = names.get(r, r)
    return out


def make_synth_sources(folder: Path, count: int, duration_s: float) -> list[Source]:
    """``count`` synthesised talking photos (alternating male/female formant voices, own seeds)."""
    from tfqa.synth import SynthSpec, synthesize

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(count):
        path = folder / f"synth_{k:03d}.mp4"
        if not path.is_file():
            spec = SynthSpec(duration_s=duration_s, size=256, seed=SYNTH_SEED_BASE + k,
                             speaker=("male", "female")[k % 2], voice="formant")  # fmt: skip
            tmp = path.with_name(f".{path.stem}.tmp.mp4")
            synthesize(spec, tmp)
            os.replace(tmp, path)
        out.append(Source(path, "synth", SYNTH_GROUP))
    return out


# -- planning ----------------------------------------------------------------------------------
def _stable_seed(seed: int, *parts: str) -> int:
    return (seed * 1_000_003 + zlib.crc32("/".join(parts).encode())) % (2**31)


def _bin(score: float) -> int:
    return bisect.bisect_right(LABEL_BINS, score)


def _facts(clip: PreparedClip, own_offset_ms: float = 0.0) -> lab.ClipFacts:
    return lab.ClipFacts(kind=clip.kind, n_frames=clip.n_frames, own_offset_ms=own_offset_ms)


def _labels(
    clip: PreparedClip, degs: Sequence[Degradation], own_offset_ms: float = 0.0
) -> dict[str, float]:
    records = [{"family": d.family, "value": d.value, "extra": d.extra} for d in degs]
    return lab.label(records, _facts(clip, own_offset_ms))


@lru_cache(maxsize=1)
def _primary_dims() -> dict[str, tuple[str, ...]]:
    """Family names by the first dimension each lowers (the planner draws dimensions first)."""
    out: dict[str, list[str]] = {}
    for fam in FAMILIES:
        out.setdefault(fam.dims[0], []).append(fam.name)
    return {k: tuple(v) for k, v in out.items()}


def _candidate(ctx: PlanContext, n_degs: int) -> tuple[Degradation, ...]:
    """Up to ``n_degs`` degradations of distinct slots, target dimensions drawn uniformly."""
    by_dim = _primary_dims()
    dims = sorted(by_dim)
    chosen: list[Degradation] = []
    slots: set[str] = set()
    for _ in range(4 * n_degs):  # a few retries for families that do not apply
        if len(chosen) == n_degs:
            break
        names = by_dim[dims[int(ctx.rng.integers(len(dims)))]]
        fam = get_family(names[int(ctx.rng.integers(len(names)))])
        if fam.slots & slots:
            continue
        value = fam.levels[int(ctx.rng.integers(len(fam.levels)))]
        d = plan_degradation(fam.name, value, ctx)
        if d is not None:
            chosen.append(d)
            slots |= fam.slots
    return tuple(chosen)


def plan_variants(
    clips: Sequence[PreparedClip], groups: dict[str, str], per_source: int, seed: int
) -> list[VariantPlan]:
    """Plan every variant (pure: same inputs, same plan).

    Each segment gets one clean variant; every other variant is, of
    :data:`N_CANDIDATES` random candidates, the one whose labels fall in the
    least-filled bins of each dimension's histogram so far (plus a small
    penalty for over-used families), which spreads every label over 1-5.
    """
    hist = {d: [0] * (len(LABEL_BINS) + 1) for d in lab.DIMENSIONS}
    used = dict.fromkeys((f.name for f in FAMILIES), 0.0)
    by_source: dict[str, list[PreparedClip]] = {}
    for c in sorted(clips, key=lambda c: (c.source, c.segment)):
        by_source.setdefault(c.source, []).append(c)
    plans: list[VariantPlan] = []
    for source, segs in sorted(by_source.items()):
        group = groups[source]
        # donors of "the same person" and of "another speaker" must sound like a source of the
        # same kind: a formant voice replacing real speech would also change audio quality,
        # and the talking photos share one face but not one voice
        same = tuple(
            c
            for c in clips
            if c.source == source
            or (groups[c.source] == group and c.kind == segs[0].kind == "real")
        )
        others = tuple(c for c in clips if groups[c.source] != group and c.kind == segs[0].kind)  # fmt: skip
        for k, clip in enumerate(segs):
            n = per_source // len(segs) + (k < per_source % len(segs))
            ctx = PlanContext(clip, np.random.default_rng(_stable_seed(seed, clip.name)),
                              tuple(c for c in same if c.name != clip.name), others)  # fmt: skip
            for j in range(n):
                degs = () if j == 0 else _best_candidate(ctx, hist, used)
                labels = _labels(clip, degs)
                for d in lab.DIMENSIONS:
                    hist[d][_bin(labels[d])] += 1
                for d in degs:
                    used[d.family] += 1
                vid = f"{clip.name}__v{j:03d}"
                plans.append(VariantPlan(vid, clip, group, degs, _stable_seed(seed, vid), labels))
    return plans


def _best_candidate(ctx: PlanContext, hist, used) -> tuple[Degradation, ...]:
    best, best_cost = (), np.inf
    mean_use = max(1.0, sum(used.values()) / len(used))
    total = sum(hist[lab.DIMENSIONS[0]])  # variants planned so far (every histogram has them all)
    # the number of degradations is drawn first, so the histogram cannot favour combinations
    n_degs = 1 + int(ctx.rng.choice(len(COMBO_WEIGHTS), p=COMBO_WEIGHTS))
    for _ in range(N_CANDIDATES):
        cand = _candidate(ctx, n_degs)
        if not cand:
            continue
        labels = _labels(ctx.clip, cand)
        cost = sum(hist[d][_bin(labels[d])] / max(1, total) for d in lab.DIMENSIONS)
        cost += FAMILY_WEIGHT * sum(used[d.family] / mean_use for d in cand) / len(cand)
        if cost < best_cost:
            best, best_cost = cand, cost
    return best


# -- running -----------------------------------------------------------------------------------
class _Log:
    """``log.jsonl``: one JSON line per event, appended and flushed as the build goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"t": round(time.time(), 3), "event": event, **fields}, default=str)
        with self.path.open("a") as fh:
            fh.write(line + "\n")


def run_benchmark(cfg: BenchmarkConfig, progress: ProgressFn | None = None) -> BenchmarkReport:
    """Build (or resume) the benchmark described by ``cfg``; see the module docstring."""
    out = Path(cfg.out)
    report = BenchmarkReport(out)
    log = _Log(out / "log.jsonl")
    tell = progress or (lambda *a: None)
    t0 = time.perf_counter()
    log("start", config=asdict(cfg), version=BENCHMARK_VERSION)
    sources = discover_sources(cfg.sources)
    if cfg.include_synth:
        sources += make_synth_sources(out / "synth", cfg.include_synth, cfg.synth_duration_s)
    report.timings_s["sources"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    clips = _prepare_all(sources, cfg, report, log, tell)
    report.timings_s["prepare"] = time.perf_counter() - t1
    if not clips:
        raise ConfigError("no source could be prepared", hint="See the failures listed above")

    t_own = time.perf_counter()
    own = measure_own_offsets(clips, cfg.cache_dir, out, log, tell) if cfg.own_offsets else {}
    report.own_offsets_ms = {k: v for k, v in own.items() if v}
    report.timings_s["own_offsets"] = time.perf_counter() - t_own

    groups = {s.name: s.group for s in sources}
    # planning balances the label histogram on the nominal labels (source taken as in sync),
    # so a source's measured offset never changes which variants are drawn
    plans = plan_variants(clips, groups, cfg.variants_per_source, cfg.seed)
    t2 = time.perf_counter()
    ok = _render_all(plans, cfg, report, log, tell)
    report.timings_s["render"] = time.perf_counter() - t2

    rows = [p.row(out, own.get(p.clip.source, 0.0)) for p in plans if p.id in ok]
    write_manifest(rows, report.manifest)
    _prune(out / "variants", {p.video_path(out) for p in plans}, log)
    report.n_variants = len(rows)
    report.n_groups = len({r["group"] for r in rows})
    report.label_histograms = {d: np.bincount([_bin(r[d]) for r in rows], minlength=5).tolist()
                               for d in lab.DIMENSIONS}  # fmt: skip
    report.timings_s["total"] = time.perf_counter() - t0
    _write_atomic(out / "summary.json", json.dumps(_summary(report), indent=1, default=str))
    log("done", variants=report.n_variants, groups=report.n_groups, seconds=report.timings_s)
    return report


def _prepare_all(sources, cfg, report, log, tell) -> list[PreparedClip]:
    from tfqa.features.cache import FeatureCache

    cache = FeatureCache(cfg.cache_dir)
    clips: list[PreparedClip] = []
    for i, src in enumerate(sources):
        tell("preparing", i, len(sources), src.name)
        try:
            segs = prepare_source(
                src.path, cfg.out / "prepared", cfg.prepare, kind=src.kind, cache=cache
            )
        except (TfqaError, OSError, ValueError, RuntimeError) as exc:  # one bad source is skipped
            report.failed_sources[str(src.path)] = str(exc)
            log("source_failed", source=str(src.path), error=str(exc))
            continue
        clips.extend(segs)
        log("prepared", source=src.name, segments=[c.name for c in segs])
    tell("preparing", len(sources), len(sources), "")
    return clips


def measure_own_offsets(
    clips: Sequence[PreparedClip], cache_dir: Path | None, out: Path, log=None, tell=None
) -> dict[str, float]:
    """``{source: own offset counted in the labels, ms}``; writes ``out/own_offsets.csv``.

    Measured on the whole source recording the segments were cut from (longer evidence:
    the crude estimator is unreliable on a few seconds), or, where that file is gone, on
    each prepared segment (medians).  Synthesised talking photos are in sync by
    construction (their lips are driven by their own phones) and are not measured.  A clip
    whose face or audio cannot be read is left out.
    """
    from tfqa.data import own_offset as oo
    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline

    log = log or (lambda *a, **k: None)
    tell = tell or (lambda *a: None)
    pipe = FeaturePipeline(["face_mesh", "face"], cache=FeatureCache(cache_dir))
    todo: list[tuple[str, Path]] = []  # (source, file measured)
    for c in clips:
        if c.kind == "synth" or c.face_coverage <= 0:
            continue
        whole = Path(c.source_path)
        todo.append((c.source, whole) if whole.is_file() else (c.source, c.path))
    todo = list(dict.fromkeys(todo))
    by_source: dict[str, list[oo.SegmentOffset]] = {src: [] for src, _ in todo}
    segs: list[oo.SegmentOffset] = []
    for i, (src, path) in enumerate(todo):
        tell("own offsets", i, len(todo), path.name)
        try:
            seg = oo.measure_clip(path, pipe)
        except (TfqaError, OSError, ValueError) as exc:
            log("own_offset_failed", clip=str(path), error=str(exc))
            continue
        segs.append(seg)
        by_source[src].append(seg)
    tell("own offsets", len(todo), len(todo), "")
    offsets = [oo.combine_segments(src, ss) for src, ss in sorted(by_source.items())]
    oo.write_table(out / "own_offsets.csv", offsets, segs)
    for o in offsets:
        log("own_offset", **oo.as_dict(o))
    return {o.source: o.counted_ms for o in offsets}


def relabel(out: Path, cache_dir: Path | None = None, own_offsets: bool = True,
            progress: ProgressFn | None = None) -> dict[str, Any]:  # fmt: skip
    """Recompute every label of an existing benchmark from its ``degradations`` column.

    For a benchmark built before a label rule changed (or before own offsets were
    counted): nothing is re-rendered; the prepared clips' facts come from
    ``prepared/<source>.json``; the manifest is rewritten atomically, the one it
    replaces kept as ``manifest.<time>.csv``.  Returns the
    number of rows and, per dimension, how many labels changed and the mean change.
    """
    import pandas as pd

    out = Path(out)
    manifest = out / "manifest.csv"
    if not manifest.is_file():
        raise ConfigError(f"{manifest}: no manifest to relabel",
                          hint="Point at a folder written by `tfqa make-benchmark`")  # fmt: skip
    df = pd.read_csv(manifest, keep_default_na=False)
    clips: dict[str, PreparedClip] = {}
    for side in sorted((out / "prepared").glob("*.json")):
        for c in load_prepared(out / "prepared", side.stem) or []:
            clips[c.name] = c
    missing = sorted(set(df["clip"]) - set(clips))
    if missing:
        raise ConfigError(f"{out}/prepared: no record of the prepared clips {missing[:5]}",
                          hint="Relabel needs the folder make-benchmark wrote")  # fmt: skip
    log = _Log(out / "log.jsonl")
    used = [clips[n] for n in sorted(set(df["clip"]))]
    own = measure_own_offsets(used, cache_dir, out, log, progress) if own_offsets else {}
    old = df[list(lab.DIMENSIONS)].astype(float).to_numpy()
    new_rows = []
    for r in df.itertuples(index=False):
        clip = clips[r.clip]
        ms = own.get(clip.source, 0.0)
        labels = lab.label(json.loads(r.degradations), _facts(clip, ms))
        new_rows.append({**r._asdict(), **{k: labels[k] for k in lab.DIMENSIONS},
                         "visual": labels["visual"], "own_offset_ms": ms})  # fmt: skip
    stamp, k = time.strftime("%Y%m%d-%H%M%S"), 0
    backup = manifest.with_name(f"manifest.{stamp}.csv")
    while backup.exists():  # two relabels within a second keep both
        k += 1
        backup = manifest.with_name(f"manifest.{stamp}-{k}.csv")
    backup.write_bytes(manifest.read_bytes())  # the labels being replaced are kept
    write_manifest(new_rows, manifest, extra_columns=list(df.columns))  # a user's columns stay
    new = np.array([[row[k] for k in lab.DIMENSIONS] for row in new_rows], float)
    changed = np.abs(new - old) > 1e-6
    log("relabelled", rows=len(df), own_offsets={k: v for k, v in own.items() if v})
    return {
        "rows": len(df),
        "own_offsets_ms": {k: v for k, v in own.items() if v},
        "changed": {k: int(changed[:, i].sum()) for i, k in enumerate(lab.DIMENSIONS)},
        "mean_change": {k: float((new - old)[:, i].mean()) for i, k in enumerate(lab.DIMENSIONS)},
    }


def _render_all(plans: list[VariantPlan], cfg, report, log, tell) -> set[str]:
    """Render the variants not already valid on disk; the ids of those that exist afterwards."""
    ok: set[str] = set()
    todo = []
    for p in plans:
        if p.is_clean or _valid(p.video_path(cfg.out), p):
            ok.add(p.id)
        else:
            todo.append(p)
    report.n_skipped = len(plans) - len(todo)
    tell("rendering", len(ok), len(plans), "")
    jobs = [(p.clip, p.degradations, p.video_path(cfg.out), p.seed) for p in todo]
    if cfg.jobs > 1 and len(todo) > 1:
        # spawn, not fork: the parent has run MediaPipe's threads, whose locks a fork could copy held
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=ctx) as pool:
            results = pool.map(_render_job, jobs, chunksize=4)
            _collect(todo, results, ok, plans, report, log, tell)
    else:
        _collect(todo, map(_render_job, jobs), ok, plans, report, log, tell)
    return ok


def _collect(todo, results, ok, plans, report, log, tell) -> None:
    for p, (err, seconds) in zip(todo, results, strict=True):
        if err:
            report.failed_variants[p.id] = err
            log("variant_failed", id=p.id, error=err)
        else:
            ok.add(p.id)
            report.n_rendered += 1
            log("rendered", id=p.id, seconds=round(seconds, 3))
        tell("rendering", len(ok) + len(report.failed_variants), len(plans), p.id)


def _render_job(job) -> tuple[str, float]:
    """Worker: render one variant; returns ``(error message or "", seconds)``."""
    clip, degs, path, seed = job
    t0 = time.perf_counter()
    try:
        render_variant(clip, degs, path, seed=seed,
                       audio_of=lambda name: _donor_audio_at(str(clip.path.with_name(f"{name}.mp4"))))  # fmt: skip
    except (TfqaError, OSError, ValueError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {exc}", time.perf_counter() - t0
    return "", time.perf_counter() - t0


@lru_cache(maxsize=64)
def _donor_audio_at(path: str) -> np.ndarray:
    """Decoded audio of a donor clip, kept per worker process (babble reuses six of them)."""
    return load_prepared_audio(path)


def _valid(path: Path, plan: VariantPlan) -> bool:
    """A variant file counts as done when it exists and its container can be read."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        info = probe(path)
    except TfqaError:
        return False
    return info.has_audio and info.duration_s > 0


def _prune(folder: Path, keep: set[Path], log: _Log) -> None:
    """Delete variant files no plan refers to (left by a build with another seed or code)."""
    for f in sorted(folder.rglob("*.mp4")) if folder.is_dir() else []:
        if f not in keep:
            f.unlink()
            log("pruned", file=str(f))


def write_manifest(
    rows: list[dict[str, Any]], path: Path, extra_columns: Sequence[str] = ()
) -> Path:
    """Write the manifest CSV atomically (a reader never sees half a file)."""
    import io

    buf = io.StringIO()
    columns = [*MANIFEST_COLUMNS, *(c for c in extra_columns if c not in MANIFEST_COLUMNS)]
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return _write_atomic(path, buf.getvalue())


def _write_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def _summary(report: BenchmarkReport) -> dict[str, Any]:
    d = asdict(report)
    d["manifest"] = str(report.manifest)
    return d
