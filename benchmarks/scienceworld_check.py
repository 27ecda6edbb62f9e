"""Every registered ScienceWorld env through gymnasium's `check_env` and priorbench's
`check_text_env` (seeded determinism, every admissible command of the first state, the expert
winning each task of the split), with the settings of tests/test_scienceworld.py: the test
split's first variation, 12 commands (the shortest + the gold step). CI checks two tasks; this
checks all 30 (~1 min each on the 2-core box).

    HF_HUB_OFFLINE=1 python benchmarks/scienceworld_check.py [--tasks Boil,FindPlant] [--split test]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from priorbench import envs  # noqa: E402
from priorbench.envs.scienceworld_env import TASKS, camel  # noqa: E402

SMALL = {"max_commands": 12, "n_train_variations": 1, "n_test_variations": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="", help="comma-separated CamelCase task names (default: all 30)")
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"))
    args = parser.parse_args()
    from gymnasium.utils.env_checker import check_env

    names = args.tasks.split(",") if args.tasks else [camel(name) for name, _, _ in TASKS.values()]
    failed = 0
    print("| env | result | expert steps | seconds |\n|---|---|---:|---:|", flush=True)
    for name in names:
        env_id = f"priorbench/ScienceWorld-{name}-v0"
        started = time.perf_counter()
        try:
            env = envs.make(env_id, split=args.split, **SMALL)
            envs.check_text_env(env, n_steps=8)
            check_env(env, skip_render_check=True)
            obs, info = env.reset(seed=0, options={"task": 0})
            steps = 0
            while info.get("expert_action"):
                obs, _, terminated, truncated, info = env.step(info["expert_action"])
                steps += 1
                if terminated or truncated:
                    break
            result = "pass" if info["won"] else f"expert ended without winning (score {info['score']})"
            env.close()
        except Exception as exc:  # report and go on to the next task
            result, steps = f"FAIL: {type(exc).__name__}: {exc}".replace("|", "/")[:200], 0
            traceback.print_exc(file=sys.stderr)
        failed += result != "pass"
        print(f"| `{env_id}` | {result} | {steps} | {time.perf_counter() - started:.0f} |", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
