"""The Prior contract: an LLM as a distribution over a text game's admissible commands."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from priorbench.core.seeding import derive_seed

#: How candidate log-probs are normalised: raw sum, per token, or per word (TWOSOME's options).
Normalization = Literal["sum", "token", "word"]


@dataclass(frozen=True)
class Proposals:
    """k proposals for one prompt.

    actions[i] is the admissible command that raw text texts[i] was mapped to, or None when
    it matched nothing (counted in `unmatched`, never silently replaced).
    """

    actions: list[str | None]
    texts: list[str]
    logprobs: list[float]
    unmatched: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def draw_exact(prompts: Sequence[str], k: int, admissible: Sequence[Sequence[str]], scores: Sequence[np.ndarray],
               seed: int) -> list[Proposals]:
    """`propose(mode="exact")` for any backend: k draws per prompt from the exact distribution
    over its commands, each prompt's draws seeded by (seed, the prompt) alone."""
    out = []
    for prompt, cmds, logp in zip(prompts, admissible, scores, strict=True):
        probs = np.exp(logp - logp.max())
        probs /= probs.sum()
        rng = np.random.default_rng(derive_seed(seed, prompt_digest(prompt)))
        picks = rng.choice(len(cmds), size=k, p=probs)
        out.append(Proposals([cmds[i] for i in picks], [cmds[i] for i in picks],
                             [float(logp[i]) for i in picks], 0))
    return out


def normalize_scores(total: np.ndarray, token_counts: Sequence[int], candidates: Sequence[str],
                     normalization: Normalization) -> np.ndarray:
    """Summed candidate log-probs (float64) as `normalization` asks: the sum, per token, or per word."""
    if normalization == "token":
        return total / np.array(token_counts, dtype=np.float64)
    if normalization == "word":
        return total / np.array([max(1, len(c.split())) for c in candidates], dtype=np.float64)
    if normalization != "sum":
        raise ValueError(f"normalization must be sum, token or word, not {normalization!r}")
    return total


def prompt_digest(prompt: str) -> str:
    """The key a prompt's random draws are seeded by (with the caller's seed)."""
    return hashlib.sha256(prompt.encode()).hexdigest()


class Prior(ABC):
    """Backends (transformers, OpenAI-compatible servers) implement this whole contract; the
    agents, the cache and `prior inspect` use nothing else of a prior."""

    context_length: int
    """Longest model-facing text in tokens (prompts are fitted to it by `prompts.fit_prompt`)."""
    uses_expert: ClassVar[bool] = False
    """True for the SYNTHETIC oracle, whose distribution depends on the state's expert action."""

    @abstractmethod
    def format(self, prompt: str) -> str:
        """The model-facing text of a prompt (chat template, plain text, or as given)."""

    @abstractmethod
    def count_tokens(self, prompt: str) -> int:
        """Tokens of `format(prompt)`, as the backend counts them."""

    @abstractmethod
    def score(
        self,
        prompts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        *,
        normalization: Normalization = "sum",
    ) -> list[np.ndarray]:
        """log p(candidate | prompt) for each prompt's candidates, one array per prompt."""

    def score_states(
        self,
        prompts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        expert_actions: Sequence[str | None],
        *,
        normalization: Normalization = "sum",
    ) -> list[np.ndarray]:
        """`score` for states whose expert action is known (None where not). Language models
        ignore it; the SYNTHETIC oracle prior is built from it. Agents call this one."""
        return self.score(prompts, candidates, normalization=normalization)

    @abstractmethod
    def propose(
        self,
        prompts: Sequence[str],
        k: int,
        admissible: Sequence[Sequence[str]],
        *,
        seed: int,
        mode: Literal["sample", "exact"] = "sample",
    ) -> list[Proposals]:
        """k proposals per prompt: sampled free text mapped to admissible commands
        (mode="sample"), or k draws from the exact prior over the commands (mode="exact")."""

    def provenance(self) -> dict[str, Any]:
        """Model id, weights hash, template name and version, for run manifests."""
        return {}

    def counters(self) -> dict[str, float]:
        """Cumulative llm_calls, llm_tokens, cache_hits, cache_misses."""
        return {}
