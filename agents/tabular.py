"""Tabular Q-learning over (observation text, command): the smallest pure-RL baseline.

Exact for small games whose observation identifies the state (Frozen Lake); a sanity
check that the runner, records and resume carry a learning agent correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from priorbench.agents.base import Agent, Transition
from priorbench.core.config import UNIT, UNIT_OPEN


@dataclass(frozen=True)
class TabularQConfig:
    lr: Annotated[float, UNIT_OPEN] = 0.5
    """Step size of the Q-learning update."""
    gamma: Annotated[float, UNIT] = 0.95
    """Discount factor."""
    epsilon: Annotated[float, UNIT] = 0.2
    """Exploration rate during training (greedy at evaluation)."""
    initial_q: float = 0.0
    """Value of unseen (state, command) pairs."""


class TabularQ(Agent):
    """Q(s, a) in a dict keyed by the observation and command text; ε-greedy; ties broken at random."""

    Config: ClassVar[type] = TabularQConfig
    config: TabularQConfig

    def __init__(self, config: TabularQConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.q: dict[str, dict[str, float]] = {}
        self._pending: Transition | None = None

    def _values(self, obs: str, commands: list[str]) -> list[float]:
        row = self.q.get(obs, {})
        return [row.get(c, self.config.initial_q) for c in commands]

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        commands = info["admissible_commands"]
        if explore and self.rng.random() < self.config.epsilon:
            return commands[int(self.rng.integers(len(commands)))]
        values = self._values(obs, commands)
        best = max(values)
        ties = [c for c, v in zip(commands, values, strict=True) if v == best]
        return ties[int(self.rng.integers(len(ties)))]

    def observe(self, transition: Transition) -> None:
        self._pending = transition

    def update(self) -> dict[str, float]:
        t, self._pending = self._pending, None
        if t is None:
            return {}
        target = t.reward
        if not t.terminated and t.next_info["admissible_commands"]:
            target += self.config.gamma * max(self._values(t.next_obs, t.next_info["admissible_commands"]))
        row = self.q.setdefault(t.obs, {})
        old = row.get(t.action, self.config.initial_q)
        row[t.action] = old + self.config.lr * (target - old)
        return {"td_error": abs(target - old)}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "q": {s: dict(r) for s, r in self.q.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.q = {s: dict(r) for s, r in state["q"].items()}
