"""Protocol core-v1 (leaderboard v2, issue 31) and protocol babyai-v1 (BabyAI's table, issue 33):
each spec follows its protocol, every family runs on every headline env with every prior, the
distilled adapters saw no test task, and the committed core-v1 runs follow the protocol's tracks
(held-out test tasks, >= 20 test episodes a round)."""

from __future__ import annotations

import json

import pytest

from priorbench.bench import leaderboard, leaderboard_spec, records
from priorbench.bench.leaderboard.protocol import (
    HEADLINE,
    MIN_TEST_EPISODES,
    SINGLE_TASK,
    load_protocol,
)
from tests.conftest import ROOT

BOARD = ROOT / "leaderboard" / "core-v1"
FAMILIES = {"random", "expert", "dqn", "cql", "ppo", "llm", "llm-sample", "dqn-prior", "dqn-posterior", "cql-prior",
            "vi", "twosome"}
PRIOR_AGENTS = ("llm", "llm-sample", "dqn-prior", "dqn-posterior", "cql-prior")
#: board → (its protocol's label, its tracks)
BOARDS = {"core-v1": ("core-v1@1", {HEADLINE, SINGLE_TASK}), "babyai-v1": ("babyai-v1@1", {HEADLINE})}


@pytest.fixture(scope="module", params=list(BOARDS))
def board(request):
    return request.param


@pytest.fixture(scope="module")
def protocol(board):
    return load_protocol(ROOT / "leaderboard" / board / "protocol.toml")


@pytest.fixture(scope="module")
def spec(board):
    return leaderboard_spec.load(ROOT / "leaderboard" / board / "spec.toml")


def _prior_of(params: dict) -> str:
    """'contextual', 'distilled', 'uniform' or 'base' (vi, twosome without an adapter)."""
    prior = params.get("prior_params", {})
    if params.get("prior") == "oracle":
        return "uniform" if prior.get("q") == "uniform" else "oracle"
    if "adapter" in prior:
        return "distilled"
    return "contextual" if prior.get("calibration") == "contextual" else "base"


def test_the_spec_follows_the_protocol(board, protocol, spec):
    label, tracks = BOARDS[board]
    assert protocol.label == label
    assert {t.track for t in protocol.env} == tracks
    assert spec.runs == ROOT.joinpath("leaderboard", board).relative_to(ROOT) / "runs"
    for experiment in spec.experiments:
        for env in experiment.envs:
            terms = protocol.terms(env)
            assert terms is not None, f"{experiment.name}: {env} is not in the protocol"
            budget = experiment.budget
            assert (budget.steps, budget.eval_every, budget.eval_episodes) == (
                terms.steps, terms.eval_every, terms.eval_episodes), experiment.name
            assert dict(experiment.env) == dict(terms.kwargs), experiment.name
            assert set(experiment.seeds) == set(protocol.seeds), experiment.name
    for decl in spec.dataset_decls:  # a dataset is played with its env's protocol settings
        assert dict(decl.env_kwargs) == dict(protocol.terms(decl.env).kwargs), decl.name


def test_every_family_runs_every_headline_env_with_every_prior(protocol, spec):
    for terms in protocol.env:
        if terms.track != HEADLINE:
            continue
        rows = {(agent, _prior_of(e.agent.get(agent, {}))) for e in spec.experiments if terms.id in e.envs
                for agent in e.agents}
        assert FAMILIES <= {agent for agent, _ in rows}, terms.id
        for agent in PRIOR_AGENTS:
            assert {(agent, "contextual"), (agent, "distilled")} <= rows, (terms.id, agent)
        for agent in ("dqn-prior", "dqn-posterior", "cql-prior"):
            assert (agent, "uniform") in rows, (terms.id, agent)
        assert {("vi", "base"), ("twosome", "base")} <= rows, terms.id


def test_the_distilled_adapters_are_the_envs_own(protocol, spec):
    """A headline env's adapter was trained on that env's train split (its manifest names it)."""
    for experiment in spec.experiments:
        for agent, params in experiment.agent.items():
            adapter = params.get("prior_params", {}).get("adapter")
            if adapter is None:
                continue
            manifest = json.loads((ROOT / adapter / "manifest.json").read_text())
            assert manifest["split"] == "train"
            for env in experiment.envs:
                if protocol.terms(env).track == HEADLINE:
                    assert manifest["env_ids"] == [env], (experiment.name, agent)


def test_the_committed_core_v1_runs_follow_the_protocol_and_its_tracks():
    protocol = load_protocol(BOARD / "protocol.toml")
    runs = BOARD / "runs"
    assert runs.exists() and records.find_runs(runs), "leaderboard/core-v1/runs holds no committed runs"
    groups, refused = leaderboard.collect(runs, protocol)
    assert refused == [] and groups
    distilled = 0
    for (env, _), row in groups.items():
        for run in row:
            manifest = run.manifest
            test_tasks = set(manifest["env"]["test_tasks"])
            if protocol.terms(env).track == HEADLINE:
                assert not test_tasks & set(manifest["env"]["train_tasks"])
                final = [e for e in run.episodes if e["phase"] == "eval"
                         and e["eval_round"] == max(x["eval_round"] for x in run.episodes if x["phase"] == "eval")]
                assert len(final) >= MIN_TEST_EPISODES, run.rel
            adapter = (manifest["agent"]["params"].get("prior_params") or {}).get("adapter")
            if adapter:  # the distilled prior saw none of the tasks this run is tested on
                seen = json.loads((ROOT / adapter / "manifest.json").read_text())["task_ids"]
                assert not test_tasks & {t for ids in seen.values() for t in ids}, run.rel
                distilled += 1
    assert distilled, "no committed run used a distilled adapter: the check above saw nothing"
