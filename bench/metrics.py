"""Pure functions from episode records to scores, and their aggregates over seeds and tasks.

Per run: success rate, mean and normalised return, the test-success learning curve,
steps-to-threshold and the sample-efficiency AUC. Over runs (seeds) and tasks: rliable's
interquartile mean with stratified-bootstrap 95% confidence intervals and its probability of
improvement (the library is called, not re-implemented), and mean ± standard error alongside.

rliable draws its bootstrap samples from numpy's global RNG whatever `random_state` says, so
every call here seeds `np.random` with `BOOTSTRAP_SEED` first: the same scores always give the
same intervals, and one row's interval does not depend on which other rows exist. rliable
(and its scipy/arch imports, ~1 s) is imported only when an aggregate is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from priorbench.bench.schema import RunSummary, agent_label
from priorbench.core.seeding import fixed_numpy_rng

#: numpy's global seed before every rliable call (reproducible intervals).
BOOTSTRAP_SEED = 20240917
#: Bootstrap replications for final-score intervals and for learning curves / improvement.
BOOTSTRAP_REPS = 2000
CURVE_REPS = 1000
#: Coverage of every confidence interval.
CI_SIZE = 0.95
#: Test success a run must reach for steps-to-threshold.
SUCCESS_THRESHOLD = 0.9


# --- one run ---------------------------------------------------------------------------------

def eval_rounds(records: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Evaluation records grouped by round, in round order."""
    rounds: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("phase") == "eval":
            rounds.setdefault(int(r["eval_round"]), []).append(r)
    return dict(sorted(rounds.items()))


def final_eval(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last evaluation round's episodes (empty if the run never evaluated)."""
    rounds = eval_rounds(records)
    return rounds[max(rounds)] if rounds else []


def success_rate(episodes: Sequence[dict[str, Any]]) -> float:
    return float(np.mean([bool(e["success"]) for e in episodes])) if episodes else float("nan")


def mean_return(episodes: Sequence[dict[str, Any]]) -> float:
    return float(np.mean([float(e["return"]) for e in episodes])) if episodes else float("nan")


def normalised_return(episodes: Sequence[dict[str, Any]]) -> float:
    """Mean of return / max_score over the episodes whose game has a positive max_score."""
    values = [float(e["return"]) / float(e["max_score"]) for e in episodes
              if e.get("max_score") is not None and float(e["max_score"]) > 0]
    return float(np.mean(values)) if values else float("nan")


def task_scores(episodes: Sequence[dict[str, Any]],
                score: Callable[[Sequence[dict[str, Any]]], float] = success_rate) -> dict[str, float]:
    """`score` of each test task's episodes (several when eval_episodes > 1), by task id."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for e in episodes:
        by_task.setdefault(str(e.get("task")), []).append(e)
    return {task: score(eps) for task, eps in sorted(by_task.items())}


def learning_curve(records: Sequence[dict[str, Any]]) -> list[tuple[int, float, float]]:
    """(env steps, test success rate, test mean return) at each evaluation round."""
    return [
        (int(eps[0]["env_steps"]), success_rate(eps), mean_return(eps))
        for eps in eval_rounds(records).values()
    ]


def task_curve(records: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, float]]]:
    """(env steps, test success by task) at each evaluation round."""
    return [(int(eps[0]["env_steps"]), task_scores(eps)) for eps in eval_rounds(records).values()]


def steps_to_threshold(steps: Sequence[int], success: Sequence[float],
                       threshold: float = SUCCESS_THRESHOLD) -> int | None:
    """The first evaluation's env steps at which test success ≥ threshold (None: never)."""
    for s, value in zip(steps, success, strict=True):
        if value >= threshold:
            return int(s)
    return None


def sample_efficiency_auc(steps: Sequence[int], success: Sequence[float], budget: int) -> float:
    """Area under the test-success curve over [0, budget] env steps, divided by the budget.

    Trapezoids between evaluations; the curve is flat before the first evaluation and after the
    last one (an agent that does not train has one evaluation at step 0: its AUC is that score).
    1.0 means solved from the first step; a learner's AUC is below its final success.
    """
    if len(steps) != len(success):
        raise ValueError("steps and success differ in length")
    if not len(steps):
        return float("nan")
    xs = np.asarray(steps, dtype=float)
    ys = np.asarray(success, dtype=float)
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    if budget <= 0 or len(xs) == 1:
        return float(ys[-1]) if budget <= 0 else float(ys[0])
    inside = xs <= budget
    xs, ys = xs[inside], ys[inside]
    if xs[0] > 0:
        xs, ys = np.concatenate([[0.0], xs]), np.concatenate([[ys[0]], ys])
    if xs[-1] < budget:
        xs, ys = np.concatenate([xs, [float(budget)]]), np.concatenate([ys, [ys[-1]]])
    area = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))
    return area / float(budget)


def carry_forward(steps: Sequence[int], values: Sequence[float], grid: Sequence[int]) -> np.ndarray:
    """Sample a run's evaluations on `grid`: the latest evaluation at or before each point
    (the first one before it starts), so seeds evaluated at different steps can be stacked."""
    xs = np.asarray(steps, dtype=float)
    ys = np.asarray(values, dtype=float)
    idx = np.searchsorted(xs, np.asarray(grid, dtype=float), side="right") - 1
    return ys[np.clip(idx, 0, len(ys) - 1)]


def totals(records: Sequence[dict[str, Any]], key: str) -> float:
    """Sum of a per-episode counter (llm_calls, cache_hits, …) over all episodes of a run
    (volatile ones — see records.VOLATILE_COUNTERS — are stored under the timing field)."""
    return float(sum(r.get("counters", {}).get(key, r.get("timing", {}).get("counters", {}).get(key, 0))
                     for r in records))


def run_summary(manifest: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`summarise` as a plain dict (keys as in schema.RunSummary, "return" for return_)."""
    return summarise(manifest, records).as_dict()


def summarise(manifest: dict[str, Any], records: Sequence[dict[str, Any]]) -> RunSummary:
    """One run's headline numbers: final test success and return, learning-curve scores, budget used."""
    final = final_eval(records)
    curve = task_curve(records)
    steps = [s for s, _ in curve]
    success = [float(np.mean(list(t.values()))) if t else float("nan") for _, t in curve]
    budget = int(manifest.get("spec", {}).get("budget", {}).get("steps", 0))
    timing = manifest.get("timing") or {}
    setup = timing.get("setup", {})  # before the first step; absent from manifests written before it
    return RunSummary(
        env=manifest["env"]["id"],
        env_version=manifest["env"].get("version"),
        agent=agent_label(manifest),
        seed=manifest["seed"],
        success=success_rate(final),
        return_=mean_return(final),
        normalised_return=normalised_return(final),
        task_success=task_scores(final),
        task_normalised_return=task_scores(final, normalised_return),
        curve=curve,
        budget_steps=budget,
        auc=sample_efficiency_auc(steps, success, budget),
        steps_to_threshold=steps_to_threshold(steps, success),
        env_steps=int(manifest.get("final_env_steps", 0)),
        eval_episodes=len(final),
        llm_calls=totals(records, "llm_calls") + setup.get("counters", {}).get("llm_calls", 0),
        llm_tokens=totals(records, "llm_tokens") + setup.get("counters", {}).get("llm_tokens", 0),
        wall_s=float(timing.get("wall_s", float("nan"))) + setup.get("wall_s", 0.0),
    )


# --- over seeds and tasks --------------------------------------------------------------------

def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (ddof=1; NaN for one value)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    se = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else float("nan")
    return float(arr.mean()), se


def binomial_interval(wins: int, n: int, level: float = CI_SIZE) -> tuple[float, float]:
    """Exact (Clopper–Pearson) `level` interval for a success probability from `wins` of `n`
    trials. Unlike a percentile bootstrap it never collapses to a point: 5 wins of 5 give
    [0.478, 1], 0 of 100 give [0, 0.036]. (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    from scipy.stats import beta

    tail = (1 - level) / 2
    lower = 0.0 if wins <= 0 else float(beta.ppf(tail, wins, n - wins + 1))
    upper = 1.0 if wins >= n else float(beta.ppf(1 - tail, wins + 1, n - wins))
    return lower, upper


def _interval(scores: np.ndarray | list[np.ndarray], func: Callable[..., Any], reps: int,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """rliable's stratified-bootstrap interval for one entry: (point, 2 × … [lower; upper])."""
    if isinstance(scores, np.ndarray) and scores.size and np.all(scores == scores.flat[0]):
        # Every resample of constant scores is the same: the interval is the point (rliable
        # gives exactly that, after `reps` evaluations of `func`).
        point = np.asarray(func(scores), dtype=float)
        return point, np.stack([point, point])
    from rliable import library as rly

    with fixed_numpy_rng(seed):  # rliable ignores random_state: it draws from the global RNG
        point, interval = rly.get_interval_estimates(
            {"x": scores}, func, reps=reps, confidence_interval_size=CI_SIZE)
    return np.asarray(point["x"], dtype=float), np.asarray(interval["x"], dtype=float)


def iqm(scores: np.ndarray) -> float:
    """rliable's interquartile mean over all runs and tasks."""
    from rliable import metrics as rlm

    return float(rlm.aggregate_iqm(np.asarray(scores, dtype=float)))


def iqm_ci(scores: np.ndarray, *, reps: int = BOOTSTRAP_REPS,
           seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """(IQM, lower, upper) of a runs × tasks matrix, 95% stratified-bootstrap CI (runs resampled
    within each task)."""
    from rliable import metrics as rlm

    point, interval = _interval(np.asarray(scores, dtype=float),
                                lambda x: np.array([rlm.aggregate_iqm(x)]), reps, seed)
    return float(point[0]), float(interval[0, 0]), float(interval[1, 0])


def iqm_curve_ci(scores: np.ndarray, *, reps: int = CURVE_REPS,
                 seed: int = BOOTSTRAP_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM and 95% CI at each point of a runs × tasks × points array (rliable's
    sample-efficiency-curve recipe): three arrays of length points."""
    from rliable import metrics as rlm

    def per_point(x: np.ndarray) -> np.ndarray:
        return np.array([rlm.aggregate_iqm(x[..., j]) for j in range(x.shape[-1])])

    point, interval = _interval(np.asarray(scores, dtype=float), per_point, reps, seed)
    return point, interval[0], interval[1]


def probability_of_improvement_ci(x: np.ndarray, y: np.ndarray, *, reps: int = CURVE_REPS,
                                  seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """rliable's P(X > Y) averaged over tasks, with its 95% CI; x and y are runs × tasks
    matrices over the same tasks (run counts may differ)."""
    from rliable import metrics as rlm

    point, interval = _interval([np.asarray(x, dtype=float), np.asarray(y, dtype=float)],
                                rlm.probability_of_improvement, reps, seed)
    bounds = interval.reshape(2, -1)
    return float(point.reshape(-1)[0]), float(bounds[0, 0]), float(bounds[1, 0])
