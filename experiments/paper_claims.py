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
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the page's sibling modules: paper_claims_rows, paper_claims_offline
from paper_claims_offline import OfflineEnv, offline  # noqa: E402
from paper_claims_rows import (  # noqa: E402
    FAILS,
    HOLDS,
    NOT_RUN,
    NOT_TESTABLE,
    PRIORS,
    auc_difference,
    beats,
    beats_from_start,
    claim,
    cpu_hours,
    find,
    mean_interval,
    success_cell,
    verdict_line,
    wins_at,
)
from paper_claims_rows import rows as rows_of  # noqa: E402
from paper_claims_text import draw_text, online_text  # noqa: E402

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
#: Claim (a)'s envs: Frozen Lake Random, then TextWorld Cooking 1 (experiments/paper-claims-cooking.toml).
OFFLINE_ENVS = (OfflineEnv("", ENV, RUNS, (10, 30, 100, 300, 1000, 3000, 10000), CORE_V1 / "priorbench",
                           Path("experiments/adapters/frozenlake-4x4-random")),
                OfflineEnv("cooking", "priorbench/TextWorld-Cooking-1-v0", Path("experiments/runs/paper-claims-cooking"),
                           (100, 300, 1000, 3000, 10000), CORE_V1 / "priorbench", Path("experiments/adapters/textworld-cooking-1")))
#: Online: steps to this fraction of the expert's test success.
OF_EXPERT = 0.8
SUMMARY = "(the verdicts' counts)"


def rows(folders: Sequence[Path]) -> dict[str, Any]:
    """Row id → leaderboard row of the finished Frozen Lake Random runs under `folders`."""
    return rows_of(folders, ENV)


# --- (b) online ------------------------------------------------------------------------------

def online(lines: list[str], figures: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    from priorbench.bench.leaderboard import claims

    mine = rows([RUNS / "online" / p for p in ("plain", "distilled", "contextual", "uniform")])
    # llm with vi's scoring (per-token log-probs, no history): vi's policy before any update
    vi_scoring = find(rows([RUNS / "online" / "distilled-vi-scoring"]), "llm", "distilled")
    core = rows([CORE_V1 / "priorbench", CORE_V1 / "smollm2-distilled", CORE_V1 / "smollm2-contextual"])
    expert = find(core, "expert")
    level = OF_EXPERT * (wins_at(expert)[0] / max(wins_at(expert)[1], 1)) if expert is not None else None
    shown = [("dqn", find(mine, "dqn")), ("ppo", find(mine, "ppo")),
             *[(f"dqn-prior {PRIORS[p][0]}", find(mine, "dqn-prior", p)) for p in ("uniform", "distilled", "contextual")],
             *[(f"{a} {PRIORS[p][0]}", find(mine, a, p)) for p in ("distilled", "contextual") for a in ("llm", "llm-sample")],
             (f"llm {PRIORS['distilled'][0]}, scored as vi", vi_scoring),
             ("dqn (core-v1)", find(core, "dqn")), ("ppo (core-v1)", find(core, "ppo")),
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
    for other in ("dqn", "ppo", "twosome"):
        other_row = find(core, other, "distilled" if other == "twosome" else None)
        out.append(auc_difference(f"vi-vs-{other}", f"vi ({PRIORS['distilled'][0]}) is more sample-efficient than "
                                  f"{other} (core-v1 rows)", find(core, "vi", "distilled"), other_row))
    out.append(auc_difference("dqn-prior-distilled-vs-twosome", f"dqn-prior with {PRIORS['distilled'][0]} is more "
                              "sample-efficient than twosome (core-v1 row)", find(mine, "dqn-prior", "distilled"),
                              find(core, "twosome", "distilled")))
    for agent, table in (("dqn-prior", mine), ("vi", core)):
        for p in ("distilled", "contextual") if agent == "dqn-prior" else ("distilled",):
            a = find(table, agent, p)
            for llm in ("llm", "llm-sample"):
                out += beats_from_start(f"{agent}-beats-{llm}-{p}", f"{agent} beats {llm}, both with {PRIORS[p][0]}",
                                        f"{agent} beats {llm} already at step 0, before any update", a,
                                        find(mine, llm, p), agent)
    vi = find(core, "vi", "distilled")  # the control: does vi beat its own scoring rule, i.e. did it learn?
    status, line = beats("vi-beats-its-scoring", "vi beats llm scoring as vi does (per-token log-probs, no history), "
                         f"both with {PRIORS['distilled'][0]}: what vi learned", vi, vi_scoring)
    out.append((status, "vi-beats-its-scoring", line))
    out.append(auc_difference("vi-auc-vs-its-scoring", "vi is more sample-efficient than llm scoring as vi does (a "
                              "policy that never trains: its AUC is its one score)", vi, vi_scoring))
    if vi is not None:
        v = claim("vi-gains", f"vi with {PRIORS['distilled'][0]} gains from step 0 to its last round", "gain",
                  [vi.id], ">", 0.0, {vi.id: vi})
        out.append((v.status, "vi-gains", verdict_line(v)))
    if vi is not None:
        figures["vi_moves"] = vi_moves(vi)
    for status, cid, line in out:
        verdicts.append((status, cid))
        figures.setdefault("online_verdicts", []).append(line)
    return [mine, {k: v for k, v in core.items() if any(v is r for _, r in shown)}], verdicts


def vi_moves(row: Any) -> str:
    """Whether vi's updates move its policy, from its runs' records: the KL to the frozen prior its
    updates report, its training episodes' success (sampled actions) early and late, and its test
    wins per round (greedy)."""
    first, last, early, late = [], [], [], []
    for run in row.runs:
        train = [e for e in run.episodes if e["phase"] == "train"]
        updates = [e["update"]["kl_to_prior"] for e in train if "update" in e]
        fifth = max(len(train) // 5, 1)
        first.append(updates[0])
        last.append(float(np.mean(updates[-5:])))
        early.append(float(np.mean([e["success"] for e in train[:fifth]])))
        late.append(float(np.mean([e["success"] for e in train[-fifth:]])))
    rounds: dict[int, int] = {}
    for run in row.runs:
        for e in run.episodes:
            if e["phase"] == "eval":
                rounds[e["eval_round"]] = rounds.get(e["eval_round"], 0) + int(e["success"])
    return (f"Do vi's updates move its policy? From its records: the KL to the frozen prior that "
            f"its updates report grows from {np.mean(first):.4f} (the first update) to {np.mean(last):.3f} nats "
            f"(the last 5; means over {len(row.runs)} seeds), and its training episodes, which sample its "
            f"policy, win {np.mean(early):.2f} in their first fifth and {np.mean(late):.2f} in their last. "
            "Its greedy choices on the test maps: test wins per round, pooled over seeds, "
            + ", ".join(str(rounds[k]) for k in sorted(rounds)) + ".")


# --- (c) transfer ----------------------------------------------------------------------------

TRANSFERS = {"A-to-A": ("distilled", "distilled"), "A-to-B": ("distilled", "gemma-distilled"),
             "A-to-U": ("distilled", "uniform"), "U-to-A": ("uniform", "distilled"), "U-to-B": ("uniform", "gemma-distilled"),
             "U-to-U": ("uniform", "uniform")}


def transfer(lines: list[str], figures: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    moved = rows([RUNS / "transfer" / name for name in (*TRANSFERS, "scratch-B")])
    fresh = rows([RUNS / "online" / p for p in ("distilled", "uniform")])
    shown = [(f"Q from {PRIORS[src][0]}, run under {PRIORS[dst][0]}", find(moved, "dqn-prior", dst, src))
             for src, dst in TRANSFERS.values()]
    shown += [(f"fresh Q under {PRIORS['gemma-distilled'][0]} (1,000 steps)", find(moved, "dqn-prior", "gemma-distilled")),
              *[(f"fresh Q under {PRIORS[p][0]} (the online rows, 3,000 steps)", find(fresh, "dqn-prior", p))
                for p in ("distilled", "uniform")]]
    lines += ["| dqn-prior | seeds | step 0 (no training of its own) | final |", "|---|---:|---:|---:|"]
    for name, row in shown:
        lines.append(f"| {name} | {len(row.runs) if row else '–'} | {success_cell(row, first=True)} | {success_cell(row)} |")
    shorts = ["A→A", "A→B", "A→U", "U→A", "U→B", "U→U", "fresh→B"]  # TRANSFERS' order, then scratch-B
    figures["transfer"] = [(short, row) for short, (_, row) in zip(shorts, shown[:7], strict=True) if row is not None]
    a_to = {dst: find(moved, "dqn-prior", dst, "distilled") for dst in ("distilled", "gemma-distilled", "uniform")}
    u_to = {dst: find(moved, "dqn-prior", dst, "uniform") for dst in ("distilled", "gemma-distilled", "uniform")}
    scratch_b = find(moved, "dqn-prior", "gemma-distilled")
    out = [beats("q-alone-vs-a-uniform-q", "the Q learned under A, with the uniform prior (the Q alone), wins more unseen "
                 "maps at step 0 than the Q learned under the uniform prior itself, run the same way (the control: a "
                 "trained Q with no knowledge behind it)", a_to["uniform"], u_to["uniform"], True),
           beats("q-alone-on-unseen-maps", "the Q learned under A, with the uniform prior (the Q alone), wins more unseen "
                "maps at step 0 than a fresh Q with the uniform prior", a_to["uniform"], find(fresh, "dqn-prior", "uniform"), True),
           beats("q-to-another-prior", "the Q learned under A, run under B without further training, wins more unseen "
                "maps than B with a fresh Q", a_to["gemma-distilled"], scratch_b, True),
           beats("q-fine-tuned-under-b", "the Q learned under A and fine-tuned 1,000 steps under B wins more unseen maps "
                "than B trained 1,000 steps from a fresh Q", a_to["gemma-distilled"], scratch_b, False),
           beats("weak-q-to-strong-prior", "the Q learned under the uniform prior, run under A without further training, "
                "wins more unseen maps than A with a fresh Q", u_to["distilled"], find(fresh, "dqn-prior", "distilled"), True),
           beats("weak-q-to-b", "the Q learned under the uniform prior, run under B without further training, wins more "
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
        for where in OFFLINE_ENVS:
            if where.key not in figures.get("offline", {}):
                continue
            fig = Figure(figsize=(6, 3.6))
            ax = fig.add_subplot()
            for name, values in figures["offline"][where.key].items():
                ax.plot(where.sizes, values, marker="o", label=name)
            short = where.env.removeprefix("priorbench/")
            ax.set(xscale="log", xlabel="transitions in the dataset", ylabel="final test success (mean of 5 seeds)",
                   ylim=(-0.02, 1.02), title=f"(a) offline, {short}")
            ax.legend(fontsize=7)
            name = f"offline{'-' + where.key if where.key else ''}.png"
            _save(fig, folder / name)
            out.append(f"![(a) final test success against dataset size, {short}]({FIGURES}/{name})")
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
        out += draw_text(figures, folder, "online-text.png")
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
             f"`{SPEC}`) and, for vi, twosome and the dqn and ppo beside them and for (b) on the text envs, the core-v1 "
             f"board's runs (`{CORE_V1}/`). Env, unless a section names another: {ENV} — 100 random 4×4 train maps, 20 disjoint test maps, one test episode per map "
             "and round (20 per round); every figure below is measured on the test tasks (maps, games), which no agent, "
             "dataset or adapter saw. Success is pooled over seeds (wins / episodes) with an exact 95% "
             "interval unless a line says otherwise. The uniform prior is SYNTHETIC: it knows nothing, so "
             "a row with it is the control of the same agent with a real prior.", "",
             "Scope: claim (c) on FrozenLake-4x4-Random; claim (a) there and on TextWorld Cooking 1 "
             f"(`{SECOND_ENV_SPEC}`), whose runs land session by session; claim (b) there and, from the core-v1 "
             "board's rows, on TextWorld Coin Collector 2 and Cooking 1.", "", SUMMARY, ""]
    figures: dict[str, Any] = {}
    lines += ["## (a) Offline: CQL-Prior reaches CQL's performance with over 90% fewer samples", "",
              "Setting: cql and cql-prior (3,000 gradient steps, 5 seeds) on the first N transitions of one "
              "dataset of the train tasks (mixture:0.5 collection: the expert's command with probability "
              "0.5, else a random one), on each env below. Final test success:", "", f"### {SHORT}", ""]
    offline_tables, offline_verdicts = [], []
    for where in OFFLINE_ENVS:
        if where.key:
            short = where.env.removeprefix("priorbench/")
            lines += [f"### {short}", "", f"10 train games, 20 unseen test games (foods and layouts no train game has); "
                      f"random: the core-v1 board's row of {short} on the same test games.", ""]
        tables, verdicts = offline(where, lines, figures)
        offline_tables += tables
        offline_verdicts += verdicts
        lines += ["", *[f"- {v}" for v in figures["offline_verdicts"][where.key]], ""]
        if not where.key:
            alone = rows([RUNS / "online" / "distilled"])
            lines += [f"For scale, the prior acting alone with no data at all (llm with A, argmax, part (b)) wins "
                      f"{success_cell(find(alone, 'llm', 'distilled'))} of the test episodes: what cql-prior with A "
                      "saves is what the prior already knows; the uniform control shows what the decision rule over "
                      "k proposals does without knowledge.", ""]
    lines += [f"CPU: {cpu_hours(offline_tables):.2f} CPU-hours (the runs' wall time on one thread each).", ""]
    lines += ["## (b) Online: DQN-Prior and VI are more sample-efficient than DQN, PPO and TWOSOME, and beat the "
              "LLM-only agent", "",
              "Setting: 3,000 env steps on the train maps, 10 seeds, evaluated every 250 steps (vi, twosome and "
              "the dqn and ppo beside them: the core-v1 board's rows, up to 5 seeds (the table's seeds column), every "
              "1,000 steps, the same budget). "
              "llm and llm-sample do not train: one evaluation. \"Beats\" is judged against both llm rules. "
              "vi scores a command by its log-prob per token with no history in the prompt; llm by the sum "
              "with the last 2 steps. So the row \"llm …, scored as vi\" (llm with vi's two settings) is vi's "
              "policy before any update, and vi against it is what vi learned.", ""]
    online_tables, online_verdicts = online(lines, figures)
    lines += ["", *[f"- {v}" for v in figures.get("online_verdicts", [])], "",
              *([figures["vi_moves"], ""] if "vi_moves" in figures else []),
              f"CPU: {cpu_hours(online_tables):.2f} CPU-hours.", ""]
    lines += ["### (b) on the text headline envs: the core-v1 board's rows", "",
              "Final-success comparisons of (b) on TextWorld Coin Collector 2 and Cooking 1 (claim (a)'s second env), "
              f"read from the core-v1 board's runs (`{CORE_V1}/`): 5 seeds, evaluated at step 0 and at the end only. "
              "Two points cannot measure sample efficiency: these rows give final success at the budget and the gain "
              "from step 0 (whether an agent learned at all); there is no AUC, steps-to-the-bar or vi-vs-its-scoring "
              "check here. Each env's distilled prior is its own adapter, trained on its train games (not A, the "
              "Frozen Lake adapter). vi and twosome start from the base model on both envs and also from the "
              "distilled adapter on Coin Collector 2 (the protocol's CPU cap). The controls first: dqn-prior with "
              "the uniform prior against random and dqn, then each prior against that control. Where every row of "
              "a comparison wins none of its test episodes the verdict is \"not testable here\": the floor.", ""]
    text_tables, text_verdicts = online_text(lines, figures, CORE_V1)
    lines += [f"CPU: {cpu_hours(text_tables):.2f} CPU-hours (the board's runs).", ""]
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
                         for s in (HOLDS, FAILS, NOT_TESTABLE, NOT_RUN) if any(v == s for v, _ in verdicts))
    lines[lines.index(SUMMARY)] = "\n".join([
        "Verdicts, each computed in its section below (by id, with its figures):", "",
        f"- (a) offline — {listed(offline_verdicts)}", f"- (b) online — {listed(online_verdicts)}",
        f"- (b) online, text envs — {listed(text_verdicts)}",
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
