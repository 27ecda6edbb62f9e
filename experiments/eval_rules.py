"""The prior agents' evaluation and proposal rules, measured (issue 28): runs, then the page.

    python experiments/eval_rules.py run [--workers N]
    python experiments/eval_rules.py report

`run` plays every point of experiments/eval-rules-frozenlake.toml not stored yet under
experiments/runs/eval-rules-frozenlake/<point>/: dqn-prior with prior ∈ {distilled SmolLM2,
SYNTHETIC uniform} × eval_decision ∈ {softmax, argmax} × proposal_reuse ∈ {per-state,
per-visit}. `report` rebuilds experiments/results/eval-rules.md from the stored runs alone:
per point, test success (20 unseen maps) at step 0 and at the end, pooled over the 5 seeds
with an exact (Clopper–Pearson) 95 % interval, and training success over the run.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SPEC = "eval-rules-frozenlake"
RUNS = HERE / "runs" / SPEC
RESULTS = HERE / "results" / "eval-rules.md"
ADAPTER = "experiments/adapters/frozenlake-4x4-random"
PRIORS: dict[str, list[str]] = {
    "distilled": ["agent.dqn-prior.prior=smollm2-135m", f'agent.dqn-prior.prior_params={{adapter="{ADAPTER}"}}'],
    "uniform (SYNTHETIC control)": ['agent.dqn-prior.prior="oracle"', 'agent.dqn-prior.prior_params={q="uniform"}'],
}
DECISIONS = ("softmax", "argmax")
REUSE = ("per-state", "per-visit")


def points() -> dict[str, list[str]]:
    """Point name → overrides of the spec."""
    return {f"{prior} · eval {decision} · {reuse}": [*overrides, f'agent.dqn-prior.eval_decision="{decision}"',
                                                     f'agent.dqn-prior.proposal_reuse="{reuse}"']
            for (prior, overrides), decision, reuse in itertools.product(PRIORS.items(), DECISIONS, REUSE)}


def folder(point: str) -> Path:
    return RUNS / point.replace(" · ", "__").replace(" ", "_").replace("(", "").replace(")", "")


def run(workers: int) -> None:
    from priorbench.bench.runner import execute_all, jobs_from_spec
    from priorbench.bench.spec import load_spec_file

    jobs = [job for point, overrides in points().items()
            for job in jobs_from_spec(load_spec_file(HERE / f"{SPEC}.toml", overrides), folder(point))]
    execute_all(jobs, workers=workers, progress=True)


def report() -> None:
    from priorbench.bench import records
    from priorbench.bench.metrics import binomial_interval

    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    lines = ["# dqn-prior's evaluation and proposal rules (FrozenLake-4x4-Random)", "",
             "Rebuilt by `python experiments/eval_rules.py report` from experiments/runs/eval-rules-frozenlake/ "
             "(spec: experiments/eval-rules-frozenlake.toml). dqn-prior, 2,000 training steps on random 4×4 "
             "maps, evaluated at 0, 500, …, 2,000 on 20 unseen test maps (one episode each). Test success is "
             "pooled over the 5 seeds' test episodes (100 per round) with an exact Clopper–Pearson 95 % "
             "interval; train success is over all training episodes. The uniform prior is SYNTHETIC (the "
             "control: it knows nothing, so what it shows is the decision rule's own effect).", "",
             "| prior | eval_decision | proposal_reuse | seeds | test success @0 | test success @2000 "
             "| best round | train success |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for point in points():
        prior, decision, reuse = point.split(" · ")
        runs = records.find_runs(folder(point)) if folder(point).exists() else []
        rounds: dict[int, list[bool]] = {}
        train: list[bool] = []
        complete = 0
        for run_path in runs:
            manifest, episodes = records.verify_run(run_path)
            if manifest.get("status") != "complete":
                continue
            complete += 1
            for row in episodes:
                if row["phase"] == "eval":
                    rounds.setdefault(row["env_steps"], []).append(bool(row["success"]))
                else:
                    train.append(bool(row["success"]))
        if not complete:
            lines.append(f"| {prior} | {decision.removeprefix('eval ')} | {reuse} | 0 | not run | | | |")
            continue

        def cell(outcomes: list[bool]) -> str:
            wins, n = sum(outcomes), len(outcomes)
            lo, hi = binomial_interval(wins, n)
            return f"{wins / n:.2f} [{lo:.2f}, {hi:.2f}] ({wins}/{n})"

        last = max(rounds)
        best = max(rounds, key=lambda step: (sum(rounds[step]) / len(rounds[step]), -step))
        found[(prior.split(" ")[0], decision.removeprefix("eval "), reuse)] = {
            "start": sum(rounds[0]) / len(rounds[0]), "end": sum(rounds[last]) / len(rounds[last]),
            "train": sum(train) / max(len(train), 1)}
        lines.append(f"| {prior} | {decision.removeprefix('eval ')} | {reuse} | {complete} | {cell(rounds[0])} "
                     f"| {cell(rounds[last])} | {best}: {sum(rounds[best]) / len(rounds[best]):.2f} "
                     f"| {sum(train) / max(len(train), 1):.2f} ({sum(train)}/{len(train)}) |")
    if len(found) == len(points()):
        lines += ["", *reading(found)]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(RESULTS)


def reading(found: dict[tuple[str, str, str], dict[str, Any]]) -> list[str]:
    """What the table says, each figure read from it."""
    f = lambda prior, decision, reuse, key: f"{found[(prior, decision, reuse)][key]:.2f}"  # noqa: E731
    same_training = all(found[(p, "softmax", r)]["train"] == found[(p, "argmax", r)]["train"]
                        for p in ("distilled", "uniform") for r in REUSE)
    return [
        "## Reading", "",
        f"- Evaluation does not touch training: the two eval_decision rows of each prior and "
        f"proposal_reuse have {'the same' if same_training else 'DIFFERENT'} training success "
        "(the runs differ only in their evaluation rule).",
        f"- **eval_decision.** Control first: with the uniform prior, softmax evaluation of the untrained "
        f"Q scores {f('uniform', 'softmax', 'per-visit', 'start')} at step 0 against argmax's "
        f"{f('uniform', 'argmax', 'per-visit', 'start')} (per-visit). With the distilled prior the step-0 "
        f"gap is larger: softmax {f('distilled', 'softmax', 'per-visit', 'start')} against argmax "
        f"{f('distilled', 'argmax', 'per-visit', 'start')} (per-visit; per-state "
        f"{f('distilled', 'softmax', 'per-state', 'start')} vs {f('distilled', 'argmax', 'per-state', 'start')}): "
        "sampling softmax(β·Q) over the k keeps the mass that repeated proposals carry, argmax over "
        "an untrained Q throws it away. At step 2,000 the rules end within each other's intervals "
        f"(distilled, per-visit: {f('distilled', 'softmax', 'per-visit', 'end')} vs "
        f"{f('distilled', 'argmax', 'per-visit', 'end')}). Registered default: **softmax** (the authors' "
        "`evaluate_q`; ahead at step 0, level at the end).",
        f"- **proposal_reuse.** With the distilled prior the rules tie (end "
        f"{f('distilled', 'softmax', 'per-state', 'end')} per-state vs {f('distilled', 'softmax', 'per-visit', 'end')} "
        f"per-visit). With the uniform control a kept draw of k can miss the right command for good: "
        f"training success {f('uniform', 'softmax', 'per-state', 'train')} per-state vs "
        f"{f('uniform', 'softmax', 'per-visit', 'train')} per-visit, test success at the end "
        f"{f('uniform', 'softmax', 'per-state', 'end')} vs {f('uniform', 'softmax', 'per-visit', 'end')} "
        "(the intervals overlap: 5 seeds). Registered default: **per-visit** (level with the distilled "
        "prior, ahead with a prior that knows nothing); per-state is the authors' `saved_actions`.",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run").add_argument("--workers", type=int, default=1)
    sub.add_parser("report")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.workers)
    else:
        report()


if __name__ == "__main__":
    main()
