"""Keep torch to one thread in these tests (2 OpenMP threads on a shared 2-core box thrash)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    from training.helpers import smoke_run

    return smoke_run(tmp_path_factory)
