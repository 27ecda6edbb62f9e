"""Stored run records → leaderboard tables (Markdown, CSV). A pure function of the records."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics, records
from bench.errors import UserError


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table with right-aligned numeric columns."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "—" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    text_rows = [[cell(v) for v in row] for row in rows]
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


def load_runs(root: Path) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """Verified run summaries under `root`, and the runs refused with the reason."""
    summaries, refused = [], []
    for path in records.find_runs(root):
        try:
            manifest, episodes = records.verify_run(path)
        except UserError as exc:
            refused.append((path, str(exc)))
            continue
        summaries.append(metrics.run_summary(manifest, episodes))
    return summaries, refused


def aggregate(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (env, agent): means over seeds, with the seed count."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in summaries:
        groups.setdefault((s["env"], s["agent"]), []).append(s)
    rows = []
    for (env, agent), runs in sorted(groups.items()):
        success = np.array([r["success"] for r in runs])
        rows.append({
            "env": env,
            "agent": agent,
            "seeds": len(runs),
            "success": float(success.mean()),
            "success_se": float(success.std(ddof=1) / np.sqrt(len(runs))) if len(runs) > 1 else float("nan"),
            "return": float(np.mean([r["return"] for r in runs])),
            "env_steps": int(np.mean([r["env_steps"] for r in runs])),
            "llm_calls": float(np.mean([r["llm_calls"] for r in runs])),
        })
    return rows


TABLE_COLUMNS = ("env", "agent", "seeds", "success", "success_se", "return", "env_steps", "llm_calls")


def build(runs_root: Path, out_dir: Path) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """Write LEADERBOARD.md and leaderboard.csv from the runs under `runs_root`."""
    if not Path(runs_root).exists():
        raise UserError(f"runs folder {runs_root} does not exist; run `priorbench run` first")
    summaries, refused = load_runs(runs_root)
    if not summaries:
        reasons = "; ".join(f"{p}: {why}" for p, why in refused) or "no run folders found"
        raise UserError(f"no usable runs under {runs_root} ({reasons})")
    rows = aggregate(summaries)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = markdown_table(
        ["env", "agent", "seeds", "test success", "± SE", "test return", "env steps", "LLM calls"],
        [[r[c] for c in TABLE_COLUMNS] for r in rows],
    )
    md = ["# priorbench leaderboard", "",
          "Final test-task evaluation (explore=False), mean over seeds; ± is the standard error "
          "over seeds. Built by `priorbench leaderboard build` from stored run records.", "",
          table, ""]
    if refused:
        md += ["## Refused runs", ""] + [f"- `{p}`: {why}" for p, why in refused] + [""]
    (out_dir / "LEADERBOARD.md").write_text("\n".join(md))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    for r in rows:
        writer.writerow([f"{r[c]:.6f}" if isinstance(r[c], float) else r[c] for c in TABLE_COLUMNS])
    (out_dir / "leaderboard.csv").write_text(buffer.getvalue())
    return rows, refused
