"""Stored run records → the leaderboard: tables (Markdown, CSV, LaTeX), plots, a static site.

A pure function of the records under a runs folder: no clocks, no absolute paths, a fixed
bootstrap seed, and matplotlib told to leave dates, versions and random ids out of its files,
so building twice gives the same bytes. Runs that fail `records.verify_run` (checksum, schema,
or a row that mixes priorbench versions, configurations or repeats a seed) are refused and
listed with the reason, in LEADERBOARD.md and on stderr. Also here: `reproduce` (re-run a
row's seeds from their manifests and compare with the stored CI) and `cite` (BibTeX).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.bench import metrics, records
from priorbench.core.errors import UserError

# --- Markdown ------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                   float_format: Sequence[str] | None = None) -> str:
    """A GitHub Markdown table with right-aligned numeric columns (floats: `float_format` per
    column, default .3f; NaN is shown as —)."""
    formats = list(float_format) if float_format is not None else [".3f"] * len(headers)

    def cell(value: Any, fmt: str) -> str:
        if isinstance(value, float):
            return "—" if np.isnan(value) else format(value, fmt)
        return str(value)

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


# --- loading and checking runs -------------------------------------------------------------


@dataclass
class Run:
    """One verified run: where it is (relative to the runs folder), its manifest and summary."""

    path: str
    manifest: dict[str, Any]
    episodes: list[dict[str, Any]]
    summary: dict[str, Any]


def _relative(path: Path, root: Path) -> str:
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return str(path)
    return rel.as_posix() or "."


def _reason(exc: UserError, path: Path, rel: str) -> str:
    """The refusal message with the run's path made relative and the `path: ` prefix dropped."""
    text = str(exc).replace(str(path), rel)
    return text.removeprefix(f"{rel}: ")


def _row_key(manifest: dict[str, Any]) -> tuple[str, str]:
    """(env id, agent name) of a verified manifest."""
    return (str(manifest["env"]["id"]), str(manifest["agent"]["name"]))


def collect(root: Path) -> tuple[dict[tuple[str, str], list[Run]], list[tuple[str, str]]]:
    """Verified runs under `root` grouped into (env, agent) rows, and the refused runs with why.

    Every run is checked on its own first; then each row's survivors are checked together
    (`records.verify_run(path, row=…)`): a row that mixes versions or configurations is refused
    as a whole."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"runs folder {root} does not exist; run `priorbench run` first")
    refused: list[tuple[str, str]] = []
    first: dict[tuple[str, str], list[tuple[Path, dict[str, Any]]]] = {}
    for path in records.find_runs(root):
        rel = _relative(path, root)
        try:
            manifest, _ = records.verify_run(path)
        except UserError as exc:
            refused.append((rel, _reason(exc, path, rel)))
            continue
        first.setdefault(_row_key(manifest), []).append((path, manifest))
    rows: dict[tuple[str, str], list[Run]] = {}
    for key, members in sorted(first.items()):
        row_manifests = [m for _, m in members]
        for path, _ in members:
            rel = _relative(path, root)
            try:
                manifest, episodes = records.verify_run(path, row=row_manifests)
            except UserError as exc:
                refused.append((rel, _reason(exc, path, rel)))
                continue
            rows.setdefault(key, []).append(
                Run(rel, manifest, episodes, metrics.run_summary(manifest, episodes)))
    for runs in rows.values():
        runs.sort(key=lambda r: (r.summary["seed"], r.path))
    return rows, sorted(refused)


def load_runs(root: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Verified run summaries under `root`, and the runs refused with the reason."""
    rows, refused = collect(root)
    return [run.summary for runs in rows.values() for run in runs], refused


def aggregate(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (env, agent): means over seeds, with the seed count (no bootstrap; fast)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in summaries:
        groups.setdefault((s["env"], s["agent"]), []).append(s)
    rows = []
    for (env, agent), runs in sorted(groups.items()):
        success, success_se = metrics.mean_se([r["success"] for r in runs])
        rows.append({
            "env": env,
            "agent": agent,
            "seeds": len(runs),
            "success": success,
            "success_se": success_se,
            "return": float(np.mean([r["return"] for r in runs])),
            "env_steps": int(np.mean([r["env_steps"] for r in runs])),
            "llm_calls": float(np.mean([r["llm_calls"] for r in runs])),
        })
    return rows


# --- statistics per row, over envs, between agents -------------------------------------------


@dataclass
class Curve:
    """A row's test-success learning curve: IQM and 95% CI at each evaluation step."""

    steps: list[int]
    iqm: list[float]
    lower: list[float]
    upper: list[float]


@dataclass
class Row:
    """One leaderboard row: an (env, agent) pair over its seeds."""

    index: int
    env: str
    agent: str
    runs: list[Run]
    stats: dict[str, Any] = field(default_factory=dict)
    curve: Curve | None = None

    @property
    def seeds(self) -> list[int]:
        return [int(r.summary["seed"]) for r in self.runs]


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.mean(arr[~np.isnan(arr)])) if np.any(~np.isnan(arr)) else float("nan")


def row_success_matrix(runs: Sequence[Run]) -> np.ndarray:
    """Seeds × 1: each run's final success rate over the env's test tasks — the matrix a row's
    IQM and CI come from. (Tasks of one env are single games whose success is 0 or 1: an IQM
    over them trims the information away, so the test split's success rate is the run's score
    and rliable's task axis is used for envs, in `overall`.)"""
    return np.array([[float(r.summary["success"])] for r in runs], dtype=float)


def row_curve(runs: Sequence[Run]) -> Curve:
    """IQM learning curve over seeds, every seed sampled on the union of its row's eval steps."""
    grid = sorted({s for r in runs for s, _ in r.summary["curve"]})
    cube = np.empty((len(runs), 1, len(grid)))
    for i, run in enumerate(runs):
        steps = [s for s, _ in run.summary["curve"]]
        values = [float(np.mean(list(by_task.values()))) for _, by_task in run.summary["curve"]]
        cube[i, 0] = metrics.carry_forward(steps, values, grid)
    point, lower, upper = metrics.iqm_curve_ci(cube)
    return Curve(grid, [float(v) for v in point], [float(v) for v in lower], [float(v) for v in upper])


def row_stats(runs: Sequence[Run]) -> dict[str, Any]:
    """Every number a row shows (see LEADERBOARD.md's legend)."""
    s = [r.summary for r in runs]
    iqm, lower, upper = metrics.iqm_ci(row_success_matrix(runs))
    success, success_se = metrics.mean_se([x["success"] for x in s])
    auc, auc_se = metrics.mean_se([x["auc"] for x in s])
    reached = [x["steps_to_threshold"] for x in s if x["steps_to_threshold"] is not None]
    median = float(np.median([float(x["steps_to_threshold"]) if x["steps_to_threshold"] is not None
                              else np.inf for x in s]))
    return {
        "seeds": len(s),
        "iqm": iqm, "iqm_lo": lower, "iqm_hi": upper,
        "success": success, "success_se": success_se,
        "return": float(np.mean([x["return"] for x in s])),
        "normalised_return": _nanmean([x["normalised_return"] for x in s]),
        "auc": auc, "auc_se": auc_se,
        "steps_to_threshold": int(median) if np.isfinite(median) else None,
        "threshold_reached": len(reached),
        "budget_steps": int(max(x["budget_steps"] for x in s)),
        "env_steps": float(np.mean([x["env_steps"] for x in s])),
        "llm_calls": float(np.mean([x["llm_calls"] for x in s])),
        "llm_tokens": float(np.mean([x["llm_tokens"] for x in s])),
        "wall_s": float(np.mean([x["wall_s"] for x in s])),
    }


def make_rows(groups: dict[tuple[str, str], list[Run]], *, curves: bool = True) -> list[Row]:
    rows = []
    for index, ((env, agent), runs) in enumerate(sorted(groups.items())):
        row = Row(index, env, agent, runs, row_stats(runs))
        if curves:
            row.curve = row_curve(runs)
        rows.append(row)
    return rows


def _env_matrix(rows: Sequence[Row], agent: str, envs: Sequence[str]) -> np.ndarray | None:
    """Seeds × envs final success of `agent` (mean over each env's test tasks), on the seeds it
    ran on every env; None when there is no such seed."""
    by_env = {r.env: {int(run.summary["seed"]): float(run.summary["success"]) for run in r.runs}
              for r in rows if r.agent == agent and r.env in envs}
    if set(by_env) != set(envs):
        return None
    seeds = sorted(set.intersection(*(set(v) for v in by_env.values())))
    if not seeds:
        return None
    return np.array([[by_env[e][k] for e in envs] for k in seeds], dtype=float)


def overall(rows: Sequence[Row]) -> tuple[list[str], list[dict[str, Any]]]:
    """Per agent over the envs every agent ran (tasks = envs): IQM with CI and mean ± SE."""
    agents = sorted({r.agent for r in rows})
    envs = sorted(set.intersection(*({r.env for r in rows if r.agent == a} for a in agents)))
    if len({r.env for r in rows}) < 2 or not envs:
        return envs, []
    out = []
    for agent in agents:
        matrix = _env_matrix(rows, agent, envs)
        if matrix is None:
            continue
        iqm, lower, upper = metrics.iqm_ci(matrix)
        mean, se = metrics.mean_se(matrix.mean(axis=1).tolist())
        out.append({"agent": agent, "envs": len(envs), "seeds": matrix.shape[0],
                    "iqm": iqm, "iqm_lo": lower, "iqm_hi": upper, "success": mean, "success_se": se})
    return envs, out


#: Comparisons beyond the "-prior" naming rule: agent → its plain counterparts.
COUNTERPARTS: dict[str, tuple[str, ...]] = {"vi": ("twosome", "ppo")}
PRIOR_FREE_LLM = "llm"


def key_pairs(agents: Sequence[str]) -> list[tuple[str, str]]:
    """(X, Y) pairs for probability of improvement: each X-prior agent vs its plain counterpart
    (and vi vs twosome/ppo) and vs llm when present; else every agent vs random; else all pairs."""
    present = set(agents)
    pairs: list[tuple[str, str]] = []
    for a in sorted(present):
        plain = [a.replace("-prior", "", 1)] if "-prior" in a else list(COUNTERPARTS.get(a, ()))
        if not plain and a not in COUNTERPARTS:
            continue
        pairs += [(a, b) for b in plain if b in present and b != a]
        if PRIOR_FREE_LLM in present and a != PRIOR_FREE_LLM:
            pairs.append((a, PRIOR_FREE_LLM))
    if not pairs and "random" in present:
        pairs = [(a, "random") for a in sorted(present) if a != "random"]
    if not pairs:
        names = sorted(present)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    return list(dict.fromkeys(pairs))


def improvements(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """rliable's probability of improvement with CIs for the key pairs, over the envs both ran."""
    out = []
    for x, y in key_pairs(sorted({r.agent for r in rows})):
        envs = sorted({r.env for r in rows if r.agent == x} & {r.env for r in rows if r.agent == y})
        if not envs:
            continue
        mx, my = _env_matrix(rows, x, envs), _env_matrix(rows, y, envs)
        if mx is None or my is None:
            continue
        p, lower, upper = metrics.probability_of_improvement_ci(mx, my)
        out.append({"x": x, "y": y, "envs": len(envs), "p": p, "p_lo": lower, "p_hi": upper})
    return out


# --- plots ---------------------------------------------------------------------------------

PLOT_DPI = 100
PNG_METADATA: dict[str, str | None] = {"Software": None}


@contextmanager
def _plot_style() -> Iterator[None]:
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


def _colours(agents: Sequence[str]) -> dict[str, Any]:
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
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    height = max(len(p[1]) for p in panels) * 0.35 + 1.3
    fig = Figure(figsize=(4.2 * ncols, height * nrows))
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

    fig = Figure(figsize=(6.0, 0.38 * len(pairs) + 1.2))
    ax = fig.add_subplot()
    _interval_panel(ax, [f"P({p['x']} > {p['y']})" for p in pairs], [p["p"] for p in pairs],
                    [p["p_lo"] for p in pairs], [p["p_hi"] for p in pairs],
                    [colours[p["x"]] for p in pairs])
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("probability of improvement (final test success), 95% CI")
    fig.tight_layout()
    return _save(fig, path)


# --- tables --------------------------------------------------------------------------------

THRESHOLD_LABEL = f"steps to {metrics.SUCCESS_THRESHOLD:.0%}"
#: leaderboard.csv keeps its first, narrow format (other tools read it); the rest is in
#: leaderboard_full.csv.
TABLE_COLUMNS = ("env", "agent", "seeds", "success", "success_se", "return", "env_steps", "llm_calls")
FULL_COLUMNS = (
    "row", "env", "env_version", "agent", "seeds", "iqm", "iqm_lo", "iqm_hi", "success",
    "success_se", "return", "normalised_return", "auc", "auc_se", "steps_to_threshold",
    "threshold_reached", "env_steps", "llm_calls", "llm_tokens", "wall_s", "seed_list",
    "priorbench", "git_commits", "spec_hashes",
)


def _steps_cell(row: Row) -> str:
    s = row.stats
    value = "—" if s["steps_to_threshold"] is None else str(s["steps_to_threshold"])
    return f"{value} ({s['threshold_reached']}/{s['seeds']})"


def _ci(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]"


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


MAIN_HEADERS = ("env", "agent", "seeds", "IQM success", "95% CI", "mean success", "± SE",
                "norm. return", "AUC", THRESHOLD_LABEL, "env steps", "LLM calls", "LLM tokens",
                "wall s", "row")
MAIN_FORMATS = (".3f",) * 10 + (".0f", ".1f", ".0f", ".2f", ".3f")


def _main_cells(row: Row) -> list[Any]:
    s = row.stats
    return [row.env, row.agent, s["seeds"], s["iqm"], _ci(s["iqm_lo"], s["iqm_hi"]), s["success"],
            s["success_se"], s["normalised_return"], s["auc"], _steps_cell(row), s["env_steps"],
            s["llm_calls"], s["llm_tokens"], s["wall_s"], row.index]


def _md(rows: Sequence[Row], envs: Sequence[str], overall_rows: Sequence[dict[str, Any]],
        pairs: Sequence[dict[str, Any]], plots: Sequence[tuple[str, str]],
        refused: Sequence[tuple[str, str]], notes: str = "") -> str:
    reps, seed = metrics.BOOTSTRAP_REPS, metrics.BOOTSTRAP_SEED
    md = [
        "# priorbench leaderboard", "",
        "Final evaluation on each env's held-out test tasks (explore=False). **IQM success** is "
        "rliable's interquartile mean over seeds of each run's test success rate, with a 95% "
        "stratified-bootstrap CI "
        f"({reps:,} reps, numpy seed {seed}); **mean success ± SE** is over seeds, for comparison "
        "with suites that report means. **norm. return** is return / max score; **AUC** the area "
        "under the test-success curve over the training budget, divided by it (an agent that does "
        f"not train scores its step-0 success); **{THRESHOLD_LABEL}** the median over seeds of the "
        f"first evaluation with test success ≥ {metrics.SUCCESS_THRESHOLD:g} (— when the median "
        "seed never got there; in brackets how many did). Budget columns are means per run (LLM "
        "calls and tokens include evaluation). Built by `priorbench leaderboard build` from the "
        "stored run records alone; `priorbench reproduce ROW` re-runs a row.", "",
        markdown_table(MAIN_HEADERS, [_main_cells(r) for r in rows], MAIN_FORMATS), "",
    ]
    if notes.strip():  # the hand-written reading of the numbers (NOTES.md beside the outputs)
        md += [notes.strip(), ""]
    if overall_rows:
        md += ["## All envs", "",
               f"Per agent over the {len(envs)} envs every agent ran ({', '.join(envs)}); each "
               "env's score is a seed's mean test success, the IQM is over seeds × envs.", "",
               markdown_table(["agent", "envs", "seeds", "IQM success", "95% CI", "mean success", "± SE"],
                              [[o["agent"], o["envs"], o["seeds"], o["iqm"], _ci(o["iqm_lo"], o["iqm_hi"]),
                                o["success"], o["success_se"]] for o in overall_rows]), ""]
    if pairs:
        md += ["## Probability of improvement", "",
               "rliable's P(X > Y): the chance that a run of X beats a run of Y on final test "
               "success, averaged over the envs both ran, with a 95% bootstrap CI "
               f"({metrics.CURVE_REPS:,} reps). 0.5 is a tie.", "",
               markdown_table(["X", "Y", "envs", "P(X > Y)", "95% CI"],
                              [[p["x"], p["y"], p["envs"], p["p"], _ci(p["p_lo"], p["p_hi"])]
                               for p in pairs]), ""]
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
    if refused:
        md += ["## Refused runs", "",
               "These run records failed the integrity checks (checksum, schema, or a row mixing "
               "versions or configurations) and are not in any table:", ""]
        md += [f"- `{p}`: {why}" for p, why in refused] + [""]
    return "\n".join(md)


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else f"{v:.6f}" if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


def _full_row(row: Row) -> list[Any]:
    s, p = row.stats, provenance(row)
    return [row.index, row.env, ", ".join(p["env_version"]), row.agent, s["seeds"], s["iqm"],
            s["iqm_lo"], s["iqm_hi"], s["success"], s["success_se"], s["return"],
            s["normalised_return"], s["auc"], s["auc_se"], s["steps_to_threshold"],
            s["threshold_reached"], s["env_steps"], s["llm_calls"], s["llm_tokens"], s["wall_s"],
            " ".join(map(str, p["seeds"])), p["packages"].get("priorbench", "unknown"),
            " ".join(p["git_commits"]), " ".join(p["spec_hashes"])]


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def _tex(rows: Sequence[Row]) -> str:
    def num(value: float, fmt: str = ".3f") -> str:
        return "--" if np.isnan(value) else format(value, fmt)

    lines = [
        "% Generated by `priorbench leaderboard build`; needs \\usepackage{booktabs}.",
        "\\begin{table}[t]", "\\centering", "\\small",
        "\\begin{tabular}{llrrcrrrr}", "\\toprule",
        "Env & Agent & Seeds & IQM & 95\\% CI & Mean $\\pm$ SE & AUC & Env steps & LLM calls \\\\",
        "\\midrule",
    ]
    previous = None
    for row in rows:
        s = row.stats
        if previous is not None and row.env != previous:
            lines.append("\\midrule")
        env = tex_escape(row.env) if row.env != previous else ""
        previous = row.env
        se = "" if np.isnan(s["success_se"]) else f" $\\pm$ {s['success_se']:.3f}"
        lines.append(
            f"{env} & {tex_escape(row.agent)} & {s['seeds']} & {num(s['iqm'])} & "
            f"[{num(s['iqm_lo'])}, {num(s['iqm_hi'])}] & {num(s['success'])}{se} & {num(s['auc'])} & "
            f"{num(s['env_steps'], '.0f')} & {num(s['llm_calls'], '.1f')} \\\\")
    lines += [
        "\\bottomrule", "\\end{tabular}",
        "\\caption{Final test success: interquartile mean over seeds with "
        "95\\% stratified-bootstrap CIs (rliable), mean $\\pm$ standard error over seeds, and the "
        "normalised area under the test-success curve (AUC).}",
        "\\label{tab:priorbench}", "\\end{table}", "",
    ]
    return "\n".join(lines)


# --- the static site -----------------------------------------------------------------------

_SITE_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; max-width: 1400px; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th[data-type] { cursor: pointer; user-select: none; background: #f3f3f3; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
#leaderboard td { white-space: nowrap; }
details[open] { min-width: 36rem; }
details dl { display: grid; grid-template-columns: max-content auto; gap: 0 0.75rem; margin: 0.3rem 0; }
details dt { font-weight: 600; }
details dd { margin: 0; font-family: monospace; word-break: break-all; white-space: normal; }
img { max-width: 100%; display: block; margin: 0.5rem 0 1.5rem; }
.refused li { color: #8a1c1c; }
"""

_SITE_JS = """
(function () {
  function key(cell, numeric) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (!numeric) { return raw.toLowerCase(); }
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, column) {
      if (!th.hasAttribute("data-type")) { return; }
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.getAttribute("data-type") === "num";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).map(function (row, position) {
          return { row: row, key: key(row.cells[column], numeric), position: position };
        });
        rows.sort(function (a, b) {
          if (a.key === b.key) { return a.position - b.position; }
          if (a.key === null) { return 1; }
          if (b.key === null) { return -1; }
          var order = a.key < b.key ? -1 : 1;
          return ascending ? order : -order;
        });
        rows.forEach(function (item) { body.appendChild(item.row); });
      }
      th.tabIndex = 0;
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  });
})();
"""


def _html_table(headers: Sequence[tuple[str, str | None]], body: Sequence[Sequence[tuple[str, str | None]]],
                table_id: str) -> str:
    """headers: (label, data-type 'num'/'text'/None); cells: (html, sort key or None)."""
    out = [f'<table class="sortable" id="{table_id}"><thead><tr>']
    for label, kind in headers:
        attrs = f' data-type="{kind}"' if kind else ""
        attrs += ' class="num"' if kind == "num" else ""
        out.append(f"<th{attrs}>{html.escape(label)}</th>")
    out.append("</tr></thead><tbody>")
    for cells in body:
        out.append("<tr>")
        for (content, sort_key), (_, kind) in zip(cells, headers, strict=True):
            attrs = f' data-sort="{html.escape(sort_key)}"' if sort_key is not None else ""
            attrs += ' class="num"' if kind == "num" else ""
            out.append(f"<td{attrs}>{content}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _num_cell(value: float | int | None, fmt: str = ".3f") -> tuple[str, str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—", ""
    return html.escape(format(value, fmt)), repr(float(value))


def _provenance_html(row: Row) -> str:
    p = provenance(row)
    items = [
        ("runs", "<br>".join(html.escape(x) for x in p["runs"])),
        ("seeds", html.escape(" ".join(map(str, p["seeds"])))),
        ("spec hashes", "<br>".join(f"seed {k}: {html.escape(h)}" for k, h in zip(p["seeds"], p["spec_hashes"], strict=True))),
        ("git commit", html.escape(", ".join(p["git_commits"]))),
        ("env version", html.escape(", ".join(p["env_version"]))),
        ("env kwargs", html.escape(json.dumps(p["env_kwargs"], sort_keys=True))),
        ("agent params", html.escape(json.dumps(p["agent_params"], sort_keys=True))),
        ("budget", html.escape(json.dumps(p["budget"], sort_keys=True))),
        ("packages", "<br>".join(f"{html.escape(k)} {html.escape(v)}" for k, v in p["packages"].items())),
        ("machine", "<br>".join(html.escape(m) for m in p["machines"])),
    ]
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return f"<details><summary>seeds {html.escape(' '.join(map(str, p['seeds'])))}</summary><dl>{body}</dl></details>"


def _site(rows: Sequence[Row], envs: Sequence[str], overall_rows: Sequence[dict[str, Any]],
          pairs: Sequence[dict[str, Any]], images: Sequence[tuple[str, str, bytes]],
          refused: Sequence[tuple[str, str]], legend: str) -> str:
    headers: list[tuple[str, str | None]] = [
        ("row", "num"), ("env", "text"), ("agent", "text"), ("seeds", "num"), ("IQM success", "num"),
        ("95% CI", None), ("mean success", "num"), ("± SE", "num"), ("norm. return", "num"),
        ("AUC", "num"), (THRESHOLD_LABEL, "num"), ("env steps", "num"), ("LLM calls", "num"),
        ("LLM tokens", "num"), ("wall s", "num"), ("provenance", None),
    ]
    body = []
    for row in rows:
        s = row.stats
        steps = s["steps_to_threshold"]
        body.append([
            _num_cell(row.index, "d"), (html.escape(row.env), None), (html.escape(row.agent), None),
            _num_cell(s["seeds"], "d"), _num_cell(s["iqm"]),
            (html.escape(_ci(s["iqm_lo"], s["iqm_hi"])), None), _num_cell(s["success"]),
            _num_cell(s["success_se"]), _num_cell(s["normalised_return"]), _num_cell(s["auc"]),
            (html.escape(_steps_cell(row)), "" if steps is None else str(steps)),
            _num_cell(s["env_steps"], ".0f"), _num_cell(s["llm_calls"], ".1f"),
            _num_cell(s["llm_tokens"], ".0f"), _num_cell(s["wall_s"], ".2f"),
            (_provenance_html(row), None),
        ])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>priorbench leaderboard</title>", f"<style>{_SITE_CSS}</style></head><body>",
        "<h1>priorbench leaderboard</h1>", f"<p>{html.escape(legend)}</p>",
        "<p>Click a column header to sort; click again to reverse. "
        "Open “provenance” for what a row was built from.</p>",
        _html_table(headers, body, "leaderboard"),
    ]
    if overall_rows:
        parts += [f"<h2>All envs</h2><p>Per agent over the {len(envs)} envs every agent ran: "
                  f"{html.escape(', '.join(envs))}.</p>",
                  _html_table([("agent", "text"), ("envs", "num"), ("seeds", "num"), ("IQM success", "num"),
                               ("95% CI", None), ("mean success", "num"), ("± SE", "num")],
                              [[(html.escape(o["agent"]), None), _num_cell(o["envs"], "d"),
                                _num_cell(o["seeds"], "d"), _num_cell(o["iqm"]),
                                (html.escape(_ci(o["iqm_lo"], o["iqm_hi"])), None),
                                _num_cell(o["success"]), _num_cell(o["success_se"])]
                               for o in overall_rows], "overall")]
    if pairs:
        parts += ["<h2>Probability of improvement</h2>",
                  _html_table([("X", "text"), ("Y", "text"), ("envs", "num"), ("P(X > Y)", "num"),
                               ("95% CI", None)],
                              [[(html.escape(p["x"]), None), (html.escape(p["y"]), None),
                                _num_cell(p["envs"], "d"), _num_cell(p["p"]),
                                (html.escape(_ci(p["p_lo"], p["p_hi"])), None)] for p in pairs],
                              "improvement")]
    parts.append("<h2>Plots</h2>")
    for _, title, data in images:
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'
                     f"<figcaption>{html.escape(title)}</figcaption></figure>")
    if refused:
        parts.append('<h2>Refused runs</h2><ul class="refused">')
        parts += [f"<li><code>{html.escape(p)}</code>: {html.escape(why)}</li>" for p, why in refused]
        parts.append("</ul>")
    parts += [f"<script>{_SITE_JS}</script>", "</body></html>", ""]
    return "\n".join(parts)


# --- build ---------------------------------------------------------------------------------

PLOT_PATTERNS = ("curves-*.png", "final-iqm.png", "probability-of-improvement.png")


def build(runs_root: Path, out_dir: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Write LEADERBOARD.md, leaderboard.csv, leaderboard_full.csv, leaderboard.tex, plots/*.png
    and site/index.html from the runs under `runs_root`. Returns the rows (as aggregate()) and
    the refused runs (path relative to runs_root, reason)."""
    groups, refused = collect(runs_root)
    if not groups:
        reasons = "; ".join(f"{p}: {why}" for p, why in refused) or "no run folders found"
        raise UserError(f"no usable runs under {runs_root} ({reasons})")
    rows = make_rows(groups)
    envs, overall_rows = overall(rows)
    pairs = improvements(rows)

    out_dir = Path(out_dir)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "site").mkdir(parents=True, exist_ok=True)
    for pattern in PLOT_PATTERNS:  # plots of envs or pairs no longer in the runs
        for stale in plots_dir.glob(pattern):
            stale.unlink()
    colours = _colours([r.agent for r in rows])
    images: list[tuple[str, str, bytes]] = []
    with _plot_style():
        for env in sorted({r.env for r in rows}):
            name = f"plots/curves-{slug(env)}.png"
            images.append((name, f"{env}: test success vs env steps",
                           plot_curves(rows, env, out_dir / name, colours)))
        images.append(("plots/final-iqm.png", "final test success: IQM with 95% CIs",
                       plot_final(rows, overall_rows, out_dir / "plots/final-iqm.png", colours)))
        if pairs:
            images.append(("plots/probability-of-improvement.png", "probability of improvement",
                           plot_improvement(pairs, out_dir / "plots/probability-of-improvement.png",
                                            colours)))

    (plots_dir / "RENDERER").write_text(f"matplotlib {_matplotlib_version()}\n")
    notes_file = out_dir / NOTES
    notes = notes_file.read_text() if notes_file.exists() else ""
    md = _md(rows, envs, overall_rows, pairs, [(n, t) for n, t, _ in images], refused, notes)
    (out_dir / "LEADERBOARD.md").write_text(md)
    legend = md.split("\n")[2]
    (out_dir / "leaderboard.csv").write_text(_csv(TABLE_COLUMNS, [
        [r.env, r.agent, r.stats["seeds"], r.stats["success"], r.stats["success_se"],
         r.stats["return"], int(r.stats["env_steps"]), r.stats["llm_calls"]] for r in rows]))
    (out_dir / "leaderboard_full.csv").write_text(_csv(FULL_COLUMNS, [_full_row(r) for r in rows]))
    (out_dir / "leaderboard.tex").write_text(_tex(rows))
    (out_dir / "site" / "index.html").write_text(
        _site(rows, envs, overall_rows, pairs, images, refused, _plain(legend)))
    summary = aggregate([run.summary for runs in groups.values() for run in runs])
    return summary, refused


def _matplotlib_version() -> str:
    import matplotlib

    return str(matplotlib.__version__)


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "")


#: A hand-written reading of the numbers, kept beside the outputs and copied into LEADERBOARD.md.
NOTES = "NOTES.md"
TEXT_OUTPUTS = ("LEADERBOARD.md", "leaderboard.csv", "leaderboard_full.csv", "leaderboard.tex")
_IMAGE = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
_IMAGE_HASH = re.compile(r"data:image/png;sha256=[0-9a-f]{64}")


def snapshot(out_dir: Path) -> dict[str, str]:
    """A leaderboard folder as text, for golden files and the committed-leaderboard check: the
    tables, the site with each embedded image replaced by its sha256, the plots' sha256 sums and
    the renderer (matplotlib) version that drew them."""
    import hashlib

    out_dir = Path(out_dir)
    snap = {name: (out_dir / name).read_text() for name in TEXT_OUTPUTS if (out_dir / name).exists()}
    site = out_dir / "site" / "index.html"
    if site.exists():
        snap["site/index.html"] = _IMAGE.sub(
            lambda m: "data:image/png;sha256=" + hashlib.sha256(base64.b64decode(m.group(1))).hexdigest(),
            site.read_text())
    plots = sorted((out_dir / "plots").glob("*.png"))
    snap["plots/SHA256SUMS"] = "".join(f"{records.sha256_file(p)}  {p.name}\n" for p in plots)
    renderer = out_dir / "plots" / "RENDERER"
    snap["plots/RENDERER"] = renderer.read_text() if renderer.exists() else ""
    return snap


def snapshot_differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """The files in which two snapshots differ. Plot bytes (and the site's images) are compared
    only when the same renderer version drew both: another matplotlib draws other pixels."""
    same_renderer = expected.get("plots/RENDERER") == actual.get("plots/RENDERER")

    def normal(name: str, text: str) -> str:
        if same_renderer:
            return text
        if name == "plots/SHA256SUMS":
            return "".join(line.split("  ", 1)[-1] + "\n" for line in text.splitlines())
        if name == "site/index.html":
            return _IMAGE_HASH.sub("data:image/png;sha256=…", text)
        return text

    names = sorted((set(expected) | set(actual)) - {"plots/RENDERER"})
    return [n for n in names if normal(n, expected.get(n, "<missing>")) != normal(n, actual.get(n, "<missing>"))]


# --- reproduce -----------------------------------------------------------------------------


@dataclass
class Reproduction:
    """What `reproduce` found for one row."""

    row: Row
    stored: tuple[float, float, float]
    new: float
    inside: bool
    seeds: list[tuple[int, bool, float, float]]  # seed, identical episodes, stored/new success
    refused: list[tuple[str, str]]

    def report(self) -> str:
        iqm, lo, hi = self.stored
        lines = [
            f"row {self.row.index}: {self.row.env} {self.row.agent} "
            f"({len(self.seeds)} of {len(self.row.runs)} seeds re-run)",
            markdown_table(["seed", "stored success", "new success", "episodes identical"],
                           [[k, a, b, "yes" if same else "no"] for k, same, a, b in self.seeds]),
            f"stored IQM {iqm:.3f}, 95% CI [{lo:.3f}, {hi:.3f}]; new IQM {self.new:.3f}: "
            + ("inside the stored CI" if self.inside else "OUTSIDE the stored CI"),
        ]
        same = sum(s[1] for s in self.seeds)
        lines.append(f"episode records identical (timing ignored): {same}/{len(self.seeds)} seeds"
                     + ("" if same == len(self.seeds) else
                        " (expected on the machine and versions that made them; see the manifests)"))
        return "\n".join(lines)


def find_row(rows: Sequence[Row], ref: str) -> Row:
    """A row by index ("3") or by "env_id:agent"."""
    if ref.strip().isdigit():
        index = int(ref)
        if index >= len(rows):
            raise UserError(f"no row {index}: the leaderboard has rows 0–{len(rows) - 1}")
        return rows[index]
    env, sep, agent = ref.rpartition(":")
    for row in rows:
        if sep and row.env == env and row.agent == agent:
            return row
    from priorbench.core.registry import close_matches

    names = [f"{r.env}:{r.agent}" for r in rows]
    raise UserError(f"no row {ref!r}.{close_matches(ref, names)} Rows: give an index or one of "
                    f"{', '.join(names)}")


def reproduce(runs_root: Path, ref: str, *, out: Path | None = None,
              seeds: Sequence[int] | None = None,
              progress: Callable[[str], None] | None = None) -> Reproduction:
    """Re-run a row's seeds from their manifests' specs into `out` (a temporary folder when None)
    and compare: the new IQM against the stored 95% CI, and each seed's episode records."""
    from priorbench.bench.runner import RunJob, execute
    from priorbench.bench.spec import Budget

    if out is not None and (Path(out).resolve() == Path(runs_root).resolve()
                            or Path(runs_root).resolve() in Path(out).resolve().parents):
        raise UserError(f"--out {out} is inside the runs folder {runs_root}: the re-runs would "
                        "replace the stored runs; give another folder")
    groups, refused = collect(runs_root)
    if not groups:
        raise UserError(f"no usable runs under {runs_root}")
    rows = [Row(i, env, agent, runs) for i, ((env, agent), runs) in enumerate(sorted(groups.items()))]
    row = find_row(rows, ref)
    row.stats = row_stats(row.runs)
    chosen = [r for r in row.runs if seeds is None or int(r.summary["seed"]) in set(seeds)]
    if not chosen:
        raise UserError(f"row {row.index} has seeds {row.seeds}; none of {list(seeds or [])}")
    stored = (row.stats["iqm"], row.stats["iqm_lo"], row.stats["iqm_hi"])
    with tempfile.TemporaryDirectory(prefix="priorbench-reproduce-") as tmp:
        target = Path(out) if out is not None else Path(tmp)
        new_runs, compared = [], []
        for run in chosen:
            spec = run.manifest["spec"]
            job = RunJob(spec["env_id"], spec["agent"], int(spec["seed"]), Budget(**spec["budget"]),
                         target, dict(spec["env_kwargs"]), dict(spec["agent_params"]),
                         str(run.manifest.get("spec_name", "run")))
            if progress is not None:
                progress(f"re-running {run.path} …")
            path = execute(job, force=True, progress=False)
            manifest, episodes = records.verify_run(path)
            if manifest["spec_hash"] != run.manifest["spec_hash"]:
                raise UserError(f"{run.path}: the re-run's spec hash differs from the stored one "
                                "(the agent's parameters no longer resolve the same way)")
            new = Run(run.path, manifest, episodes, metrics.run_summary(manifest, episodes))
            new_runs.append(new)
            identical = records.strip_timing(episodes) == records.strip_timing(run.episodes)
            compared.append((int(spec["seed"]), identical, float(run.summary["success"]),
                             float(new.summary["success"])))
    new_iqm = metrics.iqm(row_success_matrix(new_runs))
    tolerance = 1e-9
    inside = stored[1] - tolerance <= new_iqm <= stored[2] + tolerance
    return Reproduction(row, stored, new_iqm, inside, compared, refused)


# --- cite ----------------------------------------------------------------------------------

BIBTEX: dict[str, str] = {
    "priorbench": """@software{priorbench,
  title   = {priorbench: A Reproducible Benchmark for Reinforcement Learning with Large Language Model Priors in Text Games},
  author  = {{priorbench developers}},
  version = {{version}},
  note    = {Leaderboard statistics computed with rliable}
}""",
    "yan2025efficient": """@inproceedings{yan2025efficient,
  title     = {Efficient Reinforcement Learning with Large Language Model Priors},
  author    = {Yan, Xue and Song, Yan and Feng, Xidong and Yang, Mengyue and Zhang, Haifeng and Bou Ammar, Haitham and Wang, Jun},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2025}
}""",
    "tan2024true": """@inproceedings{tan2024true,
  title     = {True Knowledge Comes from Practice: Aligning {LLMs} with Embodied Environments via Reinforcement Learning},
  author    = {Tan, Weihao and Zhang, Wentao and Liu, Shanqi and Zheng, Longtao and Wang, Xinrun and An, Bo},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2024}
}""",
    "he2016deep": """@inproceedings{he2016deep,
  title     = {Deep Reinforcement Learning with a Natural Language Action Space},
  author    = {He, Ji and Chen, Jianshu and He, Xiaodong and Gao, Jianfeng and Li, Lihong and Deng, Li and Ostendorf, Mari},
  booktitle = {Proceedings of the 54th Annual Meeting of the Association for Computational Linguistics (ACL)},
  pages     = {1621--1630},
  year      = {2016}
}""",
    "kumar2020conservative": """@inproceedings{kumar2020conservative,
  title     = {Conservative Q-Learning for Offline Reinforcement Learning},
  author    = {Kumar, Aviral and Zhou, Aurick and Tucker, George and Levine, Sergey},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume    = {33},
  year      = {2020}
}""",
    "schulman2017proximal": """@article{schulman2017proximal,
  title   = {Proximal Policy Optimization Algorithms},
  author  = {Schulman, John and Wolski, Filip and Dhariwal, Prafulla and Radford, Alec and Klimov, Oleg},
  journal = {arXiv preprint arXiv:1707.06347},
  year    = {2017}
}""",
    "watkins1992q": """@article{watkins1992q,
  title   = {Q-learning},
  author  = {Watkins, Christopher J. C. H. and Dayan, Peter},
  journal = {Machine Learning},
  volume  = {8},
  pages   = {279--292},
  year    = {1992}
}""",
    "agarwal2021deep": """@inproceedings{agarwal2021deep,
  title     = {Deep Reinforcement Learning at the Edge of the Statistical Precipice},
  author    = {Agarwal, Rishabh and Schwarzer, Max and Castro, Pablo Samuel and Courville, Aaron and Bellemare, Marc G.},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume    = {34},
  year      = {2021}
}""",
    "cote2018textworld": """@inproceedings{cote2018textworld,
  title     = {TextWorld: A Learning Environment for Text-based Games},
  author    = {C{\\^o}t{\\'e}, Marc-Alexandre and K{\\'a}d{\\'a}r, {\\'A}kos and Yuan, Xingdi and Kybartas, Ben and Barnes, Tavian and Fine, Emery and Moore, James and Hausknecht, Matthew and El Asri, Layla and Adada, Mahmoud and Tay, Wendy and Trischler, Adam},
  booktitle = {Computer Games Workshop at ICML/IJCAI 2018},
  year      = {2018},
  eprint    = {1806.11532},
  archivePrefix = {arXiv}
}""",
    "shridhar2021alfworld": """@inproceedings{shridhar2021alfworld,
  title     = {{ALFWorld}: Aligning Text and Embodied Environments for Interactive Learning},
  author    = {Shridhar, Mohit and Yuan, Xingdi and C{\\^o}t{\\'e}, Marc-Alexandre and Bisk, Yonatan and Trischler, Adam and Hausknecht, Matthew},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2021}
}""",
}

#: Agent name (or the name's start, for presets) → the references of its method.
AGENT_REFERENCES: dict[str, tuple[str, ...]] = {
    "dqn-prior": ("yan2025efficient", "he2016deep"),
    "cql-prior": ("yan2025efficient", "kumar2020conservative"),
    "vi": ("yan2025efficient", "schulman2017proximal"),
    "llm": ("yan2025efficient",),
    "twosome": ("tan2024true", "schulman2017proximal"),
    "dqn": ("he2016deep",),
    "drrn": ("he2016deep",),
    "cql": ("kumar2020conservative",),
    "ppo": ("schulman2017proximal",),
    "tabular-q": ("watkins1992q",),
}
#: Env id fragment → the references of its games.
ENV_REFERENCES: dict[str, tuple[str, ...]] = {
    "TextWorld": ("cote2018textworld",),
    "ALFWorld": ("shridhar2021alfworld", "cote2018textworld"),
    "Overcooked": ("tan2024true",),
}
#: Always cited: the suite, the method it is built around, the statistics.
SUITE_REFERENCES = ("priorbench", "yan2025efficient", "agarwal2021deep")


def references(agents: Sequence[str], envs: Sequence[str]) -> tuple[list[str], list[str]]:
    """(BibTeX keys to cite, agents with no known reference) for a table's agents and envs."""
    keys = list(SUITE_REFERENCES)
    unknown = []
    for agent in sorted(set(agents)):
        match = max((name for name in AGENT_REFERENCES if agent == name or agent.startswith(name + "-")),
                    key=len, default=None)
        if match is None:
            if agent not in ("random", "expert"):
                unknown.append(agent)
            continue
        keys += AGENT_REFERENCES[match]
    for env in sorted(set(envs)):
        for fragment, refs in ENV_REFERENCES.items():
            if fragment.lower() in env.lower():
                keys += refs
    return list(dict.fromkeys(keys)), unknown


def cite(runs_root: Path | None) -> str:
    """BibTeX for the suite and for the methods and games in the runs' table (all known
    references when there are no runs)."""
    from importlib import metadata

    agents: list[str] = []
    envs: list[str] = []
    source = "every method priorbench knows (no runs given or found)"
    if runs_root is not None and Path(runs_root).exists():
        groups, _ = collect(runs_root)
        if groups:
            envs = sorted({env for env, _ in groups})
            agents = sorted({agent for _, agent in groups})
            source = f"the table's agents: {', '.join(agents)}"
    if agents:
        keys, unknown = references(agents, envs)
    else:
        keys, unknown = list(dict.fromkeys([*SUITE_REFERENCES, *BIBTEX])), []
    try:
        version = metadata.version("priorbench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    out = [f"% BibTeX for priorbench and {source}"]
    out += [f"% no reference known for agent {a!r}" for a in unknown]
    out += [BIBTEX[k].replace("{version}", version) for k in keys]
    return "\n\n".join(out) + "\n"
