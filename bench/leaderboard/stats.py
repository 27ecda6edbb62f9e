"""Statistics of the leaderboard's rows: per row (IQM with a stratified-bootstrap CI, mean ±
SE, AUC, steps to threshold, budgets, the learning curve), per agent over envs (`overall`), and
between agents (`key_pairs`: which comparisons the table makes; `improvements`: rliable's
probability of improvement for them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from priorbench.bench import metrics, schema
from priorbench.bench.leaderboard.load import Run


@dataclass
class Curve:
    """A row's test-success learning curve: IQM and 95% CI at each evaluation step."""

    steps: list[int]
    iqm: list[float]
    lower: list[float]
    upper: list[float]


@dataclass
class Row:
    """One leaderboard row: an (env, agent) pair over its seeds."""

    index: int
    env: str
    agent: str
    runs: list[Run]
    stats: dict[str, Any] = field(default_factory=dict)
    curve: Curve | None = None

    @property
    def seeds(self) -> list[int]:
        return [int(r.summary["seed"]) for r in self.runs]


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.mean(arr[~np.isnan(arr)])) if np.any(~np.isnan(arr)) else float("nan")


def row_success_matrix(runs: Sequence[Run]) -> np.ndarray:
    """Seeds × 1: each run's final success rate over the env's test tasks — the matrix a row's
    IQM and CI come from. (Tasks of one env are single games whose success is 0 or 1: an IQM
    over them trims the information away, so the test split's success rate is the run's score
    and rliable's task axis is used for envs, in `overall`.)"""
    return np.array([[float(r.summary["success"])] for r in runs], dtype=float)


def row_curve(runs: Sequence[Run]) -> Curve:
    """IQM learning curve over seeds, every seed sampled on the union of its row's eval steps."""
    grid = sorted({s for r in runs for s, _ in r.summary["curve"]})
    cube = np.empty((len(runs), 1, len(grid)))
    for i, run in enumerate(runs):
        steps = [s for s, _ in run.summary["curve"]]
        values = [float(np.mean(list(by_task.values()))) for _, by_task in run.summary["curve"]]
        cube[i, 0] = metrics.carry_forward(steps, values, grid)
    point, lower, upper = metrics.iqm_curve_ci(cube)
    return Curve(grid, [float(v) for v in point], [float(v) for v in lower], [float(v) for v in upper])


def row_stats(runs: Sequence[Run]) -> dict[str, Any]:
    """Every number a row shows (see LEADERBOARD.md's legend)."""
    s = [r.summary for r in runs]
    iqm, lower, upper = metrics.iqm_ci(row_success_matrix(runs))
    success, success_se = metrics.mean_se([x["success"] for x in s])
    auc, auc_se = metrics.mean_se([x["auc"] for x in s])
    reached = [x["steps_to_threshold"] for x in s if x["steps_to_threshold"] is not None]
    median = float(np.median([float(x["steps_to_threshold"]) if x["steps_to_threshold"] is not None
                              else np.inf for x in s]))
    finals = [metrics.final_eval(r.episodes) for r in runs]
    wins, episodes = sum(sum(bool(e["success"]) for e in f) for f in finals), sum(len(f) for f in finals)
    exact_lo, exact_hi = metrics.binomial_interval(wins, episodes)
    splits = sorted({schema.test_split(r.manifest) for r in runs})
    return {
        "seeds": len(s),
        "iqm": iqm, "iqm_lo": lower, "iqm_hi": upper,
        # the final round's test episodes pooled over seeds, with an exact binomial interval
        "wins": wins, "episodes": episodes, "exact_lo": exact_lo, "exact_hi": exact_hi,
        "episodes_per_round": min((len(f) for f in finals), default=0),
        "split": " / ".join(splits),
        "before_eval_streams": sum(schema.made_before_eval_streams(r.manifest) for r in runs),
        "success": success, "success_se": success_se,
        "return": float(np.mean([x["return"] for x in s])),
        "normalised_return": _nanmean([x["normalised_return"] for x in s]),
        "auc": auc, "auc_se": auc_se,
        "steps_to_threshold": int(median) if np.isfinite(median) else None,
        "threshold_reached": len(reached),
        "budget_steps": int(max(x["budget_steps"] for x in s)),
        "env_steps": float(np.mean([x["env_steps"] for x in s])),
        "llm_calls": float(np.mean([x["llm_calls"] for x in s])),
        "llm_tokens": float(np.mean([x["llm_tokens"] for x in s])),
        "wall_s": float(np.mean([x["wall_s"] for x in s])),
    }


#: What reproducing a row costs, summed over its runs (`row_cost`): the keys, in table order.
COST_KEYS = ("runs", "env_steps", "llm_calls", "llm_tokens", "wall_s")


def row_cost(runs: Sequence[Run]) -> dict[str, float]:
    """Sums over a row's runs of what they spent: env steps (manifest final_env_steps; gradient
    steps for offline agents), LLM calls and tokens (the episodes' counters), wall seconds
    (manifest timing.wall_s, NaN when a run lacks it)."""
    s = [r.summary for r in runs]
    return {"runs": len(s), **{k: float(sum(float(x[k]) for x in s)) for k in COST_KEYS[1:]}}


def total_cost(rows: Sequence[Row]) -> dict[str, float]:
    """`row_cost` over every run of the build."""
    return row_cost([run for row in rows for run in row.runs])


def make_rows(groups: dict[tuple[str, str], list[Run]], *, curves: bool = True) -> list[Row]:
    rows = []
    for index, ((env, agent), runs) in enumerate(sorted(groups.items())):
        row = Row(index, env, agent, runs, row_stats(runs))
        if curves:
            row.curve = row_curve(runs)
        rows.append(row)
    return rows


def _env_matrix(rows: Sequence[Row], agent: str, envs: Sequence[str]) -> np.ndarray | None:
    """Seeds × envs final success of `agent` (mean over each env's test tasks), on the seeds it
    ran on every env; None when there is no such seed."""
    by_env = {r.env: {int(run.summary["seed"]): float(run.summary["success"]) for run in r.runs}
              for r in rows if r.agent == agent and r.env in envs}
    if set(by_env) != set(envs):
        return None
    seeds = sorted(set.intersection(*(set(v) for v in by_env.values())))
    if not seeds:
        return None
    return np.array([[by_env[e][k] for e in envs] for k in seeds], dtype=float)


def overall(rows: Sequence[Row]) -> tuple[list[str], list[dict[str, Any]]]:
    """Per agent over the envs (tasks): IQM with CI and mean ± SE, for the agents that ran every
    env of the table (at least two envs; none when fewer than two agents did). Rows of a
    SYNTHETIC prior are left out: they are controls, not entries; so are reduced-budget rows
    (`schema.is_reduced`): they did not run their env's full budget."""
    rows = [r for r in rows if not schema.is_synthetic(r.agent) and not schema.is_reduced(r.agent)]
    envs = sorted({r.env for r in rows})
    agents = sorted(a for a in {r.agent for r in rows} if {r.env for r in rows if r.agent == a} == set(envs))
    if len(envs) < 2 or len(agents) < 2:
        return envs, []
    out = []
    for agent in agents:
        matrix = _env_matrix(rows, agent, envs)
        if matrix is None:
            continue
        iqm, lower, upper = metrics.iqm_ci(matrix)
        mean, se = metrics.mean_se(matrix.mean(axis=1).tolist())
        out.append({"agent": agent, "envs": len(envs), "seeds": matrix.shape[0],
                    "iqm": iqm, "iqm_lo": lower, "iqm_hi": upper, "success": mean, "success_se": se})
    return envs, out


#: Comparisons beyond the "-prior" naming rule: agent → its plain counterparts.
COUNTERPARTS: dict[str, tuple[str, ...]] = {"vi": ("twosome", "ppo")}
PRIOR_FREE_LLM = "llm"
#: The LLM acting by a sample of the prior: the control for agents that act stochastically.
SAMPLING_LLM = "llm-sample"


#: The rows a plug-in (not built-in) agent is compared with, where the table has them.
NEW_AGENT_BASELINES = ("random", "tabular-q", "dqn", "ppo", "cql")


def _is_new(base: str) -> bool:
    """Whether an agent name is a plug-in's (or unknown here), not one of the suite's own."""
    from priorbench.agents import AGENTS
    from priorbench.core.errors import UserError

    if ":" in base:
        return True
    try:
        return bool(AGENTS.entry(base).distribution)
    except UserError:
        return True


def key_pairs(agents: Sequence[str]) -> list[tuple[str, str]]:
    """(X, Y) pairs for probability of improvement, on table labels (`schema.agent_label`: the
    agent's name with its prior in brackets): first each real-prior row vs its control (the same
    agent with the SYNTHETIC uniform prior: the knowledge effect); then each X-prior agent vs its
    plain counterpart (and vi vs twosome/ppo), and vs llm and llm-sample with the same prior
    when present (llm vs llm-sample: greedy vs sampling); a plug-in agent vs each of
    NEW_AGENT_BASELINES present; else every agent vs random; else all pairs."""
    present = set(agents)
    pairs: list[tuple[str, str]] = []
    for a in sorted(present):  # controls first: a prior row vs the same agent with the uniform prior
        if schema.prior_part(a) and not schema.is_synthetic(a) and schema.control_label(a) in present:
            pairs.append((a, schema.control_label(a)))
    for a in sorted(present):
        base = schema.base_agent(a)
        if _is_new(base):  # a plug-in agent: against each plain baseline in the table
            pairs += [(a, b + schema.budget_part(a)) for b in NEW_AGENT_BASELINES
                      if b + schema.budget_part(a) in present]
            continue
        plain = [base.replace("-prior", "", 1)] if "-prior" in base else list(COUNTERPARTS.get(base, ()))
        if not plain and base not in COUNTERPARTS and base != PRIOR_FREE_LLM:
            continue
        # a counterpart at the same budget, with the same prior where it has one (twosome), else plain
        prior, budget = schema.prior_part(a), schema.budget_part(a)
        with_prior = f" [{prior}]" if prior else ""
        for b in plain:
            b = next((c for c in (b + with_prior + budget, b + budget) if c in present), None)
            if b is not None and b != a:
                pairs.append((a, b))
        llm = PRIOR_FREE_LLM + with_prior + budget
        if llm in present and base != PRIOR_FREE_LLM:
            pairs.append((a, llm))
        sampling = SAMPLING_LLM + with_prior + budget  # greedy llm, and the stochastic agents, vs sampling
        if sampling in present and base != SAMPLING_LLM:
            pairs.append((a, sampling))
    if not pairs and "random" in present:
        pairs = [(a, "random") for a in sorted(present) if a != "random"]
    if not pairs:
        names = sorted(present)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    return list(dict.fromkeys(pairs))


def improvements(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """rliable's probability of improvement with CIs for the key pairs, over the envs both ran."""
    out = []
    for x, y in key_pairs(sorted({r.agent for r in rows})):
        envs = sorted({r.env for r in rows if r.agent == x} & {r.env for r in rows if r.agent == y})
        if not envs:
            continue
        mx, my = _env_matrix(rows, x, envs), _env_matrix(rows, y, envs)
        if mx is None or my is None:
            continue
        p, lower, upper = metrics.probability_of_improvement_ci(mx, my)
        # every run of both sides scored the same: 0.5 [0.5, 0.5] would read as evidence of a tie
        tie = bool(np.all(mx == mx.flat[0]) and np.all(my == mx.flat[0]))
        out.append({"x": x, "y": y, "envs": len(envs), "p": p, "p_lo": lower, "p_hi": upper, "tie": tie})
    return out
