"""The SYNTHETIC oracle prior: its distribution, its labels, and the agents it must make fast."""

from __future__ import annotations

import numpy as np
import pytest

from priorbench.agents.priors import PRIORS, make_prior
from priorbench.agents.priors.oracle import OraclePrior
from priorbench.bench import records
from priorbench.bench.runner import Budget, RunJob, execute
from priorbench.core.errors import UserError

COMMANDS = ["go north", "go east", "go south", "go west"]


def _probs(prior, expert, commands=COMMANDS):
    return np.exp(prior.score_states(["p"], [commands], [expert])[0])


def test_mass_q_on_the_expert_and_the_rest_spread_uniformly():
    probs = _probs(OraclePrior(q=0.9), "go south")
    assert probs == pytest.approx([0.1 / 3, 0.1 / 3, 0.9, 0.1 / 3])
    assert _probs(OraclePrior(q="uniform"), "go south") == pytest.approx([0.25] * 4)
    assert _probs(OraclePrior(q=0.9), None) == pytest.approx([0.25] * 4)  # no expert: the rest alone
    assert _probs(OraclePrior(q=0.9), "go up") == pytest.approx([0.25] * 4)  # expert not admissible
    assert _probs(OraclePrior(q=0.3), "go east", ["go east"]) == pytest.approx([1.0])
    certain = OraclePrior(q=1.0).score_states(["p"], [COMMANDS], ["go west"])[0]
    assert np.exp(certain) == pytest.approx([0, 0, 0, 1])


def test_the_rest_can_follow_an_llm_prior():
    llm = make_prior("tiny-gpt2", cache=False)
    mixed = OraclePrior(q=0.5, rest="tiny-gpt2")
    mixed.rest = llm
    probs = _probs(mixed, "go east")
    raw = np.exp(llm.score(["p"], [COMMANDS])[0])
    others = np.delete(raw, 1) / np.delete(raw, 1).sum()
    assert probs[1] == pytest.approx(0.5) and probs.sum() == pytest.approx(1.0)
    assert np.delete(probs, 1) == pytest.approx(0.5 * others)


def test_bad_settings_and_uses_are_refused_clearly():
    with pytest.raises(UserError, match="q must be in"):
        OraclePrior(q=1.5)
    with pytest.raises(UserError, match="uniform"):
        OraclePrior(q="half")
    with pytest.raises(UserError, match="another oracle"):
        OraclePrior(rest="oracle")
    with pytest.raises(UserError, match="expert action"):
        OraclePrior().score(["p"], [COMMANDS])
    with pytest.raises(UserError, match="exact"):
        OraclePrior().propose(["p"], 5, [COMMANDS], seed=0)


def test_it_is_labelled_synthetic_and_never_cached_as_a_prompt():
    assert "SYNTHETIC" in PRIORS.entry("oracle").description
    prior = make_prior("oracle", {"q": 0.75})
    prov = prior.provenance()
    assert prov["synthetic"] is True and prov["label"].startswith("SYNTHETIC oracle (q=0.75")
    # the same prompt with two different experts: two answers (nothing cached by prompt)
    a, b = (prior.score_states(["same"], [COMMANDS], [e])[0] for e in ("go north", "go west"))
    assert np.argmax(a) == 0 and np.argmax(b) == 3
    draws = OraclePrior(q=0.9).propose(["p"], 200, [COMMANDS], seed=1, mode="exact",
                                       expert_actions=["go east"])[0]
    assert 0.8 < draws.actions.count("go east") / 200 <= 1.0


def _final_success(path):
    evals = [e for e in records.read_episodes(path / "episodes.jsonl").records if e["phase"] == "eval"]
    last = max(e["eval_round"] for e in evals)
    return float(np.mean([e["success"] for e in evals if e["eval_round"] == last]))


@pytest.mark.slow
def test_a_good_prior_makes_dqn_prior_learn_where_dqn_has_not_yet(tmp_path):
    """Frozen Lake 4×4, 400 steps: with the oracle at q = 0.9 dqn-prior reaches the goal at
    evaluation; dqn with the same settings and budget has not learned it (it needs > 1,000)."""
    params = {"lr": 0.003, "gamma": 0.9}
    budget = Budget(steps=400, eval_every=200, checkpoint_every=400)
    env = "priorbench/FrozenLake-4x4-v0"
    prior = execute(RunJob(env, "dqn-prior", 0, budget, tmp_path / "prior",
                           agent_params={**params, "prior": "oracle", "prior_params": {"q": 0.9}}),
                    progress=False)
    plain = execute(RunJob(env, "dqn", 0, budget, tmp_path / "plain", agent_params=params), progress=False)
    assert _final_success(prior) == 1.0
    assert _final_success(plain) == 0.0
    manifest, _ = records.verify_run(prior)
    assert manifest["agent_provenance"]["prior"]["synthetic"] is True
    assert manifest["machine"]["torch_threads"] >= 1  # a run's numbers can depend on it


def test_tables_label_the_synthetic_prior(tmp_path, cli):
    """`show` and the leaderboard name a SYNTHETIC prior's row as such."""
    from priorbench.bench.leaderboard import collect

    budget = Budget(steps=40, eval_every=40, checkpoint_every=40)
    execute(RunJob("priorbench/FrozenLake-4x4-v0", "dqn-prior", 0, budget, tmp_path / "runs",
                   agent_params={"prior": "oracle", "prior_params": {"q": 0.5}}), progress=False)
    groups, refused = collect(tmp_path / "runs")
    assert not refused and list(groups) == [("priorbench/FrozenLake-4x4-v0",
                                            "dqn-prior [SYNTHETIC oracle (q=0.5)]")]
    shown = cli("show", str(tmp_path / "runs"))
    assert shown.returncode == 0 and "dqn-prior [SYNTHETIC oracle (q=0.5)]" in shown.stdout


def test_the_leaderboard_keeps_synthetic_rows_in_their_own_section(tmp_path):
    """A SYNTHETIC prior's row is never in the main table, the all-envs table (which holds the
    agents that ran every env) or the LaTeX table: it has its own labelled section (and its own
    table on the site)."""
    from priorbench.bench import leaderboard

    budget = Budget(steps=40, eval_every=40, checkpoint_every=40)
    for env in ("priorbench/FrozenLake-4x4-v0", "priorbench/FrozenLake-4x4-Slippery-v0"):
        for agent, params in (("dqn", {}), ("random", {}),
                              ("dqn-prior", {"prior": "oracle", "prior_params": {"q": 0.9}})):
            execute(RunJob(env, agent, 0, budget, tmp_path / "runs", agent_params=params), progress=False)
    execute(RunJob("priorbench/FrozenLake-4x4-v0", "expert", 0, budget, tmp_path / "runs"), progress=False)
    leaderboard.build(tmp_path / "runs", tmp_path / "board")
    md = (tmp_path / "board" / "LEADERBOARD.md").read_text()
    main, _, section = md.partition(f"## {leaderboard.SYNTHETIC_TITLE}")
    label = "dqn-prior [SYNTHETIC oracle (q=0.9)]"
    assert section and label not in main and label in section and "Controls, not entries" in section
    overall = main.split("## All envs")[1].split("##")[0]  # the agents that ran both envs
    assert "| dqn " in overall and "| random " in overall and "expert" not in overall
    assert "SYNTHETIC" not in (tmp_path / "board" / "leaderboard.tex").read_text()
    assert label in (tmp_path / "board" / "leaderboard_full.csv").read_text()  # labelled, kept
    site = (tmp_path / "board" / "site" / "index.html").read_text()
    assert 'id="synthetic"' in site and site.index(label) > site.index(leaderboard.SYNTHETIC_TITLE)
