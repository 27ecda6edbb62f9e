"""Wall time of the commands that read the committed runs (issue 30): `leaderboard build`,
`cite --runs` and `reproduce` of a cheap row, each in a fresh process, `--repeat` times; prints
the medians. To compare two commits, point `--priorbench` at each checkout's console script
(a second checkout installed with `pip install --no-deps -e .` in its own venv) and run both
in one shell, one after the other.

    python benchmarks/board_commands.py [--priorbench PATH] [--repo DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

CHEAP_ROW = "priorbench/FrozenLake-4x4-v0:tabular-q"


def _time(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--priorbench", default=shutil.which("priorbench") or "priorbench")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "leaderboard build": [args.priorbench, "leaderboard", "build", "--runs", "leaderboard/runs",
                                  "--out", out],
            "cite --runs": [args.priorbench, "cite", "--runs", "leaderboard/runs"],
            "reproduce (cheap row)": [args.priorbench, "reproduce", CHEAP_ROW],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                times[name].append(_time(command, args.repo))
    runs = sum(1 for _ in (args.repo / "leaderboard/runs").rglob("manifest.json"))
    print(f"{runs} run folders under {args.repo}/leaderboard/runs; medians of {args.repeat}")
    for name, values in times.items():
        print(f"{name}: {statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
