"""The TextWorld TextEnvs: any game files (TextWorldGames) and the generated families
(TextWorldGenerated). What they play, their splits and infos: docs/envs/textworld.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from priorbench.core.errors import UserError
from priorbench.core.paths import sha256_file
from priorbench.core.progress import make_each
from priorbench.envs.base import ResetResult, StepResult, TextEnv, text_space
from priorbench.envs.textworld_env.cache import default_cache_dir, game_file, generate_game
from priorbench.envs.textworld_env.engine import EngineError, _Engine
from priorbench.envs.textworld_env.families import FAMILIES, TEST_SEED_OFFSET, generator_settings
from priorbench.envs.textworld_env.gamefile import check_game_file
from priorbench.envs.textworld_env.text import (
    MAX_COMMAND_CHARS,
    SYSTEM_VERBS,
    clean_text,
    normalize_command,
)
from priorbench.envs.textworld_env.worker import _WorkerEngine


class TextWorldGames(TextEnv):
    """Any TextWorld game files (`priorbench/TextWorld-v0`) — and the base of the generated families.

    Args:
        game_files: the games of the train split (.z8 files made by TextWorld, each with its
            .json), e.g. `--set env.game_files=['a.z8','b.z8']`.
        test_game_files: the test split's games; without it the test split plays `game_files`.
        split: "train" or "test".
        max_steps: episode step limit (truncation).
        expert: request TextWorld's `policy_commands` and give `info["expert_action"]`.
        description, inventory: also give `info["description"]` / `info["inventory"]`.
        step_timeout: seconds; if set, the game runs in a worker process and a slower step ends
            the episode as an error (docs/envs/textworld.md). None: in-process, no timeout.
        clean: strip the interpreter's title art, prompt and status line from observations.
    """

    expert_always_wins: ClassVar[bool] = True

    def __init__(
        self,
        game_files: Sequence[str] | str | None = None,
        test_game_files: Sequence[str] | str | None = None,
        split: str = "train",
        max_steps: int = 100,
        expert: bool = True,
        description: bool = False,
        inventory: bool = False,
        step_timeout: float | None = None,
        clean: bool = True,
    ) -> None:
        if game_files is None or (not isinstance(game_files, str) and len(game_files) == 0):
            raise UserError(
                "priorbench/TextWorld-v0 needs game files: --set env.game_files=['path/game.z8'] "
                "(or game_files = [...] under [env] in the spec)."
            )
        self._validate_common(split, max_steps, step_timeout)
        files = test_game_files if (split == "test" and test_game_files) else game_files
        paths = [files] if isinstance(files, str) else list(files)
        self._setup([Path(p) for p in paths], [str(p) for p in paths], split, max_steps, expert,
                    description, inventory, step_timeout, clean)

    # --- shared set-up ----------------------------------------------------------------------
    @staticmethod
    def _validate_common(split: str, max_steps: int, step_timeout: float | None) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        if step_timeout is not None and step_timeout <= 0:
            raise ValueError(f"step_timeout must be positive seconds or None, got {step_timeout}")

    def _setup(self, paths: list[Path], task_ids: list[str], split: str, max_steps: int,
               expert: bool, description: bool, inventory: bool, step_timeout: float | None,
               clean: bool) -> None:
        for path in paths:
            check_game_file(path)
        self.split = split
        self.max_steps = max_steps
        self.expert = expert
        self.clean = clean
        self.step_timeout = step_timeout
        self.tasks = tuple(task_ids)
        self._paths = [str(p.resolve()) for p in paths]
        self._sha256 = {t: sha256_file(p) for t, p in zip(task_ids, paths, strict=True)}
        self._flags = {"expert": expert, "description": description, "inventory": inventory}
        self.observation_space = text_space()
        self.action_space = text_space(MAX_COMMAND_CHARS)
        self._engine: _Engine | _WorkerEngine | None = None
        self._task = 0
        self._state: dict[str, Any] = {}
        self._score = 0.0
        self._steps = 0
        self._done = True
        self._probe(paths)

    def _probe(self, paths: list[Path]) -> None:
        """Start each game once, so a game textworld cannot play fails now, with its name.

        In-process, the started games are kept for the episodes (the engine's LRU)."""
        engine = _Engine(self._flags)
        try:
            for path in paths:
                try:
                    engine.reset(str(path.resolve()))
                except Exception as exc:  # any engine failure becomes one clear message
                    raise UserError(
                        f"textworld cannot play game file {str(path)!r} ({type(exc).__name__}: "
                        f"{exc}). Is it a game made by TextWorld 1.7, with its .json? Make it again."
                    ) from None
        except BaseException:
            engine.close()
            raise
        if self.step_timeout is None:
            self._engine = engine
        else:
            engine.close()

    def _get_engine(self) -> _Engine | _WorkerEngine:
        if self._engine is None:
            self._engine = (_Engine(self._flags) if self.step_timeout is None
                            else _WorkerEngine(self._flags, self.step_timeout))
        return self._engine

    def provenance(self) -> dict[str, Any]:
        import textworld

        return {
            "engine": f"textworld {textworld.__version__}",
            "split": self.split,
            "game_sha256": dict(self._sha256),
        }

    # --- infos ------------------------------------------------------------------------------
    def _text(self, text: str | None) -> str:
        text = text or ""
        return clean_text(text) if self.clean else text

    def _info(self, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
        won, lost = bool(state.get("won")), bool(state.get("lost"))
        over = won or lost
        info = self._base_info(
            self._task, admissible=state.get("admissible_commands") or [],
            task=state.get("objective") or "Play the game to its end.", won=won, lost=lost,
            score=float(state.get("score") or 0), max_score=float(state.get("max_score") or 0))
        if self.expert and not over:
            policy = state.get("policy_commands") or []
            if policy and policy[0] in info["admissible_commands"]:
                info["expert_action"] = policy[0]
        if self._flags["description"]:
            info["description"] = self._text(state.get("description"))
        if self._flags["inventory"]:
            info["inventory"] = self._text(state.get("inventory"))
        info.update(extra)
        return info

    # --- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> ResetResult:
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        try:
            state = self._get_engine().reset(self._paths[self._task])
        except EngineError as exc:
            raise RuntimeError(f"could not start game {self.tasks[self._task]!r}: {exc}") from None
        self._state = state
        self._score = float(state.get("score") or 0)
        self._steps = 0
        self._done = False
        return self._text(state.get("feedback")), self._info(state)

    def step(self, action: str) -> StepResult:
        if self._engine is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = normalize_command(action)
        admissible = self._state.get("admissible_commands") or []
        invalid = command.lower() not in {c.lower() for c in admissible}
        verb = command.split(" ", 1)[0].lower() if command else ""
        if verb in SYSTEM_VERBS:
            obs = f"[{verb!r} is a game-system command; it is not available here.]"
            truncated = self._steps >= self.max_steps
            self._done = truncated
            return obs, 0.0, False, truncated, self._info(self._state, invalid_action=True)
        try:
            state = self._engine.step(command)
        except EngineError as exc:
            self._done = True
            obs = f"[The game stopped answering; the episode was ended. {exc}]"
            info = self._info(self._state, invalid_action=invalid, error=str(exc))
            info["admissible_commands"] = []
            info.pop("expert_action", None)
            return obs, 0.0, False, True, info
        self._state = state
        score = float(state.get("score") or 0)
        reward, self._score = score - self._score, score
        info = self._info(state, invalid_action=invalid)
        terminated = info["won"] or info["lost"]
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return self._text(state.get("feedback")), reward, terminated, truncated, info

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._done = True


class TextWorldGenerated(TextWorldGames):
    """A generated TextWorld family at one level (`priorbench/TextWorld-<Family>-<level>-v0`).

    Args:
        family: "Cooking", "CoinCollector" or "TreasureHunter".
        level: the priorbench level (see FAMILIES; each maps to fixed generator settings).
        n_train_games, n_test_games: how many games each split has (generator seeds
            0..n_train_games-1 for train, TEST_SEED_OFFSET.. for test).
        cache_dir: where generated games are kept (default: default_cache_dir()).
        The other arguments are TextWorldGames'.
    """

    def __init__(
        self,
        family: str = "Cooking",
        level: int = 1,
        split: str = "train",
        n_train_games: int = 10,
        n_test_games: int = 5,
        max_steps: int = 100,
        expert: bool = True,
        description: bool = False,
        inventory: bool = False,
        step_timeout: float | None = None,
        clean: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if family not in FAMILIES:
            raise UserError(f"unknown TextWorld family {family!r}; families are {sorted(FAMILIES)}")
        self._validate_common(split, max_steps, step_timeout)
        if n_train_games <= 0 or n_test_games <= 0:
            raise ValueError("n_train_games and n_test_games must be positive")
        if n_train_games > TEST_SEED_OFFSET:
            raise ValueError(f"n_train_games must be at most {TEST_SEED_OFFSET}")
        self.family = FAMILIES[family]
        self.level = int(level)
        self.settings = generator_settings(self.family, self.level, split)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.seeds = (list(range(n_train_games)) if split == "train"
                      else list(range(TEST_SEED_OFFSET, TEST_SEED_OFFSET + n_test_games)))
        paths = make_each(self.seeds, lambda s: generate_game(self.family.generator, self.settings, s, self.cache_dir),
                          ready=lambda s: game_file(self.family.generator, self.settings, s, self.cache_dir).is_file(),
                          what=f"TextWorld {self.family.name} level {self.level} {split} games", where=self.cache_dir)
        task_ids = [f"{self.family.name}-{self.level}-seed-{s}" for s in self.seeds]
        self._setup(paths, task_ids, split, max_steps, expert, description, inventory,
                    step_timeout, clean)

    def _probe(self, paths: list[Path]) -> None:
        try:
            super()._probe(paths)
        except UserError as exc:
            raise UserError(
                f"{exc} (a generated game: delete {paths[0].parent} to generate it again)"
            ) from None

    def provenance(self) -> dict[str, Any]:
        return {
            **super().provenance(),
            "generator": {"name": self.family.generator, "settings": self.settings,
                          "seeds": list(self.seeds), "level": self.level},
            "generated": True,
        }
