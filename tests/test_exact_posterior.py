"""The exact-posterior agents (`dqn-posterior` and its offline twin `cql-posterior`, issue 34):
the soft backup and the prior-weighted conservative term on hand-computed examples and at both
ends of α, the policy's two α limits (α → 0: the greedy Q policy; α → ∞: the prior's own),
`check agent`, and resume / determinism like every agent."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from priorbench import agents, envs
from priorbench.agents.dqn import (
    conservative_penalty,
    soft_conservative_penalty,
    soft_td_target,
    td_target,
)
from priorbench.bench import records
from priorbench.bench.check_agent import check_agent
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget

LAKE = "priorbench/FrozenLake-4x4-Random-v0"
ORACLE = {"prior": "oracle", "prior_params": {"q": 0.9}, "lr": 0.003, "gamma": 0.9}


def _batch(alpha: float):
    reward, done = torch.tensor([1.0, 0.0, 0.5]), torch.tensor([0.0, 1.0, 0.0])
    next_q = torch.tensor([[1.0, 2.0, 7.0], [5.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    valid = torch.tensor([[True, True, False], [True, True, False], [False, False, False]])
    next_logp = torch.log(torch.tensor([[0.25, 0.75, 1.0], [0.5, 0.5, 1.0], [1.0, 1.0, 1.0]]))
    return soft_td_target(reward, done, next_q, valid, next_logp, 0.9, alpha), (reward, done, next_q, valid)


def test_the_soft_backup_on_a_hand_computed_example():
    y, _ = _batch(0.5)
    # row 0: V = 0.5·log(0.25·e^(1/0.5) + 0.75·e^(2/0.5)); the masked third command (Q = 7) counts for nothing
    v = 0.5 * math.log(0.25 * math.exp(2.0) + 0.75 * math.exp(4.0))
    assert y[0].item() == pytest.approx(1.0 + 0.9 * v, rel=1e-6)
    assert y[1].item() == 0.0  # done: no bootstrap
    assert y[2].item() == 0.5  # no valid command at s': bootstraps 0


def test_the_soft_backup_at_both_ends_of_alpha():
    low, (reward, done, next_q, valid) = _batch(1e-4)
    assert torch.allclose(low, td_target(reward, done, next_q, valid, 0.9), atol=1e-3)  # α → 0: the max backup
    high, _ = _batch(1e4)
    assert high[0].item() == pytest.approx(1.0 + 0.9 * (0.25 * 1.0 + 0.75 * 2.0), abs=1e-3)  # α → ∞: E_p[Q]


def test_the_soft_backup_normalises_the_prior_over_the_valid_commands():
    """A language model's scores are summed log-likelihoods (they do not sum to 1 over the
    commands): the backup must read them as the distribution they define, or each backup adds
    α·log Σ p and Q drifts far below any return (it did: −35 on Frozen Lake, rewards in [0, 1])."""
    y, (reward, done, next_q, valid) = _batch(0.5)
    scores = torch.log(torch.tensor([[0.25, 0.75, 1.0], [0.5, 0.5, 1.0], [1.0, 1.0, 1.0]])) + torch.tensor([[-9.0], [-3.0], [0.0]])
    assert torch.allclose(soft_td_target(reward, done, next_q, valid, scores, 0.9, 0.5), y, atol=1e-5)
    y = soft_td_target(reward, done, next_q, valid, scores - 20.0, 0.9, 1.0)
    lowest = reward + 0.9 * (1 - done) * next_q.masked_fill(~valid, torch.inf).amin(1).nan_to_num(posinf=0.0)
    assert (y >= lowest - 1e-5).all() and (y <= td_target(reward, done, next_q, valid, 0.9) + 1e-5).all()  # min Q ≤ V ≤ max Q


def _agent(alpha: float, **params):
    return agents.make("dqn-posterior", seed=0, env_id=LAKE, params={**ORACLE, "alpha": alpha, **params})


def test_the_policy_at_both_ends_of_alpha():
    """Q prefers a command the prior gives little mass: a tiny α follows Q, a huge α the prior
    (the SYNTHETIC oracle at q = 0.9 puts its mass on the expert's command)."""
    env = envs.make(LAKE, split="test")
    obs, info = env.reset(options={"task": 0})
    commands, expert = info["admissible_commands"], info["expert_action"]
    other = next(c for c in commands if c != expert)
    for alpha, wanted in ((1e-6, other), (1e6, expert)):
        agent = _agent(alpha, eval_decision="argmax")
        agent.q_values = lambda rows, cmds=commands: np.array([1.0 if c == other else 0.0 for c in cmds])
        assert agent.act(obs, info, explore=False) == wanted, alpha
        draws = [agent.act(obs, info, explore=True) for _ in range(200)]
        share = draws.count(wanted) / len(draws)
        assert share == 1.0 if alpha < 1 else share > 0.8  # sampling the posterior: all Q, or the prior's 0.9


def test_evaluation_samples_the_posterior_as_dqn_prior_evaluates():
    """The registered evaluation plays a sample of the posterior (dqn-prior's rule: its evaluation
    samples softmax(β·Q) over the k), not its argmax: a deterministic rule loops where views
    repeat (Coin Collector: the same training won 0/100 test games by argmax, 27/100 by sampling). At α → ∞ the
    posterior is the SYNTHETIC oracle's q = 0.9 on the expert's command."""
    env = envs.make(LAKE, split="test")
    obs, info = env.reset(options={"task": 0})
    agent = _agent(1e6)
    assert agent.config.eval_decision == "sample"
    agent.q_values = lambda rows, cmds=info["admissible_commands"]: np.zeros(len(cmds))
    draws = [agent.act(obs, info, explore=False) for _ in range(400)]
    assert 0.8 < draws.count(info["expert_action"]) / len(draws) < 0.97  # the prior's 0.9, not argmax's 1.0


def test_the_replay_keeps_the_prior_of_the_next_commands_and_q_learns_from_it():
    agent = _agent(0.1)
    env = envs.make(LAKE)
    obs, info = env.reset(seed=0)
    from priorbench.agents.base import Transition

    for _ in range(80):
        action = agent.act(obs, info, explore=True)
        nxt, reward, terminated, truncated, next_info = env.step(action)
        agent.observe(Transition(obs, info, action, float(reward), nxt, next_info, terminated, truncated))
        agent.update()
        obs, info = (nxt, next_info) if not (terminated or truncated) else env.reset()
    last = agent.replay[-1]
    assert len(last) == 7 and (last[2] == 1.0 or len(last[5]) == len(last[3])) and len(last[6]) == len(last[4])
    assert agent.updates > 0 and agent.provenance()["alpha"] == 0.1


def test_check_agent_passes():
    assert check_agent("dqn-posterior", LAKE, params=ORACLE, steps=200) == []


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_records(tmp_path):
    from priorbench.bench.runner import Callbacks

    budget = Budget(steps=400, eval_every=200, checkpoint_every=100)
    whole = execute(RunJob(LAKE, "dqn-posterior", 0, budget, tmp_path / "a", agent_params=ORACLE), progress=False)
    again = execute(RunJob(LAKE, "dqn-posterior", 0, budget, tmp_path / "b", agent_params=ORACLE), progress=False)
    count = {"n": 0}

    def stop(row):
        count["n"] += 1
        if count["n"] == 45:
            raise KeyboardInterrupt
    job = RunJob(LAKE, "dqn-posterior", 0, budget, tmp_path / "c", agent_params=ORACLE)
    with pytest.raises(KeyboardInterrupt):
        execute(job, progress=False, callbacks=Callbacks(on_episode=stop))
    cut = execute(job, progress=False)

    def episodes(p):
        return records.strip_timing(records.read_episodes(p / records.EPISODES).records)
    assert episodes(whole) == episodes(again) == episodes(cut)


def test_the_prior_weighted_conservative_term_on_a_hand_computed_example():
    q = torch.tensor([[1.0, 2.0, 9.0], [0.0, 3.0, 0.0]])
    valid = torch.tensor([[True, True, False], [True, True, True]])
    logp = torch.log(torch.tensor([[0.25, 0.75, 1.0], [0.2, 0.3, 0.5]])) - 4.0  # unnormalised, as an LM's scores
    q_data = torch.tensor([1.0, 3.0])
    got = soft_conservative_penalty(q, valid, logp, q_data, 5.0, 0.5)
    v0 = 0.5 * math.log(0.25 * math.exp(2.0) + 0.75 * math.exp(4.0))  # the masked Q = 9 counts for nothing
    v1 = 0.5 * math.log(0.2 + 0.3 * math.exp(6.0) + 0.5)
    assert got.item() == pytest.approx(5.0 * ((v0 - 1.0) + (v1 - 3.0)) / 2, rel=1e-6)
    # a uniform prior at α = 1 is CQL's logsumexp term less log n
    uniform = torch.zeros(2, 3)
    n = valid.sum(1).float()
    assert soft_conservative_penalty(q, valid, uniform, q_data, 5.0, 1.0).item() == pytest.approx(
        (conservative_penalty(q, valid, q_data, 5.0) - 5.0 * torch.log(n).mean()).item(), rel=1e-6)


def test_cql_posterior_keeps_the_prior_at_s_and_refuses_another_support(tmp_path):
    from priorbench.bench import datasets
    from priorbench.bench.datasets import collect_episodes

    folder = datasets.write_dataset(collect_episodes(LAKE, "mixture:0.5", 5, seed=0, progress=False),
                                    env_id=LAKE, policy="mixture:0.5", seed=0, out=tmp_path)
    params = {**ORACLE, "dataset": str(folder)}
    agent = agents.make("cql-posterior", seed=0, env_id=LAKE, params=params)
    agent.load_dataset(datasets.load_transitions(folder, expected_env=LAKE), datasets.describe(folder))
    for _, _, done, after, here, after_logp, here_logp in agent.replay:
        assert len(here_logp) == len(here) and (done == 1.0 or len(after_logp) == len(after))
    assert "cql_term" in agent.gradient_step()
    with pytest.raises(ValueError, match="cql_support must be 'candidates'"):
        agents.make("cql-posterior", seed=0, env_id=LAKE, params={**params, "cql_support": "distinct"})
    # `check agent` plays online agents only: a short run through the runner, twice, gives the same records
    budget = Budget(steps=60, eval_every=30, checkpoint_every=30)
    runs = [execute(RunJob(LAKE, "cql-posterior", 0, budget, tmp_path / name, agent_params=params), progress=False)
            for name in ("a", "b")]
    first, second = (records.strip_timing(records.read_episodes(p / records.EPISODES).records) for p in runs)
    assert first == second and any(e["phase"] == "eval" for e in first)
