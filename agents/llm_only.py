"""The LLM-only agent: the frozen prior acting zero-shot over the admissible commands."""

from __future__ import annotations

from collections import deque
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
        self.history: deque[tuple[str, str]] = deque(maxlen=max(config.history, 0) or None)
        self.diagnostics = PriorDiagnostics()

    def prompt(self, obs: str, info: dict[str, Any]) -> str:
        history = list(self.history) if self.config.history > 0 else []
        return fit_prompt(self.template, self.prior.count_tokens, self.prior.context_length,
                          info["task"], obs, info["admissible_commands"], history)

    def reset_episode(self, *, explore: bool) -> None:
        self.history.clear()

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        commands = info["admissible_commands"]
        logp = self.prior.score_states([self.prompt(obs, info)], [commands], [info.get("expert_action")],
                                       normalization=self.config.normalization)[0]
        if self.config.decision == "sample":
            probs = np.exp(logp - logp.max())
            choice = int(self.rng.choice(len(commands), p=probs / probs.sum()))
        else:
            choice = int(np.argmax(logp))
        expert = info.get("expert_action")
        self.diagnostics.record(logp, choice, None if expert is None else commands[choice] == expert)
        self.history.append((obs, commands[choice]))
        return commands[choice]

    def counters(self) -> dict[str, float]:
        return {**self.prior.counters(), **self.diagnostics.counts}

    def provenance(self) -> dict[str, Any]:
        return {"prior": self.prior.provenance(), "template": self.template.id}
