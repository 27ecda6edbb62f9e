"""The LLM-only agent: the frozen prior acting zero-shot over the admissible commands."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from priorbench.agents.base import Agent
from priorbench.agents.diagnostics import PriorDiagnostics
from priorbench.agents.priors import Normalization, make_prior
from priorbench.agents.priors.prompts import fit_prompt, template_for
from priorbench.core.config import NON_NEGATIVE


@dataclass(frozen=True)
class LLMConfig:
    prior: str = "smollm2-135m"
    """Registered prior (`priorbench list priors`)."""
    prior_params: dict[str, Any] = field(default_factory=dict)
    """Settings of the prior backend (model path, device, dtype, sampling)."""
    decision: Literal["argmax", "sample"] = "argmax"
    """argmax of the exact prior, or a sample from it."""
    normalization: Normalization = "sum"
    """Candidate log-prob: token sum, or normalised per token or per word (TWOSOME)."""
    history: Annotated[int, NON_NEGATIVE] = 2
    """Recent (observation, action) pairs in the prompt (dropped first if the context is full)."""
    cache: bool = True
    """Use the persistent prior cache."""


class LLMAgent(Agent):
    """Scores every admissible command with the prior and takes the best (or samples)."""

    Config: ClassVar[type] = LLMConfig
    trains: ClassVar[bool] = False
    config: LLMConfig

    def __init__(self, config: LLMConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.template = template_for(env_id)
        self.prior = make_prior(config.prior, config.prior_params, cache=config.cache,
                                namespace=self.template.id)
        # each episode slot's recent (observation, command) pairs; slot 0 unless the runner
        # plays an evaluation round in lockstep
        self.histories: dict[int, deque[tuple[str, str]]] = {}
        self.diagnostics = PriorDiagnostics()
        self._steps: dict[int, list[tuple[np.ndarray, int, bool | None]]] = {}

    @property
    def batched_eval(self) -> bool:
        return self.config.decision == "argmax"  # sampling draws from self.rng in episode order

    def _history(self, slot: int) -> deque[tuple[str, str]]:
        return self.histories.setdefault(slot, deque(maxlen=max(self.config.history, 0) or None))

    def prompt(self, obs: str, info: dict[str, Any], slot: int = 0) -> str:
        history = list(self._history(slot)) if self.config.history > 0 else []
        return fit_prompt(self.template, self.prior.count_tokens, self.prior.context_length,
                          info["task"], obs, info["admissible_commands"], history)

    def reset_episode(self, *, explore: bool, slot: int = 0) -> None:
        self._history(slot).clear()
        self._steps[slot] = []

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        command = self.act_many([(0, obs, info)], explore=explore)[0]
        self.book_episode(self.end_episode(0))  # one episode at a time: counted as it goes
        return command

    def act_many(self, slots: Sequence[tuple[int, str, dict[str, Any]]], *, explore: bool = True) -> list[str]:
        """Every slot's state scored in one prior call; each slot keeps its own history and its
        decisions' diagnostics until `end_episode`."""
        infos = [info for _, _, info in slots]
        logps = self.prior.score_states([self.prompt(obs, info, slot) for slot, obs, info in slots],
                                        [info["admissible_commands"] for info in infos],
                                        [info.get("expert_action") for info in infos],
                                        normalization=self.config.normalization)
        out = []
        for (slot, obs, info), logp in zip(slots, logps, strict=True):
            commands = info["admissible_commands"]
            if self.config.decision == "sample":
                probs = np.exp(logp - logp.max())
                choice = int(self.rng.choice(len(commands), p=probs / probs.sum()))
            else:
                choice = int(np.argmax(logp))
            expert = info.get("expert_action")
            self._steps.setdefault(slot, []).append(
                (logp, choice, None if expert is None else commands[choice] == expert))
            self._history(slot).append((obs, commands[choice]))
            out.append(commands[choice])
        return out

    def end_episode(self, slot: int) -> list[tuple[np.ndarray, int, bool | None]]:
        steps, self._steps[slot] = self._steps.get(slot, []), []
        return steps

    def book_episode(self, pending: list[tuple[np.ndarray, int, bool | None]]) -> None:
        for logp, choice, covered in pending:
            self.diagnostics.record(logp, choice, covered)

    def counters(self) -> dict[str, float]:
        return {**self.prior.counters(), **self.diagnostics.counts}

    def provenance(self) -> dict[str, Any]:
        return {"prior": self.prior.provenance(), "template": self.template.id}
