"""Load benchmark of the tfqa service: N short clips from C concurrent clients on loopback.

Starts ``tfqa serve`` (fresh data folder, feature cache off so every job really scores),
synthesises a few distinct short clips, and has C client threads each upload clips and poll
until the result arrives.  Reports throughput, latency to result (p50/p95/max, from the start
of the upload to the result in hand), the resident memory of the server and its workers
(sampled from /proc), and the number of jobs lost (accepted but neither done nor failed in
the store at the end, or missing from it) — which must be 0.

    .venv/bin/python benchmarks/load_service.py --jobs 200 --clients 20 --workers 2

Traffic goes to 127.0.0.1 only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

POLL_S = 0.5  # clients poll job status at this interval (latency resolution)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clips(folder: Path, n: int, duration_s: float, size: int) -> list[Path]:
    """``n`` distinct clips (different seeds and A/V offsets), synthesised once."""
    from tfqa.synth import SynthSpec, synthesize

    clips = []
    for i in range(n):
        spec = SynthSpec(duration_s=duration_s, size=size, seed=100 + i, av_offset_ms=(i % 5) * 80)
        clips.append(synthesize(spec, folder / f"clip{i:03d}.mp4").path)
    return clips


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        # A process may exit between listing and reading: skip it.
        with contextlib.suppress(OSError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler(threading.Thread):
    """Sums the RSS of the server process and all its descendants every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float, int]] = []  # (time, total MB, processes)
        self.peak_by_role = {"server": 0.0, "workers": 0.0}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            pids, todo = [], [self.pid]
            while todo:
                p = todo.pop()
                pids.append(p)
                todo += _children(p)
            server = _rss_mb(self.pid)
            workers = sum(_rss_mb(p) for p in pids[1:])
            self.samples.append((time.time(), server + workers, len(pids)))
            self.peak_by_role["server"] = max(self.peak_by_role["server"], server)
            self.peak_by_role["workers"] = max(self.peak_by_role["workers"], workers)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def client(base: str, work: queue.Queue, records: list, deadline: float) -> None:
    """Upload clips from ``work`` one at a time and wait for each result."""
    with httpx.Client(base_url=base, timeout=120.0) as http:
        while time.time() < deadline:
            try:
                clip = work.get_nowait()
            except queue.Empty:
                return
            rec = {"clip": clip.name, "t_submit": time.time()}
            try:
                with clip.open("rb") as fh:
                    r = http.post("/jobs", files={"file": (clip.name, fh, "video/mp4")})
                rec["t_accepted"] = time.time()
                if r.status_code != 201:
                    rec.update(status="rejected", error=r.text[:200])
                    continue
                job_id = rec["id"] = r.json()["id"]
                while time.time() < deadline:
                    job = http.get(f"/jobs/{job_id}").json()
                    if job["status"] in ("done", "failed"):
                        break
                    time.sleep(POLL_S)
                rec["status"] = job["status"]
                if job["status"] == "done":
                    http.get(f"/jobs/{job_id}/result").raise_for_status()
                else:
                    rec["error"] = job.get("error")
                rec["t_result"] = time.time()
            except httpx.HTTPError as exc:
                rec.update(status="http_error", error=str(exc))
            finally:
                records.append(rec)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else (
        values[0] if values else float("nan"))  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tfqa-load-"))
    t0 = time.time()
    clips = make_clips(tmp / "clips", args.distinct, args.duration, args.size)
    print(f"synthesised {len(clips)} clips in {time.time() - t0:.0f} s", file=sys.stderr)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    cmd = [sys.executable, "-m", "tfqa.cli", "serve", "--port", str(port), "--data-dir",
           str(tmp / "data"), "--workers", str(args.workers), "--log-level", "warning",
           "--token", "load-benchmark-token"] + ([] if args.cache else ["--no-cache"])  # fmt: skip
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "GLOG_minloglevel": "2"})  # fmt: skip
    sampler = MemorySampler(server.pid)
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            for _ in range(600):
                try:
                    if http.get("/health").json()["workers"]["alive"] == args.workers:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        sampler.start()
        work: queue.Queue = queue.Queue()
        for i in range(args.jobs):
            work.put(clips[i % len(clips)])
        records: list[dict] = []
        load_before = os.getloadavg()  # the machine may be shared: say how busy it was
        deadline = time.time() + args.max_minutes * 60
        t_start = time.time()
        threads = [threading.Thread(target=client, args=(base, work, records, deadline))
                   for _ in range(args.clients)]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - t_start
        time.sleep(1.0)
        # What the store says, independent of what the clients saw.
        stored: dict[str, str] = {}
        with httpx.Client(base_url=base, timeout=30) as http:
            offset = 0
            while True:
                page = http.get("/jobs", params={"limit": 500, "offset": offset}).json()
                stored.update({j["id"]: j["status"] for j in page["jobs"]})
                offset += 500
                if offset >= page["total"]:
                    break
            health = http.get("/health").json()
    finally:
        server.send_signal(signal.SIGTERM)
        sampler.stop()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    accepted = [r for r in records if r.get("id")]
    done = [r for r in accepted if r.get("status") == "done"]
    lat = sorted(r["t_result"] - r["t_submit"] for r in done)
    upload = sorted(r["t_accepted"] - r["t_submit"] for r in accepted)
    lost = [r["id"] for r in accepted if stored.get(r["id"]) not in ("done", "failed")]
    totals = [s[1] for s in sampler.samples]
    report = {
        "jobs": args.jobs, "clients": args.clients, "workers": args.workers,
        "clip": {"duration_s": args.duration, "size_px": args.size, "distinct": args.distinct},
        "feature_cache": args.cache,
        "cpu_cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "accepted": len(accepted), "done": len(done),
        "failed": sum(r.get("status") == "failed" for r in accepted),
        "rejected_or_http_error": len(records) - len(accepted),
        "not_attempted": args.jobs - len(records),
        "lost": len(lost), "lost_ids": lost,
        "stored_total": len(stored),
        "wall_s": wall,
        "throughput_jobs_per_min": 60 * len(done) / wall if wall else 0.0,
        "clip_seconds_per_wall_second": len(done) * args.duration / wall if wall else 0.0,
        "latency_s": {"p50": _pct(lat, 50), "p95": _pct(lat, 95), "max": lat[-1] if lat else None,
                      "min": lat[0] if lat else None},
        "upload_s": {"p50": _pct(upload, 50), "p95": _pct(upload, 95)},
        "rss_mb": {"peak_total": max(totals, default=0.0),
                   "mean_total": statistics.fmean(totals) if totals else 0.0,
                   "peak_server": sampler.peak_by_role["server"],
                   "peak_workers_sum": sampler.peak_by_role["workers"],
                   "processes": max((s[2] for s in sampler.samples), default=0)},
        "health_after": health,
        "data_dir": str(tmp),
    }  # fmt: skip
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--distinct", type=int, default=20, help="distinct clips (reused in turn)")
    ap.add_argument("--duration", type=float, default=2.0, help="clip length, seconds")
    ap.add_argument("--size", type=int, default=128, help="frame side, pixels")
    ap.add_argument("--cache", action="store_true", help="keep the feature cache on")
    ap.add_argument("--max-minutes", type=float, default=30.0, help="hard stop for the clients")
    ap.add_argument("--out", type=Path, default=Path("bench-load.json"))
    args = ap.parse_args()
    report = run(args)
    args.out.write_text(json.dumps(report, indent=1))
    lat, rss = report["latency_s"], report["rss_mb"]
    print(
        f"{report['done']}/{report['jobs']} done, {report['failed']} failed, lost {report['lost']} "
        f"| {report['wall_s']:.0f} s wall, {report['throughput_jobs_per_min']:.1f} jobs/min "
        f"({report['clip_seconds_per_wall_second']:.2f} clip-s per s) | latency p50 "
        f"{lat['p50']:.1f} s, p95 {lat['p95']:.1f} s, max {lat['max']:.1f} s | RSS peak "
        f"{rss['peak_total']:.0f} MB (server {rss['peak_server']:.0f}, workers "
        f"{rss['peak_workers_sum']:.0f}, {rss['processes']} processes) | wrote {args.out}"
    )


if __name__ == "__main__":
    main()
