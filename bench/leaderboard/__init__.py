"""Stored run records → the leaderboard: tables (Markdown, CSV, LaTeX), plots, a static site.

A pure function of the records under a runs folder: no clocks, no absolute paths, a fixed
bootstrap seed, and matplotlib told to leave dates, versions and random ids out of its files,
so building twice gives the same bytes. Runs that fail `records.verify_run` (checksum, schema,
or a row that mixes priorbench versions, configurations or repeats a seed) are refused and
listed with the reason, in LEADERBOARD.md and on stderr.

Modules, one job each: `load` (verify and collect stored runs), `stats` (row statistics, costs
and comparisons; row ids; the headline and prior effects), `views` (their text and cells),
`plots`, `tables` (Markdown, CSV, LaTeX; each row's reproduce command), `site`
(index.html, with site.css and site.js — sorting and filters — as package data), `quality` (the
prior-quality input file, prior_quality.json), `verified` (verified.json), `claims` (claims.toml:
the notes' claims, evaluated on the rows; `--strict`), `publish` (`build`:
all of it into a folder, and `snapshot` of a folder). The
leaderboard never imports the runner: `bench.reproduce` (re-run a row's seeds and compare with
the stored CI) and `bench.cite` (BibTeX) sit above it.
"""

from priorbench.bench.leaderboard.load import Run, aggregate, collect
from priorbench.bench.leaderboard.plots import (
    PLOT_DPI,
    PLOT_PATTERNS,
    plot_curves,
    plot_final,
    plot_improvement,
    slug,
)
from priorbench.bench.leaderboard.publish import (
    NOTES,
    TEXT_OUTPUTS,
    build,
    snapshot,
    snapshot_differences,
)
from priorbench.bench.leaderboard.stats import (
    COUNTERPARTS,
    PRIOR_FREE_LLM,
    Curve,
    Row,
    improvements,
    key_pairs,
    make_rows,
    overall,
    row_cost,
    row_curve,
    row_stats,
    row_success_matrix,
    total_cost,
)
from priorbench.bench.leaderboard.tables import (
    FULL_COLUMNS,
    SYNTHETIC_TITLE,
    TABLE_COLUMNS,
    THRESHOLD_LABEL,
    markdown_table,
    provenance,
    reproduce_command,
    tex_escape,
)

__all__ = [
    "COUNTERPARTS", "FULL_COLUMNS", "NOTES", "PLOT_DPI", "PLOT_PATTERNS", "PRIOR_FREE_LLM",
    "SYNTHETIC_TITLE", "TABLE_COLUMNS", "TEXT_OUTPUTS", "THRESHOLD_LABEL", "Curve", "Row", "Run", "aggregate",
    "build", "collect", "improvements", "key_pairs", "make_rows", "markdown_table",
    "overall", "plot_curves", "plot_final", "plot_improvement", "provenance", "reproduce_command",
    "row_cost", "row_curve", "row_stats", "row_success_matrix", "slug", "snapshot",
    "snapshot_differences", "tex_escape", "total_cost",
]
