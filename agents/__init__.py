"""The agent registry. Targets are imported only when an agent is built."""

from __future__ import annotations

from typing import Any

from priorbench.agents.base import Agent, Transition
from priorbench.core.config import build_config
from priorbench.core.registry import Registry

AGENTS: Registry[type[Agent]] = Registry("agent", "priorbench.agents", base=Agent)
register = AGENTS.register

register("random", target="priorbench.agents.random_agent:RandomAgent",
         description="uniform over the admissible commands")
register("expert", target="priorbench.agents.random_agent:ExpertAgent",
         description="follows the env's expert_action (shortest path, walkthrough or planner)")
register("llm", target="priorbench.agents.llm_only:LLMAgent",
         description="the frozen LLM prior acting zero-shot (argmax over admissible commands)",
         references=("yan2025efficient",))
register("llm-sample", target="priorbench.agents.llm_only:LLMAgent", params={"decision": "sample"},
         description="the frozen LLM prior acting by a sample of its exact distribution (the control "
                     "for agents that act stochastically over the prior)",
         references=("yan2025efficient",))
register("dqn", target="priorbench.agents.dqn:DQN",
         description="DRRN-style DQN over all admissible commands (MiniLM encoder + MLP); pure RL",
         references=("he2016deep",))
register("dqn-prior", target="priorbench.agents.posterior:DQNPrior",
         description="DQN over k=5 LLM-prior proposals, softmax(10·Q) posterior sampling (Yan et al. 2025)",
         references=("yan2025efficient", "he2016deep"))
register("dqn-posterior", target="priorbench.agents.posterior:DQNPosterior",
         description="DQN acting by the exact posterior p(a|s)·exp(Q/α) over every admissible command, "
                     "soft backup (dqn-prior's policy as k → ∞, with the soft backup in place of its max; Yan et al. 2025, "
                     "cf. LINVIT)",
         references=("yan2025efficient", "zhang2024how", "he2016deep"))
register("cql", target="priorbench.agents.dqn:CQL",
         description="offline CQL over all admissible commands (needs a dataset)",
         references=("kumar2020conservative",))
register("cql-prior", target="priorbench.agents.posterior:CQLPrior", params={"cql_support": "distinct+data"},
         description="offline CQL over k=5 LLM-prior proposals (Yan et al. 2025; needs a dataset); the "
                     "conservative term ranges over the distinct proposals and the data action (cql_support)",
         references=("yan2025efficient", "kumar2020conservative"))
register("cql-posterior", target="priorbench.agents.posterior:CQLPosterior",
         description="offline twin of dqn-posterior (needs a dataset): soft backup, and a conservative term "
                     "with the prior as base measure over every admissible command; acts by the exact posterior",
         references=("yan2025efficient", "zhang2024how", "kumar2020conservative"))
register("tabular-q", target="priorbench.agents.tabular:TabularQ",
         description="tabular Q-learning over (observation text, command); pure RL, no prior",
         references=("watkins1992q",))
register("vi", target="priorbench.agents.vi:VI",
         description="LoRA-tuned LLM policy, PPO + α·exact KL to the frozen prior (Yan et al. 2025, §1)",
         references=("yan2025efficient", "schulman2017proximal"))
register("twosome", target="priorbench.agents.vi:VI", params={"alpha": 0.0, "normalization": "token"},
         description="TWOSOME (Tan et al. 2024): vi with α = 0, token-normalised command log-probs",
         references=("tan2024true", "schulman2017proximal"))
register("ppo", target="priorbench.agents.ppo:PPO",
         description="PPO over all admissible commands (MiniLM embeddings + MLP); pure RL, no prior",
         references=("schulman2017proximal",))


def make(name: str, *, seed: int, env_id: str, params: dict[str, Any] | None = None) -> Agent:
    """Build a registered agent: its preset params, then `params` on top (unknown keys refused)."""
    entry = AGENTS.entry(name)
    cls: type[Agent] = AGENTS.load(name)
    config = build_config(cls.Config, {**entry.params, **(params or {})}, where=f"agent {name!r}")
    return cls(config, seed=seed, env_id=env_id)


def resolved_params(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full parameter set an agent would be built with (for manifests and spec hashes)."""
    from dataclasses import asdict

    entry = AGENTS.entry(name)
    cls: type[Agent] = AGENTS.load(name)
    return asdict(build_config(cls.Config, {**entry.params, **(params or {})}, where=f"agent {name!r}"))


__all__ = ["AGENTS", "Agent", "Transition", "make", "register", "resolved_params"]
