"""The leaderboard: metrics on hand-made arrays, byte-identical rebuilds, golden files,
integrity refusals, reproduce and cite.

Golden files: tests/golden/records (real runs) → tests/golden/expected. After a deliberate
change to the leaderboard's output, regenerate them with `python -m tests.golden.regenerate`
(add `--runs` to re-create the records too) and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from priorbench.bench import (
    cite,
    leaderboard,
    leaderboard_spec,
    metrics,
    records,
    reproduce,
    schema,
)
from priorbench.bench.leaderboard.claims import CLAIMS
from priorbench.bench.leaderboard.quality import PRIOR_QUALITY
from priorbench.bench.leaderboard.verified import (
    VERIFIED,
    read_marks,
    row_ref,
    runs_digest,
    write_marks,
)
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core.errors import UserError
from tests.conftest import ROOT
from tests.golden.regenerate import EXPECTED, RECORDS

LAKE = "priorbench/FrozenLake-4x4-v0"


# --- metrics on hand-made arrays -----------------------------------------------------------

def _ep(phase: str, steps: int, success: bool, task: str = "t0", rnd: int | None = None,
        ret: float | None = None, max_score: float = 1.0, **counters: float) -> dict:
    record = {"phase": phase, "env_steps": steps, "success": success, "task": task,
              "return": float(success) if ret is None else ret, "max_score": max_score,
              "counters": counters}
    if rnd is not None:
        record["eval_round"] = rnd
    return record


def test_per_run_metrics_exact():
    eps = [_ep("eval", 0, True, ret=2.0, max_score=4.0), _ep("eval", 0, False, ret=1.0, max_score=1.0),
           _ep("eval", 0, True, ret=5.0, max_score=0.0)]
    assert metrics.success_rate(eps) == 2 / 3
    assert metrics.mean_return(eps) == 8 / 3
    assert metrics.normalised_return(eps) == 0.75  # (2/4 + 1/1) / 2; max_score 0 is skipped
    assert np.isnan(metrics.success_rate([])) and np.isnan(metrics.normalised_return([]))

    assert metrics.steps_to_threshold([0, 100, 200, 300], [0.0, 0.5, 0.9, 1.0], 0.9) == 200
    assert metrics.steps_to_threshold([0, 100], [0.2, 0.89], 0.9) is None
    assert metrics.steps_to_threshold([0], [1.0]) == 0

    assert metrics.sample_efficiency_auc([0, 100, 200], [0.0, 0.5, 1.0], 200) == 0.5
    assert metrics.sample_efficiency_auc([0], [0.4], 3000) == 0.4  # does not train: flat
    assert metrics.sample_efficiency_auc([0, 100], [0.0, 1.0], 300) == pytest.approx(250 / 300)
    assert metrics.sample_efficiency_auc([0, 50, 100], [1.0, 1.0, 1.0], 100) == 1.0
    assert metrics.sample_efficiency_auc([100, 200], [0.5, 1.0], 200) == pytest.approx(0.625)

    assert metrics.carry_forward([0, 100, 200], [0.1, 0.2, 0.3], [0, 50, 100, 150, 250]).tolist() == \
        [0.1, 0.1, 0.2, 0.2, 0.3]
    assert metrics.mean_se([1.0, 2.0, 3.0, 4.0]) == pytest.approx((2.5, np.std([1, 2, 3, 4], ddof=1) / 2))
    assert np.isnan(metrics.mean_se([1.0])[1])


def test_run_summary_from_records():
    run = [
        _ep("eval", 0, False, "a", 0), _ep("eval", 0, False, "b", 0),
        _ep("train", 50, False, llm_calls=3, llm_tokens=40),
        _ep("eval", 100, True, "a", 1), _ep("eval", 100, False, "b", 1),
        _ep("train", 200, True, llm_calls=2, llm_tokens=25),
        _ep("eval", 200, True, "a", 2), _ep("eval", 200, True, "b", 2),
    ]
    manifest = {"env": {"id": LAKE, "version": "v0"}, "agent": {"name": "x"}, "seed": 4,
                "spec": {"budget": {"steps": 200}}, "final_env_steps": 200, "timing": {"wall_s": 1.5}}
    s = metrics.run_summary(manifest, run)
    assert metrics.learning_curve(run) == [(0, 0.0, 0.0), (100, 0.5, 0.5), (200, 1.0, 1.0)]
    assert metrics.task_curve(run)[1] == (100, {"a": 1.0, "b": 0.0})
    assert s["success"] == 1.0 and s["task_success"] == {"a": 1.0, "b": 1.0}
    assert s["auc"] == 0.5  # trapezoids: (0 + 0.5)/2 * 100 + (0.5 + 1)/2 * 100, over 200
    assert s["steps_to_threshold"] == 200
    assert (s["llm_calls"], s["llm_tokens"], s["wall_s"], s["env_steps"]) == (5.0, 65.0, 1.5, 200)


def test_rliable_aggregates():
    scores = np.arange(8.0).reshape(8, 1)
    assert metrics.iqm(scores) == 3.5  # the mean of the middle half: 2, 3, 4, 5
    point, lower, upper = metrics.iqm_ci(scores)
    assert point == 3.5 and lower < point < upper
    assert metrics.iqm_ci(scores) == (point, lower, upper)  # a fixed bootstrap seed
    np.random.seed(123)  # whatever the global RNG was, the interval is the same
    assert metrics.iqm_ci(scores) == (point, lower, upper)
    assert metrics.iqm_ci(np.ones((3, 2))) == (1.0, 1.0, 1.0)
    assert metrics.probability_of_improvement_ci(np.ones((3, 2)), np.zeros((4, 2))) == (1.0, 1.0, 1.0)
    assert metrics.probability_of_improvement_ci(np.ones((3, 2)), np.ones((3, 2))) == (0.5, 0.5, 0.5)
    p, lo, hi = metrics.probability_of_improvement_ci(np.array([[1.0], [0.0]]), np.array([[0.5], [0.5]]))
    assert p == 0.5 and lo <= p <= hi
    curve = np.stack([np.full((4, 1), 0.0), np.arange(4.0).reshape(4, 1)], axis=-1)
    mid, low, high = metrics.iqm_curve_ci(curve)
    assert mid.tolist() == [0.0, 1.5] and low[0] == high[0] == 0.0 and low[1] <= 1.5 <= high[1]


def _rliable(scores, func, reps):
    """rliable's own interval (the reference the vectorised bootstrap must match to the bit)."""
    from rliable import library as rly

    from priorbench.core.seeding import fixed_numpy_rng

    with fixed_numpy_rng(metrics.BOOTSTRAP_SEED):
        point, interval = rly.get_interval_estimates({"x": scores}, func, reps=reps,
                                                     confidence_interval_size=metrics.CI_SIZE)
    return np.asarray(point["x"], dtype=float).reshape(-1), np.asarray(interval["x"], dtype=float).reshape(2, -1)


def test_the_bootstrap_is_rliables_to_the_bit():
    """Every interval equals rliable's own (same draws, trimmed means, percentiles): success
    rates of a few seeds, continuous scores, ties, one run, and unequal run counts."""
    from rliable import metrics as rlm

    g = np.random.default_rng(7)
    state = np.random.get_state()
    for trial in range(24):
        runs, tasks, points = int(g.integers(1, 8)), int(g.integers(1, 4)), int(g.integers(1, 6))
        draw = (lambda *shape: g.random(shape)) if trial % 3 == 1 else (lambda *shape: g.integers(0, 6, shape) / 5)
        m = draw(runs, tasks)
        if not np.all(m == m.flat[0]):  # constant scores skip the bootstrap (tested above)
            point, interval = _rliable(m, lambda x: np.array([rlm.aggregate_iqm(x)]), 200)
            assert metrics.iqm_ci(m, reps=200) == (point[0], interval[0, 0], interval[1, 0])
        c = draw(runs, 1, points)
        if not np.all(c == c.flat[0]):
            point, interval = _rliable(
                c, lambda x: np.array([rlm.aggregate_iqm(x[..., j]) for j in range(x.shape[-1])]), 100)
            mid, low, high = metrics.iqm_curve_ci(c, reps=100)
            assert mid.tolist() == point.tolist() and low.tolist() == interval[0].tolist()
            assert high.tolist() == interval[1].tolist()
        y = m.copy() if trial % 4 == 0 else draw(runs if trial % 2 else int(g.integers(1, 8)), tasks)
        point, interval = _rliable([m, y], rlm.probability_of_improvement, 100)
        assert metrics.probability_of_improvement_ci(m, y, reps=100) == (point[0], interval[0, 0], interval[1, 0])
    np.random.set_state(state)
    before = np.random.get_state()[1].copy()
    metrics.iqm_ci(np.arange(6.0).reshape(3, 2))
    assert np.array_equal(np.random.get_state()[1], before)  # numpy's global RNG is left alone


def test_key_pairs():
    assert leaderboard.key_pairs(["dqn", "dqn-prior", "llm", "random"]) == [
        ("dqn-prior", "dqn"), ("dqn-prior", "llm")]
    assert leaderboard.key_pairs(["vi", "twosome", "ppo"]) == [("vi", "twosome"), ("vi", "ppo")]
    assert leaderboard.key_pairs(["expert", "random", "tabular-q"]) == [
        ("expert", "random"), ("tabular-q", "random")]
    assert leaderboard.key_pairs(["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_key_pairs_on_labelled_rows():
    """Rows carry their prior in the label: each prior's row meets the plain agent and the llm
    row of the same prior only."""
    cal, plain = "[smollm2-135m, calibration=contextual]", "[smollm2-135m]"
    oracle = "[SYNTHETIC oracle (q=0.9)]"
    labels = ["dqn", f"dqn-prior {cal}", f"dqn-prior {oracle}", f"llm {cal}", f"llm {plain}",
              f"vi {plain}", "ppo"]
    assert leaderboard.key_pairs(labels) == [
        (f"dqn-prior {oracle}", "dqn"), (f"dqn-prior {cal}", "dqn"), (f"dqn-prior {cal}", f"llm {cal}"),
        (f"vi {plain}", "ppo"), (f"vi {plain}", f"llm {plain}")]


def _manifest(prior: dict) -> dict:
    return {"agent": {"name": "dqn-prior"}, "agent_provenance": {"prior": prior}}


def test_the_prior_is_part_of_a_rows_key():
    """Two priors never share a row: model, adapter, calibration and list style are in the label."""
    base = {"backend": "hf", "model_id": "smollm2-135m"}
    labels = {schema.agent_label(_manifest(p)) for p in (
        base, {**base, "calibration": "contextual"}, {**base, "list_style": "numbered"},
        {**base, "adapter": {"sha256": "0162b203aa23c53e99"}}, {**base, "model_id": "gemma3-270m"})}
    assert labels == {"dqn-prior [smollm2-135m]", "dqn-prior [smollm2-135m, calibration=contextual]",
                      "dqn-prior [smollm2-135m, list_style=numbered]",
                      "dqn-prior [smollm2-135m + adapter 0162b203]", "dqn-prior [gemma3-270m]"}
    assert schema.agent_label({"agent": {"name": "dqn"}}) == "dqn"
    synthetic = schema.agent_label(_manifest({"synthetic": True, "label": "SYNTHETIC oracle (q=0.9)"}))
    assert schema.is_synthetic(synthetic) and schema.base_agent(synthetic) == "dqn-prior"
    assert not schema.is_synthetic("dqn-prior [smollm2-135m]")


def _board(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


_EXPERIMENT = """
[[experiment]]
name = "{name}"
envs = ["priorbench/FrozenLake-4x4-v0"]
agents = ["dqn-prior"]
seeds = [0, 1, 2, 3, 4]
{folder}
[experiment.agent.dqn-prior]
prior = "oracle"
prior_params = {{q = {q}}}
"""


def test_leaderboard_spec_keeps_two_priors_of_one_agent_apart(tmp_path):
    """Two experiments of one agent on one env (another prior) would overwrite each other's runs:
    the spec refuses that, and an experiment's `folder` puts its runs beside the others'."""
    same = _EXPERIMENT.format(name="a", folder="", q=0.5) + _EXPERIMENT.format(name="b", folder="", q=0.9)
    with pytest.raises(UserError, match="both write dqn-prior on priorbench/FrozenLake-4x4-v0.*folder"):
        leaderboard_spec.load(_board(tmp_path, same))
    apart = _EXPERIMENT.format(name="a", folder="", q=0.5) + _EXPERIMENT.format(
        name="b", folder='folder = "oracle-0.9"', q=0.9)
    spec = leaderboard_spec.load(_board(tmp_path, 'runs = "r"\n' + apart))
    assert [spec.runs_of(i) for i in range(2)] == [Path("r"), Path("r/oracle-0.9")]
    with pytest.raises(UserError, match="folder must be a relative subfolder"):
        leaderboard_spec.load(_board(tmp_path, _EXPERIMENT.format(name="a", folder='folder = "../x"', q=0.5)))


def test_a_leaderboard_dataset_is_played_with_its_envs_settings(cwd):
    """A [[dataset]] with env_kwargs is collected under them, and an offline agent run with the
    same env settings loads it (the loader refuses a dataset of other settings)."""
    from priorbench.bench import datasets

    spec = cwd / "spec.toml"
    spec.write_text(
        'runs = "lb/runs"\ndatasets = "lb/datasets"\n'
        '[[dataset]]\nname = "lake-short-v0"\nenv = "priorbench/FrozenLake-4x4-v0"\npolicy = "mixture:0.5"\n'
        'episodes = 4\nenv_kwargs = { max_steps = 8 }\n'
        '[[experiment]]\nname = "short"\nenvs = ["priorbench/FrozenLake-4x4-v0"]\nagents = ["cql"]\n'
        'seeds = [0, 1, 2, 3, 4]\nenv = { max_steps = 8 }\n'
        '[experiment.budget]\nsteps = 20\neval_every = 20\n'
        '[experiment.agent.cql]\ndataset = "lb/datasets/priorbench/lake-short-v0"\n')
    folders = leaderboard_spec.run(spec, progress=False)
    assert len(folders) == 5
    assert datasets.read_provenance(cwd / "lb/datasets/priorbench/lake-short-v0")["env_kwargs"] == {"max_steps": 8}
    manifest = json.loads((folders[0] / "manifest.json").read_text())
    assert manifest["spec"]["env_kwargs"] == {"max_steps": 8}
    evaluations = [e for f in folders for e in map(json.loads, (f / "episodes.jsonl").read_text().splitlines())
                   if e["phase"] == "eval"]
    assert evaluations and all(e["length"] <= 8 for e in evaluations)


# --- building --------------------------------------------------------------------------------

def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fresh_runs(tmp_path_factory) -> Path:
    """Real small runs of the bundled agents, made now through the runner."""
    out = tmp_path_factory.mktemp("runs")
    budget = Budget(steps=300, eval_every=100)
    for agent in ("random", "expert", "tabular-q"):
        for seed in (0, 1):
            execute(RunJob(LAKE, agent, seed, budget, out), progress=False)
    return out


def test_rebuild_is_byte_identical(fresh_runs, tmp_path, cli):
    a, b = tmp_path / "a", tmp_path / "b"
    rows, refused = leaderboard.build(fresh_runs, a)
    assert len(rows) == 3 and refused == []
    # from a folder without a leaderboard/ of its own: no committed context (--context) to add
    result = cli("leaderboard", "build", "--runs", str(fresh_runs), "--out", str(b), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files_a, files_b = _files(a), _files(b)
    assert files_a == files_b
    expected = {"LEADERBOARD.md", "leaderboard.csv", "leaderboard_full.csv", "leaderboard.tex",
                "site/index.html", "plots/RENDERER", "plots/final-iqm.png",
                "plots/probability-of-improvement.png", "plots/curves.png"}
    assert set(files_a) == expected
    tex = files_a["leaderboard.tex"].decode()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert str(fresh_runs) not in files_a["LEADERBOARD.md"].decode()  # no machine paths
    for png in (k for k in files_a if k.endswith(".png")):
        assert files_a[png].startswith(b"\x89PNG") and b"Software" not in files_a[png]
    site = files_a["site/index.html"].decode()
    assert site.count("data:image/png;base64,") == 3 and "<script>" in site


def test_a_failed_build_leaves_the_old_outputs_whole(fresh_runs, tmp_path, monkeypatch):
    from priorbench.bench.leaderboard import plots

    out = tmp_path / "lb"
    leaderboard.build(fresh_runs, out)
    before = _files(out)
    stale = out / ".build-999999999-x"  # a build killed mid-way (its process is gone)
    stale.mkdir()
    (stale / "LEADERBOARD.md").write_text("half-written\n")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))

    def boom(*args, **kwargs):
        raise RuntimeError("killed while drawing")

    monkeypatch.setattr(plots, "plot_final", boom)
    with pytest.raises(RuntimeError, match="killed while drawing"):
        leaderboard.build(fresh_runs, out)
    assert _files(out) == before  # old tables and plots whole, both staging folders gone
    monkeypatch.undo()
    leaderboard.build(fresh_runs, out)
    assert _files(out) == before


def test_golden_files():
    """The committed records build to the committed expected outputs (regenerate:
    `python -m tests.golden.regenerate`)."""
    expected = {p.relative_to(EXPECTED).as_posix(): p.read_text()
                for p in sorted(EXPECTED.rglob("*")) if p.is_file()}
    from tests.golden.regenerate import expected_snapshot

    actual = expected_snapshot(RECORDS)
    assert leaderboard.snapshot_differences(expected, actual) == [], (
        "the leaderboard built from tests/golden/records differs from tests/golden/expected; "
        "if the change is intended run `python -m tests.golden.regenerate` and review the diff")
    assert "## Refused runs" not in actual["LEADERBOARD.md"]
    csv = actual["leaderboard.csv"].splitlines()
    assert csv[0] == ",".join(leaderboard.TABLE_COLUMNS) and len(csv) == 7


#: The committed boards: the folder, and the protocol its build refuses other runs by.
COMMITTED_BOARDS = {"leaderboard": None, "leaderboard/core-v1": "leaderboard/core-v1/protocol.toml",
                    "leaderboard/babyai-v1": "leaderboard/babyai-v1/protocol.toml"}


@pytest.mark.parametrize("board", list(COMMITTED_BOARDS))
def test_committed_leaderboard_is_current(tmp_path, board):
    """CI: each committed board equals a rebuild from its committed runs, built with --strict."""
    from priorbench.bench.leaderboard.protocol import load_protocol

    folder, protocol = ROOT / board, COMMITTED_BOARDS[board]
    runs = folder / "runs"
    assert runs.exists() and records.find_runs(runs), f"{board}/runs/ holds no committed runs"
    for name in (leaderboard.NOTES, CLAIMS, VERIFIED, PRIOR_QUALITY):  # inputs of the build, like the runs
        if (folder / name).exists():
            (tmp_path / name).write_text((folder / name).read_text())
    leaderboard.build(runs, tmp_path, load_protocol(ROOT / protocol) if protocol else None,
                      strict=True)  # every claim of the notes holds on the records
    differences = leaderboard.snapshot_differences(leaderboard.snapshot(folder), leaderboard.snapshot(tmp_path))
    assert differences == [], (
        f"{board}/ is out of date in {differences}: run `priorbench leaderboard build --runs {board}/runs "
        f"--out {board}" + (f" --protocol {protocol}" if protocol else "") + " --strict` and commit the result")


def test_finished_rows_waits_for_a_running_run_and_names_a_broken_one(fresh_runs, tmp_path):
    """The experiment pages' reader: a run still running is left out of its row, not refused
    loudly; a run whose records are wrong stops the page with its path."""
    from priorbench.bench.leaderboard.stats import finished_rows

    runs = tmp_path / "runs"
    shutil.copytree(fresh_runs, runs)
    assert finished_rows([tmp_path / "absent"]) == []
    manifest = runs / LAKE / "tabular-q" / "seed1" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"status": "complete"', '"status": "running"'))
    rows = {row.id: len(row.runs) for row in finished_rows([runs, tmp_path / "absent"], {LAKE})}
    assert rows == {"FrozenLake-4x4-v0:expert": 2, "FrozenLake-4x4-v0:random": 2, "FrozenLake-4x4-v0:tabular-q": 1}
    (runs / LAKE / "random" / "seed0" / "episodes.jsonl").write_text("{}\n")
    with pytest.raises(UserError, match=r"1 refused run.*random.*seed0"):
        finished_rows([runs], {LAKE})


def test_verify_marks_rows_and_a_changed_row_loses_its_mark(fresh_runs, tmp_path, cli):
    runs = tmp_path / "runs"
    shutil.copytree(fresh_runs, runs)
    results, marks = reproduce.verify(runs, max_seconds=60)
    assert [m["row"] for m in marks] == [f"FrozenLake-4x4-v0:{a}" for a in ("expert", "random", "tabular-q")]
    assert all(m["seeds"] == [0, 1] for m in marks) and len(results) == 3
    out = tmp_path / "lb"
    out.mkdir()
    write_marks(out, marks)
    leaderboard.build(runs, out)
    section = (out / "LEADERBOARD.md").read_text().split("## Verified rows", 1)[1].split("## Plots")[0]
    for agent in ("expert", "random", "tabular-q"):
        assert re.search(rf"\| FrozenLake-4x4-v0:{agent} +\| 0 1 ", section), section
    assert 'id="verified-rows"' in (out / "site" / "index.html").read_text()
    shutil.rmtree(runs / LAKE / "tabular-q" / "seed1")  # the row's runs change: its mark is gone
    leaderboard.build(runs, out)
    section = (out / "LEADERBOARD.md").read_text().split("## Verified rows", 1)[1].split("## Plots")[0]
    assert "tabular-q" not in section and "| FrozenLake-4x4-v0:random" in section
    result = cli("leaderboard", "verify", "--runs", str(runs), "--row", f"{LAKE}:dqn")
    assert result.returncode == 2 and "no row" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("board", list(COMMITTED_BOARDS))
def test_the_committed_verified_rows_still_reproduce(board):
    """CI re-runs every row marked verified in each committed board's verified.json: a mark on
    main is one this suite re-ran and matched."""
    marks = read_marks(ROOT / board)
    assert marks, f"{board}/verified.json marks no row"
    rows, _ = reproduce.stored_rows(ROOT / board / "runs")
    by_ref = {row_ref(r.env, r.agent): r for r in rows}
    for ref, mark in marks.items():
        row = by_ref.get(ref)
        assert row is not None and mark["runs_sha256"] == runs_digest(row.runs), (
            f"{ref}: its runs changed since it was verified; run `priorbench leaderboard verify --write`")
        result = reproduce.reproduce_row(row)
        assert [same for _, same, _, _ in result.seeds] == [True] * len(row.runs), result.report()


# --- integrity -----------------------------------------------------------------------------

def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def test_tampered_and_mixed_records_are_refused(tmp_path, cli):
    runs = tmp_path / "runs"
    shutil.copytree(RECORDS, runs)
    lake = runs / LAKE
    # 1. an episode edited after the run (the checksum no longer matches)
    episodes = lake / "random" / "seed0" / "episodes.jsonl"
    lines = episodes.read_text().splitlines()
    first = json.loads(lines[0])
    first["success"], first["return"] = True, 1.0
    episodes.write_text("\n".join([json.dumps(first, sort_keys=True), *lines[1:]]) + "\n")
    # 2. a manifest from another schema
    _edit_json(lake / "expert" / "seed1" / "manifest.json", lambda m: m.update(schema_version=99))
    # 3. an agent parameter edited in the manifest (its spec hash no longer matches)
    _edit_json(lake / "tabular-q" / "seed2" / "manifest.json",
               lambda m: m["spec"]["agent_params"].update(lr=0.9))
    # 4. one seed of a row made by another priorbench version: the whole row is refused
    _edit_json(runs / "priorbench/FrozenLake-4x4-Random-v0/random/seed1/manifest.json",
               lambda m: m["packages"].update(priorbench="0.0.9"))

    out = tmp_path / "lb"
    result = cli("leaderboard", "build", "--runs", str(runs), "--out", str(out))
    assert result.returncode == 1, result.stderr  # built from the usable runs, exit 1: runs were refused
    md = (out / "LEADERBOARD.md").read_text()
    refused_md = md.split("## Refused runs", 1)[1]
    expected = {
        f"{LAKE}/random/seed0": "episodes.jsonl checksum does not match",
        f"{LAKE}/expert/seed1": "schema version 99, expected 1",
        f"{LAKE}/tabular-q/seed2": "spec_hash does not match",
        **{f"priorbench/FrozenLake-4x4-Random-v0/random/seed{k}": "mixed priorbench versions"
           for k in (0, 1, 2)},
    }
    for path, why in expected.items():
        assert f"- `{path}`: {why}" in refused_md, (path, refused_md)
        assert f"refused {path}: {why}" in result.stderr
    assert refused_md.count("\n- `") == len(expected)
    table = md.split("## All envs", 1)[0]
    assert not re.search(r"\| priorbench/FrozenLake-4x4-Random-v0 +\| held out +\| random", table)  # the mixed row is gone
    assert re.search(rf"\| {re.escape(LAKE)} +\| train = test +\| random +\| +2 \|", table)  # 2 seeds left
    _, refused = leaderboard.collect(runs)
    assert [p for p, _ in refused] == sorted(expected)


def test_verify_run_checks_rows():
    paths = records.find_runs(RECORDS / LAKE / "tabular-q")
    manifests = [records.verify_run(p)[0] for p in paths]
    records.verify_run(paths[0], row=manifests)  # a clean row passes
    other_budget = json.loads(json.dumps(manifests[1]))
    other_budget["spec"]["budget"]["steps"] = 999
    with pytest.raises(UserError, match="mixes 2 configurations"):
        records.verify_run(paths[0], row=[manifests[0], other_budget, manifests[2]])
    with pytest.raises(UserError, match="seed 0 appears 2 times"):
        records.verify_run(paths[0], row=[manifests[0], manifests[0]])


# --- reproduce and cite ----------------------------------------------------------------------

def test_reproduce_tiny_row(tmp_path, cli):
    runs = tmp_path / "runs"
    budget = Budget(steps=200, eval_every=100)
    for seed in (0, 1):
        execute(RunJob(LAKE, "tabular-q", seed, budget, runs), progress=False)
    execute(RunJob(LAKE, "random", 0, budget, runs), progress=False)
    result = cli("reproduce", f"{LAKE}:tabular-q", "--runs", str(runs))
    assert result.returncode == 0, result.stderr
    assert "row FrozenLake-4x4-v0:tabular-q (priorbench/FrozenLake-4x4-v0 tabular-q; 2 of 2 seeds re-run)" in result.stdout
    assert "inside the stored CI" in result.stdout
    assert "episode records identical (timing ignored): 2/2 seeds" in result.stdout

    new = tmp_path / "again"
    found = reproduce.reproduce(runs, "1", out=new, seeds=[1])
    assert found.inside and found.seeds == [(1, True, found.seeds[0][2], found.seeds[0][3])]
    assert (records.run_dir(new, LAKE, "tabular-q", 1) / "manifest.json").exists()
    assert not records.run_dir(new, LAKE, "tabular-q", 0).exists()

    inside = cli("reproduce", "0", "--runs", str(runs), "--out", str(runs / "again"))
    assert inside.returncode == 2 and "would replace the stored runs" in inside.stderr
    missing = cli("reproduce", "7", "--runs", str(runs))
    assert missing.returncode == 2 and "no row 7: the leaderboard has rows 0–1" in missing.stderr


def test_cite(cli, tmp_path):
    result = cli("cite", "--runs", str(RECORDS))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for key in ("@software{priorbench", "@inproceedings{yan2025efficient", "@inproceedings{agarwal2021deep",
                "@article{watkins1992q"):
        assert key in out, key
    assert "kumar2020conservative" not in out and "tan2024true" not in out
    missing = cli("cite", "--runs", str(tmp_path / "none"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    everything = cli("cite", "--all").stdout
    for key in cite.BIBTEX:
        assert "{" + key + "," in everything, key
    assert everything.count("@") == len(cite.BIBTEX)

    keys, unknown = cite.references(
        ["dqn-prior", "cql", "twosome", "llm", "mystery", "random"], ["priorbench/ALFWorld-Pick-v0"])
    assert keys == ["priorbench", "yan2025efficient", "agarwal2021deep", "kumar2020conservative",
                    "he2016deep", "tan2024true", "schulman2017proximal", "shridhar2021alfworld",
                    "cote2018textworld"]
    assert unknown == ["mystery"]


def test_reproduce_compares_numbers_with_a_stated_tolerance():
    stored = [{"phase": "train", "return": 1.0, "update": {"td_loss": 0.25, "q_mean": 0.5}, "timing": {"wall_s": 1}}]
    near = [{"phase": "train", "return": 1.0, "update": {"td_loss": 0.25 + 1e-10, "q_mean": 0.5}, "timing": {"wall_s": 9}}]
    far = [{"phase": "eval", "return": 0.0, "update": {"td_loss": 0.3, "q_mean": 0.5}, "timing": {}}]
    assert records.diff_episodes(stored, stored) == {"exact": True, "close": True, "fields": {}}
    got = records.diff_episodes(stored, near)
    assert not got["exact"] and got["close"] and list(got["fields"]) == ["update.td_loss"]
    assert got["fields"]["update.td_loss"]["max_abs_diff"] == pytest.approx(1e-10, rel=1e-3)
    got = records.diff_episodes(stored, far)
    assert not got["close"] and set(got["fields"]) == {"phase", "return", "update.td_loss"}
    assert not records.diff_episodes(stored, stored + stored)["close"]


@pytest.mark.slow
def test_the_committed_runs_follow_the_protocol():
    from priorbench.bench.leaderboard.protocol import load_protocol

    protocol = load_protocol(ROOT / "leaderboard" / "protocol.toml")
    groups, refused = leaderboard.collect(ROOT / "leaderboard" / "runs", protocol)
    assert refused == [] and groups


def test_the_protocol_refuses_runs_made_otherwise(fresh_runs):
    from priorbench.bench.leaderboard.protocol import EnvTerms, Protocol, refusal

    run = next(iter(leaderboard.collect(fresh_runs)[0].values()))[0]
    protocol = Protocol("core-v0", 1, (0, 1), (EnvTerms(LAKE, steps=300, eval_every=100),))
    assert refusal(run.manifest, protocol) is None
    other = Protocol("core-v0", 1, (0, 1), (EnvTerms(LAKE, steps=2000, eval_every=100),))
    assert refusal(run.manifest, other) == "budget.steps = 300, protocol core-v0@1 says 2000"
    moved = {**run.manifest, "spec_name": "protocol:core-v0@2"}
    assert refusal(moved, protocol) == "made under core-v0@2, not protocol core-v0@1"
    assert "an unofficial run" in refusal({**run.manifest, "spec_name": "unofficial:core-v0@1"}, protocol)


def test_a_protocols_tracks_are_checked_on_the_manifests(fresh_runs, tmp_path):
    """core-v1's tracks: a headline env must hold its test tasks out and play ≥ 20 of them a
    round; a single-task env trains and tests on its one task (Frozen Lake 4×4 does)."""
    from priorbench.bench.leaderboard.protocol import (
        HEADLINE,
        SINGLE_TASK,
        EnvTerms,
        Protocol,
        load_protocol,
        refusal,
        track_problem,
    )

    run = next(iter(leaderboard.collect(fresh_runs)[0].values()))[0]
    lake = EnvTerms(LAKE, steps=300, eval_every=100, track=SINGLE_TASK)
    assert refusal(run.manifest, Protocol("core-v1", 1, (0, 1), (lake,))) is None
    headline = EnvTerms(LAKE, steps=300, eval_every=100, track=HEADLINE)
    assert refusal(run.manifest, Protocol("core-v1", 1, (0, 1), (headline,))) == (
        f"{LAKE} is a headline env, but this run's test tasks are train = test")
    held_out = {**run.manifest, "env": {**run.manifest["env"], "train_tasks": ["a", "b"],
                                        "test_tasks": [f"t{i}" for i in range(5)]}}
    assert track_problem(held_out, headline) == f"{LAKE} is a headline env, but a round plays 5 test episodes (< 20)"
    assert track_problem(held_out, EnvTerms(LAKE, 300, 100, eval_episodes=4, track=HEADLINE)) is None
    assert track_problem(held_out, lake) == f"{LAKE} is in the single-task track, but this run's test tasks are held out"
    (tmp_path / "p.toml").write_text('name = "x"\nversion = 1\nseeds = [0]\n[[env]]\nid = "E"\nsteps = 1\n'
                                     'eval_every = 1\ntrack = "main"\n')
    with pytest.raises(UserError, match="track 'main' is not 'headline' or 'single-task'"):
        load_protocol(tmp_path / "p.toml")
