"""How far one PPO update moves `vi`'s (and `twosome`'s) policy, per learning rate and env:
the median over updates of approx_kl (old → new policy), clip fraction and KL to the frozen
prior, read from the runs' training records (every train episode's `update` field holds the
mean metrics of the updates that ended in it).

    HF_HUB_OFFLINE=1 python benchmarks/vi_update_size.py [--agents vi,twosome] [--lrs 1e-4,1e-3,3e-3]
        [--envs frozenlake,tomato] [--steps 320] [--seed 0] [--out DIR]

Each (agent, env, lr) is one `bench.runner.execute` with the env's preset of agents/vi.py
(Frozen Lake: rollout 64, 4 epochs, raw advantages, no entropy bonus; tomato salad: the
registered defaults) and the given lr, evaluated at 0 and at the end. A PPO update should move
the policy measurably but not wildly: a median approx_kl per update in [0.003, 0.05]
(issue 28; the usual PPO range is 0.01–0.02, where target_kl early stopping sits).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from priorbench.bench import records  # noqa: E402
from priorbench.bench.runner import RunJob, execute  # noqa: E402
from priorbench.bench.spec import Budget  # noqa: E402

PRESETS = {
    "frozenlake": ("priorbench/FrozenLake-4x4-v0",
                   {"rollout_steps": 64, "epochs": 4, "normalize_advantages": False, "entropy_coef": 0.0}),
    "tomato": ("priorbench/Overcooked-TomatoSalad-v0", {}),
}


def update_sizes(path: Path) -> dict[str, float]:
    """Medians over the run's updates of approx_kl, clip_fraction and kl_to_prior, and the count."""
    rows = [r["update"] for r in records.read_episodes(path / records.EPISODES).records
            if r["phase"] == "train" and r.get("update", {}).get("approx_kl") is not None]
    out: dict[str, float] = {"updates": len(rows)}
    for key in ("approx_kl", "clip_fraction", "kl_to_prior"):
        values = [r[key] for r in rows if key in r]
        if values:
            out[key] = statistics.median(values)
            out[f"{key}_last"] = values[-1]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", default="vi")
    parser.add_argument("--lrs", default="1e-4,1e-3,3e-3")
    parser.add_argument("--envs", default="frozenlake,tomato")
    parser.add_argument("--steps", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temp folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="vi-update-size-"))
    print("| agent | env | lr | updates | median approx_kl | median clip fraction | median KL to prior "
          "| last KL to prior | wall s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for agent in args.agents.split(","):
        for env in args.envs.split(","):
            env_id, preset = PRESETS[env]
            for lr in args.lrs.split(","):
                job = RunJob(env_id, agent, args.seed, Budget(steps=args.steps, eval_every=args.steps,
                                                              checkpoint_every=args.steps),
                             out / f"lr{lr}", agent_params={**preset, "lr": float(lr)})
                path = execute(job, progress=False)
                sizes = update_sizes(path)
                wall = records.verify_run(path)[0]["timing"]["wall_s"]
                cells = [f"{sizes[key]:.2g}" if key in sizes else "–"
                         for key in ("approx_kl", "clip_fraction", "kl_to_prior", "kl_to_prior_last")]
                print(f"| {agent} | {env} | {lr} | {sizes['updates']} | {' | '.join(cells)} | {wall:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
