"""The background-thread frame iterator: order, errors and early stop."""

from __future__ import annotations

import threading
import time

import pytest

from tfqa.io.video import iter_in_thread


def test_iter_in_thread_keeps_order_and_runs_in_another_thread():
    seen_threads = set()

    def produce():
        for i in range(100):
            seen_threads.add(threading.current_thread().name)
            yield i

    assert list(iter_in_thread(produce(), maxsize=3)) == list(range(100))
    assert seen_threads == {"tfqa-decode"}


def test_iter_in_thread_reraises_the_producer_error_where_it_happened():
    def produce():
        yield 1
        yield 2
        raise ValueError("corrupt frame 3")

    got = []
    with pytest.raises(ValueError, match="corrupt frame 3"):
        for x in iter_in_thread(produce(), maxsize=1):
            got.append(x)
    assert got == [1, 2]


def test_closing_early_stops_the_producer():
    produced = []

    def produce():
        for i in range(10_000):
            produced.append(i)
            yield i

    it = iter_in_thread(produce(), maxsize=2)
    assert next(it) == 0
    it.close()  # joins the producer thread
    n = len(produced)
    time.sleep(0.05)
    assert len(produced) == n < 10
    assert not any(t.name == "tfqa-decode" for t in threading.enumerate())
