"""Sample efficiency vs prior quality, online (issue 11): runs, then the results page from them.

    python experiments/prior_quality.py run [--env frozenlake|overcooked] [--workers N]
    python experiments/prior_quality.py report

`run` plays every point of each spec (experiments/prior-quality-<env>.toml) that is not stored
yet under experiments/runs/<spec name>/<point>/ (finished runs are kept, unfinished ones resume):
  dqn                  pure RL, all admissible commands
  oracle-q=<q>         dqn-prior with the SYNTHETIC oracle prior, q ∈ {uniform, 0.5, 0.75, 0.9}
  smollm2-135m         dqn-prior with the real SmolLM2-135M prior (the registered default)
`report` rebuilds experiments/results/prior-quality.md and its plot from the stored runs alone,
with each prior's coverage@5 measured by `priorbench prior inspect` on the same env and split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RUNS = HERE / "runs"
RESULTS = HERE / "results"
ENVS = {"frozenlake": "prior-quality-frozenlake", "overcooked": "prior-quality-overcooked"}
QS = ("uniform", 0.5, 0.75, 0.9)
THRESHOLD = 0.9


#: Frozen Lake's distilled prior (experiments/distilled_priors.py; trained on other, random 4×4 maps).
FL_ADAPTER = "experiments/adapters/frozenlake-4x4-random"
#: The offline study: spec, its dataset (env, policy, episodes, seed) and its points.
OFFLINE = "cql-support-frozenlake"
OFFLINE_DATASET = ("priorbench/FrozenLake-4x4-v0", "mixture:0.5", 10, 0, "frozenlake-4x4-mixture-v0")
OFFLINE_POINTS: dict[str, tuple[str, list[str], str, dict[str, Any]]] = {
    "cql": ("cql", [], "", {}),
    "oracle-q=0.9 proposals": ("cql-prior", ['agent.cql-prior.cql_support="candidates"'], "oracle", {"q": 0.9}),
    "oracle-q=0.9 proposals+data": ("cql-prior", ['agent.cql-prior.cql_support="candidates+data"'],
                                    "oracle", {"q": 0.9}),
    "oracle-q=0.9 distinct+data": ("cql-prior", [], "oracle", {"q": 0.9}),
    "distilled proposals+data": ("cql-prior", ["agent.cql-prior.prior=smollm2-135m",
                                               f'agent.cql-prior.prior_params={{adapter="{FL_ADAPTER}"}}',
                                               'agent.cql-prior.cql_support="candidates+data"'],
                                 "smollm2-135m", {"adapter": FL_ADAPTER}),
    "distilled distinct+data": ("cql-prior", ["agent.cql-prior.prior=smollm2-135m",
                                              f'agent.cql-prior.prior_params={{adapter="{FL_ADAPTER}"}}'],
                                "smollm2-135m", {"adapter": FL_ADAPTER}),
}


#: The offline dataset-size curve: spec, dataset, sizes (first N transitions) and points.
SIZE_DATASETS = {
    "cql-size-overcooked": ("priorbench/Overcooked-TomatoSalad-v0", "mixture:0.5", 300, 0,
                            "overcooked-tomato-mixture-v0"),
    "cql-size-overcooked-lt": ("priorbench/Overcooked-LettuceTomatoSalad-v0", "mixture:0.5", 200, 0,
                               "overcooked-lt-mixture-v0"),
}
SIZES = (50, 100, 400, 1600, 4000)
SIZE_POINTS: dict[str, tuple[str, list[str], str, dict[str, Any]]] = {
    "cql": ("cql", [], "", {}),
    "oracle-q=0.9": ("cql-prior", [], "oracle", {"q": 0.9}),
    "smollm2-135m contextual": ("cql-prior", ["agent.cql-prior.prior=smollm2-135m",
                                              'agent.cql-prior.prior_params={calibration="contextual"}'],
                                "smollm2-135m", {"calibration": "contextual"}),
}


def points() -> dict[str, tuple[str, list[str], str, dict[str, Any]]]:
    """Point name → (agent, overrides of its settings, prior name for inspection, its settings)."""
    out: dict[str, tuple[str, list[str], str, dict[str, Any]]] = {"dqn": ("dqn", [], "", {})}
    for q in QS:
        value = f'"{q}"' if isinstance(q, str) else str(q)
        out[f"oracle-q={q}"] = ("dqn-prior", [f"agent.dqn-prior.prior_params.q={value}"], "oracle", {"q": q})
    out["smollm2-135m uncalibrated"] = ("dqn-prior", ["agent.dqn-prior.prior=smollm2-135m",
                                                       'agent.dqn-prior.prior_params={calibration="none"}'],
                                        "smollm2-135m", {"calibration": "none"})
    out["smollm2-135m contextual"] = ("dqn-prior", ["agent.dqn-prior.prior=smollm2-135m",
                                                     'agent.dqn-prior.prior_params={calibration="contextual"}'],
                                      "smollm2-135m", {"calibration": "contextual"})
    return out


#: Points only some envs have: the distilled prior trained on the env family's train tasks
#: (experiments/distilled_priors.py; Frozen Lake's adapter saw random 4×4 maps, not this map).
DISTILLED = {"prior-quality-frozenlake": FL_ADAPTER}


def env_points(spec_name: str) -> dict[str, tuple[str, list[str], str, dict[str, Any]]]:
    out = points()
    if spec_name in DISTILLED:
        adapter = DISTILLED[spec_name]
        out["distilled smollm2-135m"] = ("dqn-prior", ["agent.dqn-prior.prior=smollm2-135m",
                                                       f'agent.dqn-prior.prior_params={{adapter="{adapter}"}}'],
                                         "smollm2-135m", {"adapter": adapter})
    return out


def point_spec(spec_name: str, point: str, size: int | None = None) -> Any:
    """The spec of one point: the spec file with only the point's agent and its settings (and,
    for the dataset-size curve, the first `size` transitions of the dataset)."""
    from priorbench.bench.spec import apply_overrides, spec_from_dict
    from priorbench.core.config import read_toml

    table = (OFFLINE_POINTS if spec_name == OFFLINE else SIZE_POINTS if spec_name in SIZE_DATASETS
             else env_points(spec_name))
    agent, overrides, _, _ = table[point]
    if size is not None:
        overrides = [*overrides, f"agent.{agent}.max_transitions={size}"]
    path = HERE / f"{spec_name}.toml"
    data = read_toml(path, what="spec file")
    data["agents"] = [agent]
    data["agent"] = {agent: data.get("agent", {}).get(agent, {})}
    return spec_from_dict(apply_overrides(data, overrides, where=str(path)), where=f"{path} ({point})")


def run(envs: list[str], workers: int) -> None:
    from priorbench.bench.runner import execute_all, jobs_from_spec

    for env in envs:
        jobs = []
        for name in env_points(ENVS[env]):
            if name.startswith("distilled") and not Path(DISTILLED[ENVS[env]]).exists():
                print(f"skipping {name}: train its adapter first (experiments/distilled_priors.py)",
                      file=sys.stderr)
                continue
            jobs += jobs_from_spec(point_spec(ENVS[env], name), RUNS / ENVS[env] / name.replace(" ", "_"))
        execute_all(jobs, workers=workers, progress=True)


def _dataset(decl: tuple[str, str, int, int, str]) -> None:
    """Make an offline dataset under experiments/datasets/ when missing (deterministic)."""
    from priorbench.bench import datasets
    from priorbench.bench.datasets import collect_episodes

    env_id, policy, episodes, seed, name = decl
    root = HERE / "datasets"
    if not (root / "priorbench" / name).exists():
        datasets.write_dataset(collect_episodes(env_id, policy, episodes, seed, progress=True),
                               env_id=env_id, policy=policy, seed=seed, out=root, name=name)


def run_offline(workers: int) -> None:
    """The offline studies: the conservative term's set (Frozen Lake), then the dataset-size
    curve (Overcooked), each after its dataset."""
    from priorbench.bench.runner import execute_all, jobs_from_spec

    _dataset(OFFLINE_DATASET)
    jobs = []
    for point in OFFLINE_POINTS:
        jobs += jobs_from_spec(point_spec(OFFLINE, point), RUNS / OFFLINE / point.replace(" ", "_"))
    execute_all(jobs, workers=workers, progress=True)
    for study, decl in SIZE_DATASETS.items():
        _dataset(decl)
        jobs = [job for size in SIZES for point in SIZE_POINTS
                for job in jobs_from_spec(point_spec(study, point, size), _size_folder(study, point, size))]
        execute_all(jobs, workers=workers, progress=True)


def _size_folder(study: str, point: str, size: int) -> Path:
    return RUNS / study / point.replace(" ", "_") / f"n={size}"


def _per_seed(folder: Path) -> list[dict[str, Any]]:
    from priorbench.bench import metrics
    from priorbench.bench.leaderboard import collect

    groups, refused = collect(folder)
    if refused:
        raise SystemExit(f"{folder}: refused runs {refused}")
    out = []
    for runs in groups.values():
        for run in runs:
            curve = metrics.learning_curve(run.episodes)
            steps = [c[0] for c in curve]
            success = [c[1] for c in curve]
            out.append({"seed": run.summary["seed"], "env": run.manifest["env"]["id"],
                        "steps_to": metrics.steps_to_threshold(steps, success, THRESHOLD),
                        "auc": metrics.sample_efficiency_auc(steps, success, run.manifest["spec"]["budget"]["steps"]),
                        "final": success[-1], "curve": curve,
                        "prior": run.manifest.get("agent_provenance", {}).get("prior", {})})
    return sorted(out, key=lambda r: r["seed"])


def _median_steps(rows: list[dict[str, Any]], budget: int) -> tuple[float, int]:
    """Median steps to the threshold over seeds (a seed that never reaches it counts as > budget,
    shown as inf when the median falls there), and how many seeds reached it."""
    values = [r["steps_to"] if r["steps_to"] is not None else np.inf for r in rows]
    return float(np.median(values)), sum(r["steps_to"] is not None for r in rows)


def report() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from priorbench.bench.prior_inspect import inspect
    lines = ["# Sample efficiency vs prior quality (online): dqn vs dqn-prior", "",
             "Rebuilt by `python experiments/prior_quality.py report` from the runs under",
             "`experiments/runs/` (specs: `experiments/prior-quality-*.toml`). **oracle rows are a",
             "SYNTHETIC prior** (mass q on the env's expert action, 1 − q uniform over the other",
             "commands; q = uniform is the uniform distribution): they measure the agents, not a",
             "language model. smollm2-135m is the real default prior, uncalibrated and with contextual",
             "calibration (its registered default, chosen from these runs).",
             f"Steps to {THRESHOLD:.0%}: the first evaluation with test success ≥ {THRESHOLD:.0%} (median over",
             "seeds; ∞ when most seeds never reach it within the budget). cov@5: chance that the",
             "expert's action is among 5 draws from the prior, by `priorbench prior inspect` (test",
             "split, 50 states, seed 0).", ""]
    fig, axes = plt.subplots(1, len(ENVS), figsize=(5 * len(ENVS), 3.6), dpi=100)
    for ax, spec_name in zip(np.atleast_1d(axes), ENVS.values(), strict=True):
        spec = point_spec(spec_name, "dqn")
        env_id, budget = spec.envs[0], spec.budget.steps
        table = ["| agent | prior | cov@5 | seeds | steps to 90% (median) | reached | AUC | final success |",
                 "|---|---|---:|---:|---:|---:|---:|---:|"]
        xs, ys, labels = [], [], []
        dqn_median = None
        for name, (_, _, prior, params) in env_points(spec_name).items():
            folder = RUNS / spec_name / name.replace(" ", "_")
            if not folder.exists():
                continue
            rows = _per_seed(folder)
            median, reached = _median_steps(rows, budget)
            cov = None
            if prior:
                spec_text = prior + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")
                inspected = inspect(env_id, [spec_text], split="test", n_states=50, seed=0, wins=False)
                cov = inspected["priors"][spec_text]["summary"]["cov@5"]
                uniform_cov = inspected["priors"][spec_text]["summary"]["uniform_cov@5"]
            agent = "dqn" if name == "dqn" else "dqn-prior"
            shown = "—" if name == "dqn" else ("SYNTHETIC " + name if name.startswith("oracle") else name)
            table.append(f"| {agent} | {shown} | {'' if cov is None else f'{cov:.3f}'} | {len(rows)} | "
                         f"{median:.0f} | {reached}/{len(rows)} | {np.mean([r['auc'] for r in rows]):.3f} | "
                         f"{np.mean([r['final'] for r in rows]):.2f} |")
            if name == "dqn":
                dqn_median = median
            else:
                xs.append(cov)
                ys.append(min(median, budget * 1.05))
                labels.append(name)
        lines += [f"## {env_id} ({budget} env steps)", "", *table, ""]
        if dqn_median is not None:
            lines.append(f"uniform cov@5 on these states: {uniform_cov:.3f}. dqn's median steps to "
                         f"{THRESHOLD:.0%}: {dqn_median:.0f}.")
            lines.append("")
        ax.scatter(xs, ys, color="tab:blue")
        for x, y, label in zip(xs, ys, labels, strict=True):
            ax.annotate(label.replace("oracle-", "SYNTHETIC "), (x, y), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
        if dqn_median is not None:
            ax.axhline(min(dqn_median, budget * 1.05), color="tab:red", linestyle="--", label="dqn (no prior)")
        ax.axhline(budget, color="grey", linewidth=0.5, label="budget (above: not reached)")
        ax.set_title(env_id.split("/")[-1], fontsize=9)
        ax.set_xlabel("coverage@5 of the prior")
        ax.set_ylabel(f"env steps to {THRESHOLD:.0%} test success (median)")
        ax.legend(fontsize=7)
    lines += _offline_section()
    RESULTS.mkdir(exist_ok=True)
    for study in SIZE_DATASETS:
        lines += _size_section(study)
    lines += READING
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "prior-quality.png")
    lines += ["![steps to 90% vs coverage@5](prior-quality.png)", ""]
    (RESULTS / "prior-quality.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'prior-quality.md'}", file=sys.stderr)


#: What the stored runs show (their figures are the tables above; rerunning gives the same
#: records on this machine: one torch thread, OMP_NUM_THREADS=1).
READING = [
    "## What the runs show", "",
    "- **With a good prior the agents behave as the paper says.** With the SYNTHETIC oracle at",
    "  q = 0.9, dqn-prior reaches 90% test success on Frozen Lake in a median of 100 env steps (every",
    "  seed within 300), dqn on 2 of 5 seeds within 3,000: far under a third of dqn's steps. Steps",
    "  to 90% fall as the prior's coverage@5 rises, on both envs (the plot).",
    "- **Part of dqn-prior's edge is its decision rule, not the prior.** With q = uniform (the",
    "  uniform distribution: no knowledge) dqn-prior still reaches 90% sooner than dqn on both envs",
    "  (softmax(10·Q) over 5 draws and a TD max over 5 draws explore differently from ε-greedy over",
    "  all commands). Compare a prior against this control to isolate what it knows.",
    "- **The shipped LM is worse than no prior uncalibrated** (Overcooked: 0 of 5 seeds, AUC 0.000;",
    "  its mass sits on the first-listed command, so the needed macro-action is rarely among the 5",
    "  proposals). Contextually calibrated (its registered default since these runs) dqn-prior learns",
    "  the tomato salad on 5 of 5 seeds and keeps it, where dqn reaches 90% and loses it again; but",
    "  it does not beat the uniform control's AUC, and on Frozen Lake it gains nothing.",
    "- **The distilled prior is the first real prior here that beats its plain counterpart:**",
    "  SmolLM2 with a LoRA adapter trained on the expert's commands of *other* (random) 4×4 maps",
    "  takes dqn-prior to 90% on 5 of 5 seeds, median 300 steps, AUC 0.833 against dqn's 0.237 —",
    "  the paper's claim that a prior which generalises to unseen tasks saves samples, on a CPU.",
    "- **Offline**, cql-prior with a good prior beats cql on Frozen Lake (90% at 200 vs 800 gradient",
    "  steps, AUC 0.95 vs 0.69), and the conservative term's set matters: over the proposals as",
    "  drawn, one oracle seed of five ends at 0 and the distilled prior ends at 0 on 3 of 5 seeds (a",
    "  proposal drawn four times is pushed down four times); over the distinct proposals plus the",
    "  data action (now cql-prior's default) every seed ends at 1 with either prior.",
    "- **The dataset-size curve does not test \"> 90% fewer samples\" here.** On the tomato salad",
    "  cql already holds 1.0 from 100 transitions (2.5% of 4,000), so there is no room for a 10×",
    "  saving; the oracle prior holds it from 50. On the lettuce-tomato salad cql is not monotone in",
    "  the data (1.0 at 100 and 400, 0.33 at 4,000 transitions: 3 seeds, one evaluation episode",
    "  each), the oracle prior holds 1.0 at every size, and SmolLM2 (calibrated) fails at almost",
    "  every size. Testing the claim needs an env where cql needs thousands of transitions and",
    "  evaluation over more episodes per round.",
    "- dqn's and the uniform control's final success is unstable (reach 90%, then lose it): the",
    "  test split has one task and one evaluation episode per round, so a row's AUC and steps to",
    "  90% say more than its final success.",
    "",
]


SUPPORT_TEXT = {"proposals": "the 5 proposals as drawn (the authors')",
                "proposals+data": "the proposals as drawn + the data action",
                "distinct+data": "the distinct proposals + the data action (the default)"}


def _offline_section() -> list[str]:
    """The offline study's table: what CQL-Prior's conservative term ranges over."""
    spec = point_spec(OFFLINE, "cql")
    env_id, policy, episodes, seed, name = OFFLINE_DATASET
    out = [f"## Offline: CQL-Prior's conservative term ({env_id}, {spec.budget.steps} gradient steps)", "",
           f"Dataset `{name}`: {episodes} episodes of `{policy}` (seed {seed}). The term is c·(logsumexp over a",
           "set of actions at s of Q(s, ·) − Q(s, a_data)); for cql-prior the set is the k = 5 prior",
           "proposals drawn for the transition, which need not contain the data action (the authors'",
           "code, `value-based/CQL_overcook_salad.py`, builds proposals + data action but takes the",
           "logsumexp over the proposals alone), or the proposals plus the data action (standard CQL's",
           "support always holds it; `cql_support = \"candidates+data\"`). As drawn, a proposal drawn",
           "four times enters the sum four times, so the term pushes a peaked prior's favourite down",
           "hardest; `\"distinct+data\"` (cql-prior's default) takes each distinct proposal once.", "",
           "| agent | conservative set | seeds | steps to 90% (median) | reached | AUC | final success per seed |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for point, (agent, _, _, _) in OFFLINE_POINTS.items():
        folder = RUNS / OFFLINE / point.replace(" ", "_")
        if not folder.exists():
            continue
        rows = _per_seed(folder)
        median, reached = _median_steps(rows, spec.budget.steps)
        if agent == "cql":
            shown = "all admissible commands"
        else:
            prior, support = point.rsplit(" ", 1)
            shown = f"{'SYNTHETIC ' if prior.startswith('oracle') else ''}{prior}: {SUPPORT_TEXT[support]}"
        finals = ", ".join(f"{r['final']:.0f}" for r in rows)
        out.append(f"| {agent} | {shown} | {len(rows)} | {median:.0f} | {reached}/{len(rows)} | "
                   f"{np.mean([r['auc'] for r in rows]):.3f} | {finals} |")
    return [*out, ""]


def _size_label(point: str) -> str:
    return "cql" if point == "cql" else "cql-prior, " + ("SYNTHETIC " + point if point.startswith("oracle") else point)


def _size_section(study: str) -> list[str]:
    """The dataset-size curve: final test success per size, and the smallest dataset at which
    each agent reaches cql's score on the largest one (the paper's "> 90% fewer samples")."""
    import matplotlib.pyplot as plt

    spec = point_spec(study, "cql", SIZES[-1])
    env_id, policy, episodes, seed, name = SIZE_DATASETS[study]
    finals: dict[str, dict[int, list[float]]] = {}
    for point in SIZE_POINTS:
        for size in SIZES:
            folder = _size_folder(study, point, size)
            if folder.exists():
                finals.setdefault(point, {})[size] = [r["final"] for r in _per_seed(folder)]
    if "cql" not in finals or SIZES[-1] not in finals["cql"]:
        return []
    out = [f"## Offline: dataset size ({env_id}, {spec.budget.steps} gradient steps)", "",
           f"Dataset `{name}`: {episodes} episodes of `{policy}` (seed {seed}); each run trains on its",
           "first N transitions. Mean final test success over seeds (each seed's value in brackets);",
           "cql-prior's conservative set is the distinct proposals plus the data action (its default).", "",
           "| transitions | " + " | ".join(_size_label(p) for p in finals) + " |",
           "|---:|" + "---|" * len(finals)]
    for size in SIZES:
        cells = []
        for point in finals:
            values = finals[point].get(size)
            cells.append("" if values is None else
                         f"{np.mean(values):.2f} ({', '.join(f'{v:.0f}' for v in values)})")
        out.append(f"| {size:,} | " + " | ".join(cells) + " |")
    out += ["", f"Smallest N from which the mean final success stays ≥ {THRESHOLD} at every larger N run",
            "(the paper's \"> 90% fewer samples\" compares these N):", ""]
    for point, by_size in finals.items():
        sizes = [n for n in SIZES if n in by_size]
        held = [n for i, n in enumerate(sizes) if all(np.mean(by_size[m]) >= THRESHOLD for m in sizes[i:])]
        out.append(f"- {_size_label(point)}: " + (f"{held[0]:,} transitions ({held[0] / SIZES[-1]:.1%} of the largest)"
                                                  if held else "not within the sizes run"))
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=100)
    for point, by_size in finals.items():
        sizes = sorted(by_size)
        ax.plot(sizes, [np.mean(by_size[n]) for n in sizes], marker="o", label=_size_label(point))
    ax.set_xscale("log")
    ax.set_xlabel("dataset size (transitions)")
    ax.set_ylabel("final test success (mean over seeds)")
    ax.set_title(env_id.split("/")[-1], fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{study}.png")
    plt.close(fig)
    return [*out, "", f"![final test success vs dataset size]({study}.png)", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--env", action="append", choices=[*sorted(ENVS), "offline"])
    r.add_argument("--workers", type=int, default=1)
    sub.add_parser("report")
    args = parser.parse_args()
    import os

    os.chdir(HERE.parent)  # dataset and adapter paths in the specs are relative to the repository
    if args.command == "run":
        chosen = args.env or [*ENVS, "offline"]
        run([e for e in chosen if e in ENVS], args.workers)
        if "offline" in chosen:
            run_offline(args.workers)
    else:
        report()


if __name__ == "__main__":
    main()
