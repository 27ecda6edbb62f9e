"""A run started from another run's learned state (`init_from`, issue 32's transfer): the
source keeps its Q (`keep_learned`), the new run loads it under its own prior, records which run
it came from, and gets a row of its own."""

import copy
import hashlib
import json
from pathlib import Path

import pytest
import torch

from priorbench.bench import records, schema
from priorbench.bench.cli import main
from priorbench.bench.runner import RunJob, execute, jobs_from_spec
from priorbench.bench.spec import Budget, spec_from_dict
from priorbench.core import statefile
from priorbench.core.errors import UserError

ENV = "priorbench/FrozenLake-4x4-Random-v0"
BUDGET = Budget(steps=300, eval_every=300, checkpoint_every=100)
GOOD = {"prior": "oracle", "prior_params": {"q": 0.9}, "lr": 0.003, "gamma": 0.9}
UNIFORM = {"prior": "oracle", "prior_params": {"q": "uniform"}, "lr": 0.003, "gamma": 0.9}


def _run(out: Path, params: dict, seed: int = 0, **job) -> Path:
    return execute(RunJob(ENV, "dqn-prior", seed, BUDGET, out, agent_params=params, **job), progress=False)


def _manifest(path: Path) -> dict:
    return json.loads((path / records.MANIFEST).read_text())


def _episodes(path: Path) -> list[dict]:
    return records.strip_timing(records.read_episodes(path / records.EPISODES).records)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("source"), GOOD, keep_learned=True)


def test_kept_state_is_the_trained_q_and_checksummed(source):
    manifest = _manifest(source)
    data = (source / records.LEARNED).read_bytes()
    assert manifest["learned_sha256"] == hashlib.sha256(data).hexdigest()
    state = statefile.loads(data, "kept")
    assert set(state) == {"encoder", "hidden", "q", "q_target", "optimizer"}
    assert "init_from" not in manifest["spec"]  # a run from scratch: identity as before
    fresh = _run(source.parents[3] / "fresh", GOOD)  # same run without keep_learned: no file
    assert not (fresh / records.LEARNED).exists() and "learned_sha256" not in _manifest(fresh)
    assert _episodes(fresh) == _episodes(source)  # keeping the state changes no record
    (source / records.LEARNED).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    try:
        with pytest.raises(UserError, match="learned.safetensors does not match"):
            records.verify_run(source)
    finally:
        (source / records.LEARNED).write_bytes(data)


def test_started_run_loads_the_source_q_under_another_prior(source, tmp_path, monkeypatch):
    loaded = {}
    from priorbench.agents.dqn import ValueAgent
    real = ValueAgent.load_learned

    def spy(self, state, *, optimizer):
        real(self, state, optimizer=optimizer)
        loaded["q"] = {k: v.clone() for k, v in self.q.state_dict().items()}
    monkeypatch.setattr(ValueAgent, "load_learned", spy)
    path = _run(tmp_path, UNIFORM, init_from=str(source))
    kept = statefile.load(source / records.LEARNED)
    assert all(torch.equal(loaded["q"][k], kept["q"][k]) for k in kept["q"])  # the source's weights, not an init
    manifest = _manifest(path)
    facts = manifest["spec"]["init_from"]
    src = _manifest(source)
    assert facts["run"] == f"{ENV}/dqn-prior/seed0" and facts["episodes_sha256"] == src["episodes_sha256"]
    assert facts["learned_sha256"] == src["learned_sha256"] and facts["optimizer"] is False and facts["seed"] == 0
    assert facts["label"] == "FrozenLake-4x4-Random-v0:dqn-prior[SYNTHETIC-oracle-q=0.9]@300"  # with its budget
    assert facts["config"] == records.row_config(src["spec"])
    label = schema.agent_label(manifest)
    assert label == "dqn-prior [SYNTHETIC oracle (q=uniform)] from " + facts["label"]
    assert schema.base_agent(label) == "dqn-prior" and schema.prior_part(label) == "SYNTHETIC oracle (q=uniform)"
    assert schema.row_id(ENV, label) == ("FrozenLake-4x4-Random-v0:dqn-prior[SYNTHETIC-oracle-q=uniform]"
                                         "+from:FrozenLake-4x4-Random-v0:dqn-prior[SYNTHETIC-oracle-q=0.9]@300")
    reduced = schema.budget_label(label, 200)
    assert schema.init_part(reduced) == schema.init_part(label) and schema.budget_part(reduced) == " @200 steps"
    assert schema.control_label(reduced.replace("q=uniform", "q=0.9")) == reduced
    assert schema.control_label(label.replace("q=uniform", "q=0.9")) == label  # the same source, uniform prior
    # the step-0 evaluation plays the source's Q: it differs from a run from scratch
    scratch = _run(tmp_path / "scratch", UNIFORM)
    def first_round(p):
        return [e["success"] for e in records.read_episodes(p / records.EPISODES).records
                if e["phase"] == "eval" and e["env_steps"] == 0]
    assert first_round(path) != first_round(scratch)
    records.verify_run(path)


def test_identity_follows_the_source_not_its_place(source, tmp_path):
    job = RunJob(ENV, "dqn-prior", 0, BUDGET, tmp_path, agent_params=UNIFORM, init_from=str(source))
    import shutil
    shutil.copytree(source, tmp_path / "any-name")  # not even the <env-id>/<agent>/seed<k> layout
    again = RunJob(ENV, "dqn-prior", 0, BUDGET, tmp_path, agent_params=UNIFORM, init_from=str(tmp_path / "any-name"))
    assert job.config() == again.config() and job.config()["init_from"]["run"] == f"{ENV}/dqn-prior/seed0"
    optimizer = RunJob(ENV, "dqn-prior", 0, BUDGET, tmp_path, agent_params=UNIFORM, init_from=str(source),
                       init_optimizer=True)
    assert optimizer.config() != job.config()
    scratch = RunJob(ENV, "dqn-prior", 0, BUDGET, tmp_path, agent_params=UNIFORM)
    assert "init_from" not in scratch.config()


def test_spec_fills_each_seed_and_the_row_is_one_configuration(tmp_path):
    src = tmp_path / "src"
    for seed in (0, 1):
        _run(src, GOOD, seed=seed, keep_learned=True)
    spec = spec_from_dict({"envs": [ENV], "agents": ["dqn-prior"], "seeds": [0, 1], "init_from":
                           f"{src}/{ENV}/dqn-prior/seed{{seed}}", "agent": {"dqn-prior": UNIFORM},
                           "budget": {"steps": 300, "eval_every": 300, "checkpoint_every": 100}}, where="spec")
    jobs = jobs_from_spec(spec, tmp_path / "out")
    assert [j.init_from for j in jobs] == [f"{src}/{ENV}/dqn-prior/seed0", f"{src}/{ENV}/dqn-prior/seed1"]
    paths = [execute(j, progress=False) for j in jobs]
    row = [_manifest(p) for p in paths]
    assert records.row_problems(row) == [None, None]  # per-seed sources do not split the row
    assert len({schema.agent_label(m) for m in row}) == 1


def test_bad_sources_and_settings_are_refused(source, tmp_path):
    def run(**job):
        return _run(tmp_path / "x", UNIFORM, **job)
    with pytest.raises(UserError, match="not a run folder"):
        run(init_from=str(tmp_path / "missing"))
    plain = _run(tmp_path / "plain", GOOD)
    with pytest.raises(UserError, match="kept no learned state.*keep_learned"):
        run(init_from=str(plain))
    with pytest.raises(UserError, match="hidden"):
        _run(tmp_path / "wide", {**UNIFORM, "hidden": 32}, init_from=str(source))
    with pytest.raises(UserError, match="complete run that kept no learned state"):
        _run(tmp_path / "plain", GOOD, keep_learned=True)  # reused, but asked to keep a state it lacks
    with pytest.raises(UserError, match="only field it may hold is"):
        spec_from_dict({"envs": [ENV], "agents": ["dqn"], "init_from": "runs/{env}"}, where="spec")
    with pytest.raises(UserError, match="init_optimizer needs init_from"):
        spec_from_dict({"envs": [ENV], "agents": ["dqn"], "init_optimizer": True}, where="spec")
    spec = spec_from_dict({"envs": [ENV], "agents": ["tabular-q"], "keep_learned": True}, where="spec")
    with pytest.raises(UserError, match="tabular-q.*keeps no learned state"):
        jobs_from_spec(spec, tmp_path / "t")
    # a hostile state file: a link is never read
    linked = tmp_path / "linked"
    import shutil
    shutil.copytree(source, linked / ENV / "dqn-prior" / "seed0")
    target = linked / ENV / "dqn-prior" / "seed0" / records.LEARNED
    target.unlink()
    target.symlink_to(source / records.LEARNED)
    with pytest.raises(UserError, match="symbolic link"):
        run(init_from=str(target.parent))


def test_cli_set_init_from(source, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["run", "--env", ENV, "--agent", "dqn-prior", "--steps", "300", "--out", str(out),
                 "--set", f"init_from={source}", "--set", "init_optimizer=true",
                 "--set", "agent.dqn-prior.prior=oracle", "--set", "agent.dqn-prior.prior_params.q=uniform",
                 "--set", "agent.dqn-prior.lr=0.003", "--set", "agent.dqn-prior.gamma=0.9",
                 "--set", "eval_every=300", "--no-progress"]) == 0
    manifest = _manifest(out / ENV / "dqn-prior" / "seed0")
    assert manifest["spec"]["init_from"]["optimizer"] is True


def test_reproduce_starts_a_transfer_row_from_its_source_again(tmp_path):
    from priorbench.bench import reproduce

    runs = tmp_path / "runs"
    source = _run(runs / "source", GOOD, keep_learned=True)
    _run(runs / "transfer", UNIFORM, init_from=str(source))
    label = "FrozenLake-4x4-Random-v0:dqn-prior[SYNTHETIC-oracle-q=uniform]+from:" \
            "FrozenLake-4x4-Random-v0:dqn-prior[SYNTHETIC-oracle-q=0.9]@300"
    result = reproduce.reproduce(runs, label)
    assert [same for _, same, _, _ in result.seeds] == [True]
    (source / records.LEARNED).unlink()
    (source / records.MANIFEST).unlink()
    with pytest.raises(UserError, match="not under"):
        reproduce.reproduce(runs, label)


def test_the_optimizer_brings_adams_moments_not_its_settings(source, tmp_path, monkeypatch):
    from priorbench.agents.dqn import ValueAgent
    seen = {}
    real = ValueAgent.load_learned

    def spy(self, state, *, optimizer):
        real(self, state, optimizer=optimizer)
        seen["optimizer"] = copy.deepcopy(self.optimizer.state_dict())  # its tensors move in place later
    monkeypatch.setattr(ValueAgent, "load_learned", spy)
    _run(tmp_path, {**UNIFORM, "lr": 0.01}, init_from=str(source), init_optimizer=True)
    kept = statefile.load(source / records.LEARNED)["optimizer"]
    assert seen["optimizer"]["param_groups"][0]["lr"] == 0.01  # this run's setting
    assert kept["state"] and all(torch.equal(seen["optimizer"]["state"][k]["exp_avg"], v["exp_avg"])
                                 for k, v in kept["state"].items())


def test_an_interrupted_transfer_run_resumes_to_the_same_records(source, tmp_path):
    from priorbench.bench.runner import Callbacks

    whole = _run(tmp_path / "whole", UNIFORM, init_from=str(source))
    count = {"n": 0}

    def stop(row):
        count["n"] += 1
        if count["n"] == 40:  # past the first checkpoint (100 steps)
            raise KeyboardInterrupt
    job = RunJob(ENV, "dqn-prior", 0, BUDGET, tmp_path / "cut", agent_params=UNIFORM, init_from=str(source))
    with pytest.raises(KeyboardInterrupt):
        execute(job, progress=False, callbacks=Callbacks(on_episode=stop))
    assert (job.path / "checkpoint").exists()
    resumed = execute(job, progress=False)
    assert _manifest(resumed)["resumed"] == 1 and _episodes(resumed) == _episodes(whole)


def test_one_source_for_many_seeds_and_a_source_that_keeps_nothing_are_refused(tmp_path):
    with pytest.raises(UserError, match=r"names one run for 2 seeds.*\{seed\}"):
        spec_from_dict({"envs": [ENV], "agents": ["dqn"], "seeds": [0, 1], "init_from": "runs/x/seed0"}, where="spec")
    from priorbench.bench import leaderboard_spec
    spec = tmp_path / "lb.toml"
    spec.write_text(f'''runs = "{tmp_path}/runs"
[[experiment]]
name = "src"
folder = "src"
envs = ["{ENV}"]
agents = ["dqn"]
seeds = [0, 1, 2, 3, 4]
[[experiment]]
name = "dst"
folder = "dst"
envs = ["{ENV}"]
agents = ["dqn"]
seeds = [0, 1, 2, 3, 4]
init_from = "{tmp_path}/runs/src/{ENV}/dqn/seed{{seed}}"
''')
    with pytest.raises(UserError, match="no experiment with keep_learned = true writes"):
        leaderboard_spec.load(spec)
    spec.write_text(spec.read_text().replace('name = "src"', 'name = "src"\nkeep_learned = true'))
    assert len(leaderboard_spec.load(spec).experiments) == 2


def test_a_transfer_row_is_compared_with_its_control_only_and_never_ranked(tmp_path):
    from priorbench.bench.leaderboard import stats

    src = "E-v0:dqn-prior[A]@3000"
    moved, control = f"dqn-prior [A] from {src}", f"dqn-prior [{schema.UNIFORM_CONTROL}] from {src}"
    pairs = stats.key_pairs([moved, control, "dqn", "llm [A]", "dqn-prior [A]"])
    assert (moved, control) in pairs and not [p for p in pairs if p[0] == moved and p[1] != control]
    assert schema.control_label(moved) == control


def test_a_hostile_source_record_is_refused(source, tmp_path):
    manifest = _manifest(_run(tmp_path, UNIFORM, init_from=str(source)))
    for change in ({"label": "E:x y"}, {"learned_sha256": "0" * 63}, {"extra": 1}, {"seed": True}):
        spec = {**manifest["spec"], "init_from": {**manifest["spec"]["init_from"], **change}}
        with pytest.raises(UserError, match="spec.init_from"):
            schema.RunSpec.check(spec, "m")


@pytest.mark.slow
def test_a_leaderboard_spec_runs_its_transfer_experiments_after_their_sources(tmp_path):
    from priorbench.bench import leaderboard_spec

    spec = tmp_path / "lb.toml"
    common = f'envs = ["{ENV}"]\nagents = ["dqn"]\nseeds = [0, 1, 2, 3, 4]\n' \
             "budget = { steps = 100, eval_every = 100, checkpoint_every = 100 }\n"
    # the transfer experiment comes first in the file: the runner still makes its sources first
    spec.write_text(f'runs = "{tmp_path}/runs"\n[[experiment]]\nname = "dst"\nfolder = "dst"\n{common}'
                    f'init_from = "{tmp_path}/runs/src/{ENV}/dqn/seed{{seed}}"\n'
                    f'[[experiment]]\nname = "src"\nfolder = "src"\nkeep_learned = true\n{common}')
    paths = leaderboard_spec.run(spec, progress=False)
    moved = [p for p in paths if "/dst/" in str(p)]
    assert len(paths) == 10 and len(moved) == 5
    assert all(_manifest(p)["spec"]["init_from"]["seed"] == _manifest(p)["seed"] for p in moved)
