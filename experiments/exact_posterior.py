"""What k buys (issue 34): dqn-prior at k ∈ {1, 2, 5, 10, 20} against the exact posterior
(dqn-posterior: dqn-prior's policy as k → ∞, with the soft backup in place of dqn-prior's max over its
proposals), per prior quality, on unseen test maps.

    python experiments/exact_posterior.py run [--workers N] [--only frozenlake|textworld]
    python experiments/exact_posterior.py probe
    python experiments/exact_posterior.py report [--out PAGE.md]

`run` makes what is missing of experiments/exact-posterior-frozenlake.toml and
experiments/exact-posterior-textworld.toml (Coin Collector 2; `--only frozenlake|textworld`) under
experiments/runs/exact-posterior-*/; `report` rebuilds experiments/results/exact-posterior.md and its
figures from the stored runs alone (and `probe`'s probe.json: experiments/exact_posterior_probe.py).
Verdicts use the leaderboard's claim checker.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling module paper_claims_rows: rows, verdicts, CPU hours
import exact_posterior_probe  # noqa: E402
from paper_claims_rows import claim, cpu_hours, rows, verdict_line, wins_at  # noqa: E402

PAGE = Path("experiments/results/exact-posterior.md")
FIGURES = "exact-posterior"
KS = (1, 2, 5, 10, 20)


@dataclass(frozen=True)
class Setting:
    """One env of the sweep: its spec, runs and what the page says about it."""

    key: str
    title: str
    env: str
    spec: str
    steps: int
    unit: str
    about: str
    distilled: str

    @property
    def runs(self) -> Path:
        return Path(f"experiments/runs/exact-posterior-{self.key}")


SETTINGS = (
    Setting("frozenlake", "Frozen Lake Random", "priorbench/FrozenLake-4x4-Random-v0",
            "experiments/exact-posterior-frozenlake.toml", 3000, "maps",
            "100 random train maps, 20 unseen test maps (one episode each per round); 3,000 steps, evaluated every "
            "250, 5 seeds a point; lr 0.003 and γ 0.9 (core-v1's Frozen Lake settings). Here q = 0.3 is a weak prior: "
            "where only 2 or 3 moves are open (12 of the 16 cells) it puts less mass on the expert's move than on "
            "each other one, so its argmax misleads there (sampled, it plays about as the uniform control does).", "SmolLM2 distilled (real)"),
    Setting("textworld", "TextWorld Coin Collector 2", "priorbench/TextWorld-CoinCollector-2-v0",
            "experiments/exact-posterior-textworld.toml", 2000, "games",
            "core-v1's headline level (the coin 10 rooms away among 20, dead ends): 20 unseen test games of up to "
            "60 steps (one episode each per round); 2,000 steps (twice core-v1's budget), evaluated every 500, "
            "5 seeds a point; the agents' registered settings.", "SmolLM2 distilled (real)"),
)
#: folder → what the page calls the prior (SYNTHETIC ones say so); "distilled" is the setting's.
ORACLES = {"uniform": "SYNTHETIC uniform (the control)", "oracle-q0.3": "SYNTHETIC oracle q = 0.3", "oracle-q0.6": "SYNTHETIC oracle q = 0.6",
           "oracle-q0.9": "SYNTHETIC oracle q = 0.9 (good)"}
#: The exact posterior's α check (Frozen Lake): folder of each α (0.1 is the sweep's own "exact").
#: These runs evaluate by the posterior's argmax (its rule before the evaluation fix): 0.1 is the
#: sweep's exact-argmax point.
ALPHAS = {0.03: "exact-a0.03", 0.1: "exact-argmax", 0.3: "exact-a0.3", 1.0: "exact-a1"}
ALPHA_PRIORS = ("distilled", "oracle-q0.3", "oracle-q0.6")
#: Each setting's α check: its folders by α, its priors, and how it is evaluated (TextWorld's samples
#: the posterior, as its sweep does; α = 0.1 is the sweep's own exact row).
ALPHA_CHECKS = {
    "frozenlake": (ALPHAS, ALPHA_PRIORS, "Evaluated by the posterior's argmax (these runs predate the evaluation "
                   "fix; the α = 0.1 column is the exact-argmax row above)", "dqn-prior k = 5 (sampled: not like for like)"),
    "textworld": ({0.1: "exact", 0.3: "exact-a0.3", 1.0: "exact-a1"}, ("distilled",),
                  "Evaluated by a sample of the posterior, as the sweep (the α = 0.1 column is its exact row)",
                  "dqn-prior k = 5"),
}
#: Steps to this test success on the IQM curve (the expert wins every test task).
LEVEL = 0.8
NOT_RUN = "not run"


def priors(setting: Setting) -> dict[str, str]:
    return {**ORACLES, "distilled": setting.distilled}


#: Every row read by this report, by its folder (for the CPU total: each run once).
_READ: dict[Path, Any] = {}


def row(setting: Setting, folder: Path) -> Any:
    """The one leaderboard row of a point's finished runs (None until they exist)."""
    found = list(rows([folder], setting.env).values())
    _READ[folder] = found[0] if len(found) == 1 else None
    return _READ[folder]


def cells(r: Any) -> tuple[str, str, float | None, float | None]:
    """(steps to LEVEL [band], final success [exact CI], steps point, final point)."""
    from priorbench.bench.leaderboard import claims

    if r is None or len(r.runs) < claims.MIN_SEEDS:
        return "not run", "not run", None, None
    v = claim("s", "s", "steps_to", (r.id,), "<=", r.stats["budget_steps"] - 1, {r.id: r}, level=LEVEL)
    steps = claims.figure_text(v).split(" (")[0]
    s = r.stats
    seeds = "" if len(r.runs) == 5 else f", {len(r.runs)} seeds"  # a point's seeds land one by one
    final = f"{s['wins'] / s['episodes']:.2f} [{s['exact_lo']:.2f}, {s['exact_hi']:.2f}] ({s['wins']}/{s['episodes']}{seeds})"
    return steps, final, v.value, s["wins"] / s["episodes"]


def report(page: Path = PAGE) -> None:
    lines = ["# What k buys: dqn-prior's k proposals against the exact posterior", "",
             "Rebuilt by `python experiments/exact_posterior.py report` from the stored runs of "
             + " and ".join(f"`{x.spec}` (`{x.runs}/`)" for x in SETTINGS) + ". dqn-prior draws k commands from "
             "the prior and acts by softmax(10·Q) over them; the exact posterior (`dqn-posterior`, α = 0.1: the same "
             "temperature) acts by p(a|s)·exp(Q/α) over every admissible command, at evaluation too (a sample of "
             "the posterior, as dqn-prior's evaluation samples softmax(10·Q) over its k), and regresses on the soft backup "
             "V(s') = α·log Σ p(a'|s')·exp(Q(s', a')/α), the prior normalised over the commands. The SYNTHETIC "
             "oracle puts mass q on the expert's command and spreads the rest: it is not an LLM.", "",
             f"Steps to {LEVEL:.0%} test success: the first evaluation step where the IQM curve over seeds "
             "reaches it, with the interval from the curve's 95% band (never: not within the budget); a row can "
             "reach it at step 0 and end below it, so read it with the final row. "
             "Final: the last round's test episodes pooled over seeds, exact 95% interval. Each verdict is the "
             "leaderboard's claim checker on the final round.", ""]
    _READ.clear()
    for setting in SETTINGS:
        points = {prior: {**{f"k{k}": row(setting, setting.runs / prior / f"k{k}") for k in KS},
                          "exact": row(setting, setting.runs / prior / "exact")} for prior in priors(setting)}
        lines += section(setting, points, page.parent / FIGURES)
        lines += exact_posterior_probe.section(setting.runs, priors(setting))
        if setting.key == "frozenlake":
            argmax_rows = {prior: {key: row(setting, setting.runs / prior / f"{key}-argmax") for key in ("exact", "k5")}
                           for prior in priors(setting)}
            lines += rule_section(setting, argmax_rows, points)
        alphas, alpha_priors, _, _ = ALPHA_CHECKS[setting.key]
        alpha_rows = {prior: {a: row(setting, setting.runs / prior / folder) for a, folder in alphas.items()}
                      for prior in alpha_priors}
        lines += alpha_section(setting, alpha_rows, points)
    hours = cpu_hours([{str(folder): x for folder, x in _READ.items() if x is not None}])
    lines += [f"CPU: {hours:.2f} CPU-hours in all (the runs' wall time, one thread each).", ""]
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(lines) + "\n")
    print(f"wrote {page}", file=sys.stderr)


def section(setting: Setting, points: dict[str, dict[str, Any]], figures: Path) -> list[str]:
    """One env: steps to LEVEL and final success per (prior, k), the verdicts, the figure."""
    from priorbench.bench.leaderboard import claims

    names = priors(setting)
    lines = [f"## {setting.title}", "", f"{setting.env}: {setting.about}", "",
             "| prior | " + " | ".join(f"k = {k}" + (" (the prior's draw)" if k == 1 else "") for k in KS)
             + " | exact posterior |", "|---|" + "---:|" * (len(KS) + 1)]
    finals, moves, covers, spread = [], [], [], []
    for prior, name in names.items():
        shown = {key: cells(r) for key, r in points[prior].items()}
        lines.append(f"| {name}: steps to {LEVEL:.0%} | " + " | ".join(shown[key][0] for key in shown) + " |")
        finals.append(f"| {name}: final success | " + " | ".join(shown[key][1] for key in shown) + " |")
        moves.append(f"| {name}: wins, step 0 → final | " + " | ".join(
            NOT_RUN if shown[key][3] is None else _start_final(r) for key, r in points[prior].items()) + " |")
        covers.append(f"| {name}: expert's command among the candidates, step 0 | " + " | ".join(
            NOT_RUN if shown[key][3] is None else coverage(r) for key, r in points[prior].items()) + " |")
        starts = [wins_at(r, first=True) for key, r in points[prior].items() if shown[key][3] is not None]
        if len(starts) > 1:
            spread.append(f"{name} {min(w for w, _ in starts)}–{max(w for w, _ in starts)}/{starts[0][1]}")
    verdicts = []
    budget = f"{setting.steps:,}"
    for prior, name in names.items():
        exact, five = points[prior]["exact"], points[prior]["k5"]
        sentence = (f"with {name}, the exact posterior wins more unseen {setting.unit} at {budget} steps than "
                    "dqn-prior with k = 5")
        if exact is None or five is None or min(len(exact.runs), len(five.runs)) < claims.MIN_SEEDS:
            verdicts.append(f"- **{NOT_RUN}** — {sentence} (a row is missing)")
            continue
        v = claim(f"{setting.key}-exact-vs-k5-{prior}", sentence, "success_difference", (exact.id, five.id), ">",
                  0.0, {exact.id: exact, five.id: five})
        (w0, n0), (f0, m0) = wins_at(exact, first=True), wins_at(five, first=True)
        verdicts.append(f"- {verdict_line(v, note=f'at step 0 they won {w0}/{n0} and {f0}/{m0}')}")
        verdicts += reverse(v, f"k = 5 wins more unseen {setting.unit} than the exact posterior",
                            {exact.id: exact, five.id: five})
    gains = []
    for prior, name in names.items():
        exact = points[prior]["exact"]
        sentence = f"with {name}, the exact posterior wins more unseen {setting.unit} at {budget} steps than at step 0"
        if exact is None or len(exact.runs) < claims.MIN_SEEDS:
            gains.append(f"- **{NOT_RUN}** — {sentence} (the row is missing)")
            continue
        v = claim(f"{setting.key}-exact-gains-{prior}", sentence, "gain", (exact.id,), ">", 0.0, {exact.id: exact})
        gains.append(f"- {verdict_line(v)}")
        gains += reverse(v, "it ends with fewer wins than at step 0", {exact.id: exact})
    return [*lines, *finals, *moves, *covers, "", "\"Wins, step 0 → final\" are each point's test wins at step 0 "
            "(before any update) and in the final round, pooled over its seeds: where a prior's own play starts high, "
            "they show whether learning added to it or took from it. \"Expert's command among the candidates\" is "
            "the share of step-0 test decisions whose candidate set held the expert's command (dqn-prior's k draws; "
            "every admissible command for the exact posterior): how often k draws could trap the policy at all. "
            "At step 0 Q is untrained, so every point of a prior plays (nearly) the same policy: the spread of its "
            "step-0 wins across the points is the noise of one such measurement — "
            + "; ".join(spread) + ". k = 1 is the prior's own sampled play: Q has one candidate to choose from. "
            "The exact posterior differs from dqn-prior in two things at once, every command as candidates and the "
            "soft backup in place of the max over the proposals; these runs do not separate the two.", "", "Does the exact posterior end with more wins than k = 5? Each line is the claim "
            "checker on the final round, with where both started (the step-0 round, before any update): an "
            "exact posterior that ends ahead only by as much as it started ahead did not escape by learning.", "",
            *verdicts, "", "\"does not hold\" is the claim checker's word for \"the runs do not show it\": it covers a "
            "difference too small for these seeds to tell as well as one the other way (an indented \"the reverse\" "
            "line says when the other way holds); read the figures. The page makes many such checks with no "
            "correction for multiplicity: read a Fisher p near 0.05 as weak evidence.", "",
            "Does the sampled exact posterior end above its own step-0 round (the claim checker's gain, mean over "
            "seeds)? A gain here can be the sampled policy sharpening toward what its argmax already did at step 0: "
            "on Frozen Lake, the evaluation-rule table below shows the same training's argmax (it was not measured "
            "on the other env).", "",
            *gains, "",
            *draw(setting, points, figures), ""]


def reverse(v: Any, sentence: str, table: dict[str, Any]) -> list[str]:
    """Where a claim does not hold, whether its reverse does (the other row, or the other way,
    clearly ahead): one more verdict line, indented under it; none when the reverse fails too."""
    from priorbench.bench.leaderboard import claims

    if v.status != claims.FAILS:
        return []
    c = v.claim
    flipped = (c.rows[::-1], ">") if c.statistic == "success_difference" else (c.rows, "<")
    back = claim(f"{c.id}-reverse", f"the reverse: {sentence}", c.statistic, flipped[0], flipped[1], c.threshold,
                 table)
    return [f"  - {verdict_line(back)}"] if back.status == claims.HOLDS else []


def coverage(r: Any) -> str:
    """The share of the step-0 round's decisions whose candidates held the expert's command,
    pooled over the row's seeds (the agents' expert_covered / expert_known counters)."""
    known = covered = 0
    for run in r.runs:
        for e in run.episodes:
            if e["phase"] == "eval" and e.get("eval_round") == 0:
                known += int(e["counters"].get("expert_known", 0))
                covered += int(e["counters"].get("expert_covered", 0))
    return f"{covered / known:.2f}" if known else "–"


def _start_final(r: Any) -> str:
    if r is None:
        return "not run"
    (w0, n0), (w, n) = wins_at(r, first=True), wins_at(r)
    return f"{w0}/{n0} → {w}/{n}"


def rule_section(setting: Setting, argmax_rows: dict[str, dict[str, Any]], points: dict[str, dict[str, Any]]) -> list[str]:
    """What the evaluation rule alone does: the exact posterior evaluated by a sample of it (the
    sweep's rule, dqn-prior's too) against its argmax, the same training (evaluation draws from its
    own streams), per prior."""
    names = priors(setting)
    lines = [f"### The evaluation rule ({setting.title})", "",
             "Each agent's training evaluated two ways: by a sample of its policy (the rows above: the posterior, "
             "or softmax(10·Q) over the k) and by its most likely command (argmax; the exact posterior's rule before "
             "this page's evaluation fix). Evaluation draws from its own random streams, so the two columns of an "
             "agent differ only in how the test episodes are played. Test wins at step 0 → at the end, pooled over "
             "the row's seeds:", "",
             "| prior | exact posterior, sample | exact posterior, argmax | dqn-prior k = 5, sample | dqn-prior k = 5, argmax |",
             "|---|---:|---:|---:|---:|"]
    for prior, name in names.items():
        lines.append(f"| {name} | {_start_final(points[prior]['exact'])} | {_start_final(argmax_rows[prior]['exact'])} | "
                     f"{_start_final(points[prior]['k5'])} | {_start_final(argmax_rows[prior]['k5'])} |")
    return [*lines, "", "Comparing the exact posterior's argmax with dqn-prior's sampled k would credit the "
            "posterior with what argmax alone does (a good prior's argmax is right from step 0); the verdicts "
            "above compare sample with sample. The argmax columns are not like for like either: dqn-prior's argmax "
            "takes the best Q among its k draws, while the exact posterior's maximises log p + Q/α, which at step 0 "
            "(Q untrained) is the prior's own argmax; read them as what each rule does, not as a contest.", ""]


def alpha_section(setting: Setting, alpha_rows: dict[str, dict[float, Any]],
                  points: dict[str, dict[str, Any]]) -> list[str]:
    """The α check: start and final success of the exact posterior at each α, per prior, and
    which α ends best (read with care: choosing α by these test maps is a selection)."""
    cell = _start_final
    names = priors(setting)
    alphas, alpha_priors, evaluated, k5_label = ALPHA_CHECKS[setting.key]
    lines = [f"### The α check ({setting.title})", "",
             "α sets how far Q may overrule the prior: the posterior's log-odds between two commands are their "
             "prior log-odds plus their Q difference divided by α (α → 0: greedy Q; α → ∞: the prior's own "
             f"policy). {evaluated}. Test wins at step 0 → at {setting.steps:,} steps, pooled over the row's seeds "
             f"(20 unseen {setting.unit} each); k = 5 beside it:", "",
             "| prior | " + " | ".join(f"α = {a:g}" for a in alphas) + f" | {k5_label} |",
             "|---|" + "---:|" * (len(alphas) + 1)]
    best = []
    for prior in alpha_priors:
        got = alpha_rows[prior]
        lines.append(f"| {names[prior]} | " + " | ".join(cell(got[a]) for a in alphas)
                     + f" | {cell(points[prior]['k5'])} |")
        ran = {a: wins_at(r) for a, r in got.items() if r is not None and len(r.runs) == 5}
        if len(ran) == len(alphas):
            most = max(w / n for w, n in ran.values())
            tops = [a for a in alphas if ran[a][0] / ran[a][1] == most]
            top = tops[0]
            still = all(wins_at(got[a], first=True) == ran[a] for a in tops)
            best.append(f"- {names[prior]}: the most final wins at α = {', '.join(f'{a:g}' for a in tops)}"
                        f"{' (tied)' if len(tops) > 1 else ''} ({ran[top][0]}/{ran[top][1]}"
                        f"{', the same count as at step 0' if still else ''}); "
                        f"at the sweep's α = 0.1, {ran[0.1][0]}/{ran[0.1][1]}.")
    return [*lines, "", *([*best, ""] if best else []),
            "α was fixed at 0.1 (dqn-prior's β = 10) before the sweep; picking it from these rows would pick it on "
            f"the test {setting.unit}, so the verdicts keep α = 0.1.", ""]


def draw(setting: Setting, points: dict[str, dict[str, Any]], folder: Path) -> list[str]:
    """Steps to LEVEL and final success against k, one line per prior, the exact posterior at the right."""
    from matplotlib.figure import Figure

    from priorbench.bench.leaderboard.plots import _save, plot_style

    folder.mkdir(parents=True, exist_ok=True)
    xs = [*KS, 40]  # the exact posterior drawn at "∞", right of k = 20
    never = setting.steps + setting.steps // 12
    with plot_style():
        fig = Figure(figsize=(8, 3.4))
        left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for i, (prior, name) in enumerate(priors(setting).items()):
            got = [cells(points[prior][key]) for key in (*(f"k{k}" for k in KS), "exact")]
            steps = [never if s is None or math.isinf(s) else s for _, _, s, _ in got]
            # a small shift and a smaller marker per prior: points that coincide stay visible as rings
            shifted, style = [x * 1.06 ** (i - 2) for x in xs], {"marker": "o", "markersize": 10 - 1.6 * i}
            left.plot(shifted, steps, label=name, **style)
            right.plot(shifted, [math.nan if f is None else f for *_, f in got], label=name, **style)
        for ax in (left, right):
            ax.set_xscale("log")
            ax.set_xticks(xs, [*(str(k) for k in KS), "exact"])
            ax.set_xlabel("k (proposals per state)")
        left.set(ylabel=f"steps to {LEVEL:.0%} ({never:,}: never)", ylim=(-100, never + 150),
                 title=f"{setting.title}: steps to 80% vs k")
        right.set(ylabel="final test success (pooled)", ylim=(-0.02, 1.02), title="final success vs k")
        fig.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=6)
        fig.subplots_adjust(bottom=0.3)
        name = "k.png" if setting.key == "frozenlake" else f"k-{setting.key}.png"
        _save(fig, folder / name)
    return [f"![{setting.title}: steps to 80% and final success against k, per prior quality]({FIGURES}/{name})"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--only", choices=[x.key for x in SETTINGS], action="append",
                   help="run only these envs' specs (default: all)")
    sub.add_parser("probe", help="TextWorld: re-make a few distilled runs, playing the train games too "
                   "(experiments/exact_posterior_probe.py)")
    p = sub.add_parser("report")
    p.add_argument("--out", type=Path, default=PAGE)
    args = parser.parse_args()
    os.chdir(HERE.parent)  # the spec's paths are relative to the repository
    if args.command == "run":
        from priorbench.bench import leaderboard_spec

        for setting in SETTINGS:
            if not args.only or setting.key in args.only:
                leaderboard_spec.run(Path(setting.spec), workers=args.workers)
    elif args.command == "probe":
        textworld = next(x for x in SETTINGS if x.key == "textworld")
        exact_posterior_probe.probe(Path(textworld.spec), textworld.runs)
    else:
        report(args.out)


if __name__ == "__main__":
    main()
