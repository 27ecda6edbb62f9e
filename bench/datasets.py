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
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from priorbench import envs
from priorbench.agents.base import Transition
from priorbench.core import seeding
from priorbench.core.config import (
    Range,
    build_config,
    canonical_json,
    json_loads,
    self_checksum,
    stamped_json,
)
from priorbench.core.errors import UserError
from priorbench.core.paths import (
    JSON_LIMIT,
    folder_lock,
    library_write_error,
    read_regular,
    refuse_linked_parts,
    refuse_links,
    staging_folder,
    temporary_env,
    write_error,
)

PROVENANCE = "priorbench.json"
#: The most episodes one dataset collects (the leaderboard spec's bound too).
EPISODES_LIMIT = 1_000_000
#: How to make a dataset, for the messages that refuse one.
COLLECT = "collect it again with `priorbench dataset collect` (or delete it: `leaderboard run` remakes its own)"


def _minari_root(root: Path) -> AbstractContextManager[None]:
    return temporary_env("MINARI_DATASETS_PATH", str(root))


#: What `sha256` in priorbench.json covers: "data/*" is every file under data/, Minari's
#: metadata.json (episode and step counts) included; datasets before it left metadata.json out.
CHECKSUM_COVERS = "data/*"
#: A dataset's name: a plain folder name ending in Minari's version suffix.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._]*(-[A-Za-z0-9._]+)*-v[0-9]+")


@dataclass(frozen=True)
class Provenance:
    """priorbench.json: every field and its type. `sha256` covers the data files (the dataset's
    identity in run records); `provenance_sha256` covers this file but itself — env id, env
    settings, policy, seed, counts and `sha256` (datasets before it are refused: make them again)."""

    env_id: str
    env_version: str
    policy: str
    seed: Annotated[int, Range(0)]
    episodes: Annotated[int, Range(1)]
    transitions: Annotated[int, Range(0)]
    env_kwargs: dict
    sha256: str
    sha256_covers: Literal["data/*"]
    provenance_sha256: str


def provenance_checksum(provenance: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of priorbench.json without its `provenance_sha256`."""
    return self_checksum(provenance, "provenance_sha256")


def _provenance_bytes(provenance: dict[str, Any]) -> bytes:
    return stamped_json(provenance, "provenance_sha256")


def stamp_provenance(folder: str | Path, env_kwargs: dict[str, Any]) -> bool:
    """Record the env settings a trusted dataset made before issue 29 was collected with, and
    stamp its priorbench.json with `provenance_sha256` (its data unchanged, their checksum
    verified first). Datasets of a leaderboard spec were collected with the env's defaults:

        python -c "from priorbench.bench.datasets import stamp_provenance as s; s('DIR', {})"

    Returns whether priorbench.json changed."""
    from priorbench.core.paths import atomic_write_bytes

    folder = Path(folder)
    provenance = json.loads(read_regular(folder / PROVENANCE, limit=JSON_LIMIT))
    if _data_checksum(folder) != provenance["sha256"]:
        raise UserError(f"dataset {folder}: data files do not match their checksum; not stamping it")
    provenance.setdefault("env_kwargs", dict(env_kwargs))
    if provenance.get("provenance_sha256") == provenance_checksum(provenance):
        return False
    atomic_write_bytes(folder / PROVENANCE, _provenance_bytes(provenance))
    read_provenance(folder)
    return True


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
                  out: Path, name: str | None = None, env_kwargs: dict[str, Any] | None = None) -> Path:
    """Store collected episodes (played with `env_kwargs`) under `out`/priorbench/<name>;
    returns the dataset folder."""
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
    try:
        with staging_folder(folder.parent, prefix=".staging-") as staging:
            with _minari_root(staging), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # minari's nags about optional metadata
                _in_child(lambda: minari.create_dataset_from_buffers(
                    f"priorbench/{name}", buffers, observation_space=text_space(),
                    action_space=text_space(256), algorithm_name=policy, author="priorbench",
                    description=json.dumps(provenance), data_format="hdf5",
                ), folder)
            built = staging / "priorbench" / name
            # the env settings live beside the data, not in them: the data (and their checksum,
            # the dataset's identity in run records) stay what they were before issue 29
            provenance.update(env_kwargs=dict(env_kwargs or {}), sha256=_data_checksum(built),
                              sha256_covers=CHECKSUM_COVERS)
            (built / PROVENANCE).write_bytes(_provenance_bytes(provenance))
            try:
                os.replace(built, folder)
            except OSError:  # another process finished the same dataset first: reuse it if equal
                if not folder.is_dir():
                    raise
                theirs = read_provenance(folder)
                if theirs["provenance_sha256"] != provenance_checksum(provenance):
                    raise UserError(f"dataset {folder} appeared while this one was written, with other data; "
                                    "choose another --name or --out") from None
    except OSError as exc:
        raise write_error(folder, exc) from None
    return folder


def _in_child(build: Callable[[], Any], folder: Path) -> None:
    """Run `build` (it writes HDF5 files) in a child process, its output captured. HDF5 fails on a
    full disk with a traceback per object and then a segfault; here that is one line naming
    `folder`, and the parent removes the staged files. Without fork, `build` runs in-process."""
    if not hasattr(os, "fork"):
        build()
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_end)
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            build()
            code = 0
        except BaseException as exc:  # reported to the parent through the pipe
            os.write(2, f"\n{type(exc).__name__}: {exc}\n".encode(errors="replace"))
        finally:
            os._exit(code)
    os.close(write_end)
    head, tail = b"", b""
    with os.fdopen(read_end, "rb") as pipe:
        for chunk in iter(lambda: pipe.read(1 << 16), b""):
            head = head or chunk[:16384]  # the first error: the cause
            tail = (tail + chunk)[-4096:]  # the last: the exception the child reported
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if status == 0:
        return
    text = (head + b"\n" + tail).decode(errors="replace")
    mapped = library_write_error(folder, RuntimeError(text))
    if isinstance(mapped, UserError):
        raise mapped
    last = text.strip().splitlines()[-1] if text.strip() else ""
    how = f"signal {-status}" if status < 0 else f"exit {status}"
    raise RuntimeError(f"writing dataset {folder} failed ({how}): {last}")


def read_provenance(folder: Path) -> dict[str, Any]:
    """A dataset's priorbench.json, every field typed and checked against its checksum, its data
    files against theirs, and its env, policy, seed and counts against the data's own record."""
    folder = Path(folder)
    if not (folder / PROVENANCE).exists():
        raise UserError(f"{folder} is not a priorbench dataset (no {PROVENANCE}); "
                        "make one with `priorbench dataset collect`")
    refuse_links(folder, what="dataset")
    try:
        provenance = json_loads(read_regular(folder / PROVENANCE, limit=JSON_LIMIT).decode("utf-8"))
    except ValueError:
        raise UserError(f"dataset {folder}: {PROVENANCE} is not valid JSON; {COLLECT}") from None
    if not isinstance(provenance, dict) or not isinstance(provenance.get("sha256"), str):
        raise UserError(f"dataset {folder}: {PROVENANCE} has no sha256 checksum; {COLLECT}")
    if provenance.get("sha256_covers") != CHECKSUM_COVERS:
        raise UserError(f"dataset {folder} was made by an older priorbench whose checksum left "
                        "data/metadata.json out; collect it again with `priorbench dataset collect`")
    if "provenance_sha256" not in provenance:
        raise UserError(f"dataset {folder} was made by an older priorbench ({PROVENANCE} has no "
                        f"checksum and no env settings); {COLLECT}")
    where = str(folder / PROVENANCE)
    missing = [f for f in Provenance.__dataclass_fields__ if f not in provenance]
    if missing:
        raise UserError(f"{where} has no {missing[0]!r}; {COLLECT}")
    build_config(Provenance, provenance, where=where)
    if provenance["provenance_sha256"] != provenance_checksum(provenance):
        raise UserError(f"dataset {folder}: {PROVENANCE} does not match its checksum (edited after "
                        f"collection); {COLLECT}")
    for name in ("metadata.json", "main_data.hdf5"):
        if not (folder / "data" / name).is_file():
            raise UserError(f"dataset {folder} has no data/{name} (deleted or incomplete); {COLLECT}")
    if _data_checksum(folder) != provenance["sha256"]:
        raise UserError(f"dataset {folder}: data files do not match their checksum (edited or incomplete); "
                        f"{COLLECT}")
    _check_against_data(folder, provenance)
    return provenance


def _check_against_data(folder: Path, provenance: dict[str, Any]) -> None:
    """priorbench.json's env, policy, seed and counts are those the data recorded (Minari's
    metadata.json, inside the data checksum)."""
    try:
        meta = json_loads(read_regular(folder / "data" / "metadata.json", limit=JSON_LIMIT))
        recorded = json_loads(meta["description"])
        recorded.update(episodes_total=meta["total_episodes"], transitions_total=meta["total_steps"])
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise UserError(f"dataset {folder}: data/metadata.json is not Minari's record of this dataset; "
                        f"{COLLECT}") from None
    expected = {**{k: provenance[k] for k in ("env_id", "policy", "seed", "episodes", "transitions")},
                "episodes_total": provenance["episodes"], "transitions_total": provenance["transitions"]}
    for key, value in expected.items():
        if recorded.get(key) != value:
            raise UserError(f"dataset {folder}: {PROVENANCE} says {key.removesuffix('_total')} = {value!r}, "
                            f"its data were recorded with {recorded.get(key)!r}; {COLLECT}")


def load_episodes(folder: Path) -> list[dict[str, Any]]:
    """The stored episodes, verified against the checksum."""
    import minari

    folder = Path(folder)
    provenance = read_provenance(folder)
    try:
        episodes = _read_episodes(minari, folder)
    except UserError:
        raise
    except Exception as exc:  # h5py and minari raise many types for a damaged file
        raise UserError(f"dataset {folder}: its data cannot be read ({type(exc).__name__}: {exc}); "
                        f"{COLLECT}") from None
    steps = [len(ep["actions"]) for ep in episodes]
    if len(episodes) != provenance["episodes"] or sum(steps) != provenance["transitions"] or any(
            len(ep[k]) != n + 1 for ep, n in zip(episodes, steps, strict=True)
            for k in ("observations", "admissible_commands", "task")):
        raise UserError(f"dataset {folder}: its data do not hold the {provenance['episodes']} episodes and "
                        f"{provenance['transitions']} transitions {PROVENANCE} names; {COLLECT}")
    return episodes


def _read_episodes(minari: Any, folder: Path) -> list[dict[str, Any]]:
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


def load_transitions(folder: str | Path, *, expected_env: str | None = None,
                     expected_env_kwargs: dict[str, Any] | None = None) -> list[Transition]:
    """The dataset as a list of Transitions (in episode order), checking it was made on
    `expected_env` with the env settings `expected_env_kwargs` (when given)."""
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"dataset {folder} does not exist; make one with `priorbench dataset collect`")
    provenance = read_provenance(folder)
    if expected_env and provenance["env_id"] != expected_env:
        raise UserError(f"dataset {folder} was collected on {provenance['env_id']}, not {expected_env}")
    if expected_env_kwargs is not None and canonical_json(provenance["env_kwargs"]) != canonical_json(
            dict(expected_env_kwargs)):
        raise UserError(f"dataset {folder} was collected with env settings {provenance['env_kwargs']}, "
                        f"this run has {dict(expected_env_kwargs)}; collect one with the run's "
                        "settings (`priorbench dataset collect --set env.KEY=VALUE`)")
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


def collect(env_id: str, policy: str, episodes: int, seed: int, *, out: Path, name: str | None = None,
            env_kwargs: dict[str, Any] | None = None, progress: bool = True) -> Path:
    """`priorbench dataset collect`: play and store a dataset under `out`, which this process
    holds alone meanwhile (a second writer is refused at once); returns the dataset folder.
    A refusal or failure leaves no folder it made behind."""
    out = Path(out)
    refuse_linked_parts(out, out / "priorbench")  # nothing written through a link below --out
    made = not (out / "priorbench").exists()
    with folder_lock(out, "--out"):  # it removes the --out it made if this fails
        try:
            played = collect_episodes(env_id, policy, episodes, seed, env_kwargs, progress=progress)
            return write_dataset(played, env_id=env_id, policy=policy, seed=seed, out=out, name=name,
                                 env_kwargs=env_kwargs)
        except BaseException:
            if made and (out / "priorbench").is_dir() and not any((out / "priorbench").iterdir()):
                (out / "priorbench").rmdir()
            raise


def collect_episodes(env_id: str, policy: str, episodes: int, seed: int,
                     env_kwargs: dict[str, Any] | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Play `episodes` train-split episodes with a data policy, for offline datasets.

    policy: "expert", "random", or "mixture:P" (the expert's action with probability P, else a
    uniformly random admissible command). Returns one dict per episode with T+1 observations
    and infos (admissible commands, task, expert action) and T actions and rewards.
    """
    import numpy as np

    if not 0 < episodes <= EPISODES_LIMIT:
        raise UserError(f"--episodes must be from 1 to {EPISODES_LIMIT:,}, got {episodes:,}")
    if seed < 0:
        raise UserError(f"--seed must be ≥ 0, got {seed}")
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
    from priorbench.core.progress import Meter, reporting

    meter = Meter(episodes, f"collect {policy}", unit="episode", report=reporting(progress))
    for index in range(episodes):
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
        meter.update(1)
    meter.close()
    return collected
