"""``tfqa bench-train``: training time per epoch and peak memory, standard vs optimized.

The set-up of the thesis's Table 3.5 on synthetic features: 2,000 clips x 150
frames at the thesis's raw dims (visual 2048, audio 768, keypoints 1404, AU
17, + sync and clip evidence), 80 % of them training clips, batch 8 with
gradient accumulation 8.  Each case varies one memory/speed measure:

* PCA on (inputs 100 / 200 / 50 / 17 dims) or off (raw dims);
* gradient checkpointing of the encoder layers on or off;
* AMP on or off — where CUDA exists or the CPU has native bf16 (what
  ``amp: auto`` would use in training); on other CPUs it is reported as n/a
  with the reason (see ``tfqa.training.amp``).

``peak MiB`` is the process's peak (CUDA: allocator) during the timed steps;
``+MiB in steps`` is that peak minus the memory held before them (model,
optimizer state after the warm-up step, the batch) — the activation memory
that checkpointing and AMP reduce.

**Extrapolated, not a full epoch:** a case times ``steps`` forward+backward
micro-batches (after ``warmup`` untimed ones) and ``steps`` optimizer steps,
and reports ``epoch_s = micro-batches per epoch x median micro-batch time +
optimizer steps per epoch x median optimizer-step time`` (``epoch_s_best``
uses the fastest step: the least disturbed by other processes).  The batch is
generated once and reused, so data loading is not included.  The timings of
all cases are taken in one process, round-robin, so that a shared machine's
changing load hits every case alike; the memory of each case is measured in a
fresh subprocess, so its peak (CUDA allocator, or process RSS on CPU) is its
own.  The one-off preprocessing cost (fitting scaler + PCA on
``pca_fit_frames`` frames, transforming every clip) is timed separately.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

RAW_DIMS = {"visual": 2048, "audio": 768, "keypoints": 1404, "au": 17, "sync": 4, "clip": 21}
TRAIN_SHARE = 0.8
MEMORY_KEYS = ("peak_mib", "peak_increase_mib", "memory_method")


@dataclass(frozen=True)
class Case:
    config: str
    pca: bool
    checkpointing: bool
    amp: bool
    n_clips: int = 2000
    n_frames: int = 150
    steps: int = 5
    warmup: int = 1
    device: str = "auto"
    threads: int = 2

    @property
    def label(self) -> str:
        return (
            f"{Path(self.config).stem} pca={'on' if self.pca else 'off'} "
            f"ckpt={'on' if self.checkpointing else 'off'} amp={'on' if self.amp else 'off'}"
        )


def _input_dims(cfg, pca: bool) -> dict[str, int]:
    dims = dict(RAW_DIMS)
    if pca:
        dims.update({k: min(v, RAW_DIMS[k]) for k, v in cfg.data.pca.items()})
    dims["sync"] += 1  # the face-present mask column
    return dims


def _batch(dims: dict[str, int], batch: int, frames: int, device, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    out = {k: torch.randn(batch, frames, d, generator=g) for k, d in dims.items() if k != "clip"}
    out["clip"] = torch.randn(batch, dims["clip"], generator=g)
    out["valid"] = torch.ones(batch, frames, dtype=torch.bool)
    out["labels"] = 1 + 4 * torch.rand(batch, 5, generator=g)
    return {k: v.to(device) for k, v in out.items()}


class _Runner:
    """One case's model, optimizer, scaler and batch; ``micro()`` and ``step()`` return seconds."""

    def __init__(self, case: Case) -> None:
        import torch

        from tfqa.model.inference import resolve_device
        from tfqa.model.model import OptimizedMTLModel
        from tfqa.training.amp import resolve_amp
        from tfqa.training.config import load_config

        torch.manual_seed(0)
        self.case = case
        over = {"data.window": case.n_frames, "model.max_len": max(case.n_frames, 150)}
        self.cfg = cfg = load_config(case.config, over)
        self.dev = dev = resolve_device(case.device)
        self.amp = resolve_amp(cfg.train.amp if case.amp else "off", dev)
        self.dims = _input_dims(cfg, case.pca)
        self.model = OptimizedMTLModel(cfg.model, self.dims).to(dev)
        self.model.grad_checkpointing = case.checkpointing
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.train.lr)
        self.scaler = torch.amp.GradScaler(
            dev.type, init_scale=cfg.train.grad_scaler_init, enabled=self.amp.use_scaler
        )
        self.batch = _batch(self.dims, cfg.train.batch_size, case.n_frames, dev)
        self._sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def micro(self) -> float:
        import torch

        from tfqa.model.model import consistency_loss
        from tfqa.training.trainer import task_losses

        t0 = time.perf_counter()
        amp = self.amp
        with torch.autocast(self.dev.type, dtype=amp.dtype, enabled=amp.enabled):
            out = self.model(self.batch)
        loss = task_losses(out.scores, self.batch["labels"]).sum()
        loss = loss + self.cfg.loss.consistency_weight * consistency_loss(out.modality_embeddings)
        self.scaler.scale(loss / self.cfg.train.grad_accum).backward()
        self._sync()
        return time.perf_counter() - t0

    def step(self) -> float:
        import torch

        t0 = time.perf_counter()
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self._sync()
        return time.perf_counter() - t0

    def describe(self) -> dict:
        n_micro = math.ceil(math.ceil(self.case.n_clips * TRAIN_SHARE) / self.cfg.train.batch_size)
        return {
            **asdict(self.case),
            "label": self.case.label,
            "device_used": str(self.dev),
            "amp_used": self.amp.label,
            "amp_note": self.amp.reason,
            "params": sum(p.numel() for p in self.model.parameters()),
            "input_dims": sum(v for k, v in self.dims.items() if k != "clip"),
            "micro_batches_per_epoch": n_micro,
            "optimizer_steps_per_epoch": math.ceil(n_micro / self.cfg.train.grad_accum),
        }


def _timing(info: dict, micro_t: list[float], step_t: list[float]) -> dict:
    t_micro, t_step = statistics.median(micro_t), statistics.median(step_t)
    return {
        "micro_batch_s": t_micro,
        "micro_batch_s_min": min(micro_t),
        "micro_batch_s_all": micro_t,
        "optimizer_step_s": t_step,
        "epoch_s": info["micro_batches_per_epoch"] * t_micro
        + info["optimizer_steps_per_epoch"] * t_step,
        "epoch_s_best": info["micro_batches_per_epoch"] * min(micro_t)
        + info["optimizer_steps_per_epoch"] * min(step_t),
    }


def run_case(case: Case) -> dict:
    """One case alone in this process: its peak memory (and its own timings)."""
    import torch

    from tfqa.training.memory import MemoryProfiler

    torch.set_num_threads(case.threads)
    run = _Runner(case)
    for _ in range(case.warmup):
        run.micro()
        run.step()
    micro_t, step_t = [], []
    with MemoryProfiler(run.dev) as prof:
        for _ in range(case.steps):  # each optimizer step has fresh gradients to apply
            micro_t.append(run.micro())
            step_t.append(run.step())
    info = run.describe()
    return {
        **info,
        **_timing(info, micro_t, step_t),
        "peak_mib": prof.report.peak_bytes / 2**20,
        "peak_increase_mib": prof.report.increase_bytes / 2**20,
        "memory_method": prof.report.method,
    }


def interleaved_timings(cases: Sequence[Case], rounds: int, threads: int) -> list[dict]:
    """Time all cases in one process, round-robin (a micro-batch + a step each per round).

    On a shared machine the load changes by the minute; interleaving exposes
    every case to the same load, so their ratios stay meaningful.
    """
    import torch

    torch.set_num_threads(threads)
    runs = [_Runner(c) for c in cases]
    for r in runs:  # warm-up
        r.micro()
        r.step()
    micro_t: list[list[float]] = [[] for _ in runs]
    step_t: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for i, r in enumerate(runs):
            micro_t[i].append(r.micro())
            step_t[i].append(r.step())
    out = []
    for i, r in enumerate(runs):
        info = r.describe()
        out.append({**info, **_timing(info, micro_t[i], step_t[i])})
    return out


def run_preprocessing(n_clips: int, n_frames: int, fit_frames: int, threads: int = 2) -> dict:
    """Time fitting the thesis preprocessing on ``fit_frames`` frames and transforming the corpus."""
    import numpy as np
    import torch

    from tfqa.data.preprocess import fit_preprocessor
    from tfqa.training.config import load_config

    torch.set_num_threads(threads)
    cfg = load_config("standard")
    rng = np.random.default_rng(0)
    n_fit_clips = max(1, fit_frames // n_frames)

    def clip():
        out = {
            k: rng.standard_normal((n_frames, d), dtype=np.float32)
            for k, d in RAW_DIMS.items()
            if k != "clip"
        }
        out["clip"] = rng.standard_normal(RAW_DIMS["clip"], dtype=np.float32)
        out["mask"] = np.ones(n_frames, dtype=np.float32)
        return out

    clips = [clip() for _ in range(n_fit_clips)]
    t0 = time.perf_counter()
    pre = fit_preprocessor(clips, cfg.data.pca, max_fit_frames=fit_frames)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in clips[:20]:
        pre.transform(c)
    t_clip = (time.perf_counter() - t0) / min(20, len(clips))
    return {
        "fit_frames": n_fit_clips * n_frames,
        "fit_s": t_fit,
        "transform_s_per_clip": t_clip,
        "transform_s_corpus": t_clip * n_clips,
        "explained_variance": {k: v["explained_variance"] for k, v in pre.summary().items()},
    }


def default_cases(
    configs: Sequence[str], *, n_clips: int, n_frames: int, steps: int, device: str, threads: int
) -> list[Case]:
    """Every config x PCA on/off x checkpointing off/on (x AMP off/on where training's
    ``amp: auto`` would turn it on: CUDA, or a CPU with native bf16)."""
    amps = (False, True) if _amp_available(device) else (False,)
    return [
        Case(c, pca, ck, amp, n_clips, n_frames, steps, 1, device, threads)
        for c in configs
        for pca in (True, False)
        for ck in (False, True)
        for amp in amps
    ]


def _amp_available(device: str) -> bool:
    import torch

    from tfqa.model.inference import resolve_device
    from tfqa.training.amp import resolve_amp

    dev = resolve_device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return True
    return dev.type == "cpu" and resolve_amp("auto", dev).enabled


def _isolated(case: Case) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "tfqa.bench.train", "--case", json.dumps(asdict(case))],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {**asdict(case), "label": case.label, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_train(
    configs: Sequence[str] = ("standard", "optimized"),
    *,
    n_clips: int = 2000,
    n_frames: int = 150,
    steps: int = 5,
    pca_fit_frames: int = 20_000,
    device: str = "auto",
    threads: int = 2,
    out: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Measure every case (memory: own subprocess; time: interleaved); print a table; write JSON.

    Args:
        configs: presets or YAML paths to compare.
        n_clips, n_frames: the synthetic corpus (2,000 x 150 as in the thesis set-up).
        steps: timed micro-batches (and optimizer steps) per case; medians are reported.
        pca_fit_frames: frames used to time the one-off preprocessing fit.
        device: ``auto``/``cpu``/``cuda``.
        threads: torch CPU threads per case.
        out: JSON path for the results.
        log: where the table goes.
    """
    import torch

    cases = default_cases(
        configs, n_clips=n_clips, n_frames=n_frames, steps=2, device=device, threads=threads
    )
    memory = {}
    for case in cases:
        log(f"memory: {case.label} ...")
        memory[case.label] = _isolated(case)
    log(f"timing: {len(cases)} cases interleaved, {steps} rounds ...")
    results = []
    for t in interleaved_timings(cases, steps, threads):
        m = memory[t["label"]]
        results.append({**t, **{k: m.get(k) for k in MEMORY_KEYS}, "error": m.get("error")})
        if results[-1]["error"] is None:
            del results[-1]["error"]
    pre = run_preprocessing(n_clips, n_frames, pca_fit_frames, threads)
    amp_na = None
    if not _amp_available(device):
        from tfqa.training.amp import resolve_amp

        amp_na = "n/a on this machine: " + resolve_amp("auto", torch.device("cpu")).reason
    report = {
        "note": (
            f"s/epoch is extrapolated from {steps} timed micro-batches and optimizer steps per case "
            f"(medians; 'best' uses the fastest) to one epoch of {math.ceil(n_clips * TRAIN_SHARE)} "
            "training clips; data loading excluded; cases interleaved round-robin in one process, "
            "memory measured per case in its own process"
        ),
        "load_average": list(os.getloadavg()),
        "amp": amp_na or "measured",
        "cases": results,
        "preprocessing": pre,
        "torch": str(torch.__version__),
        "threads": threads,
    }
    log(format_table(report))
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2))
    return report


def format_table(report: dict) -> str:
    """The results as a Markdown table with the notes."""
    from tfqa.evaluation.report import markdown_table

    rows = []
    na = "n/a" in report["amp"]
    for r in report["cases"]:
        if "error" in r:
            rows.append([r["label"], "error", *[""] * 7, " ".join(r["error"])])
            continue
        rows.append(
            [
                Path(r["config"]).stem,
                "on" if r["pca"] else "off",
                "on" if r["checkpointing"] else "off",
                "n/a" if na else (r["amp_used"] if r["amp"] else "off"),
                f"{r['params'] / 1e6:.1f}",
                f"{r['micro_batch_s']:.2f}",
                f"{r['epoch_s']:.0f}",
                f"{r['epoch_s_best']:.0f}",
                _mib(r.get("peak_mib")),
                _mib(r.get("peak_increase_mib")),
            ]
        )
    headers = [
        "config",
        "PCA",
        "grad ckpt",
        "AMP",
        "params (M)",
        "s / micro-batch",
        "s / epoch (median)",
        "s / epoch (best)",
        "peak MiB",
        "+MiB in steps",
    ]
    pre = report["preprocessing"]
    lines = [
        markdown_table(headers, rows),
        "",
        report["note"] + ".",
        f"AMP: {report['amp']}.",
        f"Load average during the run (1/5/15 min): {', '.join(f'{x:.1f}' for x in report['load_average'])}"
        f" on {os.cpu_count()} cores; torch threads per case: {report['threads']}.",
        f"Preprocessing (one-off): fit scaler+imputer+PCA on {pre['fit_frames']} frames {pre['fit_s']:.1f} s; "
        f"transform {pre['transform_s_per_clip'] * 1000:.1f} ms/clip ({pre['transform_s_corpus']:.0f} s for the corpus).",
    ]
    return "\n".join(lines)


def _mib(x: float | None) -> str:
    return "?" if x is None else f"{x:.0f}"


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="training-cost benchmark (see tfqa.bench.train)")
    p.add_argument("--case", help="run one case given as JSON and print its result (internal)")
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(Case(**json.loads(args.case)))))
        return
    bench_train()


if __name__ == "__main__":
    main()
