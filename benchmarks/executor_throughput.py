"""Runs/hour of one sweep under each executor, in one process run so the ratios compare.

A 12-run dqn-prior sweep (Frozen Lake 4x4, SmolLM2-135M prior, 12 seeds, `--steps` env steps
each): serially, in a process pool of 2, and as Ray tasks on a local Ray of 2 CPUs; each in a
fresh folder, the prior cache warmed first so every executor sees the same cache. Also Ray's
per-task overhead (12 runs of the `random` agent with a 1-step budget, Ray vs serial).

    python benchmarks/executor_throughput.py [--steps 300] [--runs 12]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from priorbench.bench.runner import RunJob, execute_all
from priorbench.bench.spec import Budget

FL = "priorbench/FrozenLake-4x4-v0"


def jobs(agent: str, out: Path, runs: int, steps: int) -> list[RunJob]:
    budget = Budget(steps=steps, eval_every=steps, checkpoint_every=steps)
    return [RunJob(FL, agent, seed, budget, out) for seed in range(runs)]


def timed(label: str, agent: str, runs: int, steps: int, **how) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        execute_all(jobs(agent, Path(tmp), runs, steps), progress=False, **how)
        wall = time.perf_counter() - started
    print(f"{label:34s} {wall:7.1f} s  {3600 * runs / wall:8.0f} runs/hour", flush=True)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # warm the prior cache and the model conversion
        execute_all(jobs("dqn-prior", Path(tmp), 1, args.steps), progress=False)
    serial = timed("dqn-prior serial", "dqn-prior", args.runs, args.steps)
    pool = timed("dqn-prior pool of 2", "dqn-prior", args.runs, args.steps, workers=2)
    ray = timed("dqn-prior ray, 2 CPUs", "dqn-prior", args.runs, args.steps, workers=2, executor="ray")
    print(f"speed-up: pool {serial / pool:.2f}x, ray {serial / ray:.2f}x (target ≥ 1.8x for 2 workers)")
    base = timed("random 1-step serial", "random", args.runs, 1)
    over = timed("random 1-step ray, 2 CPUs", "random", args.runs, 1, workers=2, executor="ray")
    print(f"ray overhead: {over - base:.1f} s for {args.runs} tiny runs (Ray start-up and task dispatch)")


if __name__ == "__main__":
    main()
