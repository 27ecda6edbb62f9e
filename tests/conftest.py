"""Shared test setup: never reach a model hub; helpers to run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m priorbench.bench ARGS` in a subprocess, as a user would."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "priorbench.bench", *args], capture_output=True, text=True,
        cwd=cwd or ROOT, env=env, timeout=timeout,
    )


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests compute at one torch thread, as every run does (`seeding.RUN_THREADS`): float sums
    differ between 1 and 2 threads on some CPUs, and a model's memo (the calibration's
    content-free scores, a server's answers) filled by one test is read by the next one in the
    same pytest-xdist worker."""
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """An empty working folder for a test that runs the CLI as a user would (relative paths)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def live_records(run: Path) -> list[dict]:
    """The episode records of a run that is still writing them ([] while a read catches a line
    being appended: `records.read_episodes` refuses a file that grew while it was read)."""
    from priorbench.bench import records
    from priorbench.core.errors import UserError

    try:
        return records.read_episodes(run / records.EPISODES).records
    except (UserError, FileNotFoundError):
        return []
