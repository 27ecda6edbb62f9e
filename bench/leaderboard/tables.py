"""The leaderboard's tables: LEADERBOARD.md (with its legend, the all-envs and
probability-of-improvement tables, plots, provenance and refused runs), leaderboard.csv (the
first, narrow columns), leaderboard_full.csv (every column) and leaderboard.tex (booktabs);
also `markdown_table`, which the CLI's other reports use."""

from __future__ import annotations

import csv
import io
import json
import shlex
from collections.abc import Sequence
from typing import Any

import numpy as np

from priorbench.bench import metrics, schema
from priorbench.bench.leaderboard import quality
from priorbench.bench.leaderboard.stats import Row, headline, prior_effects, row_cost, total_cost
from priorbench.bench.leaderboard.verified import NOT_VERIFIED_TEXT, VERIFIED_TEXT
from priorbench.bench.leaderboard.views import (
    ALL_ROWS_TITLE,
    BEFORE_FIX_MARK,
    COST_FORMATS,
    COST_HEADERS,
    COST_TEXT,
    EFFECT_HEADERS,
    EFFECTS_PLOT,
    EFFECTS_PLOT_TITLE,
    EFFECTS_TEXT,
    EFFECTS_TITLE,
    HEADLINE_TITLE,
    NO_EFFECTS_TEXT,
    ci_text,
    cost_cells,
    effect_cells,
    effects_count_text,
    headline_md_cells,
    headline_text,
    total_text,
)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                   float_format: Sequence[str] | None = None) -> str:
    """A GitHub Markdown table with right-aligned numeric columns (floats: `float_format` per
    column, default .3f; NaN is shown as —)."""
    formats = list(float_format) if float_format is not None else [".3f"] * len(headers)

    def cell(value: Any, fmt: str) -> str:
        if isinstance(value, float):
            return "—" if np.isnan(value) else format(value, fmt)
        return str(value).replace("|", "\\|").replace("\n", " ")  # a cell stays one cell

    text_rows = [[cell(v, f) for v, f in zip(row, formats, strict=True)] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h)
              for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(isinstance(r[i], int | float) for r in rows)
               for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if n else v.ljust(w)
                                 for v, w, n in zip(values, widths, numeric, strict=True)) + " |"
    rule = "|" + "|".join(("-" * (w + 1) + ":") if n else ("-" * (w + 2))
                          for w, n in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(list(headers)), rule, *(line(r) for r in text_rows)])


THRESHOLD_LABEL = f"steps to {metrics.SUCCESS_THRESHOLD:.0%}"
#: leaderboard.csv keeps its first, narrow format (other tools read it); the rest is in
#: leaderboard_full.csv.
TABLE_COLUMNS = ("env", "agent", "seeds", "success", "success_se", "return", "env_steps", "llm_calls")
FULL_COLUMNS = (
    "row", "env", "env_version", "agent", "seeds", "iqm", "iqm_lo", "iqm_hi", "success",
    "success_se", "return", "normalised_return", "auc", "auc_se", "steps_to_threshold",
    "threshold_reached", "env_steps", "llm_calls", "llm_tokens", "wall_s", "seed_list",
    "priorbench", "git_commits", "spec_hashes",
    "total_env_steps", "total_llm_calls", "total_llm_tokens", "total_wall_s",
    "test_tasks", "final_wins", "final_test_episodes", "episodes_per_round", "exact_lo", "exact_hi",
    "runs_before_eval_streams",
)


def steps_cell(row: Row) -> str:
    s = row.stats
    value = "—" if s["steps_to_threshold"] is None else str(s["steps_to_threshold"])
    return f"{value} ({s['threshold_reached']}/{s['seeds']})"


def provenance(row: Row) -> dict[str, Any]:
    """What a row was built from: seeds, spec hashes, versions, commits, env version."""
    manifests = [r.manifest for r in row.runs]
    packages: dict[str, list[str]] = {}
    for m in manifests:
        for name, version in sorted(m.get("packages", {}).items()):
            if str(version) not in packages.setdefault(name, []):
                packages[name].append(str(version))
    return {
        "seeds": row.seeds,
        "runs": [r.path for r in row.runs],
        "spec_hashes": [str(m.get("spec_hash")) for m in manifests],
        "git_commits": sorted({str(m.get("git_commit")) for m in manifests}),
        "packages": {k: ", ".join(v) for k, v in sorted(packages.items())},
        "env_version": sorted({str(m["env"].get("version")) for m in manifests}),
        "env_kwargs": manifests[0]["spec"]["env_kwargs"],
        "agent_params": manifests[0]["spec"]["agent_params"],
        "budget": manifests[0]["spec"]["budget"],
        "machines": sorted({json.dumps(m.get("machine"), sort_keys=True) for m in manifests}),
    }


def reproduce_command(row: Row, runs: str | None = None) -> str:
    """The `priorbench reproduce` command line that re-runs `row`'s seeds: by its row id, from
    `runs` (default: reproduce's leaderboard/runs)."""
    words = ["priorbench", "reproduce", row.id] + (["--runs", runs] if runs else [])
    words += ["--seeds", *map(str, row.seeds)]
    return shlex.join(words)


REPRODUCE_TEXT = ("Reproduce a row (from the repository root; for runs kept elsewhere add "
                  "`--runs DIR`, the runs folder the leaderboard was built from). It re-runs the "
                  "row's seeds from their manifests and compares with the stored CI and records; "
                  "the Cost section says what that takes.")


def _cost_md(rows: Sequence[Row]) -> list[str]:
    body = [cost_cells(r.index, r.env, r.agent, row_cost(r.runs)) for r in rows]
    body.append(cost_cells("all", "(the whole build)", "", total_cost(rows)))
    return ["## Cost", "", COST_TEXT, "", total_text(rows), "",
            markdown_table(COST_HEADERS, body, COST_FORMATS), ""]


QUALITY_FORMATS = ("", "", "", "d") + (".3f",) * len(quality.FIGURES)


def _quality_md(data: dict[str, Any] | None) -> list[str]:
    md = ["## Prior quality", ""]
    if data is None:
        return md + [quality.MISSING, ""]
    md += [quality.TEXT + " " + quality.caption(data), ""]
    real = quality.table_rows(data, synthetic=False)
    md += [markdown_table(quality.HEADERS, real, QUALITY_FORMATS) if real else
           "No real (language-model) prior in the file.", ""]
    if real:
        md += [f"![{QUALITY_PLOT_TITLE}]({QUALITY_PLOT})", ""]
    synthetic = quality.table_rows(data, synthetic=True)
    if synthetic:
        md += [quality.SYNTHETIC_NOTE, "", markdown_table(quality.HEADERS, synthetic, QUALITY_FORMATS), ""]
    return md


QUALITY_PLOT = "plots/prior-quality.png"
QUALITY_PLOT_TITLE = "prior quality: cov@5 of each prior next to uniform, per env (test split)"


MAIN_HEADERS = ("env", "test tasks", "agent", "seeds", "IQM success", "95% CI (seeds)", "wins / test episodes",
                "95% CI (episodes)", "mean success", "± SE", "norm. return", "AUC", THRESHOLD_LABEL,
                "env steps", "LLM calls", "LLM tokens", "wall s", "row")
MAIN_FORMATS = (".3f",) * 13 + (".0f", ".1f", ".0f", ".2f", ".3f")


def agent_cell(row: Row) -> str:
    """The row's agent label, marked when its runs were made before the evaluation fix."""
    return row.agent + (BEFORE_FIX_MARK if row.stats.get("before_eval_streams") else "")


def episodes_cell(row: Row) -> str:
    """Final-round test episodes won of those played, pooled over seeds (and per round)."""
    s = row.stats
    return f"{s['wins']}/{s['episodes']} ({s['episodes_per_round']}/round)"


def tie_or(p: dict[str, Any], text: str) -> str:
    """A probability-of-improvement cell: `text`, or that every run of both sides scored alike."""
    return TIE_TEXT if p.get("tie") else text


TIE_TEXT = "tie — no evidence"


def _main_cells(row: Row) -> list[Any]:
    s = row.stats
    return [row.env, s["split"], agent_cell(row), s["seeds"], s["iqm"], ci_text(s["iqm_lo"], s["iqm_hi"]),
            episodes_cell(row), ci_text(s["exact_lo"], s["exact_hi"]), s["success"],
            s["success_se"], s["normalised_return"], s["auc"], steps_cell(row), s["env_steps"],
            s["llm_calls"], s["llm_tokens"], s["wall_s"], row.index]


def legend() -> str:
    """The paragraph under LEADERBOARD.md's title that says what each column means (the
    site shows it too, as plain text)."""
    reps, seed = metrics.BOOTSTRAP_REPS, metrics.BOOTSTRAP_SEED
    return ("Final evaluation on each env's test tasks (explore=False). **test tasks** says, from the "
            "run manifests, whether they are **held out** (no test task is a train task) or **train = "
            "test** (a single-task env evaluated on the task it trained on: a memorising agent scores "
            "there). **IQM success** is rliable's interquartile mean over seeds of each run's test "
            "success rate, with a 95% stratified-bootstrap CI over seeds "
            f"({reps:,} reps, numpy seed {seed}); a percentile bootstrap collapses to a point when "
            "every seed scores alike, so beside it **wins / test episodes** pools the final round's "
            "test episodes of all seeds (episodes per round in brackets) and **95% CI (episodes)** "
            "is the exact Clopper–Pearson interval for that proportion (it treats the episodes as "
            "independent trials, so it is narrower than the truth when seeds differ — read both). "
            "**mean success ± SE** is over seeds, for comparison "
            "with suites that report means. **norm. return** is return / max score; **AUC** the area "
            "under the test-success curve over the training budget, divided by it (an agent that does "
            f"not train scores its step-0 success); **{THRESHOLD_LABEL}** the median over seeds of the "
            f"first evaluation with test success ≥ {metrics.SUCCESS_THRESHOLD:g} (— when the median "
            "seed never got there; in brackets how many did). Budget columns are means per run (LLM "
            "calls and tokens include evaluation; they count model calls actually made, so a prior "
            "agent whose scores all came from the prior cache shows 0 — cache hits are in the "
            "runs' counters). **success** is winning the game; return counts the game's points, so "
            "a game with partial credit (TextWorld's cooking recipes) can return 1 of 3 without a "
            "win. **†**: made before evaluation drew from random streams of its own (issue 28); "
            "for agents whose evaluation draws at random (dqn-prior, cql-prior, random, tabular-q's "
            "ties, a sampling llm) a re-run gives other records, for the others the same. Built by "
            "`priorbench leaderboard build` from the stored run records alone; `priorbench reproduce "
            "ROW` re-runs a row.")


SYNTHETIC_TITLE = "SYNTHETIC prior rows"


def synthetic_text() -> str:
    """What the section of SYNTHETIC prior rows is (LEADERBOARD.md and the site)."""
    return ("Controls, not entries: these agents ran with a SYNTHETIC prior (the `oracle`: mass q on "
            "the env's expert command, the rest uniform over the others), not a language model. "
            "They check that the prior agents use a good prior and draw the curve sample "
            "efficiency vs prior quality; they are left out of the tables above.")


def split_sections(rows: Sequence[Row]) -> tuple[list[Row], list[Row], list[Row]]:
    """The table each row goes to: (full-budget rows of real priors and prior-free agents,
    reduced-budget rows: `schema.is_reduced`, rows of a SYNTHETIC prior at any budget)."""
    synthetic = [r for r in rows if schema.is_synthetic(r.agent)]
    rest = [r for r in rows if not schema.is_synthetic(r.agent)]
    return ([r for r in rest if not schema.is_reduced(r.agent)], [r for r in rest if schema.is_reduced(r.agent)],
            synthetic)


REDUCED_TITLE = "Reduced-budget rows"


def reduced_text() -> str:
    """What the section of reduced-budget rows is (LEADERBOARD.md and the site)."""
    return ("Rows trained on less than their env's full budget (the largest budget among the env's "
            "runs; the label says how many steps: `@500 steps`), because the full budget does not "
            "fit the hardware that made them (leaderboard/spec.toml says why). Compare them only "
            "with each other: they are left out of the tables above, the all-envs aggregate and "
            "leaderboard.tex.")


def control_pairs(pairs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The knowledge-effect pairs: a real prior's row vs its uniform-prior control."""
    return [p for p in pairs if schema.is_control(p["y"]) and not schema.is_synthetic(p["x"])]


KNOWLEDGE_TITLE = "Knowledge effect: each prior row against its control"
KNOWLEDGE_HEADERS = ["prior row", "control (uniform prior)", "envs", "P(prior > control)", "95% CI",
                     "plain agent", "P(prior > plain)", "95% CI (plain)"]


def knowledge_text() -> str:
    """What the knowledge-effect table is (LEADERBOARD.md and the site)."""
    return ("The control of a prior row is the same agent, budget and seeds with the SYNTHETIC uniform "
            "prior (`oracle`, q = \"uniform\"): it knows nothing, so whatever it gains over the plain "
            "agent is the decision rule's (softmax over k draws), not knowledge. Read the control "
            "column first: only P(prior > control) is evidence that the prior knows the game; P(prior "
            "> plain) mixes knowledge and decision rule. A prior row without a control row says so.")


def knowledge_cells(rows: Sequence[Row], pairs: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One line per real-prior row of a prior agent: its control pair and its plain pair."""
    by_pair = {(p["x"], p["y"]): p for p in pairs}
    out = []
    for row in sorted({r.agent for r in rows}):
        base, budget = schema.base_agent(row), schema.budget_part(row)
        if "-prior" not in base or schema.is_synthetic(row):
            continue
        control = schema.control_label(row)
        plain = base.replace("-prior", "", 1) + budget
        c, q = by_pair.get((row, control)), by_pair.get((row, plain))
        out.append([row, control if c else "not run", str(c["envs"]) if c else "—",
                    tie_or(c, f"{c['p']:.3f}") if c else "—", tie_or(c, ci_text(c["p_lo"], c["p_hi"])) if c else "—",
                    plain if q else "not run", tie_or(q, f"{q['p']:.3f}") if q else "—",
                    tie_or(q, ci_text(q["p_lo"], q["p_hi"])) if q else "—"])
    return out


def split_pairs(pairs: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                          list[dict[str, Any]]]:
    """(improvement pairs between real full-budget rows, pairs with a reduced-budget row, pairs
    with a SYNTHETIC row on either side); knowledge-effect pairs (`control_pairs`) in none."""
    controls = control_pairs(pairs)
    pairs = [p for p in pairs if p not in controls]
    synthetic = [p for p in pairs if schema.is_synthetic(p["x"]) or schema.is_synthetic(p["y"])]
    reduced = [p for p in pairs if p not in synthetic and (schema.is_reduced(p["x"]) or schema.is_reduced(p["y"]))]
    return [p for p in pairs if p not in synthetic and p not in reduced], reduced, synthetic


def _pairs_md(pairs: Sequence[dict[str, Any]]) -> str:
    return markdown_table(["X", "Y", "envs", "P(X > Y)", "95% CI"],
                          [[p["x"], p["y"], p["envs"], tie_or(p, f"{p['p']:.3f}"),
                            tie_or(p, ci_text(p["p_lo"], p["p_hi"]))] for p in pairs])


def leaderboard_md(rows: Sequence[Row], envs: Sequence[str], overall_rows: Sequence[dict[str, Any]],
                   pairs: Sequence[dict[str, Any]], plots: Sequence[tuple[str, str]],
                   refused: Sequence[tuple[str, str]], notes: str = "",
                   verified: Sequence[tuple[Row, dict[str, Any]]] = (), *,
                   commands: dict[int, str] | None = None,
                   prior_quality: dict[str, Any] | None = None,
                   effects: Sequence[dict[str, Any]] | None = None, claims: Sequence[str] = ()) -> str:
    """LEADERBOARD.md; `commands`: each row's reproduce command (default `reproduce_command`),
    `prior_quality`: the prior-quality data (None: the section says how to make it), `effects`:
    `stats.prior_effects(rows)` (computed when None), `claims`: the Claims section's lines."""
    commands = commands if commands is not None else {r.index: reproduce_command(r) for r in rows}
    effects = prior_effects(rows) if effects is None else effects
    real, reduced, synthetic = split_sections(rows)
    real_pairs, reduced_pairs, synthetic_pairs = split_pairs(pairs)
    head_envs, lines = headline(rows)
    md = ["# priorbench leaderboard", "", f"## {HEADLINE_TITLE}", "", headline_text(head_envs, lines), "",
          markdown_table(*headline_md_cells(head_envs, lines)), ""]
    md += [f"## {EFFECTS_TITLE}", "", EFFECTS_TEXT, ""]
    md += ([effects_count_text(effects), "", markdown_table(EFFECT_HEADERS, effect_cells(effects)), "",
            f"![{EFFECTS_PLOT_TITLE}]({EFFECTS_PLOT})", ""]
           if effects else [NO_EFFECTS_TEXT, ""]) + list(claims)
    md += ["## Methods: what the columns mean", "", legend(), ""]
    if notes.strip():  # the hand-written reading of the numbers (NOTES.md beside the outputs)
        md += [notes.strip(), ""]
    md += [f"## {ALL_ROWS_TITLE}", "", markdown_table(MAIN_HEADERS, [_main_cells(r) for r in real], MAIN_FORMATS), ""]
    knowledge = knowledge_cells(rows, pairs)
    if knowledge:
        md += [f"## {KNOWLEDGE_TITLE}", "", knowledge_text(), "", markdown_table(KNOWLEDGE_HEADERS, knowledge), ""]
    if overall_rows:
        md += ["## All envs", "",
               f"Per agent that ran all {len(envs)} envs ({', '.join(envs)}); each "
               "env's score is a seed's mean test success, the IQM is over seeds × envs.", "",
               markdown_table(["agent", "envs", "seeds", "IQM success", "95% CI", "mean success", "± SE"],
                              [[o["agent"], o["envs"], o["seeds"], o["iqm"], ci_text(o["iqm_lo"], o["iqm_hi"]),
                                o["success"], o["success_se"]] for o in overall_rows]), ""]
    if real_pairs:
        md += ["## Probability of improvement", "",
               "rliable's P(X > Y): the chance that a run of X beats a run of Y on final test "
               "success, averaged over the envs both ran, with a 95% bootstrap CI "
               f"({metrics.CURVE_REPS:,} reps). 0.5 is a tie; \"{TIE_TEXT}\" where every run of both "
               "rows scored the same (the bootstrap would print 0.500 [0.500, 0.500]).", "",
               _pairs_md(real_pairs), ""]
    if reduced:
        md += [f"## {REDUCED_TITLE}", "", reduced_text(), "",
               markdown_table(MAIN_HEADERS, [_main_cells(r) for r in reduced], MAIN_FORMATS), ""]
        if reduced_pairs:
            md += ["Probability of improvement of these rows (as above):", "", _pairs_md(reduced_pairs), ""]
    if synthetic:
        md += [f"## {SYNTHETIC_TITLE}", "", synthetic_text(), "",
               markdown_table(MAIN_HEADERS, [_main_cells(r) for r in synthetic], MAIN_FORMATS), ""]
        if synthetic_pairs:
            md += ["Probability of improvement of these rows (as above):", "",
                   _pairs_md(synthetic_pairs), ""]
    md += _cost_md(rows) + _quality_md(prior_quality)
    md += ["## Verified rows", "", VERIFIED_TEXT, ""]
    md += ([markdown_table(VERIFIED_HEADERS, verified_cells(verified)), ""] if verified else
           [NOT_VERIFIED_TEXT, ""])
    md += ["## Plots", ""] + [f"![{title}]({name})" for name, title in plots] + [""]
    md += ["## Provenance", "",
           "Per row: seeds, the env version, the priorbench version and git commit(s) that made "
           "the runs, and the first 12 characters of each run's spec hash (full hashes in "
           "leaderboard_full.csv and site/index.html).", "",
           markdown_table(["row", "env version", "seeds", "priorbench", "git commit", "spec hashes"],
                          [[r.index, ", ".join(p["env_version"]), " ".join(map(str, p["seeds"])),
                            p["packages"].get("priorbench", "unknown"),
                            ", ".join(c[:12] for c in p["git_commits"]),
                            " ".join(h[:12] for h in p["spec_hashes"])]
                           for r in rows for p in [provenance(r)]]), ""]
    md += [REPRODUCE_TEXT, ""] + [f"- row {r.index}, `{r.id}`: `{commands[r.index]}`" for r in rows] + [""]
    if refused:
        md += ["## Refused runs", "",
               "These run records failed the integrity checks (checksum, schema, or a row mixing "
               "versions or configurations) and are not in any table:", ""]
        md += [f"- `{p}`: {why}" for p, why in refused] + [""]
    return "\n".join(md)


VERIFIED_HEADERS = ["row id", "seeds re-run", "re-run with priorbench"]


def verified_cells(verified: Sequence[tuple[Row, dict[str, Any]]]) -> list[list[Any]]:
    return [[row.id, " ".join(map(str, mark["seeds"])), mark["priorbench"]] for row, mark in verified]


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else f"{v:.6f}" if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


def full_row(row: Row) -> list[Any]:
    s, p = row.stats, provenance(row)
    return [row.index, row.env, ", ".join(p["env_version"]), row.agent, s["seeds"], s["iqm"],
            s["iqm_lo"], s["iqm_hi"], s["success"], s["success_se"], s["return"],
            s["normalised_return"], s["auc"], s["auc_se"], s["steps_to_threshold"],
            s["threshold_reached"], s["env_steps"], s["llm_calls"], s["llm_tokens"], s["wall_s"],
            " ".join(map(str, p["seeds"])), p["packages"].get("priorbench", "unknown"),
            " ".join(p["git_commits"]), " ".join(p["spec_hashes"]),
            *cost_cells(row.index, row.env, row.agent, row_cost(row.runs))[4:],
            s["split"], s["wins"], s["episodes"], s["episodes_per_round"], s["exact_lo"], s["exact_hi"],
            s["before_eval_streams"]]


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def latex_table(rows: Sequence[Row]) -> str:
    """The booktabs table of the rows of real priors and prior-free agents (a paper's table;
    SYNTHETIC prior and reduced-budget rows are in LEADERBOARD.md and the CSVs, labelled)."""
    rows = split_sections(rows)[0]

    def num(value: float, fmt: str = ".3f") -> str:
        return "--" if np.isnan(value) else format(value, fmt)

    lines = [
        "% Generated by `priorbench leaderboard build`; needs \\usepackage{booktabs}.",
        "\\begin{table}[t]", "\\centering", "\\small",
        "\\begin{tabular}{lllrrccrrrr}", "\\toprule",
        "Env & Test tasks & Agent & Seeds & IQM & 95\\% CI (seeds) & 95\\% CI (episodes) & Mean $\\pm$ SE & "
        "AUC & Env steps & LLM calls \\\\",
        "\\midrule",
    ]
    previous = None
    for row in rows:
        s = row.stats
        if previous is not None and row.env != previous:
            lines.append("\\midrule")
        env, split = (tex_escape(row.env), tex_escape(s["split"])) if row.env != previous else ("", "")
        previous = row.env
        se = "" if np.isnan(s["success_se"]) else f" $\\pm$ {s['success_se']:.3f}"
        dagger = "$^\\dagger$" if s.get("before_eval_streams") else ""
        lines.append(
            f"{env} & {split} & {tex_escape(row.agent)}{dagger} & {s['seeds']} & {num(s['iqm'])} & "
            f"[{num(s['iqm_lo'])}, {num(s['iqm_hi'])}] & [{num(s['exact_lo'])}, {num(s['exact_hi'])}] & "
            f"{num(s['success'])}{se} & {num(s['auc'])} & "
            f"{num(s['env_steps'], '.0f')} & {num(s['llm_calls'], '.1f')} \\\\")
    lines += [
        "\\bottomrule", "\\end{tabular}",
        "\\caption{Final test success: interquartile mean over seeds with "
        "95\\% stratified-bootstrap CIs over seeds (rliable), the exact (Clopper--Pearson) 95\\% "
        "interval of the final round's test episodes pooled over seeds, mean $\\pm$ standard error "
        "over seeds, and the normalised area under the test-success curve (AUC). Test tasks: held "
        "out (disjoint from the training tasks) or train = test (a single task), from the run "
        "manifests. $^\\dagger$: made before evaluation had random streams of its own.}",
        "\\label{tab:priorbench}", "\\end{table}", "",
    ]
    return "\n".join(lines)
