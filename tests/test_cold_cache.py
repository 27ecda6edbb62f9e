"""Shared caches on first use by several processes at once: one converts or generates, the
others wait or reuse, nobody crashes, and what lands is readable by others."""

from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_two_cold_processes_share_a_fresh_cache(tmp_path):
    """Two pool workers load the llm agent's prior from an empty PRIORBENCH_CACHE at the same
    moment: both convert the GGUF weights, one folder wins, both runs finish."""
    cache = tmp_path / "cache"
    env = {**os.environ, "PRIORBENCH_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "priorbench.bench", "run", "--env", "priorbench/FrozenLake-4x4-v0",
         "--agent", "llm", "--seeds", "0", "1", "--workers", "2", "--out", str(tmp_path / "runs"),
         "--no-progress"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "| priorbench/FrozenLake-4x4-v0 | llm" in result.stdout
    models = list((cache / "models").iterdir())
    assert len(models) == 1 and not models[0].name.startswith("."), models  # no staging left
    assert stat.S_IMODE(models[0].stat().st_mode) == 0o755
    assert "converting" in result.stderr  # first use says what it is doing
    again = subprocess.run(
        [sys.executable, "-m", "priorbench.bench", "run", "--env", "priorbench/FrozenLake-4x4-v0",
         "--agent", "llm", "--seeds", "2", "--out", str(tmp_path / "runs"), "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert again.returncode == 0 and "converting" not in again.stderr, again.stderr  # converted once
