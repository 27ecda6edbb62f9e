"""The views a reader opens first, as text and cells that LEADERBOARD.md and the site share:
the headline ranking ("who is best where") and "Does the prior help?" (the numbers are
`stats.headline` and `stats.prior_effects`); the Cost section's text and cells; also the
interval and mark cells every table uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from priorbench.bench import metrics
from priorbench.bench.leaderboard.stats import (
    BEST_ALPHA,
    EFFECT_ALPHA,
    RANKED_SPLIT,
    HeadlineLine,
    Row,
    total_cost,
)

#: The mark beside an agent whose runs were made before evaluation had its own random streams.
BEFORE_FIX_MARK = " †"


def ci_text(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]"


HEADLINE_TITLE = "Who is best where"
ALL_ROWS_TITLE = "Every row, per env"


def short_env(env: str) -> str:
    return env.removeprefix("priorbench/")


def _ranked_on(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> tuple[list[str], str]:
    """The envs the ranking aggregates and their name in the header ("held-out envs" / "all envs")."""
    held = [e for e in envs if _split_of(lines, e) == RANKED_SPLIT]
    scored = [line for line in lines if line.overall is not None]
    n = scored[0].overall["envs"] if scored else len(held or envs)
    return (held, "held-out envs") if held and n == len(held) else (list(envs), "all envs")


def headline_text(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> str:
    """The sentence above the headline table."""
    ranked, name = _ranked_on(envs, lines)
    count = sum(line.overall is not None and not line.reference for line in lines)
    seeds = sorted({len(r.runs) for line in lines for r in line.cells.values()})
    seeds_text = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
    what = (f"the {len(ranked)} envs whose test tasks are held out (the single-task track's envs, train = "
            "test, are shown after them, not ranked on: an agent can memorise their one task)" if name == "held-out envs"
            else f"all {len(ranked)} envs")
    return (f"Agents ranked by final test success over {what}: rliable's IQM over seeds × envs with its "
            f"95% CI, {seeds_text} seeds a row; \"2=\" is a tie, listed by mean success. "
            + (f"{count} agents ran every ranked env; " if count else "No agent ran every ranked env yet; ")
            + "those below ran fewer. Beside it each env's IQM and CI; **bold ★** marks the env's top "
            "agent and every agent that Fisher's exact test on the final round's pooled test episodes "
            f"does not put below it (p ≥ {BEST_ALPHA:g}), no mark where none is clearly below. `expert` "
            "reads the solution: a reference, not ranked. SYNTHETIC-prior controls and reduced budgets "
            "are never in this table.")


def _split_of(lines: Sequence[HeadlineLine], env: str) -> str:
    return next((line.cells[env].stats["split"] for line in lines if env in line.cells), "")


def headline_header(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> list[str]:
    return (["rank", "agent", f"{_ranked_on(envs, lines)[1]}: IQM [95% CI]"]
            + [f"{short_env(e)} ({SINGLE_TASK if _split_of(lines, e) == 'train = test' else _split_of(lines, e)})"
               for e in envs])


#: How the headline names an env whose one task is trained and tested on.
SINGLE_TASK = "single-task: train = test"


def headline_cells(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> list[list[tuple[str, bool]]]:
    """The headline's cells as (text, best) per line: rank, agent (marked † as in the full
    table when any of its rows is), the ranking aggregate, one IQM [CI] per env (— not run)."""
    ranked, name = _ranked_on(envs, lines)
    out = []
    for line in lines:
        dagger = BEFORE_FIX_MARK if any(r.stats.get("before_eval_streams") for r in line.cells.values()) else ""
        o = line.overall
        total = (f"{o['iqm']:.3f} {ci_text(o['iqm_lo'], o['iqm_hi'])}" if o is not None
                 else f"ran {len(set(line.cells) & set(ranked))} of {len(ranked)} {name}")
        cells = [(line.rank, False), (line.agent + dagger, False), (total, False)]
        for env in envs:
            row = line.cells.get(env)
            cells.append(("—", False) if row is None else
                         (f"{row.stats['iqm']:.3f} {ci_text(row.stats['iqm_lo'], row.stats['iqm_hi'])}", env in line.best))
        out.append(cells)
    return out


def headline_md_cells(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> tuple[list[str], list[list[str]]]:
    return headline_header(envs, lines), [[f"**{text} ★**" if best else text for text, best in cells]
                                          for cells in headline_cells(envs, lines)]


EFFECTS_TITLE = "Does the prior help?"
EFFECTS_PLOT = "plots/prior-effects.png"
EFFECTS_PLOT_TITLE = "does the prior help: paired difference in final test success, per env"
EFFECTS_TEXT = (
    "Each prior agent's row, per env, against (1) **control**: the same agent, budget and seeds with "
    "the SYNTHETIC uniform prior — it knows nothing, so a gain over it is the prior's doing (what it "
    "knows, or merely that it is not uniform: the control does not match a prior's peakedness); read "
    "it first; (2) **plain**: the agent without a prior — the prior and the decision rule together "
    "(for `vi`, **counterpart**: `twosome` with the same prior); (3) **llm** and **llm-sample**: the "
    "same prior acting alone, greedy and sampling (they do not train: their full-budget row where the "
    "board has none at the row's budget) — does learning add anything to the prior? **Δ** is the mean "
    "over the seeds both rows ran, paired by seed number, of the difference in final test success "
    "(prior row minus the other). The first interval is a percentile bootstrap over those pairs "
    f"({metrics.BOOTSTRAP_REPS:,} reps): \"every pair alike\" where all pairs differ by the same "
    "amount (it would collapse to a point). On those seeds' pooled final-round test episodes, the "
    "second is Newcombe's score interval for the difference of success rates and **p** is Fisher's "
    "exact test; both treat episodes as independent, which episodes of one seed are not, so they are "
    "narrower than the truth where seeds differ. **reading** says \"better\" or \"worse\" (the "
    f"prior row than the other) only where p < {EFFECT_ALPHA:g} and the paired interval excludes 0 on "
    "that side; \"tie — no evidence\" where every run of both rows scored alike. With 5 seeds of one "
    "test episode each (the train = test envs) no comparison can reach p < 0.05 unless it is at least "
    "5 of 5 against 0 of 5. Readings are per line, not corrected for the number of comparisons: among "
    "many lines some \"better\" or \"worse\" come by chance.")
NO_EFFECTS_TEXT = "No prior agent's row has a control, plain or llm row to compare with in these runs."
EFFECT_HEADERS = ["env", "prior row", "compared with", "seed pairs", "Δ success", "95% CI (seeds, paired)",
                  "final wins (prior row / other)", "95% CI (episodes, Newcombe)", "p (Fisher)", "reading"]


def effects_count_text(effects: Sequence[dict[str, Any]]) -> str:
    """How many comparisons the table makes and how many read better or worse."""
    told = sum(e["reading"] in ("better", "worse") for e in effects)
    return (f"{len(effects)} comparisons; {told} read \"better\" or \"worse\" (at p < {EFFECT_ALPHA:g} "
            f"about {EFFECT_ALPHA * len(effects):.1f} would by chance alone if no prior made any difference).")


def _paired_ci(e: dict[str, Any]) -> str:
    return f"every pair alike ({e['lo']:+.3f})" if e["lo"] == e["hi"] else ci_text(e["lo"], e["hi"])


def effect_cells(effects: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [[short_env(e["env"]), e["agent"], f"{e['vs']}: {e['other']}", e["pairs"], f"{e['delta']:+.3f}",
             _paired_ci(e), f"{e['wins'][0]}/{e['wins'][1]} vs {e['wins'][2]}/{e['wins'][3]}",
             ci_text(e["ep_lo"], e["ep_hi"]), f"{e['p']:.3f}", e["reading"]] for e in effects]


COST_HEADERS = ("row", "env", "agent", "runs", "env steps", "LLM calls", "LLM tokens", "wall s")
COST_FORMATS = ("", "", "", "d", "d", "d", "d", ".2f")
COST_TEXT = ("What reproducing a row costs: sums over the row's runs (all its seeds). **env "
             "steps**: the training steps the runs took (manifest final_env_steps; gradient steps "
             "for offline agents such as cql; evaluation episodes not included). **LLM calls** "
             "and **LLM tokens**: the episodes' counters, training and evaluation — the model "
             "calls the backend really computed, so a warm prior cache lowers them (a run whose "
             "prior scores all came from the cache shows 0) and a re-run on a cold cache can "
             "cost more. **wall s**: the runs' wall time on the machine that made them (each "
             "row's provenance names it), not a prediction for yours. Both include each run's "
             "setup before its first step (manifest timing.setup): building the envs, loading the "
             "model and an offline agent's dataset, which cql-prior scores state by state with its "
             "prior. Runs made before setup was recorded (no timing.setup) count their episodes "
             "only; what they leave out is the seconds of loading a model.")


def _count(value: float) -> int | float:
    return int(round(value)) if np.isfinite(value) else float("nan")


def cost_cells(index: int | str, env: str, agent: str, cost: dict[str, float]) -> list[Any]:
    return [index, env, agent, int(cost["runs"]), _count(cost["env_steps"]),
            _count(cost["llm_calls"]), _count(cost["llm_tokens"]), float(cost["wall_s"])]


def duration_text(seconds: float) -> str:
    """Wall seconds for people: 42.15 s, 7 min 05 s, 2 h 03 min."""
    if not np.isfinite(seconds):
        return "unknown"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min {int(seconds % 60):02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def total_text(rows: Sequence[Row]) -> str:
    """The whole build's cost in one sentence, then each env's wall time in CPU-hours (every run
    is one process on one thread, so its wall time is its CPU time)."""
    c = total_cost(rows)
    envs = sorted({r.env for r in rows})
    per_env = "; ".join(f"{short_env(e)} {cpu_hours(total_cost([r for r in rows if r.env == e])['wall_s'])}"
                        for e in envs)
    return (f"The whole build: {int(c['runs'])} runs, {_count(c['env_steps']):,} env steps, "
            f"{_count(c['llm_calls']):,} LLM calls, {_count(c['llm_tokens']):,} LLM tokens, "
            f"{duration_text(c['wall_s'])} of wall time ({cpu_hours(c['wall_s'])}). Per env: {per_env}.")


def cpu_hours(seconds: float) -> str:
    """'12.3 CPU-h': one run is one process on one thread."""
    return f"{seconds / 3600:.1f} CPU-h" if np.isfinite(seconds) else "unknown CPU-h"
