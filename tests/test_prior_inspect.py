"""`priorbench prior inspect`: state walking, the per-state figures, the table and the JSON."""

import json
import math

import numpy as np
import pytest

from priorbench.bench import prior_inspect
from priorbench.core.errors import UserError

ENV = "priorbench/FrozenLake-4x4-Random-v0"


def test_state_metrics_by_hand():
    commands = ["go north", "go south", "go east"]
    probs = np.array([0.5, 0.3, 0.2])
    row = prior_inspect.state_metrics(np.log(probs) + 7.0, commands, "go south")  # unnormalised
    assert row["p_expert"] == pytest.approx(0.3) and row["rank"] == 2
    assert row["p_first"] == pytest.approx(0.5)
    assert row["cov@1"] == pytest.approx(0.3)
    assert row["cov@5"] == pytest.approx(1 - 0.7 ** 5)
    assert row["uniform_cov@5"] == pytest.approx(1 - (2 / 3) ** 5)
    entropy = -float((probs * np.log(probs)).sum())
    assert row["entropy"] == pytest.approx(entropy)
    assert row["kl_from_uniform"] == pytest.approx(math.log(3) - entropy)
    assert not row["argmax_is_expert"]
    uniform = prior_inspect.state_metrics(np.zeros(3), commands, "go east")
    assert uniform["cov@5"] == pytest.approx(uniform["uniform_cov@5"])
    assert uniform["kl_from_uniform"] == pytest.approx(0.0, abs=1e-12)


def test_states_are_distinct_deterministic_and_from_the_split():
    a = prior_inspect.walk_states(ENV, "test", 40, seed=0)
    b = prior_inspect.walk_states(ENV, "test", 40, seed=0)
    assert a == b and len(a) == 40
    assert len({(s.task_id, s.observation, s.commands) for s in a}) == 40
    assert all(s.expert in s.commands for s in a)
    from priorbench import envs

    test_tasks = set(envs.make(ENV, split="test").tasks)
    assert {s.task_id for s in a} <= test_tasks
    assert len({s.task_id for s in a}) > 5  # tasks are taken in turn
    assert prior_inspect.walk_states(ENV, "test", 40, seed=1) != a
    with pytest.raises(UserError, match="--states must be positive"):
        prior_inspect.walk_states(ENV, "test", 0, seed=0)


@pytest.mark.slow
def test_cli_table_and_json(cli, tmp_path):
    out = tmp_path / "report.json"
    result = cli("prior", "inspect", "--env", ENV, "--prior", "tiny-gpt2", "--states", "12",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{ENV} (test split, 12 states, seed 0")
    assert any(line.startswith("| tiny-gpt2 ") for line in lines)
    assert any(line.startswith("| uniform ") for line in lines)
    report = json.loads(out.read_text())
    entry = report["priors"]["tiny-gpt2"]
    assert len(report["states"]) == 12 and len(entry["rows"]) == 12
    assert entry["provenance"]["model_id"] == "tiny-gpt2-v1"
    mean_p = np.mean([r["p_expert"] for r in entry["rows"]])
    assert entry["summary"]["p_expert"] == pytest.approx(mean_p)
    assert entry["summary"]["argmax_tasks"] == 20
    again = cli("prior", "inspect", "--env", ENV, "--prior", "tiny-gpt2", "--states", "12", "--no-wins")
    row = lines.index(next(line for line in lines if line.startswith("| tiny-gpt2 ")))
    # the same states, the same figures (the wins column is "–" without the argmax games)
    assert again.stdout.splitlines()[row].rsplit("|", 2)[0] == lines[row].rsplit("|", 2)[0]
    bad = cli("prior", "inspect", "--env", ENV, "--prior", "tiny-gpt2", "--out", str(tmp_path))
    assert bad.returncode == 2 and "is a folder" in bad.stderr
