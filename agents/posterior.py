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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from priorbench.agents.base import Transition
from priorbench.agents.diagnostics import PriorDiagnostics
from priorbench.agents.dqn import CQL, DQN, CQLConfig, DQNConfig, ValueAgent
from priorbench.agents.priors import make_prior
from priorbench.agents.priors.prompts import fit_prompt, template_for
from priorbench.core.config import NON_NEGATIVE, POSITIVE


@dataclass(frozen=True)
class PriorSettings:
    prior: str = "smollm2-135m"
    """Registered prior (`priorbench list priors`)."""
    prior_params: dict[str, Any] = field(default_factory=dict)
    """Settings of the prior backend."""
    k: Annotated[int, POSITIVE] = 5
    """Proposals per state (the paper's k = 5)."""
    proposal_mode: Literal["sample", "exact"] = "exact"
    """exact: k draws from the prior over admissible commands; sample: k draws from a pool of
    free-text samples mapped to commands (the paper's rule; SmolLM2-135M's free text rarely
    matches a command, so unmatched samples are counted and exact draws fill in)."""
    pool_size: Annotated[int, POSITIVE] = 20
    """Free-text samples asked for once per state in sample mode."""
    decision: Literal["softmax", "argmax", "epsilon", "posterior"] = "softmax"
    """How to act: among the k proposals by softmax(β·Q) (the paper), argmax or ε-greedy; or
    "posterior": q(a|s) ∝ p(a|s)·exp(β·Q(s,a)) over all admissible commands with the exact
    prior (exact mode only). Evaluation takes the most likely action of the same rule."""
    inverse_temperature: Annotated[float, NON_NEGATIVE] = 10.0
    """β of softmax(β·Q) (the paper's Overcooked setting)."""
    cache: bool = True
    """Use the persistent prior cache."""


@dataclass(frozen=True)
class DQNPriorConfig(PriorSettings, DQNConfig):
    pass


@dataclass(frozen=True)
class CQLPriorConfig(PriorSettings, CQLConfig):
    pass


class PriorProposals:
    """The candidates source: per state, once, the prior's distribution over the admissible
    commands (exact) or its free-text pool (sample); per visit, k draws with the agent's RNG."""

    def __init__(self, settings: PriorSettings, *, env_id: str, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self.template = template_for(env_id)
        self.prior = make_prior(settings.prior, settings.prior_params, cache=settings.cache,
                                namespace=self.template.id)
        self.counts = {"proposals_unmatched": 0, "proposal_fallbacks": 0}
        self._last: dict[str, tuple[list[str], np.ndarray, bool]] = {}

    def state_key(self, obs: str, info: dict[str, Any]) -> str:
        """Everything the state's prior is built from: task, observation, commands (and, for
        the SYNTHETIC oracle, the expert action)."""
        parts = [info["task"], obs, "\x1f".join(info["admissible_commands"])]
        if self.prior.uses_expert:
            parts.append(info.get("expert_action") or "")
        return "\x00".join(parts)

    def state_prior(self, obs: str, info: dict[str, Any]) -> tuple[list[str], np.ndarray, bool]:
        """Per state, once: the actions to draw from, their weights (log-probs), and whether
        they are equally likely draws (a matched free-text pool)."""
        commands = info["admissible_commands"]
        key = self.state_key(obs, info)
        if key in self._last:
            return self._last[key]
        prompt = fit_prompt(self.template, self.prior.count_tokens, self.prior.context_length,
                            info["task"], obs, commands, [])
        if self.settings.proposal_mode == "sample":
            pool = self.prior.propose([prompt], self.settings.pool_size, [commands], seed=self.seed)[0]
            self.counts["proposals_unmatched"] += pool.unmatched
            matched = [a for a in pool.actions if a is not None]
            if matched:  # each matched sample is one equally likely draw: duplicates carry mass
                logp = self.prior.score([prompt], [commands])[0]
                weights = {a: logp[commands.index(a)] for a in matched}
                self._last[key] = (matched, np.array([weights[a] for a in matched]), True)
                return self._last[key]
            self.counts["proposal_fallbacks"] += 1
        logp = self.prior.score_states([prompt], [commands], [info.get("expert_action")])[0]
        if len(self._last) > 50_000:
            self._last.clear()
        self._last[key] = (list(commands), logp, False)
        return self._last[key]

    def prefetch(self, states: Sequence[tuple[str, dict[str, Any]]], batch: int = 64) -> None:
        """The exact prior of many states (a dataset's) in batched calls, `batch` states a call,
        instead of one call per state; the same numbers (each state is scored alone, see
        `HFPrior.score_ids`). Sample mode asks per state, as `state_prior` does."""
        if self.settings.proposal_mode != "exact":
            return
        todo: dict[str, tuple[str, dict[str, Any]]] = {}
        for obs, info in states:
            key = self.state_key(obs, info)
            if key not in self._last and info["admissible_commands"]:
                todo.setdefault(key, (obs, info))
        items = list(todo.items())
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            prompts = [fit_prompt(self.template, self.prior.count_tokens, self.prior.context_length,
                                  info["task"], obs, info["admissible_commands"], []) for _, (obs, info) in chunk]
            scores = self.prior.score_states(prompts, [info["admissible_commands"] for _, (_, info) in chunk],
                                             [info.get("expert_action") for _, (_, info) in chunk])
            for (key, (_, info)), logp in zip(chunk, scores, strict=True):
                self._last[key] = (list(info["admissible_commands"]), logp, False)

    def draw(self, obs: str, info: dict[str, Any], rng: np.random.Generator) -> tuple[list[str], list[float]]:
        """k actions for this visit and their prior log-probs."""
        actions, logp, uniform = self.state_prior(obs, info)
        if uniform:
            picks = rng.integers(len(actions), size=self.settings.k)
        else:
            probs = np.exp(logp - logp.max())
            picks = rng.choice(len(actions), size=self.settings.k, p=probs / probs.sum())
        return [actions[i] for i in picks], [float(logp[i]) for i in picks]

    def provenance(self) -> dict[str, Any]:
        return {"prior": self.prior.provenance(), "template": self.template.id}


class PosteriorSampling:
    """The chooser: Q (the agent's) picks among the source's proposals by the `decision` rule."""

    def __init__(self, settings: PriorSettings, *, env_id: str, seed: int) -> None:
        self.settings = settings
        self.source = PriorProposals(settings, env_id=env_id, seed=seed)
        self.diagnostics = PriorDiagnostics()

    def candidates(self, obs: str, info: dict[str, Any], rng: np.random.Generator) -> list[str]:
        return self.source.draw(obs, info, rng)[0]

    def choose(self, agent: ValueAgent, values: np.ndarray, *, explore: bool) -> int:
        decision = self.settings.decision
        if not explore or decision == "argmax":
            return int(np.argmax(values))
        if decision == "epsilon":
            return ValueAgent.choose(agent, values, explore=explore)
        logits = self.settings.inverse_temperature * (values - values.max())
        probs = np.exp(logits) / np.exp(logits).sum()
        return int(agent.rng.choice(len(values), p=probs))

    def act(self, agent: ValueAgent, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        if self.settings.decision == "posterior":
            return self._act_posterior(agent, obs, info, explore=explore)
        cands, logps = self.source.draw(obs, info, agent.rng)
        values = agent.q_values(agent.rows(info["task"], obs, cands))
        i = self.choose(agent, values, explore=explore)
        expert = info.get("expert_action")
        self.diagnostics.record(np.array(logps), i, None if expert is None else expert in cands)
        return cands[i]

    def _act_posterior(self, agent: ValueAgent, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        """Sample (or, at evaluation, maximise) log p(a|s) + β·Q(s, a) over the admissible set."""
        if self.settings.proposal_mode != "exact":
            raise ValueError("decision='posterior' needs proposal_mode='exact' (the exact prior)")
        commands, logp, _ = self.source.state_prior(obs, info)
        values = agent.q_values(agent.rows(info["task"], obs, commands))
        logits = logp + self.settings.inverse_temperature * values
        if explore:
            probs = np.exp(logits - logits.max())
            i = int(agent.rng.choice(len(commands), p=probs / probs.sum()))
        else:
            i = int(np.argmax(logits))
        expert = info.get("expert_action")
        self.diagnostics.record(logp, i, None if expert is None else expert in commands)
        return commands[i]

    def counters(self) -> dict[str, float]:
        return {**self.source.prior.counters(), **self.diagnostics.counts, **self.source.counts}

    def provenance(self) -> dict[str, Any]:
        return self.source.provenance()


class DQNPrior(DQN):
    """DQN-Prior: online posterior sampling over k prior proposals."""

    Config: ClassVar[type] = DQNPriorConfig

    def __init__(self, config: DQNPriorConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.posterior = PosteriorSampling(config, env_id=env_id, seed=seed)


class CQLPrior(CQL):
    """CQL-Prior: offline CQL whose conservative term and TD max range over k prior proposals."""

    Config: ClassVar[type] = CQLPriorConfig

    def __init__(self, config: CQLPriorConfig, *, seed: int, env_id: str) -> None:
        # the prior first, as before CQL's own set-up: loading a model may draw from torch's RNG
        self.posterior = PosteriorSampling(config, env_id=env_id, seed=seed)
        super().__init__(config, seed=seed, env_id=env_id)

    def load_dataset(self, transitions: Sequence[Transition], provenance: dict[str, Any]) -> None:
        """The prior of every dataset state in batched calls first (`PriorProposals.prefetch`)."""
        kept = transitions[:self.config.max_transitions] if self.config.max_transitions else transitions
        self.posterior.source.prefetch([(t.obs, t.info) for t in kept]
                                       + [(t.next_obs, t.next_info) for t in kept if not t.terminated])
        super().load_dataset(transitions, provenance)
