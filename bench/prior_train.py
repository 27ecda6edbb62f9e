"""`priorbench prior train`: a distilled game prior (the CALM recipe, Yao et al. 2020).

The small LM gets a LoRA adapter trained on (prompt → expert command) pairs from the env's
**train** tasks only: the states `prior inspect` walks (expert play with random detours, a
fixed seed), the agents' own prompt template without history, and a cross-entropy over each
state's admissible commands (the distribution the agents draw from). The adapter is saved as
safetensors with a manifest — base model and weights hash, env ids, split, every task id it saw,
data hash, seed, steps, LoRA settings, losses, CPU time — and loads as a prior:

    --set agent.dqn-prior.prior_params={adapter="DIR"}      # on the registered smollm2-135m

A test task can never be a training state: the split is fixed to train, and the manifest's
task ids are checked against the env's test split before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from priorbench.core.config import canonical_json
from priorbench.core.errors import UserError
from priorbench.core.paths import check_out_folder, folder_lock, staging_folder, write_error
from priorbench.core.progress import Meter, notice
from priorbench.core.seeding import fixed_rng

MANIFEST_VERSION = 1


def _test_task_ids(env_id: str, env_kwargs: dict[str, Any]) -> set[str]:
    from priorbench import envs

    env = envs.make(env_id, split="test", **env_kwargs)
    try:
        return set(map(str, env.tasks))
    finally:
        env.close()


def train(env_ids: Sequence[str], out: Path, *, base: str = "smollm2-135m",
          base_params: dict[str, Any] | None = None, split: str = "train", states: int = 200,
          steps: int = 300, lr: float = 1e-3, batch_size: int = 8, seed: int = 0, lora_r: int = 8,
          lora_alpha: int = 16, normalization: str = "sum", env_kwargs: dict[str, Any] | None = None,
          progress: Any = None) -> dict[str, Any]:
    """Train, check, save; returns the manifest written to `out`/manifest.json.

    `out` is held for this process alone while it trains (`core.paths.folder_lock`); the
    adapter is built in a staging folder inside it and its two files moved in, the manifest
    last, so a folder with a manifest holds a whole adapter."""
    out = Path(out)
    check_settings(split=split, states=states, steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                   lora_r=lora_r, lora_alpha=lora_alpha)
    check_out_folder(out, "--out")
    created = not out.exists()
    with folder_lock(out, "--out"):  # one writer: a second `prior train --out` is refused at once
        if any(p for p in out.iterdir() if not p.name.startswith(STAGING)):
            raise UserError(f"--out {out} already exists; choose a new folder (adapters are never overwritten)")
        try:
            return _train(env_ids, out, base=base, base_params=base_params, split=split, states=states,
                          steps=steps, lr=lr, batch_size=batch_size, seed=seed, lora_r=lora_r,
                          lora_alpha=lora_alpha, normalization=normalization, env_kwargs=env_kwargs or {},
                          progress=progress)
        except BaseException:
            if created and not any(out.iterdir()):
                out.rmdir()  # nothing was made: leave no empty folder behind
            raise


#: The prefix of the staging folder an adapter is built in, inside its --out folder.
STAGING = ".staging-"


def check_settings(*, split: str, states: int, steps: int, lr: float, batch_size: int, seed: int,
                   lora_r: int, lora_alpha: float) -> None:
    """Refuse settings `prior train` cannot use, before any work (one line each)."""
    from priorbench.agents.priors.lora import MAX_LORA_R

    if split != "train":
        raise UserError(f"--split {split}: a distilled prior learns from train tasks only, so that "
                        "its test-split figures measure generalisation to unseen tasks")
    for name, value in (("--steps", steps), ("--states", states), ("--batch-size", batch_size)):
        if value <= 0:
            raise UserError(f"{name} must be positive, got {value}")
    if not (math.isfinite(lr) and lr > 0):
        raise UserError(f"--lr must be a finite positive number, got {lr}")
    if not 1 <= lora_r <= MAX_LORA_R:
        raise UserError(f"--lora-r must be in [1, {MAX_LORA_R}], got {lora_r}")
    if not (math.isfinite(lora_alpha) and lora_alpha > 0):
        raise UserError(f"the LoRA alpha must be a finite positive number, got {lora_alpha}")
    if seed < 0:
        raise UserError(f"--seed must be ≥ 0, got {seed}")


def _train(env_ids: Sequence[str], out: Path, *, base: str, base_params: dict[str, Any] | None,
           split: str, states: int, steps: int, lr: float, batch_size: int, seed: int, lora_r: int,
           lora_alpha: int, normalization: str, env_kwargs: dict[str, Any], progress: Any) -> dict[str, Any]:
    from priorbench.agents.priors.adapted import AdaptedPrior
    from priorbench.agents.priors.lora import ADAPTER_FILE, ADAPTER_MANIFEST, manifest_bytes
    from priorbench.agents.priors.prompts import fit_prompt, template_for
    from priorbench.bench.prior_inspect import walk_states

    started_cpu, started = time.process_time(), time.perf_counter()
    if progress:
        progress(f"loading {base} with a LoRA adapter (r={lora_r})")
    with fixed_rng(seed):  # LoRA's A matrices come from torch's global RNG
        prior = AdaptedPrior(base, base_params, r=lora_r, alpha=lora_alpha, owner="prior train")
    prompts, candidates, targets, rows = [], [], [], []
    task_ids: dict[str, list[str]] = {}
    for env_id in env_ids:
        if progress:
            progress(f"walking up to {states} states of {env_id} ({split} split)")
        template = template_for(env_id)
        walked = walk_states(env_id, split, states, seed, env_kwargs)
        seen = sorted({s.task_id for s in walked})
        leaked = sorted(set(seen) & _test_task_ids(env_id, env_kwargs))
        if leaked:
            raise UserError(f"{env_id}: train states come from test tasks {leaked[:3]}; the env's "
                            "splits overlap, so a distilled prior cannot be measured on it")
        task_ids[env_id] = seen
        for s in walked:
            prompt = fit_prompt(template, prior.count_tokens, prior.context_length, s.task,
                                s.observation, s.commands, [])
            prompts.append(prompt)
            candidates.append(list(s.commands))
            targets.append(s.commands.index(s.expert))
            rows.append([env_id, s.task_id, str(prompt), list(s.commands), s.expert])
    if progress:
        progress(f"training a LoRA adapter (r={lora_r}) on {len(prompts)} states for {steps} steps")
    # a bar (steps, loss, ETA), or where bars are hidden a line at the first and last step and
    # whenever core.progress.NOTICE_EVERY_S passed in silence
    meter = Meter(steps, "prior train", report=bool(progress), write=progress or notice)
    try:
        losses = prior.fit_commands(prompts, candidates, targets, steps=steps, lr=lr, batch_size=batch_size,
                                    seed=seed, normalization=normalization,  # type: ignore[arg-type]
                                    progress=lambda step, loss: meter.update(1, f"loss {loss:.3f}",
                                                                             say=step in (1, steps)))
    finally:
        meter.close()
    if not all(math.isfinite(loss) for loss in losses):
        step = next(i for i, loss in enumerate(losses) if not math.isfinite(loss))
        raise UserError(f"prior train: the loss became {losses[step]} at step {step + 1}; "
                        "nothing was saved: lower --lr")
    weights = prior.adapter_bytes()
    base_prov = prior.provenance()
    manifest = {
        "kind": "priorbench-adapter", "version": MANIFEST_VERSION,
        "base": {"prior": base, "params": dict(base_params or {}), "model_id": base_prov["model_id"],
                 "weights_sha256": base_prov["weights_sha256"]},
        "lora": prior.lora_settings(), "env_ids": list(env_ids), "env_kwargs": env_kwargs, "split": split,
        "task_ids": task_ids, "states": len(prompts),
        "data_sha256": hashlib.sha256(canonical_json(rows).encode()).hexdigest(),
        "templates": sorted({template_for(e).id for e in env_ids}), "normalization": normalization,
        "seed": seed, "steps": steps, "lr": lr, "batch_size": batch_size,
        "losses": {"first": losses[0], "last": losses[-1],
                   "mean_last_25": sum(losses[-25:]) / len(losses[-25:])},
        "adapter_sha256": hashlib.sha256(weights).hexdigest(),
        "cpu_seconds": round(time.process_time() - started_cpu, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    data = manifest_bytes(manifest)
    try:
        with staging_folder(out, prefix=STAGING) as work:
            for name, content in ((ADAPTER_FILE, weights), (ADAPTER_MANIFEST, data)):
                with open(work / name, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
            for name in (ADAPTER_FILE, ADAPTER_MANIFEST):  # the manifest last: it marks a whole adapter
                os.replace(work / name, out / name)
    except OSError as exc:
        (out / ADAPTER_FILE).unlink(missing_ok=True)
        raise write_error(out, exc) from None
    return json.loads(data)
