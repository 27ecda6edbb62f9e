"""`priorbench reproduce`: re-run a leaderboard row's seeds from their manifests' specs and
compare with what is stored — the new IQM against the stored 95% CI, and each seed's episode
records. It runs runs, so it sits above the leaderboard (which never imports the runner)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from priorbench.bench import metrics, records
from priorbench.bench.leaderboard import (
    Row,
    Run,
    collect,
    markdown_table,
    row_stats,
    row_success_matrix,
)
from priorbench.bench.leaderboard.stats import OWN_ENVS, numbered
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
    diffs: dict[int, dict[str, Any]] = field(default_factory=dict)  # seed → records.diff_episodes
    environment: list[str] = field(default_factory=list)  # package / machine differences

    def report(self) -> str:
        iqm, lo, hi = self.stored

        def verdict(seed: int) -> str:
            diff = self.diffs.get(seed, {"exact": True})
            return ("identical" if diff["exact"] else
                    f"equal within {records.REL_TOL:g} (rel.)" if diff["close"] else "differ")

        lines = [
            f"row {self.row.id} ({self.row.env} {self.row.agent}; "
            f"{len(self.seeds)} of {len(self.row.runs)} seeds re-run)",
            markdown_table(["seed", "stored success", "new success", "episode records"],
                           [[k, a, b, verdict(k)] for k, _, a, b in self.seeds]),
            f"stored IQM {iqm:.3f}, 95% CI [{lo:.3f}, {hi:.3f}]; new IQM {self.new:.3f}: "
            + ("inside the stored CI" if self.inside else "OUTSIDE the stored CI"),
        ]
        same = sum(s[1] for s in self.seeds)
        close = sum(self.diffs.get(k, {"close": True})["close"] for k, *_ in self.seeds)
        lines.append(f"episode records identical (timing ignored): {same}/{len(self.seeds)} seeds; "
                     f"equal within |Δ| ≤ {records.ABS_TOL:g} + {records.REL_TOL:g}·|stored|: "
                     f"{close}/{len(self.seeds)}")
        for seed, diff in sorted(self.diffs.items()):
            for name, entry in sorted(diff["fields"].items()):
                lines.append(f"  seed {seed}: {name} differs in {entry['episodes']} episodes"
                             + (f", max |Δ| {entry['max_abs_diff']:.3g}" if entry["max_abs_diff"] else ""))
        if self.environment:
            lines.append("the re-run's environment differs from the stored runs': " + "; ".join(self.environment))
        elif same < len(self.seeds):
            lines.append("same package versions and machine as the stored runs")
        return "\n".join(lines)


def find_row(rows: Sequence[Row], ref: str) -> Row:
    """A row by its id (`FrozenLake-4x4-v0:tabular-q`, `stats.row_id`), by "env_id:label" as
    tables print it, or by its number in this build (numbers move when rows are added)."""
    if ref.strip().isdecimal():
        index = int(ref)
        if index >= len(rows):
            raise UserError(f"no row {index}: the leaderboard has rows 0–{len(rows) - 1}")
        return rows[index]
    for row in rows:
        if ref in (row.id, f"{row.env}:{row.agent}"):
            return row
    from priorbench.core.registry import close_matches

    names = [r.id for r in rows]
    raise UserError(f"no row {ref!r}.{close_matches(ref, names)} Name a row by its id, one of: "
                    f"{', '.join(names)}")


def reproduce(runs_root: Path, ref: str, *, out: Path | None = None,
              seeds: Sequence[int] | None = None,
              progress: Callable[[str], None] | None = None) -> Reproduction:
    """Re-run a row's seeds from their manifests' specs into `out` (a temporary folder when None)
    and compare: the new IQM against the stored 95% CI, and each seed's episode records."""
    if out is not None and (Path(out).resolve() == Path(runs_root).resolve()
                            or Path(runs_root).resolve() in Path(out).resolve().parents):
        raise UserError(f"--out {out} is inside the runs folder {runs_root}: the re-runs would "
                        "replace the stored runs; give another folder")
    envs = _envs_named(ref)
    try:
        rows, refused = stored_rows(runs_root, envs=envs)
    except UserError:
        if envs is None:
            raise
        rows, refused = stored_rows(runs_root)  # it names no env here (a typo?): find_row suggests a row
    result = reproduce_row(find_row(rows, ref), out=out, seeds=seeds, progress=progress, runs_root=runs_root)
    result.refused = refused
    return result


def _envs_named(ref: str) -> set[str] | None:
    """The env ids a row id or "env_id:label" may name (the text before any of its colons, with
    and without priorbench's namespace: an agent may have colons of its own); None for a
    number, which needs every row."""
    if ref.strip().isdecimal():
        return None
    heads = {ref[:i] for i, ch in enumerate(ref) if ch == ":"}
    return heads | {OWN_ENVS + h for h in heads}


def stored_rows(runs_root: Path, envs: set[str] | None = None) -> tuple[list[Row], list[tuple[str, str]]]:
    """The rows of a runs folder, numbered as the leaderboard numbers them, and the refused runs
    (`envs`: of those envs only, their runs alone verified)."""
    groups, refused = collect(runs_root, envs=envs)
    if not groups:
        raise UserError(f"no usable runs under {runs_root}" + (" for that row" if envs else ""))
    return numbered(groups), refused


def reproduce_row(row: Row, *, out: Path | None = None, seeds: Sequence[int] | None = None,
                  progress: Callable[[str], None] | None = None, runs_root: Path | None = None) -> Reproduction:
    """Re-run one row's seeds (all, or `seeds`) and compare with what is stored. A run started
    from another's learned state (`init_from`) starts from that run again, found under
    `runs_root` by its checksum (`_source_run`)."""
    from priorbench.bench.runner import RunJob, execute
    from priorbench.bench.spec import Budget

    row.stats = row_stats(row.runs)
    chosen = [r for r in row.runs if seeds is None or int(r.summary["seed"]) in set(seeds)]
    if not chosen:
        raise UserError(f"row {row.id} has seeds {row.seeds}; none of {list(seeds or [])}")
    stored = (row.stats["iqm"], row.stats["iqm_lo"], row.stats["iqm_hi"])
    with tempfile.TemporaryDirectory(prefix="priorbench-reproduce-") as tmp:
        target = Path(out) if out is not None else Path(tmp)
        new_runs, compared = [], []
        diffs: dict[int, dict[str, Any]] = {}
        environment: set[str] = set()
        for run in chosen:
            spec = run.manifest["spec"]
            source = spec.get("init_from") or {}
            job = RunJob(spec["env_id"], spec["agent"], int(spec["seed"]), Budget(**spec["budget"]),
                         target, dict(spec["env_kwargs"]), dict(spec["agent_params"]),
                         str(run.manifest.get("spec_name", "run")),
                         init_from=str(_source_run(run.path, spec["env_id"], source, runs_root)) if source else "",
                         init_optimizer=bool(source.get("optimizer")),
                         keep_learned=run.manifest.get("learned_sha256") is not None)
            if progress is not None:
                progress(f"re-running {run.path} …")
            path = execute(job, force=True, progress=progress is not None)  # its bar, or notices
            manifest, episodes = records.verify_run(path)
            if manifest["spec_hash"] != run.manifest["spec_hash"]:
                raise UserError(f"{run.path}: the re-run's spec hash differs from the stored one "
                                "(the agent's parameters no longer resolve the same way)")
            new = Run(run.path, manifest, episodes, metrics.run_summary(manifest, episodes))
            new_runs.append(new)
            diff = records.diff_episodes(run.episodes, episodes)
            if manifest.get("learned_sha256") != run.manifest.get("learned_sha256"):  # a kept Q must come back too
                diff = {**diff, "exact": False, "close": False,
                        "fields": {**diff["fields"], "learned_sha256": {"episodes": 0, "max_abs_diff": 0.0}}}
            diffs[int(spec["seed"])] = diff
            compared.append((int(spec["seed"]), diff["exact"], float(run.summary["success"]),
                             float(new.summary["success"])))
            environment.update(_environment_differences(run.manifest, manifest))
    new_iqm = metrics.iqm(row_success_matrix(new_runs))
    tolerance = 1e-9
    inside = stored[1] - tolerance <= new_iqm <= stored[2] + tolerance
    return Reproduction(row, stored, new_iqm, inside, compared, [], diffs, sorted(environment))


def _source_run(path: Path, env_id: str, source: dict[str, Any], runs_root: Path | None) -> Path:
    """The run a transfer run started from: the run under `runs_root` (default: the folder
    above the run's own <env-id>/<agent>/seed<k>) whose kept learned state has the checksum its
    manifest records."""
    if runs_root is None:
        runs_root = Path(path).parents[len(Path(env_id).parts) + 1]
    for candidate in records.find_runs(Path(runs_root)):
        try:
            manifest = records.RunRecord(candidate).read_manifest() or {}
        except UserError:
            continue
        if manifest.get("learned_sha256") == source.get("learned_sha256"):
            return candidate
    raise UserError(f"{path} started from {source.get('run')} (learned_sha256 {str(source.get('learned_sha256'))[:12]}), "
                    f"which is not under {runs_root}: give the runs folder that holds it")


def _environment_differences(stored: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Package versions and machine fields that differ between a stored manifest and a re-run's."""
    out = set()
    for section in ("packages", "machine"):
        a, b = stored.get(section) or {}, new.get(section) or {}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.add(f"{section}.{key}: {a.get(key)} → {b.get(key)}")
    return out


def is_cheap(row: Row, max_seconds: float) -> bool:
    """A row CI can afford to re-run whole: no language-model calls (a cold prior cache costs
    far more than the stored wall time says) and at most `max_seconds` of stored wall time."""
    stats = row_stats(row.runs)
    wall = sum(float(r.summary.get("wall_s") or 0.0) for r in row.runs)
    return not stats.get("llm_calls") and wall <= max_seconds


def verify(runs_root: Path, *, refs: Sequence[str] = (), max_seconds: float = 10.0,
           progress: Callable[[str], None] | None = None) -> tuple[list[Reproduction], list[dict[str, Any]]]:
    """Re-run the named rows (default: every cheap row) whole; returns the reproductions and the
    marks of the rows whose every seed's episode records came out identical."""
    from priorbench.bench.leaderboard.verified import row_ref, runs_digest

    rows, _ = stored_rows(runs_root)
    chosen = [find_row(rows, ref) for ref in refs] if refs else [r for r in rows if is_cheap(r, max_seconds)]
    if not chosen:
        raise UserError(f"no row under {runs_root} is cheap enough to re-run (no LLM calls, ≤ {max_seconds:g} s "
                        "stored wall time); name rows to verify, or raise --max-seconds")
    results, marks = [], []
    for row in chosen:
        result = reproduce_row(row, progress=progress, runs_root=runs_root)
        results.append(result)
        if all(same for _, same, _, _ in result.seeds):
            marks.append({"row": row_ref(row.env, row.agent), "runs_sha256": runs_digest(row.runs),
                          "seeds": sorted(k for k, *_ in result.seeds),
                          "priorbench": _version(),
                          "git_commits": sorted({str(r.manifest.get("git_commit") or "unknown") for r in row.runs})})
    return results, marks


def _version() -> str:
    from importlib import metadata

    return metadata.version("priorbench")
