"""Distilled game priors (issue 11, the paper's claim 3 on a CPU): train, then measure on unseen tasks.

    python experiments/distilled_priors.py train     # adapters missing under experiments/adapters/
    python experiments/distilled_priors.py report    # experiments/results/distilled-priors.md

`train` runs `priorbench prior train` (SmolLM2-135M + LoRA r = 8 on the train split's expert
commands) once per env below; `report` scores each env's **test** split (tasks no adapter saw)
with `priorbench prior inspect`: SmolLM2 uncalibrated, SmolLM2 with contextual calibration (its
registered default), the distilled prior (raw scores), and the uniform baseline, and writes the page with the adapters' manifests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADAPTERS = HERE / "adapters"
RESULTS = HERE / "results"
#: adapter folder name → (env id, base prior, prior train settings)
ADAPTER_SPECS = {
    "frozenlake-4x4-random": ("priorbench/FrozenLake-4x4-Random-v0", "smollm2-135m",
                              {"states": 200, "steps": 150, "batch_size": 8}),
    "textworld-cooking-1": ("priorbench/TextWorld-Cooking-1-v0", "smollm2-135m",
                            {"states": 100, "steps": 60, "batch_size": 4}),
    "alfworldgen-pick": ("priorbench/ALFWorldGen-Pick-v0", "smollm2-135m",
                         {"states": 100, "steps": 40, "batch_size": 4}),
    # core-v1's TextWorld level that a random walk does not solve (leaderboard/core-v1/spec.toml)
    "textworld-coincollector-2": ("priorbench/TextWorld-CoinCollector-2-v0", "smollm2-135m",
                                  {"states": 100, "steps": 60, "batch_size": 4}),
    # BabyAI in text (issue 33): the one-room go-to level, its train seeds only
    "babyai-gotolocal": ("priorbench/BabyAI-GoToLocal-v0", "smollm2-135m",
                         {"states": 200, "steps": 150, "batch_size": 8}),
    # prior B of issue 32's transfer experiment: another model family on the same train maps
    "frozenlake-4x4-random-gemma3-270m": ("priorbench/FrozenLake-4x4-Random-v0", "gemma3-270m",
                                          {"states": 200, "steps": 150, "batch_size": 8}),
}
BASE = "smollm2-135m"
STATES = 50


def train(only: list[str] | None) -> None:
    from priorbench.bench.prior_train import train as train_adapter

    for name, (env_id, base, settings) in ADAPTER_SPECS.items():
        out = ADAPTERS / name
        if (only and name not in only) or out.exists():
            continue
        manifest = train_adapter([env_id], out, base=base, seed=0, lr=1e-3,
                                 progress=lambda line: print(line, file=sys.stderr), **settings)
        print(f"{out}: {manifest['states']} states, {manifest['cpu_seconds']} CPU s", file=sys.stderr)


def report() -> None:
    from priorbench.bench.prior_inspect import inspect, table

    lines = ["# Distilled game priors on unseen test tasks", "",
             "Rebuilt by `python experiments/distilled_priors.py report`. Each adapter was trained by",
             "`priorbench prior train` on its env's **train** split only (its manifest lists the task ids",
             "it saw; none is a test task — checked before it was written); the figures below score the",
             f"**test** split ({STATES} states, seed 0, expert play with random detours) with the agents'",
             "prompt template. Base: SmolLM2-135M-Instruct unless the heading names another. cov@5 is the chance that 5 draws contain the",
             "expert's command; the uniform row is the baseline a prior must beat. Argmax wins (playing the",
             "prior's favourite command from each test task's start) are measured on Frozen Lake only.", ""]
    for name, (env_id, base, _) in ADAPTER_SPECS.items():
        folder = ADAPTERS / name
        title = env_id if base == BASE else f"{env_id} ({base})"
        if not folder.exists():
            lines += [f"## {title}", "", "(adapter not trained yet)", ""]
            continue
        manifest = json.loads((folder / "manifest.json").read_text())
        priors = [f"{base}:calibration=none", f"{base}:calibration=contextual",
                  f"{base}:adapter={folder.relative_to(HERE.parent)}"]
        print(f"inspecting {env_id}", file=sys.stderr)
        wins = env_id.startswith("priorbench/FrozenLake")  # long games elsewhere: CPU budget
        report = inspect(env_id, priors, split="test", n_states=STATES, seed=0, wins=wins)
        tasks = sum(len(v) for v in manifest["task_ids"].values())
        lines += [f"## {title}", "", table(report), "",
                  f"Adapter `{folder.relative_to(HERE.parent)}`: {manifest['states']} states of {tasks} train tasks, "
                  f"{manifest['steps']} steps (batch {manifest['batch_size']}, lr {manifest['lr']}), loss "
                  f"{manifest['losses']['first']:.3f} → {manifest['losses']['mean_last_25']:.3f} (mean of the last 25), "
                  f"{manifest['cpu_seconds']:.0f} CPU s on this machine (2 shared cores); adapter sha256 "
                  f"`{manifest['adapter_sha256'][:16]}…`.", ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "distilled-priors.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'distilled-priors.md'}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--only", action="append", choices=list(ADAPTER_SPECS))
    sub.add_parser("report")
    args = parser.parse_args()
    import os

    os.chdir(HERE.parent)  # adapter paths in the page are relative to the repository
    train(args.only) if args.command == "train" else report()


if __name__ == "__main__":
    main()
