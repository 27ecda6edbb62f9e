"""Bad input, as a careless or hostile user gives it: each case is refused with exit code 2 and
one line that names the thing and the fix, without a traceback and without writing anything.

The cases run `priorbench.bench.cli.main` in-process from an empty working folder (the CLI's
own entry point, minus the interpreter start-up), so a traceback fails the test as an exception.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import warnings
from pathlib import Path

import pytest

from priorbench.bench.cli import main
from tests.conftest import ROOT

FL = "priorbench/FrozenLake-4x4-v0"
RUN = ["run", "--env", FL, "--agent", "random", "--steps", "20", "--eval-every", "10", "--no-progress"]
DQN = ["run", "--env", FL, "--agent", "dqn", "--steps", "20", "--eval-every", "10", "--no-progress"]


def _refused(capsys, argv, match, *, code=2):
    """Run the CLI; it must exit `code` with one stderr line holding `match`."""
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == code, err
    assert len(err) == 1 and err[0].startswith("priorbench: error: "), err
    assert match in err[0], err[0]
    return err[0]


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


RUN_CASES = {
    "negative seed": (RUN + ["--seeds", "-1", "--out", "o"], "seed -1 is out of range"),
    "huge seed": (RUN + ["--seeds", "99999999999", "--out", "o"], "seed 99999999999 is out of range"),
    "duplicate seeds": (RUN + ["--seeds", "0", "0", "--out", "o"], "seed 0 is given twice"),
    "zero workers": (RUN + ["--workers", "0", "--out", "o"], "--workers must be positive"),
    "flags without env or agent": (["run", "--steps", "300", "--seeds", "0", "--out", "o"],
                                   "give --env ID and --agent NAME"),
    "negative lr": (DQN + ["--set", "agent.dqn.lr=-1", "--out", "o"], "lr must be > 0"),
    "zero lr": (DQN + ["--set", "agent.dqn.lr=0", "--out", "o"], "lr must be > 0"),
    "epsilon below 0": (DQN + ["--set", "agent.dqn.epsilon=-3", "--out", "o"], "epsilon must be in [0, 1]"),
    "gamma above 1": (DQN + ["--set", "agent.dqn.gamma=1.5", "--out", "o"], "gamma must be in [0, 1]"),
    "ppo clip range": (["run", "--env", FL, "--agent", "ppo", "--set", "agent.ppo.clip_range=0",
                        "--out", "o"], "clip_range must be > 0"),
    "tabular lr": (["run", "--env", FL, "--agent", "tabular-q", "--set", "agent.tabular-q.lr=2",
                    "--out", "o"], "lr must be in (0, 1]"),
    "negative budget": (["run", "--env", FL, "--agent", "random", "--steps", "-5", "--out", "o"],
                        "budget.steps must be a positive"),
    "zero max_steps": (RUN + ["--set", "env.max_steps=0", "--out", "o"], "max_steps"),
    "negative max_steps": (RUN + ["--set", "env.max_steps=-1", "--out", "o"], "max_steps"),
    "unknown env": (["run", "--env", "priorbench/FrozenLake-5x5-v0", "--agent", "random", "--out", "o"],
                    "FrozenLake-5x5"),
    "unknown agent": (["run", "--env", FL, "--agent", "dqnn", "--out", "o"], "dqnn"),
    "missing spec": (["run", "nope.toml", "--out", "o"], "nope.toml does not exist"),
    "non-UTF-8 game path": (["run", "--env", "priorbench/TextWorld-v0", "--agent", "random", "--set",
                             "env.game_files=['\udcff.z8']", "--out", "o"], "not UTF-8"),
    "evaluate on an env outside the protocol": (
        ["evaluate", "--agent", "random", "--protocol", ROOT / "leaderboard/protocol.toml", "--env",
         "priorbench/FrozenLake-8x8-v0", "--out", "o"], "not an env of protocol core-v0@3"),
    "no test episode at a time": (["run", "--env", FL, "--agent", "random", "--eval-batch", "0", "--out", "o"],
                                  "--eval-batch must be at least 1"),
    "cuda prior without cuda": (["run", "--env", FL, "--agent", "llm", "--set",
                                 "agent.llm.prior_params={device='cuda'}", "--out", "o"], "CUDA"),
}


@pytest.mark.parametrize("case", RUN_CASES)
def test_run_refuses(case, cwd, capsys):
    argv, match = RUN_CASES[case]
    _refused(capsys, argv, match)
    assert _files(cwd) == set()  # nothing written, not even an empty --out


def test_a_spec_of_non_utf8_bytes(cwd, capsys):
    (cwd / "spec.toml").write_bytes(b"envs = [\xff\xfe]\n")
    _refused(capsys, ["run", "spec.toml", "--out", "o"], "not UTF-8")
    assert _files(cwd) == {Path("spec.toml")}


def test_out_that_is_a_file(cwd, capsys):
    (cwd / "afile").write_text("mine\n")
    _refused(capsys, RUN + ["--out", "afile"], "afile is a file")
    assert (cwd / "afile").read_text() == "mine\n"


def test_out_that_cannot_be_written(cwd, capsys):
    _refused(capsys, RUN + ["--out", "/proc/priorbench-nope"], "/proc/priorbench-nope")


def test_a_complete_run_without_its_manifest_is_not_silently_redone(cwd, capsys):
    assert main(RUN + ["--out", "o"]) == 0
    run = next((cwd / "o").rglob("episodes.jsonl")).parent
    (run / "manifest.json").unlink()
    capsys.readouterr()
    _refused(capsys, RUN + ["--out", "o"], "no manifest.json")
    assert (run / "episodes.jsonl").stat().st_size > 0


def test_cite_and_show_of_a_missing_folder(cwd, capsys):
    _refused(capsys, ["cite", "--runs", "/nonexistent"], "/nonexistent does not exist")
    _refused(capsys, ["show", "/nonexistent"], "/nonexistent does not exist")
    _refused(capsys, ["leaderboard", "build", "--runs", "/nonexistent", "--out", "lb"], "does not exist")
    assert _files(cwd) == set()


def test_show_and_build_exit_non_zero_when_they_refuse_a_run(cwd, capsys):
    assert main(RUN + ["--seeds", "0", "1", "--out", "o"]) == 0
    run = next((cwd / "o").rglob("seed1"))
    lines = (run / "episodes.jsonl").read_text().splitlines(keepends=True)
    (run / "episodes.jsonl").write_text("".join(lines) + lines[-1])  # an episode twice: refused
    capsys.readouterr()
    assert main(["show", "o"]) == 1
    out = capsys.readouterr()
    assert "refused" in out.out and "1 run refused" in out.err
    assert main(["leaderboard", "build", "--runs", "o", "--out", "lb"]) == 1
    assert "refused" in capsys.readouterr().err
    assert main(["leaderboard", "build", "--runs", "o", "--out", "lb", "--allow-refused"]) == 0
    assert (cwd / "lb" / "LEADERBOARD.md").is_file()


# --- datasets --------------------------------------------------------------------------------

COLLECT = ["dataset", "collect", "--env", FL, "--episodes", "2", "--no-progress"]


@pytest.mark.parametrize("argv, match", [
    (COLLECT + ["--name", "mydata", "--out", "d"], "mydata-v0"),
    (COLLECT + ["--name", "../../x-v0", "--out", "d"], "a plain name"),
    (COLLECT + ["--name", "a/b-v0", "--out", "d"], "a plain name"),
    (COLLECT + ["--set", "env.max_steps=-1", "--out", "d"], "max_steps"),
    (COLLECT + ["--set", "max_steps", "--out", "d"], "expected key=value"),
    (["dataset", "collect", "--env", FL, "--episodes", "0", "--out", "d"], "--episodes must be from 1 to 1,000,000"),
    (COLLECT + ["--policy", "mixture:1.5", "--out", "d"], "mixture"),
    (["dataset", "info", "nowhere"], "nowhere"),
], ids=["no version", "dot-dot", "slash", "max_steps", "no value", "zero episodes", "mixture", "missing"])
def test_dataset_refuses(argv, match, cwd, capsys):
    _refused(capsys, argv, match)
    assert _files(cwd) == set()


@pytest.fixture(scope="module")
def stored_dataset(tmp_path_factory):
    from priorbench.bench import datasets
    from priorbench.bench.datasets import collect_episodes

    out = tmp_path_factory.mktemp("ds")
    return datasets.write_dataset(collect_episodes(FL, "random", 3, seed=0, progress=False),
                                  env_id=FL, policy="random", seed=0, out=out)


def _tampered(stored, tmp_path, edit):
    copy = tmp_path / "priorbench" / stored.name
    shutil.copytree(stored, copy)
    edit(copy)
    return copy


def _edit_json(path: Path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("edit, match", [
    (lambda d: (d / "priorbench.json").write_text("{not json"), "priorbench.json"),
    (lambda d: _edit_json(d / "priorbench.json", lambda m: m.pop("sha256")), "sha256"),
    (lambda d: _edit_json(d / "data" / "metadata.json", lambda m: m.update(total_episodes=1)), "checksum"),
    (lambda d: _edit_json(d / "data" / "metadata.json", lambda m: m.update(total_steps=1)), "checksum"),
    (lambda d: (d / "data" / "metadata.json").write_text("[]"), "checksum"),
], ids=["garbled provenance", "no sha256", "episodes edited", "steps edited", "garbled metadata"])
def test_dataset_info_refuses_a_tampered_dataset(stored_dataset, tmp_path, edit, match, capsys):
    copy = _tampered(stored_dataset, tmp_path, edit)
    _refused(capsys, ["dataset", "info", copy], match)


def test_collect_removes_stale_staging_folders(cwd, capsys):
    stale = cwd / "d" / "priorbench" / ".staging-999999999-abc"
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "main_data.hdf5").write_bytes(b"\0" * 1000)
    os.utime(stale, (time.time() - 3600, time.time() - 3600))  # an hour old, its process gone
    fresh = cwd / "d" / "priorbench" / ".staging-999999998-abc"  # maybe another PID namespace's
    fresh.mkdir()
    assert main(COLLECT + ["--out", "d"]) == 0
    assert not stale.exists() and fresh.exists()
    assert sorted(p.name for p in (cwd / "d" / "priorbench").iterdir()) == [
        ".staging-999999998-abc", "frozenlake-4x4-expert-2ep-s0-v0"]


# --- the prior server ------------------------------------------------------------------------

def test_serve_prior_bad_port(cwd, capsys):
    _refused(capsys, ["serve-prior", "--port", "99999"], "--port 99999")


def test_serve_prior_busy_port_is_refused_before_the_model_loads(cwd, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _refused(capsys, ["serve-prior", "--port", port], f"port {port} is in use")


def test_a_long_observation_is_cut_with_a_warning():
    from priorbench.agents.qnet import TextEncoder

    encoder = TextEncoder(max_length=32)
    with pytest.warns(UserWarning, match="a text of .* tokens is cut to its first 32"):
        encoder.rows(["a short room", "a very long room description " * 40])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per encoder, not once per text
        encoder.rows(["another very long room description " * 40])
