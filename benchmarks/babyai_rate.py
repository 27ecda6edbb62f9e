"""BabyAI in text against raw minigrid: env steps per second on the same levels and seeds, random
commands, the text layer's expert (the BabyAI bot) on and rendered text included (issue 33's target:
the text layer at >= 0.5x raw). Prints a markdown table; medians of `--repeats` runs of `--steps`.

    python benchmarks/babyai_rate.py [--steps 3000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import numpy as np


def raw_rate(level: str, steps: int) -> float:
    import gymnasium as gym
    import minigrid  # noqa: F401

    from priorbench.envs.babyai import minigrid_id

    env = gym.make(minigrid_id(level)).unwrapped
    rng = np.random.default_rng(0)
    with contextlib.redirect_stdout(io.StringIO()):
        env.reset(seed=0)
        start, episode = time.perf_counter(), 0
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(int(rng.integers(6)))
            if terminated or truncated:
                episode += 1
                env.reset(seed=episode)
    return steps / (time.perf_counter() - start)


def text_rate(level: str, steps: int, expert: bool) -> float:
    from priorbench.envs.babyai import COMMANDS, BabyAIText

    env = BabyAIText(level, expert=expert)
    rng = np.random.default_rng(0)
    env.reset(options={"task": 0})
    start, episode = time.perf_counter(), 0
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(COMMANDS[int(rng.integers(6))])
        if terminated or truncated:
            episode += 1
            env.reset(options={"task": episode % len(env.tasks)})
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| level | raw minigrid steps/s | text layer steps/s | text / raw | with the bot's expert_action "
          "| with / raw |\n|---|---:|---:|---:|---:|---:|")
    for level in ("GoToLocal", "PutNextLocal", "GoToSeq"):
        raw = statistics.median(raw_rate(level, args.steps) for _ in range(args.repeats))
        text = statistics.median(text_rate(level, args.steps, False) for _ in range(args.repeats))
        bot = statistics.median(text_rate(level, args.steps, True) for _ in range(args.repeats))
        print(f"| {level} | {raw:,.0f} | {text:,.0f} | {text / raw:.2f}× | {bot:,.0f} | {bot / raw:.2f}× |")


if __name__ == "__main__":
    main()
