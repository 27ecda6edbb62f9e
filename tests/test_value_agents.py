"""DQN, DQN-Prior, CQL, CQL-Prior: update rules, embedding cache, datasets, learning, resume."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from priorbench.agents.dqn import conservative_penalty, td_target
from priorbench.bench import datasets, metrics, records
from priorbench.bench.datasets import collect_episodes
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core import statefile
from priorbench.core.errors import UserError
from tests.conftest import ROOT

ENV = "priorbench/FrozenLake-4x4-v0"
FAST = {"lr": 0.003, "gamma": 0.9}  # the Frozen Lake preset (experiments/frozenlake-value.toml)


def test_td_target_over_k_proposals_by_hand():
    reward = torch.tensor([1.0, 0.0, 0.5])
    done = torch.tensor([0.0, 1.0, 0.0])
    # Row 0: k = 5 proposals with duplicates, one padded slot; row 2: no valid candidate.
    next_q = torch.tensor([[0.2, 0.7, 0.7, -1.0, 9.0], [3.0, 1.0, 0.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0, 5.0]])
    valid = torch.tensor([[True, True, True, True, False], [True, True, False, False, False], [False] * 5])
    y = td_target(reward, done, next_q, valid, gamma=0.9)
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.9 * 0.7, 0.0, 0.5]))
    chooser = torch.tensor([[0.0, 0.0, 0.0, 2.0, 0.0], [0.0] * 5, [0.0] * 5])  # Double DQN picks a' = 3
    y2 = td_target(reward, done, next_q, valid, gamma=0.9, chooser=chooser)
    torch.testing.assert_close(y2, torch.tensor([1.0 + 0.9 * -1.0, 0.0, 0.5]))


def test_cql_term_by_hand():
    q = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    valid = torch.tensor([[True, True, True], [True, True, False]])
    q_data = torch.tensor([2.0, 0.0])
    got = conservative_penalty(q, valid, q_data, alpha=5.0)
    lse0 = np.log(np.exp(1) + np.exp(2) + np.exp(3))
    lse1 = np.log(2.0)
    assert float(got) == pytest.approx(5.0 * ((lse0 - 2.0) + (lse1 - 0.0)) / 2, rel=1e-6)


def _job(agent, out, steps=3000, seed=0, **params):
    return RunJob(ENV, agent, seed, Budget(steps=steps, eval_every=steps // 2, checkpoint_every=500),
                  out, agent_params=params)


def _episodes(path):
    return records.strip_timing(records.read_episodes(path / "episodes.jsonl").records)


def _best_success(path):
    evals = [e for e in records.read_episodes(path / "episodes.jsonl").records if e["phase"] == "eval"]
    return max(np.mean([e["success"] for e in evals if e["eval_round"] == r]) for r in {e["eval_round"] for e in evals})


def _final_success(path):
    evals = [e for e in records.read_episodes(path / "episodes.jsonl").records if e["phase"] == "eval"]
    last = max(e["eval_round"] for e in evals)
    return np.mean([e["success"] for e in evals if e["eval_round"] == last])


@pytest.mark.slow
def test_dqn_learns_frozenlake_and_is_deterministic(tmp_path):
    # dqn reaches the goal and then may lose it again (leaderboard/NOTES.md: 2 of 5 seeds end at
    # 1.0), so the test asks for success at some evaluation round, evaluated every 250 steps.
    job = RunJob(ENV, "dqn", 0, Budget(steps=3000, eval_every=250, checkpoint_every=500), tmp_path / "a",
                 agent_params=FAST)
    a = execute(job, progress=False)
    assert _best_success(a) >= 0.9
    b = execute(dataclasses.replace(job, out=tmp_path / "b"), progress=False)
    assert _episodes(a) == _episodes(b)
    counters = [e["timing"]["counters"] for e in records.read_episodes(a / "episodes.jsonl").records
                if e["phase"] == "train"]
    hits = sum(c["embedding_hits"] for c in counters)
    misses = sum(c["embedding_misses"] for c in counters)
    assert misses <= 30 and hits > 100 * misses  # 15 cells + 4 commands: each text encoded once


@pytest.fixture(scope="module")
def mixture_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("datasets")
    episodes = collect_episodes(ENV, "mixture:0.5", 100, seed=0, progress=False)
    return datasets.write_dataset(episodes, env_id=ENV, policy="mixture:0.5", seed=0, out=out), episodes


def test_dataset_round_trip(mixture_dataset, tmp_path):
    folder, episodes = mixture_dataset
    stored = datasets.load_episodes(folder)
    assert len(stored) == len(episodes) == 100
    for got, want in zip(stored, episodes, strict=True):
        assert got["observations"] == want["observations"]
        assert got["actions"] == want["actions"]
        assert got["rewards"] == want["rewards"]
        assert got["admissible_commands"] == [i["admissible_commands"] for i in want["infos"]]
    info = datasets.describe(folder)
    assert info["env_id"] == ENV and info["policy"] == "mixture:0.5" and info["seed"] == 0
    assert info["transitions"] == sum(len(e["actions"]) for e in episodes)
    again = datasets.write_dataset(collect_episodes(ENV, "mixture:0.5", 100, seed=0, progress=False),
                                   env_id=ENV, policy="mixture:0.5", seed=0, out=tmp_path)
    assert json.loads((again / "priorbench.json").read_text())["sha256"] == info["sha256"]
    transitions = datasets.load_transitions(folder, expected_env=ENV)
    assert len(transitions) == info["transitions"]
    with pytest.raises(UserError, match="collected on"):
        datasets.load_transitions(folder, expected_env="priorbench/FrozenLake-8x8-v0")


def test_dataset_tamper_and_bad_inputs(mixture_dataset, tmp_path):
    import shutil

    folder, _ = mixture_dataset
    copy = tmp_path / "priorbench" / folder.name
    shutil.copytree(folder, copy)
    data = next(p for p in (copy / "data").rglob("*") if p.is_file() and p.suffix == ".hdf5")
    data.write_bytes(data.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(UserError, match="do not match their checksum"):
        datasets.load_transitions(copy)
    with pytest.raises(UserError, match="does not exist"):
        datasets.load_transitions(tmp_path / "missing")
    with pytest.raises(UserError, match="unknown data policy"):
        collect_episodes(ENV, "mixture:1.5", 3, seed=0, progress=False)
    with pytest.raises(UserError, match="already exists"):
        datasets.write_dataset([], env_id=ENV, policy="expert", seed=0, out=folder.parent.parent, name=folder.name)


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["cql", "cql-prior", "cql-posterior"])
def test_offline_agents_learn_from_a_dataset(agent, mixture_dataset, tmp_path):
    folder, _ = mixture_dataset
    params = {**FAST, "dataset": str(folder)}
    if agent == "cql-prior":  # argmax evaluation: this asks whether Q learned, not how softmax(10·Q) samples
        params.update(prior="tiny-gpt2", eval_decision="argmax")
    if agent == "cql-posterior":  # the posterior's argmax over every command: whether Q learned
        params.update(prior="tiny-gpt2", eval_decision="argmax")
    path = execute(_job(agent, tmp_path, steps=1500, **params), progress=False)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["budget_unit"] == "gradient_steps"
    assert manifest["agent_provenance"]["dataset_transitions"] > 500
    assert _final_success(path) >= 0.9
    train = [e for e in _episodes(path) if e["phase"] == "train"]
    assert sum(e["length"] for e in train) == 1500 and "cql_term" in train[0]["update"]


def test_cql_prior_counts_its_dataset_scoring_in_the_run_cost(mixture_dataset, tmp_path):
    """cql-prior scores every dataset state with its prior before the first step: the manifest
    keeps those LLM calls and that time (timing.setup) and the run's cost includes them."""
    folder, _ = mixture_dataset
    params = {**FAST, "dataset": str(folder), "prior": "tiny-gpt2", "cache": False}
    first, path = (execute(_job("cql-prior", tmp_path / name, steps=20, **params), progress=False)
                   for name in ("first", "second"))
    manifest = json.loads((path / "manifest.json").read_text())
    setup = manifest["timing"]["setup"]
    assert setup["counters"]["llm_calls"] > 0 and setup["counters"]["llm_tokens"] > 0
    # the prior backend is shared by the process's runs: the second run's setup counts its own calls only
    assert setup["counters"] == json.loads((first / "manifest.json").read_text())["timing"]["setup"]["counters"]
    assert setup["wall_s"] > 0
    raw = records.read_episodes(path / "episodes.jsonl").records
    in_episodes = sum(e["timing"].get("counters", {}).get("llm_calls", 0) for e in raw)
    summary = metrics.run_summary(manifest, raw)
    assert summary["llm_calls"] == in_episodes + setup["counters"]["llm_calls"]
    assert summary["wall_s"] == pytest.approx(manifest["timing"]["wall_s"] + setup["wall_s"])


@pytest.mark.slow
def test_dqn_prior_runs_end_to_end_with_the_tiny_lm(tmp_path):
    params = {**FAST, "prior": "tiny-gpt2", "cache": False}
    a = execute(_job("dqn-prior", tmp_path / "a", steps=600, **params), progress=False)
    b = execute(_job("dqn-prior", tmp_path / "b", steps=600, **params), progress=False)
    ea = _episodes(a)
    assert ea == _episodes(b)
    train = [e for e in ea if e["phase"] == "train"]
    totals = {k: sum(e["counters"].get(k, 0) for e in train) for k in train[0]["counters"]}
    raw = records.read_episodes(a / "episodes.jsonl").records
    totals["llm_calls"] = sum(e["timing"].get("counters", {}).get("llm_calls", 0) for e in raw
                              if e["phase"] == "train")
    steps = sum(e["length"] for e in train)
    assert totals["decisions"] == steps
    assert totals["llm_calls"] <= 0.1 * steps  # one prior call per new state, then the cache
    assert totals["expert_known"] == steps and 0 < totals["expert_covered"] <= steps
    assert totals["prior_logprob_sum"] < 0
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["agent_provenance"]["prior"]["model_id"] == "tiny-gpt2-v1"
    assert manifest["agent_provenance"]["template"] == "frozenlake-v1"


@pytest.mark.slow
def test_dqn_checkpoint_resume_gives_the_same_records(tmp_path):
    args = ["run", "--env", ENV, "--agent", "dqn", "--steps", "1500", "--set", "budget.checkpoint_every=100",
            "--set", "budget.eval_every=500", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "priorbench.bench", *args, "--out", str(cut)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = records.run_dir(cut, ENV, "dqn", 0)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        ckpt = records.RunRecord(run).checkpoint_path
        if ckpt.exists() and statefile.load(ckpt)["progress"]["env_steps"] >= 300:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run([sys.executable, "-m", "priorbench.bench", *args, "--out", str(cut)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    whole = execute(RunJob(ENV, "dqn", 0, Budget(steps=1500, eval_every=500, checkpoint_every=100),
                           tmp_path / "whole"), progress=False)
    assert _episodes(run) == _episodes(whole)


@pytest.mark.parametrize("support", ["candidates", "candidates+data", "distinct", "distinct+data"])
def test_cql_prior_conservative_set(support):
    """With a q = 1 oracle every proposal is the expert's command. As drawn ("candidates") the
    conservative set holds it five times; "distinct" once; "+data" adds a differing data action
    (cql-prior's registered default: distinct+data)."""
    from priorbench import agents, envs
    from priorbench.agents.base import Transition

    agent = agents.make("cql-prior", seed=0, env_id=ENV,
                        params={"dataset": "unused", "prior": "oracle", "prior_params": {"q": 1.0},
                                "cql_support": support})
    env = envs.make(ENV)
    obs, info = env.reset(seed=0, options={"task": 0})
    action = next(c for c in info["admissible_commands"] if c != info["expert_action"])
    next_obs, reward, terminated, truncated, next_info = env.step(action)
    agent.remember(Transition(obs, info, action, reward, next_obs, next_info, terminated, truncated))
    sa, _, _, _, here = agent.replay[-1]
    expert_row = agent.rows(info["task"], obs, [info["expert_action"]])[0]
    expected = [expert_row] * (1 if support.startswith("distinct") else 5)
    assert here == (expected + [sa] if support.endswith("+data") else expected)
    assert agents.AGENTS.entry("cql-prior").params["cql_support"] == "distinct+data"


def test_cql_prior_asks_the_prior_for_its_dataset_in_batched_calls():
    """Loading a dataset, cql-prior scores every distinct state in calls of up to 64 states
    (not one call per state); the replay is the one the per-state path builds, bit for bit."""
    from priorbench import agents, envs
    from priorbench.agents.base import Transition
    from priorbench.agents.dqn import CQL

    env = envs.make(ENV)
    rng = np.random.default_rng(0)
    transitions = []
    for episode in range(30):
        obs, info = env.reset(seed=episode, options={"task": 0})
        for _ in range(8):
            action = info["admissible_commands"][int(rng.integers(len(info["admissible_commands"])))]
            next_obs, reward, terminated, truncated, next_info = env.step(action)
            transitions.append(Transition(obs, info, action, reward, next_obs, next_info, terminated, truncated))
            if terminated or truncated:
                break
            obs, info = next_obs, next_info
    params = {"dataset": "unused", "prior": "tiny-gpt2", "cache": False}
    batched, per_state = (agents.make("cql-prior", seed=0, env_id=ENV, params=params) for _ in range(2))
    calls = []
    inner = batched.posterior.source.prior.score_states
    batched.posterior.source.prior.score_states = lambda prompts, *a, **k: calls.append(len(prompts)) or inner(
        prompts, *a, **k)
    batched.load_dataset(transitions, {"sha256": "x"})
    CQL.load_dataset(per_state, transitions, {"sha256": "x"})
    distinct = {batched.posterior.source.state_key(t.obs, t.info) for t in transitions}
    assert len(calls) == 1 and calls[0] >= len(distinct) > 5  # ≤ 64 distinct states: one call
    assert list(batched.replay) == list(per_state.replay)
    key = next(iter(distinct))
    np.testing.assert_array_equal(batched.posterior.source._last[key][1], per_state.posterior.source._last[key][1])
