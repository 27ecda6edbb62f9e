"""Reduced-budget rows: runs trained on less than their env's full budget (the LLM-policy agents
on a CPU) are rows of their own, labelled with their budget, tabulated apart, compared only with
rows of the same budget, and accepted by the protocol only where it allows that budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from priorbench.bench import leaderboard, schema
from priorbench.bench.leaderboard.protocol import EnvTerms, Protocol, ReducedBudget, refusal
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget

LAKE = "priorbench/FrozenLake-4x4-v0"


def test_budget_labels_round_trip():
    label = schema.budget_label("vi [smollm2-135m]", 500)
    assert label == "vi [smollm2-135m] @500 steps"
    assert schema.budget_part(label) == " @500 steps" and schema.is_reduced(label)
    assert schema.base_agent(label) == "vi" and schema.prior_part(label) == "smollm2-135m"
    assert schema.base_agent("ppo @500 steps") == "ppo" and schema.prior_part("ppo @500 steps") == ""
    for full in ("vi [smollm2-135m]", "dqn", "my.pkg:Agent", "dqn-prior [SYNTHETIC oracle (q=0.9)]"):
        assert not schema.is_reduced(full) and schema.budget_part(full) == ""


def test_reduced_rows_meet_their_counterparts_at_the_same_budget():
    p, r = "[smollm2-135m]", " @500 steps"
    labels = ["ppo", f"vi {p}", f"twosome {p}", f"ppo{r}", f"vi {p}{r}", f"twosome {p}{r}", "dqn",
              f"dqn-prior {p}{r}"]
    # twosome carries the prior in its label; a reduced dqn-prior has no dqn of its budget: no pair
    assert leaderboard.key_pairs(labels) == [
        (f"vi {p}", f"twosome {p}"), (f"vi {p}", "ppo"), (f"vi {p}{r}", f"twosome {p}{r}"),
        (f"vi {p}{r}", f"ppo{r}")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """tabular-q and random on the lake at 300 steps, and tabular-q again at 100 steps in its
    own folder (as a leaderboard spec's `folder` puts it)."""
    out = tmp_path_factory.mktemp("runs")
    for agent in ("random", "tabular-q"):
        for seed in (0, 1):
            execute(RunJob(LAKE, agent, seed, Budget(steps=300, eval_every=100), out), progress=False)
            if agent == "tabular-q":
                execute(RunJob(LAKE, agent, seed, Budget(steps=100, eval_every=50), out / "reduced"),
                        progress=False)
    return out


def test_a_smaller_budget_is_a_row_of_its_own_in_its_own_table(runs, tmp_path):
    rows, refused = leaderboard.build(runs, tmp_path)
    assert refused == [] and sorted(r["agent"] for r in rows) == ["random", "tabular-q", "tabular-q @100 steps"]
    reduced = next(r for r in rows if r["agent"] == "tabular-q @100 steps")
    assert reduced["env_steps"] == 100 and reduced["seeds"] == 2
    md = (tmp_path / "LEADERBOARD.md").read_text()
    main, rest = md.split("## Reduced-budget rows", 1)
    assert "@100 steps" not in main.split("## Cost", 1)[0] and "| tabular-q @100 steps" in rest
    assert "@100 steps" not in (tmp_path / "leaderboard.tex").read_text()
    site = (tmp_path / "site" / "index.html").read_text()
    assert '<table class="sortable' in site and 'id="reduced"' in site
    assert 'data-family="tabular-q"' in site.split('id="reduced"', 1)[1].split("</table>", 1)[0]


def _manifest(agent: str, steps: int, eval_every: int) -> dict:
    return {"agent": {"name": agent}, "spec_name": "lb",
            "spec": {"env_id": LAKE, "seed": 0, "env_kwargs": {},
                     "budget": {"steps": steps, "eval_every": eval_every, "eval_episodes": 1}}}


def test_the_protocol_allows_a_reduced_budget_to_the_agents_it_names():
    terms = EnvTerms(LAKE, steps=2000, eval_every=500,
                     reduced=(ReducedBudget(steps=500, eval_every=250, agents=("vi", "ppo")),))
    protocol = Protocol("core-v0", 2, (0,), (terms,))
    assert refusal(_manifest("dqn", 2000, 500), protocol) is None
    assert refusal(_manifest("vi", 500, 250), protocol) is None
    assert refusal(_manifest("dqn", 500, 250), protocol) == "budget.steps = 500, protocol core-v0@2 says 2000"
    assert refusal(_manifest("vi", 500, 100), protocol) == "budget.steps = 500, protocol core-v0@2 says 2000"
