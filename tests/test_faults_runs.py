"""Run folders under attack or accident (issue 29): links, FIFOs and devices in a run folder,
two writers on one folder, absurd worker counts, a learning that diverges, fields of the wrong
type, a full disk. Each ends in exit 2 (or a refused row) with one line, writes nothing
outside the folder, loses nothing and never hangs."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from priorbench.bench import records
from priorbench.bench.cli import main
from priorbench.core.paths import folder_lock
from tests.test_bad_input import DQN, FL, RUN, _refused

RUN_DIR = Path("o") / FL / "random" / "seed0"
DQN_DIR = Path("o") / FL / "dqn" / "seed0"
#: A run long enough to be caught while it writes, with checkpoints along the way.
SLOW = ["run", "--env", FL, "--agent", "dqn", "--steps", "1500", "--eval-every", "500", "--no-progress",
        "--set", "budget.checkpoint_every=200", "--out", "o"]


def _unfinished(capsys, cwd: Path) -> Path:
    """A dqn run stopped by a diverging update: a run folder left as a kill would leave it."""
    _refused(capsys, DQN + ["--steps", "300", "--set", "agent.dqn.lr=1e30", "--out", "o"], "became nan")
    return cwd / DQN_DIR


# --- links, FIFOs and devices ---------------------------------------------------------------

@pytest.mark.parametrize("where", ["episodes.jsonl", "checkpoint", "manifest.json"])
def test_a_run_folder_with_a_link_is_refused_on_resume_and_its_target_untouched(where, cwd, capsys):
    outside = cwd / "precious"
    outside.mkdir()
    (outside / "state.safetensors").write_text("mine\n")
    (outside / "file").write_text("mine\n")
    assert main(RUN + ["--out", "o"]) == 0
    run = cwd / RUN_DIR
    target = outside if where == "checkpoint" else outside / "file"
    (run / where).unlink() if (run / where).is_file() else None
    (run / where).symlink_to(target)
    capsys.readouterr()
    _refused(capsys, RUN + ["--out", "o"], f"{RUN_DIR / where} is a symbolic link")
    _refused(capsys, RUN + ["--force", "--out", "o"], "is a symbolic link")
    assert sorted(p.name for p in outside.iterdir()) == ["file", "state.safetensors"]
    assert (outside / "file").read_text() == "mine\n" == (outside / "state.safetensors").read_text()


def test_show_and_build_refuse_a_run_folder_with_a_link(cwd, capsys):
    assert main(RUN + ["--seeds", "0", "1", "--out", "o"]) == 0
    run = cwd / RUN_DIR
    data = (run / "episodes.jsonl").read_bytes()
    (cwd / "elsewhere.jsonl").write_bytes(data)
    (run / "episodes.jsonl").unlink()
    (run / "episodes.jsonl").symlink_to(cwd / "elsewhere.jsonl")  # same bytes, still refused
    capsys.readouterr()
    assert main(["show", "o"]) == 1
    assert "is a symbolic link" in capsys.readouterr().out
    assert main(["leaderboard", "build", "--runs", "o", "--out", "lb"]) == 1
    assert "seed0: " in capsys.readouterr().err


def test_a_linked_folder_between_out_and_the_run_is_refused(cwd, capsys):
    elsewhere = cwd / "elsewhere"
    elsewhere.mkdir()
    (cwd / "o").mkdir()
    (cwd / "o" / "priorbench").symlink_to(elsewhere)
    _refused(capsys, RUN + ["--out", "o"], "o/priorbench is a symbolic link")
    assert list(elsewhere.iterdir()) == []


def _cli_in_subprocess(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    code = f"import sys; from priorbench.bench.cli import main; sys.exit(main({argv!r}))"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_a_fifo_manifest_and_a_device_log_do_not_hang_show_or_build(cwd, capsys):
    assert main(RUN + ["--seeds", "0", "1", "--out", "o"]) == 0
    seed0, seed1 = cwd / RUN_DIR, cwd / RUN_DIR.parent / "seed1"
    (seed0 / "manifest.json").unlink()
    os.mkfifo(seed0 / "manifest.json")
    (seed1 / "episodes.jsonl").unlink()
    (seed1 / "episodes.jsonl").symlink_to("/dev/zero")
    shown = _cli_in_subprocess(["show", "o"], cwd, timeout=120)  # before the fix: blocked forever
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert "manifest.json is not a regular file" in shown.stdout and "symbolic link" in shown.stdout
    built = _cli_in_subprocess(["leaderboard", "build", "--runs", "o", "--out", "lb"], cwd, timeout=120)
    assert built.returncode == 2 and len(built.stderr.splitlines()) == 1, built.stderr
    assert "no usable runs" in built.stderr and "manifest.json is not a regular file" in built.stderr
    assert "seed1: " in built.stderr and "symbolic link" in built.stderr


# --- one writer per folder ------------------------------------------------------------------

def _wait_for(path: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_writers_on_one_run_folder_one_is_refused_and_a_dead_ones_lock_is_taken_over(cwd, capsys):
    env = {**os.environ, "PRIORBENCH_NO_PROGRESS": "1"}
    code = f"import sys; from priorbench.bench.cli import main; sys.exit(main({SLOW!r}))"
    first = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(cwd / DQN_DIR / "checkpoint" / "state.safetensors")
        line = _refused(capsys, SLOW, "is being written by another priorbench process")
        assert f"pid {first.pid}" in line and str(DQN_DIR) in line
        first.send_signal(signal.SIGKILL)  # a writer killed while it holds the folder
        first.wait(timeout=60)
    finally:
        first.kill()
    assert main(SLOW) == 0  # the dead writer's lock is taken over; the run resumes
    manifest, episodes = records.verify_run(cwd / DQN_DIR)
    assert manifest["resumed"] == 1
    alone = cwd / "alone"
    assert main([*SLOW[:-1], str(alone)]) == 0
    _, reference = records.verify_run(alone / FL / "dqn" / "seed0")
    assert records.strip_timing(episodes) == records.strip_timing(reference)  # nothing interleaved


def test_a_second_build_into_one_folder_is_refused(cwd, capsys):
    assert main(RUN + ["--out", "o"]) == 0
    with folder_lock(cwd / "lb", "--out"):
        line = _refused(capsys, ["leaderboard", "build", "--runs", "o", "--out", "lb"], "is being written")
    assert "lb" in line
    assert main(["leaderboard", "build", "--runs", "o", "--out", "lb"]) == 0


# --- bounds and diverging numbers -----------------------------------------------------------

def test_workers_beyond_the_machine_are_refused_before_anything_is_written(cwd, capsys):
    _refused(capsys, RUN + ["--workers", "100000", "--out", "o"], "--workers 100000 is more than")
    assert list(cwd.iterdir()) == []


def test_a_diverging_update_ends_the_run_with_one_line_and_no_nan_in_its_records(cwd, capsys):
    run = _unfinished(capsys, cwd)  # exit 2, one line naming the agent, the step and the metric
    text = (run / "episodes.jsonl").read_text()
    assert text and "NaN" not in text and "Infinity" not in text
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"  # resumable
    line = _refused(capsys, DQN + ["--steps", "300", "--set", "agent.dqn.lr=1e30", "--out", "o"], "dqn at step ")
    assert "update metric 'td_loss' became nan" in line


# --- fields of the wrong type ---------------------------------------------------------------

@pytest.mark.parametrize("change", [{"final_env_steps": None}, {"timing": {"wall_s": "fast"}},
                                    {"agent_provenance": []}])
def test_a_manifest_field_of_the_wrong_type_is_refused_by_show(change, cwd, capsys):
    assert main(RUN + ["--out", "o"]) == 0
    path = cwd / RUN_DIR / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    capsys.readouterr()
    assert main(["show", "o"]) == 1
    assert "schema mismatch" in capsys.readouterr().out


def test_a_checkpoint_counter_of_the_wrong_type_is_refused_on_resume(cwd, capsys):
    from priorbench.core import statefile

    run = _unfinished(capsys, cwd)
    record = records.RunRecord(run)
    record.save_checkpoint({"progress": {"env_steps": "many"}, "agent": {}, "rng": {}, "episodes_bytes": 0})
    assert statefile.load(record.checkpoint_path)["progress"] == {"env_steps": "many"}
    _refused(capsys, DQN + ["--steps", "300", "--set", "agent.dqn.lr=1e30", "--out", "o"],
             "does not hold a run's progress")


# --- the build's side files -----------------------------------------------------------------

def test_side_files_of_a_build_that_are_not_what_they_claim(cwd, capsys):
    assert main(RUN + ["--out", "o"]) == 0
    lb = cwd / "lb"
    lb.mkdir()
    (lb / "NOTES.md").write_bytes(b"caf\xe9\n")
    _refused(capsys, ["leaderboard", "build", "--runs", "o", "--out", "lb"], "NOTES.md is not UTF-8")
    (lb / "NOTES.md").write_text("fine\n")
    (lb / "prior_quality.json").write_text(json.dumps({"format": 1, "entries": [{"env": 1}]}))
    _refused(capsys, ["leaderboard", "build", "--runs", "o", "--out", "lb"], "is not a prior-quality file")
    (lb / "prior_quality.json").unlink()
    (lb / "verified.json").write_text(json.dumps({"rows": [{"row": "x", "seeds": "0"}]}))
    _refused(capsys, ["leaderboard", "build", "--runs", "o", "--out", "lb"], "is not a verified-rows file")


# --- a full disk ----------------------------------------------------------------------------

def test_a_full_disk_names_the_file_and_the_run_resumes_exactly_once_space_is_back(cwd, capsys, monkeypatch):
    argv = DQN + ["--steps", "400", "--eval-every", "100", "--set", "budget.checkpoint_every=100"]
    real_write, calls = os.write, {"n": 0}

    def full_after_some_lines(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("episodes.jsonl"):
            calls["n"] += 1
            if calls["n"] > 12:  # the disk fills up: half a line gets in, then nothing
                real_write(fd, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_after_some_lines)
    line = _refused(capsys, argv + ["--out", "o"], "the disk is full")
    assert str(DQN_DIR / "episodes.jsonl") in line and "run the same command again" in line
    monkeypatch.setattr(os, "write", real_write)  # space is back
    assert main(argv + ["--out", "o"]) == 0
    assert main(argv + ["--out", "clean"]) == 0
    _, resumed = records.verify_run(cwd / DQN_DIR)
    _, clean = records.verify_run(cwd / "clean" / FL / "dqn" / "seed0")
    assert records.strip_timing(resumed) == records.strip_timing(clean)


def test_verify_write_keeps_the_marks_of_rows_it_did_not_rerun(cwd, capsys):
    from priorbench.bench.leaderboard.verified import read_marks

    assert main(RUN + ["--agent", "expert", "--out", "o"]) == 0
    for row in ("FrozenLake-4x4-v0:random", "priorbench/FrozenLake-4x4-v0:expert"):  # an id, or env:label
        assert main(["leaderboard", "verify", "--runs", "o", "--row", row, "--write", "--out", "lb"]) == 0
    assert sorted(read_marks(cwd / "lb")) == ["FrozenLake-4x4-v0:expert", "FrozenLake-4x4-v0:random"]


def test_a_linked_folder_in_a_runs_folder_is_refused_by_name_not_skipped(cwd, capsys):
    assert main(RUN + ["--seeds", "0", "1", "--out", "o"]) == 0
    (cwd / "other").mkdir()
    (cwd / "o" / FL / "random" / "seed1").rename(cwd / "other" / "seed1")
    (cwd / "o" / FL / "random" / "seed1").symlink_to(cwd / "other" / "seed1")
    capsys.readouterr()
    assert main(["leaderboard", "build", "--runs", "o", "--out", "lb"]) == 1
    assert "refused priorbench/FrozenLake-4x4-v0/random/seed1: " in capsys.readouterr().err


def test_json_nested_too_deep_is_refused_by_name_not_a_recursion_error(cwd, capsys):
    assert main(RUN + ["--seeds", "0", "1", "--out", "o"]) == 0
    (cwd / RUN_DIR / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    capsys.readouterr()
    assert main(["show", "o"]) == 1
    assert "manifest.json is corrupt" in capsys.readouterr().out
    (cwd / "lb").mkdir()
    (cwd / "lb" / "verified.json").write_text('{"rows": ' + "[" * 5000 + "]" * 5000 + "}")
    _refused(capsys, ["leaderboard", "build", "--runs", "o", "--out", "lb"], "is not a verified-rows file")


def test_a_hard_linked_record_is_refused_before_a_resume_writes_it(cwd, capsys):
    run = _unfinished(capsys, cwd)
    (cwd / "precious.jsonl").hardlink_to(run / "episodes.jsonl")
    before = (cwd / "precious.jsonl").read_bytes()
    _refused(capsys, DQN + ["--steps", "300", "--set", "agent.dqn.lr=1e30", "--out", "o"], "has other hard links")
    assert (cwd / "precious.jsonl").read_bytes() == before


def test_a_run_folder_that_is_a_file_and_absurd_evaluation_counts_are_refused(cwd, capsys):
    (cwd / RUN_DIR.parent).mkdir(parents=True)
    (cwd / RUN_DIR).write_text("mine\n")
    _refused(capsys, RUN + ["--out", "o"], "seed0 is a file, not a folder")
    assert (cwd / RUN_DIR).read_text() == "mine\n"
    _refused(capsys, RUN + ["--set", "budget.eval_episodes=1000000000000", "--out", "o2"],
             "budget.eval_episodes must be at most 10,000")
