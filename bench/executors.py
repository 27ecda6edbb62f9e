"""Ways to run many jobs: serially in this process, or in a local process pool."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.runner import RunJob


def _run_quiet(job: RunJob, force: bool) -> Path:
    from bench.runner import execute

    return execute(job, force=force, progress=False)


def run_jobs(jobs: list[RunJob], *, force: bool, progress: bool, workers: int) -> list[Path]:
    """Run every job; `workers` > 1 uses a process pool (each run stays deterministic)."""
    from tqdm.auto import tqdm

    from bench.runner import execute

    if workers <= 1:
        return [execute(job, force=force, progress=progress) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run_quiet, job, force) for job in jobs]
        return [f.result() for f in tqdm(futures, desc="runs", disable=not progress)]
