"""Pure functions from episode records to scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def eval_rounds(records: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Evaluation records grouped by round, in round order."""
    rounds: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("phase") == "eval":
            rounds.setdefault(int(r["eval_round"]), []).append(r)
    return dict(sorted(rounds.items()))


def final_eval(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last evaluation round's episodes (empty if the run never evaluated)."""
    rounds = eval_rounds(records)
    return rounds[max(rounds)] if rounds else []


def success_rate(episodes: Sequence[dict[str, Any]]) -> float:
    return float(np.mean([bool(e["success"]) for e in episodes])) if episodes else float("nan")


def mean_return(episodes: Sequence[dict[str, Any]]) -> float:
    return float(np.mean([float(e["return"]) for e in episodes])) if episodes else float("nan")


def learning_curve(records: Sequence[dict[str, Any]]) -> list[tuple[int, float, float]]:
    """(env steps, test success rate, test mean return) at each evaluation round."""
    return [
        (int(eps[0]["env_steps"]), success_rate(eps), mean_return(eps))
        for eps in eval_rounds(records).values()
    ]


def totals(records: Sequence[dict[str, Any]], key: str) -> float:
    """Sum of a per-episode counter (llm_calls, cache_hits, …) over all episodes of a run."""
    return float(sum(r.get("counters", {}).get(key, 0) for r in records))


def run_summary(manifest: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One run's headline numbers: final test success and return, budget used."""
    final = final_eval(records)
    return {
        "env": manifest["env"]["id"],
        "agent": manifest["agent"]["name"],
        "seed": manifest["seed"],
        "success": success_rate(final),
        "return": mean_return(final),
        "env_steps": int(manifest.get("final_env_steps", 0)),
        "eval_episodes": len(final),
        "llm_calls": totals(records, "llm_calls"),
        "wall_s": float(manifest.get("timing", {}).get("wall_s", float("nan"))),
    }
