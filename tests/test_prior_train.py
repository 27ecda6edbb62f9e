"""`priorbench prior train`: a LoRA adapter distilled from train tasks, saved, checked and loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from priorbench import envs
from priorbench.agents.priors import make_prior
from priorbench.agents.priors.lora import ADAPTER_FILE, ADAPTER_MANIFEST, manifest_bytes
from priorbench.bench import prior_train
from priorbench.bench.prior_inspect import inspect
from priorbench.core.errors import UserError

ENV = "priorbench/FrozenLake-4x4-Random-v0"


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    out = tmp_path_factory.mktemp("adapters") / "lake"
    manifest = prior_train.train([ENV], out, base="tiny-gpt2", states=24, steps=6, batch_size=4,
                                 lr=5e-3, seed=0)
    return out, manifest


def test_the_manifest_names_only_train_tasks(adapter):
    out, manifest = adapter
    assert json.loads((out / ADAPTER_MANIFEST).read_text()) == manifest
    train, test = (set(envs.make(ENV, split=s).tasks) for s in ("train", "test"))
    seen = set(manifest["task_ids"][ENV])
    assert seen and seen <= train and not seen & test
    assert manifest["split"] == "train" and manifest["states"] == 24 and manifest["steps"] == 6
    assert manifest["base"]["prior"] == "tiny-gpt2" and len(manifest["data_sha256"]) == 64
    assert (out / ADAPTER_FILE).stat().st_size > 0


def test_the_adapter_loads_as_a_prior_and_changes_it(adapter):
    out, manifest = adapter
    base = make_prior("tiny-gpt2", cache=False)
    tuned = make_prior("tiny-gpt2", {"adapter": str(out)}, cache=False)
    assert tuned.provenance()["adapter"]["sha256"] == manifest["adapter_sha256"]
    assert "adapter" not in base.provenance()
    report = inspect(ENV, ["tiny-gpt2", f"tiny-gpt2:adapter={out}"], split="train", n_states=12,
                     seed=0, wins=False)
    before, after = (report["priors"][k]["summary"]["p_expert"] for k in report["priors"])
    assert after > before  # trained on these (train) states: the expert's command gained mass
    assert not np.isclose(before, after)


def test_a_test_split_and_a_used_folder_are_refused(adapter, tmp_path):
    out, _ = adapter
    with pytest.raises(UserError, match="train tasks only"):
        prior_train.train([ENV], tmp_path / "x", base="tiny-gpt2", split="test")
    with pytest.raises(UserError, match="already exists"):
        prior_train.train([ENV], out, base="tiny-gpt2")
    with pytest.raises(UserError, match="must be positive"):
        prior_train.train([ENV], tmp_path / "y", base="tiny-gpt2", steps=0)


def test_a_changed_or_foreign_adapter_is_refused(adapter, tmp_path):
    out, manifest = adapter
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / ADAPTER_MANIFEST).write_text((out / ADAPTER_MANIFEST).read_text())
    (changed / ADAPTER_FILE).write_bytes((out / ADAPTER_FILE).read_bytes() + b"x")
    with pytest.raises(UserError, match="checksum"):
        make_prior("tiny-gpt2", {"adapter": str(changed)}, cache=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / ADAPTER_FILE).write_bytes((out / ADAPTER_FILE).read_bytes())
    other = {**manifest["base"], "model_id": "other", "weights_sha256": "0" * 64}
    (foreign / ADAPTER_MANIFEST).write_bytes(manifest_bytes({**manifest, "base": other}))  # a whole adapter
    with pytest.raises(UserError, match="was trained on 'other'"):
        make_prior("tiny-gpt2", {"adapter": str(foreign)}, cache=False)
    with pytest.raises(UserError, match="needs manifest.json"):
        make_prior("tiny-gpt2", {"adapter": str(tmp_path / "nowhere")}, cache=False)


def test_loading_a_prior_draws_none_of_the_runs_random_numbers(adapter):
    """peft initialises a LoRA at random before the adapter's weights replace it: loading must
    leave torch's RNG as it was, or a run's records would depend on whether its worker process
    had loaded the prior for an earlier run (make_prior loads once per process)."""
    import torch

    from priorbench.agents import priors

    out, _ = adapter
    priors._LOADED.clear()  # a real load, not the process's shared copy
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    make_prior("tiny-gpt2", {"adapter": str(out)}, cache=False)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_every_committed_adapter_saw_train_tasks_only():
    """experiments/adapters: each adapter (SmolLM2's and Gemma 3's) was trained on its env's train
    split alone, so scoring or playing its env's test split is on tasks it never saw."""
    from tests.conftest import ROOT

    folders = sorted(p.parent for p in (ROOT / "experiments" / "adapters").glob("*/" + ADAPTER_MANIFEST))
    bases = set()
    for folder in folders:
        manifest = json.loads((folder / ADAPTER_MANIFEST).read_text())
        assert manifest["split"] == "train", folder.name
        bases.add(manifest["base"]["prior"])
        for env_id, seen in manifest["task_ids"].items():
            kwargs = manifest["env_kwargs"] or {}
            train, test = (set(envs.make(env_id, split=s, **kwargs).tasks) for s in ("train", "test"))
            assert seen and set(seen) <= train and not set(seen) & test, (folder.name, env_id)
    assert {"smollm2-135m", "gemma3-270m"} <= bases, bases  # issue 32's prior B is another model family
