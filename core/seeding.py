"""The one place that derives seeds and seeds or snapshots python, numpy and torch RNGs.

Every random number in a run flows from the run's seed: episode seeds are derived from it
by hashing, so no environment RNG state has to be checkpointed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def derive_seed(seed: int, *path: object) -> int:
    """A stable 31-bit seed for a named stream under `seed`, e.g. derive_seed(0, "train", 12)."""
    text = "/".join([str(seed), *map(str, path)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's global and torch's global RNGs (torch only if imported or installed)."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # torch is a dependency, but seeding must not be what breaks without it
        return
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Snapshot of the global RNG states, for checkpoints."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state()}
    try:
        import torch
    except ImportError:
        return state
    state["torch"] = torch.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by `rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "torch" in state:
        import torch

        torch.set_rng_state(state["torch"])


@contextmanager
def fixed_rng(seed: int) -> Iterator[None]:
    """Seed the global RNGs for a block and put their previous states back afterwards.

    For library code that draws from global RNGs (rliable's bootstrap, torch's weight init):
    its numbers depend only on `seed`, and the caller's random streams are left untouched.
    """
    before = rng_state()
    seed_everything(seed)
    try:
        yield
    finally:
        set_rng_state(before)


@contextmanager
def own_streams(seed: int, owner: Any) -> Iterator[None]:
    """`fixed_rng(seed)` plus `owner.rng` (a numpy Generator) swapped for one seeded by `seed`,
    and put back after: the runner evaluates an agent inside these, so whatever evaluation
    draws leaves the training streams where they were."""
    kept = owner.rng
    owner.rng = np.random.default_rng(seed)
    try:
        with fixed_rng(seed):
            yield
    finally:
        owner.rng = kept


@contextmanager
def fixed_numpy_rng(seed: int) -> Iterator[None]:
    """`fixed_rng` for numpy's global RNG alone (does not import torch)."""
    before = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(before)


@contextmanager
def fixed_python_rng(seed: int) -> Iterator[None]:
    """`fixed_rng` for Python's global `random` alone (any int seed, used as given)."""
    before = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(before)


#: torch threads of every run, whatever ran it (serially, `--workers N`, a user's script): float
#: sums, and so a run's numbers, differ between 1 and 2 threads, and the spec hash cannot see it.
RUN_THREADS = 1


@contextmanager
def pinned_threads() -> Iterator[None]:
    """torch at RUN_THREADS threads for the block, then as it was."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(RUN_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)
