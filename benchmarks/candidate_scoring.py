"""Exact prior scoring of one state with many candidates (ScienceWorld scale): time and peak
memory vs the number of candidates, against one forward of the prompt and all candidates in
one sequence (the cost floor the issue names).

    HF_HUB_OFFLINE=1 python benchmarks/candidate_scoring.py [--counts 10,100,400,1000]
        [--prior smollm2-135m] [--repeats 3]

The state: ScienceWorld boil, its first test variation, the first state on the gold path with
at least the largest count of admissible commands (the kitchen: ~1,000–1,400; `max_commands` =
the largest count, so the shortest ones); the prompt is the
ScienceWorld template listing the first N commands, as the agents write it. Each count runs in
a fresh process (`--one N`) so that its peak RSS (`ru_maxrss`) is its own; the model's load is
measured apart. `--check K` also compares K candidates with per-candidate full forwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ENV_ID = "priorbench/ScienceWorld-Boil-v0"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def state(n_max: int) -> dict:
    from priorbench import envs

    env = envs.make(ENV_ID, split="test", n_test_variations=1, max_commands=n_max)
    obs, info = env.reset(seed=0, options={"task": 0})
    while len(info["admissible_commands"]) < n_max and info.get("expert_action"):  # into the kitchen
        obs, _, terminated, truncated, info = env.step(info["expert_action"])
    env.close()
    return {"task": info["task"], "obs": obs, "commands": info["admissible_commands"]}


def one(n: int, data: dict, prior_name: str, repeats: int, check: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from priorbench.agents.priors.hf import HFPrior
    from priorbench.agents.priors.prompts import template_for

    prior = HFPrior(model=prior_name)  # the backend itself: no persistent cache, no calibration
    loaded = rss_mib()
    commands = data["commands"][:n]
    prompt = template_for(ENV_ID).render(data["task"], data["obs"], commands)
    scores, times = None, []
    for _ in range(repeats):
        started = time.perf_counter()
        scores = prior.score([prompt], [commands])[0]
        times.append(time.perf_counter() - started)
    inner = prior
    ids = inner.encode_prompt(prompt) + [t for c in commands for t in inner._encode_candidate(c)]
    floor = []
    with torch.inference_mode():
        for _ in range(repeats):
            started = time.perf_counter()
            inner.model(input_ids=torch.tensor([ids]), logits_to_keep=1)
            floor.append(time.perf_counter() - started)
    out = {"n": len(commands), "prompt_tokens": inner.count_tokens(prompt), "sequence_tokens": len(ids),
           "score_s": statistics.median(times), "one_sequence_s": statistics.median(floor),
           "rss_after_load_mib": loaded, "peak_rss_mib": rss_mib()}
    if check:
        picks = np.linspace(0, len(commands) - 1, check).astype(int)
        naive = inner.score_naive(prompt, [commands[i] for i in picks])
        out["max_abs_diff_vs_naive"] = float(np.max(np.abs(naive - scores[picks])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="10,100,400,1000")
    parser.add_argument("--prior", default="smollm2-135m", help="model of the hf backend (alias, folder, GGUF)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", type=int, default=0, help="candidates compared with per-candidate forwards")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print one JSON line per count")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, json.loads(Path(args.state).read_text()), args.prior, args.repeats,
                             args.check)))
        return
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.json"
        path.write_text(json.dumps(state(max(counts))))
        rows = []
        for n in counts:
            done = subprocess.run([sys.executable, __file__, "--one", str(n), "--state", str(path), "--prior",
                                   args.prior, "--repeats", str(args.repeats), "--check", str(args.check)],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            if args.json:
                print(json.dumps(rows[-1]), flush=True)
    if args.json:
        return
    print("| candidates | prompt tokens | prompt + all candidates | scoring | one sequence | ratio | peak RSS | RSS after load |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']} | {r['prompt_tokens']} | {r['sequence_tokens']} | {r['score_s']:.2f} s | "
              f"{r['one_sequence_s']:.2f} s | {r['score_s'] / r['one_sequence_s']:.2f}× | "
              f"{r['peak_rss_mib']:.0f} MiB | {r['rss_after_load_mib']:.0f} MiB |"
              + (f" (max |Δ| vs per-candidate {r['max_abs_diff_vs_naive']:.1e})" if "max_abs_diff_vs_naive" in r else ""))


if __name__ == "__main__":
    main()
