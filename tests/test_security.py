"""Run folders are data: nothing in one can run code when priorbench reads or resumes it."""

from __future__ import annotations

import json
import pickle

import pytest

from priorbench.bench import records
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core import statefile
from priorbench.core.errors import UserError

ENV = "priorbench/FrozenLake-4x4-v0"


class _Payload:
    """Unpickling this writes a marker file: the proof that a checkpoint ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _running_run(tmp_path):
    """A real run folder of a killed run: its manifest says `running`, its checkpoint is gone."""
    budget = Budget(steps=200, eval_every=100, checkpoint_every=100)
    run = execute(RunJob(ENV, "tabular-q", 0, budget, tmp_path / "runs"), progress=False)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"], manifest["episodes_sha256"] = "running", None
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run, budget


def test_a_crafted_pickle_checkpoint_does_not_run_when_the_run_resumes(tmp_path):
    run, budget = _running_run(tmp_path)
    marker = tmp_path / "pwned"
    (run / records.CHECKPOINT).mkdir(exist_ok=True)
    (run / records.CHECKPOINT / records.LEGACY_CHECKPOINT).write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(UserError, match="pickle checkpoint.*--force"):
        execute(RunJob(ENV, "tabular-q", 0, budget, tmp_path / "runs"), progress=False)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a safetensors file", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "])
def test_an_unreadable_checkpoint_is_a_clear_error_and_the_folder_is_kept(tmp_path, content):
    run, budget = _running_run(tmp_path)
    checkpoint = records.RunRecord(run).checkpoint_path
    checkpoint.parent.mkdir(exist_ok=True)
    checkpoint.write_bytes(content)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match="not a readable priorbench state file.*--force"):
        execute(RunJob(ENV, "tabular-q", 0, budget, tmp_path / "runs"), progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_checkpoint_missing_keys_is_a_clear_error(tmp_path):
    run, budget = _running_run(tmp_path)
    checkpoint = records.RunRecord(run).checkpoint_path
    checkpoint.parent.mkdir(exist_ok=True)
    checkpoint.write_bytes(statefile.dumps({"progress": {}, "episodes_bytes": 0}))
    with pytest.raises(UserError, match="does not (hold a run's progress|fit this run's agent)"):
        execute(RunJob(ENV, "tabular-q", 0, budget, tmp_path / "runs"), progress=False)


def test_state_files_round_trip_exactly(tmp_path):
    import random

    import numpy as np
    import torch

    payload = {"t": torch.arange(6, dtype=torch.float32).reshape(2, 3), "a": np.arange(4, dtype=np.uint32),
               "s": np.float32(0.1), "tup": (1, (2.5, None), "x"), "ints": {0: {"k": [1, 2]}, 3: True},
               "b": b"\x00\xff", "big": 2**80, "inf": float("inf"), "rng": np.random.get_state(),
               "py": random.getstate()}
    path = tmp_path / "s.safetensors"
    path.write_bytes(statefile.dumps(payload))
    back = statefile.load(path)
    assert torch.equal(back["t"], payload["t"]) and back["a"].dtype == np.uint32
    assert back["s"].dtype == np.float32 and back["s"] == payload["s"]
    assert back["tup"] == payload["tup"] and back["ints"] == payload["ints"] and back["b"] == payload["b"]
    assert back["big"] == 2**80 and back["inf"] == float("inf") and back["py"] == payload["py"]
    assert back["rng"][0] == "MT19937" and np.array_equal(back["rng"][1], payload["rng"][1])
    assert b"\x80\x04" not in path.read_bytes()[:2]  # not a pickle stream
    with pytest.raises(TypeError, match="cannot store a set"):
        statefile.dumps({"x": {1, 2}})
