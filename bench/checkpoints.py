"""A run's checkpoints (`bench.runner._Loop` mixes this in): its progress counters, the agent's
state, the RNGs and how far its episode records go, saved at episode ends and put back when the
run is started again on the same folder; a damaged or hostile checkpoint is refused by name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from priorbench.agents.base import Agent
from priorbench.bench import records
from priorbench.bench.lockstep import OpenEpisode
from priorbench.core import seeding
from priorbench.core.errors import UserError


@dataclass
class Progress:
    """Counters that a checkpoint must restore."""

    env_steps: int = 0
    train_episodes: int = 0
    eval_rounds: int = 0
    next_eval: int = 0
    last_checkpoint: int = 0
    wall_s: float = 0.0
    setup_s: float = 0.0
    """Summed over the run's process starts: building the envs and the agent and loading an
    offline agent's dataset (cql-prior scores every dataset state with its prior then)."""
    setup_counters: dict[str, float] = field(default_factory=dict)
    """The volatile counters (LLM calls, tokens, …) that setup spent, summed likewise."""


def check_progress(state: Progress, episodes_bytes: Any) -> None:
    """A checkpoint's counters, by type: a damaged or hostile one is refused, not run on."""
    def count(v: Any, real: bool) -> bool:
        return isinstance(v, (int, float) if real else int) and not isinstance(v, bool) and v >= 0
    for k, v in {"episodes_bytes": episodes_bytes, **dataclasses.asdict(state)}.items():
        if not (isinstance(v, dict) and all(count(x, True) for x in v.values()) if k == "setup_counters"
                else count(v, k.endswith("_s"))):
            raise ValueError(f"{k} = {v!r} is not a count")


class Checkpoints:
    """`_Loop`'s checkpoints (it supplies agent, record, its progress `state` and `open`)."""

    agent: Agent
    record: records.RunRecord
    state: Progress
    open: list[OpenEpisode | None]

    def _checkpoint(self) -> None:
        self.record.save_checkpoint({
            "progress": dataclasses.asdict(self.state),
            "agent": self.agent.state_dict(),
            "rng": seeding.rng_state(),
            "episodes_bytes": self.record.episodes_size(),
            **({"open_episodes": [e and e.saved() for e in self.open]} if len(self.open) > 1 else {}),
        })
        self.state.last_checkpoint = self.state.env_steps

    def _restore(self) -> bool:
        log = records.read_episodes(self.record.episodes_path)  # refuses corrupt files
        checkpoint = self.record.load_checkpoint()
        if checkpoint is None:  # killed before the first checkpoint: replaying from the start is exact
            self.record.truncate_episodes(0)
            return False
        try:
            episodes_bytes = checkpoint["episodes_bytes"]
            state = Progress(**checkpoint["progress"])
            check_progress(state, episodes_bytes)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{self.record.checkpoint_path} does not hold a run's progress ({exc!r}); "
                            "rerun with --force to start the run over") from None
        if episodes_bytes > log.valid_bytes:
            raise UserError(f"{self.record.episodes_path} holds fewer complete records than its checkpoint "
                            "expects; rerun with --force to start the run over.")
        try:  # the agent's state is checked by loading it, before the records are cut back
            self.agent.load_state_dict(checkpoint["agent"])
            seeding.set_rng_state(checkpoint["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            raise UserError(f"{self.record.checkpoint_path} does not fit this run's agent ({exc!r}); "
                            "rerun with --force to start the run over") from None
        self.record.truncate_episodes(episodes_bytes)
        self.state = state
        if len(self.open) > 1:
            self.open = [e and OpenEpisode(**e) for e in checkpoint["open_episodes"]]
        return True
