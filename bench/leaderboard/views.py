"""The views a reader opens first, as text and cells that LEADERBOARD.md and the site share:
the headline ranking ("who is best where") and "Does the prior help?" (the numbers are
`stats.headline` and `stats.prior_effects`); also the interval and mark cells every table uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from priorbench.bench import metrics
from priorbench.bench.leaderboard.stats import HeadlineLine

#: The mark beside an agent whose runs were made before evaluation had its own random streams.
BEFORE_FIX_MARK = " †"


def ci_text(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]"


HEADLINE_TITLE = "Who is best where"
ALL_ROWS_TITLE = "Every row, per env"


def short_env(env: str) -> str:
    return env.removeprefix("priorbench/")


def headline_text(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> str:
    """The sentence above the headline table."""
    ranked = sum(line.overall is not None and not line.reference for line in lines)
    return (f"Agents ranked by final test success over all {len(envs)} envs (IQM over seeds × envs, 95% CI); "
            "beside it each env's IQM and CI, the env's best in **bold** (ties all bold). "
            + (f"{ranked} agents ran every env; " if ranked else "No agent ran every env yet; ")
            + "those below ran fewer. `expert` reads the solution: a reference, not ranked. SYNTHETIC "
            "controls and reduced budgets are never in this table. Under each env: whether its test "
            "tasks are held out or the task trained on (train = test).")


def _split_of(lines: Sequence[HeadlineLine], env: str) -> str:
    return next((line.cells[env].stats["split"] for line in lines if env in line.cells), "")


def headline_header(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> list[str]:
    return ["rank", "agent", "all envs: IQM [95% CI]"] + [f"{short_env(e)} ({_split_of(lines, e)})" for e in envs]


def headline_cells(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> list[list[tuple[str, bool]]]:
    """The headline's cells as (text, best) per line: rank, agent (marked † as in the full
    table when any of its rows is), the all-envs aggregate, one IQM [CI] per env (— not run)."""
    out, rank = [], 0
    for line in lines:
        if line.reference:
            number = "ref."
        elif line.overall is not None:
            rank += 1
            number = str(rank)
        else:
            number = "—"
        dagger = BEFORE_FIX_MARK if any(r.stats.get("before_eval_streams") for r in line.cells.values()) else ""
        o = line.overall
        total = (f"{o['iqm']:.3f} {ci_text(o['iqm_lo'], o['iqm_hi'])}" if o is not None
                 else f"ran {len(line.cells)} of {len(envs)} envs")
        cells = [(number, False), (line.agent + dagger, False), (total, False)]
        for env in envs:
            row = line.cells.get(env)
            cells.append(("—", False) if row is None else
                         (f"{row.stats['iqm']:.3f} {ci_text(row.stats['iqm_lo'], row.stats['iqm_hi'])}", env in line.best))
        out.append(cells)
    return out


def headline_md_cells(envs: Sequence[str], lines: Sequence[HeadlineLine]) -> tuple[list[str], list[list[str]]]:
    return headline_header(envs, lines), [[f"**{text}**" if best else text for text, best in cells]
                                          for cells in headline_cells(envs, lines)]


EFFECTS_TITLE = "Does the prior help?"
EFFECTS_PLOT = "plots/prior-effects.png"
EFFECTS_PLOT_TITLE = "does the prior help: paired difference in final test success, per env"
EFFECTS_TEXT = (
    "Each prior agent's row, per env, against (1) **control**: the same agent, budget and seeds with "
    "the SYNTHETIC uniform prior — it knows nothing, so only a gain over it is the prior's knowledge "
    "(read it first); (2) **plain**: the agent without a prior — knowledge and decision rule together; "
    "(3) **llm**: the same prior acting alone — whether learning adds anything to the prior. **Δ** is "
    "the mean over seeds paired by seed number of the difference in final test success (prior row "
    "minus the other). The first interval is a percentile bootstrap over those pairs "
    f"({metrics.BOOTSTRAP_REPS:,} reps) and collapses to a point when every pair differs alike; the "
    "second is Newcombe's score interval for the difference of the final rounds' pooled test-episode "
    "success rates, which never collapses (it treats episodes as independent). **reading** says "
    "\"better\" or \"worse\" (the prior row than the other) only where both intervals exclude 0 on that side, \"tie — no evidence\" "
    "where every run of both rows scored alike. Rows of a reduced budget are compared at that budget.")
NO_EFFECTS_TEXT = "No prior agent's row has a control, plain or llm row to compare with in these runs."
EFFECT_HEADERS = ["env", "prior row", "compared with", "seed pairs", "Δ success", "95% CI (seeds, paired)",
                  "95% CI (episodes)", "reading"]


def effect_cells(effects: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [[short_env(e["env"]), e["agent"], f"{e['vs']}: {e['other']}", e["pairs"], f"{e['delta']:+.3f}",
             ci_text(e["lo"], e["hi"]), ci_text(e["ep_lo"], e["ep_hi"]), e["reading"]] for e in effects]
