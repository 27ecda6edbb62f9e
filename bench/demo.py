"""`priorbench demo`: the embedded default comparison on the paper's Frozen Lake — the plain
agents, the LLM alone, and the distilled Frozen Lake prior alone and guiding dqn, beside
dqn-prior's uniform-prior control (the demo shows what the prior adds, and that the decision
rule alone does not). ≤ 90 s on 2 cores once the prior's answers are cached."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DEMO_ENVS = ("priorbench/FrozenLake-4x4-v0",)
DEMO_AGENTS = ("random", "expert", "llm", "tabular-q", "dqn")
DEMO_SEEDS = (0, 1, 2)
#: The Frozen Lake preset of the value agents (experiments/frozenlake-value.toml).
DEMO_AGENT_PARAMS = {"dqn": {"lr": 0.003, "gamma": 0.9}}
#: The distilled Frozen Lake prior: SmolLM2's LoRA adapter that `priorbench prior train` made on
#: other, random 4×4 maps (train split only), committed in the repository checkout.
DEMO_ADAPTER = Path("experiments") / "adapters" / "frozenlake-4x4-random"


def demo_adapter() -> Path | None:
    """The committed adapter: beside the package in an editable checkout, else under the working
    folder (the repository root, where an installed priorbench runs its demo); None elsewhere."""
    for root in (Path(__file__).resolve().parents[1], Path.cwd()):
        if (root / DEMO_ADAPTER / "manifest.json").is_file():
            return (root / DEMO_ADAPTER).resolve()
    return None


def prior_rows(adapter: Path | None) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """The prior rows, each (sub-folder of the demo's folder, agent, its settings), as the
    leaderboard runs them (leaderboard/spec.toml): the distilled prior alone (`llm`) and guiding
    dqn, and dqn-prior's control, the SYNTHETIC oracle at q = "uniform" (it knows nothing: what the
    decision rule alone does); without the adapter, the control alone. One spec per folder, since a
    spec gives an agent one setting. The contextual prior's dqn-prior row (0.000 on every seed,
    ~9 s a seed) is left out to keep the demo ≤ 90 s."""
    control = ("control-uniform", "dqn-prior", {**DEMO_AGENT_PARAMS["dqn"], "prior": "oracle",
                                                "prior_params": {"q": "uniform"}})
    if adapter is None:
        return (control,)
    distilled = {"prior_params": {"adapter": str(adapter)}}
    return (("smollm2-distilled", "llm", distilled),
            ("smollm2-distilled", "dqn-prior", {**DEMO_AGENT_PARAMS["dqn"], **distilled}), control)


def run_demo(out: Path, *, progress: bool = True) -> tuple[list[Path], str]:
    """Run the demo's runs into `out` (complete ones are reused): their folders, and the line to
    print under the table (time taken, where the records are, how many were reused)."""
    from priorbench.bench.runner import execute_all, is_complete, jobs_from_spec
    from priorbench.bench.spec import Budget, Spec

    budget = Budget(steps=2000, eval_every=500, checkpoint_every=1000)
    specs = [(out, Spec(envs=DEMO_ENVS, agents=DEMO_AGENTS, seeds=DEMO_SEEDS, name="demo", budget=budget,
                        agent={k: dict(v) for k, v in DEMO_AGENT_PARAMS.items()}))]
    adapter = demo_adapter()
    rows = prior_rows(adapter)
    if adapter is None:
        print(f"(the distilled prior's rows are left out: its adapter {DEMO_ADAPTER} is neither beside the "
              "package nor under this folder; run the demo from the repository checkout)")
    for folder in dict.fromkeys(f for f, _, _ in rows):
        mine = [(name, params) for f, name, params in rows if f == folder]
        specs.append((out / folder, Spec(envs=DEMO_ENVS, agents=tuple(n for n, _ in mine), seeds=DEMO_SEEDS,
                                         name="demo", budget=budget, agent={n: dict(p) for n, p in mine})))
    started = time.perf_counter()
    jobs = [job for where, spec in specs for job in jobs_from_spec(spec, where)]
    reused = sum(is_complete(job) for job in jobs)
    paths = execute_all(jobs, progress=progress)
    again = (f" ({reused} of {len(jobs)} runs were already complete there and reused; "
             "delete the folder to run them again)") if reused else ""
    return paths, f"demo finished in {time.perf_counter() - started:.1f} s; run records: {out}/{again}"
