"""What a leaderboard protocol costs per (env, agent): training seconds per 1,000 steps and
seconds per evaluation round, measured from finished (or stopped) runs' stored records, so a
protocol's CPU budget can be re-estimated on any machine from a few short runs.

Everything comes from the run folders (`manifest.json`, `episodes.jsonl`; README, "Run
records"): each episode row's `timing.wall_s`, its `length`, and the manifest's `timing.setup`.

- **train s/1k**: the train rows' wall time per 1,000 of their steps — env steps for online
  agents, gradient steps for offline ones (`cql`, `cql-prior`; manifest `budget_unit`). An
  evaluation round that the runner plays inside a training episode (at a multiple of
  `eval_every`) is timed in that episode too, so its wall time is taken out.
- **eval s/round**: the wall time of an evaluation round (every test task, `eval_episodes` times
  each), averaged over the run's complete rounds ("~N": no round finished, so the mean wall time
  of the episodes played times the round's size); `episodes` is the round's size and `eval s/step`
  the same time per step played, for rounds of another length (an untrained agent plays to the
  step limit, a good one stops early).
- **setup s**: building the envs and the agent, loading a model, and an offline agent's dataset
  (cql-prior scores every dataset state with its prior there).
- **LLM calls/1k**: the prior's computed calls per 1,000 training steps (a warm prior cache
  answers the rest), and `hit rate` the share of prior look-ups the cache answered.

A run stopped before its end (status `running`) still counts with what it recorded; its label
says `(partial)`. Rows group runs by (env, agent label); `--per-run` prints one row per run
folder instead (e.g. a cold-cache seed beside a warm one).

    python benchmarks/protocol_cost.py RUNS_DIR [RUNS_DIR …] [--per-run]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from priorbench.bench import records, schema


def _wall(row: dict[str, Any]) -> float:
    return float((row.get("timing") or {}).get("wall_s", 0.0))


def _counter(row: dict[str, Any], key: str) -> float:
    return float(((row.get("timing") or {}).get("counters") or {}).get(key, row.get("counters", {}).get(key, 0)))


def _label(manifest: dict[str, Any]) -> str:
    """The leaderboard's label for complete runs; for a stopped run (no provenance yet), the
    agent name with the prior settings its spec asked for."""
    if manifest.get("status") == "complete":
        return schema.agent_label(manifest)
    params = manifest.get("spec", {}).get("agent_params") or manifest.get("agent", {}).get("params") or {}
    name = str(manifest["agent"]["name"])
    if not params.get("prior"):
        return f"{name} (partial)"
    settings = params.get("prior_params") or {}
    parts = [str(params["prior"]), *(f"{k}={v}" for k, v in sorted(settings.items()))]
    return f"{name} [{', '.join(parts)}] (partial)"


def measure(folder: Path) -> dict[str, Any] | None:
    """One run's cost figures, or None when it recorded nothing yet."""
    manifest = records.RunRecord(folder).read_manifest()
    rows = records.read_episodes(folder / records.EPISODES).records
    if manifest is None or not rows:
        return None
    budget = manifest.get("spec", {}).get("budget", {})
    eval_every = int(budget.get("eval_every", 0)) or None
    offline = manifest.get("budget_unit") == "gradient_steps"
    train = [r for r in rows if r.get("phase") == "train"]
    rounds: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("phase") == "eval":
            rounds.setdefault(int(r["eval_round"]), []).append(r)
    per_round = len(manifest.get("env", {}).get("test_tasks", [])) * int(budget.get("eval_episodes", 1))
    complete = {k: v for k, v in rounds.items() if len(v) == per_round}
    # rounds the runner played inside a training episode (online agents, at k * eval_every)
    nested = sum(_wall(r) for v in rounds.values() for r in v
                 if not offline and eval_every and 0 < r["env_steps"] and r["env_steps"] % eval_every == 0
                 and any(t["env_steps"] - t["length"] < r["env_steps"] <= t["env_steps"] for t in train))
    train_steps = sum(int(r["length"]) for r in train)
    train_s = sum(_wall(r) for r in train) - nested
    calls = sum(_counter(r, "llm_calls") for r in train)
    hits = sum(_counter(r, "cache_hits") for r in rows)
    looked = hits + sum(_counter(r, "cache_misses") for r in rows)
    round_s = [sum(_wall(r) for r in v) for v in complete.values()]
    eval_rows = [r for v in rounds.values() for r in v]
    eval_steps = sum(int(r["length"]) for r in eval_rows)
    setup = (manifest.get("timing") or {}).get("setup", {}).get("wall_s")
    return {
        "env": manifest["env"]["id"],
        "label": _label(manifest),
        "run": str(folder),
        "unit": "grad" if offline else "env",
        "train_steps": train_steps,
        "train_s_per_1k": 1000 * train_s / train_steps if train_steps else None,
        "llm_calls_per_1k": 1000 * calls / train_steps if train_steps else None,
        "rounds": len(complete),
        "episodes": per_round,
        "eval_s_per_round": statistics.fmean(round_s) if round_s else None,
        # no complete round (a stopped run): its episodes' mean wall time × the round's size
        "eval_s_per_round_est": (sum(_wall(r) for r in eval_rows) / len(eval_rows) * per_round
                                 if eval_rows and not round_s else None),
        "eval_s_per_step": sum(_wall(r) for r in eval_rows) / eval_steps if eval_steps else None,
        "eval_steps_per_round": eval_steps / len(eval_rows) * per_round if eval_rows else None,
        "setup_s": setup,
        "hit_rate": hits / looked if looked else None,
    }


def _mean(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def _round_cell(ms: list[dict[str, Any]]) -> str:
    """Mean seconds per complete round; "~N" (estimated from a stopped round's episodes) when
    none of the group's runs finished one."""
    measured = _mean([m["eval_s_per_round"] for m in ms])
    if measured is not None:
        return _fmt(measured)
    estimate = _mean([m["eval_s_per_round_est"] for m in ms])
    return "~" + _fmt(estimate) if estimate is not None else "–"


def table(found: list[dict[str, Any]], per_run: bool) -> str:
    head = ["env", "agent", "runs", "unit", "train steps", "train s/1k", "LLM calls/1k", "eval rounds",
            "episodes/round", "eval s/round", "eval s/step", "steps/round", "setup s", "hit rate"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in found:
        key = (m["env"], m["label"] + (f" ({Path(m['run']).name})" if per_run else ""))
        groups.setdefault(key, []).append(m)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if i > 1 else "---" for i in range(len(head))) + "|"]
    for (env, label), ms in sorted(groups.items()):
        first = ms[0]
        cells = [env.removeprefix("priorbench/"), label, str(len(ms)), first["unit"],
                 str(sum(m["train_steps"] for m in ms)),
                 _fmt(_mean([m["train_s_per_1k"] for m in ms])),
                 _fmt(_mean([m["llm_calls_per_1k"] for m in ms]), 0),
                 str(sum(m["rounds"] for m in ms)), str(first["episodes"]),
                 _round_cell(ms),
                 _fmt(_mean([m["eval_s_per_step"] for m in ms]), 3),
                 _fmt(_mean([m["eval_steps_per_round"] for m in ms]), 0),
                 _fmt(_mean([m["setup_s"] for m in ms])),
                 _fmt(_mean([m["hit_rate"] for m in ms]), 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders holding run folders (searched recursively)")
    parser.add_argument("--per-run", action="store_true", help="one row per run folder, not per (env, agent)")
    args = parser.parse_args(argv)
    found = [m for root in args.runs for folder in records.find_runs(root) if (m := measure(folder))]
    if not found:
        print(f"no run records under {', '.join(map(str, args.runs))}", file=sys.stderr)
        return 1
    print(table(found, args.per_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
