"""Claim (a) of experiments/paper_claims.py (issue 32), on any env: cql and cql-prior (each prior)
on the first N transitions of one dataset, per N; the smallest N reaching 90% of cql's best, with a
bootstrap interval over seeds, and the saving against cql. The claim presumes cql learns something
on the env: where its best dataset size does not beat random on the unseen tasks (the claim
checker's success difference), the savings are "not testable here", with the figures."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from paper_claims_rows import (
    FAILS,
    HOLDS,
    NOT_RUN,
    NOT_TESTABLE,
    PRIORS,
    claim,
    find,
    rows,
    seed_finals,
    success_cell,
    verdict_line,
)

#: The paper's offline claim: CQL-Prior reaches CQL's performance with over 90% fewer samples.
SAVING, OF_BEST = 0.9, 0.9
OFFLINE_PRIORS = ("distilled", "contextual", "uniform")


@dataclass(frozen=True)
class OfflineEnv:
    """One env of claim (a): where its runs lie (RUNS/offline/n{N}/{plain|prior}) and its random row."""

    key: str          # the verdicts' id prefix ("" for the first env, whose ids predate the second)
    env: str
    runs: Path
    sizes: tuple[int, ...]
    random_folder: Path  # the core-v1 board's folder with this env's random row (same test tasks)
    adapter: Path | None = None  # the distilled prior's adapter: its expert-labelled states are data too


def _first_size(sizes: Sequence[int], means: dict[int, float], level: float) -> float:
    return float(next((n for n in sizes if n in means and means[n] >= level), math.inf))


def premise(cql_row: Any, random_row: Any, size: int, cid: str) -> tuple[bool | None, list[str]]:
    """Whether cql learns here at all: its row at `size` transitions wins more unseen tasks than
    random (the claim checker's success difference). None when the random row is missing."""
    if random_row is None:
        return None, [f"**{NOT_RUN}**: the board's random row is missing, so whether cql learns here is unknown."]
    v = claim(cid, f"cql at its best dataset size ({size:,} transitions) wins more unseen tasks than random",
              "success_difference", [cql_row.id, random_row.id], ">", 0.0, {cql_row.id: cql_row, random_row.id: random_row})
    learns = None if v.status == NOT_RUN else v.status == HOLDS  # not run: too few seeds to tell
    return learns, ["The claim presumes cql learns something here. The best size is picked on these test "
                               "tasks, which favours cql, so a premise that fails fails with that help:", "",
                               f"- {verdict_line(v)}"]


def offline(where: OfflineEnv, lines: list[str], figures: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The section's table, interval table and verdict lines (into figures["offline_verdicts"][key])."""
    from priorbench.bench import metrics

    sizes = where.sizes
    series = {"cql": ("cql", None), **{f"cql-prior {PRIORS[p][0]}": ("cql-prior", p) for p in OFFLINE_PRIORS}}
    prefix = f"{where.key}-" if where.key else ""
    ids = {s: f"{prefix}offline-{p}" for s, (_, p) in series.items() if p}
    out = figures.setdefault("offline_verdicts", {}).setdefault(where.key, [])
    tables, cells, finals, cql_rows = [], {}, {}, {}
    for n in sizes:
        table = rows([where.runs / "offline" / f"n{n}" / p for p in ("plain", *OFFLINE_PRIORS)], where.env)
        tables.append(table)
        for name, (agent, prior) in series.items():
            row = find(table, agent, prior)
            cells[name, n] = success_cell(row)
            if row is not None:
                finals[name, n] = seed_finals(row)
                if agent == "cql":
                    cql_rows[n] = row
    lines += ["| transitions | " + " | ".join(series) + " |", "|---:|" + "---:|" * len(series)]
    lines += [f"| {n:,} | " + " | ".join(cells[s, n] for s in series) + " |" for n in sizes]
    def seeded(names: Sequence[str]) -> bool:
        return all((s, n) in finals and len(finals[s, n]) >= 3 for s in names for n in sizes)
    done = sum(len(finals.get((s, n), {})) for s in series for n in sizes)
    missing = f"a cell above has fewer than 3 seeds ({done} of {len(series) * len(sizes) * 5} runs finished)"
    def not_run() -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        lines.extend(["", f"**{NOT_RUN}**: {missing}."])
        out.extend(f"**{NOT_RUN}** — {s} reaches {OF_BEST:.0%} of cql's best with over {SAVING:.0%} fewer "
                   f"transitions `{cid}`" for s, cid in ids.items())
        return tables, [(NOT_RUN, cid) for cid in ids.values()]
    if not seeded(["cql"]):  # the premise needs every cql size; the savings need every cell
        return not_run()
    best = max(float(np.mean(list(finals["cql", n].values()))) for n in sizes)
    best_n = next(n for n in sizes if float(np.mean(list(finals["cql", n].values()))) == best)
    random_row = find(rows([where.random_folder], where.env), "random")
    learns, premise_lines = premise(cql_rows[best_n], random_row, best_n, f"{prefix}offline-cql-learns")
    lines += ["", *premise_lines]
    if not learns:
        why = ("cql does not beat random here, so there is no performance of cql's to reach with fewer samples"
               if learns is False else "too few seeds of random or of cql to tell whether cql learns here")
        lines += ["", f"The savings are **{NOT_TESTABLE}**: {why}."]
        out += [f"**{NOT_TESTABLE}** — {s} reaches {OF_BEST:.0%} of cql's best with over {SAVING:.0%} fewer "
                f"transitions ({why}) `{cid}`" for s, cid in ids.items()]
        if seeded(series):
            figures.setdefault("offline", {})[where.key] = {s: [float(np.mean(list(finals[s, n].values())))
                                                                 for n in sizes] for s in series}
        return tables, [(NOT_TESTABLE if learns is False else NOT_RUN, cid) for cid in ids.values()]
    if not seeded(series):
        return not_run()
    rng = np.random.RandomState(metrics.BOOTSTRAP_SEED)
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in finals.values())))
    def means(draw: bool) -> dict[tuple[str, int], float]:
        # one resample of the seeds per draw, shared by every cell: a seed's runs at all sizes share its
        # randomness (and the dataset's prefix), so the cells are not independent
        chosen = [seeds[i] for i in rng.randint(len(seeds), size=len(seeds))] if draw else None
        return {key: float(np.mean([by_seed[k] for k in chosen]) if draw else np.mean(list(by_seed.values())))
                for key, by_seed in finals.items()}
    def smallest(m: dict[tuple[str, int], float]) -> dict[str, float]:
        top = max(m["cql", n] for n in sizes)
        return {s: _first_size(sizes, {n: m[s, n] for n in sizes}, OF_BEST * top) for s in series}
    point = smallest(means(False))
    draws = [smallest(means(True)) for _ in range(metrics.BOOTSTRAP_REPS)]
    lines += ["", f"cql's best mean final success is {best:.3f}; the bar is {OF_BEST:.0%} of it, {OF_BEST * best:.3f}. "
              "Smallest dataset reaching it, and the saving against cql (1 − N_prior / N_cql), with a "
              f"bootstrap over seeds ({metrics.BOOTSTRAP_REPS} resamples of the seeds, one per draw shared by every cell):", "",
              "| series | smallest N (point) | 95% interval of N | saving (point) | 95% interval of the saving |",
              "|---|---:|---:|---:|---:|"]
    verdicts = []
    for s in series:
        ns = np.array([d[s] for d in draws])
        save = np.array([1 - d[s] / d["cql"] if math.isfinite(d[s]) else -math.inf for d in draws])
        lo_n, hi_n = np.percentile(ns, [2.5, 97.5], method="nearest")  # no arithmetic on "never" (inf)
        lo_s, hi_s = np.percentile(save, [2.5, 97.5], method="nearest")
        p_save = 1 - point[s] / point["cql"] if math.isfinite(point[s]) else -math.inf
        fmt = lambda x: f"{x:,.0f}" if math.isfinite(x) else "never"  # noqa: E731
        pct = lambda x: f"{x:.3f}" if math.isfinite(x) else "−∞"  # noqa: E731
        lines.append(f"| {s} | {fmt(point[s])} | [{fmt(lo_n)}, {fmt(hi_n)}] | "
                     + ("–" if s == "cql" else pct(p_save)) + " | " + ("–" if s == "cql" else f"[{pct(lo_s)}, {pct(hi_s)}]") + " |")
        if s != "cql":
            status = HOLDS if lo_s > SAVING else FAILS
            verdicts.append((status, ids[s]))
            out.append(f"**{status}** — {s} reaches {OF_BEST:.0%} of cql's best with over {SAVING:.0%} fewer "
                       f"transitions (the whole interval of the saving above {SAVING}: [{pct(lo_s)}, {pct(hi_s)}]) `{ids[s]}`")
    distilled = f"cql-prior {PRIORS['distilled'][0]}"
    if where.adapter is not None and (where.adapter / "manifest.json").is_file():
        # the adapter was trained on expert-labelled states of the same train split: count them as data
        extra = int(json.loads((where.adapter / "manifest.json").read_text())["states"])
        save = np.array([1 - (d[distilled] + extra) / d["cql"] if math.isfinite(d[distilled]) else -math.inf
                         for d in draws])
        lo_s, hi_s = np.percentile(save, [2.5, 97.5], method="nearest")
        p_save = 1 - (point[distilled] + extra) / point["cql"] if math.isfinite(point[distilled]) else -math.inf
        cid = f"{prefix}offline-distilled-counting-its-adapter"
        status = HOLDS if lo_s > SAVING else FAILS
        verdicts.append((status, cid))
        pct = lambda x: f"{x:.3f}" if math.isfinite(x) else "−∞"  # noqa: E731
        lines += ["", f"The distilled prior's adapter was itself trained on {extra:,} expert-labelled states of the "
                  f"same train split (`{where.adapter}`, its manifest). Counted as data, cql-prior with A needs "
                  f"N + {extra:,}: saving {pct(p_save)} [{pct(lo_s)}, {pct(hi_s)}]."]
        out.append(f"**{status}** — {distilled} reaches {OF_BEST:.0%} of cql's best with over {SAVING:.0%} fewer "
                   f"transitions, counting the adapter's {extra:,} expert-labelled states as data (the whole interval "
                   f"of the saving above {SAVING}: [{pct(lo_s)}, {pct(hi_s)}]) `{cid}`")
    if math.isfinite(point["cql"]):
        lines += ["", f"cql first reaches the bar at {point['cql']:,.0f} transitions, so the smallest size here "
                  f"({sizes[0]:,}) bounds any measurable saving to {1 - sizes[0] / point['cql']:.3f}."]
    figures.setdefault("offline", {})[where.key] = {s: [float(np.mean(list(finals[s, n].values()))) for n in sizes]
                                                     for s in series}
    return tables, verdicts
