"""`build`: stored runs → the leaderboard folder (tables, plots, site), and `snapshot`: that
folder as text, for golden files and the committed-leaderboard check.

A pure function of the records under a runs folder: no clocks, no absolute paths, a fixed
bootstrap seed, and matplotlib told to leave dates, versions and random ids out of its files,
so building twice gives the same bytes."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from priorbench.bench.leaderboard import plots, quality, site, tables
from priorbench.bench.leaderboard.claims import (
    CLAIMS,
    Claim,
    Verdict,
    cite,
    claims_md,
    evaluate,
    read_claims,
    strict_problems,
)
from priorbench.bench.leaderboard.load import PROGRESS_FROM, aggregate, collect
from priorbench.bench.leaderboard.protocol import Protocol
from priorbench.bench.leaderboard.stats import improvements, make_rows, overall, prior_effects
from priorbench.bench.leaderboard.verified import read_marks, verified_rows
from priorbench.core.errors import UserError
from priorbench.core.paths import JSON_LIMIT, folder_lock, read_regular, sha256_file, staging_folder
from priorbench.core.progress import notice


def read_notes(path: Path) -> str:
    """The maintainers' NOTES.md beside the build ("" when there is none): UTF-8 text only."""
    if not path.exists() and not path.is_symlink():
        return ""
    try:
        return read_regular(path, limit=JSON_LIMIT).decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; save it as UTF-8 (or move it away) and build again") from None


def build(runs_root: Path | Sequence[Path], out_dir: Path, protocol: Protocol | None = None, *,
          context: Path | None = None, strict: bool = False) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Write LEADERBOARD.md, leaderboard.csv, leaderboard_full.csv, leaderboard.tex, plots/*.png
    and site/index.html from the runs under `runs_root`. Returns the rows (as aggregate()) and
    the refused runs (path relative to runs_root, reason). The maintainers' context — NOTES.md,
    prior_quality.json, verified.json — is read from `context` (the committed leaderboard
    folder, for a build into a folder of your own) and from `out_dir`, which wins where both
    have one (verified marks: both, out_dir's for the rows it names); claims.toml likewise, its
    verdicts in a Claims section. `strict`: after writing, fail unless every claim holds and
    NOTES.md cites only claims and prints no number the board does not (`claims.strict_problems`)."""
    with folder_lock(Path(out_dir), "--out"):  # one build per output folder at a time
        for name in (*TEXT_OUTPUTS, "plots", "site", NOTES, CLAIMS):  # replaced or read, never followed
            if (Path(out_dir) / name).is_symlink():
                raise UserError(f"{Path(out_dir) / name} is a symbolic link; the build replaces its outputs "
                                "in --out and follows no link: remove it")
        return _build(runs_root, Path(out_dir), protocol, Path(context) if context is not None else None, strict)


def _claims(folders: Sequence[Path]) -> list[Claim] | None:
    """claims.toml of the first folder that has one (None: none has)."""
    for folder in folders:
        path = folder / CLAIMS
        if path.is_symlink():
            raise UserError(f"{path} is a symbolic link; the build reads the claims file itself: replace the link by it")
        if path.exists():
            return read_claims(path)
    return None


def _build(runs_root: Path | Sequence[Path], out_dir: Path, protocol: Protocol | None, context: Path | None,
           strict: bool = False) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    folders = [out_dir] + ([context] if context is not None and context.resolve() != out_dir.resolve() else [])
    claims = _claims(folders)
    if strict and claims is None:
        raise UserError(f"--strict checks the board's claims, and neither {' nor '.join(str(f) for f in folders)} "
                        f"has {CLAIMS}: write one (docs: LEADERBOARD.md, Claims) or build without --strict")
    groups, refused = collect(runs_root, protocol)
    if not groups:
        reasons = "; ".join(f"{p}: {why}" for p, why in refused) or "no run folders found"
        raise UserError(f"no usable runs under {runs_root} ({reasons})")
    rows = make_rows(groups)
    if sum(map(len, groups.values())) >= PROGRESS_FROM:  # a large board's plots take seconds
        notice(f"writing the tables, plots and site of {len(rows)} rows")
    envs, overall_rows = overall(rows)
    pairs = improvements(rows)

    verdicts = evaluate(claims or [], rows)
    notes = next((text for text in (read_notes(f / NOTES) for f in folders) if text.strip()), "")
    verified = verified_rows(rows, {k: v for f in reversed(folders) for k, v in read_marks(f).items()})
    prior_quality = next((q for q in (quality.read_quality(f) for f in folders) if q is not None), None)
    commands = {r.index: tables.reproduce_command(r, _runs_argument(r, runs_root)) for r in rows}
    # Everything is built in a staging folder inside out_dir and then moved in (each file and
    # folder by one rename, all after the slow part): a kill mid-build leaves the old outputs
    # whole, and its staging folder is removed by the next build.
    with staging_folder(out_dir, prefix=".build-") as stage:
        cited = cite(notes, verdicts)
        md = _write(stage, rows, envs, overall_rows, pairs, refused, cited, verified, commands, prior_quality, verdicts)
        for name in TEXT_OUTPUTS:
            os.replace(stage / name, out_dir / name)
        for name in ("plots", "site"):
            if (out_dir / name).exists():
                os.replace(out_dir / name, stage / f"old-{name}")
            os.replace(stage / name, out_dir / name)
    if strict:
        problems = strict_problems(verdicts, notes, md.replace(cited.strip(), "") if cited.strip() else md)
        if problems:
            raise UserError(f"--strict: the board in {out_dir} was written, but {len(problems)} "
                            f"check{'s' * (len(problems) > 1)} failed: " + "; ".join(problems))
    summary = aggregate([run.summary for runs in groups.values() for run in runs])
    return summary, refused


def _runs_argument(row, runs_root: Path | Sequence[Path]) -> str | None:
    """reproduce's --runs for a row: none from a single runs folder (its run paths are relative
    to it, so the outputs do not depend on how its path was spelled; reproduce defaults to
    leaderboard/runs); from several, the one the row's runs are in, as its paths show it."""
    if isinstance(runs_root, str | Path):
        return None
    for root in runs_root:
        shown = Path(root).as_posix().rstrip("/")
        if all(run.path.startswith(shown + "/") for run in row.runs):
            return shown
    return None


def _write(out_dir: Path, rows, envs, overall_rows, pairs, refused, notes: str, verified,
           commands: dict[int, str], prior_quality: dict[str, Any] | None, verdicts: Sequence[Verdict] = ()) -> str:
    """The leaderboard's files, written into the (empty) folder `out_dir`; returns LEADERBOARD.md."""
    effects = prior_effects(rows)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir()
    (out_dir / "site").mkdir()
    styles = plots.agent_styles([r.agent for r in rows])
    images: list[tuple[str, str, bytes]] = []
    with plots.plot_style():
        if effects:  # the figure of "Does the prior help?"
            images.append((tables.EFFECTS_PLOT, tables.EFFECTS_PLOT_TITLE,
                           plots.plot_prior_effects(effects, out_dir / tables.EFFECTS_PLOT)))
        name = f"plots/{plots.CURVES_GRID}"
        images.append((name, "test success vs env steps, every env (IQM over seeds, 95% CI)",
                       plots.plot_curves_grid(rows, out_dir / name, styles)))
        images.append(("plots/final-iqm.png", "final test success: IQM with 95% CIs",
                       plots.plot_final(rows, overall_rows, out_dir / "plots/final-iqm.png", styles)))
        if pairs:
            images.append(("plots/probability-of-improvement.png", "probability of improvement",
                           plots.plot_improvement(
                               pairs, out_dir / "plots/probability-of-improvement.png", styles)))
        name = f"plots/{plots.CURVES_APART}"
        apart = plots.plot_curves_apart(rows, out_dir / name, styles)
        if apart is not None:
            images.append((name, "apart from the results: SYNTHETIC priors and reduced budgets", apart))
        quality_image = None
        if prior_quality is not None and quality.table_rows(prior_quality, synthetic=False):
            quality_image = plots.plot_prior_quality(prior_quality, out_dir / tables.QUALITY_PLOT)

    (plots_dir / "RENDERER").write_text(f"matplotlib {_matplotlib_version()}\n")
    md = tables.leaderboard_md(rows, envs, overall_rows, pairs, [(n, t) for n, t, _ in images],
                               refused, notes, verified, commands=commands, prior_quality=prior_quality,
                               effects=effects, claims=claims_md(verdicts))
    (out_dir / "LEADERBOARD.md").write_text(md)
    (out_dir / "leaderboard.csv").write_text(tables.csv_text(tables.TABLE_COLUMNS, [
        [r.env, r.agent, r.stats["seeds"], r.stats["success"], r.stats["success_se"],
         r.stats["return"], int(r.stats["env_steps"]), r.stats["llm_calls"]] for r in rows]))
    (out_dir / "leaderboard_full.csv").write_text(
        tables.csv_text(tables.FULL_COLUMNS, [tables.full_row(r) for r in rows]))
    (out_dir / "leaderboard.tex").write_text(tables.latex_table(rows))
    (out_dir / "site" / "index.html").write_text(
        site.index_html(rows, envs, overall_rows, pairs, images, refused, tables.legend(), verified,
                        commands=commands, prior_quality=prior_quality, quality_image=quality_image,
                        notes=notes, effects=effects, claims=verdicts))
    return md


def _matplotlib_version() -> str:
    import matplotlib

    return str(matplotlib.__version__)


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
    page = out_dir / "site" / "index.html"
    if page.exists():
        snap["site/index.html"] = _IMAGE.sub(
            lambda m: "data:image/png;sha256=" + hashlib.sha256(base64.b64decode(m.group(1))).hexdigest(),
            page.read_text())
    pngs = sorted((out_dir / "plots").glob("*.png"))
    snap["plots/SHA256SUMS"] = "".join(f"{sha256_file(p)}  {p.name}\n" for p in pngs)
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
