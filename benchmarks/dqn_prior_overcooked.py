"""dqn-prior with SmolLM2-135M on text Overcooked (tomato salad) on CPU, through the runner.

    HF_HUB_OFFLINE=1 python benchmarks/dqn_prior_overcooked.py [--steps 1000] [--warmup 200]
        [--bin 200] [--seed 0] [--warm-cache] [--threads N] [--set key=value ...]

Runs `bench.runner.execute` on one RunJob (priorbench/Overcooked-TomatoSalad-v0, agent
`dqn-prior`, its defaults: prior smollm2-135m, exact proposals, k = 5, softmax(10·Q), frozen
MiniLM Q encoder) into a temp folder, with evaluation only at step 0 and at the end (so no
evaluation runs inside a training episode) and no checkpoint. By default the prior cache
(PRIORBENCH_CACHE) is a fresh temp folder — SmolLM2's converted weights linked in — so the LLM
calls are those of a first run; --warm-cache uses your own cache instead.

Reported:
  * env steps/s of training (train episodes' recorded wall time), all and after warm-up;
  * LLM calls per env step, all and after the first --warmup steps, and per --bin steps, from
    the `llm_calls` counters of the episode records (kept under their `timing` field), with
    cache hits / misses and the per-state memo's reuse;
  * where training time goes. The script (only) wraps the agent's and the envs' methods on
    their instances, from the runner's `Callbacks.on_start` hook, and
    charges each call's exclusive time (its own, minus wrapped calls inside it) to:
      env             env.reset / env.step
      prior: LLM      the HF backend's score / propose (SmolLM2 forward passes)
      prior: cache    CachedPrior.score / propose less the backend (SQLite lookups, stores)
      prior: other    PriorProposals.draw + state_prior less the above (prompt rendering, tokenising
                      for the context check, the per-state memo, drawing k)
      encoder         TextEncoder.rows (MiniLM embeddings of texts never seen before)
      Q forward       q_values when acting
      Q update        update (replay sampling, TD target over k proposals at s', Adam step)
      agent other     act / observe less the above (replay bookkeeping, diagnostics)
      runner other    the rest of the train episodes' wall time (records, counters, loop)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from priorbench.bench import records  # noqa: E402
from priorbench.bench.runner import Callbacks, RunJob, execute  # noqa: E402
from priorbench.bench.spec import Budget  # noqa: E402
from priorbench.core.paths import cache_root  # noqa: E402

ENV_ID = "priorbench/Overcooked-TomatoSalad-v0"
CATEGORIES = ("env", "prior: LLM", "prior: cache", "prior: other", "encoder", "Q forward",
              "Q update", "agent other")


def uptime() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


class Split:
    """Exclusive time per (phase, category) of wrapped calls; nested wrapped calls are
    charged to their own category and subtracted from the caller's."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self.stack: list[float] = []
        self.phase = "eval"

    def wrap(self, obj: Any, name: str, category: str) -> None:
        inner = getattr(obj, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            self.stack.append(0.0)
            try:
                return inner(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                children = self.stack.pop()
                self.seconds[self.phase, category] += spent - children
                self.calls[self.phase, category] += 1
                if self.stack:
                    self.stack[-1] += spent

        setattr(obj, name, wrapped)


def instrument(split: Split, counts: dict[str, int]) -> Callbacks:
    """Runner callbacks that wrap the run's agent and envs once they are built."""

    def wrap_agent(agent: Any) -> None:
        reset = agent.reset_episode

        def reset_episode(*, explore: bool) -> None:
            split.phase = "train" if explore else "eval"
            reset(explore=explore)

        agent.reset_episode = reset_episode
        source = agent.posterior.source
        state_prior = source.state_prior

        def counted_state_prior(obs: str, info: dict[str, Any]) -> Any:
            counts["state_lookups"] += 1
            counts["memo_hits"] += source.state_key(obs, info) in source._last
            return state_prior(obs, info)

        source.state_prior = counted_state_prior
        for name, category in (("act", "agent other"), ("observe", "agent other"),
                               ("update", "Q update"), ("q_values", "Q forward")):
            split.wrap(agent, name, category)
        for name in ("draw", "state_prior"):
            split.wrap(source, name, "prior: other")
        split.wrap(agent.encoder, "rows", "encoder")
        for name in ("score", "propose"):
            split.wrap(source.prior, name, "prior: cache")
            split.wrap(source.prior.inner, name, "prior: LLM")

    def on_start(agent: Any, train_env: Any, test_env: Any) -> None:
        wrap_agent(agent)
        for env in (train_env, test_env):
            split.wrap(env, "reset", "env")
            split.wrap(env, "step", "env")

    return Callbacks(on_start=on_start)


def volatile(record: dict[str, Any]) -> dict[str, float]:
    """Counters of an episode record, the volatile ones (kept under `timing`) included."""
    return {**record.get("counters", {}), **record.get(records.TIMING_FIELD, {}).get("counters", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="training env steps")
    parser.add_argument("--warmup", type=int, default=200, help="env steps counted as warm-up")
    parser.add_argument("--bin", type=int, default=200, help="env steps per row of the LLM-call table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm-cache", action="store_true", help="use your PRIORBENCH_CACHE as it is")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="dqn-prior setting (JSON value), e.g. --set proposal_mode='\"sample\"'")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    params: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load at start {uptime()}", flush=True)

    split = Split()
    counts: dict[str, int] = defaultdict(int)
    callbacks = instrument(split, counts)
    with tempfile.TemporaryDirectory(prefix="priorbench-dqnprior-") as tmp:
        if not args.warm_cache:
            cache = Path(tmp) / "prior-cache"
            cache.mkdir()
            models = cache_root() / "models"
            if models.exists():
                (cache / "models").symlink_to(models.resolve())
            os.environ["PRIORBENCH_CACHE"] = str(cache)
        budget = Budget(steps=args.steps, eval_every=args.steps + 1, eval_episodes=1,
                        checkpoint_every=args.steps + 1)
        job = RunJob(ENV_ID, "dqn-prior", args.seed, budget, Path(tmp) / "runs", agent_params=params)
        started = time.perf_counter()
        path = execute(job, progress=False, callbacks=callbacks)
        total_wall = time.perf_counter() - started
        episodes = records.read_episodes(path / records.EPISODES).records
        manifest = json.loads((path / records.MANIFEST).read_text())

    train = [e for e in episodes if e["phase"] == "train"]
    evals = [e for e in episodes if e["phase"] == "eval"]
    steps = sum(e["length"] for e in train)
    wall = sum(e[records.TIMING_FIELD]["wall_s"] for e in train)
    late = [e for e in train if e["env_steps"] - e["length"] >= args.warmup]
    late_steps = sum(e["length"] for e in late)
    late_wall = sum(e[records.TIMING_FIELD]["wall_s"] for e in late)

    def total(eps: list[dict[str, Any]], key: str) -> float:
        return sum(volatile(e).get(key, 0) for e in eps)

    print(f"\n## dqn-prior on {ENV_ID}, seed {args.seed}, {steps} train steps "
          f"({len(train)} episodes), prior {manifest['agent']['params']['prior']} "
          f"({manifest['agent']['params']['proposal_mode']} proposals, k={manifest['agent']['params']['k']}), "
          f"{'warm' if args.warm_cache else 'fresh'} prior cache; run wall {total_wall:.1f}s "
          f"(model loads and 2 eval episodes included); load at end {uptime()}")
    print("\n| | env steps | wall (s) | env steps/s | LLM calls | LLM calls / env step | cache hits | cache misses |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, eps, n, w in (("all training", train, steps, wall),
                             (f"after {args.warmup} steps", late, late_steps, late_wall)):
        calls = total(eps, "llm_calls")
        print(f"| {label} | {n} | {w:.1f} | {n / max(w, 1e-9):.1f} | {calls:.0f} | "
              f"{calls / max(n, 1):.3f} | {total(eps, 'cache_hits'):.0f} | {total(eps, 'cache_misses'):.0f} |")
    print(f"| eval episodes (step 0 and end) | {sum(e['length'] for e in evals)} | "
          f"{sum(e[records.TIMING_FIELD]['wall_s'] for e in evals):.1f} | | {total(evals, 'llm_calls'):.0f} | | "
          f"{total(evals, 'cache_hits'):.0f} | {total(evals, 'cache_misses'):.0f} |")

    print("\n| train steps | LLM calls | LLM calls / env step | wall (s) | steps/s | episodes won | "
          "expert action among the k |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    bins: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in train:
        bins[(e["env_steps"] - e["length"]) // args.bin].append(e)
    for b in sorted(bins):
        eps = bins[b]
        n = sum(e["length"] for e in eps)
        w = sum(e[records.TIMING_FIELD]["wall_s"] for e in eps)
        calls = total(eps, "llm_calls")
        won = sum(e["success"] for e in eps)
        covered = total(eps, "expert_covered") / max(total(eps, "expert_known"), 1)
        print(f"| {b * args.bin}–{(b + 1) * args.bin} (episodes starting there) | {calls:.0f} | "
              f"{calls / max(n, 1):.3f} | {w:.1f} | {n / max(w, 1e-9):.1f} | {won}/{len(eps)} | "
              f"{covered:.0%} |")
    lookups, memo = counts["state_lookups"], counts["memo_hits"]
    print(f"\nper-state prior lookups (act + observe, train and eval): {lookups}, served by the "
          f"per-state memo {memo} ({memo / max(lookups, 1):.1%}); distinct states asked of the "
          f"prior cache: {lookups - memo}")

    eval_wall = sum(e[records.TIMING_FIELD]["wall_s"] for e in evals)
    print(f"\n| time split | training ({steps} steps): s | share | ms / env step | calls | "
          f"eval episodes: s |")
    print("|---|---:|---:|---:|---:|---:|")
    charged = charged_eval = 0.0
    for category in CATEGORIES:
        s = split.seconds.get(("train", category), 0.0)
        e = split.seconds.get(("eval", category), 0.0)
        charged += s
        charged_eval += e
        print(f"| {category} | {s:.2f} | {s / wall:.1%} | {1000 * s / max(steps, 1):.2f} | "
              f"{split.calls.get(('train', category), 0)} | {e:.2f} |")
    rest = wall - charged
    print(f"| runner other | {rest:.2f} | {rest / wall:.1%} | {1000 * rest / max(steps, 1):.2f} | | "
          f"{eval_wall - charged_eval:.2f} |")
    print(f"| total | {wall:.2f} | 100% | {1000 * wall / max(steps, 1):.2f} | | {eval_wall:.2f} |")
    final = evals[-1] if evals else {}
    print(f"\nfinal evaluation: return {final.get('return')}, success {final.get('success')}")


if __name__ == "__main__":
    main()
