"""The game engine in this process: textworld's core API with a small LRU of started games.

`textworld.start(path, EnvInfos(...))` is the layer under `textworld.gym`: same games, same
infos and the same old-style cumulative score, but `textworld.gym` reloads the game file
(jericho interpreter + game JSON) on every reset, which costs 10–40 ms; keeping started games
and resetting them in place makes resets 3× faster. The worker-process engine with a step
timeout (worker.py) serves this same engine. See docs/envs/textworld.md, "Engine".
"""

from __future__ import annotations

import warnings
from typing import Any

from priorbench.envs.base import StartedGames

_STATE_KEYS = ("feedback", "score", "max_score", "won", "lost", "objective", "admissible_commands",
               "policy_commands", "description", "inventory")


class EngineError(RuntimeError):
    """The game engine stopped answering (timeout) or died; the episode cannot go on."""


def env_infos(expert: bool = False, description: bool = False, inventory: bool = False) -> Any:
    """The `textworld.EnvInfos` priorbench requests (only what the TextEnv contract needs)."""
    from textworld import EnvInfos

    return EnvInfos(
        admissible_commands=True, won=True, lost=True, score=True, max_score=True, objective=True,
        policy_commands=expert, description=description, inventory=inventory,
    )


class _Engine:
    """Plays TextWorld game files in this process; keeps up to `max_open` started games."""

    def __init__(self, flags: dict[str, bool], max_open: int = 32) -> None:
        self.infos = env_infos(**flags)
        self._games: StartedGames[Any] = StartedGames(self._start, max_open)
        self._current: Any = None

    @staticmethod
    def _pack(state: Any) -> dict[str, Any]:
        return {k: state.get(k) for k in _STATE_KEYS}

    def _start(self, path: str) -> Any:
        import textworld

        with warnings.catch_warnings():
            # jericho does not know TextWorld's games; TextWorld tracks their score itself.
            warnings.filterwarnings("ignore", message=".*is not fully supported")
            return textworld.start(path, self.infos)

    def reset(self, path: str) -> dict[str, Any]:
        self._current = self._games.get(path)
        return self._pack(self._current.reset())

    def step(self, command: str) -> dict[str, Any]:
        state, _, _ = self._current.step(command)
        return self._pack(state)

    def close(self) -> None:
        self._games.close()
        self._current = None
