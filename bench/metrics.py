"""Pure functions from episode records to scores, and their aggregates over seeds and tasks.

Per run: success rate, mean and normalised return, the test-success learning curve,
steps-to-threshold and the sample-efficiency AUC. Over runs (seeds) and tasks: rliable's
interquartile mean with stratified-bootstrap 95% confidence intervals and its probability of
improvement, and mean ± standard error alongside.

The bootstrap is rliable's recipe (StratifiedBootstrap / StratifiedIndependentBootstrap over
arch, percentile intervals) computed on all replications at once: the same draws from a
`RandomState(BOOTSTRAP_SEED)` of its own (rliable draws from numpy's global RNG, seeded so), the
same trimmed means and percentiles, so every interval is the same float rliable gives
(`tests/test_leaderboard.py` compares them bit for bit) at about 1/75 of the time. The same
scores always give the same intervals, one row's interval does not depend on which other rows
exist, and numpy's global RNG is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from priorbench.bench.schema import RunSummary, agent_label

#: The bootstrap's seed (reproducible intervals).
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
    # betaincinv is scipy.stats.beta.ppf to the bit, without importing scipy.stats (~1 s)
    from scipy.special import betaincinv

    tail = (1 - level) / 2
    lower = 0.0 if wins <= 0 else float(betaincinv(wins, n - wins + 1, tail))
    upper = 1.0 if wins >= n else float(betaincinv(wins + 1, n - wins, 1 - tail))
    return lower, upper


def paired_difference_ci(x: Sequence[float], y: Sequence[float], *, reps: int = BOOTSTRAP_REPS,
                         seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """Mean of x[i] - y[i] over pairs (the same seed of two rows) with a 95% percentile-bootstrap
    CI over the pairs. Like every percentile bootstrap it collapses to the point when all pairs
    differ alike (five 1 − 0 pairs give [1, 1]): read it beside `difference_interval`."""
    diffs = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    if diffs.size == 0:
        return float("nan"), float("nan"), float("nan")
    point = float(np.mean(diffs))
    if np.all(diffs == diffs[0]):
        return point, point, point
    means = np.mean(diffs[np.random.RandomState(seed).randint(0, diffs.size, size=(reps, diffs.size))], axis=1)
    alpha = (1.0 - CI_SIZE) / 2
    lower, upper = np.percentile(means, [100 * alpha, 100 * (1.0 - alpha)])
    return point, float(lower), float(upper)


def wilson_interval(wins: int, n: int, level: float = CI_SIZE) -> tuple[float, float]:
    """Wilson's score interval for wins / n ((0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    from scipy.special import ndtri

    z, p = float(ndtri(1 - (1 - level) / 2)), wins / n
    centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, float((centre - half) / (1 + z * z / n))), min(1.0, float((centre + half) / (1 + z * z / n)))


def difference_interval(wins_x: int, n_x: int, wins_y: int, n_y: int,
                        level: float = CI_SIZE) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10, from Wilson intervals) for the difference
    of two success proportions wins_x / n_x − wins_y / n_y: never a point, even at 5/5 vs 0/5."""
    if n_x <= 0 or n_y <= 0:
        return -1.0, 1.0
    px, py = wins_x / n_x, wins_y / n_y
    (lx, ux), (ly, uy) = wilson_interval(wins_x, n_x, level), wilson_interval(wins_y, n_y, level)
    d = px - py
    return (max(-1.0, d - float(np.sqrt((px - lx) ** 2 + (uy - py) ** 2))),
            min(1.0, d + float(np.sqrt((ux - px) ** 2 + (py - ly) ** 2))))


def fisher_exact_p(wins_x: int, n_x: int, wins_y: int, n_y: int) -> float:
    """Two-sided Fisher's exact test of wins_x / n_x against wins_y / n_y: the hypergeometric
    probabilities (given both margins) of every table no likelier than the observed one, summed
    — in exact integers, so no tolerance is needed (scipy.stats.fisher_exact's p; a test
    compares). 1.0 when a side played nothing or every outcome was alike."""
    from math import comb

    won, total = wins_x + wins_y, n_x + n_y
    if n_x <= 0 or n_y <= 0 or won in (0, total):
        return 1.0
    weights = {k: comb(n_x, k) * comb(n_y, won - k) for k in range(max(0, won - n_y), min(n_x, won) + 1)}
    observed = weights[wins_x]
    return min(1.0, sum(w for w in weights.values() if w <= observed) / comb(total, won))


def _trimmed_means(rows: np.ndarray) -> np.ndarray:
    """rliable's IQM (scipy's 25% trimmed mean) of each row of a 2-D array, by the same steps
    as `scipy.stats.trim_mean` (partition, slice, mean), so every value is the same float."""
    n = rows.shape[-1]
    low = int(0.25 * n)
    part = np.partition(rows, (low, n - low - 1), axis=-1)
    return np.mean(part[..., low:n - low], axis=-1)


def _resampled(scores: np.ndarray, rng: np.random.RandomState, reps: int) -> np.ndarray:
    """`reps` stratified resamples of a runs × tasks × … array (runs drawn with replacement
    within each task and point), stacked on a new first axis: rliable's `StratifiedBootstrap`
    draws, `np.random.choice(runs, shape)` once per replication, taken in one call (the same
    integers: legacy `choice` with replacement is `randint`, which draws in order)."""
    runs = rng.randint(0, scores.shape[0], size=(reps, *scores.shape))
    strata = np.ogrid[tuple(slice(n) for n in (0, *scores.shape[1:]))][1:]
    return scores[(runs, *(s[None] for s in strata))]


def _percentile_interval(values: np.ndarray) -> np.ndarray:
    """arch's percentile interval of `reps` × k bootstrap values (2 × k: lower; upper)."""
    alpha = (1.0 - CI_SIZE) / 2
    bounds = [np.percentile(values[:, i], [100 * alpha, 100 * (1.0 - alpha)]) for i in range(values.shape[1])]
    return np.array(bounds, dtype=float).T


def _constant(scores: np.ndarray) -> bool:
    """Every resample of constant scores is the same: the interval is the point (rliable gives
    exactly that, after `reps` evaluations)."""
    return bool(scores.size) and bool(np.all(scores == scores.flat[0]))


def iqm(scores: np.ndarray) -> float:
    """rliable's interquartile mean over all runs and tasks."""
    return float(_trimmed_means(np.asarray(scores, dtype=float).reshape(1, -1))[0])


def iqm_ci(scores: np.ndarray, *, reps: int = BOOTSTRAP_REPS,
           seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """(IQM, lower, upper) of a runs × tasks matrix, 95% stratified-bootstrap CI (runs resampled
    within each task)."""
    scores = np.asarray(scores, dtype=float)
    point = iqm(scores)
    if _constant(scores):
        return point, point, point
    samples = _resampled(scores, np.random.RandomState(seed), reps)
    interval = _percentile_interval(_trimmed_means(samples.reshape(reps, -1))[:, None])
    return point, float(interval[0, 0]), float(interval[1, 0])


def iqm_curve_ci(scores: np.ndarray, *, reps: int = CURVE_REPS,
                 seed: int = BOOTSTRAP_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM and 95% CI at each point of a runs × tasks × points array (rliable's
    sample-efficiency-curve recipe): three arrays of length points."""
    scores = np.asarray(scores, dtype=float)
    runs, tasks, points = scores.shape

    def per_point(x: np.ndarray) -> np.ndarray:  # (…, runs, tasks, points) → (…, points)
        moved = np.moveaxis(x, -1, -3)  # (…, points, runs, tasks)
        return _trimmed_means(np.ascontiguousarray(moved).reshape(*moved.shape[:-2], runs * tasks))

    point = per_point(scores)
    if _constant(scores):
        return point, point.copy(), point.copy()
    interval = _percentile_interval(per_point(_resampled(scores, np.random.RandomState(seed), reps)))
    return point, interval[0], interval[1]


def _improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """rliable's probability of improvement of (…, runs_x, tasks) over (…, runs_y, tasks): per
    task the Mann–Whitney U of x over y (pairs won, ties count half: scipy's rank sum gives
    exactly that) over runs_x × runs_y, averaged over tasks."""
    greater = (x[..., :, None, :] > y[..., None, :, :]).sum(axis=(-3, -2))
    equal = (x[..., :, None, :] == y[..., None, :, :]).sum(axis=(-3, -2))
    return np.mean((greater + 0.5 * equal) / (x.shape[-2] * y.shape[-2]), axis=-1)


def probability_of_improvement_ci(x: np.ndarray, y: np.ndarray, *, reps: int = CURVE_REPS,
                                  seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """rliable's P(X > Y) averaged over tasks, with its 95% CI; x and y are runs × tasks
    matrices over the same tasks (run counts may differ). Resampled as rliable's
    `StratifiedIndependentBootstrap` draws: x's runs, then y's, in each replication."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    point = float(_improvement(x, y))
    rng = np.random.RandomState(seed)
    tasks = np.arange(x.shape[1])[None, :]
    xs, ys = np.empty((reps, *x.shape)), np.empty((reps, *y.shape))
    for r in range(reps):  # interleaved draws with two bounds: one replication at a time
        xs[r] = x[rng.randint(0, x.shape[0], size=x.shape), tasks]
        ys[r] = y[rng.randint(0, y.shape[0], size=y.shape), tasks]
    interval = _percentile_interval(_improvement(xs, ys)[:, None])
    return point, float(interval[0, 0]), float(interval[1, 0])
