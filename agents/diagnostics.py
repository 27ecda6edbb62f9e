"""Per-step prior diagnostics kept as cumulative counters (the runner records them per episode):
decisions, the chosen action's prior log-prob, prior entropy, and expert coverage."""

from __future__ import annotations

import numpy as np

#: Diagnostic sums add values rounded to multiples of 2^-24 (6e-8): such sums are exact in a
#: float64 up to 2^29, so a training episode's share (total after − total before − what the
#: evaluations in between added) is the same number whether or not an evaluation ran inside it.
GRID = 2.0 ** -24


def on_grid(value: float) -> float:
    """`value` rounded to the nearest multiple of GRID."""
    return round(value / GRID) * GRID


class PriorDiagnostics:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {"decisions": 0, "prior_logprob_sum": 0.0,
                                         "prior_entropy_sum": 0.0, "expert_known": 0,
                                         "expert_covered": 0}

    def record(self, logprobs: np.ndarray | None, chosen: int | None, covered: bool | None) -> None:
        """logprobs over the candidate set (normalised here), the chosen index, and whether the
        expert's action was among the candidates (None when the env gives no expert action)."""
        self.counts["decisions"] += 1
        if logprobs is not None and chosen is not None and len(logprobs):
            logp = logprobs - np.logaddexp.reduce(logprobs)
            self.counts["prior_logprob_sum"] += on_grid(float(logp[chosen]))
            probs = np.exp(logp)
            self.counts["prior_entropy_sum"] += on_grid(float(-np.where(probs > 0, probs * logp, 0.0).sum()))
        if covered is not None:
            self.counts["expert_known"] += 1
            self.counts["expert_covered"] += int(covered)
