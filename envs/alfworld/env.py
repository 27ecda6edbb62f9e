"""The ALFWorld TextEnvs: ALFWorldGen (GENERATED games) and ALFWorld (the official games).

Both play a split's game files through one engine and share the expert; see docs/envs/alfworld.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from priorbench.core.errors import UserError
from priorbench.core.paths import sha256_file
from priorbench.core.progress import make_each
from priorbench.envs.alfworld.engine import _Engine
from priorbench.envs.alfworld.expert import expert_command
from priorbench.envs.alfworld.games import default_cache_dir, ensure_game, game_path, read_game
from priorbench.envs.alfworld.install import _quiet_alfworld_import, require_alfworld
from priorbench.envs.alfworld.splits import load_split, suite_path
from priorbench.envs.alfworld.tasks import GENERATOR_VERSION, LABEL, TASK_TYPE_IDS, TASK_TYPES, Goal
from priorbench.envs.alfworld.text import (
    MAX_COMMAND_CHARS,
    PASSIVE_VERBS,
    normalize_command,
    task_sentence,
)
from priorbench.envs.base import ResetResult, StepResult, TextEnv, text_space

OFFICIAL_SPLITS = {"train": "train", "valid_seen": "valid_seen", "valid_unseen": "valid_unseen",
                   "test": "valid_unseen"}


def _check_settings(task_type: str, n_tasks: int | None) -> None:
    """The settings both ALFWorld families share: a known task type, a positive task count."""
    if task_type not in TASK_TYPES:
        raise UserError(f"unknown ALFWorld task type {task_type!r}; choose from "
                        f"{sorted(TASK_TYPES)}")
    if n_tasks is not None and n_tasks <= 0:
        raise ValueError(f"n_tasks must be positive or None, got {n_tasks}")


class _ALFWorldBase(TextEnv):
    """What both families share: a list of game files (the split), reset/step, the expert."""

    expert_always_wins: ClassVar[bool] = True

    def _setup(self, task_ids: Sequence[str], paths: Sequence[Path], goals: Sequence[Goal],
               split: str, max_steps: int, expert: bool, max_open: int) -> None:
        if max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        if max_open <= 0:
            raise ValueError(f"max_open must be positive, got {max_open}")
        self.split = split
        self.max_steps = max_steps
        self.expert = expert
        self.max_open = max_open
        self.tasks = tuple(task_ids)
        self._paths = [str(Path(p).resolve()) for p in paths]
        self._goals = list(goals)
        self._walkthroughs: list[list[str]] = []
        self._sha256: dict[str, str] = {}
        for task_id, path in zip(self.tasks, paths, strict=True):
            game = read_game(Path(path))
            self._walkthroughs.append(list(game.get("walkthrough") or []))
            self._sha256[task_id] = sha256_file(Path(path))
        self.observation_space = text_space()
        self.action_space = text_space(MAX_COMMAND_CHARS)
        self._engine: _Engine | None = None
        self._task = 0
        self._state: dict[str, Any] = {}
        self._plan: list[str] | None = None
        self._goal_text = ""
        self._score = 0.0
        self._steps = 0
        self._done = True

    def _engine_now(self) -> _Engine:
        if self._engine is None:
            self._engine = _Engine(facts=self.expert, max_open=self.max_open)
        return self._engine

    # --- infos ----------------------------------------------------------------------------------
    def _expert_action(self, state: dict[str, Any], admissible: list[str]) -> str | None:
        if self._plan:
            if self._plan[0] in admissible:
                return self._plan[0]
            self._plan = None  # the walkthrough no longer fits this state
        action = expert_command(self._goals[self._task], state.get("facts") or [])
        return action if action in admissible else None

    def _info(self, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
        won = bool(state.get("won"))
        admissible = [] if won else list(state.get("admissible_commands") or [])
        info = self._base_info(self._task, admissible=admissible,
                               task=self._goal_text or "Solve the household task.", won=won,
                               lost=False, score=1.0 if won else 0.0, max_score=1.0)
        if self.expert and not won:
            action = self._expert_action(state, admissible)
            if action is not None:
                info["expert_action"] = action
        info.update(extra)
        return info

    # --- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> ResetResult:
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        obs, state = self._engine_now().reset(self._paths[self._task])
        self._state = state
        self._goal_text = task_sentence(obs)
        self._plan = list(self._walkthroughs[self._task]) if self.expert else None
        self._score = 1.0 if state.get("won") else 0.0
        self._steps = 0
        self._done = False
        return obs, self._info(state)

    def step(self, action: str) -> StepResult:
        if self._engine is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = normalize_command(action)
        invalid = command not in (self._state.get("admissible_commands") or [])
        if self._plan is not None:
            verb = command.split(" ", 1)[0]
            if self._plan and command == self._plan[0]:
                self._plan.pop(0)
            elif not (invalid or verb in PASSIVE_VERBS):
                self._plan = None  # off the walkthrough: the goal-directed expert takes over
        obs, state = self._engine.step(command)
        self._state = state
        info = self._info(state, invalid_action=invalid)
        reward, self._score = info["score"] - self._score, info["score"]
        terminated = info["won"]
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._done = True

    def _versions(self) -> dict[str, str]:
        import importlib.metadata as md

        return {name: md.version(name) for name in ("alfworld", "textworld",
                                                    "fast-downward-textworld")}


class ALFWorldGen(_ALFWorldBase):
    """GENERATED ALFWorld-format games (`priorbench/ALFWorldGen-<TaskType>-v0`) — NOT the
    official ALFWorld task set; see docs/envs/alfworld.md.

    Args:
        task_type: Pick, Look, Clean, Heat, Cool or PickTwo.
        split: "train" or "test" (tasks listed in envs/suites/alfworldgen-<type>-v0.toml).
        max_steps: episode step limit (truncation); 60, as the paper caps its ALFWorld episodes.
        expert: give `info["expert_action"]` (see docs/envs/alfworld.md, "Expert").
        cache_dir: where generated games are kept (default: `$PRIORBENCH_CACHE/alfworld`, else
            `~/.cache/priorbench/alfworld`).
        n_tasks: play only the split's first n tasks (quick checks); None: all of them.
        max_open: started games kept in memory (~8 MB each).
    """

    def __init__(
        self,
        task_type: str = "Pick",
        split: str = "train",
        max_steps: int = 60,
        expert: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        n_tasks: int | None = None,
        max_open: int = 32,
    ) -> None:
        _check_settings(task_type, n_tasks)
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        require_alfworld()
        self.task_type = task_type
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.suite_file = suite_path(task_type)
        tasks = load_split(task_type, split, self.suite_file)[:n_tasks]
        self.gen_tasks = tasks
        paths = make_each(tasks, lambda t: ensure_game(t, self.cache_dir),
                          ready=lambda t: game_path(t, self.cache_dir).is_file(),
                          what=f"ALFWorldGen {task_type} {split} games", where=self.cache_dir)
        goals = [Goal(task_type, t.object.lower(), t.receptacle.lower(), t.toggle.lower())
                 for t in tasks]
        self._setup([t.task_id for t in tasks], paths, goals, split, max_steps, expert, max_open)

    def provenance(self) -> dict[str, Any]:
        return {
            "family": "ALFWorldGen",
            "generated": True,
            "official": False,
            "label": LABEL,
            "task_type": self.task_type,
            "alfworld_task_type": TASK_TYPES[self.task_type],
            "split": self.split,
            "suite_file": f"envs/suites/{self.suite_file.name}",
            "suite_sha256": sha256_file(self.suite_file),
            "generator_version": GENERATOR_VERSION,
            "tasks": [{"id": t.task_id, "seed": t.seed, "scene": t.scene, "object": t.object,
                       "receptacle": t.receptacle, "toggle": t.toggle} for t in self.gen_tasks],
            "game_sha256": dict(self._sha256),
            "versions": self._versions(),
        }


def _data_root(data_dir: str | os.PathLike[str] | None) -> Path:
    """The json_2.1.1 folder, from the kwarg or $ALFWORLD_DATA (which may also be json_2.1.1)."""
    how = (
        "Get the official games on a machine with internet: `pip install --no-deps "
        "alfworld==0.4.2 && alfworld-download` (it writes json_2.1.1 under ~/.cache/alfworld), "
        "copy that folder here and set ALFWORLD_DATA to the folder that holds json_2.1.1. "
        "Without it, the offline family priorbench/ALFWorldGen-<TaskType>-v0 plays GENERATED "
        "ALFWorld-format games (not the official task set)."
    )
    raw = data_dir if data_dir is not None else os.environ.get("ALFWORLD_DATA")
    if not raw:
        raise UserError(f"the official ALFWorld games need ALFWORLD_DATA, which is not set. {how}")
    root = Path(raw).expanduser()
    for candidate in (root / "json_2.1.1", root):
        if any((candidate / s).is_dir() for s in ("train", "valid_seen", "valid_unseen")):
            return candidate
    raise UserError(f"ALFWORLD_DATA={str(root)!r} holds no json_2.1.1 games "
                    f"(no json_2.1.1/train, valid_seen or valid_unseen there). {how}")


class ALFWorld(_ALFWorldBase):
    """The official ALFWorld text games (`priorbench/ALFWorld-<TaskType>-v0`, `$ALFWORLD_DATA`).

    Args:
        task_type: Pick, Look, Clean, Heat, Cool or PickTwo.
        split: "train", "valid_seen", "valid_unseen", or "test" (= valid_unseen).
        max_steps: episode step limit (ALFWorld's evaluations use 50).
        expert: give `info["expert_action"]` (see docs/envs/alfworld.md, "Expert").
        data_dir: the folder holding json_2.1.1 (default: $ALFWORLD_DATA).
        n_tasks: play only the split's first n games (sorted by path); None: all of them.
        max_open: started games kept in memory (~8 MB each).
    """

    def __init__(
        self,
        task_type: str = "Pick",
        split: str = "train",
        max_steps: int = 50,
        expert: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
        n_tasks: int | None = None,
        max_open: int = 32,
    ) -> None:
        _check_settings(task_type, n_tasks)
        if split not in OFFICIAL_SPLITS:
            raise ValueError(f"split must be one of {sorted(OFFICIAL_SPLITS)}, not {split!r}")
        root = _data_root(data_dir)
        folder = root / OFFICIAL_SPLITS[split]
        if not folder.is_dir():
            raise UserError(f"the ALFWorld data at {str(root)!r} has no {folder.name} split. "
                            "Download it again with alfworld-download.")
        require_alfworld()
        self.task_type = task_type
        self.data_root = root
        files = self._collect(task_type, split, root)[:n_tasks]
        if not files:
            raise UserError(f"no solvable ALFWorld {task_type} games ({TASK_TYPES[task_type]}) "
                            f"in {str(folder)!r}. Is the json_2.1.1 download complete?")
        goals = []
        for path in files:
            traj_file = path.parent / "traj_data.json"
            try:
                goals.append(Goal.from_traj_data(json.loads(traj_file.read_text())))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UserError(f"ALFWorld file {str(traj_file)!r} is missing or corrupt "
                                f"({exc}). Copy it again from the ALFWorld data.") from None
        ids = [str(p.parent.relative_to(root)) for p in files]
        self._setup(ids, files, goals, OFFICIAL_SPLITS[split], max_steps, expert, max_open)

    @staticmethod
    def _collect(task_type: str, split: str, root: Path) -> list[Path]:
        """The split's game files, chosen by alfworld's own AlfredTWEnv.collect_game_files."""
        with _quiet_alfworld_import():
            from alfworld.agents.environment.alfred_tw_env import AlfredTWEnv
        config = {
            "env": {"goal_desc_human_anns_prob": 0.0,
                    "task_types": [TASK_TYPE_IDS[task_type]]},
            "dataset": {"data_path": str(root / "train"),
                        "eval_id_data_path": str(root / "valid_seen"),
                        "eval_ood_data_path": str(root / "valid_unseen"),
                        "num_train_games": -1, "num_eval_games": -1},
        }
        mode = {"train": "train", "valid_seen": "eval_in_distribution",
                "valid_unseen": "eval_out_of_distribution"}[OFFICIAL_SPLITS[split]]
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                env = AlfredTWEnv(config, train_eval=mode)
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"alfworld could not read the games under {str(root)!r} ({exc}). "
                            "Download them again with alfworld-download.") from None
        return sorted(Path(p) for p in env.game_files)

    def provenance(self) -> dict[str, Any]:
        return {
            "family": "ALFWorld",
            "generated": False,
            "official": True,
            "task_type": self.task_type,
            "alfworld_task_type": TASK_TYPES[self.task_type],
            "split": self.split,
            "data_root": str(self.data_root),
            "game_sha256": dict(self._sha256),
            "versions": self._versions(),
        }
