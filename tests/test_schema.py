"""The run-record schema (bench/schema.py) and the runner's callbacks."""

import json
from pathlib import Path

import pytest

from priorbench.bench import records, schema
from priorbench.bench.runner import Callbacks, RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core.errors import UserError

ENV = "priorbench/FrozenLake-4x4-v0"
GOLDEN = Path(__file__).resolve().parent / "golden" / "records"


def _run(tmp_path: Path, callbacks: Callbacks | None = None) -> Path:
    job = RunJob(ENV, "tabular-q", 0, Budget(steps=300, eval_every=100, checkpoint_every=100), tmp_path)
    return execute(job, progress=False, callbacks=callbacks)


def test_written_records_parse_back_to_the_same_json(tmp_path):
    path = _run(tmp_path)
    manifest = json.loads((path / records.MANIFEST).read_text())
    assert schema.Manifest.from_json(manifest, str(path)).to_json() == manifest
    rows = records.read_episodes(path / records.EPISODES).records
    kinds = {type(schema.parse_row(r, "row")) for r in rows}
    assert kinds == {schema.EpisodeRow}
    assert [schema.parse_row(r, "row").to_json() for r in rows] == rows


def test_committed_records_fit_the_schema():
    """Every stored run the tests and the leaderboard read parses, and writes back the same."""
    roots = [GOLDEN, Path(__file__).resolve().parent.parent / "leaderboard" / "runs"]
    paths = [p for root in roots for p in records.find_runs(root)]
    assert len(paths) > 20
    offline = 0
    for path in paths:
        manifest, rows = records.verify_run(path)
        assert schema.Manifest.from_json(manifest, str(path)).to_json() == manifest
        parsed = [schema.parse_row(r, str(path)) for r in rows]
        assert [p.to_json() for p in parsed] == rows
        offline += any(isinstance(p, schema.GradientStepsRow) for p in parsed)
    assert offline > 0  # the cql rows are gradient-step stretches


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.pop("success"), "has no 'success'"),
    (lambda r: r.update(success=1), "has no valid 'success'"),
    (lambda r: r.update(env_steps=True), "has no valid 'env_steps'"),
    (lambda r: r.update(phase="test"), "has no valid 'phase'"),
    (lambda r: r.pop("eval_round"), "eval episode without eval_round"),
])
def test_bad_episode_rows_are_refused(edit, message):
    row = {"phase": "eval", "episode": 0, "env_steps": 0, "task": "4x4", "return": 0.0,
           "success": False, "length": 3, "score": 0.0, "max_score": 1.0, "invalid_actions": 0,
           "truncated": False, "counters": {}, "timing": {"wall_s": 0.1}, "eval_round": 0}
    schema.parse_row(dict(row), "line 1")
    edit(row)
    with pytest.raises(UserError, match=message):
        schema.parse_row(row, "line 1")


def test_bad_manifest_is_refused(tmp_path):
    path = _run(tmp_path)
    manifest = json.loads((path / records.MANIFEST).read_text())
    broken = {**manifest, "status": "finished"}
    with pytest.raises(UserError, match="no valid 'status'"):
        schema.Manifest.from_json(broken, "run")
    broken = {**manifest, "spec": {**manifest["spec"], "budget": {"steps": 300}}}
    with pytest.raises(UserError, match=r"spec.budget has no 'eval_every'"):
        schema.Manifest.from_json(broken, "run")


def test_summary_fields_match_the_dict_view(tmp_path):
    from priorbench.bench import metrics

    manifest, rows = records.verify_run(_run(tmp_path))
    summary = metrics.summarise(manifest, rows)
    assert isinstance(summary, schema.RunSummary)
    as_dict = metrics.run_summary(manifest, rows)
    assert as_dict["return"] == summary.return_ and as_dict["success"] == summary.success
    assert set(as_dict) == {f for f in schema.RunSummary.__dataclass_fields__} - {"return_"} | {"return"}


def test_callbacks_see_the_run_without_changing_it(tmp_path):
    seen: dict[str, list] = {"start": [], "episode": [], "evaluation": []}
    callbacks = Callbacks(
        on_start=lambda agent, train, test: seen["start"].append((agent, train.tasks, test.tasks)),
        on_episode=lambda row: seen["episode"].append(row),
        on_evaluation=lambda steps, rows: seen["evaluation"].append((steps, len(rows))),
    )
    watched = _run(tmp_path / "watched", callbacks)
    plain = _run(tmp_path / "plain")
    assert len(seen["start"]) == 1
    stored = records.read_episodes(watched / records.EPISODES).records
    assert [r.to_json() for r in seen["episode"]] == stored
    assert [s for s, _ in seen["evaluation"]] == [0, 100, 200, 300]
    assert all(n == 1 for _, n in seen["evaluation"])  # one test map, one episode each
    assert records.strip_timing(stored) == records.strip_timing(
        records.read_episodes(plain / records.EPISODES).records)


def test_a_key_inside_an_agent_table_can_be_set():
    """agent.<name>.prior_params.q=… sets one key of the table, keeping the others."""
    from priorbench.bench.spec import apply_overrides

    data = {"agents": ["dqn-prior"], "agent": {"dqn-prior": {"prior_params": {"rest": "uniform"}}}}
    out = apply_overrides(data, ["agent.dqn-prior.prior_params.q=0.5", "agent.dqn-prior.prior=oracle"],
                          where="test")
    assert out["agent"]["dqn-prior"] == {"prior_params": {"rest": "uniform", "q": 0.5}, "prior": "oracle"}
    assert data["agent"]["dqn-prior"]["prior_params"] == {"rest": "uniform"}  # the input untouched
    with pytest.raises(UserError, match="not a table"):
        apply_overrides(out, ["agent.dqn-prior.prior.q=1"], where="test")
