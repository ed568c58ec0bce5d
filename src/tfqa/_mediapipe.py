"""Quieting MediaPipe's native start-up chatter (used by the face mesh and the synthesiser)."""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Any

_QUIET_LOCK = threading.Lock()
_QUIET: dict[str, int] = {"depth": 0, "saved": -1}


@contextmanager
def quiet_native_stderr():
    """Send file descriptor 2 to /dev/null for the span of the block.

    MediaPipe's C++ layers print start-up chatter ("Feedback manager requires a
    model with a single signature", "Using NORM_RECT without IMAGE_DIMENSIONS")
    straight to fd 2 when a graph starts and on its first frame; GLOG_minloglevel
    does not silence them.  Only graph creation and the first frames are wrapped.
    The redirection is process-wide, so overlapping blocks (lanes in threads)
    share one: the first to enter redirects, the last to leave restores.
    """
    with _QUIET_LOCK:
        if _QUIET["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):
                saved = -1
            if saved >= 0:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            _QUIET["saved"] = saved
        _QUIET["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0 and _QUIET["saved"] >= 0:
                os.dup2(_QUIET["saved"], 2)
                os.close(_QUIET["saved"])
                _QUIET["saved"] = -1


def settled(solution: Any) -> Any:
    """Wait until a just-started MediaPipe solution's calculators have opened.

    They open in the graph's own threads, and opening the TFLite models prints
    "Feedback manager requires a model with a single signature" a few ms after
    the constructor (or ``reset``) returns: call this inside ``quiet_native_stderr``.
    """
    graph = getattr(solution, "_graph", None)  # SolutionBase's graph (no public accessor)
    if graph is not None:
        graph.wait_until_idle()
    return solution
