"""Ways to run many jobs: serially in this process, or in a local process pool.

An executor knows nothing of what a job is: it calls `execute(job, force=…, progress=…)` for
each one (the runner hands in its own `execute`), so this module imports nothing of the runner.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol


class Execute(Protocol):
    def __call__(self, job: Any, *, force: bool, progress: bool) -> Path: ...


def run_jobs(execute: Execute, jobs: Sequence[Any], *, force: bool, progress: bool,
             workers: int) -> list[Path]:
    """Run every job; `workers` > 1 uses a process pool. Each run pins its own torch threads
    (`runner.RUN_THREADS`), so its records do not depend on `workers`."""
    from tqdm.auto import tqdm

    if workers <= 1:
        paths = []
        for k, job in enumerate(jobs, 1):
            if progress and len(jobs) > 1:
                tqdm.write(f"run {k}/{len(jobs)}: {job}", file=sys.stderr)
            paths.append(execute(job, force=force, progress=progress))
        return paths
    quiet: Callable[[Any], Path] = functools.partial(execute, force=force, progress=False)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(quiet, job) for job in jobs]
        return [f.result() for f in tqdm(futures, desc="runs", disable=not progress)]
