"""`priorbench leaderboard prior-quality`: every prior setting of a leaderboard spec's prior
agents, per env, measured by `prior inspect`'s own code, labelled as the leaderboard's rows are,
written as canonical JSON (prior_quality.json, an input of the build)."""

from __future__ import annotations

import json

import pytest

from priorbench.bench import schema
from priorbench.bench.leaderboard import quality
from priorbench.bench.prior_quality import prior_quality
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core.config import canonical_json
from priorbench.core.errors import UserError

LAKE = "priorbench/FrozenLake-4x4-v0"


SPEC = """runs = "runs"
[[experiment]]
name = "lake"
envs = ["priorbench/FrozenLake-4x4-v0"]
agents = ["random", "llm", "dqn-prior", "cql-prior", "twosome"]
seeds = [0, 1, 2, 3, 4]
[experiment.agent.llm]
prior_params = {{ calibration = "none" }}
[experiment.agent.cql-prior]
dataset = "{dataset}"
prior_params = {{ calibration = "none" }}

[[experiment]]
name = "lake-oracle"
folder = "oracle"
envs = ["priorbench/FrozenLake-4x4-v0"]
agents = ["dqn-prior"]
seeds = [0, 1, 2, 3, 4]
[experiment.agent.dqn-prior]
prior = "oracle"
prior_params = {{ q = 0.9 }}
"""


def test_the_prior_settings_of_a_spec(tmp_path):
    """One setting per (env, prior, prior_params, normalization) as the runs resolve them: the
    agents' defaults filled in, seeds and agents sharing a setting folded together."""
    from priorbench.bench.prior_quality import prior_uses

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(dataset=tmp_path / "no-dataset-needed"))
    uses = {(u.env_id, u.prior, u.prior_params, u.normalization): agents
            for u, agents in prior_uses(spec).items()}
    assert uses == {(LAKE, "smollm2-135m", '{"calibration":"none"}', "sum"): ["llm", "cql-prior"],
                    (LAKE, "smollm2-135m", "{}", "sum"): ["dqn-prior"],
                    (LAKE, "oracle", '{"q":0.9}', "sum"): ["dqn-prior"],
                    # its LoRA policy scores with the raw model: no calibration, token-normalised
                    (LAKE, "smollm2-135m", '{"calibration":"none"}', "token"): ["twosome"]}
    spec.write_text(SPEC.split("[[experiment]]")[0] + '[[experiment]]\nname = "r"\nenvs = ["' + LAKE
                    + '"]\nagents = ["random"]\nseeds = [0, 1, 2, 3, 4]\n')
    with pytest.raises(UserError, match="no experiment runs an agent with a prior"):
        prior_quality(spec, tmp_path / "lb")


@pytest.mark.slow
def test_prior_quality_command_with_smollm2(tmp_path, cli):
    """The command on a tiny spec: one entry per distinct prior setting (llm and cql-prior share
    one), measured by `prior inspect`'s own code, labelled as the rows are, canonical JSON."""
    from priorbench.bench import prior_inspect

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(dataset=tmp_path / "no-dataset-needed"))
    result = cli("leaderboard", "prior-quality", "--spec", str(spec), "--out", str(tmp_path / "lb"),
                 "--states", "4")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "lb" / quality.PRIOR_QUALITY).read_text()
    assert text == canonical_json(json.loads(text)) + "\n"
    data = quality.read_quality(tmp_path / "lb")
    assert (data["split"], data["states"], data["seed"]) == ("test", 4, 0)
    entries = {e["prior"]: e for e in data["entries"]}
    assert len(data["entries"]) == 4 and [e["normalization"] for e in data["entries"]] == ["sum", "token", "sum", "sum"]
    assert list(entries) == ["smollm2-135m", "smollm2-135m, calibration=contextual", "SYNTHETIC oracle (q=0.9)"]
    assert [e["agents"] for e in data["entries"][:2]] == [["cql-prior", "llm"], ["twosome"]]
    entries["smollm2-135m"] = data["entries"][0]
    assert [e["synthetic"] for e in entries.values()] == [False, False, True]
    assert all(e["states"] == 4 and e["env"] == LAKE for e in entries.values())
    report = prior_inspect.inspect(LAKE, ["smollm2-135m"], prior_params={"calibration": "none"},
                                   n_states=4, wins=False)
    summary = report["priors"]["smollm2-135m"]["summary"]
    for key in quality.FIGURES:
        assert entries["smollm2-135m"][key] == round(summary[key], quality.FLOAT_DIGITS)
    assert entries["SYNTHETIC oracle (q=0.9)"]["p_expert"] == pytest.approx(0.9)

    run = execute(RunJob(LAKE, "llm", 0, Budget(steps=10, eval_every=10), tmp_path / "runs",
                         agent_params={"prior_params": {"calibration": "none"}}), progress=False)
    label = schema.agent_label(json.loads((run / "manifest.json").read_text()))
    assert schema.prior_part(label) == "smollm2-135m"  # the entry's label is the row's
    again = cli("leaderboard", "prior-quality", "--spec", str(spec), "--out", str(tmp_path / "lb"),
                "--states", "4", "--no-progress")
    assert again.returncode == 0 and (tmp_path / "lb" / quality.PRIOR_QUALITY).read_text() == text
    bad = cli("leaderboard", "prior-quality", "--spec", str(spec), "--out", str(tmp_path / "lb"), "--states", "0")
    assert bad.returncode == 2 and "--states must be positive" in bad.stderr
