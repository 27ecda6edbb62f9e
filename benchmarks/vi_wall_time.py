"""Wall time per 1,000 env steps of `vi` (SmolLM2-135M + LoRA, PPO + KL to the prior) on text
Overcooked (tomato salad), per configuration (CONFIGS: the adapter on every layer — the paper's
setting —, on the top layers through the whole model, on the top layers over the frozen trunk;
the prior's log-prob cache off), through the runner.

    HF_HUB_OFFLINE=1 python benchmarks/vi_wall_time.py [--steps 128] [--threads 1]
        [--configs every-layer,top2-whole,top2] [--set key=value ...]

For each configuration: one `bench.runner.execute` of a RunJob (priorbench/Overcooked-TomatoSalad-v0,
agent `vi` with its registered defaults — rollout 64 steps, 2 epochs, minibatches of 8, history
0 — unless --set changes them; here the default is rollout_steps=32 so that 128 steps hold four
updates) into a temp folder, evaluating only at step 0 and at the end, no checkpoint. Training
time is the sum of the train episodes' recorded wall time (evaluations excluded) and is scaled
linearly to 1,000 steps: per env step vi pays one prompt forward to act and, amortised,
`epochs` prompt forward+backward passes in the update, whatever the rollout length, plus one
frozen-prior forward per state never scored before (cache) or per rollout step (no cache).

The script times `VI.act`, `VI.ppo_update` and `VI.reference_logprobs` by wrapping them on the
class in this process only, to say where the time goes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from priorbench.agents import vi as vi_module  # noqa: E402
from priorbench.bench import records  # noqa: E402
from priorbench.bench.runner import RunJob, execute  # noqa: E402
from priorbench.bench.spec import Budget  # noqa: E402
from priorbench.core.config import parse_value

ENV_ID = "priorbench/Overcooked-TomatoSalad-v0"
#: every-layer = the paper's setting (the registered default before issue 15); top2-whole = the
#: adapter on the top 2 layers, the whole model run every pass; top2 = the same on the frozen
#: trunk (the registered default since issue 15).
CONFIGS: dict[str, dict[str, Any]] = {
    "every-layer": {"lora_layers": 0}, "nocache": {"lora_layers": 0, "prior_cache": False},
    "top2-whole": {"lora_layers": 2, "frozen_cache_mib": 0}, "top2": {"lora_layers": 2},
    "top1": {"lora_layers": 1},
}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


class Timers:
    """Cumulative seconds and calls of wrapped methods, while `phase` is "train"."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.tokens: dict[str, float] = defaultdict(float)
        """LM tokens (prompt + candidates, as the prior counts them) per wrapped method."""

    def wrap(self, cls: type, name: str, *, only_training: bool = False) -> None:
        inner: Callable[..., Any] = getattr(cls, name)

        def timed(agent: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            tokens = agent.counters().get("llm_tokens", 0)
            try:
                return inner(agent, *args, **kwargs)
            finally:
                if not only_training or kwargs.get("explore", True):
                    self.seconds[name] += time.perf_counter() - started
                    self.calls[name] += 1
                    self.tokens[name] += agent.counters().get("llm_tokens", 0) - tokens

        setattr(cls, name, timed)


def run(name: str, params: dict[str, Any], steps: int, timers: Timers) -> dict[str, Any]:
    timers.seconds.clear()
    timers.calls.clear()
    timers.tokens.clear()
    with tempfile.TemporaryDirectory(prefix="vi-wall-") as tmp:
        job = RunJob(ENV_ID, "vi", 0, Budget(steps=steps, eval_every=10 * steps, eval_episodes=1,
                                              checkpoint_every=10 * steps), Path(tmp), agent_params=params)
        started = time.perf_counter()
        path = execute(job, progress=False)
        total = time.perf_counter() - started
        episodes = records.read_episodes(path / "episodes.jsonl").records
    train = [e for e in episodes if e["phase"] == "train"]
    train_s = sum(e[records.TIMING_FIELD]["wall_s"] for e in train)
    env_steps = sum(e["length"] for e in train)
    counters: dict[str, float] = defaultdict(float)
    for e in train:
        for key, value in {**e.get("counters", {}), **e[records.TIMING_FIELD].get("counters", {})}.items():
            counters[key] += value
    return {"name": name, "params": params, "env_steps": env_steps, "train_s": train_s,
            "total_s": total, "per_1000_s": train_s / env_steps * 1000,
            "act_s": timers.seconds["act"], "acts": timers.calls["act"],
            "update_s": timers.seconds["ppo_update"], "updates": timers.calls["ppo_update"],
            "update_tokens": timers.tokens["ppo_update"],
            "trunk_hits": counters.get("trunk_hits", 0), "trunk_misses": counters.get("trunk_misses", 0),
            "prior_s": timers.seconds["reference_logprobs"],
            "prior_scored": counters.get("prior_cache_misses", 0),
            "prior_hits": counters.get("prior_cache_hits", 0),
            "successes": sum(bool(e["success"]) for e in train), "episodes": len(train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=128, help="training env steps per configuration")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--configs", default="every-layer,top2",
                        help=f"comma-separated, of: {', '.join(CONFIGS)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="vi parameter for every configuration (default rollout_steps=32)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    common: dict[str, Any] = {"rollout_steps": 32}
    for item in args.overrides:
        key, _, value = item.partition("=")
        common[key.strip()] = parse_value(value.strip())
    timers = Timers()
    timers.wrap(vi_module.VI, "act", only_training=True)
    timers.wrap(vi_module.VI, "ppo_update")
    timers.wrap(vi_module.VI, "reference_logprobs")
    print(f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, load before {loadavg()}",
          flush=True)
    for name in args.configs.split(","):
        result = run(name, {**common, **CONFIGS[name]}, args.steps, timers)
        per_step = 1000 / result["env_steps"]
        print(f"[{name}] params {result['params']}\n"
              f"  {result['env_steps']} train steps in {result['train_s']:.1f} s "
              f"(run incl. model load and 2 evaluations {result['total_s']:.1f} s); load now {loadavg()}\n"
              f"  → {result['per_1000_s'] / 60:.1f} min per 1,000 env steps "
              f"(act {result['act_s'] * per_step / 60:.1f} min, "
              f"update {result['update_s'] * per_step / 60:.1f} min of which prior scoring "
              f"{result['prior_s'] * per_step / 60:.1f} min)\n"
              f"  acts {result['acts']} ({result['act_s'] / max(result['acts'], 1):.2f} s each), "
              f"updates {result['updates']} ({result['update_s'] / max(result['updates'], 1):.1f} s each), "
              f"prior states scored {result['prior_scored']:.0f}, cache hits {result['prior_hits']:.0f}; "
              f"update {result['update_tokens'] / max(result['update_s'], 1e-9):.0f} LM tokens/s; "
              f"trunk computed {result['trunk_misses']:.0f}, reused {result['trunk_hits']:.0f}; "
              f"train episodes {result['episodes']}, successes {result['successes']}", flush=True)


if __name__ == "__main__":
    main()
