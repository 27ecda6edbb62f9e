"""The Agent contract: act, observe, update, and state for checkpoints."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from priorbench.core.errors import UserError


@dataclass(frozen=True)
class Transition:
    """One environment step as the runner hands it to `Agent.observe`."""

    obs: str
    info: dict[str, Any]
    action: str
    reward: float
    next_obs: str
    next_info: dict[str, Any]
    terminated: bool
    truncated: bool
    slot: int = 0
    """Which copy of the train env it came from (0 unless the agent has `num_envs` > 1)."""


@dataclass(frozen=True)
class NoConfig:
    """Agents without settings."""


class Agent(ABC):
    """A text-game agent.

    Subclasses set `Config` (a frozen dataclass of their settings, one docstring line per
    field), `trains` (False for agents that only act: the runner then skips training and
    evaluates them once) and `offline` (True for agents trained from a dataset). All randomness must come from `self.rng` (seeded from the run seed)
    or from the global RNGs that `core.seeding` seeds and checkpoints.
    """

    Config: ClassVar[type] = NoConfig
    trains: ClassVar[bool] = True
    #: Offline agents learn from a dataset: the runner's budget counts their gradient steps and
    #: the env is only used for evaluation.
    offline: ClassVar[bool] = False
    #: Attributes a checkpoint need not carry: caches rebuilt on demand (a memo of the prior's
    #: answers). Everything else an agent holds must come back from `load_state_dict` — `check
    #: agent`'s state rule compares it all (counters, per-episode memory cleared by
    #: `reset_episode`, and objects it holds that name their own `transient` aside).
    transient: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, *, seed: int, env_id: str) -> None:
        self.config = config
        self.seed = seed
        self.env_id = env_id
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        """The next command; `explore=False` during evaluation."""

    @property
    def num_envs(self) -> int:
        """Copies of the train env the runner steps in lockstep for this agent (its config's
        `num_envs`, else 1). Above 1 the runner calls `act_many` for training steps, passes
        `slot=` to `reset_episode` and sets `Transition.slot`."""
        return int(getattr(self.config, "num_envs", 1))

    def act_many(self, slots: Sequence[tuple[int, str, dict[str, Any]]]) -> list[str]:
        """Training commands for several env copies at once: (slot, obs, info) each, in slot
        order. Agents with `num_envs` > 1 implement it (one batched forward for all); agents
        with `batched_eval` take `explore=False` too."""
        raise NotImplementedError(f"{type(self).__name__} has num_envs > 1 but no act_many")

    # --- batched evaluation (optional) ------------------------------------------------------
    @property
    def batched_eval(self) -> bool:
        """True when the runner may play an evaluation round's episodes in lockstep (run option
        `--eval-batch K`): `act_many(slots, explore=False)` asks the prior for every open
        episode in one call and the records are those of one episode at a time. That needs
        evaluation acts that draw no random numbers (the draws' order would change) and per-slot
        memory (`reset_episode(explore=False, slot=…)`); an episode's deterministic counters are
        handed over by `end_episode(slot)` when it ends and added to `counters()` by
        `book_episode`, which the runner calls in episode order (so float sums come out as a
        one-at-a-time round's)."""
        return False

    def end_episode(self, slot: int) -> Any:
        """Batched evaluation: the finished episode of `slot`'s bookkeeping (see batched_eval)."""
        raise NotImplementedError(f"{type(self).__name__} has no batched evaluation")

    def book_episode(self, pending: Any) -> None:
        """Batched evaluation: add what `end_episode` returned to the running counters."""
        raise NotImplementedError(f"{type(self).__name__} has no batched evaluation")

    def reset_episode(self, *, explore: bool) -> None:  # noqa: B027 - optional hook
        """Called by the runner before each episode (agents with per-episode memory use it)."""

    def observe(self, transition: Transition) -> None:  # noqa: B027 - optional hook
        """Called after every training step."""

    def update(self) -> dict[str, float]:
        """Learn from what was observed; returns metrics ({} for agents that do not learn)."""
        return {}

    def counters(self) -> dict[str, float]:
        """Cumulative counts the runner records per episode as deltas (llm_calls, cache_hits, …)."""
        return {}

    def dataset_path(self) -> str:
        """Offline agents: the dataset folder the runner loads and hands to `load_dataset`."""
        raise NotImplementedError(f"{type(self).__name__} is offline but names no dataset")

    def load_dataset(self, transitions: Sequence[Transition], provenance: dict[str, Any]) -> None:
        """Offline agents: take the dataset's transitions (checked against its provenance)."""
        raise NotImplementedError(f"{type(self).__name__} is offline but takes no dataset")

    def provenance(self) -> dict[str, Any]:
        """Facts for the run manifest (prior model id and weights hash, prompt template, …)."""
        return {}

    def learned_state(self) -> dict[str, Any]:
        """What the agent learned, for a later run to start from (`Spec.keep_learned`, then
        `init_from`): its networks, not its memory of the run (replay, counters, RNG)."""
        raise UserError(f"{type(self).__name__} keeps no learned state to start another run from; "
                        "keep_learned and init_from are for the value agents (dqn, cql, dqn-prior, cql-prior)")

    def load_learned(self, state: dict[str, Any], *, optimizer: bool) -> None:
        """Start from another run's `learned_state` (the runner reads it: `Spec.init_from`), its
        optimiser's state too when `optimizer`; a state that does not fit is a UserError."""
        raise UserError(f"{type(self).__name__} cannot start from another run's learned state; "
                        "init_from is for the value agents (dqn, cql, dqn-prior, cql-prior)")

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume; the base class saves the agent's RNG."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
