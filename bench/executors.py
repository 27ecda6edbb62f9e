"""Ways to run many jobs: serially in this process, or in a local process pool."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from priorbench.bench.runner import RunJob


def _share_cores(workers: int) -> None:
    """Give each pool worker its share of the cores: torch's default (all cores per process)
    oversubscribes the machine and slows small-model steps by an order of magnitude."""
    import os

    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def _run_quiet(job: RunJob, force: bool) -> Path:
    from priorbench.bench.runner import execute

    return execute(job, force=force, progress=False)


def run_jobs(jobs: list[RunJob], *, force: bool, progress: bool, workers: int) -> list[Path]:
    """Run every job; `workers` > 1 uses a process pool (each run stays deterministic)."""
    from tqdm.auto import tqdm

    from priorbench.bench.runner import execute

    if workers <= 1:
        return [execute(job, force=force, progress=progress) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers, initializer=_share_cores, initargs=(workers,)) as pool:
        futures = [pool.submit(_run_quiet, job, force) for job in jobs]
        return [f.result() for f in tqdm(futures, desc="runs", disable=not progress)]
