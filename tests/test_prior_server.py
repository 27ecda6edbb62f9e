"""One prior shared by many workers: `serve-prior` batches concurrent requests, and the openai
backend in token mode gives the in-process hf backend's bits (scores, samples, provenance), so
runs pointed at a server (`--prior-server`) write the in-process records with one model in
memory. Loopback only (127.0.0.1)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from priorbench.agents.priors.hf import HFPrior
from priorbench.agents.priors.openai_compat import OpenAIPrior
from priorbench.agents.priors.server import ServerLimits, make_server
from priorbench.agents.priors.tiny import build_tiny_lm
from priorbench.bench import records
from priorbench.bench.runner import RunJob, execute_all
from priorbench.bench.spec import Budget
from priorbench.core.errors import UserError
from priorbench.core.seeding import pinned_threads

STATES = [
    ("Task: make a tomato salad.\nObservation: You see a tomato on the counter and a knife.",
     ["get tomato", "chop tomato", "go north", "serve the salad"]),
    ("Task: cross the lake\nObservation: You are at row 1, column 1. South: frozen ice.",
     ["go north", "go south", "go east and then west"]),
    ("Observation: a long corridor. " * 12, ["look", "take key from table", "open door"]),
    ("Observation: nothing here.", ["wait"]),
]


def _serve(prior: HFPrior, **limits):
    server = make_server(prior, "127.0.0.1", 0, ServerLimits(**limits))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}/v1"


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2 in this process (chat format, as the agents use it) and served on 127.0.0.1 with
    a long batch window, so concurrent requests share turns of the model."""
    served = HFPrior(model="smollm2-135m", prompt_format="raw")
    server, url = _serve(served, batch_wait_ms=300)
    # one torch thread for the module, as `serve-prior` and every run use: what the server
    # computes (and keeps) in one test is then the bits a run computes in the next (float
    # sums differ between 1 and 2 threads on some CPUs)
    with pinned_threads():
        yield HFPrior(model="smollm2-135m"), server, url
    server.shutdown()
    server.server_close()


def test_token_mode_gives_the_in_process_bits(smollm2):
    local, _, url = smollm2
    remote = OpenAIPrior(base_url=url, tokenizer="smollm2-135m")
    prompts, cands = [s for s, _ in STATES], [c for _, c in STATES]
    for normalization in ("sum", "token", "word"):
        got = remote.score(prompts, cands, normalization=normalization)
        want = local.score(prompts, cands, normalization=normalization)
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True)), normalization
    # one state at a time: the same bits again (a state never depends on what shared its batch)
    assert all(np.array_equal(remote.score([p], [c])[0], w) for (p, c), w in zip(STATES, local.score(prompts, cands),
                                                                                strict=True))
    assert remote.provenance() == local.provenance()  # so one prior cache serves both
    assert remote.count_tokens(prompts[0]) == local.count_tokens(prompts[0])
    assert remote.propose(prompts[:2], 3, cands[:2], seed=7) == local.propose(prompts[:2], 3, cands[:2], seed=7)
    assert (remote.propose(prompts, 4, cands, seed=7, mode="exact")
            == local.propose(prompts, 4, cands, seed=7, mode="exact"))


def test_concurrent_clients_share_batches_and_get_solo_answers(smollm2):
    local, server, url = smollm2
    want = {p: local.score([p], [c])[0] for p, c in STATES}
    before = dict(server.batcher.counts)

    def ask(state):
        prompt, cands = state
        return prompt, OpenAIPrior(base_url=url, tokenizer="smollm2-135m").score([prompt], [cands])[0]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, STATES * 2))
    assert all(np.array_equal(got, want[p]) for p, got in answers)
    requests = server.batcher.counts["requests"] - before["requests"]
    batches = server.batcher.counts["batches"] - before["batches"]
    assert requests == 8 and batches < requests  # several requests answered by one turn of the model


def test_a_server_of_another_model_is_refused(tmp_path):
    folder = build_tiny_lm(tmp_path / "lm")
    server, url = _serve(HFPrior(model=str(folder), prompt_format="raw"))
    try:
        remote = OpenAIPrior(base_url=url, tokenizer="smollm2-135m")
        with pytest.raises(UserError, match="serves 'lm', not 'smollm2-135m'"):
            remote.score(["a room"], [["go north"]])
        text = OpenAIPrior(base_url=url)  # text mode: any server, plain prompts
        assert text.provenance()["backend"] == "openai"
        with pytest.raises(UserError, match="need token mode"):
            OpenAIPrior(base_url=url, prompt_format="chat")
    finally:
        server.shutdown()
        server.server_close()


def test_prior_server_url_must_be_a_url():
    from priorbench.bench.prior_servers import _checked_urls

    with pytest.raises(UserError, match="give auto or the servers' /v1 roots"):
        _checked_urls("localhost:8000")


def test_auto_starts_a_server_for_each_hf_prior_and_stops_it(tmp_path):
    import os

    from priorbench.agents.priors.openai_compat import PRIOR_SERVER_ENV, served_provenance
    from priorbench.bench.prior_servers import hf_priors, local_servers

    folder = build_tiny_lm(tmp_path / "lm")
    configs = hf_priors([("hf", {"model": str(folder)}), ("hf", {"model": str(folder), "temperature": 0.5}),
                         ("oracle", {})])
    assert len(configs) == 1  # sampling settings travel with each request: one server
    with local_servers("auto", configs):
        urls = os.environ[PRIOR_SERVER_ENV].split(",")
        assert len(urls) == 1 and served_provenance(urls[0])["model_id"] == "lm"
    assert PRIOR_SERVER_ENV not in os.environ
    with pytest.raises(UserError, match="no run of this command uses an hf prior"):
        with local_servers("auto", []):
            pass


@pytest.mark.slow
def test_two_workers_sharing_one_server_write_the_in_process_records(tmp_path, smollm2):
    """dqn-prior (SmolLM2, contextual calibration, no prior cache: every score is asked) on
    Overcooked: serial in-process runs vs two pool workers asking one server — the same
    records, and the server answered them."""
    _, server, url = smollm2
    env = "priorbench/Overcooked-TomatoSalad-v0"
    budget = Budget(steps=60, eval_every=30, checkpoint_every=30)
    params = {"cache": False, "learning_starts": 20}

    def jobs(out):
        return [RunJob(env, "dqn-prior", seed, budget, out, agent_params=params) for seed in (0, 1)]

    execute_all(jobs(tmp_path / "local"), progress=False)
    asked = server.batcher.counts["states"]
    execute_all(jobs(tmp_path / "served"), progress=False, workers=2, prior_server=url)
    assert server.batcher.counts["states"] - asked > 10  # each distinct state (and its content-free twin)

    def read(root):
        return {p.relative_to(root): records.strip_timing(records.read_episodes(p / "episodes.jsonl").records)
                for p in records.find_runs(root)}

    served, local = read(tmp_path / "served"), read(tmp_path / "local")
    assert len(local) == 2 and served == local
