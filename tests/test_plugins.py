"""Bring your own agent: an agent from a separate package (examples/my-agent, installed here as a
user would) runs, passes `check agent`, follows the protocol and sits beside the baselines; the
checker names the rule a broken agent breaks; the protocol refuses a run made otherwise."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

from priorbench.bench.check_agent import check_agent
from priorbench.core.errors import UserError
from priorbench.core.registry import Registry
from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "my-agent"
FL = "priorbench/FrozenLake-4x4-v0"


@pytest.mark.parametrize("name, rule", [
    ("tests.plugin_agents:NonAdmissible", "admissible: act returned 'fly over the lake'"),
    ("tests.plugin_agents:Unseeded", "seeded: two agents with seed 0 diverged"),
    ("tests.plugin_agents:Forgetful", "state: load_state_dict() did not restore agent.q ("),
    ("tests.plugin_agents:FalselyBatched", "batched: with batched_eval, evaluation episodes played 3 at a time"),
])
def test_check_agent_names_the_broken_rule(name, rule, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failures = check_agent(name, FL, steps=200)
    assert failures and failures[0].startswith(rule), failures  # (unseeded also fails `state`)


def test_check_agent_passes_the_built_in_tabular_agent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_agent("tabular-q", FL, steps=200) == []


def test_check_agent_passes_the_llm_agent_and_its_batched_evaluation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_agent("llm", FL, params={"prior": "tiny-gpt2", "cache": False}, steps=20) == []


def test_a_plugin_with_a_built_in_name_is_refused(monkeypatch):
    registry = Registry("agent", "priorbench.test-agents")
    registry.register("dqn", target="priorbench.agents.dqn:DQN")
    fake = [metadata.EntryPoint("dqn", "elsewhere:Agent", "priorbench.test-agents")]
    monkeypatch.setattr(metadata, "entry_points", lambda group: fake if group == "priorbench.test-agents" else [])
    with pytest.raises(UserError, match="has the name of a built-in agent"):
        registry.entry("dqn")


def test_an_agent_that_does_not_import_is_a_clear_error(tmp_path):
    result = run_cli("run", "--env", FL, "--agent", "no_such_pkg.mod:Agent", "--out", str(tmp_path))
    assert result.returncode == 2 and "cannot import agent 'no_such_pkg.mod:Agent'" in result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """examples/my-agent installed into this environment (a copy: the build leaves files)."""
    source = tmp_path_factory.mktemp("example") / "my-agent"
    shutil.copytree(EXAMPLE, source)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--disable-pip-version-check", str(source)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    yield source
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", "priorbench-count-q"],
                   check=False, capture_output=True, timeout=300)


@pytest.mark.slow
def test_an_installed_plugin_agent_walks_the_whole_path(installed, tmp_path):
    listed = run_cli("list", "agents")
    assert "count-q" in listed.stdout and "plug-in from priorbench-count-q 0.1.0" in listed.stdout
    checked = run_cli("check", "agent", "count-q", cwd=tmp_path)
    assert checked.returncode == 0 and "every rule holds" in checked.stdout, checked.stdout + checked.stderr

    quick = run_cli("run", "--env", FL, "--agent", "count-q", "--steps", "300", "--seeds", "0",
                    "--out", str(tmp_path / "quick"), "--no-progress")
    assert quick.returncode == 0, quick.stderr
    manifest = json.loads(next((tmp_path / "quick").rglob("manifest.json")).read_text())
    assert manifest["agent"]["plugin"] == {"distribution": "priorbench-count-q", "version": "0.1.0",
                                           "target": "my_agent:CountQ"}

    mine = tmp_path / "mine"
    done = run_cli("evaluate", "--agent", "count-q", "--protocol", str(ROOT / "leaderboard/protocol.toml"),
                   "--env", FL, "--out", str(mine), "--no-progress")
    assert done.returncode == 0, done.stderr
    board = tmp_path / "board"
    built = run_cli("leaderboard", "build", "--runs", str(ROOT / "leaderboard/runs"), "--runs", str(mine),
                    "--protocol", str(ROOT / "leaderboard/protocol.toml"), "--out", str(board))
    assert built.returncode == 0, built.stderr
    md = (board / "LEADERBOARD.md").read_text()
    assert re.search(rf"^\| {re.escape(FL)} +\| train = test +\| count-q ", md, re.M), md.split("## ", 1)[0]
    improvement = md.split("## Probability of improvement", 1)[1].split("## ", 1)[0]
    assert "count-q" in improvement and "dqn" in improvement and "tabular-q" in improvement
    # every family the board has on its env, the prior agents and llm included
    for other in ("dqn-prior [smollm2-135m + adapter 0162b203]", "llm [smollm2-135m + adapter 0162b203]",
                  "llm-sample [smollm2-135m, calibration=contextual]", "cql-prior [smollm2-135m, calibration=contextual]"):
        assert f"| count-q | {other}" in improvement.replace("  ", " ") or re.search(
            rf"\| count-q +\| {re.escape(other)} +\|", improvement), other

    # a run made with another budget is refused by the official (protocol) build, with the reason
    refused = run_cli("leaderboard", "build", "--runs", str(ROOT / "leaderboard/runs"), "--runs",
                      str(tmp_path / "quick"), "--protocol", str(ROOT / "leaderboard/protocol.toml"),
                      "--out", str(tmp_path / "board2"))
    assert refused.returncode == 1
    assert "budget.steps = 300, protocol core-v0@3 says 2000" in refused.stderr
    unofficial = run_cli("evaluate", "--agent", "count-q", "--protocol", str(ROOT / "leaderboard/protocol.toml"),
                         "--out", str(tmp_path / "unofficial"), "--set", "budget.steps=300", "--no-progress")
    assert unofficial.returncode == 2 and "--unofficial" in unofficial.stderr
