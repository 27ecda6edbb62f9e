"""`python -m priorbench.envs.alfworld splits|generate`: write the generated families' split
files, or generate (and cache) their games ahead of time. See docs/envs/alfworld.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from priorbench.envs.alfworld.games import default_cache_dir, ensure_game
from priorbench.envs.alfworld.splits import (
    DEFAULT_SPLIT_SIZES,
    load_split,
    propose_split,
    suite_path,
    write_split,
)
from priorbench.envs.alfworld.tasks import TASK_TYPES


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m priorbench.envs.alfworld", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("splits", help="write envs/suites/alfworldgen-<type>-v*.toml")
    sp.add_argument("--types", nargs="*", default=list(TASK_TYPES), choices=list(TASK_TYPES))
    sp.add_argument("--train", type=int, default=DEFAULT_SPLIT_SIZES[0])
    sp.add_argument("--test", type=int, default=DEFAULT_SPLIT_SIZES[1])
    gp = sub.add_parser("generate", help="generate (and cache) the games of a split")
    gp.add_argument("--types", nargs="*", default=list(TASK_TYPES), choices=list(TASK_TYPES))
    gp.add_argument("--splits", nargs="*", default=["train", "test"], choices=["train", "test"])
    gp.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "splits":
        for task_type in args.types:
            train, test = propose_split(task_type, args.train, args.test)
            write_split(suite_path(task_type), task_type, train, test)
            print(f"{suite_path(task_type)}: {len(train)} train, {len(test)} test tasks")
    else:
        cache = args.cache_dir or default_cache_dir()
        for task_type in args.types:
            for split in args.splits:
                for task in load_split(task_type, split):
                    print(ensure_game(task, cache))


if __name__ == "__main__":
    main()
