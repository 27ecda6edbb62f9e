import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from priorbench.bench import records
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core.errors import UserError
from priorbench.core.paths import sha256_file
from tests.conftest import ROOT, live_records

ENV = "priorbench/FrozenLake-4x4-Random-v0"


def _job(out: Path, steps: int = 3000, seed: int = 0, **budget) -> RunJob:
    budget = Budget(steps=steps, eval_every=budget.get("eval_every", 1000),
                    checkpoint_every=budget.get("checkpoint_every", 500))
    return RunJob(ENV, "tabular-q", seed, budget, out)


def _episodes(path: Path) -> list[dict]:
    return records.strip_timing(records.read_episodes(path / records.EPISODES).records)


def test_same_seed_identical_records(tmp_path):
    a = execute(_job(tmp_path / "a"), progress=False)
    b = execute(_job(tmp_path / "b"), progress=False)
    ea, eb = _episodes(a), _episodes(b)
    assert ea == eb and len(ea) > 100
    c = execute(_job(tmp_path / "c", seed=1), progress=False)
    assert _episodes(c) != ea


def test_record_layout_and_manifest(tmp_path):
    path = execute(_job(tmp_path, steps=1000), progress=False)
    assert path == tmp_path / ENV / "tabular-q" / "seed0"
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["schema_version"] == records.SCHEMA_VERSION
    assert manifest["episodes_sha256"] == sha256_file(path / "episodes.jsonl")
    assert manifest["env"]["version"] == "v0" and manifest["agent"]["params"]["lr"] == 0.5
    assert manifest["spec"]["budget"]["steps"] == 1000 and len(manifest["spec_hash"]) == 64
    assert "gymnasium" in manifest["packages"]
    assert not (path / "checkpoint").exists()  # a finished run keeps only compact records
    eps = records.read_episodes(path / "episodes.jsonl").records
    evals = [e for e in eps if e["phase"] == "eval"]
    assert sorted({e["env_steps"] for e in evals}) == [0, 1000]
    assert len(evals) == 2 * 20  # 20 test maps at each evaluation
    assert {e["task"] for e in evals} == {f"map-seed-{1_000_000 + i}" for i in range(20)}
    train = [e for e in eps if e["phase"] == "train"]
    assert sum(e["length"] for e in train) == 1000
    assert train[-1]["env_steps"] == 1000


def test_learning_agent_improves(tmp_path):
    path = execute(RunJob("priorbench/FrozenLake-4x4-v0", "tabular-q", 0,
                          Budget(steps=3000, eval_every=3000), tmp_path), progress=False)
    evals = [e for e in records.read_episodes(path / "episodes.jsonl").records if e["phase"] == "eval"]
    assert evals[0]["env_steps"] == 0 and evals[-1]["env_steps"] == 3000
    assert evals[-1]["success"]


def test_different_spec_refused_unless_force(tmp_path):
    execute(_job(tmp_path, steps=500), progress=False)
    with pytest.raises(UserError, match="different spec.*--force"):
        execute(_job(tmp_path, steps=600), progress=False)
    path = execute(_job(tmp_path, steps=600), force=True, progress=False)
    assert json.loads((path / "manifest.json").read_text())["spec"]["budget"]["steps"] == 600


def test_complete_run_is_reused(tmp_path):
    path = execute(_job(tmp_path, steps=500), progress=False)
    before = (path / "episodes.jsonl").read_bytes()
    execute(_job(tmp_path, steps=500), progress=False)
    assert (path / "episodes.jsonl").read_bytes() == before


def test_partial_last_line_repaired_on_resume(tmp_path):
    reference = execute(_job(tmp_path / "ref", steps=2000), progress=False)
    path = execute(_job(tmp_path / "cut", steps=2000), progress=False)
    # Simulate a run killed mid-append: status running, a checkpoint-free folder, a partial line.
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["status"] = "running"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with open(path / "episodes.jsonl", "ab") as fh:
        fh.write(b'{"phase": "train", "epis')
    log = records.read_episodes(path / "episodes.jsonl")
    assert log.dropped_partial_line
    execute(_job(tmp_path / "cut", steps=2000), progress=False)
    assert _episodes(path) == _episodes(reference)


def test_corrupt_line_reported_nothing_deleted(tmp_path):
    path = execute(_job(tmp_path, steps=500), progress=False)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["status"] = "running"
    (path / "manifest.json").write_text(json.dumps(manifest))
    lines = (path / "episodes.jsonl").read_bytes().split(b"\n")
    lines[2] = b"not json at all"
    (path / "episodes.jsonl").write_bytes(b"\n".join(lines))
    before = (path / "episodes.jsonl").read_bytes()
    with pytest.raises(UserError, match=r"line 3 is corrupt"):
        execute(_job(tmp_path, steps=500), progress=False)
    assert (path / "episodes.jsonl").read_bytes() == before


def test_tampered_run_refused_by_verify(tmp_path):
    path = execute(_job(tmp_path, steps=500), progress=False)
    text = (path / "episodes.jsonl").read_text().replace('"success": false', '"success": true', 1)
    (path / "episodes.jsonl").write_text(text)
    with pytest.raises(UserError, match="checksum does not match"):
        records.verify_run(path)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    steps = 60000
    args = ["run", "--env", ENV, "--agent", "tabular-q", "--steps", str(steps),
            "--set", "budget.checkpoint_every=300", "--set", "budget.eval_every=5000", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "priorbench.bench", *args, "--out", str(cut)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run = records.run_dir(cut, ENV, "tabular-q", 0)
    checkpoint = records.RunRecord(run).checkpoint_path
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        lines = len(live_records(run)) if checkpoint.exists() else 0
        if lines > 200:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed; raise the budget"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"
    resumed = subprocess.run([sys.executable, "-m", "priorbench.bench", *args, "--out", str(cut)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole"
    full = subprocess.run([sys.executable, "-m", "priorbench.bench", *args, "--out", str(whole)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr
    a = _episodes(run)
    b = _episodes(records.run_dir(whole, ENV, "tabular-q", 0))
    assert a == b
    assert sum(e["length"] for e in a if e["phase"] == "train") == steps
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] == 1


def test_records_do_not_depend_on_the_worker_count(tmp_path):
    """dqn and ppo give the same records serially (with torch at 2 threads in this process) and
    in a pool of 2 workers: every run pins its own threads (runner.RUN_THREADS)."""
    import torch

    from priorbench.bench.runner import RUN_THREADS, execute_all

    budget = Budget(steps=200, eval_every=100, checkpoint_every=100)
    jobs = lambda out: [RunJob(ENV, agent, 0, budget, out) for agent in ("dqn", "ppo")]  # noqa: E731
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        serial = execute_all(jobs(tmp_path / "serial"), workers=1, progress=False)
        assert torch.get_num_threads() == 2  # put back after each run
    finally:
        torch.set_num_threads(before)
    pooled = execute_all(jobs(tmp_path / "pool"), workers=2, progress=False)
    for a, b in zip(serial, pooled, strict=True):
        assert _episodes(a) == _episodes(b)
        assert any(e.get("update") for e in _episodes(a))  # the learning metrics are compared too
        assert records.verify_run(a)[0]["machine"]["torch_threads"] == RUN_THREADS


def test_lockstep_evaluation_gives_the_one_at_a_time_records(tmp_path):
    """`eval_batch` plays an evaluation round's episodes 6 at a time (20 test maps: slots are
    reused and episodes end out of order) with one batched prior call per step; the records,
    prior diagnostics included, are those of one episode at a time, and the LLM calls add up."""
    from priorbench.bench.runner import Callbacks, execute_all

    env = "priorbench/FrozenLake-4x4-Random-v0"
    params = {"prior": "tiny-gpt2", "cache": False, "history": 1}
    batches: list[int] = []

    def watch(agent, train_env, test_env):
        act_many = agent.act_many
        agent.act_many = lambda slots, **kw: batches.append(len(slots)) or act_many(slots, **kw)

    serial = execute(RunJob(env, "llm", 0, Budget(steps=0, eval_every=1), tmp_path / "serial",
                            agent_params=params), progress=False)
    batched = execute(RunJob(env, "llm", 0, Budget(steps=0, eval_every=1), tmp_path / "batched",
                             agent_params=params, eval_batch=6), progress=False, callbacks=Callbacks(on_start=watch))
    a, b = _episodes(serial), _episodes(batched)
    assert len(a) == 20 and a == b
    assert max(batches) == 6 and sum(batches) == sum(e["length"] for e in b)
    assert sum(e["counters"]["decisions"] for e in b) == sum(batches)
    calls = [sum(e["timing"]["counters"]["llm_calls"] for e in records.read_episodes(p / "episodes.jsonl").records)
             for p in (serial, batched)]
    assert calls[0] == calls[1] > 0  # the model's real calls: the same prompts, shared out per episode
    # an agent that draws at random in evaluation plays one episode at a time whatever eval_batch says
    sampled = {**params, "decision": "sample"}
    one, many = (execute_all([RunJob(env, "llm", 0, Budget(steps=0, eval_every=1), tmp_path / f"s{k}",
                                     agent_params=sampled)], eval_batch=k, progress=False)[0] for k in (1, 6))
    assert _episodes(one) == _episodes(many)
    with pytest.raises(UserError, match="--eval-batch must be at least 1"):
        execute_all([], eval_batch=0, progress=False)
