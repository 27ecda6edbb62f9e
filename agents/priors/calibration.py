"""Calibration and command-list style as settings of any prior backend.

`calibration` (Zhao et al. 2021, "Calibrate before use"; and averaging over orderings):
- "none": the backend's log-probs as they are;
- "contextual": divide the distribution over the commands by the one the same prompt gives
  with the observation replaced by a content-free string ("N/A"), then renormalise — it removes
  what the model prefers whatever it sees (the first-listed command, short commands). The
  content-free prompt depends only on the task, the history and the command list, so its
  distribution is kept per list;
- "permute": average the distribution over the n cyclic shifts of the listed commands (each
  command once in each position), which removes position bias exactly;
- "contextual+permute": both, each shift calibrated by its own content-free prompt.
`list_style`: "comma" (the templates' one-line list) or "numbered" (one "1. command" per line).

Both need the prompt's parts, not only its text: agents build prompts with
`prompts.fit_prompt`, whose `Prompt` keeps them. A calibrated distribution is normalised over
the commands (log-probs that sum to one), whatever `normalization` scored the candidates.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from priorbench.agents.priors.base import Normalization, Prior, Proposals
from priorbench.core.errors import UserError
from priorbench.core.seeding import derive_seed

Calibration = Literal["none", "contextual", "permute", "contextual+permute"]
ListStyle = Literal["comma", "numbered"]
CALIBRATIONS = ("none", "contextual", "permute", "contextual+permute")
LIST_STYLES = ("comma", "numbered")
#: The prompt settings every backend takes besides its own (split off by `make_prior`).
SETTINGS = ("calibration", "list_style")
CONTENT_FREE = "N/A"


def _log_softmax(values: np.ndarray) -> np.ndarray:
    return values - np.logaddexp.reduce(values)


class CalibratedPrior(Prior):
    """A backend behind calibration and a list style; the rest of the contract passes through."""

    def __init__(self, inner: Prior, *, calibration: str = "none", list_style: str = "comma",
                 memo_size: int = 4096) -> None:
        if calibration not in CALIBRATIONS:
            raise UserError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
        if list_style not in LIST_STYLES:
            raise UserError(f"list_style must be one of {', '.join(LIST_STYLES)}, got {list_style!r}")
        if inner.uses_expert:
            raise UserError("calibration and list_style are settings of language-model priors, "
                            "not of the SYNTHETIC oracle")
        self.inner = inner
        self.calibration = calibration
        self.list_style = list_style
        self._content_free: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_size = memo_size
        self._counts = {"content_free_hits": 0, "content_free_misses": 0}

    # --- the contract, passed through ---------------------------------------------------------
    @property
    def context_length(self) -> int:  # type: ignore[override]
        return self.inner.context_length

    def format(self, prompt: str) -> str:
        return self.inner.format(self._render(prompt))

    def count_tokens(self, prompt: str) -> int:
        return self.inner.count_tokens(self._render(prompt))

    def provenance(self) -> dict[str, Any]:
        return {**self.inner.provenance(), "calibration": self.calibration, "list_style": self.list_style}

    def counters(self) -> dict[str, float]:
        return {**self.inner.counters(), **self._counts}

    # --- rendering ----------------------------------------------------------------------------
    def _render(self, prompt: str, *, shift: int = 0, content_free: bool = False) -> str:
        parts = getattr(prompt, "parts", None)
        if parts is None:
            if self.calibration == "none" and self.list_style == "comma":
                return prompt
            raise UserError(f"calibration={self.calibration!r} / list_style={self.list_style!r} need "
                            "the prompt's parts: build prompts with prompts.fit_prompt (agents do)")
        commands = list(parts.admissible)
        commands = commands[shift:] + commands[:shift]
        observation = CONTENT_FREE if content_free else parts.observation
        return parts.template.render(parts.task, observation, commands, parts.history,
                                     list_style=self.list_style)

    # --- scores -------------------------------------------------------------------------------
    def score(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], *,
              normalization: Normalization = "sum") -> list[np.ndarray]:
        if self.calibration == "none":
            return self.inner.score([self._render(p) for p in prompts], candidates,
                                    normalization=normalization)
        permute = "permute" in self.calibration
        contextual = "contextual" in self.calibration
        jobs: list[tuple[int, int]] = []  # (prompt index, shift of the listed commands)
        for i, p in enumerate(prompts):
            parts = getattr(p, "parts", None)
            shifts = range(len(parts.admissible)) if permute and parts is not None else [0]
            jobs += [(i, s) for s in shifts]
        texts = [self._render(prompts[i], shift=s) for i, s in jobs]
        raw = self.inner.score(texts, [candidates[i] for i, _ in jobs], normalization=normalization)
        free = self._content_free_scores(prompts, candidates, jobs, normalization) if contextual else None
        mixed = [np.zeros(len(c)) for c in candidates]
        counts = [0] * len(prompts)
        for j, (i, _) in enumerate(jobs):
            logp = _log_softmax(raw[j])
            if free is not None:
                logp = _log_softmax(logp - _log_softmax(free[j]))
            mixed[i] = mixed[i] + np.exp(logp)
            counts[i] += 1
        with np.errstate(divide="ignore"):
            return [np.log(m / c) for m, c in zip(mixed, counts, strict=True)]

    def _content_free_scores(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]],
                             jobs: list[tuple[int, int]], normalization: Normalization) -> list[np.ndarray]:
        """The content-free prompt's scores per job, kept per (text, candidates)."""
        texts = [self._render(prompts[i], shift=s, content_free=True) for i, s in jobs]
        keys = ["\x00".join([t, "\x1f".join(candidates[i]), normalization]) for t, (i, _) in zip(texts, jobs, strict=True)]
        todo = sorted({k: j for j, k in enumerate(keys) if k not in self._content_free}.values())
        self._counts["content_free_misses"] += len(todo)
        self._counts["content_free_hits"] += len(keys) - len(todo)
        if todo:
            fresh = self.inner.score([texts[j] for j in todo], [candidates[jobs[j][0]] for j in todo],
                                     normalization=normalization)
            for j, values in zip(todo, fresh, strict=True):
                self._content_free[keys[j]] = values
                while len(self._content_free) > self._memo_size:
                    self._content_free.popitem(last=False)
        return [self._content_free[k] for k in keys]

    # --- proposals ----------------------------------------------------------------------------
    def propose(self, prompts: Sequence[str], k: int, admissible: Sequence[Sequence[str]], *,
                seed: int, mode: Literal["sample", "exact"] = "sample") -> list[Proposals]:
        if mode == "sample":  # free text from the prompt as listed; calibration shapes scores only
            return self.inner.propose([self._render(p) for p in prompts], k, admissible, seed=seed, mode=mode)
        out = []
        for prompt, cands, logp in zip(prompts, admissible, self.score(prompts, admissible), strict=True):
            rng = np.random.default_rng(derive_seed(seed, "calibrated-exact", str(prompt)))
            probs = np.exp(logp - logp.max())
            picks = rng.choice(len(cands), size=k, p=probs / probs.sum())
            out.append(Proposals([cands[i] for i in picks], [cands[i] for i in picks],
                                 [float(logp[i]) for i in picks]))
        return out


def wrap(inner: Prior, settings: dict[str, Any]) -> Prior:
    """`inner` behind calibration / list_style when either differs from the default."""
    calibration = settings.get("calibration", "none")
    list_style = settings.get("list_style", "comma")
    if calibration == "none" and list_style == "comma":
        return inner
    return CalibratedPrior(inner, calibration=calibration, list_style=list_style)
