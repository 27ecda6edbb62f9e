"""Ways to run many jobs: serially in this process, in a local process pool, or as Ray tasks
(a local Ray started for the command, or an existing cluster).

An executor knows nothing of what a job is: it calls `execute(job, force=…, progress=…)` for
each one (the runner hands in its own `execute`), so this module imports nothing of the runner.
Each run pins its own torch threads (`core.seeding.RUN_THREADS`), so records do not depend on the
executor or the worker count.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from priorbench.core.errors import UserError

EXECUTORS = ("local", "ray")


#: --workers above this many per CPU is refused on one machine (each worker is a process).
WORKERS_PER_CPU = 4


def check_workers(workers: int, address: str | None = None) -> None:
    """--workers: positive, and on this machine at most WORKERS_PER_CPU per CPU (a cluster at
    `address` has CPUs of its own)."""
    if workers <= 0:
        raise UserError(f"--workers must be positive, got {workers}")
    ceiling = WORKERS_PER_CPU * (os.cpu_count() or 1)
    if workers > ceiling and address is None:
        raise UserError(f"--workers {workers} is more than {WORKERS_PER_CPU}× this machine's "
                        f"{os.cpu_count()} CPUs; give at most {ceiling} (one per core is fastest)")


class Execute(Protocol):
    def __call__(self, job: Any, *, force: bool, progress: bool) -> Path: ...


def run_jobs(execute: Execute, jobs: Sequence[Any], *, force: bool, progress: bool,
             workers: int, executor: str = "local", address: str | None = None,
             prior_server: str | None = None, served: Sequence[Any] = ()) -> list[Path]:
    """Run every job: serially (`workers` 1), in a process pool, or on Ray (`executor="ray"`,
    `workers` CPUs of a local Ray, or the cluster at `address`). `prior_server` (URLs or
    "auto", with `served` the hf prior configs to serve) shares the priors (bench/prior_servers.py)."""
    from priorbench.bench.prior_servers import local_servers

    if executor not in EXECUTORS:
        raise UserError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    check_workers(workers, address)
    workers = min(workers, max(1, len(jobs)))  # never a process without a run
    if executor == "ray":
        return _run_ray(execute, jobs, force=force, progress=progress, workers=workers, address=address,
                        prior_server=prior_server, served=served)
    with local_servers(prior_server, served):
        return _run_local(execute, jobs, force=force, progress=progress, workers=workers)


def _run_local(execute: Execute, jobs: Sequence[Any], *, force: bool, progress: bool, workers: int) -> list[Path]:
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


def _run_and_serve(execute: Execute, job: Any, *, force: bool, urls: dict[str, str]) -> Path:
    from priorbench.bench.prior_servers import use_node_servers

    use_node_servers(urls)
    return execute(job, force=force, progress=False)


def _run_ray(execute: Execute, jobs: Sequence[Any], *, force: bool, progress: bool, workers: int,
             address: str | None, prior_server: str | None = None, served: Sequence[Any] = ()) -> list[Path]:
    """Each job a Ray task of one CPU. A failed run is reported with its folder and error after
    the others have finished; then the command fails. Records land in the jobs' own folders
    (on a cluster: a shared filesystem, or per-node folders merged by `leaderboard build`)."""
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'priorbench[ray]'") from None
    from tqdm.auto import tqdm

    for name, value in (("RAY_USAGE_STATS_ENABLED", "0"), ("RAY_AUTH_MODE", "disabled")):
        os.environ.setdefault(name, value)
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False,
                                   "configure_logging": False}
        if address is None:
            options["num_cpus"] = max(1, workers)
        ray.init(**options)
    actors: list[Any] = []
    try:
        from priorbench.bench.prior_servers import ray_servers

        urls, actors = ray_servers(ray, prior_server, served)
        task = ray.remote(num_cpus=1, max_retries=0)(
            lambda job: _run_and_serve(execute, job, force=force, urls=urls))
        pending = {task.remote(job): i for i, job in enumerate(jobs)}
        paths: list[Path | None] = [None] * len(jobs)
        failures: list[str] = []
        with tqdm(total=len(jobs), desc="runs (ray)", disable=not progress) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(done[0])
                try:
                    paths[index] = ray.get(done[0])
                except Exception as exc:  # noqa: BLE001 - reported per run, the others go on
                    cause = getattr(exc, "cause", None) or exc
                    failures.append(f"{getattr(jobs[index], 'path', jobs[index])}: {type(cause).__name__}: {cause}")
                bar.update(1)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
    if failures:
        raise UserError(f"{len(failures)} of {len(jobs)} runs failed (the others completed; the same "
                        f"command resumes): " + " | ".join(failures))
    return [p for p in paths if p is not None]
