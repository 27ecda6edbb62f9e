"""Reference agents that need no learning: uniform random and the env's expert."""

from __future__ import annotations

from typing import Any, ClassVar

from priorbench.agents.base import Agent


class RandomAgent(Agent):
    """Picks uniformly among the admissible commands."""

    trains: ClassVar[bool] = False

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        commands = info["admissible_commands"]
        return commands[int(self.rng.integers(len(commands)))]


class ExpertAgent(Agent):
    """Follows info["expert_action"]; an upper reference for every env that provides one."""

    trains: ClassVar[bool] = False

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        try:
            return info["expert_action"]
        except KeyError:
            raise RuntimeError(
                "this env gives no info['expert_action'] in this state, so the expert agent cannot act"
            ) from None
