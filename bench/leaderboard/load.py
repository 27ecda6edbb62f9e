"""Loading stored runs: verify each run folder (`records.verify_run`), alone and then with the
rest of its (env, agent) row, and keep the survivors with their summaries; refused runs are
returned with the reason, their paths relative to the runs folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from priorbench.bench import metrics, records, schema
from priorbench.bench.leaderboard.protocol import Protocol, refusal
from priorbench.core.errors import UserError
from priorbench.core.progress import NO_PROGRESS_ENV, notice

T = TypeVar("T")


@dataclass
class Run:
    """One verified run: where it is (relative to the runs folder), its manifest and summary."""

    path: str
    manifest: dict[str, Any]
    episodes: list[dict[str, Any]]
    summary: dict[str, Any]
    rel: str | None = None
    """Its path relative to its own runs folder, where `path` shows the folder in front (a
    build from several): verified marks name runs by it, wherever the folder is."""


def _relative(path: Path, root: Path) -> str:
    try:
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))  # links not followed
    except ValueError:
        return str(path)
    return rel.as_posix() or "."


def _reason(exc: UserError, path: Path, rel: str) -> str:
    """The refusal message with the run's path made relative and the `path: ` prefix dropped."""
    text = str(exc).replace(str(path), rel)
    return text.removeprefix(f"{rel}: ")


def _budget(manifest: dict[str, Any]) -> int:
    return int(manifest["spec"]["budget"]["steps"])


def _row_key(manifest: dict[str, Any], full_budget: dict[str, int]) -> tuple[str, str]:
    """(env id, agent name — with its prior's label, `schema.agent_label`) of a verified
    manifest; runs trained on less than `full_budget[env]` (the largest budget of the env's
    runs) get the budget in the label (`schema.budget_label`): they are another row."""
    env, label = str(manifest["env"]["id"]), schema.agent_label(manifest)
    steps = _budget(manifest)
    return (env, label if steps >= full_budget[env] else schema.budget_label(label, steps))


#: Above this many run folders, `collect` reports its progress on stderr.
PROGRESS_FROM = 200


def _progress(items: Iterable[T], total: int) -> Iterable[T]:
    """`items`, with a bar on stderr while a large runs folder is verified (hidden by
    --no-progress and when stderr is not a terminal: then a notice per tenth)."""
    if total < PROGRESS_FROM:
        yield from items
        return
    from tqdm.auto import tqdm

    notice(f"verifying {total} run folders")
    hidden = os.environ.get(NO_PROGRESS_ENV) == "1" or not sys.stderr.isatty()
    with tqdm(total=total, desc="runs", unit="run", leave=False, file=sys.stderr, disable=hidden) as bar:
        for done, item in enumerate(items, 1):
            yield item
            bar.update(1)
            if hidden and done % max(1, total // 10) == 0 and done < total:
                notice(f"verified {done} of {total} run folders")


def _env_of(path: Path) -> str | None:
    """The env id a run folder's manifest names (None where it cannot be read: `verify_run`
    then says why)."""
    try:
        env = (records.RunRecord(path).read_manifest() or {}).get("env")
    except UserError:
        return None
    return str(env["id"]) if isinstance(env, dict) and "id" in env else None


def collect(root: Path | Sequence[Path], protocol: Protocol | None = None, *,
            envs: Collection[str] | None = None,
            ) -> tuple[dict[tuple[str, str], list[Run]], list[tuple[str, str]]]:
    """Verified runs under `root` (or several roots) grouped into (env, agent) rows, and the
    refused runs with why.

    Every run is checked on its own first (and against `protocol` when one is given); runs
    trained on less than the largest budget of their env's runs form rows of their own (the
    budget in the label, `schema.budget_label`); then each row's survivors are checked together (`records.row_problems`, one pass): a row that
    mixes versions or configurations is refused as a whole. With several roots a run's path is
    shown with its root in front. `envs`: only the runs of these envs (their manifests name
    them; an unreadable one is kept, to be refused with its reason), the rest not verified:
    `reproduce` of one row reads one env's runs."""
    roots = [Path(root)] if isinstance(root, str | Path) else [Path(r) for r in root]
    for r in roots:
        if not r.exists():
            raise UserError(f"runs folder {r} does not exist; run `priorbench run` first")
    refused: list[tuple[str, str]] = []
    first: dict[tuple[str, str], list[tuple[Path, dict[str, Any], list[dict[str, Any]]]]] = {}
    verified: list[tuple[Path, dict[str, Any], list[dict[str, Any]]]] = []
    shown: dict[Path, str] = {}
    own: dict[Path, str] = {}
    for root_ in roots:
        for path in records.find_runs(root_):
            if envs is not None and _env_of(path) not in {*envs, None}:
                continue
            own[path] = _relative(path, root_)
            shown[path] = own[path] if len(roots) == 1 else f"{root_.as_posix().rstrip('/')}/{own[path]}"
    for path, rel in _progress(shown.items(), len(shown)):
        try:
            manifest, episodes = records.verify_run(path)
        except UserError as exc:
            refused.append((rel, _reason(exc, path, rel)))
            continue
        why = refusal(manifest, protocol) if protocol is not None else None
        if why is not None:
            refused.append((rel, why))
            continue
        verified.append((path, manifest, episodes))
    full_budget: dict[str, int] = {}
    for _, manifest, _ in verified:
        env = str(manifest["env"]["id"])
        full_budget[env] = max(full_budget.get(env, 0), _budget(manifest))
    for path, manifest, episodes in verified:
        first.setdefault(_row_key(manifest, full_budget), []).append((path, manifest, episodes))
    rows: dict[tuple[str, str], list[Run]] = {}
    for key, members in sorted(first.items()):
        problems = records.row_problems([m for _, m, _ in members])  # one pass per row
        for (path, manifest, episodes), problem in zip(members, problems, strict=True):
            if problem is not None:
                refused.append((shown[path], problem))
                continue
            summary = {**metrics.run_summary(manifest, episodes), "agent": key[1]}  # the row's label
            rows.setdefault(key, []).append(Run(shown[path], manifest, episodes, summary, own[path]))
    for runs in rows.values():
        runs.sort(key=lambda r: (r.summary["seed"], r.path))
    return rows, sorted(refused)


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
