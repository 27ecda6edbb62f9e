"""Direct posterior sampling (the paper's §2): k actions proposed by the LLM prior, Q chooses.

At state s the prior proposes k admissible actions (duplicates kept: they carry prior mass);
the agent acts by sampling softmax(β·Q) over the k (β = 10 on Overcooked in the paper) and
regresses on r + γ·max over the k proposals at s' of Q_target(s', a').

The LLM is asked once per state: in "exact" mode for its distribution over the admissible
commands, in "sample" mode for a pool of free-text samples mapped to commands. Both are kept
in the prior cache. The k are then drawn from them by `proposal_reuse`: "per-state" draws one
k per distinct state and keeps it (the authors' code, yanxue7/RL-LLM-Prior, keeps one draw per
state text in `saved_actions`), from a stream seeded by (run seed, state) alone, so the draw
does not depend on when the state was first seen; "per-visit" draws a fresh k at each visit
with the agent's RNG. Either way a revisited state costs no LLM call.

At evaluation (`explore=False`) `eval_decision` picks among the k: "softmax" samples
softmax(β·Q) over them, the training rule (the authors' `evaluate_q`), which keeps the mass
that repeated proposals carry; "argmax" takes the best Q. The runner evaluates inside its own
random streams (`bench.runner`), so what evaluation draws never changes training.

Registered defaults, chosen from the measurement on FrozenLake-4x4-Random (20 unseen test maps,
distilled SmolLM2 prior and the uniform control, 5 seeds; `experiments/results/eval-rules.md`):
eval_decision "softmax" (an untrained Q with the distilled prior scores 0.81 at step 0 with it,
0.59 with argmax; the two end level) and proposal_reuse "per-visit" (it ties per-state with
the distilled prior and is ahead of it with the uniform control: training success 0.24 vs 0.18,
test success at the end 0.28 vs 0.21 with overlapping intervals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from priorbench.agents.base import Transition
from priorbench.agents.diagnostics import PriorDiagnostics
from priorbench.agents.dqn import (
    CQL,
    DQN,
    CQLConfig,
    DQNConfig,
    ValueAgent,
    soft_conservative_penalty,
    soft_td_target,
)
from priorbench.agents.priors import make_prior
from priorbench.agents.priors.base import prompt_digest
from priorbench.agents.priors.prompts import fit_prompt, template_for
from priorbench.agents.qnet import stack_candidates
from priorbench.core.config import NON_NEGATIVE, Range, at_most
from priorbench.core.seeding import derive_seed


@dataclass(frozen=True)
class PriorSettings:
    prior: str = "smollm2-135m"
    """Registered prior (`priorbench list priors`)."""
    prior_params: dict[str, Any] = field(default_factory=dict)
    """Settings of the prior backend."""
    k: Annotated[int, at_most(1024)] = 5
    """Proposals per state (the paper's k = 5)."""
    proposal_mode: Literal["sample", "exact"] = "exact"
    """exact: k draws from the prior over admissible commands; sample: k draws from a pool of
    free-text samples mapped to commands (the paper's rule; SmolLM2-135M's free text rarely
    matches a command, so unmatched samples are counted and exact draws fill in)."""
    pool_size: Annotated[int, at_most(1024)] = 20
    """Free-text samples asked for once per state in sample mode."""
    decision: Literal["softmax", "argmax", "epsilon", "posterior"] = "softmax"
    """How to act in training: among the k proposals by softmax(β·Q) (the paper), argmax or
    ε-greedy; or "posterior": q(a|s) ∝ p(a|s)·exp(β·Q(s,a)) over all admissible commands with
    the exact prior (exact mode only)."""
    eval_decision: Literal["softmax", "argmax"] = "softmax"
    """How to act at evaluation: "softmax" samples the rule's distribution (softmax(β·Q) over
    the k, or the posterior; the authors' `evaluate_q`; the default: it keeps the mass repeated
    proposals carry), "argmax" takes its most likely action."""
    proposal_reuse: Literal["per-state", "per-visit"] = "per-visit"
    """"per-visit": a fresh k at every visit from the agent's RNG (the default: level with
    per-state under the distilled prior, ahead under the uniform one, where a kept draw can miss
    the right command for good); "per-state": one draw of k per distinct state, kept (the
    authors' `saved_actions`), seeded by (run seed, state)."""
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

    #: Memos rebuilt from the prior and the seed alone after a resume (Agent.transient).
    transient = ("_last", "_kept")

    def __init__(self, settings: PriorSettings, *, env_id: str, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self.template = template_for(env_id)
        self.prior = make_prior(settings.prior, settings.prior_params, cache=settings.cache,
                                namespace=self.template.id)
        self.counts = {"proposals_unmatched": 0, "proposal_fallbacks": 0}
        self._last: dict[str, tuple[list[str], np.ndarray, bool]] = {}
        self._kept: dict[str, list[int]] = {}  # proposal_reuse = "per-state": each state's k picks

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
        """k actions for this visit and their prior log-probs: the state's kept draw
        ("per-state", seeded by the run seed and the state alone), or a fresh one from `rng`."""
        actions, logp, uniform = self.state_prior(obs, info)
        if self.settings.proposal_reuse == "per-state":
            key = self.state_key(obs, info)
            picks = self._kept.get(key)
            if picks is None:
                if len(self._kept) > 50_000:  # redrawn the same way: clearing changes nothing
                    self._kept.clear()
                state_rng = np.random.default_rng(derive_seed(self.seed, "proposals", prompt_digest(key)))
                picks = self._kept[key] = self._picks(logp, uniform, state_rng).tolist()
        else:
            picks = self._picks(logp, uniform, rng)
        return [actions[i] for i in picks], [float(logp[i]) for i in picks]

    def _picks(self, logp: np.ndarray, uniform: bool, rng: np.random.Generator) -> np.ndarray:
        if uniform:
            return rng.integers(len(logp), size=self.settings.k)
        probs = np.exp(logp - logp.max())
        return rng.choice(len(logp), size=self.settings.k, p=probs / probs.sum())

    def provenance(self) -> dict[str, Any]:
        return {"prior": self.prior.provenance(), "template": self.template.id}


def sample_logits(logits: np.ndarray, rng: np.random.Generator) -> int:
    """An index drawn from softmax(logits)."""
    probs = np.exp(logits - logits.max())
    return int(rng.choice(len(logits), p=probs / probs.sum()))


class PosteriorSampling:
    """The chooser: Q (the agent's) picks among the source's proposals by the `decision` rule."""

    def __init__(self, settings: PriorSettings, *, env_id: str, seed: int) -> None:
        self.settings = settings
        self.source = PriorProposals(settings, env_id=env_id, seed=seed)
        self.diagnostics = PriorDiagnostics()

    def candidates(self, obs: str, info: dict[str, Any], rng: np.random.Generator) -> list[str]:
        return self.source.draw(obs, info, rng)[0]

    def choose(self, agent: ValueAgent, values: np.ndarray, *, explore: bool) -> int:
        decision = self.settings.decision if explore else self.settings.eval_decision
        if decision == "argmax":
            return int(np.argmax(values))
        if decision == "epsilon":
            return ValueAgent.choose(agent, values, explore=explore)
        return sample_logits(self.settings.inverse_temperature * values, agent.rng)

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
        """Sample log p(a|s) + β·Q(s, a) over the admissible set (at evaluation with
        eval_decision = "argmax": its maximum)."""
        if self.settings.proposal_mode != "exact":
            raise ValueError("decision='posterior' needs proposal_mode='exact' (the exact prior)")
        commands, logp, _ = self.source.state_prior(obs, info)
        values = agent.q_values(agent.rows(info["task"], obs, commands))
        logits = logp + self.settings.inverse_temperature * values
        if explore or self.settings.eval_decision == "softmax":
            i = sample_logits(logits, agent.rng)
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


class PrefetchedDataset:
    """The offline prior agents' dataset: the prior of every dataset state in batched calls first
    (`PriorProposals.prefetch`), then CQL reads it. Mixed in before CQL."""

    posterior: Any
    config: CQLConfig

    def load_dataset(self, transitions: Sequence[Transition], provenance: dict[str, Any]) -> None:
        """The prior of every dataset state in batched calls first (`PriorProposals.prefetch`)."""
        kept = transitions[:self.config.max_transitions] if self.config.max_transitions else transitions
        self.posterior.source.prefetch([(t.obs, t.info) for t in kept]
                                       + [(t.next_obs, t.next_info) for t in kept if not t.terminated])
        super().load_dataset(transitions, provenance)


class CQLPrior(PrefetchedDataset, CQL):
    """CQL-Prior: offline CQL whose conservative term and TD max range over k prior proposals."""

    Config: ClassVar[type] = CQLPriorConfig

    def __init__(self, config: CQLPriorConfig, *, seed: int, env_id: str) -> None:
        # the prior first, as before CQL's own set-up: loading a model may draw from torch's RNG
        self.posterior = PosteriorSampling(config, env_id=env_id, seed=seed)
        super().__init__(config, seed=seed, env_id=env_id)


# --- the exact posterior: posterior sampling's policy as k → ∞, with a soft backup (issue 34) --

#: The largest α the exact-posterior agent takes: far past it the prior alone decides.
MAX_ALPHA = 1e6


@dataclass(frozen=True)
class ExactPosteriorSettings:
    prior: str = "smollm2-135m"
    """Registered prior (`priorbench list priors`)."""
    prior_params: dict[str, Any] = field(default_factory=dict)
    """Settings of the prior backend."""
    alpha: Annotated[float, Range(0, MAX_ALPHA, lo_open=True)] = 0.1
    """Temperature α of q(a|s) ∝ p(a|s)·exp(Q(s, a)/α) and of the soft backup V(s') = α·log Σ
    p(a'|s')·exp(Q(s', a')/α) (α = 1/β: dqn-prior's β = 10 is α = 0.1). α → 0: the greedy Q
    policy and the max backup; α → ∞: the prior's own policy and its mean of Q."""
    eval_decision: Literal["argmax", "sample"] = "sample"
    """At evaluation: a sample of the posterior (the default: the policy it learns, and
    dqn-prior's evaluation rule, so the two compare like for like), or its most likely command.
    A deterministic rule can loop where observations repeat: on Coin Collector 2 (core-v1's
    budget, the distilled prior, 5 seeds) the same training (evaluation draws from its own
    streams) won 0 of the last round's 100 test episodes by argmax and 27 by sampling. The
    switch was made after seeing those test episodes; what decides it is the like-for-like
    comparison with dqn-prior, whose rule was chosen on Frozen Lake's test maps
    (experiments/results/eval-rules.md)."""
    cache: bool = True
    """Use the persistent prior cache."""


@dataclass(frozen=True)
class DQNPosteriorConfig(ExactPosteriorSettings, DQNConfig):
    pass


@dataclass(frozen=True)
class CQLPosteriorConfig(ExactPosteriorSettings, CQLConfig):
    pass


class ExactPosterior:
    """The chooser over every admissible command: the exact prior (one call per distinct state,
    cached as dqn-prior's) times exp(Q/α); no k, no proposals to miss the right command."""

    def __init__(self, settings: ExactPosteriorSettings, *, env_id: str, seed: int) -> None:
        self.settings = settings
        self.source = PriorProposals(PriorSettings(prior=settings.prior, prior_params=settings.prior_params,
                                                   proposal_mode="exact", cache=settings.cache),
                                     env_id=env_id, seed=seed)
        self.diagnostics = PriorDiagnostics()

    def candidates(self, obs: str, info: dict[str, Any], rng: np.random.Generator) -> list[str]:  # noqa: ARG002
        return list(info["admissible_commands"])

    def log_prior(self, obs: str, info: dict[str, Any]) -> list[float]:
        """log p(a|s) of each admissible command, in their order."""
        return [float(x) for x in self.source.state_prior(obs, info)[1]]

    def act(self, agent: ValueAgent, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        commands, logp, _ = self.source.state_prior(obs, info)
        logits = logp + agent.q_values(agent.rows(info["task"], obs, commands)) / self.settings.alpha
        sample = explore or self.settings.eval_decision == "sample"
        i = sample_logits(logits, agent.rng) if sample else int(np.argmax(logits))
        expert = info.get("expert_action")
        self.diagnostics.record(logp, i, None if expert is None else expert in commands)
        return commands[i]

    def counters(self) -> dict[str, float]:
        return {**self.source.prior.counters(), **self.diagnostics.counts}

    def provenance(self) -> dict[str, Any]:
        return {**self.source.provenance(), "alpha": self.settings.alpha}


class SoftBackup:
    """What the exact-posterior agents share: the replay keeps log p of the commands at s' (for
    the soft backup) and at s (for cql-posterior's conservative term), and the target is the soft
    backup (`soft_td_target`). Mixed in before DQN or CQL."""

    posterior: ExactPosterior

    def remember(self, t: Transition) -> None:
        super().remember(t)  # type: ignore[misc]
        sa, reward, done, after, here = self.replay[-1][:5]  # type: ignore[attr-defined]
        after_logp = [] if done else self.posterior.log_prior(t.next_obs, t.next_info)
        self.replay[-1] = (sa, reward, done, after, here, after_logp, self.posterior.log_prior(t.obs, t.info))  # type: ignore[attr-defined]

    def target(self, batch, reward, done, target_q, valid, feats):  # noqa: ARG002 - the soft backup needs no chooser
        return soft_td_target(reward, done, target_q, valid, padded_logp(batch, 5, target_q.shape),
                              self.config.gamma, self.config.alpha)  # type: ignore[attr-defined]


def padded_logp(batch, index: int, shape):
    """The log p lists at `index` of a batch's replay items as a [batch, candidates] tensor, −∞ past
    each list's end (the padding `valid` masks out)."""
    import torch

    out = torch.full(shape, -torch.inf)
    for row, item in enumerate(batch):
        out[row, :len(item[index])] = torch.tensor(item[index], dtype=out.dtype)
    return out


class DQNPosterior(SoftBackup, DQN):
    """The exact posterior (Yan et al. 2025's optimal policy, which dqn-prior approximates with k
    proposals): act by sampling softmax(log p(a|s) + Q(s, a)/α) over all admissible commands,
    regress on the soft backup (`soft_td_target`)."""

    Config: ClassVar[type] = DQNPosteriorConfig
    config: DQNPosteriorConfig

    def __init__(self, config: DQNPosteriorConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.posterior = ExactPosterior(config, env_id=env_id, seed=seed)


class CQLPosterior(SoftBackup, PrefetchedDataset, CQL):
    """The exact posterior offline: CQL whose TD target is the soft backup and whose conservative
    term has the prior as its base measure (`soft_conservative_penalty`) over every admissible
    command at s; at evaluation it acts by the posterior as dqn-posterior does."""

    Config: ClassVar[type] = CQLPosteriorConfig
    config: CQLPosteriorConfig

    def __init__(self, config: CQLPosteriorConfig, *, seed: int, env_id: str) -> None:
        if config.cql_support != "candidates":
            raise ValueError("cql-posterior's conservative term ranges over every admissible command, weighted by "
                             f"the prior: cql_support must be 'candidates', not {config.cql_support!r}")
        self.posterior = ExactPosterior(config, env_id=env_id, seed=seed)  # before CQL's set-up, as cql-prior
        super().__init__(config, seed=seed, env_id=env_id)

    def regulariser(self, q_sa, batch):
        import torch

        here = torch.from_numpy(stack_candidates([b[4] for b in batch]))
        valid = here[..., 0] >= 0
        q_here = self.q(self.features(here.clamp(min=0))).squeeze(-1)
        return soft_conservative_penalty(q_here, valid, padded_logp(batch, 6, q_here.shape), q_sa,
                                         self.config.cql_alpha, self.config.alpha)
