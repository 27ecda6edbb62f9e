"""The leaderboard's plots (PNG, matplotlib without pyplot): learning curves (all envs in one
grid, and per env), final IQM with CIs, probability of improvement, whether a prior helps.
Drawn under `plot_style` (matplotlib's defaults, no user rc, no dates or versions in the files),
so the same rows give the same bytes. The main figures show the main rows only: SYNTHETIC priors
and reduced budgets are drawn apart (`plot_curves_apart`), so they are never read as results.
Each `*_figure` function builds a figure without saving it (tests inspect it); `plot_*` saves."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from priorbench.bench import schema
from priorbench.bench.leaderboard.stats import Row
from priorbench.core.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_DPI = 100
PNG_METADATA: dict[str, str | None] = {"Software": None}
#: The files `build` draws; older ones (of envs or pairs no longer in the runs) are removed.
PLOT_PATTERNS = ("curves.png", "curves-*.png", "final-iqm.png", "probability-of-improvement.png",
                 "prior-quality.png", "prior-effects.png")
#: File names (under plots/) of the all-envs curves grid, the rows drawn apart, the forest plot.
CURVES_GRID, CURVES_APART, PRIOR_EFFECTS = "curves.png", "curves-apart.png", "prior-effects.png"
#: A cycle of 7 (coprime to the 20 colours): a (colour, marker) pair repeats after 140 labels.
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


@contextmanager
def plot_style() -> Iterator[None]:
    """matplotlib's defaults (no user rc), fixed SVG ids; no pyplot, no global backend."""
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context({
        "svg.hashsalt": "priorbench", "font.family": "DejaVu Sans", "font.size": 9,
        "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": PLOT_DPI,
    }):
        yield


def _save(fig: Any, path: Path) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PLOT_DPI, metadata=PNG_METADATA)
    data = buffer.getvalue()
    path.write_bytes(data)
    return data


def is_main(label: str) -> bool:
    """True for a label the main figures show: neither a SYNTHETIC prior nor a reduced budget."""
    return not (schema.is_synthetic(label) or schema.is_reduced(label))


def agent_styles(agents: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Colour, marker and line style per table label, from the sorted label set. Colours are
    tab20 with its 10 strong colours first, then their light partners (dashed, and on another
    marker); main labels take the first slots and the apart ones (SYNTHETIC, reduced) the next,
    so each figure's series sit on consecutive slots: distinct colours up to 20 series (tab10
    repeated after 10), distinct (colour, marker) up to 140."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    order = sorted(set(agents), key=lambda a: (not is_main(a), a))
    return {a: {"color": cmap(2 * (i % 10) + (i // 10) % 2), "marker": MARKERS[i % len(MARKERS)],
                "linestyle": "--" if (i // 10) % 2 else "-"} for i, a in enumerate(order)}


def agent_colours(agents: Sequence[str]) -> dict[str, Any]:
    """The colour part of `agent_styles`."""
    return {a: style["color"] for a, style in agent_styles(agents).items()}


def _style(styles: dict[str, Any], label: str) -> dict[str, Any]:
    """`styles[label]` as a style; a bare colour (from `agent_colours`) gets a solid line, dots."""
    style = styles[label]
    return dict(style) if isinstance(style, dict) else {"color": style, "marker": "o",
                                                        "linestyle": "-"}


def slug(env_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", env_id)


def _curve(ax: Any, row: Row, style: dict[str, Any], label: str) -> Any:
    """One row's IQM curve with its 95% CI shaded; returns the line (the legend's handle)."""
    c = row.curve
    assert c is not None
    xs, mid, lo, hi = list(c.steps), list(c.iqm), list(c.lower), list(c.upper)
    budget = row.stats["budget_steps"]
    if xs[-1] < budget:  # an agent that does not train: flat over the budget
        xs, mid, lo, hi = xs + [budget], mid + [mid[-1]], lo + [lo[-1]], hi + [hi[-1]]
    (line,) = ax.plot(xs, mid, label=label, linewidth=1.5, markersize=3.5,
                      markevery=max(1, len(xs) // 12), **style)
    ax.fill_between(xs, lo, hi, color=style["color"], alpha=0.15, linewidth=0)
    return line


def _seeds_note(rows: Sequence[Row]) -> str:
    ns = sorted({len(r.runs) for r in rows})
    return f"n={ns[0]}" if len(ns) == 1 else f"n={ns[0]}–{ns[-1]}"


def _legend_columns(labels: Sequence[str], width: float) -> int:
    """How many legend columns of these labels (8 pt) fit across `width` inches."""
    return max(1, min(len(labels), int(width // (0.8 * _label_inches(labels) + 0.7))))


def curves_figure(rows: Sequence[Row], env: str, styles: dict[str, Any]) -> Figure:
    """`env`'s learning curves of its main rows, the legend right of the axes."""
    from matplotlib.figure import Figure

    drawn = [r for r in rows if r.env == env and r.curve is not None and is_main(r.agent)]
    labels = [f"{r.agent} (n={len(r.runs)})" for r in drawn]
    fig = Figure(figsize=(6.0 + 0.8 * _label_inches(labels), max(3.6, 0.19 * len(drawn) + 0.8)),
                 layout="constrained")
    ax = fig.add_subplot()
    handles = [_curve(ax, r, _style(styles, r.agent), label)
               for r, label in zip(drawn, labels, strict=True)]
    if not drawn:
        ax.text(0.5, 0.5, "no main rows (SYNTHETIC / reduced-budget rows are drawn apart)",
                ha="center", va="center", transform=ax.transAxes, fontsize=8)
    ax.set_xlabel("training env steps")
    ax.set_ylabel("test success: IQM over seeds, 95% CI")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(env, fontsize=9)
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    return fig


def plot_curves(rows: Sequence[Row], env: str, path: Path, styles: dict[str, Any]) -> bytes:
    """`curves_figure` saved; `styles` from `agent_styles` (or colours from `agent_colours`)."""
    return _save(curves_figure(rows, env, styles), path)


def _curves_grid(rows: Sequence[Row], envs: Sequence[str], styles: dict[str, Any],
                 title: str) -> Figure:
    """Small multiples: a panel per env (y shared, x each env's budget), one legend below."""
    from matplotlib.figure import Figure

    if not envs:
        raise UserError("no leaderboard rows to plot curves of; give rows of at least one env")
    n = len(envs)
    ncols = 2 if n == 4 else min(3, n)
    nrows = -(-n // ncols)
    agents = sorted({r.agent for r in rows if r.env in envs and r.curve is not None})
    width = max(3.7 * ncols, 6.0, 0.8 * _label_inches(agents) + 1.4)
    legend_cols = _legend_columns(agents, width)
    height = 2.7 * nrows + 0.5 + 0.2 * -(-len(agents) // legend_cols)
    fig = Figure(figsize=(width, height), layout="constrained")
    handles: dict[str, Any] = {}
    first = None
    for i, env in enumerate(envs):
        ax = fig.add_subplot(nrows, ncols, i + 1, sharey=first)
        first = first or ax
        for row in rows:
            if row.env == env and row.curve is not None:
                handles[row.agent] = _curve(ax, row, _style(styles, row.agent), row.agent)
        if not any(r.env == env and r.curve is not None for r in rows):
            ax.text(0.5, 0.5, "no rows here", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(env, fontsize=8)
        ax.tick_params(labelsize=7, labelleft=i % ncols == 0)
        if i % ncols == 0:
            ax.set_ylabel("test success (IQM)", fontsize=8)
        if i >= n - ncols:
            ax.set_xlabel("training env steps", fontsize=8)
    fig.suptitle(title, fontsize=9)
    if handles:
        fig.legend([handles[a] for a in agents], agents, loc="outside lower center", fontsize=8,
                   ncols=legend_cols)
    return fig


def curves_grid_figure(rows: Sequence[Row], styles: dict[str, Any]) -> Figure:
    """Every env's learning curves (main rows only) in one figure, a panel per env."""
    main = [r for r in rows if is_main(r.agent)]
    return _curves_grid(main, sorted({r.env for r in rows}), styles,
                        "Test success vs training env steps\nIQM over seeds "
                        f"({_seeds_note(main or rows)} per row), shaded 95% CI")


def plot_curves_grid(rows: Sequence[Row], path: Path, styles: dict[str, Any]) -> bytes:
    """`curves_grid_figure` saved (plots/curves.png, `CURVES_GRID`)."""
    return _save(curves_grid_figure(rows, styles), path)


def curves_apart_figure(rows: Sequence[Row], styles: dict[str, Any]) -> Figure | None:
    """The SYNTHETIC-prior and reduced-budget rows' curves, a panel per env that has them;
    None when there are none."""
    apart = [r for r in rows if not is_main(r.agent)]
    if not apart:
        return None
    return _curves_grid(apart, sorted({r.env for r in apart}), styles,
                        "Apart from the results: SYNTHETIC priors (oracles, controls) and reduced "
                        f"budgets\nTest success: IQM over seeds ({_seeds_note(apart)} per row), "
                        "shaded 95% CI")


def plot_curves_apart(rows: Sequence[Row], path: Path, styles: dict[str, Any]) -> bytes | None:
    """`curves_apart_figure` saved (plots/curves-apart.png, `CURVES_APART`); None, and no file,
    when no row is SYNTHETIC or reduced."""
    fig = curves_apart_figure(rows, styles)
    return None if fig is None else _save(fig, path)


def _interval_panel(ax: Any, labels: Sequence[str], points: Sequence[float], lows: Sequence[float],
                    highs: Sequence[float], colours: Sequence[Any],
                    markers: Sequence[str] | None = None) -> None:
    """A bar per label (its interval) with the point on it: a tick, or the label's marker."""
    ys = np.arange(len(labels))[::-1]
    for i, (y, p, lo, hi, c) in enumerate(zip(ys, points, lows, highs, colours, strict=True)):
        ax.plot([lo, hi], [y, y], color=c, linewidth=5, alpha=0.45, solid_capstyle="butt")
        if markers is None:
            ax.plot([p], [y], marker="|", color=c, markersize=14, markeredgewidth=2)
        else:
            ax.plot([p], [y], marker=markers[i], color=c, markersize=6, markeredgecolor="black",
                    markeredgewidth=0.6)
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)


def _label_inches(labels: Sequence[str]) -> float:
    """About how wide the longest tick label is drawn (inches, default 10 pt font)."""
    return 0.075 * max((len(label) for label in labels), default=0)


def final_figure(rows: Sequence[Row], overall_rows: Sequence[dict[str, Any]],
                 styles: dict[str, Any]) -> Figure:
    """Final IQM with its CI, a panel per env and one over envs; main rows only."""
    from matplotlib.figure import Figure

    rows = [r for r in rows if is_main(r.agent)]
    envs = sorted({r.env for r in rows})
    panels: list[tuple[str, list[tuple[str, float, float, float]]]] = [
        (env, [(r.agent, r.stats["iqm"], r.stats["iqm_lo"], r.stats["iqm_hi"])
               for r in rows if r.env == env]) for env in envs]
    overall_main = [o for o in overall_rows if is_main(o["agent"])]
    if overall_main:
        panels.append(("all envs (tasks = envs)",
                       [(o["agent"], o["iqm"], o["iqm_lo"], o["iqm_hi"]) for o in overall_main]))
    if not panels:
        fig = Figure(figsize=(6.0, 1.5))
        fig.text(0.5, 0.5, "no main rows (SYNTHETIC / reduced-budget rows are left out)",
                 ha="center", va="center")
        return fig
    width = max(4.2, 2.4 + _label_inches([a for _, items in panels for a, *_ in items]))
    ncols = min(3 if width < 6 else 2, len(panels))
    nrows = -(-len(panels) // ncols)
    height = max(len(p[1]) for p in panels) * 0.35 + 1.3
    fig = Figure(figsize=(width * ncols, height * nrows))
    for i, (title, items) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        item_styles = [_style(styles, a) for a, *_ in items]
        _interval_panel(ax, [a for a, *_ in items], [p for _, p, _, _ in items],
                        [lo for *_, lo, _ in items], [hi for *_, hi in items],
                        [s["color"] for s in item_styles], [s["marker"] for s in item_styles])
        ax.set_xlim(-0.03, 1.03)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("final test success: IQM, 95% CI")
    fig.tight_layout()
    return fig


def plot_final(rows: Sequence[Row], overall_rows: Sequence[dict[str, Any]], path: Path,
               styles: dict[str, Any]) -> bytes:
    """`final_figure` saved; `styles` from `agent_styles` (or colours from `agent_colours`)."""
    return _save(final_figure(rows, overall_rows, styles), path)


def plot_improvement(pairs: Sequence[dict[str, Any]], path: Path, colours: dict[str, Any]) -> bytes:
    """`colours`: `agent_styles` or `agent_colours` (the colour of each pair's first agent)."""
    from matplotlib.figure import Figure

    labels = [f"P({p['x']} > {p['y']})" for p in pairs]
    fig = Figure(figsize=(max(6.0, 3.0 + _label_inches(labels)), 0.38 * len(pairs) + 1.2))
    ax = fig.add_subplot()
    _interval_panel(ax, labels, [p["p"] for p in pairs],
                    [p["p_lo"] for p in pairs], [p["p_hi"] for p in pairs],
                    [_style(colours, p["x"])["color"] for p in pairs])
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("probability of improvement (final test success), 95% CI")
    fig.tight_layout()
    return _save(fig, path)


def plot_prior_quality(data: dict[str, Any], path: Path) -> bytes:
    """Per env, a bar per real prior (cov@5 on the test split) next to uniform's cov@5 (grey);
    `data` as bench.leaderboard.quality reads it (SYNTHETIC priors left out)."""
    from matplotlib.figure import Figure

    entries = [e for e in data["entries"] if not e["synthetic"]]
    envs = sorted({e["env"] for e in entries})
    panels = [(env, [e for e in entries if e["env"] == env]) for env in envs]
    def name(e: dict[str, Any]) -> str:  # vi/twosome's token-normalised scores apart
        return e["prior"] + ("" if e["normalization"] == "sum" else f" ({e['normalization']}-norm.)")

    labels = [name(e) for e in entries] + ["uniform"]
    width = max(6.0, 3.2 + _label_inches(labels))
    heights = [0.32 * (len(items) + 1) + 0.9 for _, items in panels]
    fig = Figure(figsize=(width, sum(heights)))
    grid = fig.add_gridspec(len(panels), 1, height_ratios=heights)
    for i, (env, items) in enumerate(panels):
        ax = fig.add_subplot(grid[i])
        names = [name(e) for e in items] + ["uniform"]
        values = [float(e["cov@5"]) for e in items] + [float(items[0]["uniform_cov@5"])]
        ys = np.arange(len(names))[::-1]
        colours = ["tab:blue"] * len(items) + ["grey"]
        ax.barh(ys, values, color=colours, height=0.6)
        for y, v in zip(ys, values, strict=True):
            ax.text(min(v + 0.01, 0.9), y, f"{v:.2f}", va="center", fontsize=8)
        ax.axvline(values[-1], color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(ys, names)
        ax.set_xlim(0, 1.0)
        ax.set_title(env, fontsize=8)
    ax.set_xlabel("cov@5 (test split): P(expert's command in 5 draws)")
    fig.tight_layout()
    return _save(fig, path)


#: What each comparison of a prior row is against: (colour, legend text), by its `vs`.
PRIOR_EFFECT_VS = {
    "control": ("tab:purple", "vs its control (the same agent, uniform SYNTHETIC prior)"),
    "plain": ("tab:blue", "vs the plain agent (no prior)"),
    "counterpart": ("tab:cyan", "vs its counterpart with the same prior (vi: twosome)"),
    "llm": ("tab:orange", "vs the prior's LLM acting alone (greedy)"),
    "llm-sample": ("tab:brown", "vs the prior's LLM acting alone (sampling)"),
}


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def prior_effects_figure(effects: Sequence[dict[str, Any]]) -> Figure:
    """A forest plot: per env, per prior row, a line per comparison (`vs`) — the mean paired
    difference in final test success (point), its 95% CI over seed pairs (thick bar) and the
    95% interval of the pooled episodes' difference (thin whisker); on the right the number,
    and the effect's `reading` when it has one.
    The prior row's label heads its lines, so long labels are written once and never cut."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not effects:
        raise UserError("no prior effects to plot; give at least one (env, agent, vs) comparison")
    vs_order = [*PRIOR_EFFECT_VS, *sorted({e["vs"] for e in effects} - set(PRIOR_EFFECT_VS))]
    panels: list[tuple[str, list[tuple[str, dict[str, Any] | None]]]] = []
    for env in sorted({e["env"] for e in effects}):
        lines: list[tuple[str, dict[str, Any] | None]] = []
        for agent in sorted({e["agent"] for e in effects if e["env"] == env}):
            lines.append((agent, None))
            lines += [(f"vs {e['other']} · {e['pairs']} pairs", e) for e in sorted(
                (e for e in effects if e["env"] == env and e["agent"] == agent),
                key=lambda e: (vs_order.index(e["vs"]), e["other"]))]
        panels.append((env, lines))
    labels = [text for _, lines in panels for text, _ in lines]
    heights = [0.24 * len(lines) + 0.45 for _, lines in panels]
    width = max(8.0, 5.6 + 1.05 * _label_inches(labels))
    used = [vs for vs in vs_order if any(e["vs"] == vs for e in effects)]
    fig = Figure(figsize=(width, sum(heights) + 1.4), layout="constrained")
    grid = fig.add_gridspec(len(panels), 1, height_ratios=heights)
    first = None
    for i, (env, lines) in enumerate(panels):
        ax = fig.add_subplot(grid[i], sharex=first)
        first = first or ax
        ys = np.arange(len(lines))[::-1]
        numbers: list[tuple[float, str]] = []
        for y, (_, e) in zip(ys, lines, strict=True):
            if e is None:
                continue
            colour = PRIOR_EFFECT_VS.get(e["vs"], ("grey", ""))[0]
            ax.plot([_number(e["lo"]), _number(e["hi"])], [y, y], color=colour, linewidth=6,
                    alpha=0.5, solid_capstyle="butt")
            ep = [_number(e["ep_lo"]), _number(e["ep_hi"])]  # over the bar: both always seen
            ax.plot(ep, [y, y], color=colour, linewidth=1)
            ax.plot(ep, [y, y], color=colour, linestyle="none", marker="|", markersize=7)
            delta = _number(e["delta"])
            ax.plot([delta], [y], color=colour, marker="o", markersize=5.5,
                    markeredgecolor="black", markeredgewidth=0.6, gid="prior-effect")
            reading = f"  {e['reading']}" if e.get("reading") else ""
            numbers.append((y, ("n/a" if np.isnan(delta) else f"{delta:+.2f}") + reading))
        ax.axvline(0, color="black", linewidth=1)
        ax.set_yticks(ys, [text for text, _ in lines], fontsize=8)
        for tick, (_, e) in zip(ax.get_yticklabels(), lines, strict=True):
            if e is None:
                tick.set_fontweight("bold")
            else:
                tick.set_color(PRIOR_EFFECT_VS.get(e["vs"], ("grey", ""))[0])
        ax.set_ylim(-0.7, len(lines) - 0.3)
        ax.set_xlim(-1.05, 1.05)
        ax.set_xticks([-1, -0.5, 0, 0.5, 1])
        ax.set_title(env, fontsize=8)
        right = ax.twinx()  # each line's number, read off without following the grid
        right.set_ylim(ax.get_ylim())
        right.set_yticks([y for y, _ in numbers], [text for _, text in numbers], fontsize=7)
        right.grid(False)
        if i < len(panels) - 1:
            ax.tick_params(labelbottom=False)
    ax.set_xlabel("difference in final test success: prior row − compared row")
    fig.suptitle("Does the prior help? Final test success, prior row minus the compared row, "
                 "paired by seed", fontsize=9)
    handles = [Line2D([], [], color=PRIOR_EFFECT_VS.get(vs, ("grey", ""))[0], linewidth=6,
                      alpha=0.5) for vs in used]
    texts = [PRIOR_EFFECT_VS.get(vs, ("", f"vs {vs}"))[1] for vs in used]
    handles += [Line2D([], [], color="grey", marker="o", linestyle="none",
                       markeredgecolor="black", markeredgewidth=0.6),
                Line2D([], [], color="grey", linewidth=6, alpha=0.5),
                Line2D([], [], color="grey", linewidth=1, marker="|", markersize=7)]
    texts += ["point: mean paired difference over seeds",
              "thick bar: 95% bootstrap CI over seed pairs",
              "thin whisker: 95% interval of the pooled episodes' difference"]
    fig.legend(handles, texts, loc="outside lower center", fontsize=8, ncols=2)
    return fig


def plot_prior_effects(effects: Sequence[dict[str, Any]], path: Path) -> bytes:
    """`prior_effects_figure` saved (plots/prior-effects.png, `PRIOR_EFFECTS`)."""
    return _save(prior_effects_figure(effects), path)
