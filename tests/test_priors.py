"""The LLM prior: exact shared-prefix scoring, proposals, matching, cache, errors."""

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from priorbench.agents.priors.cache import CachedPrior, PriorCache
from priorbench.agents.priors.hf import HFPrior
from priorbench.agents.priors.matching import match_command
from priorbench.agents.priors.prompts import TEMPLATES, fit_prompt, template_for
from priorbench.agents.priors.tiny import build_tiny_lm
from priorbench.core.errors import UserError

PROMPTS = [
    "Task: cross the lake\nObservation: You are at row 1, column 1. South: frozen ice.",
    "Observation: You notice a tomato, a lettuce and an onion on the different tables. "
    "Currently you don't have anything in hand.",
]
CANDIDATES = [["go north", "go south", "go east and then west"], ["chop", "pick up the tomato"]]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> HFPrior:
    return HFPrior(model=str(build_tiny_lm(tmp_path_factory.mktemp("tiny") / "lm")))


def test_shared_prefix_equals_naive(tiny):
    batched = tiny.score(PROMPTS, CANDIDATES)
    for prompt, cands, got in zip(PROMPTS, CANDIDATES, batched, strict=True):
        np.testing.assert_allclose(got, tiny.score_naive(prompt, cands), atol=1e-4, rtol=0)
    alone = tiny.score(PROMPTS[1:], CANDIDATES[1:])[0]
    np.testing.assert_allclose(alone, batched[1], atol=1e-4, rtol=0)  # padding does not matter


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device (none here)")
def test_shared_prefix_equals_naive_on_cuda(tmp_path):
    """The packed candidates' tokens and positions are laid out on the CPU and moved to the
    model's device: before that, any prior on a GPU failed in `score` (a CPU arange added to a
    CUDA length). Found on a lent H200 by benchmarks/device_gpu.sh; runs where CUDA is."""
    prior = HFPrior(model=str(build_tiny_lm(tmp_path / "lm")), device="cuda")
    for prompt, cands, got in zip(PROMPTS, CANDIDATES, prior.score(PROMPTS, CANDIDATES), strict=True):
        np.testing.assert_allclose(got, prior.score_naive(prompt, cands), atol=1e-4, rtol=0)


@pytest.mark.parametrize("pack", [2, 5, 512])
def test_packed_candidates_in_several_passes_equal_naive(tiny, pack, monkeypatch):
    """Candidates packed on the prompt's cache, PACK_TOKENS per row and pass: with 2 tokens a
    row every pass holds one or two candidates (the cache cropped back between passes)."""
    from priorbench.agents.priors import feeds

    monkeypatch.setattr(feeds, "PACK_TOKENS", pack)
    many = [[f"go {d}" for d in ("north", "south", "east", "west")] + ["pick up the tomato", "chop"],
            ["take the apple from the table", "open the fridge", "go west"]]
    got = tiny.score(PROMPTS[:2], many)
    for prompt, cands, values in zip(PROMPTS, many, got, strict=False):
        np.testing.assert_allclose(values, tiny.score_naive(prompt, cands), atol=1e-4, rtol=0)


def test_normalisations(tiny):
    total = tiny.score(PROMPTS[:1], CANDIDATES[:1])[0]
    per_token = tiny.score(PROMPTS[:1], CANDIDATES[:1], normalization="token")[0]
    per_word = tiny.score(PROMPTS[:1], CANDIDATES[:1], normalization="word")[0]
    n_tokens = [len(tiny._encode_candidate(c)) for c in CANDIDATES[0]]
    np.testing.assert_allclose(per_token, total / n_tokens)
    np.testing.assert_allclose(per_word, total / np.array([2, 2, 5]))


def test_counts_calls_and_tokens(tiny):
    before = tiny.counters()
    tiny.score(PROMPTS, CANDIDATES)
    after = tiny.counters()
    assert after["llm_calls"] - before["llm_calls"] == 2
    assert after["llm_tokens"] > before["llm_tokens"]


def test_proposals_reproducible_and_batch_independent(tiny):
    both = tiny.propose(PROMPTS, 4, CANDIDATES, seed=7)
    again = tiny.propose(PROMPTS, 4, CANDIDATES, seed=7)
    alone = tiny.propose(PROMPTS[1:], 4, CANDIDATES[1:], seed=7)
    assert both == again
    assert both[1].texts == alone[0].texts
    np.testing.assert_allclose(both[1].logprobs, alone[0].logprobs, atol=1e-4)
    other = tiny.propose(PROMPTS, 4, CANDIDATES, seed=8)
    assert [p.texts for p in other] != [p.texts for p in both]
    for p, cmds in zip(both, CANDIDATES, strict=True):
        assert len(p.texts) == 4 and len(p.actions) == 4
        assert p.unmatched == sum(a is None for a in p.actions)
        assert all(a is None or a in cmds for a in p.actions)
        assert all("\n" not in t for t in p.texts)


def test_exact_mode_draws_from_the_prior(tiny):
    proposals = tiny.propose(PROMPTS[:1], 200, CANDIDATES[:1], seed=0, mode="exact")[0]
    assert proposals.unmatched == 0 and set(proposals.actions) <= set(CANDIDATES[0])
    logp = tiny.score(PROMPTS[:1], CANDIDATES[:1])[0]
    best = CANDIDATES[0][int(np.argmax(logp))]
    assert proposals.actions.count(best) == max(proposals.actions.count(c) for c in CANDIDATES[0])


def test_matching_rule():
    cmds = ["go north", "go south", "pick up the tomato"]
    assert match_command("go north", cmds) == ("go north", "exact")
    assert match_command("  Go North. ", cmds) == ("go north", "normalised")
    assert match_command("Action: go south", cmds) == ("go south", "normalised")
    assert match_command("I will pick the tomato up", cmds) == ("pick up the tomato", "overlap")
    assert match_command("dance", cmds) == (None, "unmatched")
    assert match_command("", cmds) == (None, "unmatched")


def test_bad_inputs(tiny, tmp_path):
    with pytest.raises(UserError, match="empty candidate list"):
        tiny.score(PROMPTS[:1], [[]])
    with pytest.raises(UserError, match="not a model folder"):
        HFPrior(model=str(tmp_path))
    with pytest.raises(UserError, match="does not exist"):
        HFPrior(model=str(tmp_path / "missing.gguf"))
    with pytest.raises(UserError, match="is not a registered prior"):
        HFPrior(model="no-such-model")
    with pytest.raises(UserError, match="does not fit"):
        tiny.score(["word " * 5000], [["go north"]])


def test_gguf_without_gguf_package_names_the_extra(tmp_path, monkeypatch):
    import importlib.util

    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(UserError, match=r"priorbench\[llm\]"):
        HFPrior(model=str(fake))


def test_corrupt_gguf_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIORBENCH_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"not a gguf file at all")
    with pytest.raises(UserError, match="is not a loadable GGUF model"):
        HFPrior(model=str(fake))


def test_prompt_drops_history_then_errors(tiny):
    template = TEMPLATES["frozenlake"]
    history = [(f"observation number {i} " * 20, "go north") for i in range(30)]
    prompt = fit_prompt(template, tiny.count_tokens, 1024, "task", "obs", ["go north"], history)
    assert tiny.count_tokens(prompt) <= 1024 - 32
    assert "observation number 29" in prompt and "observation number 0 " not in prompt
    with pytest.raises(UserError, match="does not fit"):
        fit_prompt(template, tiny.count_tokens, 1024, "task", "obs " * 2000, ["go north"], [])
    assert template_for("priorbench/FrozenLake-4x4-v0").name == "frozenlake"
    assert template_for("priorbench/Unknown-v0").name == "generic"


def test_cache_returns_identical_results(tiny, tmp_path):
    store = PriorCache(tmp_path / "c.sqlite")
    cached = CachedPrior(tiny, store, namespace="t-v1")
    first = cached.score(PROMPTS, CANDIDATES)
    props = cached.propose(PROMPTS, 3, CANDIDATES, seed=1)
    assert cached.counters()["cache_misses"] == 4 and cached.counters()["cache_hits"] == 0
    fresh = CachedPrior(tiny, PriorCache(tmp_path / "c.sqlite"), namespace="t-v1")
    calls = tiny.counters()["llm_calls"]
    again = fresh.score(PROMPTS, CANDIDATES)
    assert fresh.propose(PROMPTS, 3, CANDIDATES, seed=1) == props
    assert tiny.counters()["llm_calls"] == calls  # served from disk
    assert fresh.counters()["cache_hits"] == 4
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = CachedPrior(tiny, store, namespace="t-v2")
    other.score(PROMPTS[:1], CANDIDATES[:1])
    assert other.counters()["cache_misses"] == 1  # another template version is another key


def _writer(path: str, worker: int) -> None:
    store = PriorCache(Path(path))
    for i in range(200):
        store.put_many({f"w{worker}-{i}": [worker, i], "shared": [0]})


def test_cache_survives_two_processes_writing(tmp_path):
    path = tmp_path / "shared.sqlite"
    PriorCache(path)
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(path), w)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = PriorCache(path)
    assert len(store) == 401
    assert store.get_many(["w1-199", "w2-0"]) == {"w1-199": [1, 199], "w2-0": [2, 0]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`priorbench serve-prior` on the tiny model, on 127.0.0.1, started by the test."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    folder = build_tiny_lm(tmp_path_factory.mktemp("served") / "lm")
    proc = subprocess.Popen(
        [sys.executable, "-m", "priorbench.bench", "serve-prior", "--prior", "hf", "--set", f"model={folder}",
         "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("serving"), proc.stderr.read()
    url = line.split(" at ")[1].split(" ")[0]
    yield url, folder
    proc.terminate()
    proc.wait(30)


def test_openai_backend_against_local_server(server):
    from priorbench.agents.priors.openai_compat import OpenAIPrior

    url, folder = server
    remote = OpenAIPrior(base_url=url, retries=0)
    local = HFPrior(model=str(folder), prompt_format="plain")
    got = remote.score(PROMPTS, CANDIDATES)
    want = local.score(PROMPTS, CANDIDATES)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    props = remote.propose(PROMPTS, 3, CANDIDATES, seed=5)
    assert [len(p.texts) for p in props] == [3, 3]
    assert props == remote.propose(PROMPTS, 3, CANDIDATES, seed=5)
    exact = remote.propose(PROMPTS[:1], 4, CANDIDATES[:1], seed=5, mode="exact")[0]
    assert exact.unmatched == 0 and set(exact.actions) <= set(CANDIDATES[0])


def test_openai_backend_server_down():
    import socket

    from priorbench.agents.priors.openai_compat import OpenAIPrior

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = OpenAIPrior(base_url=f"http://127.0.0.1:{port}/v1", retries=2, backoff_s=0.01, timeout_s=2)
    with pytest.raises(UserError, match="did not answer after 3 tries"):
        remote.score(PROMPTS[:1], CANDIDATES[:1])


def test_system_prompt_replaces_the_chat_templates_default(tiny):
    """SmolLM2's chat template adds its own system text unless given one: system_prompt = ""
    drops it (16 fewer tokens per prompt), is recorded in the provenance (so the cache keeps
    the two apart) and still scores exactly; a model without a chat template refuses it."""
    prompt = TEMPLATES["overcooked"].render("Make a tomato salad.", "You see a tomato.", ["get tomato", "chop"])
    default, bare = HFPrior(model="smollm2-135m"), HFPrior(model="smollm2-135m", system_prompt="")
    assert "SmolLM" in default.format(prompt) and "SmolLM" not in bare.format(prompt)
    assert default.count_tokens(prompt) - bare.count_tokens(prompt) == 16
    assert "system_prompt" not in default.provenance() and bare.provenance()["system_prompt"] == ""
    np.testing.assert_allclose(bare.score([prompt], [["get tomato", "chop"]])[0],
                               bare.score_naive(prompt, ["get tomato", "chop"]), atol=1e-4)
    with pytest.raises(UserError, match="system_prompt applies to the chat format only"):
        HFPrior(model=tiny.config.model, system_prompt="")
