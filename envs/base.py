"""The TextEnv contract (a gymnasium.Env[str, str] with a fixed set of info keys) and its checker."""

from __future__ import annotations

import string
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

G = TypeVar("G")

#: Keys every TextEnv puts in `info` after reset and after every step.
REQUIRED_INFO_KEYS: tuple[str, ...] = (
    "admissible_commands",
    "task",
    "won",
    "lost",
    "score",
    "max_score",
)

#: What `TextEnv.reset` returns: (observation, info).
ResetResult = tuple[str, dict[str, Any]]
#: What `TextEnv.step` returns: (observation, reward, terminated, truncated, info).
StepResult = tuple[str, float, bool, bool, dict[str, Any]]

#: A wide bounded charset for gymnasium Text spaces (the default one has no spaces or punctuation).
TEXT_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n\t×—–’‘“”…é"


def text_space(max_length: int = 8192) -> spaces.Text:
    return spaces.Text(max_length=max_length, min_length=0, charset=TEXT_CHARSET)


class TextEnv(gym.Env[str, str]):
    """A text game: observations and actions are strings.

    Subclasses fill `info` with REQUIRED_INFO_KEYS (and `expert_action` where the game knows a
    good next command). Each env instance serves one split ("train" or "test") whose tasks are
    listed in `tasks`; `reset(options={"task": i})` plays task i of the split, otherwise the
    task is drawn with the env's seeded RNG.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    #: False where the expert can lose (e.g. slippery dynamics); check_text_env then skips that check.
    expert_always_wins: ClassVar[bool] = True
    #: Task ids of this instance's split.
    tasks: Sequence[str] = ()

    def provenance(self) -> dict[str, Any]:
        """Facts a run manifest must record about this env instance (game-file hashes, labels)."""
        return {}

    def _choose_task(self, options: dict[str, Any] | None) -> int:
        """The task index for a reset: options["task"] if given, else drawn from np_random."""
        n = len(self.tasks)
        if options and "task" in options:
            index = int(options["task"])
            if not 0 <= index < n:
                raise ValueError(f"task index {index} out of range: this split has {n} tasks")
            return index
        return int(self.np_random.integers(n))

    def _base_info(self, task_index: int, *, admissible: Sequence[str], task: str, won: bool,
                   lost: bool, score: float, max_score: float) -> dict[str, Any]:
        """The REQUIRED_INFO_KEYS and `task_id`, in the one order every env writes them.

        Once the game is over (won or lost) no command is admissible.
        """
        return {
            "admissible_commands": [] if (won or lost) else list(admissible),
            "task": task,
            "won": won,
            "lost": lost,
            "score": score,
            "max_score": max_score,
            "task_id": self.tasks[task_index],
        }


class EnvCheckError(AssertionError):
    """An env broke the TextEnv contract; the message says how."""


def _check_info(info: dict[str, Any], where: str) -> None:
    missing = [k for k in REQUIRED_INFO_KEYS if k not in info]
    if missing:
        raise EnvCheckError(f"info after {where} lacks {missing}")
    cmds = info["admissible_commands"]
    if not isinstance(cmds, list) or not all(isinstance(c, str) for c in cmds):
        raise EnvCheckError(f"info['admissible_commands'] after {where} must be a list of str")
    if not isinstance(info["task"], str) or not info["task"]:
        raise EnvCheckError(f"info['task'] after {where} must be a non-empty str")
    for key in ("won", "lost"):
        if not isinstance(info[key], bool):
            raise EnvCheckError(f"info[{key!r}] after {where} must be a bool")
    if "expert_action" in info and info["expert_action"] is not None:
        if info["expert_action"] not in cmds:
            raise EnvCheckError(f"expert_action {info['expert_action']!r} is not admissible ({where})")


def _rollout(env: gym.Env, seed: int, n_steps: int, task: int | None) -> list[tuple]:
    """Play admissible commands chosen by a seeded RNG; return what was seen."""
    options = None if task is None else {"task": task}
    obs, info = env.reset(seed=seed, options=options)
    if not isinstance(obs, str):
        raise EnvCheckError(f"reset must return a str observation, got {type(obs).__name__}")
    _check_info(info, "reset")
    rng = np.random.default_rng(seed)
    seen: list[tuple] = [(obs, sorted(info["admissible_commands"]))]
    for t in range(n_steps):
        cmds = info["admissible_commands"]
        if not cmds:
            raise EnvCheckError(f"no admissible commands at step {t} of a running episode")
        action = cmds[int(rng.integers(len(cmds)))]
        obs, reward, terminated, truncated, info = env.step(action)
        if not isinstance(obs, str):
            raise EnvCheckError(f"step must return a str observation, got {type(obs).__name__}")
        _check_info(info, f"step {t}")
        seen.append((action, obs, float(reward), terminated, truncated, info["won"], info["lost"]))
        if terminated or truncated:
            obs, info = env.reset()
            _check_info(info, "reset")
            seen.append(("<reset>", obs))
    return seen


def check_text_env(env: gym.Env, *, seed: int = 0, n_steps: int = 60) -> None:
    """Raise EnvCheckError if `env` breaks the TextEnv contract.

    Checks: str observations and the required info keys on reset and step; seeded reset and
    step determinism; every admissible command of the first state is accepted; an
    `expert_action` is admissible, and following it wins the episode (where the env says its
    expert always wins).
    """
    inner = env.unwrapped
    if not isinstance(inner, TextEnv):
        raise EnvCheckError(f"{type(inner).__name__} is not a TextEnv")
    if not inner.tasks:
        raise EnvCheckError("env.tasks is empty: a split needs at least one task")
    first = _rollout(env, seed, n_steps, None)
    second = _rollout(env, seed, n_steps, None)
    if first != second:
        diverged = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
        raise EnvCheckError(f"same seed, different trajectories (first difference at item {diverged})")

    _, info = env.reset(seed=seed, options={"task": 0})
    for command in list(info["admissible_commands"]):
        env.reset(seed=seed, options={"task": 0})
        try:
            _, _, _, _, step_info = env.step(command)
        except Exception as exc:  # the check reports any failure, whatever its type
            raise EnvCheckError(f"admissible command {command!r} raised {exc!r}") from exc
        _check_info(step_info, f"admissible command {command!r}")

    for task in range(len(inner.tasks)):
        obs, info = env.reset(seed=seed, options={"task": task})
        if "expert_action" not in info:
            return
        done = False
        for _ in range(10_000):
            action = info.get("expert_action")
            if action is None:
                raise EnvCheckError(f"task {task}: expert_action missing mid-episode")
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            if done:
                break
        if inner.expert_always_wins and not info["won"]:
            raise EnvCheckError(f"task {task} ({inner.tasks[task]}): following expert_action did not win")


class StartedGames(Generic[G]):
    """Started games by file path, the least recently reset closed first beyond `max_open`.

    Starting a game file (parsing, compiling grammars) costs far more than a reset, so engines
    keep games open; `close()` of the game object is called when it is evicted.
    """

    def __init__(self, start: Callable[[str], G], max_open: int) -> None:
        self._start = start
        self.max_open = max_open
        self._games: OrderedDict[str, G] = OrderedDict()

    def get(self, path: str) -> G:
        """The game for `path`, started on first use, now the most recently used."""
        game = self._games.pop(path, None)
        if game is None:
            game = self._start(path)
            while len(self._games) >= self.max_open:
                _, old = self._games.popitem(last=False)
                old.close()  # type: ignore[attr-defined]
        self._games[path] = game
        return game

    def close(self) -> None:
        for game in self._games.values():
            game.close()  # type: ignore[attr-defined]
        self._games.clear()
