"""The leaderboard's plots (PNG, matplotlib without pyplot): learning curves per env, final IQM
with CIs, probability of improvement. Drawn under `plot_style` (matplotlib's defaults, no user
rc, no dates or versions in the files), so the same rows give the same bytes."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.bench.leaderboard.stats import Row

PLOT_DPI = 100
PNG_METADATA: dict[str, str | None] = {"Software": None}
#: The files `build` draws; older ones (of envs or pairs no longer in the runs) are removed.
PLOT_PATTERNS = ("curves-*.png", "final-iqm.png", "probability-of-improvement.png",
                 "prior-quality.png")


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


def agent_colours(agents: Sequence[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {a: cmap(i % 10) for i, a in enumerate(sorted(set(agents)))}


def slug(env_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", env_id)


def plot_curves(rows: Sequence[Row], env: str, path: Path, colours: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    for row in rows:
        if row.env != env or row.curve is None:
            continue
        c = row.curve
        xs, mid, lo, hi = list(c.steps), list(c.iqm), list(c.lower), list(c.upper)
        budget = row.stats["budget_steps"]
        if xs[-1] < budget:  # an agent that does not train: flat over the budget
            xs, mid, lo, hi = xs + [budget], mid + [mid[-1]], lo + [lo[-1]], hi + [hi[-1]]
        ax.plot(xs, mid, color=colours[row.agent], label=f"{row.agent} (n={len(row.runs)})",
                linewidth=1.6, marker="o" if len(c.steps) > 1 else None, markersize=3)
        ax.fill_between(xs, lo, hi, color=colours[row.agent], alpha=0.2, linewidth=0)
    ax.set_xlabel("training env steps")
    ax.set_ylabel("test success: IQM over seeds, 95% CI")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(env, fontsize=9)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def _interval_panel(ax: Any, labels: Sequence[str], points: Sequence[float], lows: Sequence[float],
                    highs: Sequence[float], colours: Sequence[Any]) -> None:
    ys = np.arange(len(labels))[::-1]
    for y, p, lo, hi, c in zip(ys, points, lows, highs, colours, strict=True):
        ax.plot([lo, hi], [y, y], color=c, linewidth=5, alpha=0.45, solid_capstyle="butt")
        ax.plot([p], [y], marker="|", color=c, markersize=14, markeredgewidth=2)
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)


def _label_inches(labels: Sequence[str]) -> float:
    """About how wide the longest tick label is drawn (inches, default 10 pt font)."""
    return 0.075 * max((len(label) for label in labels), default=0)


def plot_final(rows: Sequence[Row], overall_rows: Sequence[dict[str, Any]], path: Path,
               colours: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    envs = sorted({r.env for r in rows})
    panels: list[tuple[str, list[tuple[str, float, float, float]]]] = [
        (env, [(r.agent, r.stats["iqm"], r.stats["iqm_lo"], r.stats["iqm_hi"])
               for r in rows if r.env == env]) for env in envs]
    if overall_rows:
        panels.append(("all envs (tasks = envs)",
                       [(o["agent"], o["iqm"], o["iqm_lo"], o["iqm_hi"]) for o in overall_rows]))
    width = max(4.2, 2.4 + _label_inches([a for _, items in panels for a, *_ in items]))
    ncols = min(3 if width < 6 else 2, len(panels))
    nrows = -(-len(panels) // ncols)
    height = max(len(p[1]) for p in panels) * 0.35 + 1.3
    fig = Figure(figsize=(width * ncols, height * nrows))
    for i, (title, items) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        _interval_panel(ax, [a for a, *_ in items], [p for _, p, _, _ in items],
                        [lo for *_, lo, _ in items], [hi for *_, hi in items],
                        [colours[a] for a, *_ in items])
        ax.set_xlim(-0.03, 1.03)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("final test success: IQM, 95% CI")
    fig.tight_layout()
    return _save(fig, path)


def plot_improvement(pairs: Sequence[dict[str, Any]], path: Path, colours: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    labels = [f"P({p['x']} > {p['y']})" for p in pairs]
    fig = Figure(figsize=(max(6.0, 3.0 + _label_inches(labels)), 0.38 * len(pairs) + 1.2))
    ax = fig.add_subplot()
    _interval_panel(ax, labels, [p["p"] for p in pairs],
                    [p["p_lo"] for p in pairs], [p["p_hi"] for p in pairs],
                    [colours[p["x"]] for p in pairs])
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
