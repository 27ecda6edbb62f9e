"""Direct posterior sampling (the paper's §2): k actions proposed by the LLM prior, Q chooses.

At state s the prior proposes k admissible actions (duplicates kept: they carry prior mass);
the agent acts by sampling softmax(β·Q) over the k (β = 10 on Overcooked in the paper) and
regresses on r + γ·max over the k proposals at s' of Q_target(s', a').

The LLM is asked once per state: in "exact" mode for its distribution over the admissible
commands, in "sample" mode for a pool of free-text samples mapped to commands. Both are kept
in the prior cache; each visit then draws a fresh k from them with the agent's RNG, so
proposals vary between visits as in the paper (which re-queries the LLM) while a revisited
state costs no LLM call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from priorbench.agents.diagnostics import PriorDiagnostics
from priorbench.agents.dqn import CQL, DQN, CQLConfig, DQNConfig
from priorbench.agents.priors import make_prior
from priorbench.agents.priors.prompts import fit_prompt, template_for


@dataclass(frozen=True)
class PriorSettings:
    prior: str = "smollm2-135m"
    """Registered prior (`priorbench list priors`)."""
    prior_params: dict[str, Any] = field(default_factory=dict)
    """Settings of the prior backend."""
    k: int = 5
    """Proposals per state (the paper's k = 5)."""
    proposal_mode: Literal["sample", "exact"] = "exact"
    """exact: k draws from the prior over admissible commands; sample: k draws from a pool of
    free-text samples mapped to commands (the paper's rule; SmolLM2-135M's free text rarely
    matches a command, so unmatched samples are counted and exact draws fill in)."""
    pool_size: int = 20
    """Free-text samples asked for once per state in sample mode."""
    decision: Literal["softmax", "argmax", "epsilon", "posterior"] = "softmax"
    """How to act: among the k proposals by softmax(β·Q) (the paper), argmax or ε-greedy; or
    "posterior": q(a|s) ∝ p(a|s)·exp(β·Q(s,a)) over all admissible commands with the exact
    prior (exact mode only). Evaluation takes the most likely action of the same rule."""
    inverse_temperature: float = 10.0
    """β of softmax(β·Q) (the paper's Overcooked setting)."""
    cache: bool = True
    """Use the persistent prior cache."""


@dataclass(frozen=True)
class DQNPriorConfig(PriorSettings, DQNConfig):
    pass


@dataclass(frozen=True)
class CQLPriorConfig(PriorSettings, CQLConfig):
    pass


class ProposalMixin:
    """Candidates = the prior's k proposals for the state (unmatched texts counted, not replaced)."""

    config: Any
    seed: int
    env_id: str
    rng: np.random.Generator

    def _init_prior(self) -> None:
        self.template = template_for(self.env_id)
        self.prior = make_prior(self.config.prior, self.config.prior_params, cache=self.config.cache,
                                namespace=self.template.id)
        self.diagnostics = PriorDiagnostics()
        self.proposal_counts = {"proposals_unmatched": 0, "proposal_fallbacks": 0}
        self._last: dict[str, tuple[list[str], np.ndarray, bool]] = {}

    @staticmethod
    def _state_key(obs: str, info: dict[str, Any]) -> str:
        """Everything the state's prompt is built from (task, observation, commands)."""
        return "\x00".join([info["task"], obs, "\x1f".join(info["admissible_commands"])])

    def _state_prior(self, obs: str, info: dict[str, Any]) -> tuple[list[str], np.ndarray]:
        """Per state, once: the actions to draw from and their weights (log-probs)."""
        commands = info["admissible_commands"]
        key = self._state_key(obs, info)
        if key in self._last:
            return self._last[key][:2]
        prompt = fit_prompt(self.template, self.prior.count_tokens, self.prior.context_length,
                            info["task"], obs, commands, [])
        if self.config.proposal_mode == "sample":
            pool = self.prior.propose([prompt], self.config.pool_size, [commands], seed=self.seed)[0]
            self.proposal_counts["proposals_unmatched"] += pool.unmatched
            matched = [a for a in pool.actions if a is not None]
            if matched:  # each matched sample is one equally likely draw: duplicates carry mass
                logp = self.prior.score([prompt], [commands])[0]
                weights = {a: logp[commands.index(a)] for a in matched}
                self._last[key] = (matched, np.array([weights[a] for a in matched]), True)
                return self._last[key][:2]
            self.proposal_counts["proposal_fallbacks"] += 1
        logp = self.prior.score([prompt], [commands])[0]
        if len(self._last) > 50_000:
            self._last.clear()
        self._last[key] = (list(commands), logp, False)
        return self._last[key][:2]

    def proposals(self, obs: str, info: dict[str, Any]) -> tuple[list[str], list[float]]:
        """k actions for this visit, drawn with the agent's RNG, and their prior log-probs."""
        actions, logp = self._state_prior(obs, info)
        uniform = self._last[self._state_key(obs, info)][2]
        if uniform:
            picks = self.rng.integers(len(actions), size=self.config.k)
        else:
            probs = np.exp(logp - logp.max())
            picks = self.rng.choice(len(actions), size=self.config.k, p=probs / probs.sum())
        return [actions[i] for i in picks], [float(logp[i]) for i in picks]

    def candidates(self, obs: str, info: dict[str, Any]) -> list[str]:
        return self.proposals(obs, info)[0]

    def choose(self, values: np.ndarray, *, explore: bool) -> int:
        if not explore or self.config.decision == "argmax":
            return int(np.argmax(values))
        if self.config.decision == "epsilon":
            return super().choose(values, explore=explore)  # type: ignore[misc]
        logits = self.config.inverse_temperature * (values - values.max())
        probs = np.exp(logits) / np.exp(logits).sum()
        return int(self.rng.choice(len(values), p=probs))

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        if self.config.decision == "posterior":
            return self._act_posterior(obs, info, explore=explore)
        cands, logps = self.proposals(obs, info)
        values = self.q_values(self._rows(info["task"], obs, cands))  # type: ignore[attr-defined]
        i = self.choose(values, explore=explore)
        expert = info.get("expert_action")
        self.diagnostics.record(np.array(logps), i, None if expert is None else expert in cands)
        return cands[i]

    def _act_posterior(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        """Sample (or, at evaluation, maximise) log p(a|s) + β·Q(s, a) over the admissible set."""
        if self.config.proposal_mode != "exact":
            raise ValueError("decision='posterior' needs proposal_mode='exact' (the exact prior)")
        commands, logp = self._state_prior(obs, info)
        values = self.q_values(self._rows(info["task"], obs, commands))  # type: ignore[attr-defined]
        logits = logp + self.config.inverse_temperature * values
        if explore:
            probs = np.exp(logits - logits.max())
            i = int(self.rng.choice(len(commands), p=probs / probs.sum()))
        else:
            i = int(np.argmax(logits))
        expert = info.get("expert_action")
        self.diagnostics.record(logp, i, None if expert is None else expert in commands)
        return commands[i]

    def counters(self) -> dict[str, float]:
        return {**super().counters(), **self.prior.counters(), **self.diagnostics.counts,  # type: ignore[misc]
                **self.proposal_counts}

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "prior": self.prior.provenance(), "template": self.template.id}  # type: ignore[misc]


class DQNPrior(ProposalMixin, DQN):
    """DQN-Prior: online posterior sampling over k prior proposals."""

    Config: ClassVar[type] = DQNPriorConfig

    def __init__(self, config: DQNPriorConfig, *, seed: int, env_id: str) -> None:
        DQN.__init__(self, config, seed=seed, env_id=env_id)
        self._init_prior()


class CQLPrior(ProposalMixin, CQL):
    """CQL-Prior: offline CQL whose conservative term and TD max range over k prior proposals."""

    Config: ClassVar[type] = CQLPriorConfig

    def __init__(self, config: CQLPriorConfig, *, seed: int, env_id: str) -> None:
        self.config = config
        self.seed = seed
        self.env_id = env_id
        self._init_prior()  # CQL.__init__ fills the replay from the dataset, which needs proposals
        CQL.__init__(self, config, seed=seed, env_id=env_id)
