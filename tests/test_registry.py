import pytest

from priorbench import envs
from priorbench.agents import AGENTS
from priorbench.core.errors import UserError
from priorbench.core.registry import Registry
from tests.conftest import ROOT


def test_lazy_load_and_close_matches():
    reg: Registry[object] = Registry("widget")
    reg.register("json-dumps", target="json:dumps", description="d")
    reg.register("json-loads", target="json:loads")
    import json

    assert reg.load("json-dumps") is json.dumps
    assert reg.names() == ["json-dumps", "json-loads"]
    with pytest.raises(UserError, match=r"unknown widget 'json-dump'.*Did you mean: json-dumps"):
        reg.entry("json-dump")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("json-dumps", target="json:dumps")


def test_unknown_agent_suggests():
    with pytest.raises(UserError, match="Did you mean: random"):
        AGENTS.entry("randm")


def test_registering_does_not_import_target():
    import sys

    reg: Registry[object] = Registry("thing")
    reg.register("x", target="some_module_that_does_not_exist:X")
    assert "some_module_that_does_not_exist" not in sys.modules
    assert "x" in reg


def test_env_metadata_lives_with_the_registration():
    from priorbench import envs
    from priorbench.agents.priors.prompts import TEMPLATES, template_for

    assert set(envs.INFO) == set(envs.env_ids())
    for env_id, info in envs.INFO.items():
        assert info.description == envs.DESCRIPTIONS[env_id]
        assert info.prompt_family in TEMPLATES, env_id
        assert template_for(env_id) is TEMPLATES[info.prompt_family]
        if info.card:
            assert (ROOT / info.card).is_file(), (env_id, info.card)
    assert envs.info("priorbench/TWX-Coin-v0").prompt_family == "textworld"
    assert envs.info("priorbench/ALFWorldGen-Pick-v0").references[0] == "shridhar2021alfworld"
    with pytest.raises(UserError, match="unknown env"):
        envs.info("priorbench/FrozenLak-4x4-v0")


def test_every_registered_reference_has_its_bibtex_entry():
    """Citations are data on the registrations; `priorbench cite` finds each key in references.bib."""
    from priorbench.bench import cite

    keys = {k for name in AGENTS.names() for k in AGENTS.entry(name).references}
    keys |= {k for info in envs.INFO.values() for k in info.references}
    assert keys and keys <= set(cite.BIBTEX), sorted(keys - set(cite.BIBTEX))
    assert AGENTS.entry("dqn-prior").references == ("yan2025efficient", "he2016deep")
