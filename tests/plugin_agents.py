"""Agents that break the agent contract, one rule each, for tests/test_plugins.py (loaded by
`priorbench check agent tests.plugin_agents:NAME`, as code on the Python path)."""

from __future__ import annotations

import random
import sys
from typing import Any

from priorbench.agents.tabular import TabularQ


class NonAdmissible(TabularQ):
    """Says a command the game does not offer now and then."""

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        return "fly over the lake" if self.rng.random() < 0.2 else super().act(obs, info, explore=explore)


class Unseeded(TabularQ):
    """Explores with an RNG nobody seeds."""

    def __init__(self, config: Any, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.own = random.Random()

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        commands = info["admissible_commands"]
        return self.own.choice(commands) if explore else super().act(obs, info, explore=explore)


class Forgetful(TabularQ):
    """Leaves its Q table out of its state."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class Crashes(TabularQ):
    """Fails in its first update (a run that dies: the executor must report it and go on)."""

    def update(self) -> dict[str, float]:
        raise RuntimeError("the learner blew up")


class FalselyBatched(TabularQ):
    """Says its evaluation may run in lockstep, yet picks test commands at random from self.rng
    (whose draws then come in another order)."""

    @property
    def batched_eval(self) -> bool:
        return True

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        if explore:
            return super().act(obs, info, explore=True)
        commands = info["admissible_commands"]
        return commands[int(self.rng.integers(len(commands)))]

    def act_many(self, slots, *, explore: bool = True) -> list[str]:
        return [self.act(obs, info, explore=explore) for _, obs, info in slots]

    def reset_episode(self, *, explore: bool, slot: int = 0) -> None:
        super().reset_episode(explore=explore)

    def end_episode(self, slot: int) -> None:
        return None

    def book_episode(self, pending: None) -> None:
        pass


class OwnEvalStream(TabularQ):
    """Picks its test commands with a generator of its own that also drives exploration, so
    how often it is evaluated changes its training."""

    def __init__(self, config: Any, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.own = random.Random(seed)

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        commands = info["admissible_commands"]
        if not explore or self.own.random() < 0.3:
            return self.own.choice(commands)
        return super().act(obs, info, explore=explore)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "own": repr(self.own.getstate())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import ast

        super().load_state_dict(state)
        self.own.setstate(ast.literal_eval(state["own"]))


class EvalDraws(TabularQ):
    """Picks its test commands at random from self.rng, as the contract allows: the runner's
    evaluation streams keep that out of training."""

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        if explore:
            return super().act(obs, info, explore=True)
        commands = info["admissible_commands"]
        return commands[int(self.rng.integers(len(commands)))]


def _count_q() -> type:
    """examples/my-agent's count-q, loaded from its source (the test need not install it)."""
    import importlib.util
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "examples/my-agent/src/my_agent/__init__.py"
    spec = importlib.util.spec_from_file_location("tests._count_q", source)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.CountQ


#: examples/my-agent's count-q as it is: it keeps every rule.
CountQ = _count_q()


class CountQForgetsQ(CountQ):  # type: ignore[misc, valid-type]
    """count-q with its Q table left out of its state (its visit counts kept): before the first
    reward its Q table is all zeros, so only a check after learning, or of the whole state,
    sees it."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "n": {s: dict(r) for s, r in self.n.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.n = {s: dict(r) for s, r in state["n"].items()}


class CountQRoundsQ(CountQ):  # type: ignore[misc, valid-type]
    """count-q that stores its Q values as whole numbers: a table of zeros comes back whole, so
    only a check made after a reward has moved the values sees the loss."""

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        return {**state, "q": {s: {a: int(v) for a, v in r.items()} for s, r in state["q"].items()}}
