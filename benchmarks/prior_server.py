"""One shared prior server vs a prior per worker: memory, and scoring throughput by clients.

States: real Overcooked (lettuce-tomato salad) states from random walks, prompted with the
agents' template; each client scores its own states one request per state, as dqn-prior asks
(SmolLM2-135M, chat format, exact scoring, contextual calibration off so one request = one
state). All in one run, so the ratios compare:

- memory: peak RSS of 2 worker processes that each load the prior, against 2 token-mode
  clients (tokenizer only) + one `priorbench serve-prior` process;
- throughput: states/s of the in-process backend (one process), and of 1, 2 and 4 client
  processes sharing one server, with the server's default batching (each state alone: the
  in-process bits) and with `batch=pad` (one padded forward per server batch).

    python benchmarks/prior_server.py [--states 24] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
ENV = "priorbench/Overcooked-LettuceTomatoSalad-v0"


def states(n: int, seed: int) -> list[tuple[str, list[str]]]:
    """n distinct (task, observation, commands) states from random walks, as prompt parts."""
    import numpy as np

    from priorbench import envs

    env = envs.make(ENV)
    rng = np.random.default_rng(seed)
    seen: dict[str, tuple[str, str, list[str]]] = {}
    episode = 0
    while len(seen) < n:
        obs, info = env.reset(seed=seed * 1000 + episode, options={"task": 0})
        episode += 1
        for _ in range(20):
            commands = list(info["admissible_commands"])
            seen.setdefault(obs + "\x00".join(commands), (info["task"], obs, commands))
            obs, _, terminated, truncated, info = env.step(commands[int(rng.integers(len(commands)))])
            if terminated or truncated or len(seen) >= n:
                break
    return list(seen.values())[:n]


def _score(args: tuple[str | None, int, int]) -> dict[str, float]:
    """One worker: its states scored one at a time, in-process (url None) or at the server."""
    import torch

    torch.set_num_threads(1)
    url, n, seed = args
    from priorbench.agents.priors.prompts import fit_prompt, template_for

    if url is None:
        from priorbench.agents.priors.hf import HFPrior

        prior = HFPrior(model="smollm2-135m")
    else:
        from priorbench.agents.priors.openai_compat import OpenAIPrior

        prior = OpenAIPrior(base_url=url, tokenizer="smollm2-135m")
    template = template_for(ENV)
    work = [(fit_prompt(template, prior.count_tokens, prior.context_length, task, obs, cmds, []), cmds)
            for task, obs, cmds in states(n, seed)]
    started = time.perf_counter()
    for prompt, cmds in work:
        prior.score([prompt], [cmds])
    return {"wall_s": time.perf_counter() - started, "states": n,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def workers(url: str | None, clients: int, n: int) -> dict[str, float]:
    """`clients` processes at once (each its own states); wall time of the slowest."""
    with ProcessPoolExecutor(clients) as pool:
        started = time.perf_counter()
        results = list(pool.map(_score, [(url, n, seed) for seed in range(clients)]))
        wall = time.perf_counter() - started
    return {"clients": clients, "states": clients * n, "wall_s": round(wall, 2),
            "states_per_s": round(clients * n / max(r["wall_s"] for r in results), 2),
            "client_rss_mib": round(sum(r["peak_rss_mib"] for r in results))}


class Server:
    def __init__(self, *settings: str) -> None:
        command = [sys.executable, "-m", "priorbench.bench", "serve-prior", "--port", "0"]
        for s in settings:
            command += ["--set", s]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("serving"):
            raise SystemExit(f"serve-prior did not start: {self.proc.stderr.read()}")
        self.url = line.split(" at ")[1].split(" ")[0]

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--states", type=int, default=24, help="states per client")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.states
    out: dict[str, object] = {}
    _score((None, 2, 0))  # the model's conversion and the env, warmed
    local1 = workers(None, 1, n)
    local2 = workers(None, 2, n)
    print(f"in-process, 1 worker : {local1['states_per_s']:6.2f} states/s  peak RSS {local1['client_rss_mib']} MiB")
    print(f"in-process, 2 workers: {local2['states_per_s']:6.2f} states/s  peak RSS {local2['client_rss_mib']} MiB "
          "(each loads the prior)")
    out["in_process"] = [local1, local2]
    for mode in ("exact", "pad"):
        server = Server(f"batch={mode}")
        rows = []
        try:
            for clients in (1, 2, 4):
                row = workers(server.url, clients, n)
                rows.append(row)
                print(f"server batch={mode}, {clients} client(s): {row['states_per_s']:6.2f} states/s "
                      f"({row['states_per_s'] / local1['states_per_s']:.2f}× in-process)  "
                      f"clients' RSS {row['client_rss_mib']} MiB")
            rss = server.peak_rss_mib()
        finally:
            server.stop()
        two = rows[1]["client_rss_mib"] + rss
        print(f"server batch={mode}: server peak RSS {rss:.0f} MiB; 2 clients + server {two:.0f} MiB vs "
              f"2 in-process workers {local2['client_rss_mib']} MiB ({two / local2['client_rss_mib']:.2f}×)")
        out[f"server_{mode}"] = {"rows": rows, "server_rss_mib": round(rss)}
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
