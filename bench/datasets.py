"""Offline datasets of text-game transitions, stored as Minari datasets with provenance.

Text observations and actions use gymnasium Text spaces with a wide charset; each step's
admissible commands are stored as one JSON string in `infos` (Minari cannot store
variable-length lists). A `priorbench.json` beside the data records the env, its version,
the data policy, the seed, the counts and a checksum of the data files; loading verifies it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from priorbench import envs
from priorbench.agents.base import Transition
from priorbench.core import seeding
from priorbench.core.errors import UserError
from priorbench.core.paths import staging_folder, temporary_env

PROVENANCE = "priorbench.json"


def _minari_root(root: Path) -> AbstractContextManager[None]:
    return temporary_env("MINARI_DATASETS_PATH", str(root))


#: What `sha256` in priorbench.json covers: "data/*" is every file under data/, Minari's
#: metadata.json (episode and step counts) included; datasets before it left metadata.json out.
CHECKSUM_COVERS = "data/*"
#: A dataset's name: a plain folder name ending in Minari's version suffix.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._]*(-[A-Za-z0-9._]+)*-v[0-9]+")


def _data_checksum(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((folder / "data").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def check_name(name: str) -> str:
    """A dataset name as `--name` takes it: a plain folder name with a version (mydata-v0)."""
    if "/" in name or "\\" in name or name.startswith(".") or ".." in name:
        raise UserError(f"--name {name!r}: give a plain name (letters, digits, . _ -), not a path; "
                        "the folder goes under --out")
    if not NAME.fullmatch(name):
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("-") or "mydata"
        raise UserError(f"--name {name!r}: a dataset name ends in a version, e.g. {stem}-v0")
    return name


def dataset_name(env_id: str, policy: str, episodes: int, seed: int) -> str:
    env = env_id.split("/")[-1].rsplit("-v", 1)[0]
    return f"{env}-{policy.replace(':', '').replace('.', 'p')}-{episodes}ep-s{seed}-v0".lower()


def write_dataset(episodes: list[dict[str, Any]], *, env_id: str, policy: str, seed: int,
                  out: Path, name: str | None = None) -> Path:
    """Store collected episodes under `out`/priorbench/<name>; returns the dataset folder."""
    import minari
    import numpy as np
    from minari.data_collector import EpisodeBuffer

    from priorbench.envs.base import text_space

    name = check_name(name) if name else dataset_name(env_id, policy, len(episodes), seed)
    folder = Path(out).resolve() / "priorbench" / name
    if folder.exists():
        raise UserError(f"dataset {folder} already exists; choose another --out or --name, or delete it")
    buffers = []
    for i, ep in enumerate(episodes):
        infos = {  # bytes: hdf5 has no numpy unicode type
            "admissible_commands": np.array([json.dumps(x["admissible_commands"]).encode() for x in ep["infos"]]),
            "task": np.array([x["task"].encode() for x in ep["infos"]]),
            "expert_action": np.array([(x.get("expert_action") or "").encode() for x in ep["infos"]]),
            "won": np.array([bool(x["won"]) for x in ep["infos"]]),
        }
        buffers.append(EpisodeBuffer(id=i, seed=ep["seed"], observations=list(ep["observations"]),
                                     actions=list(ep["actions"]), rewards=list(ep["rewards"]),
                                     terminations=list(ep["terminations"]),
                                     truncations=list(ep["truncations"]), infos=infos))
    provenance = {"env_id": env_id, "env_version": env_id.rsplit("-", 1)[-1], "policy": policy,
                  "seed": seed, "episodes": len(episodes),
                  "transitions": sum(len(ep["actions"]) for ep in episodes)}
    # build the whole dataset aside, then move it in: never a half-written dataset
    with staging_folder(folder.parent, prefix=".staging-") as staging:
        with _minari_root(staging), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # minari's nags about optional metadata
            minari.create_dataset_from_buffers(
                f"priorbench/{name}", buffers, observation_space=text_space(),
                action_space=text_space(256), algorithm_name=policy, author="priorbench",
                description=json.dumps(provenance), data_format="hdf5",
            )
        built = staging / "priorbench" / name
        provenance["sha256"] = _data_checksum(built)
        provenance["sha256_covers"] = CHECKSUM_COVERS
        (built / PROVENANCE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(built, folder)
        except OSError:  # another process finished the same dataset first: reuse it if equal
            if not folder.is_dir():
                raise
            theirs = read_provenance(folder)
            if theirs["sha256"] != provenance["sha256"]:
                raise UserError(f"dataset {folder} appeared while this one was written, with other data; "
                                "choose another --name or --out") from None
    return folder


def read_provenance(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    if not (folder / PROVENANCE).exists():
        raise UserError(f"{folder} is not a priorbench dataset (no {PROVENANCE}); "
                        "make one with `priorbench dataset collect`")
    try:
        provenance = json.loads((folder / PROVENANCE).read_bytes().decode("utf-8"))
    except ValueError:
        raise UserError(f"dataset {folder}: {PROVENANCE} is not valid JSON; collect the dataset again") from None
    if not isinstance(provenance, dict) or not isinstance(provenance.get("sha256"), str):
        raise UserError(f"dataset {folder}: {PROVENANCE} has no sha256 checksum; collect the dataset again")
    if provenance.get("sha256_covers") != CHECKSUM_COVERS:
        raise UserError(f"dataset {folder} was made by an older priorbench whose checksum left "
                        "data/metadata.json out; collect it again with `priorbench dataset collect`")
    if _data_checksum(folder) != provenance["sha256"]:
        raise UserError(f"dataset {folder}: data files do not match their checksum (edited or incomplete); "
                        "collect the dataset again")
    return provenance


def load_episodes(folder: Path) -> list[dict[str, Any]]:
    """The stored episodes, verified against the checksum."""
    import minari

    folder = Path(folder)
    read_provenance(folder)
    with _minari_root(folder.parent.parent):
        dataset = minari.load_dataset(f"{folder.parent.name}/{folder.name}")
        episodes = []
        for ep in dataset.iterate_episodes():
            infos = ep.infos
            episodes.append({
                "observations": [str(o) for o in ep.observations],
                "actions": [str(a) for a in ep.actions],
                "rewards": [float(r) for r in ep.rewards],
                "terminations": [bool(t) for t in ep.terminations],
                "truncations": [bool(t) for t in ep.truncations],
                "admissible_commands": [json.loads(_text(x)) for x in infos["admissible_commands"]],
                "task": [_text(x) for x in infos["task"]],
                "expert_action": [_text(x) for x in infos["expert_action"]],
            })
    return episodes


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_transitions(folder: str | Path, *, expected_env: str | None = None) -> list[Transition]:
    """The dataset as a list of Transitions (in episode order), checking it was made on `expected_env`."""
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"dataset {folder} does not exist; make one with `priorbench dataset collect`")
    provenance = read_provenance(folder)
    if expected_env and provenance["env_id"] != expected_env:
        raise UserError(f"dataset {folder} was collected on {provenance['env_id']}, not {expected_env}")
    out = []
    for ep in load_episodes(folder):
        for t, action in enumerate(ep["actions"]):
            info = {"admissible_commands": ep["admissible_commands"][t], "task": ep["task"][t]}
            nxt = {"admissible_commands": ep["admissible_commands"][t + 1], "task": ep["task"][t + 1]}
            out.append(Transition(ep["observations"][t], info, action, ep["rewards"][t],
                                  ep["observations"][t + 1], nxt, ep["terminations"][t], ep["truncations"][t]))
    return out


def describe(folder: Path) -> dict[str, Any]:
    """Provenance plus statistics: episodes, transitions, mean return, success rate."""
    provenance = read_provenance(folder)
    episodes = load_episodes(folder)
    returns = [sum(ep["rewards"]) for ep in episodes]
    return {**provenance, "path": str(folder),
            "mean_return": sum(returns) / len(returns) if returns else float("nan"),
            "terminated_episodes": sum(any(ep["terminations"]) for ep in episodes)}


def collect_episodes(env_id: str, policy: str, episodes: int, seed: int,
                     env_kwargs: dict[str, Any] | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Play `episodes` train-split episodes with a data policy, for offline datasets.

    policy: "expert", "random", or "mixture:P" (the expert's action with probability P, else a
    uniformly random admissible command). Returns one dict per episode with T+1 observations
    and infos (admissible commands, task, expert action) and T actions and rewards.
    """
    import numpy as np

    if episodes <= 0:
        raise UserError(f"--episodes must be positive, got {episodes}")
    expert_prob = {"expert": 1.0, "random": 0.0}.get(policy)
    if expert_prob is None:
        name, _, value = policy.partition(":")
        try:
            expert_prob = float(value)
        except ValueError:
            expert_prob = -1.0
        if name != "mixture" or not 0.0 <= expert_prob <= 1.0:
            raise UserError(f"unknown data policy {policy!r}: use expert, random or mixture:P with 0 ≤ P ≤ 1")
    env = envs.make(env_id, split="train", **(env_kwargs or {}))
    rng = np.random.default_rng(seeding.derive_seed(seed, "dataset-policy"))
    collected = []
    from tqdm.auto import tqdm

    for index in tqdm(range(episodes), desc=f"collect {policy}", disable=not progress, leave=False):
        episode_seed = seeding.derive_seed(seed, "dataset", index)
        obs, info = env.reset(seed=episode_seed)
        episode: dict[str, Any] = {"seed": episode_seed, "task_id": info.get("task_id"),
                                   "observations": [obs], "actions": [], "rewards": [],
                                   "terminations": [], "truncations": [], "infos": [info]}
        done = False
        while not done:
            commands = info["admissible_commands"]
            use_expert = "expert_action" in info and rng.random() < expert_prob
            if expert_prob > 0 and "expert_action" not in info and policy == "expert":
                raise UserError(f"{env_id} gives no expert_action here, so the expert policy cannot act")
            action = info["expert_action"] if use_expert else commands[int(rng.integers(len(commands)))]
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            for key, value in (("observations", obs), ("actions", action), ("rewards", float(reward)),
                               ("terminations", bool(terminated)), ("truncations", bool(truncated)),
                               ("infos", info)):
                episode[key].append(value)
        collected.append(episode)
    return collected
