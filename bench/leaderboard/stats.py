"""Statistics of the leaderboard's rows: per row (IQM with a stratified-bootstrap CI, mean ±
SE, AUC, steps to threshold, budgets, the learning curve), per agent over envs (`overall`), and
between agents (`key_pairs`: which comparisons the table makes; `improvements`: rliable's
probability of improvement for them)."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.bench import metrics, records, schema
from priorbench.bench.leaderboard.load import Run, collect
from priorbench.core.errors import UserError


@dataclass
class Curve:
    """A row's test-success learning curve: IQM and 95% CI at each evaluation step."""

    steps: list[int]
    iqm: list[float]
    lower: list[float]
    upper: list[float]


OWN_ENVS, row_id = schema.OWN_ENVS, schema.row_id  # where the runner needs them too (init_from)


@dataclass
class Row:
    """One leaderboard row: an (env, agent) pair over its seeds. `index` is its place in this
    build's table (a display number that moves when rows are added); `id` names it for good."""

    index: int
    env: str
    agent: str
    runs: list[Run]
    stats: dict[str, Any] = field(default_factory=dict)
    curve: Curve | None = None

    @property
    def seeds(self) -> list[int]:
        return [int(r.summary["seed"]) for r in self.runs]

    @property
    def id(self) -> str:
        return row_id(self.env, self.agent)


def numbered(groups: dict[tuple[str, str], list[Run]]) -> list[Row]:
    """The rows of `collect`'s groups in table order (by env, then label), numbered; two labels
    that would share a row id are refused (they could not be told apart by `reproduce`)."""
    rows = [Row(i, env, agent, runs) for i, ((env, agent), runs) in enumerate(sorted(groups.items()))]
    seen: dict[str, Row] = {}
    for row in rows:
        other = seen.setdefault(row.id, row)
        if other is not row:
            raise UserError(f"rows {other.env} {other.agent!r} and {row.agent!r} share the row id {row.id!r}; "
                            "rename one agent or prior so that their labels differ in more than spaces")
    return rows


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
    s = [r.summary for r in runs]  # fsum: the same total in any order of the runs
    return {"runs": len(s), **{k: math.fsum(float(x[k]) for x in s) for k in COST_KEYS[1:]}}


def total_cost(rows: Sequence[Row]) -> dict[str, float]:
    """`row_cost` over every run of the build."""
    return row_cost([run for row in rows for run in row.runs])


def make_rows(groups: dict[tuple[str, str], list[Run]], *, curves: bool = True) -> list[Row]:
    rows = numbered(groups)
    for row in rows:
        row.stats = row_stats(row.runs)
        if curves:
            row.curve = row_curve(row.runs)
    return rows


def finished_rows(folders: Sequence[Path], envs: Collection[str] | None = None) -> list[Row]:
    """The rows (stats and curves) of the finished runs under those of `folders` that exist, for
    experiment pages rebuilt while their runs land: a run still running is left for a later
    build; any other refused run is an error that names it."""
    present = [Path(f) for f in folders if Path(f).exists()]
    if not present:
        return []
    groups, refused = collect(present, envs=envs)
    broken = [f"{path}: {why}" for path, why in refused if records.UNFINISHED not in why]
    if broken:
        raise UserError(f"{len(broken)} refused run(s) under {', '.join(map(str, present))}; the first: "
                        f"{broken[0]}. Fix or remove them, then rebuild")
    return make_rows(groups)


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
    when present (llm vs llm-sample: greedy vs sampling); a plug-in agent vs every built-in
    row of its budget in the table — every family, each prior agent with each of its priors,
    `llm` and `llm-sample` included (SYNTHETIC controls aside); else every agent vs random; else
    all pairs."""
    present = set(agents)
    pairs: list[tuple[str, str]] = []
    for a in sorted(present):  # controls first: a prior row vs the same agent with the uniform prior
        if schema.prior_part(a) and not schema.is_synthetic(a) and schema.control_label(a) in present:
            pairs.append((a, schema.control_label(a)))
    for a in sorted(present):
        base = schema.base_agent(a)
        if schema.init_part(a):  # a run from another's Q: only its control (the same source, uniform prior)
            continue
        if _is_new(base):  # a plug-in agent: against every built-in row of its budget
            pairs += [(a, b) for b in sorted(present) if b != a and not schema.is_synthetic(b)
                      and schema.budget_part(b) == schema.budget_part(a) and not _is_new(schema.base_agent(b))]
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


# --- the views a reader opens first: the headline and "does the prior help?" ------------------

#: Agents shown under the headline's ranking as references, never ranked or marked best: they
#: read the game's solution.
REFERENCE_AGENTS = ("expert",)


@dataclass
class HeadlineLine:
    """One agent of the headline: its row per env, its ranking aggregate (`overall`: IQM with CI
    over the ranked envs; None when it did not run them all), its rank ("3", "2=" for a tie,
    "—" unranked, "ref."), and the envs where it is marked best."""

    agent: str
    cells: dict[str, Row]
    overall: dict[str, Any] | None
    best: set[str] = field(default_factory=set)
    reference: bool = False
    rank: str = "—"


def headline_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows a headline ranks: full-budget rows of real priors and prior-free agents (never a
    SYNTHETIC control, a reduced budget or a run started from another's Q)."""
    return [r for r in rows if not schema.is_synthetic(r.agent) and not schema.is_reduced(r.agent)
            and not schema.init_part(r.agent)]


#: The split whose envs a headline ranks on when it has any: success on tasks never trained on.
RANKED_SPLIT = "held out"
#: A line is marked best in an env unless Fisher's exact test puts it below the top at this level.
BEST_ALPHA = 0.05


def ranked_envs(rows: Sequence[Row]) -> list[str]:
    """The envs a headline ranks on: those whose test tasks are held out (from the manifests),
    where an agent other than a reference ran; all such envs when none holds tasks out."""
    envs = sorted({r.env for r in headline_rows(rows) if schema.base_agent(r.agent) not in REFERENCE_AGENTS})
    held = [e for e in envs if all(r.stats["split"] == RANKED_SPLIT for r in rows if r.env == e)]
    return held or envs


def _aggregate(rows: Sequence[Row], agent: str, envs: Sequence[str]) -> dict[str, Any] | None:
    matrix = _env_matrix(rows, agent, envs)
    if matrix is None:
        return None
    iqm, lower, upper = metrics.iqm_ci(matrix)
    return {"iqm": iqm, "iqm_lo": lower, "iqm_hi": upper, "success": float(matrix.mean()),
            "envs": len(envs), "seeds": matrix.shape[0]}


def headline(rows: Sequence[Row]) -> tuple[list[str], list[HeadlineLine]]:
    """(envs, lines): one line per agent label, ranked by its IQM over `ranked_envs` (seeds ×
    envs; ties share a rank, "2=", and are listed by mean success); below them the agents that
    did not run every ranked env (most of them first), and last the references. Envs whose test
    task is the training task are shown, not ranked on. `best`: per env, the top line (highest
    IQM) and every line that Fisher's exact test on the final rounds' pooled test episodes does
    not put below it (p ≥ BEST_ALPHA); none where the top scored 0 or no line is clearly below.
    `envs`: the ranked envs, then the others (the single-task track)."""
    main = headline_rows(rows)
    ranked = ranked_envs(rows)  # the ranked (held-out) envs first, then the single-task track
    envs = ranked + sorted({r.env for r in main} - set(ranked))
    lines: dict[str, HeadlineLine] = {}
    for row in main:
        line = lines.setdefault(row.agent, HeadlineLine(row.agent, {}, None,
                                                        reference=schema.base_agent(row.agent) in REFERENCE_AGENTS))
        line.cells[row.env] = row
    for line in lines.values():
        if set(ranked) <= set(line.cells):
            line.overall = _aggregate(main, line.agent, ranked)
    for env in envs:
        candidates = [line.cells[env] for line in lines.values() if env in line.cells and not line.reference]
        top = max(candidates, key=lambda r: (r.stats["iqm"], r.stats["wins"] / max(1, r.stats["episodes"])), default=None)
        if top is None or top.stats["iqm"] <= 0:
            continue
        best = [r for r in candidates if metrics.fisher_exact_p(
            r.stats["wins"], r.stats["episodes"], top.stats["wins"], top.stats["episodes"]) >= BEST_ALPHA
            or r.stats["wins"] * top.stats["episodes"] >= top.stats["wins"] * r.stats["episodes"]]
        if len(best) < len(candidates):
            for row in best:
                lines[row.agent].best.add(env)

    def order(line: HeadlineLine) -> tuple[Any, ...]:
        mean = float(np.mean([r.stats["iqm"] for r in line.cells.values()]))
        if line.overall is not None:
            return (line.reference, 0, -line.overall["iqm"], -line.overall["success"], line.agent)
        return (line.reference, 1, -len(set(line.cells) & set(ranked)), -mean, line.agent)

    out = sorted(lines.values(), key=order)
    scored = [line for line in out if line.overall is not None and not line.reference]
    for line in scored:
        first = next(i for i, other in enumerate(scored) if other.overall["iqm"] == line.overall["iqm"])
        tied = sum(other.overall["iqm"] == line.overall["iqm"] for other in scored) > 1
        line.rank = f"{first + 1}=" if tied else str(first + 1)
    for line in out:
        line.rank = "ref." if line.reference else line.rank
    return envs, out


#: "Does the prior help?": what a prior row is compared with, in reading order — the control
#: first (only it separates what the prior knows from the decision rule), the agent without
#: the prior (or, for vi, its counterpart with the same prior), and the prior acting alone.
EFFECT_KINDS = ("control", "plain", "counterpart", "llm", "llm-sample")
#: A reading says "better" or "worse" only where Fisher's exact test on the paired seeds'
#: pooled final episodes gives p below this (and the paired-seed interval excludes 0).
EFFECT_ALPHA = 0.05


def pooled_wins(runs: Sequence[Run], at: str = "final") -> tuple[int, int]:
    """(wins, episodes) of the runs' final evaluation rounds (at="start": their first), pooled."""
    def first(episodes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        rounds = metrics.eval_rounds(episodes)
        return rounds[min(rounds)] if rounds else []
    picked = [(first if at == "start" else metrics.final_eval)(r.episodes) for r in runs]
    return sum(bool(e["success"]) for f in picked for e in f), sum(len(f) for f in picked)


def _others(row: Row, by_key: dict[tuple[str, str], Row]) -> list[tuple[str, Row]]:
    """What a prior row is compared with (EFFECT_KINDS), where the board has it: at the row's
    budget; the prior acting alone (`llm`, `llm-sample`, which do not train) at full budget
    when the board has no row of them at the row's budget."""
    base, prior, budget = schema.base_agent(row.agent), schema.prior_part(row.agent), schema.budget_part(row.agent)
    out = []
    if schema.init_part(row.agent):  # started from another run's Q: its control alone is its like
        found = by_key.get((row.env, schema.control_label(row.agent)))
        return [("control", found)] if found is not None and "-prior" in base else []
    if "-prior" in base:
        out.append(("control", schema.control_label(row.agent)))
        out.append(("plain", base.replace("-prior", "", 1) + budget))
    for other in COUNTERPARTS.get(base, ()):
        out += [("counterpart", f"{other} [{prior}]{budget}"), ("plain", other + budget)]
    out += [(kind, f"{name} [{prior}]") for kind, name in (("llm", PRIOR_FREE_LLM), ("llm-sample", SAMPLING_LLM))]
    found = []
    for kind, label in out:
        other = by_key.get((row.env, label + budget)) if kind.startswith("llm") else by_key.get((row.env, label))
        other = other or (by_key.get((row.env, label)) if kind.startswith("llm") else None)
        if other is not None:
            found.append((kind, other))
    return found


def prior_effects(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """For each real-prior row of a prior agent (dqn-prior, cql-prior; vi against twosome and
    ppo), per env, against what `_others` finds: the mean paired difference in final test
    success over the seeds both rows ran (paired by number) with a percentile-bootstrap CI over
    the pairs (`metrics.paired_difference_ci`; it collapses when every pair differs alike), and
    on those seeds' pooled final-round episodes Newcombe's interval and Fisher's exact p.
    `reading`: "better" / "worse" (the prior row than the other) where p < EFFECT_ALPHA and the
    paired interval excludes 0 on that side; "tie — no evidence" where every run of both scored
    alike; else "no clear difference". No correction for the number of comparisons."""
    by_key = {(r.env, r.agent): r for r in rows}
    out = []
    for row in sorted(rows, key=lambda r: (r.env, r.agent)):
        base, prior = schema.base_agent(row.agent), schema.prior_part(row.agent)
        if not prior or schema.is_synthetic(row.agent) or not ("-prior" in base or base in COUNTERPARTS):
            continue
        for kind, other in _others(row, by_key):
            mine = {int(r.summary["seed"]): r for r in row.runs}
            theirs = {int(r.summary["seed"]): r for r in other.runs}
            seeds = sorted(set(mine) & set(theirs))
            if not seeds:
                continue
            x = [float(mine[k].summary["success"]) for k in seeds]
            y = [float(theirs[k].summary["success"]) for k in seeds]
            delta, lo, hi = metrics.paired_difference_ci(x, y)
            (wx, nx), (wy, ny) = (pooled_wins([side[k] for k in seeds]) for side in (mine, theirs))
            ep_lo, ep_hi = metrics.difference_interval(wx, nx, wy, ny)
            p = metrics.fisher_exact_p(wx, nx, wy, ny)
            reading = ("tie — no evidence" if all(v == x[0] for v in x + y) else
                       "better" if p < EFFECT_ALPHA and lo > 0 else "worse" if p < EFFECT_ALPHA and hi < 0 else
                       "no clear difference")
            out.append({"env": row.env, "agent": row.agent, "vs": kind, "other": other.agent, "pairs": len(seeds),
                        "delta": delta, "lo": lo, "hi": hi, "ep_lo": ep_lo, "ep_hi": ep_hi, "p": p,
                        "wins": (wx, nx, wy, ny), "reading": reading, "row": row.id, "other_row": other.id})
    return out
