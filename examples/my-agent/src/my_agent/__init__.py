"""count-q: tabular Q-learning that explores by counts instead of at random.

It acts greedily on Q(s, a) + beta / sqrt(1 + N(s, a)), where N counts how often the command was
taken in that observation during training (evaluation is greedy on Q alone). Everything it learns
is in `state_dict`, so priorbench can checkpoint and resume it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from priorbench.agents.base import Agent, Transition


@dataclass(frozen=True)
class CountQConfig:
    lr: float = 0.5
    """Step size of the Q-learning update."""
    gamma: float = 0.95
    """Discount factor."""
    beta: float = 0.5
    """Weight of the exploration bonus beta / sqrt(1 + N(s, a))."""


class CountQ(Agent):
    """Tabular Q-learning with a count-based exploration bonus."""

    Config: ClassVar[type] = CountQConfig

    def __init__(self, config: CountQConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.q: dict[str, dict[str, float]] = {}
        self.n: dict[str, dict[str, int]] = {}
        self._pending: Transition | None = None

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        commands = info["admissible_commands"]
        q, n = self.q.get(obs, {}), self.n.get(obs, {})
        bonus = self.config.beta if explore else 0.0
        scores = [q.get(c, 0.0) + bonus / math.sqrt(1 + n.get(c, 0)) for c in commands]
        best = max(scores)
        ties = [c for c, v in zip(commands, scores, strict=True) if v == best]
        return ties[int(self.rng.integers(len(ties)))]

    def observe(self, transition: Transition) -> None:
        self._pending = transition
        row = self.n.setdefault(transition.obs, {})
        row[transition.action] = row.get(transition.action, 0) + 1

    def update(self) -> dict[str, float]:
        t, self._pending = self._pending, None
        if t is None:
            return {}
        target = t.reward
        nxt = t.next_info["admissible_commands"]
        if not t.terminated and nxt:
            target += self.config.gamma * max(self.q.get(t.next_obs, {}).get(c, 0.0) for c in nxt)
        row = self.q.setdefault(t.obs, {})
        old = row.get(t.action, 0.0)
        row[t.action] = old + self.config.lr * (target - old)
        return {"td_error": abs(target - old)}

    def counters(self) -> dict[str, float]:
        return {"visited_pairs": float(sum(len(r) for r in self.n.values()))}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "q": {s: dict(r) for s, r in self.q.items()},
                "n": {s: dict(r) for s, r in self.n.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.q = {s: dict(r) for s, r in state["q"].items()}
        self.n = {s: dict(r) for s, r in state["n"].items()}
