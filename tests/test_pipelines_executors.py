"""Arguments of the batch executors (pipelines.executors).

Oracle: the bounded-work rule (nothing may wait forever): an infinite --no-worker-timeout would
let a batch whose Dask cluster lost every worker wait for ever, so it is refused like a
non-positive one, before any connection is tried."""

from __future__ import annotations

import math

import pytest

from dosimetry.errors import ArgumentError
from pipelines.executors import run_dask


@pytest.mark.parametrize("timeout_s", [math.inf, math.nan, 0.0, -5.0])
def test_no_worker_timeout_must_be_positive_and_finite(timeout_s: float) -> None:
    with pytest.raises(ArgumentError, match="--no-worker-timeout must be a positive finite number of seconds"):
        next(run_dask([], "tcp://127.0.0.1:1", no_worker_timeout_s=timeout_s))
