"""ALFWorld game files played in this process, through the wrapper stack textworld.gym builds
(see docs/envs/alfworld.md, "Engine"); textworld is imported when the engine starts.
"""

from __future__ import annotations

from typing import Any

from priorbench.core.errors import UserError
from priorbench.envs.alfworld.install import (
    _quiet_alfworld_import,
    require_alfworld,
    speed_up_textworld,
)
from priorbench.envs.base import StartedGames


class _Engine:
    """Plays ALFWorld game files in this process; keeps up to `max_open` started games."""

    def __init__(self, facts: bool, max_open: int) -> None:
        require_alfworld()
        import textworld

        speed_up_textworld()

        self.infos = textworld.EnvInfos(admissible_commands=True, won=True, score=True,
                                        facts=facts, extras=["gamefile"])
        self._games: StartedGames[Any] = StartedGames(self._start, max_open)
        self._current: Any = None

    def _start(self, path: str) -> Any:
        with _quiet_alfworld_import():
            from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
        from textworld.envs.wrappers import Filter, GenericEnvironment

        env: Any = GenericEnvironment(self.infos)
        for wrapper in (AlfredDemangler(shuffle=False), AlfredInfos, Filter):
            env = wrapper(env)
        try:
            env.load(path)
        except (Exception, SystemExit) as exc:  # fast-downward's translator exits on bad PDDL
            raise UserError(
                f"ALFWorld game file {path!r} cannot be played ({type(exc).__name__}: {exc}). "
                "It is corrupt: copy it again (official data) or delete it (a generated game "
                "is then generated again)."
            ) from None
        return env

    def reset(self, path: str) -> tuple[str, dict[str, Any]]:
        game = self._current = self._games.get(path)
        obs, state = game.reset()
        return obs, state

    def step(self, command: str) -> tuple[str, dict[str, Any]]:
        obs, _, _, state = self._current.step(command)
        return obs, state

    def close(self) -> None:
        self._games.close()
        self._current = None
