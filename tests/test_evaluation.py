"""Evaluation is invisible to training: the runner evaluates on streams of its own (derived from
the run seed, the evaluation round and the episode), so a record does not depend on how often
a run was evaluated; and the prior agents' evaluation and proposal rules."""

from pathlib import Path

import numpy as np
import pytest

from priorbench.agents.posterior import PosteriorSampling, PriorProposals, PriorSettings
from priorbench.bench import datasets, records
from priorbench.bench.check_agent import check_agent
from priorbench.bench.datasets import collect_episodes
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget

ENV = "priorbench/FrozenLake-4x4-Random-v0"  # 20 unseen test maps: evaluation sees states training has not
ORACLE = {"prior": "oracle", "prior_params": {"q": 0.6}, "cache": False, "lr": 0.003, "gamma": 0.9}


def _records(path: Path) -> list[dict]:
    return records.strip_timing(records.read_episodes(path / records.EPISODES).records)


def _run(out: Path, agent: str, params: dict, *, steps: int, eval_every: int) -> list[dict]:
    job = RunJob(ENV, agent, 0, Budget(steps=steps, eval_every=eval_every, checkpoint_every=steps), out,
                 agent_params=params)
    return _records(execute(job, progress=False))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    episodes = collect_episodes(ENV, "mixture:0.5", 40, seed=0, progress=False)
    return str(datasets.write_dataset(episodes, env_id=ENV, policy="mixture:0.5", seed=0,
                                      out=tmp_path_factory.mktemp("datasets")))


CASES = {
    # agent, params, what its evaluation draws
    "dqn-prior per-state": ("dqn-prior", {**ORACLE, "proposal_reuse": "per-state"}),  # softmax over the k
    "dqn-prior per-visit": ("dqn-prior", {**ORACLE, "proposal_reuse": "per-visit"}),  # the k too
    "cql-prior": ("cql-prior", {**ORACLE, "proposal_reuse": "per-visit"}),
    "plug-in drawing from self.rng": ("tests.plugin_agents:EvalDraws", {}),
    "tabular-q": ("tabular-q", {}),  # ties broken at random
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_evaluating_more_often_leaves_training_unchanged(case, dataset, tmp_path):
    agent, params = CASES[case]
    if agent == "cql-prior":
        params = {**params, "dataset": dataset}
    often, seldom = (_run(tmp_path / str(every), agent, params, steps=300, eval_every=every) for every in (50, 300))
    assert [r["eval_round"] for r in often if r["phase"] == "eval"].count(6) == 20  # 7 rounds against 2
    if agent != "cql-prior":  # (offline: a train record per stretch between evaluations)
        train = [[r for r in rows if r["phase"] == "train"] for rows in (often, seldom)]
        assert train[0] == train[1] and len(train[0]) > 5
    # the rounds at steps 0 and 300 are the same in both runs: the same learner, the same streams
    for step in (0, 300):
        rounds = [[{**r, "eval_round": 0} for r in rows if r["phase"] == "eval" and r["env_steps"] == step]
                  for rows in (often, seldom)]
        assert rounds[0] == rounds[1] and len(rounds[0]) == 20


def test_a_sampling_llm_draws_per_episode_streams(tmp_path):
    """`llm` with decision = "sample" (trains = False): each test episode draws from its own
    stream, so the same spec writes the same records, and its episodes are not copies of one
    another (the draws differ between episodes of the same task)."""
    from priorbench.bench.spec import Budget as B

    params = {"prior": "tiny-gpt2", "cache": False, "decision": "sample"}
    runs = [_records(execute(RunJob("priorbench/FrozenLake-4x4-v0", "llm", 0, B(steps=0, eval_every=1,
                                                                                   eval_episodes=6),
                                    tmp_path / name, agent_params=params), progress=False)) for name in "ab"]
    assert runs[0] == runs[1] and len(runs[0]) == 6
    assert len({(r["length"], r["return"], r["counters"]["prior_logprob_sum"]) for r in runs[0]}) > 1


def test_per_state_proposals_are_one_draw_per_state_whatever_the_order():
    settings = PriorSettings(prior="oracle", prior_params={"q": 0.3}, cache=False, k=5, proposal_reuse="per-state")
    info = lambda cell: {"task": "t", "admissible_commands": ["go north", "go south", "go east", "go west"],  # noqa: E731
                         "expert_action": "go east", "cell": cell}
    states = [(f"You are at cell {i}.", info(i)) for i in range(6)]
    first = PriorProposals(settings, env_id=ENV, seed=3)
    drawn = [first.draw(obs, inf, np.random.default_rng(i))[0] for i, (obs, inf) in enumerate(states)]
    assert all(first.draw(obs, inf, np.random.default_rng(99))[0] == d for (obs, inf), d in zip(states, drawn, strict=True))
    other = PriorProposals(settings, env_id=ENV, seed=3)  # the states met in the reverse order
    assert [other.draw(obs, inf, np.random.default_rng(7))[0] for obs, inf in reversed(states)] == drawn[::-1]
    assert len({tuple(d) for d in drawn}) > 1  # the states' draws are not one draw repeated
    visit = PriorProposals(PriorSettings(**{**settings.__dict__, "proposal_reuse": "per-visit"}), env_id=ENV, seed=3)
    rng = np.random.default_rng(0)
    obs, inf = states[0]
    assert len({tuple(visit.draw(obs, inf, rng)[0]) for _ in range(10)}) > 1  # a fresh k each visit


def test_eval_decision_softmax_samples_the_training_rule_and_argmax_maximises():
    class Holder:
        rng = np.random.default_rng(0)

    values = np.array([0.0, 0.05, 0.1])
    picks = {}
    for rule in ("softmax", "argmax"):
        chooser = PosteriorSampling.__new__(PosteriorSampling)
        chooser.settings = PriorSettings(eval_decision=rule, inverse_temperature=10.0)
        picks[rule] = [chooser.choose(Holder, values, explore=False) for _ in range(400)]
    assert set(picks["argmax"]) == {2}
    counts = np.bincount(picks["softmax"], minlength=3) / 400
    expected = np.exp(10 * values) / np.exp(10 * values).sum()  # softmax(β·Q): (0.19, 0.32, 0.52)
    assert np.abs(counts - expected).max() < 0.07


@pytest.mark.slow
def test_check_agent_names_an_agent_whose_evaluation_moves_its_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failures = check_agent("tests.plugin_agents:OwnEvalStream", "priorbench/FrozenLake-4x4-v0", steps=200)
    assert [f for f in failures if f.startswith("evaluation: evaluating more often changed training")], failures
    assert check_agent("tests.plugin_agents:EvalDraws", "priorbench/FrozenLake-4x4-v0", steps=200) == []
