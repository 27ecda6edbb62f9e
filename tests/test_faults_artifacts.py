"""Files priorbench reads but did not write this time — adapters, datasets, model folders — and
the folders `prior train --out` and `dataset collect --out` write (issue 29).

Each bad artifact is refused with exit 2 and one line naming it and the fix; a tampered manifest
or provenance is caught by its checksum, and a careful forgery (checksum recomputed) by its
typed fields and by what the data themselves recorded. Artifacts made before the checksums are
refused with "make it again". A second writer to the same --out is refused at once with the
holder's pid; a full disk (a real tmpfs) is one line and leaves no staged file behind.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from priorbench.agents.priors.lora import (
    ADAPTER_FILE,
    ADAPTER_MANIFEST,
    manifest_bytes,
    read_adapter,
)
from priorbench.bench import datasets, prior_train
from priorbench.bench.cli import main
from priorbench.core.errors import UserError
from tests.conftest import ROOT

FL = "priorbench/FrozenLake-4x4-v0"
LAKES = "priorbench/FrozenLake-4x4-Random-v0"  # train and test maps apart, as `prior train` needs
TRAIN = ["prior", "train", "--env", LAKES, "--base", "tiny-gpt2", "--states", "8", "--steps", "2",
         "--batch-size", "4"]
COLLECT = ["dataset", "collect", "--env", FL, "--episodes", "2", "--no-progress"]


def _refused(capsys, argv, match):
    """Run the CLI; it must exit 2 with one error line holding `match` (after the command's own
    progress lines, if any) and no traceback."""
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    errors = [line for line in err if line.startswith("priorbench: error: ")]
    assert errors == err[-1:] and not any("Traceback" in line for line in err), err
    assert match in err[-1], err[-1]
    return err[-1]


# --- adapters --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    out = tmp_path_factory.mktemp("adapters") / "lake"
    prior_train.train([LAKES], out, base="tiny-gpt2", states=8, steps=2, batch_size=4, seed=0)
    return out


def _forged(adapter: Path, tmp_path: Path, *, manifest=None, weights: bytes | None = None,
            restamp: bool = True) -> Path:
    """A copy of `adapter` with its manifest changed by `manifest(dict)` and/or other weights;
    `restamp`: checksums recomputed, as a careful forger (or a buggy tool) would."""
    import hashlib

    copy = tmp_path / "adapter"
    shutil.copytree(adapter, copy)
    data = json.loads((copy / ADAPTER_MANIFEST).read_text())
    if weights is not None:
        (copy / ADAPTER_FILE).write_bytes(weights)
        data["adapter_sha256"] = hashlib.sha256(weights).hexdigest()
    if manifest is not None:
        data = manifest(data)
    if restamp and isinstance(data, dict):
        (copy / ADAPTER_MANIFEST).write_bytes(manifest_bytes(data))
    else:
        (copy / ADAPTER_MANIFEST).write_text(json.dumps(data))
    return copy


def _without(key):
    return lambda m: {k: v for k, v in m.items() if k != key}


def _lora(**change):
    return lambda m: {**m, "lora": {**m["lora"], **change}}


def _nan_weights(adapter: Path) -> bytes:
    from safetensors.torch import load, save

    weights = load((adapter / ADAPTER_FILE).read_bytes())
    first = next(iter(weights))
    weights[first][0, 0] = float("nan")
    return save(weights)


ADAPTER_CASES = {
    "no lora": (dict(manifest=_without("lora")), "has no 'lora'"),
    "a list": (dict(manifest=lambda m: [m], restamp=False), "is not a JSON object"),
    "r = 0": (dict(manifest=_lora(r=0)), "lora.r must be in [1, 1024], got 0"),
    "r as text": (dict(manifest=_lora(r="8")), "lora.r must be int"),
    "r unlike the weights": (dict(manifest=_lora(r=4)), "the manifest says r = 4"),
    "no base prior": (dict(manifest=lambda m: {**m, "base": {"model_id": "x"}}), "has no 'base.prior'"),
    "garbage weights": (dict(weights=b"\x10" + bytes(range(256)) * 8), "is not a LoRA adapter's safetensors file"),
    "edited manifest": (dict(manifest=lambda m: {**m, "env_ids": ["priorbench/Other-v0"]}, restamp=False),
                        "the manifest was changed after training"),
    "older priorbench": (dict(manifest=_without("manifest_sha256"), restamp=False),
                         "made by an older priorbench"),
}


@pytest.mark.parametrize("case", ADAPTER_CASES)
def test_a_bad_adapter_is_refused_in_one_line(case, adapter, tmp_path, cwd, capsys):
    change, match = ADAPTER_CASES[case]
    forged = _forged(adapter, tmp_path, **change)
    _refused(capsys, ["prior", "inspect", "--env", FL, "--prior", f"tiny-gpt2:adapter={forged}",
                      "--states", "2", "--no-wins"], match)


def test_non_finite_adapter_weights_are_refused(adapter, tmp_path, cwd, capsys):
    forged = _forged(adapter, tmp_path, weights=_nan_weights(adapter))
    _refused(capsys, ["prior", "inspect", "--env", FL, "--prior", f"tiny-gpt2:adapter={forged}",
                      "--states", "2", "--no-wins"], "non-finite weights")


def test_the_committed_adapters_carry_their_manifest_checksum():
    folders = sorted((ROOT / "experiments" / "adapters").glob("*/manifest.json"))
    assert folders
    for manifest in folders:
        read, _ = read_adapter(str(manifest.parent))
        assert len(read["manifest_sha256"]) == 64


# --- prior train: settings, one writer, a full disk -------------------------------------------

@pytest.mark.parametrize("flags, match", [
    (["--lr", "nan"], "--lr must be a finite positive number, got nan"),
    (["--lr", "inf"], "--lr must be a finite positive number, got inf"),
    (["--lora-r", "0"], "--lora-r must be in [1, 1024], got 0"),
    (["--seed", "-1"], "--seed must be ≥ 0, got -1"),
], ids=["lr nan", "lr inf", "lora-r 0", "seed -1"])
def test_prior_train_refuses_bad_settings_before_work(flags, match, cwd, capsys):
    _refused(capsys, TRAIN + flags + ["--out", "a"], match)
    assert not any(cwd.iterdir())


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def _holding(argv: list[str], folder: Path, cwd: Path) -> subprocess.Popen:
    """A real priorbench process writing `folder`, once it holds it."""
    child = subprocess.Popen([sys.executable, "-m", "priorbench.bench", *argv], cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: folder.exists() or child.poll() is not None, f"{folder} to be made")
    time.sleep(0.3)  # made, then locked: microseconds apart
    assert child.poll() is None, child.communicate()
    return child


def test_two_prior_trains_on_one_folder_one_is_refused_at_once(cwd, capsys):
    first = _holding(TRAIN + ["--steps", "10", "--out", "a"], cwd / "a", cwd)
    try:
        started = time.monotonic()
        _refused(capsys, TRAIN + ["--out", "a"], f"--out a is being written by another priorbench "
                                                  f"process (pid {first.pid})")
        assert time.monotonic() - started < 5  # at once, not after training
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, err
    manifest, _ = read_adapter(str(cwd / "a"))  # the first one's adapter, whole
    assert manifest["steps"] == 10
    assert sorted(p.name for p in (cwd / "a").iterdir()) == [ADAPTER_FILE, ADAPTER_MANIFEST]


def test_two_dataset_collects_into_one_folder_one_is_refused_at_once(cwd, capsys):
    first = _holding(["dataset", "collect", "--env", FL, "--episodes", "500", "--no-progress",
                      "--out", "d"], cwd / "d", cwd)
    try:
        _refused(capsys, COLLECT + ["--out", "d"], f"--out d is being written by another priorbench "
                                                   f"process (pid {first.pid})")
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert datasets.read_provenance(cwd / "d" / "priorbench" / "frozenlake-4x4-expert-500ep-s0-v0")["episodes"] == 500


@pytest.fixture
def full_disk(tmp_path):
    """A real, full file system: a 1 MiB tmpfs filled to the last byte (needs root; skipped
    without a mount)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("a full disk is simulated with a tmpfs mount, which needs root")
    try:
        fh = open(disk / "filler", "wb")  # noqa: SIM115 (closing it flushes into the full disk)
        try:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        except OSError:
            pass
        try:
            fh.close()
        except OSError:
            pass
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _left(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != "filler")


def test_a_full_disk_ends_prior_train_in_one_line(full_disk, cwd, capsys):
    _refused(capsys, TRAIN + ["--out", full_disk / "a"], "the disk is full")
    assert _left(full_disk) in ([], ["a"])  # no weights, no staging folder
    (full_disk / "filler").unlink()  # space is back: the same command succeeds
    assert main([str(a) for a in TRAIN + ["--out", full_disk / "a"]]) == 0
    read_adapter(str(full_disk / "a"))


def test_a_full_disk_ends_a_dataset_collection_in_one_line(full_disk, cwd, capsys):
    """HDF5 on a full disk printed a traceback per object and then segfaulted."""
    _refused(capsys, ["dataset", "collect", "--env", FL, "--episodes", "300", "--no-progress",
                      "--out", full_disk / "d"], "the disk is full")
    assert _left(full_disk) in ([], ["d"], ["d", "d/priorbench"])  # nothing staged is left


def test_a_full_disk_ends_a_model_build_in_one_line(full_disk, cwd, capsys, monkeypatch):
    from priorbench.agents import priors

    monkeypatch.setattr(priors, "_LOADED", {})  # a real load: the tiny model is built into the cache
    monkeypatch.setenv("PRIORBENCH_CACHE", str(full_disk / "cache"))
    _refused(capsys, ["prior", "inspect", "--env", FL, "--prior", "tiny-gpt2", "--states", "2", "--no-wins"],
             "tiny-gpt2-v1: the disk is full")
    assert not [p for p in _left(full_disk) if ".tiny-" in p]


# --- model folders ---------------------------------------------------------------------------

def _model_folder(tmp_path: Path, config: str, weights: bytes | None = None) -> Path:
    from priorbench.agents.priors.tiny import tiny_lm_path

    folder = tmp_path / "model"
    shutil.copytree(tiny_lm_path(), folder)
    (folder / "config.json").write_text(config)
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    return folder


@pytest.mark.parametrize("config, weights, match", [
    ("{}", None, "names no model_type"),
    ("[]", None, "names no model_type"),
    ('{"model_type": "no-such-model"}', None, "model_type 'no-such-model' is not one"),
    ("{not json", None, "is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, None, "is not valid JSON"),
    (None, b"\xff" * 1000, "is not a readable safetensors file"),
    ("vocab_size=-5", None, "describes no model that can be built (Trying to create tensor with negative"),
    ("n_embd=1000000000", None, "describes no model that can be built"),
    ("n_layer=1000", None, "parameters but its weights store"),
], ids=["empty config", "config a list", "unknown model type", "garbled config", "config nested 100,000 deep",
        "garbage weights", "negative vocabulary", "overflowing width", "more layers than its weights"])
def test_a_bad_model_folder_is_refused_in_one_line(config, weights, match, tmp_path, cwd, capsys):
    from priorbench.agents.priors.tiny import tiny_lm_path

    tiny = json.loads((tiny_lm_path() / "config.json").read_text())
    if config and "=" in config and not config.startswith("{"):  # one field of the real config changed
        key, value = config.split("=")
        config = json.dumps({**tiny, key: int(value), **({"n_positions": int(value)} if key == "n_embd" else {})})
    folder = _model_folder(tmp_path, config or json.dumps(tiny), weights)
    _refused(capsys, ["prior", "inspect", "--env", FL, "--prior", f"hf:model={folder}", "--states", "2",
                      "--no-wins"], match)


# --- datasets --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    return datasets.collect(FL, "mixture:0.5", 4, 0, out=out, progress=False)


def _forged_dataset(dataset: Path, tmp_path: Path, change, *, restamp: bool = True) -> Path:
    copy = tmp_path / "priorbench" / dataset.name
    shutil.copytree(dataset, copy)
    data = json.loads((copy / datasets.PROVENANCE).read_text())
    data = change(copy, data)
    if restamp:
        data["provenance_sha256"] = datasets.provenance_checksum(data)
    (copy / datasets.PROVENANCE).write_text(json.dumps(data))
    return copy


def _linked(folder: Path, data: dict) -> dict:
    hdf5 = folder / "data" / "main_data.hdf5"
    moved = folder.parent / "elsewhere.hdf5"
    hdf5.rename(moved)
    hdf5.symlink_to(moved)
    return data


def _emptied(folder: Path, data: dict) -> dict:
    for path in (folder / "data").iterdir():
        path.unlink()
    return {**data, "sha256": datasets._data_checksum(folder)}


DATASET_CASES = {
    "another env": (lambda d, m: {**m, "env_id": "priorbench/Overcooked-TomatoSalad-v0"}, True,
                    "priorbench.json says env_id = 'priorbench/Overcooked-TomatoSalad-v0', its data were "
                    "recorded with 'priorbench/FrozenLake-4x4-v0'"),
    "another env, checksum kept": (lambda d, m: {**m, "env_id": "priorbench/Overcooked-TomatoSalad-v0"}, False,
                                   "does not match its checksum"),
    "other episode count": (lambda d, m: {**m, "episodes": 3}, True, "says episodes = 3"),
    "seed as text": (lambda d, m: {**m, "seed": "0"}, True, "seed must be int"),
    "no env settings": (lambda d, m: {k: v for k, v in m.items() if k != "env_kwargs"}, True,
                        "has no 'env_kwargs'"),
    "older priorbench": (lambda d, m: {k: v for k, v in m.items() if k != "provenance_sha256"}, False,
                         "made by an older priorbench"),
    "emptied data": (_emptied, True, "has no data/metadata.json"),
    "a linked data file": (_linked, False, "main_data.hdf5 is a symbolic link"),
    "a list": (lambda d, m: [m], False, "has no sha256"),
}


@pytest.mark.parametrize("case", DATASET_CASES)
def test_a_bad_dataset_is_refused_in_one_line(case, dataset, tmp_path, cwd, capsys):
    change, restamp, match = DATASET_CASES[case]
    forged = _forged_dataset(dataset, tmp_path, change, restamp=restamp)
    _refused(capsys, ["dataset", "info", forged], match)


def test_a_run_with_other_env_settings_than_its_dataset_is_refused(dataset, cwd, capsys):
    """`--set env.max_steps=3` passed for a dataset collected with the env's defaults."""
    base = ["run", "--env", FL, "--agent", "cql", "--steps", "4", "--eval-every", "4", "--no-progress",
            "--set", f"agent.cql.dataset={dataset}"]
    _refused(capsys, base + ["--set", "env.max_steps=3", "--out", "o"],
             "was collected with env settings {}, this run has {'max_steps': 3}")
    assert main(base + ["--out", "p"]) == 0  # the dataset's own settings run


def test_the_env_settings_are_recorded_and_checked(cwd, capsys):
    assert main(COLLECT + ["--set", "env.max_steps=3", "--out", "d"]) == 0
    capsys.readouterr()
    folder = next((cwd / "d" / "priorbench").iterdir())
    assert datasets.read_provenance(folder)["env_kwargs"] == {"max_steps": 3}
    assert datasets.load_transitions(folder, expected_env=FL, expected_env_kwargs={"max_steps": 3})
    with pytest.raises(UserError, match="was collected with env settings"):
        datasets.load_transitions(folder, expected_env=FL, expected_env_kwargs={})


def test_dataset_collect_refuses_a_negative_seed(cwd, capsys):
    _refused(capsys, COLLECT + ["--seed", "-1", "--out", "d"], "--seed must be ≥ 0, got -1")
    assert not any(cwd.iterdir())


def test_restamping_keeps_the_data_and_their_checksum(dataset, tmp_path):
    """An older dataset, stamped once with the env settings it was collected with, loads again
    with the same data checksum (its identity in stored run records)."""
    old = _forged_dataset(dataset, tmp_path, lambda d, m: {k: v for k, v in m.items()
                                                           if k not in ("provenance_sha256", "env_kwargs")},
                          restamp=False)
    with pytest.raises(UserError, match="older priorbench"):
        datasets.read_provenance(old)
    assert datasets.stamp_provenance(old, {})
    assert datasets.read_provenance(old)["sha256"] == datasets.read_provenance(dataset)["sha256"]
    assert not datasets.stamp_provenance(old, {})


def test_dataset_collect_writes_nothing_through_a_link_below_its_out(cwd, capsys):
    (cwd / "elsewhere").mkdir()
    (cwd / "d").mkdir()
    (cwd / "d" / "priorbench").symlink_to(cwd / "elsewhere")
    _refused(capsys, ["dataset", "collect", "--env", FL, "--episodes", "2", "--no-progress", "--out", "d"],
             "d/priorbench is a symbolic link")
    assert list((cwd / "elsewhere").iterdir()) == []
