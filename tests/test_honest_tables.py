"""What the tables may claim: an episode-level interval that is never a point, ties that say so,
the test split read from the manifests, runs made before evaluation streams marked, and each
prior row paired with its uniform-prior control first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from priorbench.bench import leaderboard, metrics, schema
from priorbench.bench.leaderboard import stats, tables
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget

LAKE = "priorbench/FrozenLake-4x4-v0"  # one task: train = test
LAKES = "priorbench/FrozenLake-4x4-Random-v0"  # 20 held-out test maps


def test_the_exact_interval_is_never_a_point():
    assert metrics.binomial_interval(5, 5) == pytest.approx((0.4782, 1.0), abs=1e-4)  # 0.025 ** (1/5)
    assert metrics.binomial_interval(0, 5) == pytest.approx((0.0, 0.5218), abs=1e-4)
    lo, hi = metrics.binomial_interval(50, 100)
    assert lo == pytest.approx(0.3983, abs=1e-4) and hi == pytest.approx(1 - lo)
    assert metrics.binomial_interval(0, 0) == (0.0, 1.0)
    # the textbook form, to the bit (the code avoids importing scipy.stats)
    from scipy.stats import beta

    tail = (1 - metrics.CI_SIZE) / 2
    for n in (1, 5, 26, 130):
        for wins in range(n + 1):
            lo, hi = metrics.binomial_interval(wins, n)
            assert lo == (0.0 if wins == 0 else float(beta.ppf(tail, wins, n - wins + 1)))
            assert hi == (1.0 if wins == n else float(beta.ppf(1 - tail, wins + 1, n - wins)))


def test_the_split_comes_from_the_manifest():
    manifest = lambda train, test: {"env": {"train_tasks": train, "test_tasks": test}}  # noqa: E731
    assert schema.test_split(manifest(["4x4"], ["4x4"])) == "train = test"
    assert schema.test_split(manifest(["a", "b"], ["c"])) == "held out"
    assert schema.test_split(manifest(["a", "b"], ["b", "c"])) == "overlap"


def test_a_tie_of_identical_runs_is_no_evidence():
    tie = {"x": "a", "y": "b", "p": 0.5, "p_lo": 0.5, "p_hi": 0.5, "tie": True}
    assert tables.tie_or(tie, "0.500") == tables.TIE_TEXT == "tie — no evidence"
    assert "0.500 [0.500" not in tables._pairs_md([{**tie, "envs": 1}])


def test_control_pairs_come_first_and_sampling_llm_is_the_stochastic_control():
    labels = ["dqn", "dqn-prior [p]", "dqn-prior [SYNTHETIC oracle (q=uniform)]", "llm [p]", "llm-sample [p]"]
    pairs = stats.key_pairs(labels)
    assert pairs[0] == ("dqn-prior [p]", "dqn-prior [SYNTHETIC oracle (q=uniform)]")
    assert ("dqn-prior [p]", "dqn") in pairs and ("dqn-prior [p]", "llm-sample [p]") in pairs
    assert ("llm [p]", "llm-sample [p]") in pairs  # greedy against sampling


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    budget = Budget(steps=60, eval_every=60)
    prior = {"prior": "oracle", "cache": False, "learning_starts": 16, "batch_size": 8}
    for seed in (0, 1):
        execute(RunJob(LAKE, "expert", seed, budget, runs), progress=False)
        execute(RunJob(LAKES, "expert", seed, budget, runs), progress=False)
        execute(RunJob(LAKE, "dqn", seed, budget, runs), progress=False)
        execute(RunJob(LAKE, "dqn-prior", seed, budget, runs / "q", agent_params={**prior, "prior_params": {"q": 0.9}}),
                progress=False)
        execute(RunJob(LAKE, "dqn-prior", seed, budget, runs / "uniform",
                       agent_params={**prior, "prior_params": {"q": "uniform"}}), progress=False)
    out = tmp_path_factory.mktemp("board")
    leaderboard.build(runs, out)
    return out


@pytest.mark.slow
def test_the_board_shows_splits_episode_intervals_and_controls(board):
    md = (board / "LEADERBOARD.md").read_text()
    # expert wins its one Frozen Lake map twice: 2 of 2 episodes, exact interval [0.158, 1], not a point
    assert re.search(rf"\| {re.escape(LAKE)} +\| train = test +\| expert +\| +2 \| +1\.000 \| \[1\.000, 1\.000\] \| "
                     r"2/2 \(1/round\) +\| \[0\.158, 1\.000\]", md), md
    assert re.search(rf"\| {re.escape(LAKES)} +\| held out +\| expert +\| +2 \|.*\| 40/40 \(20/round\)", md)
    rows_table = md.split(f"## {tables.ALL_ROWS_TITLE}\n", 1)[1].split("\n## ", 1)[0]
    headline = md.split(f"## {tables.HEADLINE_TITLE}\n", 1)[1].split("\n## ", 1)[0]
    assert "held-out test tasks" not in md and " †" not in rows_table and " †" not in headline
    assert "## " + tables.KNOWLEDGE_TITLE not in md  # no real prior here: nothing to pair
    site = (board / "site" / "index.html").read_text()
    assert "train = test" in site and "95% CI (episodes)" in site
    tex = (board / "leaderboard.tex").read_text()
    assert "train = test" in tex and "Clopper" in tex


def test_runs_made_before_evaluation_streams_are_marked():
    assert schema.made_before_eval_streams({"seeding": "episode seeds = derive_seed(seed, phase, index…)"})
    from priorbench.bench.runner import SEEDING

    assert not schema.made_before_eval_streams({"seeding": SEEDING})
