"""Calibration and list style as prior settings (agents/priors/calibration.py), on the real tiny LM."""

from __future__ import annotations

import numpy as np
import pytest

from priorbench.agents.priors import make_prior
from priorbench.agents.priors.calibration import CONTENT_FREE, CalibratedPrior
from priorbench.agents.priors.prompts import TEMPLATES, Prompt, fit_prompt
from priorbench.core.errors import UserError

TEMPLATE = TEMPLATES["frozenlake"]
COMMANDS = ["move left", "move down", "move right", "move up"]
OBS = "You are at row 1, column 2. The goal is at row 4, column 4."


def _prompt(prior, commands=COMMANDS, obs=OBS) -> Prompt:
    return fit_prompt(TEMPLATE, prior.count_tokens, prior.context_length, "reach the goal", obs, commands, [])


def _probs(prior, prompt, candidates=COMMANDS) -> np.ndarray:
    logp = prior.score([prompt], [candidates])[0]
    return np.exp(logp - np.logaddexp.reduce(logp))


def test_prompts_keep_their_parts_and_list_styles_render():
    prompt = TEMPLATE.render("t", "o", COMMANDS)
    assert isinstance(prompt, str) and prompt.parts.admissible == tuple(COMMANDS)
    assert "Admissible actions: move left, move down, move right, move up" in prompt
    numbered = TEMPLATE.render("t", "o", COMMANDS, list_style="numbered")
    assert "Admissible actions:\n1. move left\n2. move down\n3. move right\n4. move up\n" in numbered


def test_permute_removes_the_position_of_a_command():
    """Averaged over the cyclic shifts, listing the commands in another cyclic order changes nothing."""
    plain = make_prior("tiny-gpt2", cache=False)
    permuted = make_prior("tiny-gpt2", {"calibration": "permute"}, cache=False)
    shifted = COMMANDS[1:] + COMMANDS[:1]
    a = _probs(permuted, _prompt(permuted))
    b = _probs(permuted, _prompt(permuted, shifted))
    assert a == pytest.approx(b, abs=1e-9)
    assert not np.allclose(_probs(plain, _prompt(plain)), _probs(plain, _prompt(plain, shifted)))


def test_contextual_divides_by_the_content_free_prompt():
    plain = make_prior("tiny-gpt2", cache=False)
    calibrated = make_prior("tiny-gpt2", {"calibration": "contextual"}, cache=False)
    prompt = _prompt(plain)
    free = TEMPLATE.render("reach the goal", CONTENT_FREE, COMMANDS)
    expected = _probs(plain, prompt) / _probs(plain, free)
    assert _probs(calibrated, _prompt(calibrated)) == pytest.approx(expected / expected.sum(), rel=1e-6)
    # the content-free prompt depends only on task and list: a second observation reuses it
    inner = calibrated.inner
    assert isinstance(inner, CalibratedPrior)
    _probs(calibrated, _prompt(calibrated, obs="You are at row 3, column 1."))
    assert inner.counters()["content_free_hits"] == 1 and inner.counters()["content_free_misses"] == 1


def test_settings_are_in_the_provenance_and_the_cache_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIORBENCH_CACHE", str(tmp_path))
    plain = make_prior("tiny-gpt2")
    numbered = make_prior("tiny-gpt2", {"list_style": "numbered", "calibration": "contextual+permute"})
    prov = numbered.provenance()
    assert prov["calibration"] == "contextual+permute" and prov["list_style"] == "numbered"
    assert "calibration" not in plain.provenance()
    a, b = _probs(plain, _prompt(plain)), _probs(numbered, _prompt(numbered))
    assert not np.allclose(a, b)  # not one cached answer for both
    exact = numbered.propose([_prompt(numbered)], 50, [COMMANDS], seed=3, mode="exact")[0]
    assert set(exact.actions) <= set(COMMANDS) and len(exact.actions) == 50


def test_bad_settings_are_refused():
    with pytest.raises(UserError, match="calibration must be one of"):
        make_prior("tiny-gpt2", {"calibration": "zhao"}, cache=False)
    with pytest.raises(UserError, match="list_style must be one of"):
        make_prior("tiny-gpt2", {"list_style": "bullets"}, cache=False)
    with pytest.raises(UserError, match="not of the SYNTHETIC oracle"):
        make_prior("oracle", {"calibration": "contextual"}, cache=False)
    calibrated = make_prior("tiny-gpt2", {"calibration": "permute"}, cache=False)
    with pytest.raises(UserError, match="prompt's parts"):
        calibrated.score(["a plain string"], [COMMANDS])


def test_a_calibrated_run_keeps_its_records_on_a_warm_prior_cache(tmp_path, monkeypatch):
    """Calibration runs only on prior-cache misses, so its content-free counts depend on the
    cache (state outside the run): they are volatile counters, kept beside wall time, and a
    re-run on the warm cache gives the same records as the first run on a cold one."""
    from priorbench.bench import records
    from priorbench.bench.runner import RunJob, execute
    from priorbench.bench.spec import Budget

    monkeypatch.setenv("PRIORBENCH_CACHE", str(tmp_path / "cache"))
    params = {"prior": "tiny-gpt2", "prior_params": {"calibration": "contextual"}, "learning_starts": 16,
              "batch_size": 8}
    runs = [execute(RunJob("priorbench/FrozenLake-4x4-v0", "dqn-prior", 0, Budget(steps=60, eval_every=30),
                           tmp_path / name, agent_params=params), progress=False) for name in ("cold", "warm")]
    cold, warm = (records.read_episodes(p / records.EPISODES).records for p in runs)
    volatile = [sum(e["timing"].get("counters", {}).get("content_free_misses", 0) for e in r) for r in (cold, warm)]
    assert volatile[0] > 0 and volatile[1] == 0  # the warm run never reached the calibration
    assert all("content_free_misses" not in e["counters"] for e in cold)
    assert records.strip_timing(cold) == records.strip_timing(warm)
