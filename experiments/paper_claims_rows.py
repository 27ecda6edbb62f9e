"""Reading rows for experiments/paper_claims.py (issue 32): the leaderboard's rows of stored runs,
found by agent and prior, their pooled success with exact intervals, and the claim checker's
verdicts on them (bench/leaderboard/claims.py), shared by the page's sections."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

HOLDS, FAILS, NOT_RUN = "holds", "does not hold", "not run"
#: A claim whose premise fails on this env (offline: cql itself does not beat random, so there is
#: no performance of cql's to reach with fewer samples).
NOT_TESTABLE = "not testable here"
#: folder name → (what the page calls the prior, its label in row ids)
PRIORS = {"distilled": ("A: SmolLM2 distilled", "smollm2-135m+adapter:"),
          "contextual": ("SmolLM2 contextual", "smollm2-135m,calibration=contextual"),
          "uniform": ("uniform (SYNTHETIC control)", "SYNTHETIC-oracle-q=uniform"),
          "gemma-distilled": ("B: Gemma 3 distilled", "gemma3-270m+adapter:"),
          "base": ("SmolLM2 base model", "smollm2-135m]")}


def rows(folders: Sequence[Path], env: str) -> dict[str, Any]:
    """Row id → leaderboard row (stats and curve) of the finished runs of `env` under `folders`
    (those that exist)."""
    from priorbench.bench.leaderboard.stats import finished_rows

    return {row.id: row for row in finished_rows(folders, {env})}


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


def verdict_line(v: Any, note: str = "") -> str:
    """A verdict as the pages print it: status, sentence, (test; note; figure), claim id."""
    from priorbench.bench.leaderboard import claims

    middle = "; ".join(x for x in (claims.test_text(v.claim), note, claims.figure_text(v)) if x)
    return f"**{v.status}** — {v.claim.sentence} ({middle}) `{v.claim.id}`"


def beats(cid: str, sentence: str, a: Any, b: Any, first: bool = False) -> tuple[str, str]:
    """(status, line): row a wins more test episodes than row b (the claim checker's success
    difference, at the final round or the first); not run when a row is missing."""
    if a is None or b is None:
        return NOT_RUN, f"**{NOT_RUN}** — {sentence} (a row is missing) `{cid}`"
    v = claim(cid, sentence, "success_difference", [a.id, b.id], ">", 0.0, {a.id: a, b.id: b},
              **({"at": "start"} if first else {}))
    return v.status, verdict_line(v)


def beats_from_start(cid: str, sentence: str, start_sentence: str, a: Any, b: Any, who: str) -> list[tuple[str, str, str]]:
    """[(status, id, line)]: row a (agent `who`) wins more test episodes than row b at the end, with
    a's step-0 wins beside it; where it holds, the same test on the step-0 round (`cid`-at-step-0):
    a lead already there before any update is the prior's reading, not learning."""
    if a is None or b is None:
        return [(NOT_RUN, cid, f"**{NOT_RUN}** — {sentence} (a row is missing) `{cid}`")]
    v = claim(cid, sentence, "success_difference", [a.id, b.id], ">", 0.0, {a.id: a, b.id: b})
    w0, n0 = wins_at(a, first=True)
    out = [(v.status, cid, f"{verdict_line(v)} — at step 0, before any update, {who} won {w0}/{n0}")]
    if v.status == HOLDS:
        first = claim(f"{cid}-at-step-0", start_sentence, "success_difference", [a.id, b.id], ">", 0.0,
                      {a.id: a, b.id: b}, at="start")
        out.append((first.status, first.claim.id, verdict_line(first)))
    return out


def cpu_hours(tables: Sequence[dict[str, Any]]) -> float:
    """Wall seconds of every run (training, evaluation and setup), one torch thread each: CPU time."""
    seconds = sum(float(r.manifest["timing"]["wall_s"]) + float(r.manifest["timing"].get("setup", {}).get("wall_s", 0))
                  for t in tables for row in t.values() for r in row.runs)
    return seconds / 3600


def mean_interval(values: Sequence[float]) -> str:
    from priorbench.bench import metrics

    d, lo, hi = metrics.paired_difference_ci(list(values), [0.0] * len(values))
    return f"{d:.3f} [{lo:.3f}, {hi:.3f}]"


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
