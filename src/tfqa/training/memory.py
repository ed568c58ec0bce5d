"""``MemoryProfiler``: the peak memory of a region of code (SPEC §2.4).

On CUDA it reads the caching allocator's statistics
(``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` after
``reset_peak_memory_stats``).  On CPU, where tensors live in ordinary process
memory, it reads the process's peak resident set size (``VmHWM`` in
``/proc/self/status``), which Linux lets a process reset by writing ``5`` to
``/proc/self/clear_refs``; where that is unavailable it falls back to
``resource.getrusage`` (a lifetime peak, so only comparable within fresh
processes).  ``trace_python=True`` adds ``tracemalloc``'s peak of Python-level
allocations (torch's tensor storage is not traced).

Example:
    >>> with MemoryProfiler("cpu") as prof:
    ...     x = torch.ones(1000, 1000)
    >>> prof.report.peak_bytes > 0
    True
"""

from __future__ import annotations

import resource
import sys
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

MIB = 2**20


@dataclass
class MemoryReport:
    """Peak memory of a profiled region, in bytes.

    Attributes:
        device: ``"cuda:0"`` or ``"cpu"``.
        method: what was measured (``cuda_allocator``, ``rss_hwm``, ``ru_maxrss``).
        peak_bytes: peak allocated (CUDA) or peak resident (CPU) during the region.
        baseline_bytes: allocated / resident when the region began.
        reserved_bytes: CUDA only: peak reserved by the caching allocator.
        python_peak_bytes: ``tracemalloc`` peak, when traced.
    """

    device: str
    method: str
    peak_bytes: int
    baseline_bytes: int
    reserved_bytes: int | None = None
    python_peak_bytes: int | None = None

    @property
    def increase_bytes(self) -> int:
        return max(0, self.peak_bytes - self.baseline_bytes)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["peak_mib"] = self.peak_bytes / MIB
        d["increase_mib"] = self.increase_bytes / MIB
        return d

    def __str__(self) -> str:
        return (
            f"peak {self.peak_bytes / MIB:.0f} MiB ({self.method} on {self.device}; "
            f"+{self.increase_bytes / MIB:.0f} MiB over the start)"
        )


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_rss_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def current_rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else 0


class MemoryProfiler:
    """Context manager measuring the peak memory inside its ``with`` block.

    Args:
        device: the torch device the work runs on.
        trace_python: also run ``tracemalloc``.
    """

    def __init__(self, device: str | torch.device = "cpu", *, trace_python: bool = False) -> None:
        self.device = torch.device(device)
        self.trace_python = trace_python
        self.report: MemoryReport | None = None

    def __enter__(self) -> MemoryProfiler:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            self._resettable = _reset_rss_peak()
            self._baseline = current_rss_bytes()
        if self.trace_python:
            tracemalloc.start()
        return self

    def __exit__(self, *exc) -> None:
        py_peak = None
        if self.trace_python:
            py_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.report = MemoryReport(
                str(self.device),
                "cuda_allocator",
                torch.cuda.max_memory_allocated(self.device),
                self._baseline,
                torch.cuda.max_memory_reserved(self.device),
                py_peak,
            )
            return
        hwm = _status_kib("VmHWM")
        if self._resettable and hwm is not None:
            peak, method = hwm * 1024, "rss_hwm"
        else:  # lifetime peak; ru_maxrss is KiB on Linux, bytes on macOS
            unit = 1 if sys.platform == "darwin" else 1024
            peak, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit, "ru_maxrss"
        self.report = MemoryReport("cpu", method, peak, self._baseline, None, py_peak)
