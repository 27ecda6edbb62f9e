"""`leaderboard build` over many small run folders: time and check that it is linear (issue 29).

Makes one real run per agent (Frozen Lake 4x4, 20 steps) with the CLI, then copies each into
`--runs` seeds by rewriting the manifest's seed (and its spec hash: the copies are real,
verifiable records of identical episodes under another seed), then times `leaderboard build`
at n/4, n/2 and n runs in one process start each.

    python benchmarks/build_many_runs.py [--runs 10000] [--work /tmp/pb-build-many]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from priorbench.bench.records import run_dir
from priorbench.core.config import config_hash

ENV = "priorbench/FrozenLake-4x4-v0"
AGENTS = ("random", "expert", "tabular-q", "dqn")


def _cli(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "priorbench.bench", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def make_runs(work: Path, n: int) -> Path:
    base, runs = work / "base", work / f"runs{n}"
    if not base.exists():
        _cli("run", "--env", ENV, *sum((["--agent", a] for a in AGENTS), []), "--steps", "20",
             "--eval-every", "10", "--seeds", "0", "--no-progress", "--out", str(base))
    shutil.rmtree(runs, ignore_errors=True)
    for k in range(n):
        agent = AGENTS[k % len(AGENTS)]
        seed = k // len(AGENTS)
        src, dst = run_dir(base, ENV, agent, 0), run_dir(runs, ENV, agent, seed)
        dst.mkdir(parents=True)
        manifest = json.loads((src / "manifest.json").read_text())
        manifest["seed"] = manifest["spec"]["seed"] = seed
        manifest["spec_hash"] = config_hash(manifest["spec"])
        (dst / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
        shutil.copyfile(src / "episodes.jsonl", dst / "episodes.jsonl")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/pb-build-many"))
    args = parser.parse_args()
    print("| run folders | leaderboard build wall s | s per 1,000 runs |\n|---:|---:|---:|")
    for n in (args.runs // 4, args.runs // 2, args.runs):
        runs = make_runs(args.work, n)
        wall = _cli("leaderboard", "build", "--runs", str(runs), "--out", str(args.work / f"lb{n}"))
        print(f"| {n:,} | {wall:.1f} | {1000 * wall / n:.2f} |", flush=True)


if __name__ == "__main__":
    main()
