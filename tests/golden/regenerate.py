"""Regenerate the leaderboard golden files that tests/test_leaderboard.py compares against.

    python -m tests.golden.regenerate          # expected/ from the committed records/
    python -m tests.golden.regenerate --runs   # first re-create records/ (new wall times,
                                               # commit and versions), then expected/

records/ holds small real runs (random, expert and tabular-q on two Frozen Lake envs, three
seeds); expected/ holds `bench.leaderboard.snapshot` of building them: the tables, the site with
each image replaced by its sha256, the plots' sha256 sums and the matplotlib version that drew them;
context/ the claims and notes built beside them (one claim of each statistic and verdict).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "records"
EXPECTED = HERE / "expected"
CONTEXT = HERE / "context"
ENVS = ("priorbench/FrozenLake-4x4-v0", "priorbench/FrozenLake-4x4-Random-v0")
AGENTS = ("random", "expert", "tabular-q")
SEEDS = (0, 1, 2)
STEPS, EVAL_EVERY = 600, 200


def make_records(out: Path) -> None:
    """The golden runs: real runs of the bundled agents through bench.runner."""
    from priorbench.bench.runner import RunJob, execute
    from priorbench.bench.spec import Budget

    budget = Budget(steps=STEPS, eval_every=EVAL_EVERY)
    for env in ENVS:
        for agent in AGENTS:
            for seed in SEEDS:
                execute(RunJob(env, agent, seed, budget, out, spec_name="golden"), progress=False)


def expected_snapshot(records_dir: Path = RECORDS) -> dict[str, str]:
    """Build the leaderboard of `records_dir` into a temporary folder and snapshot it."""
    from priorbench.bench.leaderboard import build, snapshot

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("claims.toml", "NOTES.md"):  # the maintainers' context: claims and notes
            shutil.copyfile(CONTEXT / name, Path(tmp) / name)
        build(records_dir, Path(tmp))
        return snapshot(Path(tmp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", action="store_true", help="re-create records/ first")
    args = parser.parse_args(argv)
    if args.runs:
        shutil.rmtree(RECORDS, ignore_errors=True)
        make_records(RECORDS)
    snap = expected_snapshot()
    shutil.rmtree(EXPECTED, ignore_errors=True)
    for name, text in snap.items():
        path = EXPECTED / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(snap)} files under {EXPECTED}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
