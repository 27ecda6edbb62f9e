"""Claim (b) of experiments/paper_claims.py (issue 32) on the text headline envs, read from the
core-v1 board's rows: dqn-prior against dqn, ppo and its uniform control, and against the prior
acting alone by both rules; vi against ppo and twosome. These rows are evaluated at step 0 and at
the end only (the protocol's schedule: evaluation is most of a prior agent's cost there), so a
curve has two points: sample efficiency at the budget reads as final success, and the gain from
step 0 says whether an agent learned at all: sample efficiency itself cannot be measured from
two points. 5 seeds, not the Frozen Lake section's 10: the board's rows, whose CPU the protocol
caps. Where every row of a comparison wins none of its test episodes, the verdict is "not testable
here" (the floor: no evidence either way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from paper_claims_rows import (
    NOT_RUN,
    NOT_TESTABLE,
    PRIORS,
    beats,
    beats_from_start,
    claim,
    find,
    rows,
    success_cell,
    verdict_line,
    wins_at,
)

#: (verdict id prefix, env, what its test games are, the priors vi and twosome start from there)
TEXT_ENVS = (("cc2", "priorbench/TextWorld-CoinCollector-2-v0", "the coin 10 rooms away among 20", ("distilled", "base")),
             ("cooking", "priorbench/TextWorld-Cooking-1-v0", "foods and layouts no train game has", ("base",)))
#: The board's folders that hold these rows.
FOLDERS = ("priorbench", "control-uniform", "smollm2-distilled", "smollm2-contextual", "llm-policy")
PROMPT_PRIORS = ("distilled", "contextual")


def _prior(p: str) -> str:
    """The page's name of a prior here: "A" is Frozen Lake's adapter; each text env has its own."""
    return "SmolLM2 distilled, this env's adapter" if p == "distilled" else PRIORS[p][0]


def _floor(sentence: str, cid: str, *rs: Any, start: bool = False) -> tuple[str, str] | None:
    """A "not testable here" line when every row wins none (at the end, and at step 0 with `start`)."""
    if any(r is None for r in rs) or any(wins_at(r)[0] or (start and wins_at(r, first=True)[0]) for r in rs):
        return None
    return NOT_TESTABLE, (f"**{NOT_TESTABLE}** — {sentence} (every row wins none of its test episodes: the floor, "
                          f"no evidence either way) `{cid}`")


def _trains(row: Any) -> bool:
    """Whether the row's runs have more than one evaluation (random, llm, llm-sample: one)."""
    return row is not None and any(len(r.summary["curve"]) > 1 for r in row.runs)


def _beats(cid: str, sentence: str, a: Any, b: Any) -> tuple[str, str]:
    return _floor(sentence, cid, a, b) or beats(cid, sentence, a, b)


def _shown(table: dict[str, Any], policy_priors: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [("random", find(table, "random")), ("dqn", find(table, "dqn")), ("ppo", find(table, "ppo")),
            *[(f"dqn-prior {_prior(p)}", find(table, "dqn-prior", p)) for p in ("uniform", *PROMPT_PRIORS)],
            *[(f"{a} {_prior(p)}", find(table, a, p)) for p in PROMPT_PRIORS for a in ("llm", "llm-sample")],
            *[(f"{a} {_prior(p)}", find(table, a, p)) for a in ("vi", "twosome") for p in policy_priors]]


def _gain(cid: str, name: str, row: Any) -> tuple[str, str]:
    if row is None:
        return NOT_RUN, f"**{NOT_RUN}** — {name} gains from step 0 to the end (the row is missing) `{cid}`"
    floor = _floor(f"{name} gains from step 0 to the end", cid, row, start=True)
    if floor:
        return floor
    v = claim(cid, f"{name} gains from step 0 to the end", "gain", [row.id], ">", 0.0, {row.id: row})
    return v.status, verdict_line(v)


def _verdicts(key: str, table: dict[str, Any], policy_priors: tuple[str, ...]) -> list[tuple[str, str]]:
    """(status, line) per verdict on one env, the controls first."""
    dqn, ppo, control = find(table, "dqn"), find(table, "ppo"), find(table, "dqn-prior", "uniform")
    out = [_beats(f"{key}-control-vs-random", "dqn-prior with the uniform control wins more unseen games than random",
                  control, find(table, "random")),
           _beats(f"{key}-dqn-prior-uniform-vs-dqn", "dqn-prior with the uniform control (the decision rule, no "
                  "knowledge) wins more unseen games than dqn", control, dqn)]
    for p in PROMPT_PRIORS:
        mine, name = find(table, "dqn-prior", p), f"dqn-prior with {_prior(p)}"
        out += [_beats(f"{key}-{p}-vs-control", f"{name} wins more unseen games than with the uniform control", mine,
                       control),
                _beats(f"{key}-dqn-prior-{p}-vs-dqn", f"{name} wins more unseen games than dqn", mine, dqn),
                _beats(f"{key}-dqn-prior-{p}-vs-ppo", f"{name} wins more unseen games than ppo", mine, ppo)]
        for llm in ("llm", "llm-sample"):  # "beats the LLM-only agent": against both rules
            sentence, alone = f"{name} wins more unseen games than {llm} with the same prior", find(table, llm, p)
            floor = _floor(sentence, f"{key}-dqn-prior-beats-{llm}-{p}", mine, alone, start=True)
            out += [floor] if floor else [(status, line) for status, _, line in beats_from_start(
                f"{key}-dqn-prior-beats-{llm}-{p}", sentence,
                f"{name} wins more unseen games than {llm} already at step 0, before any update", mine, alone,
                "dqn-prior")]
        out.append(_gain(f"{key}-dqn-prior-{p}-gains", name, mine))
    for p in policy_priors:
        vi, name = find(table, "vi", p), f"vi ({_prior(p)})"
        out += [_beats(f"{key}-vi-{p}-vs-ppo", f"{name} wins more unseen games than ppo, its control without a prior",
                       vi, ppo),
                _beats(f"{key}-vi-{p}-vs-twosome", f"{name} wins more unseen games than twosome from the same start",
                       vi, find(table, "twosome", p)),
                _gain(f"{key}-vi-{p}-gains", name, vi)]
    return out


def online_text(lines: list[str], figures: dict[str, Any], core_v1: Path) -> tuple[list[dict[str, Any]],
                                                                                   list[tuple[str, str]]]:
    """The section's tables and verdict lines (appended to `lines`); its rows and (status, id) verdicts."""
    tables, verdicts = [], []
    for key, env, about, policy_priors in TEXT_ENVS:
        table = rows([core_v1 / f for f in FOLDERS], env)
        short = env.removeprefix("priorbench/")
        shown = _shown(table, policy_priors)
        manifest = find(table, "dqn").runs[0].manifest  # the task counts and budget, from a run's manifest
        env_of, steps = manifest["env"], int(manifest["spec"]["budget"]["steps"])
        lines += [f"#### {short}", "", f"{len(env_of['test_tasks'])} unseen test games ({about}), "
                  f"{len(env_of['train_tasks'])} train games, {env_of['kwargs']['max_steps']}-step episodes, {steps:,} "
                  "training steps; test success pooled over seeds (wins / episodes, exact 95% interval).",
                  "", f"| row | seeds | step 0 | final ({steps:,} steps) |", "|---|---:|---:|---:|"]
        for name, row in shown:
            first = success_cell(row, first=True) if _trains(row) else "–"
            lines.append(f"| {name} | {len(row.runs) if row else '–'} | {first} | "
                         f"{success_cell(row) if row else 'not run yet'} |")
        out = _verdicts(key, table, policy_priors)
        lines += ["", *[f"- {line}" for _, line in out], ""]
        figures.setdefault("online_text", []).append((short, [(n, r) for n, r in shown if r is not None]))
        verdicts += [(status, line.rsplit("`", 2)[1]) for status, line in out]
        tables.append({k: v for k, v in table.items() if any(v is r for _, r in shown)})
    return tables, verdicts


def draw_text(figures: dict[str, Any], folder: Path, name: str) -> list[str]:
    """One panel per text env: each row's pooled test success at the end and, for a row that
    trains, at step 0 (random, llm and llm-sample are evaluated once)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from priorbench.bench.leaderboard.plots import _save
    from priorbench.bench.leaderboard.stats import pooled_wins

    panels = figures.get("online_text", [])
    if not panels:
        return []
    heights = [len(shown) for _, shown in panels]
    fig = Figure(figsize=(7, 1.2 + 0.3 * sum(heights) + 0.6 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, (short, shown) in zip(axes, panels, strict=True):
        y = np.arange(len(shown))[::-1]
        for k, (_, row) in enumerate(shown):
            for offset, at in ((0.2, "start"), (-0.2, "final")) if _trains(row) else ((0.0, "final"),):
                wins, n = pooled_wins(row.runs, at)
                ax.barh(y[k] + offset, wins / max(n, 1), height=0.4, color="C0" if at == "start" else "C1")
                ax.text(wins / max(n, 1) + 0.01, y[k] + offset, f"{wins}/{n}", va="center", fontsize=6)
        ax.set_yticks(y, [n for n, _ in shown], fontsize=7)
        ax.set(xlim=(0, 1.0), title=f"(b) {short}")
        ax.legend(handles=[Patch(color="C0", label="step 0"), Patch(color="C1", label="final")], fontsize=7,
                  loc="lower right")
    axes[-1].set_xlabel("test success (pooled over seeds)")
    fig.tight_layout()
    _save(fig, folder / name)
    return [f"![(b) the text envs: test success at step 0 and at the end, per row]({folder.name}/{name})"]
