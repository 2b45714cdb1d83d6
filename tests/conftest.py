"""Shared test settings.

torch's OpenMP pool is very slow to wake on the 2-core sandbox: any elementwise op on more than
32768 elements (torch's parallel grain) costs milliseconds instead of microseconds, which made a
600-step training test take 18 s with 2 threads and 0.5 s with 1. The workflow itself trains with
``threads: 1`` per job (config.yaml), so the tests do the same.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _single_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
