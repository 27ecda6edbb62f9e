"""An evaluation round one test episode at a time vs `--eval-batch K` (lockstep, one batched
prior call per step), for the llm agent with SmolLM2-135M.

Env: Frozen Lake 4×4 with random maps (20 test maps, ≤20 steps each), prior cache off so every
prompt is really scored. Settings, each a fresh run of the whole round in this process:

- hf backend, `batch = "exact"` (the default: each state alone): K = 1 and K = 8;
- hf backend, `batch = "pad"` (the states of a call as one left-padded forward): K = 1 and 8.

Prints wall time per round and decisions/s, and checks that the exact-mode records are the same
at K = 1 and K = 8 (pad mode's numbers may move by ~1e-5 with the batch: compared, reported).

    python benchmarks/eval_batch.py [--env ID] [--k 8] [--json] [--model FOLDER] [--device cuda]
        [--dtype bfloat16]

--model/--device/--dtype go into the prior's params (default: SmolLM2-135M, CPU, fp32).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def one_round(env: str, k: int, batch: str, out: Path, placed: dict) -> tuple[float, list[dict], int]:
    from priorbench.bench import records
    from priorbench.bench.runner import RunJob, execute
    from priorbench.bench.spec import Budget

    params = {"prior": "smollm2-135m", "cache": False, "prior_params": {"batch": batch, **placed}}
    started = time.perf_counter()
    path = execute(RunJob(env, "llm", 0, Budget(steps=0, eval_every=1), out, agent_params=params,
                          eval_batch=k), progress=False)
    wall = time.perf_counter() - started
    raw = records.read_episodes(path / records.EPISODES).records
    return wall, records.strip_timing(raw), sum(e["length"] for e in raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="priorbench/FrozenLake-4x4-Random-v0")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", default="", help="a local model folder instead of SmolLM2's weights")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    args = parser.parse_args()
    from priorbench.agents.priors import make_prior

    placed = {"device": args.device, "dtype": args.dtype, **({"model": args.model} if args.model else {})}
    for batch in ("exact", "pad"):  # load the weights once, outside the timings
        make_prior("smollm2-135m", {"batch": batch, **placed}, cache=False)
    rows, episodes = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for batch in ("exact", "pad"):
            for k in (1, args.k):
                wall, eps, decisions = one_round(args.env, k, batch, Path(tmp) / f"{batch}-{k}", placed)
                episodes[batch, k] = eps
                rows.append({"batch": batch, "eval_batch": k, "wall_s": round(wall, 2), "decisions": decisions,
                             "decisions_per_s": round(decisions / wall, 2)})
    base = rows[0]["wall_s"]
    for row in rows:
        row["speedup_vs_exact_k1"] = round(base / row["wall_s"], 2)
    same = {batch: episodes[batch, 1] == episodes[batch, args.k] for batch in ("exact", "pad")}
    if args.json:
        print(json.dumps({"env": args.env, "prior": placed, "rows": rows, "records_equal_k1_vs_k": same},
                         indent=1))
        return
    print(f"{args.env}: llm (SmolLM2-135M, cache off), one evaluation round")
    for row in rows:
        print(f"  batch={row['batch']:<5} eval_batch={row['eval_batch']:<2} {row['wall_s']:7.2f} s  "
              f"{row['decisions_per_s']:6.2f} decisions/s  {row['speedup_vs_exact_k1']:.2f}×")
    print(f"records equal at eval_batch 1 and {args.k}: {same}")


if __name__ == "__main__":
    main()
