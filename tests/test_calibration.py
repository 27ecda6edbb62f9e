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
