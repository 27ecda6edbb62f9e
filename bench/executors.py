"""Ways to run many jobs: serially in this process, or in a local process pool.

An executor knows nothing of what a job is: it calls `execute(job, force=…, progress=…)` for
each one (the runner hands in its own `execute`), so this module imports nothing of the runner.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol


class Execute(Protocol):
    def __call__(self, job: Any, *, force: bool, progress: bool) -> Path: ...


def _share_cores(workers: int) -> None:
    """Give each pool worker its share of the cores: torch's default (all cores per process)
    oversubscribes the machine and slows small-model steps by an order of magnitude."""
    import os

    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def run_jobs(execute: Execute, jobs: Sequence[Any], *, force: bool, progress: bool,
             workers: int) -> list[Path]:
    """Run every job; `workers` > 1 uses a process pool (each run stays deterministic)."""
    from tqdm.auto import tqdm

    if workers <= 1:
        return [execute(job, force=force, progress=progress) for job in jobs]
    quiet: Callable[[Any], Path] = functools.partial(execute, force=force, progress=False)
    with ProcessPoolExecutor(max_workers=workers, initializer=_share_cores, initargs=(workers,)) as pool:
        futures = [pool.submit(quiet, job) for job in jobs]
        return [f.result() for f in tqdm(futures, desc="runs", disable=not progress)]
