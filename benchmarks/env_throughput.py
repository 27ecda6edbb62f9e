"""Env throughput: priorbench's TextWorld wrapper vs raw textworld, and steps/s per family.

    python benchmarks/env_throughput.py [--steps 1000] [--repeats 3] [--games 5] [--quick]

Part 1 plays the same games with the same requested infos and the same seeded random choice
among the admissible commands (episodes end on won/lost or at 100 steps, resets included in
the time) through
  raw-gym   textworld.gym.register_game(path, request_infos, max_episode_steps=100) + make
  raw-core  textworld.start(path, request_infos)  (the layer priorbench's wrapper drives)
  wrapper   envs.make("priorbench/TextWorld-…", expert=…, description=…, inventory=…)
  worker    the wrapper with step_timeout set (the game in a worker process)
for three info sets: base (admissible commands, won/lost, score, max score, objective),
+expert (policy_commands) and +desc/inv (description and inventory, no expert).
Part 2: every registered TextWorld and TextWorldExpress env with its default settings (expert
on), and raw TextWorldExpress for comparison (same seeds and choices; at least 5 repeats, as the
JVM's rate swings 2–3× from run to run). Figures are medians over the repeats.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from priorbench import envs  # noqa: E402
from priorbench.envs import textworld_env as tw  # noqa: E402

MAX_STEPS = 100
INFO_SETS: dict[str, dict[str, bool]] = {
    "base": {"expert": False, "description": False, "inventory": False},
    "+expert": {"expert": True, "description": False, "inventory": False},
    "+desc/inv": {"expert": False, "description": True, "inventory": True},
}
PART1_IDS = ("priorbench/TextWorld-Cooking-2-v0", "priorbench/TextWorld-CoinCollector-2-v0",
             "priorbench/TextWorld-TreasureHunter-2-v0")


def _timed(run: Callable[[int], int], steps: int, warmup: int) -> float:
    """Steps/s of run(steps), after an untimed run(warmup) (JIT, caches, first resets)."""
    run(warmup)
    started = time.perf_counter()
    done = run(steps)
    return done / (time.perf_counter() - started)


def raw_gym(paths: list[str], flags: dict[str, bool], steps: int, seed: int, warmup: int) -> float:
    import textworld.gym

    infos = tw.env_infos(**flags)
    games = [textworld.gym.make(textworld.gym.register_game(p, request_infos=infos,
                                                            max_episode_steps=MAX_STEPS))
             for p in paths]

    def run(steps: int) -> int:
        rng = random.Random(seed)
        n, episode = 0, 0
        while n < steps:
            game = games[episode % len(games)]
            _, info = game.reset()
            done = False
            while not done and n < steps:
                cmds = info["admissible_commands"]
                _, _, done, info = game.step(cmds[rng.randrange(len(cmds))])
                n += 1
            episode += 1
        return n

    rate = _timed(run, steps, warmup)
    for game in games:
        game.close()
    return rate


def raw_core(paths: list[str], flags: dict[str, bool], steps: int, seed: int, warmup: int) -> float:
    import textworld

    infos = tw.env_infos(**flags)
    games = [textworld.start(p, infos) for p in paths]

    def run(steps: int) -> int:
        rng = random.Random(seed)
        n, episode = 0, 0
        while n < steps:
            game = games[episode % len(games)]
            state = game.reset()
            done, t = False, 0
            while not done and t < MAX_STEPS and n < steps:
                cmds = state["admissible_commands"]
                state, _, done = game.step(cmds[rng.randrange(len(cmds))])
                n += 1
                t += 1
            episode += 1
        return n

    rate = _timed(run, steps, warmup)
    for game in games:
        game.close()
    return rate


def wrapped(env: Any, steps: int, seed: int, warmup: int) -> float:
    def run(steps: int) -> int:
        rng = random.Random(seed)
        n, episode = 0, 0
        while n < steps:
            _, info = env.reset(seed=episode, options={"task": episode % len(env.tasks)})
            done = False
            while not done and n < steps:
                cmds = info["admissible_commands"]
                _, _, terminated, truncated, info = env.step(cmds[rng.randrange(len(cmds))])
                done = terminated or truncated
                n += 1
            episode += 1
        return n

    return _timed(run, steps, warmup)


class RawTWX:
    """Raw TextWorldExpress (its Python API) on the test-fold seeds the wrapper plays."""

    def __init__(self, game: str, n_games: int) -> None:
        from textworld_express import TextWorldExpressEnv

        from priorbench.envs.twx_env import GAMES

        name, params = GAMES[game]
        self.gold = game != "Coin"  # the wrapper's Coin expert needs no gold path
        self.twx = TextWorldExpressEnv(envStepLimit=10**9)
        self.twx.load(name, params)
        self.seeds = self.twx.getValidSeedsTest()[:n_games]

    def rate(self, steps: int, seed: int, warmup: int) -> float:
        def run(steps: int) -> int:
            rng = random.Random(seed)
            n, episode = 0, 0
            while n < steps:
                _, raw = self.twx.reset(seed=self.seeds[episode % len(self.seeds)],
                                        gameFold="test", generateGoldPath=self.gold)
                done, t = False, 0
                while not done and t < MAX_STEPS and n < steps:
                    cmds = sorted(raw["validActions"])
                    _, _, _, raw = self.twx.step(cmds[rng.randrange(len(cmds))])
                    done = raw["tasksuccess"] or raw["taskfailure"]
                    n += 1
                    t += 1
                episode += 1
            return n

        return _timed(run, steps, warmup)

    def close(self) -> None:
        self.twx.close()


def median(values: list[float]) -> float:
    return statistics.median(values)


def part1(args: argparse.Namespace) -> None:
    print(f"\n## Wrapper vs raw textworld (same games, same infos; {args.steps} random admissible "
          f"steps, median of {args.repeats})\n")
    print("| family (test games) | infos | raw-gym | raw-core | wrapper | worker | wrapper/raw-gym "
          "| wrapper/raw-core |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for env_id in PART1_IDS:
        probe = envs.make(env_id, split="test", n_test_games=args.games, cache_dir=args.cache)
        paths = list(probe._paths)
        probe.close()
        for label, flags in INFO_SETS.items():
            env = envs.make(env_id, split="test", n_test_games=args.games, cache_dir=args.cache,
                            **flags)
            worker = (envs.make(env_id, split="test", n_test_games=args.games,
                                cache_dir=args.cache, step_timeout=30.0, **flags)
                      if label == "base" else None)
            rates: dict[str, list[float]] = {"gym": [], "core": [], "wrap": [], "worker": []}
            for r in range(args.repeats):  # interleaved, so drift hits every mode alike
                warm = args.steps // 5
                rates["gym"].append(raw_gym(paths, flags, args.steps, r, warm))
                rates["core"].append(raw_core(paths, flags, args.steps, r, warm))
                rates["wrap"].append(wrapped(env, args.steps, r, warm))
                if worker is not None:
                    rates["worker"].append(wrapped(worker, args.steps, r, warm))
            env.close()
            if worker is not None:
                worker.close()
            gym_, core, wrap = median(rates["gym"]), median(rates["core"]), median(rates["wrap"])
            work = f"{median(rates['worker']):.0f}" if rates["worker"] else "–"
            print(f"| {env_id.split('/')[1]} ({args.games}) | {label} | {gym_:.0f} | {core:.0f} "
                  f"| {wrap:.0f} | {work} | {wrap / gym_:.2f}× | {wrap / core:.2f}× |", flush=True)


def part2(args: argparse.Namespace) -> None:
    print(f"\n## Steps/s per family (defaults, expert on; {args.steps} random admissible steps "
          f"for TextWorld, {args.twx_steps} for TextWorldExpress; median of {args.repeats})\n")
    print("| env | test games | make, cached (s) | wrapper steps/s | raw steps/s | wrapper/raw |")
    print("|---|---:|---:|---:|---:|---:|")
    ids = [e for e in envs.env_ids()
           if (e.startswith("priorbench/TextWorld-") and e != "priorbench/TextWorld-v0")
           or e.startswith("priorbench/TWX-")]
    for env_id in [e for e in ids if args.only in e]:
        twx = env_id.startswith("priorbench/TWX-")
        kwargs: dict[str, Any] = {"n_test_games": args.games}
        if not twx:
            kwargs["cache_dir"] = args.cache
        envs.make(env_id, split="test", **kwargs).close()  # generates missing games, untimed
        started = time.perf_counter()
        env = envs.make(env_id, split="test", **kwargs)
        made = time.perf_counter() - started
        steps = args.twx_steps if twx else args.steps
        raw_env = None
        if twx:  # one JVM each, both warmed up (JIT), measured interleaved
            raw_env = RawTWX(env_id.split("/")[1].removeprefix("TWX-").removesuffix("-v0"),
                             args.games)
            raw_env.rate(steps, 0, 0)
            wrapped(env, steps, 0, 0)
        rates, raws = [], []
        for r in range(max(args.repeats, 5) if twx else args.repeats):  # the JVM is noisier
            rates.append(wrapped(env, steps, r, steps // 5))
            if raw_env is not None:
                raws.append(raw_env.rate(steps, r, steps // 5))
        env.close()
        raw = ratio = "–"
        if raw_env is not None:
            raw_env.close()
            raw = f"{median(raws):.0f}"
            ratio = f"{median(rates) / median(raws):.2f}×"
        print(f"| {env_id.split('/')[1]} | {args.games} | {made:.2f} | {median(rates):.0f} | {raw} "
              f"| {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="TextWorld steps per measurement")
    parser.add_argument("--twx-steps", type=int, default=20000,
                        help="TextWorldExpress steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per cell (median)")
    parser.add_argument("--games", type=int, default=5, help="test games per env")
    parser.add_argument("--cache", default=None, help="game cache (default: priorbench's)")
    parser.add_argument("--quick", action="store_true",
                        help="--steps 300 --twx-steps 3000 --repeats 1 --games 2")
    parser.add_argument("--part", choices=["1", "2", "all"], default="all")
    parser.add_argument("--only", default="", help="part 2: only env ids containing this")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.twx_steps, args.repeats, args.games = 300, 3000, 1, 2
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; cache "
          f"{args.cache or tw.default_cache_dir()}")
    if args.part in ("1", "all"):
        part1(args)
    if args.part in ("2", "all"):
        part2(args)


if __name__ == "__main__":
    main()
