"""The generated families' task splits as data (`envs/suites/alfworldgen-<type>-v0.toml`):
drawing them, writing them and reading them (see docs/envs/alfworld.md, "Tasks and splits").
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

from priorbench.core.errors import UserError
from priorbench.envs.alfworld.games import ensure_game
from priorbench.envs.alfworld.install import _constants, alfworld_paths
from priorbench.envs.alfworld.scenes import load_scene, task_goals
from priorbench.envs.alfworld.tasks import GENERATOR_VERSION, LABEL, TASK_TYPES, GenTask

DEFAULT_SPLIT_SIZES = (28, 26)
TEST_SEED_OFFSET = 1000
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"


def suite_path(task_type: str) -> Path:
    return SUITES_DIR / f"alfworldgen-{task_type.lower()}-v{GENERATOR_VERSION}.toml"


def _scenes(task_type: str, numbers: Sequence[int]) -> list[int]:
    _, _, layouts = alfworld_paths()
    return [n for n in numbers if (layouts / f"FloorPlan{n}-openable.json").is_file()
            and task_goals(task_type, load_scene(n))]


def propose_split(task_type: str, n_train: int, n_test: int, seed: int = 0,
                  verify: bool = True) -> tuple[list[GenTask], list[GenTask]]:
    """Draw a train and a test split: ALFRED's train scenes vs its held-out scenes, and no
    (object, receptacle) goal shared between the splits; with `verify`, only tasks whose game
    the planner solves (generated in a throw-away cache)."""
    c = _constants()
    rng = random.Random(f"{task_type}-{seed}")
    scratch = Path(tempfile.mkdtemp(prefix="alfworldgen-split-"))
    try:
        splits: list[list[GenTask]] = []
        taken: set[tuple[str, str, str]] = set()
        for numbers, n, offset in ((c.TRAIN_SCENE_NUMBERS, n_train, 0),
                                   (c.TEST_SCENE_NUMBERS, n_test, TEST_SEED_OFFSET)):
            scenes = _scenes(task_type, numbers)
            rng.shuffle(scenes)
            pool = {s: task_goals(task_type, load_scene(s)) for s in scenes}
            chosen: list[GenTask] = []
            mine: set[tuple[str, str, str]] = set()  # goals this split has
            tried: set[tuple[int, tuple[str, str, str]]] = set()  # (scene, goal) drawn
            k = 0
            while len(chosen) < n:
                if not any(g not in taken and (s, g) not in tried for s in scenes
                           for g in pool[s]):
                    raise ValueError(f"{task_type}: not enough distinct tasks for {n} tasks")
                scene = scenes[k % len(scenes)]
                k += 1
                fresh = [g for g in pool[scene] if g not in taken and (scene, g) not in tried]
                if not fresh:
                    continue
                # a goal new to this split if the scene has one (variety), else a repeat
                novel = [g for g in fresh if g not in mine]
                options = novel or fresh
                goal = options[rng.randrange(len(options))]
                tried.add((scene, goal))
                task = GenTask(task_type, scene, goal[0], goal[1], goal[2], offset + len(chosen))
                mine.add(goal)
                if verify:
                    try:
                        ensure_game(task, scratch)
                    except RuntimeError:
                        continue
                chosen.append(task)
            taken |= mine
            splits.append(chosen)
        return splits[0], splits[1]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid TOML basic string here


def write_split(path: Path, task_type: str, train: Sequence[GenTask],
                test: Sequence[GenTask]) -> None:
    lines = [
        f"# {LABEL}.",
        "# Written by `python -m priorbench.envs.alfworld splits`; read by envs/alfworld/splits.py",
        f"# (priorbench/ALFWorldGen-{task_type}-v{GENERATOR_VERSION}). Train tasks: ALFRED training",
        "# scenes; test tasks: ALFRED held-out scenes (constants.TEST_SCENE_NUMBERS) and goals",
        "# ((object, receptacle) pairs) that no train task has. Each task is generated from its",
        "# seed: same seed, same game file (sha256).",
        'kind = "split"  # task lists of one env family (not a suite: see envs/suite.py)',
        f"label = {_toml_str(LABEL)}",
        "generated = true",
        "official = false",
        f"task_type = {_toml_str(task_type)}",
        f"alfworld_task_type = {_toml_str(TASK_TYPES[task_type])}",
        f"generator_version = {GENERATOR_VERSION}",
        "",
    ]
    for split, tasks in (("train", train), ("test", test)):
        for t in tasks:
            lines += [
                f"[[{split}]]",
                f"id = {_toml_str(t.task_id)}",
                f"seed = {t.seed}",
                f"scene = {t.scene}",
                f"object = {_toml_str(t.object)}",
                f"receptacle = {_toml_str(t.receptacle)}",
                f"toggle = {_toml_str(t.toggle)}",
                "",
            ]
    path.write_text("\n".join(lines))


def load_split(task_type: str, split: str, path: Path | None = None) -> list[GenTask]:
    """The tasks of one split ("train" or "test") from the suite file."""
    path = path or suite_path(task_type)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(
            f"the ALFWorldGen split file {str(path)!r} is missing; restore it from git "
            "(or write it with `python -m priorbench.envs.alfworld splits`)."
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"the ALFWorldGen split file {str(path)!r} is corrupt: {exc}") from None
    try:
        if data["task_type"] != task_type or data["generator_version"] != GENERATOR_VERSION:
            raise ValueError(f"it is for {data['task_type']} v{data['generator_version']}")
        tasks = [GenTask(task_type, int(t["scene"]), str(t["object"]), str(t["receptacle"]),
                         str(t["toggle"]), int(t["seed"])) for t in data[split]]
        for t, row in zip(tasks, data[split], strict=True):
            if row["id"] != t.task_id:
                raise ValueError(f"task id {row['id']!r} does not match its fields")
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"the ALFWorldGen split file {str(path)!r} is malformed: {exc}") from None
    return tasks
