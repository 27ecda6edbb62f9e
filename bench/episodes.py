"""How an episode becomes its record fields (`bench.runner._Loop` mixes this in): the
counters' deltas over the episode (evaluation episodes' kept apart, so a training episode
that an evaluation round interrupted leaves them out), the volatile counters filed beside wall
time, and the env's last info."""

from __future__ import annotations

import math
import time
from typing import Any

from priorbench.agents.base import Agent
from priorbench.bench import records
from priorbench.core.errors import UserError


class EpisodeRecords:
    """`_Loop`'s record fields (it supplies job, agent, _eval_counts and its progress `state`)."""

    job: Any
    agent: Agent
    _eval_counts: dict[str, float]
    state: Any

    def _update(self) -> dict[str, float]:
        """One `agent.update()`, its metrics as floats. A metric that is not a finite number
        ends the run with one line naming the agent, the step and the metric, before anything
        of the step is recorded: the folder keeps its last checkpoint and records no NaN."""
        metrics = {}
        for key, value in self.agent.update().items():
            number = float(value)
            if not math.isfinite(number):
                raise UserError(
                    f"{self.job.agent} at step {self.state.env_steps + 1}: its update metric {key!r} "
                    f"became {number} (the learning diverged); the run stopped before recording it and "
                    "resumes from its last checkpoint. Lower lr or check the agent's settings")
            metrics[key] = number
        return metrics

    def _outcome(self, info: dict[str, Any], counters_before: dict[str, float], eval_before: dict[str, float],
                 *, explore: bool, started: float, total: float, length: int, invalid: int, truncated: bool,
                 cut: bool, updates: dict[str, list[float]]) -> dict[str, Any]:
        """An episode's record fields; counters since `counters_before`, less evaluations'."""
        after = self.agent.counters()
        if explore:  # evaluations run inside training episodes; keep their counts out of it
            eval_share = {k: self._eval_counts.get(k, 0) - eval_before.get(k, 0) for k in after}
            deltas = {k: after[k] - counters_before.get(k, 0) - eval_share.get(k, 0) for k in after}
        else:
            deltas = {k: after[k] - counters_before.get(k, 0) for k in after}
            self._count_eval(counters_before, after)
        return self._fields(info, deltas, started=started, total=total, length=length, invalid=invalid,
                            truncated=truncated, cut=cut, updates=updates)

    def _count_eval(self, before: dict[str, float], after: dict[str, float]) -> None:
        """An evaluation episode's counters, kept apart so training episodes can leave them out."""
        for k in after:
            self._eval_counts[k] = self._eval_counts.get(k, 0) + after[k] - before.get(k, 0)

    def _fields(self, info: dict[str, Any], deltas: dict[str, float], *, started: float, total: float,
                length: int, invalid: int, truncated: bool, cut: bool,
                updates: dict[str, list[float]]) -> dict[str, Any]:
        """The record fields from an episode's tallies and its counters' deltas."""
        timing: dict[str, Any] = {"wall_s": round(time.perf_counter() - started, 4)}
        volatile = {k: v for k, v in deltas.items() if k in records.VOLATILE_COUNTERS}
        if volatile:
            timing["counters"] = volatile
        return {
            "task": info.get("task_id"),
            "return_": round(total, 10),
            "success": bool(info["won"]),
            "length": length,
            "score": info["score"],
            "max_score": info["max_score"],
            "invalid_actions": invalid,
            "truncated": bool(truncated),
            "counters": {k: v for k, v in deltas.items() if k not in records.VOLATILE_COUNTERS},
            "timing": timing,
            "cut_by_budget": cut,
            # e.g. a step timeout: the episode ended as an error, the run goes on
            "error": str(info["error"]) if info.get("error") else None,
            "update": {k: sum(v) / len(v) for k, v in sorted(updates.items())} if updates else None,
        }
