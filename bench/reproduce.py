"""`priorbench reproduce`: re-run a leaderboard row's seeds from their manifests' specs and
compare with what is stored — the new IQM against the stored 95% CI, and each seed's episode
records. It runs runs, so it sits above the leaderboard (which never imports the runner)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from priorbench.bench import metrics, records
from priorbench.bench.leaderboard import (
    Row,
    Run,
    collect,
    markdown_table,
    row_stats,
    row_success_matrix,
)
from priorbench.core.errors import UserError


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
