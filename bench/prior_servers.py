"""`--prior-server`: runs that ask a shared prior server instead of loading the model.

`URL[,URL…]`: servers already running (`priorbench serve-prior`, one per model); each run's hf
priors become their token-mode openai twins at the server that serves the same weights
(`agents.priors.openai_compat.remote_twin`), so the records are the in-process ones, bit for
bit, with one model in memory. `auto`: the command starts the servers itself — in this
process for the local executor (the pool's workers ask it), one per node as a Ray actor for
`--executor ray` — for every distinct hf prior the jobs use, and stops them at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from priorbench.agents.priors.openai_compat import PRIOR_SERVER_ENV
from priorbench.core.errors import UserError


def jobs_priors(jobs: Sequence[Any]) -> list[Any]:
    """The distinct hf prior configs the runner's jobs use (`hf_priors`)."""
    from priorbench import agents

    params = (agents.resolved_params(j.agent, j.agent_params) for j in jobs)
    return hf_priors([(p["prior"], p.get("prior_params") or {}) for p in params if "prior" in p])


def hf_priors(settings: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
    """The distinct hf backend configs among (prior name, prior_params) pairs, as served
    (prompt_format raw: the clients format)."""
    from priorbench.agents.priors import PRIORS, prior_config
    from priorbench.agents.priors.hf import HFPrior

    configs: list[Any] = []
    for name, params in settings:
        if issubclass(PRIORS.load(name), HFPrior):
            config = dataclasses.replace(prior_config(name, params), prompt_format="raw", system_prompt=None)
            served = dataclasses.replace(config, temperature=1.0, top_p=1.0, max_new_tokens=10)  # per request
            if served not in configs:
                configs.append(served)
    return configs


def start_server(config: Any, host: str = "127.0.0.1") -> tuple[Any, str]:
    """A serve-prior server for an hf config on a free port, answering from a thread, at the
    runs' torch threads (so its log-probs are the in-process bits)."""
    import torch

    from priorbench.agents.priors.hf import HFPrior
    from priorbench.agents.priors.server import make_server
    from priorbench.core.seeding import RUN_THREADS

    torch.set_num_threads(RUN_THREADS)
    server = make_server(HFPrior(config), host, 0)
    threading.Thread(target=server.serve_forever, daemon=True, name="prior-server").start()
    address, port = server.server_address[:2]
    return server, f"http://{address}:{port}/v1"


@contextlib.contextmanager
def local_servers(prior_server: str | None, configs: Sequence[Any]) -> Iterator[None]:
    """PRIORBENCH_PRIOR_SERVER set for this command (pool workers inherit it); `auto` starts
    the servers in this process first."""
    if not prior_server:
        yield
        return
    servers = []
    if prior_server == "auto":
        if not configs:
            raise UserError("--prior-server auto: no run of this command uses an hf prior; drop the flag")
        started = [start_server(c) for c in configs]
        servers = [s for s, _ in started]
        urls = ",".join(u for _, u in started)
    else:
        urls = _checked_urls(prior_server)
    before = os.environ.get(PRIOR_SERVER_ENV)
    os.environ[PRIOR_SERVER_ENV] = urls
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PRIOR_SERVER_ENV, None)
        else:
            os.environ[PRIOR_SERVER_ENV] = before
        for server in servers:
            server.shutdown()
            server.server_close()


def _checked_urls(value: str) -> str:
    urls = [u.strip() for u in value.split(",") if u.strip()]
    if not urls or not all(u.startswith(("http://", "https://")) for u in urls):
        raise UserError(f"--prior-server {value!r}: give auto or the servers' /v1 roots, e.g. "
                        "http://127.0.0.1:8000/v1 (comma-separated for several models)")
    return ",".join(urls)


def ray_servers(ray: Any, prior_server: str | None, configs: Sequence[Any]) -> tuple[dict[str, str], list[Any]]:
    """For Ray: node id → the URLs its tasks use (key "" for every node), and the actors to
    stop. `auto` places one server actor per alive node and hf prior (1 CPU, or 1 GPU when
    the prior's device is cuda)."""
    if not prior_server:
        return {}, []
    if prior_server != "auto":
        return {"": _checked_urls(prior_server)}, []
    if not configs:
        raise UserError("--prior-server auto: no run of this command uses an hf prior; drop the flag")
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote
    class PriorServer:
        def __init__(self, config: Any) -> None:
            self.server, self.url = start_server(config)

        def address(self) -> str:
            return self.url

    actors, urls = [], {}
    for node in (n for n in ray.nodes() if n.get("Alive")):
        placed = []
        for config in configs:
            gpu = str(config.device).startswith("cuda")
            actor = PriorServer.options(
                num_cpus=0 if gpu else 1, num_gpus=1 if gpu else 0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(config)
            actors.append(actor)
            placed.append(actor)
        urls[node["NodeID"]] = ",".join(ray.get([a.address.remote() for a in placed]))
    return urls, actors


def use_node_servers(urls: dict[str, str]) -> None:
    """In a Ray task: point this worker's priors at its node's servers."""
    if not urls:
        return
    import ray

    os.environ[PRIOR_SERVER_ENV] = urls.get("") or urls.get(ray.get_runtime_context().get_node_id(), "")
