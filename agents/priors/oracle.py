"""SYNTHETIC — a controlled prior that is told the env's expert action.

Not a language model: it puts mass q on the state's expert action (`info["expert_action"]`)
and spreads 1 − q over the other admissible commands, uniformly or in proportion to an LLM
prior's distribution over them (`rest`). q = "uniform" is the uniform distribution over the
commands (the expert ignored): the control. In a state without an expert action (won, lost,
off the expert's map) the prior is the `rest` distribution alone.

It exists to check the prior agents (with q = 0.9, `dqn-prior` must learn much faster than
`dqn`) and to draw "sample efficiency vs prior quality"; its provenance says `synthetic: true`
and its label starts with SYNTHETIC, so no table shows it as a real prior.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from priorbench.agents.priors.base import Normalization, Prior, Proposals
from priorbench.core.errors import UserError


@dataclass(frozen=True)
class OraclePriorConfig:
    q: float | str = 0.9
    """Mass on the expert's action, in [0, 1]; "uniform": 1/n on every command (the control)."""
    rest: str = "uniform"
    """How 1 − q is spread over the other commands: "uniform", or a registered LLM prior's
    distribution over them (e.g. "smollm2-135m")."""
    rest_params: dict[str, Any] = field(default_factory=dict)
    """Settings of the `rest` prior."""


class OraclePrior(Prior):
    """q on the expert's action, 1 − q over the rest (SYNTHETIC; see the module docstring)."""

    Config = OraclePriorConfig
    uses_expert: ClassVar[bool] = True
    context_length = 1 << 30

    def __init__(self, config: OraclePriorConfig | None = None, **overrides: Any) -> None:
        self.config = config or OraclePriorConfig(**overrides)
        q = self.config.q
        if isinstance(q, str):
            if q != "uniform":
                raise UserError(f"oracle prior: q must be a number in [0, 1] or \"uniform\", got {q!r}")
        elif not 0.0 <= float(q) <= 1.0:
            raise UserError(f"oracle prior: q must be in [0, 1], got {q}")
        self.rest = None
        if self.config.rest != "uniform":
            from priorbench.agents.priors import PRIORS, make_prior

            if getattr(PRIORS.load(self.config.rest), "uses_expert", False):
                raise UserError("oracle prior: rest must be \"uniform\" or an LLM prior, not another oracle")
            self.rest = make_prior(self.config.rest, self.config.rest_params)
        self._counts = {"oracle_states": 0, "oracle_no_expert": 0}

    @property
    def label(self) -> str:
        rest = "" if self.rest is None else f", rest={self.config.rest}"
        return f"SYNTHETIC oracle (q={self.config.q}{rest})"

    # --- prompts: the oracle reads none ---------------------------------------------------
    def format(self, prompt: str) -> str:
        return prompt

    def count_tokens(self, prompt: str) -> int:
        return len(prompt.split())

    # --- the distribution --------------------------------------------------------------------
    def _rest_logp(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]],
                   normalization: Normalization) -> list[np.ndarray]:
        if self.rest is None:
            return [np.zeros(len(c)) for c in candidates]
        return self.rest.score(prompts, candidates, normalization=normalization)

    def score_states(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]],
                     expert_actions: Sequence[str | None], *,
                     normalization: Normalization = "sum") -> list[np.ndarray]:
        rest = self._rest_logp(prompts, candidates, normalization)
        out = []
        for cands, expert, rest_logp in zip(candidates, expert_actions, rest, strict=True):
            self._counts["oracle_states"] += 1
            n = len(cands)
            weights = np.exp(rest_logp - rest_logp.max()) if n else np.zeros(0)
            if self.config.q == "uniform":
                probs = np.full(n, 1.0 / n) if n else weights
            elif expert is None or expert not in cands:
                self._counts["oracle_no_expert"] += 1
                probs = weights / weights.sum() if n else weights
            elif n == 1:
                probs = np.ones(1)
            else:
                i = list(cands).index(expert)
                others = weights.copy()
                others[i] = 0.0
                probs = (1.0 - float(self.config.q)) * others / others.sum()
                probs[i] = float(self.config.q)
            with np.errstate(divide="ignore"):
                out.append(np.log(probs))
        return out

    def score(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], *,
              normalization: Normalization = "sum") -> list[np.ndarray]:
        raise UserError("the oracle prior needs each state's expert action: use it through an agent "
                        "(dqn-prior, cql-prior, llm) or `priorbench prior inspect`, which pass it")

    def propose(self, prompts: Sequence[str], k: int, admissible: Sequence[Sequence[str]], *,
                seed: int, mode: Literal["sample", "exact"] = "sample",
                expert_actions: Sequence[str | None] | None = None) -> list[Proposals]:
        if mode != "exact" or expert_actions is None:
            raise UserError("the oracle prior writes no free text: use proposal_mode = \"exact\" "
                            "(the agents' default), which draws from its distribution")
        out = []
        for prompt, cands, logp in zip(prompts, admissible,
                                       self.score_states(prompts, admissible, expert_actions), strict=True):
            digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
            probs = np.exp(logp)
            picks = rng.choice(len(cands), size=k, p=probs / probs.sum())
            out.append(Proposals([cands[i] for i in picks], [cands[i] for i in picks],
                                 [float(logp[i]) for i in picks]))
        return out

    def provenance(self) -> dict[str, Any]:
        return {"backend": "oracle", "synthetic": True, "label": self.label, "q": self.config.q,
                "rest": self.config.rest,
                "rest_prior": None if self.rest is None else self.rest.provenance()}

    def counters(self) -> dict[str, float]:
        return {**(self.rest.counters() if self.rest is not None else {}), **self._counts}
