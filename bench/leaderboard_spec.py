"""The leaderboard's declaration (leaderboard/spec.toml) and `priorbench leaderboard run`.

The spec lists the offline datasets to make and the experiments (each a normal run spec:
envs or a suite, agents with their settings, ≥5 seeds, a budget). `run` makes what is
missing — datasets, then runs — into the leaderboard's runs folder; finished runs are kept,
killed ones resume. Paths in the spec are relative to the repository root (the working
directory), so run manifests do not depend on where the checkout lives.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from priorbench.bench.spec import Spec, spec_from_dict
from priorbench.core.errors import UserError

MIN_SEEDS = 5


@dataclass(frozen=True)
class DatasetDecl:
    name: str
    env: str
    policy: str
    episodes: int
    seed: int = 0


@dataclass(frozen=True)
class LeaderboardSpec:
    path: Path
    runs: Path
    datasets: Path
    dataset_decls: tuple[DatasetDecl, ...]
    experiments: tuple[Spec, ...]


def load(path: Path) -> LeaderboardSpec:
    """Read and validate leaderboard/spec.toml."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"leaderboard spec {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"leaderboard spec {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"runs", "datasets", "dataset", "experiment"})
    if unknown:
        raise UserError(f"{path}: unknown key(s) {unknown}; expected runs, datasets, [[dataset]], [[experiment]]")
    decls = []
    for i, item in enumerate(data.get("dataset", [])):
        try:
            decls.append(DatasetDecl(**item))
        except TypeError as exc:
            raise UserError(f"{path}: [[dataset]] #{i + 1}: {exc}") from None
    experiments = []
    for i, item in enumerate(data.get("experiment", [])):
        spec = spec_from_dict(item, where=f"{path} [[experiment]] #{i + 1}")
        if len(spec.seeds) < MIN_SEEDS:
            raise UserError(f"{path}: experiment {spec.name!r} has {len(spec.seeds)} seeds; "
                            f"the leaderboard needs at least {MIN_SEEDS}")
        experiments.append(spec)
    if not experiments:
        raise UserError(f"{path}: no [[experiment]] tables")
    return LeaderboardSpec(path, Path(data.get("runs", "leaderboard/runs")),
                           Path(data.get("datasets", "leaderboard/datasets")), tuple(decls),
                           tuple(experiments))


def run(path: Path, *, progress: bool = True, workers: int = 1) -> list[Path]:
    """Make the missing datasets and runs; returns every run folder of the spec."""
    from priorbench.bench import datasets
    from priorbench.bench.runner import collect_episodes, execute_all, jobs_from_spec

    spec = load(path)
    for decl in spec.dataset_decls:
        folder = spec.datasets / "priorbench" / decl.name
        if folder.exists():
            datasets.read_provenance(folder)  # verifies the checksum
            continue
        episodes = collect_episodes(decl.env, decl.policy, decl.episodes, decl.seed, progress=progress)
        datasets.write_dataset(episodes, env_id=decl.env, policy=decl.policy, seed=decl.seed,
                               out=spec.datasets, name=decl.name)
    jobs = [job for experiment in spec.experiments for job in jobs_from_spec(experiment, spec.runs)]
    return execute_all(jobs, progress=progress, workers=workers)
