"""The paper's three claims (Yan et al., ICLR 2025), measured on held-out tasks (issue 32).

    python experiments/paper_claims.py run [--workers N]
    python experiments/paper_claims.py report [--out PAGE.md]

`run` makes what is missing of experiments/paper-claims-frozenlake.toml (its dataset, its runs,
then the transfer runs, which start from the online runs' kept Q networks) under
experiments/runs/paper-claims-frozenlake/, then of experiments/paper-claims-cooking.toml (the
offline claim on TextWorld Cooking 1); `report` rebuilds experiments/results/paper-claims.md
and its figures from the stored runs alone (and the core-v1 board's vi, twosome and ppo rows).
Each claim's verdict is computed: the leaderboard's claim checker (bench/leaderboard/claims.py)
where it has the statistic, else the same rule (the whole 95% interval past the threshold).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SPEC = "experiments/paper-claims-frozenlake.toml"
#: The offline claim's second env (TextWorld Cooking 1): its runs land session by session; the page reads them
#: once they have.
SECOND_ENV_SPEC = "experiments/paper-claims-cooking.toml"
RUNS = Path("experiments/runs/paper-claims-frozenlake")
CORE_V1 = Path("leaderboard/core-v1/runs")
PAGE = Path("experiments/results/paper-claims.md")
#: The figures' folder, beside the page (a page written elsewhere takes its figures along).
FIGURES = "paper-claims"
ENV = "priorbench/FrozenLake-4x4-Random-v0"
SHORT = ENV.removeprefix("priorbench/")
SIZES = (10, 30, 100, 300, 1000, 3000, 10000)
#: folder name → (what the page calls the prior, its label in row ids)
PRIORS = {"distilled": ("A: SmolLM2 distilled", "smollm2-135m+adapter:"),
          "contextual": ("SmolLM2 contextual", "smollm2-135m,calibration=contextual"),
          "uniform": ("uniform (SYNTHETIC control)", "SYNTHETIC-oracle-q=uniform"),
          "gemma-distilled": ("B: Gemma 3 distilled", "gemma3-270m+adapter:"),
          "base": ("SmolLM2 base model", "smollm2-135m]")}
#: The paper's offline claim: CQL-Prior reaches CQL's performance with over 90% fewer samples.
SAVING, OF_BEST = 0.9, 0.9
#: Online: steps to this fraction of the expert's test success.
OF_EXPERT = 0.8
HOLDS, FAILS, NOT_RUN = "holds", "does not hold", "not run"
SUMMARY = "(the verdicts' counts)"


# --- rows ------------------------------------------------------------------------------------

def rows(folders: Sequence[Path]) -> dict[str, Any]:
    """Row id → leaderboard row (stats and curve) of the finished runs under `folders` (those that exist)."""
    from priorbench.bench.leaderboard.stats import finished_rows

    return {row.id: row for row in finished_rows(folders, {ENV})}


def find(table: dict[str, Any], agent: str, prior: str | None = None, source: str | None = None) -> Any:
    """The row of `agent` with `prior` (a PRIORS key; None: no prior) started from `source`."""
    for row_id, row in sorted(table.items()):
        head, _, rest = row_id.partition(":")
        name, _, bracket = rest.partition("[")
        label, _, origin = bracket.partition("]+from:")
        if name.split("@")[0] != agent or ("+from:" in row_id) != (source is not None):
            continue
        if (prior is None) != (not bracket) or (prior is not None and not label.startswith(PRIORS[prior][1])):
            continue
        if source is None or PRIORS[source][1] in origin:
            return row
    return None


def wins_at(row: Any, first: bool = False) -> tuple[int, int]:
    from priorbench.bench.leaderboard.stats import pooled_wins

    return pooled_wins(row.runs, "start" if first else "final")


def success_cell(row: Any, first: bool = False) -> str:
    from priorbench.bench import metrics

    if row is None:
        return "–"
    wins, n = wins_at(row, first)
    lo, hi = metrics.binomial_interval(wins, n)
    return f"{wins / max(n, 1):.2f} [{lo:.2f}, {hi:.2f}] ({wins}/{n})"


def seed_finals(row: Any) -> dict[int, float]:
    return {int(r.summary["seed"]): float(r.summary["success"]) for r in row.runs}


def claim(cid: str, sentence: str, statistic: str, ids: Sequence[str], direction: str, threshold: float,
          table: dict[str, Any], **extra: Any) -> Any:
    """One verdict of the leaderboard's claim checker on these rows."""
    from priorbench.bench.leaderboard import claims

    return claims.evaluate([claims.Claim(cid, sentence, statistic, tuple(ids), direction, threshold, **extra)],
                           list(table.values()))[0]


def verdict_line(v: Any) -> str:
    from priorbench.bench.leaderboard import claims

    return f"**{v.status}** — {v.claim.sentence} ({claims.test_text(v.claim)}; {claims.figure_text(v)}) `{v.claim.id}`"


def cpu_hours(tables: Sequence[dict[str, Any]]) -> float:
    """Wall seconds of every run (training, evaluation and setup), one torch thread each: CPU time."""
    seconds = sum(float(r.manifest["timing"]["wall_s"]) + float(r.manifest["timing"].get("setup", {}).get("wall_s", 0))
                  for t in tables for row in t.values() for r in row.runs)
    return seconds / 3600


# --- (a) offline -----------------------------------------------------------------------------

def _first_size(means: dict[int, float], level: float) -> float:
    return float(next((n for n in SIZES if n in means and means[n] >= level), math.inf))


def offline(lines: list[str], figures: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    from priorbench.bench import metrics

    series = {"cql": ("cql", None), **{f"cql-prior {PRIORS[p][0]}": ("cql-prior", p)
                                       for p in ("distilled", "contextual", "uniform")}}
    tables, cells, finals = [], {}, {}
    for n in SIZES:
        table = rows([RUNS / "offline" / f"n{n}" / p for p in ("plain", "distilled", "contextual", "uniform")])
        tables.append(table)
        for name, (agent, prior) in series.items():
            row = find(table, agent, prior)
            cells[name, n] = success_cell(row)
            if row is not None:
                finals[name, n] = seed_finals(row)
    lines += ["| transitions | " + " | ".join(series) + " |", "|---:|" + "---:|" * len(series)]
    lines += [f"| {n:,} | " + " | ".join(cells[s, n] for s in series) + " |" for n in SIZES]
    complete = all((s, n) in finals and len(finals[s, n]) >= 3 for s in series for n in SIZES)
    verdicts = []
    if not complete:
        lines += ["", f"**{NOT_RUN}**: a cell above has fewer than 3 seeds."]
        return tables, [(NOT_RUN, "offline")]
    rng = np.random.RandomState(metrics.BOOTSTRAP_SEED)
    def means(draw: bool) -> dict[tuple[str, int], float]:
        out = {}
        for key, by_seed in finals.items():
            values = np.array(list(by_seed.values()))
            out[key] = float(values[rng.randint(len(values), size=len(values))].mean() if draw else values.mean())
        return out
    def sizes(m: dict[tuple[str, int], float]) -> dict[str, float]:
        best = max(m["cql", n] for n in SIZES)
        return {s: _first_size({n: m[s, n] for n in SIZES}, OF_BEST * best) for s in series}
    point = sizes(means(False))
    draws = [sizes(means(True)) for _ in range(metrics.BOOTSTRAP_REPS)]
    best = max(float(np.mean(list(finals["cql", n].values()))) for n in SIZES)
    lines += ["", f"cql's best mean final success is {best:.3f}; the bar is {OF_BEST:.0%} of it, {OF_BEST * best:.3f}. "
              "Smallest dataset reaching it, and the saving against cql (1 − N_prior / N_cql), with a "
              f"bootstrap over seeds ({metrics.BOOTSTRAP_REPS} resamples of each cell's seeds):", "",
              "| series | smallest N (point) | 95% interval of N | saving (point) | 95% interval of the saving |",
              "|---|---:|---:|---:|---:|"]
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
            status, cid = HOLDS if lo_s > SAVING else FAILS, f"offline-{series[s][1]}"
            verdicts.append((status, cid))
            lines_v = (f"**{status}** — {s} reaches {OF_BEST:.0%} of cql's best with over {SAVING:.0%} fewer "
                       f"transitions (the whole interval of the saving above {SAVING}: [{pct(lo_s)}, {pct(hi_s)}]) `{cid}`")
            figures.setdefault("offline_verdicts", []).append(lines_v)
    if math.isfinite(point["cql"]):
        lines += ["", f"cql first reaches the bar at {point['cql']:,.0f} transitions, so the smallest size here "
                  f"({SIZES[0]:,}) bounds any measurable saving to {1 - SIZES[0] / point['cql']:.3f}."]
    figures["offline"] = {s: [float(np.mean(list(finals[s, n].values()))) for n in SIZES] for s in series}
    return tables, verdicts


# --- (b) online ------------------------------------------------------------------------------

def auc_difference(cid: str, sentence: str, a: Any, b: Any) -> tuple[str, str, str]:
    """(status, id, line): a − b in mean per-seed AUC on their shared seeds, paired bootstrap; holds
    when the whole interval is above 0 (the claim checker's rule, on the statistic it lacks)."""
    from priorbench.bench import metrics

    if a is None or b is None:
        return NOT_RUN, cid, f"**{NOT_RUN}** — {sentence} (a row is missing) `{cid}`"
    x = {int(r.summary["seed"]): float(r.summary["auc"]) for r in a.runs}
    y = {int(r.summary["seed"]): float(r.summary["auc"]) for r in b.runs}
    seeds = sorted(set(x) & set(y))
    if len(seeds) < 3:
        return NOT_RUN, cid, f"**{NOT_RUN}** — {sentence} ({len(seeds)} shared seeds, fewer than 3) `{cid}`"
    d, lo, hi = metrics.paired_difference_ci([x[k] for k in seeds], [y[k] for k in seeds])
    status = HOLDS if lo > 0 else FAILS
    return status, cid, (f"**{status}** — {sentence} (AUC difference on {len(seeds)} shared seeds: interval > 0; "
                    f"{d:.3f} [{lo:.3f}, {hi:.3f}]) `{cid}`")


def mean_interval(values: Sequence[float]) -> str:
    from priorbench.bench import metrics

    d, lo, hi = metrics.paired_difference_ci(list(values), [0.0] * len(values))
    return f"{d:.3f} [{lo:.3f}, {hi:.3f}]"


def online(lines: list[str], figures: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    from priorbench.bench.leaderboard import claims

    mine = rows([RUNS / "online" / p for p in ("plain", "distilled", "contextual", "uniform")])
    core = rows([CORE_V1 / "priorbench", CORE_V1 / "smollm2-distilled", CORE_V1 / "smollm2-contextual"])
    expert = find(core, "expert")
    level = OF_EXPERT * (wins_at(expert)[0] / max(wins_at(expert)[1], 1)) if expert is not None else None
    shown = [("dqn", find(mine, "dqn")), ("ppo", find(mine, "ppo")),
             *[(f"dqn-prior {PRIORS[p][0]}", find(mine, "dqn-prior", p)) for p in ("uniform", "distilled", "contextual")],
             *[(f"{a} {PRIORS[p][0]}", find(mine, a, p)) for p in ("distilled", "contextual") for a in ("llm", "llm-sample")],
             ("ppo (core-v1)", find(core, "ppo")),
             *[(f"{a} {PRIORS[p][0]} (core-v1)", find(core, a, p)) for a in ("vi", "twosome") for p in ("distilled", "base")]]
    lines += [f"The expert wins {success_cell(expert)} of the test episodes; the bar for steps-to is {OF_EXPERT:.0%} of "
              f"it{f', {level:.2f}' if level is not None else ''} on the IQM learning curve (interval: the curve's "
              "95% band). AUC: the area under a seed's test-success curve over the budget, normalised to [0, 1] "
              "(mean over seeds, bootstrap interval).", "",
              "| row | seeds | evaluated every | final success | AUC | steps to the bar |", "|---|---:|---:|---:|---:|---:|"]
    for name, row in shown:
        if row is None:
            lines.append(f"| {name} | – | – | not run | – | – |")
            continue
        runs = row.runs
        trains = any(len(r.summary["curve"]) > 1 for r in runs)  # llm and llm-sample: evaluated once
        every = f"{int(runs[0].manifest['spec']['budget']['eval_every']):,}" if trains else "once"
        steps = "–"
        if trains and level is not None and len(runs) >= claims.MIN_SEEDS:
            v = claim("s", "s", "steps_to", [row.id], "<=", row.stats["budget_steps"] - 1, {row.id: row}, level=level)
            steps = claims.figure_text(v).split(" (")[0]
        lines.append(f"| {name} | {len(runs)} | {every} | {success_cell(row)} | "
                     f"{mean_interval([float(r.summary['auc']) for r in runs])} | {steps} |")
    figures["online"] = [(name, row) for name, row in shown if row is not None]
    verdicts, out = [], []
    dqn, ppo = find(mine, "dqn"), find(mine, "ppo")
    for p in ("uniform", "distilled", "contextual"):  # the control first
        prior_row = find(mine, "dqn-prior", p)
        for other, other_row in (("dqn", dqn), ("ppo", ppo)):
            out.append(auc_difference(f"dqn-prior-{p}-vs-{other}", f"dqn-prior with {PRIORS[p][0]} is more sample-efficient "
                                      f"than {other}", prior_row, other_row))
    for p in ("distilled", "contextual"):  # knowledge: the same agent against its control
        out.append(auc_difference(f"{p}-vs-control", f"dqn-prior with {PRIORS[p][0]} is more sample-efficient than "
                                  "with the uniform control", find(mine, "dqn-prior", p), find(mine, "dqn-prior", "uniform")))
    for other in ("ppo", "twosome"):
        other_row = find(core, other, "distilled" if other == "twosome" else None)
        out.append(auc_difference(f"vi-vs-{other}", f"vi ({PRIORS['distilled'][0]}) is more sample-efficient than "
                                  f"{other} (core-v1 rows)", find(core, "vi", "distilled"), other_row))
    for agent, table in (("dqn-prior", mine), ("vi", core)):
        for p in ("distilled", "contextual") if agent == "dqn-prior" else ("distilled",):
            a = find(table, agent, p)
            for llm in ("llm", "llm-sample"):
                b = find(mine, llm, p)
                cid = f"{agent}-beats-{llm}-{p}"
                if a is None or b is None:
                    out.append((NOT_RUN, cid, f"**{NOT_RUN}** — {agent} beats {llm} with {PRIORS[p][0]} (a row is missing) `{cid}`"))
                    continue
                v = claim(cid, f"{agent} beats {llm}, both with {PRIORS[p][0]}", "success_difference",
                          [a.id, b.id], ">", 0.0, {a.id: a, b.id: b})
                w0, n0 = wins_at(a, first=True)  # a lead already there at step 0 is the prior's reading, not learning
                out.append((v.status, cid, f"{verdict_line(v)} — at step 0, before any update, {agent} won {w0}/{n0}"))
    for status, cid, line in out:
        verdicts.append((status, cid))
        figures.setdefault("online_verdicts", []).append(line)
    return [mine, {k: v for k, v in core.items() if any(v is r for _, r in shown)}], verdicts


# --- (c) transfer ----------------------------------------------------------------------------

TRANSFERS = {"A-to-A": ("distilled", "distilled"), "A-to-B": ("distilled", "gemma-distilled"),
             "A-to-U": ("distilled", "uniform"), "U-to-A": ("uniform", "distilled"), "U-to-B": ("uniform", "gemma-distilled")}


def transfer(lines: list[str], figures: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    moved = rows([RUNS / "transfer" / name for name in (*TRANSFERS, "scratch-B")])
    fresh = rows([RUNS / "online" / p for p in ("distilled", "uniform")])
    table = {**moved, **{k: v for k, v in fresh.items() if k.split(":", 1)[1].startswith("dqn-prior")}}
    shown = [(f"Q from {PRIORS[src][0]}, run under {PRIORS[dst][0]}", find(moved, "dqn-prior", dst, src))
             for src, dst in TRANSFERS.values()]
    shown += [(f"fresh Q under {PRIORS['gemma-distilled'][0]} (1,000 steps)", find(moved, "dqn-prior", "gemma-distilled")),
              *[(f"fresh Q under {PRIORS[p][0]} (the online rows, 3,000 steps)", find(fresh, "dqn-prior", p))
                for p in ("distilled", "uniform")]]
    lines += ["| dqn-prior | seeds | step 0 (no training of its own) | final |", "|---|---:|---:|---:|"]
    for name, row in shown:
        lines.append(f"| {name} | {len(row.runs) if row else '–'} | {success_cell(row, first=True)} | {success_cell(row)} |")
    shorts = ["A→A", "A→B", "A→U", "U→A", "U→B", "fresh→B"]  # TRANSFERS' order, then scratch-B
    figures["transfer"] = [(short, row) for short, (_, row) in zip(shorts, shown[:6], strict=True) if row is not None]
    def pair(cid: str, sentence: str, a: Any, b: Any, first: bool) -> tuple[str, str]:
        if a is None or b is None:
            return NOT_RUN, f"**{NOT_RUN}** — {sentence} (a row is missing) `{cid}`"
        v = claim(cid, sentence, "success_difference", [a.id, b.id], ">", 0.0, table, at="start" if first else "final")
        return v.status, verdict_line(v)
    a_to = {dst: find(moved, "dqn-prior", dst, "distilled") for dst in ("distilled", "gemma-distilled", "uniform")}
    u_to = {dst: find(moved, "dqn-prior", dst, "uniform") for dst in ("distilled", "gemma-distilled")}
    scratch_b = find(moved, "dqn-prior", "gemma-distilled")
    out = [pair("q-alone-on-unseen-maps", "the Q learned under A, with the uniform prior (the Q alone), wins more unseen "
                "maps at step 0 than a fresh Q with the uniform prior", a_to["uniform"], find(fresh, "dqn-prior", "uniform"), True),
           pair("q-to-another-prior", "the Q learned under A, run under B without further training, wins more unseen "
                "maps than B with a fresh Q", a_to["gemma-distilled"], scratch_b, True),
           pair("q-fine-tuned-under-b", "the Q learned under A and fine-tuned 1,000 steps under B wins more unseen maps "
                "than B trained 1,000 steps from a fresh Q", a_to["gemma-distilled"], scratch_b, False),
           pair("weak-q-to-strong-prior", "the Q learned under the uniform prior, run under A without further training, "
                "wins more unseen maps than A with a fresh Q", u_to["distilled"], find(fresh, "dqn-prior", "distilled"), True),
           pair("weak-q-to-b", "the Q learned under the uniform prior, run under B without further training, wins more "
                "unseen maps than B with a fresh Q", u_to["gemma-distilled"], scratch_b, True)]
    figures["transfer_verdicts"] = [line for _, line in out]
    return [moved], [(status, line.rsplit("`", 2)[1]) for status, line in out]


# --- figures ---------------------------------------------------------------------------------

def draw(figures: dict[str, Any], folder: Path) -> list[str]:
    """The page's PNGs under `folder`; returns their markdown image lines."""
    from matplotlib.figure import Figure

    from priorbench.bench.leaderboard.plots import _save, plot_style

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with plot_style():
        if figures.get("offline"):
            fig = Figure(figsize=(6, 3.6))
            ax = fig.add_subplot()
            for name, values in figures["offline"].items():
                ax.plot(SIZES, values, marker="o", label=name)
            ax.set(xscale="log", xlabel="transitions in the dataset", ylabel="final test success (mean of 5 seeds)",
                   ylim=(-0.02, 1.02), title=f"(a) offline, {SHORT}")
            ax.legend(fontsize=7)
            _save(fig, folder / "offline.png")
            out.append(f"![(a) final test success against dataset size]({FIGURES}/offline.png)")
        if figures.get("online"):
            fig = Figure(figsize=(7, 4))
            ax = fig.add_subplot()
            for name, row in figures["online"]:
                if row.curve is not None and len(row.curve.steps) > 1:
                    ax.plot(row.curve.steps, row.curve.iqm, label=name)
                    ax.fill_between(row.curve.steps, row.curve.lower, row.curve.upper, alpha=0.12)
                elif row.curve is not None:  # llm, llm-sample: one evaluation, drawn across the budget
                    ax.axhline(row.curve.iqm[0], linestyle=":", linewidth=1, label=f"{name} (no training)")
            ax.set(xlabel="env steps", ylabel="test success (IQM over seeds)", ylim=(-0.02, 1.02),
                   title=f"(b) online, {SHORT}")
            ax.legend(fontsize=6, ncol=2)
            _save(fig, folder / "online.png")
            out.append(f"![(b) learning curves on the unseen test maps]({FIGURES}/online.png)")
        if figures.get("transfer"):
            fig = Figure(figsize=(7, 3.6))
            ax = fig.add_subplot()
            names = [short for short, _ in figures["transfer"]]
            for k, first in enumerate((True, False)):
                values = [wins_at(row, first)[0] / max(wins_at(row, first)[1], 1) for _, row in figures["transfer"]]
                ax.bar(np.arange(len(names)) + 0.4 * k, values, width=0.4, label="step 0" if first else "after 1,000 steps")
            ax.set_xticks(np.arange(len(names)) + 0.2, names, fontsize=7)
            ax.set_xlabel("Q learned under → run under (A: SmolLM2 distilled, B: Gemma 3 distilled, U: uniform)")
            ax.set(ylabel="test success (pooled)", ylim=(0, 1.02), title=f"(c) transfer, {SHORT}")
            ax.legend(fontsize=7)
            _save(fig, folder / "transfer.png")
            out.append(f"![(c) a learned Q under another prior]({FIGURES}/transfer.png)")
    return out


# --- the page --------------------------------------------------------------------------------

def report(page: Path = PAGE) -> None:
    lines = ["# The paper's three claims on held-out tasks", "",
             f"Rebuilt by `python experiments/paper_claims.py report` from the runs under `{RUNS}/` (spec: "
             f"`{SPEC}`) and, for vi, twosome and their ppo, the core-v1 board's runs (`{CORE_V1}/`). "
             f"Env: {ENV} — 100 random 4×4 train maps, 20 disjoint test maps, one test episode per map "
             "and round (20 per round); every figure below is measured on the test maps, which no agent, "
             "dataset or adapter saw. Success is pooled over seeds (wins / episodes) with an exact 95% "
             "interval unless a line says otherwise. The uniform prior is SYNTHETIC: it knows nothing, so "
             "a row with it is the control of the same agent with a real prior.", "",
             "Scope: FrozenLake-4x4-Random only so far; the issue's second env (a TextWorld or ALFWorldGen level "
             "where cql has room to need data) is not run yet.", "", SUMMARY, ""]
    figures: dict[str, Any] = {}
    lines += ["## (a) Offline: CQL-Prior reaches CQL's performance with over 90% fewer samples", "",
              "Setting: cql and cql-prior (3,000 gradient steps, 5 seeds) on the first N transitions of one "
              "dataset of the train maps (mixture:0.5 collection: the expert's command with probability "
              "0.5, else a random one). Final test success:", ""]
    offline_tables, offline_verdicts = offline(lines, figures)
    alone = rows([RUNS / "online" / "distilled"])
    lines += ["", *[f"- {v}" for v in figures.get("offline_verdicts", [])], "",
              f"For scale, the prior acting alone with no data at all (llm with A, argmax, part (b)) wins "
              f"{success_cell(find(alone, 'llm', 'distilled'))} of the test episodes: what cql-prior with A "
              "saves is what the prior already knows; the uniform control shows what the decision rule over "
              "k proposals does without knowledge.", "",
              f"CPU: {cpu_hours(offline_tables):.2f} CPU-hours (the runs' wall time on one thread each).", ""]
    lines += ["## (b) Online: DQN-Prior and VI are more sample-efficient than DQN, PPO and TWOSOME, and beat the "
              "LLM-only agent", "",
              "Setting: 3,000 env steps on the train maps, 10 seeds, evaluated every 250 steps (vi, twosome and "
              "the ppo beside them: the core-v1 board's rows, 5 seeds, every 1,000 steps, the same budget). "
              "llm and llm-sample do not train: one evaluation. \"Beats\" is judged against both llm rules.", ""]
    online_tables, online_verdicts = online(lines, figures)
    lines += ["", *[f"- {v}" for v in figures.get("online_verdicts", [])], "",
              f"CPU: {cpu_hours(online_tables):.2f} CPU-hours.", ""]
    lines += ["## (c) Transfer: the learned Q generalises to unseen tasks and to a different LLM prior", "",
              "Setting: each seed of the online dqn-prior rows under A and under the uniform prior kept its final Q "
              "(`keep_learned`); a run with `init_from` starts from seed k's Q under another prior and trains 1,000 "
              "more steps (5 seeds, evaluated every 250). Its step-0 round is that Q on the unseen test maps "
              "before any training of its own. B is Gemma 3 270M with its own adapter distilled from the same "
              "train maps.", ""]
    transfer_tables, transfer_verdicts = transfer(lines, figures)
    lines += ["", *[f"- {v}" for v in figures.get("transfer_verdicts", [])], "",
              f"CPU: {cpu_hours(transfer_tables):.2f} CPU-hours.", ""]
    lines += ["## Figures", "", *draw(figures, page.parent / FIGURES), ""]
    def listed(verdicts: Sequence[tuple[str, str]]) -> str:
        return "; ".join(f"{s}: " + ", ".join(f"`{c}`" for v, c in verdicts if v == s)
                         for s in (HOLDS, FAILS, NOT_RUN) if any(v == s for v, _ in verdicts))
    lines[lines.index(SUMMARY)] = "\n".join([
        "Verdicts, each computed in its section below (by id, with its figures):", "",
        f"- (a) offline — {listed(offline_verdicts)}", f"- (b) online — {listed(online_verdicts)}",
        f"- (c) transfer — {listed(transfer_verdicts)}"])
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(lines) + "\n")
    print(f"wrote {page}", file=sys.stderr)


def run(workers: int) -> None:
    from priorbench.bench import leaderboard_spec

    for spec in (SPEC, SECOND_ENV_SPEC):
        leaderboard_spec.run(Path(spec), workers=workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workers", type=int, default=1)
    p = sub.add_parser("report")
    p.add_argument("--out", type=Path, default=PAGE)
    args = parser.parse_args()
    os.chdir(HERE.parent)  # the specs' paths are relative to the repository
    run(args.workers) if args.command == "run" else report(args.out)


if __name__ == "__main__":
    main()
