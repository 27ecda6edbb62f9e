"""The leaderboard's declaration (leaderboard/spec.toml) and `priorbench leaderboard run`.

The spec lists the offline datasets to make and the experiments (each a normal run spec:
envs or a suite, agents with their settings, ≥5 seeds, a budget). `run` makes what is
missing — datasets, then runs — into the leaderboard's runs folder (an experiment's optional
`folder` puts its runs in a subfolder of it: two experiments that run the same agent on the
same env with other settings, e.g. another prior, need one); finished runs are kept, killed
ones resume. Paths in the spec are relative to the repository root (the working
directory), so run manifests do not depend on where the checkout lives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from priorbench.bench.datasets import EPISODES_LIMIT, check_name
from priorbench.bench.spec import NAME_LIMIT, TEXT_LIMIT, Spec, spec_from_dict
from priorbench.core.config import build_config, read_toml
from priorbench.core.errors import UserError

MIN_SEEDS = 5
#: A [[dataset]]'s name is a folder under the datasets folder: one plain path component.
NAME = re.compile(r"(?!\.\.?$)[A-Za-z0-9._-]{1,100}")


@dataclass(frozen=True)
class DatasetDecl:
    name: str
    env: str
    policy: str
    episodes: int
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env settings the episodes are played with (those of the protocol's env, e.g. max_steps)."""


@dataclass(frozen=True)
class LeaderboardSpec:
    path: Path
    runs: Path
    datasets: Path
    dataset_decls: tuple[DatasetDecl, ...]
    experiments: tuple[Spec, ...]
    folders: tuple[Path, ...] = ()  # each experiment's runs folder

    def runs_of(self, i: int) -> Path:
        return self.folders[i] if self.folders else self.runs


def load(path: Path) -> LeaderboardSpec:
    """Read and validate leaderboard/spec.toml."""
    path = Path(path)
    data = read_toml(path, what="leaderboard spec")
    unknown = sorted(set(data) - {"runs", "datasets", "dataset", "experiment"})
    if unknown:
        raise UserError(f"{path}: unknown key(s) {unknown}; expected runs, datasets, [[dataset]], [[experiment]]")
    for key in ("runs", "datasets"):
        if not isinstance(data.get(key, ""), str) or len(data.get(key, "")) > TEXT_LIMIT:
            raise UserError(f"{path}: {key} must be a folder path (a string), not {str(data[key])[:40]!r}")
    for key in ("dataset", "experiment"):
        if not isinstance(data.get(key, []), list) or not all(isinstance(t, dict) for t in data.get(key, [])):
            raise UserError(f"{path}: {key} must be a list of tables, written [[{key}]]")
    decls = []
    for i, item in enumerate(data.get("dataset", [])):
        where = f"{path} [[dataset]] #{i + 1}"
        missing = sorted({"name", "env", "policy", "episodes"} - set(item))
        if missing:
            raise UserError(f"{where}: {missing[0]} is missing; a dataset names name, env, policy and episodes")
        decl = build_config(DatasetDecl, item, where=where)
        if not NAME.fullmatch(decl.name):
            raise UserError(f"{where}: name {decl.name[:40]!r} must be a folder name of letters, digits, "
                            "'.', '_' and '-' (at most 100 characters, no '/')")
        try:  # what `dataset collect --name` takes, checked before any episode is collected
            check_name(decl.name)
        except UserError as exc:
            raise UserError(f"{where}: {exc}".replace("--name ", "name ")) from None
        if not 0 < decl.episodes <= EPISODES_LIMIT or not 0 <= decl.seed < 2**32:
            raise UserError(f"{where}: episodes must be in [1, {EPISODES_LIMIT}] and seed in [0, {2**32 - 1}], "
                            f"got episodes = {decl.episodes}, seed = {decl.seed}")
        decls.append(decl)
    runs = Path(data.get("runs", "leaderboard/runs"))
    experiments, folders = [], []
    writes: dict[tuple[Path, str, str], str] = {}
    for i, item in enumerate(data.get("experiment", [])):
        item = dict(item)
        folder = item.pop("folder", "")
        if (not isinstance(folder, str) or len(folder) > NAME_LIMIT or Path(folder).is_absolute()
                or ".." in Path(folder).parts):
            raise UserError(f"{path} [[experiment]] #{i + 1}: folder must be a relative subfolder "
                            f"name of the runs folder (at most {NAME_LIMIT} characters), not {str(folder)[:60]!r}")
        spec = spec_from_dict(item, where=f"{path} [[experiment]] #{i + 1}")
        for env_id in spec.envs:
            for agent in spec.agents:
                other = writes.setdefault((Path(folder), env_id, agent), spec.name)
                if other != spec.name:
                    raise UserError(
                        f"{path}: experiments {other!r} and {spec.name!r} both write {agent} on "
                        f"{env_id} into the same runs folder; give one of them its own "
                        f"`folder = \"…\"`")
        folders.append(runs / folder)
        if len(spec.seeds) < MIN_SEEDS:
            raise UserError(f"{path}: experiment {spec.name!r} has {len(spec.seeds)} seeds; "
                            f"the leaderboard needs at least {MIN_SEEDS}")
        experiments.append(spec)
    if not experiments:
        raise UserError(f"{path}: no [[experiment]] tables")
    keeping = [folder for folder, e in zip(folders, experiments, strict=True) if e.keep_learned]
    for e in experiments:  # a transfer from this spec's own runs: its source must keep its Q
        source = Path(e.init_from)
        if e.init_from and runs in source.parents and not any(k == source or k in source.parents for k in keeping):
            raise UserError(f"{path}: experiment {e.name!r} starts from {e.init_from}, which no experiment with "
                            "keep_learned = true writes; set keep_learned = true on the experiment that makes it")
    return LeaderboardSpec(path, runs, Path(data.get("datasets", "leaderboard/datasets")),
                           tuple(decls), tuple(experiments), tuple(folders))


def run(path: Path, *, progress: bool = True, workers: int = 1, executor: str = "local",
        address: str | None = None, prior_server: str | None = None, eval_batch: int = 1) -> list[Path]:
    """Make the missing datasets and runs; returns every run folder of the spec."""
    from priorbench.bench import datasets
    from priorbench.bench.datasets import collect_episodes
    from priorbench.bench.runner import execute_all, jobs_from_spec

    spec = load(path)
    for decl in spec.dataset_decls:
        folder = spec.datasets / "priorbench" / decl.name
        if folder.exists():
            datasets.read_provenance(folder)  # verifies the checksum
            continue
        episodes = collect_episodes(decl.env, decl.policy, decl.episodes, decl.seed, decl.env_kwargs or None,
                                    progress=progress)
        datasets.write_dataset(episodes, env_id=decl.env, policy=decl.policy, seed=decl.seed,
                               out=spec.datasets, name=decl.name, env_kwargs=decl.env_kwargs or None)
    done: list[Path] = []
    # runs started from others' learned state (init_from) after the rest: their identity reads
    # their sources, which must be finished first (a source is an ordinary experiment's run)
    for transfer in (False, True):
        jobs = [job for i, experiment in enumerate(spec.experiments) if bool(experiment.init_from) == transfer
                for job in jobs_from_spec(experiment, spec.runs_of(i))]
        done += execute_all(jobs, progress=progress, workers=workers, executor=executor, address=address,
                            prior_server=prior_server, eval_batch=eval_batch) if jobs else []
    return done
