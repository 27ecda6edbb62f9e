"""The Ray executor on a local Ray (loopback only): records identical to a serial run's, one
failed run reported with its folder while the others finish, and a driver killed mid-sweep
resumed by the same command without losing or duplicating an episode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from priorbench.bench import records
from priorbench.bench.runner import RunJob, execute_all
from priorbench.bench.spec import Budget
from tests.conftest import ROOT, run_cli

if os.environ.get("CI"):
    import ray  # noqa: F401  - in CI a missing Ray is a failure (the all extra installs it)
else:
    pytest.importorskip("ray", reason="the Ray tests need Ray: pip install 'priorbench[ray]'")

FL = "priorbench/FrozenLake-4x4-v0"


def _records(root):
    return {p.relative_to(root): records.strip_timing(records.read_episodes(p / "episodes.jsonl").records)
            for p in records.find_runs(root)}


def _jobs(out, agents=("tabular-q", "dqn"), seeds=(0, 1), steps=300):
    budget = Budget(steps=steps, eval_every=steps // 2, checkpoint_every=max(100, steps // 4))
    return [RunJob(FL, agent, seed, budget, out) for agent in agents for seed in seeds]


@pytest.mark.slow
def test_ray_records_equal_serial_records(tmp_path):
    execute_all(_jobs(tmp_path / "serial"), progress=False)
    paths = execute_all(_jobs(tmp_path / "ray"), progress=False, workers=2, executor="ray")
    assert len(paths) == 4
    assert _records(tmp_path / "ray") == _records(tmp_path / "serial")


@pytest.mark.slow
def test_a_failed_run_is_reported_and_the_others_finish(tmp_path):
    result = run_cli("run", "--env", FL, "--agent", "tabular-q", "--agent", "tests.plugin_agents:Crashes",
                     "--seeds", "0", "--steps", "100", "--executor", "ray", "--workers", "2",
                     "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "1 of 2 runs failed" in line and "Crashes/seed0: RuntimeError: the learner blew up" in line
    done = records.RunRecord(tmp_path / FL / "tabular-q" / "seed0").read_manifest()
    assert done is not None and done["status"] == "complete"


@pytest.mark.slow
def test_a_killed_driver_resumes_without_losing_or_duplicating_episodes(tmp_path):
    command = [sys.executable, "-m", "priorbench.bench", "run", "--env", FL, "--agent", "dqn",
               "--seeds", "0", "1", "2", "--steps", "1500", "--eval-every", "500",
               "--set", "budget.checkpoint_every=250", "--executor", "ray", "--workers", "2",
               "--out", str(tmp_path / "ray"), "--no-progress"]
    driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "ray").rglob("state.safetensors")):
        time.sleep(0.5)
    time.sleep(2)
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    jobs = _jobs(tmp_path / "serial", agents=("dqn",), seeds=(0, 1, 2), steps=1500)
    execute_all([RunJob(j.env_id, j.agent, j.seed, Budget(steps=1500, eval_every=500, checkpoint_every=250),
                        j.out) for j in jobs], progress=False)
    assert _records(tmp_path / "ray") == _records(tmp_path / "serial")


@pytest.mark.slow
def test_prior_server_auto_on_ray_gives_the_in_process_records(tmp_path):
    """`--prior-server auto` with Ray: one serve-prior actor on the (one) node, the tasks ask it
    instead of loading the model; records equal in-process runs'."""
    budget = Budget(steps=120, eval_every=60, checkpoint_every=60)
    params = {"prior": "tiny-gpt2", "cache": False, "learning_starts": 20}

    def jobs(out):
        return [RunJob(FL, "dqn-prior", seed, budget, out, agent_params=params) for seed in (0, 1)]

    execute_all(jobs(tmp_path / "serial"), progress=False)
    execute_all(jobs(tmp_path / "ray"), progress=False, workers=2, executor="ray", prior_server="auto")
    assert len(_records(tmp_path / "serial")) == 2
    assert _records(tmp_path / "ray") == _records(tmp_path / "serial")
    asked = [sum(r.get("timing", {}).get("counters", {}).get("server_requests", 0)
                 for r in records.read_episodes(p / "episodes.jsonl").records) for p in records.find_runs(tmp_path / "ray")]
    assert len(asked) == 2 and min(asked) > 0  # every run asked the node's server
