"""Every registered env's expert: where `info["expert_action"]` is given at reset, following it
from the start of each of the first 5 test tasks (2 for ScienceWorld's 30 tasks) wins (the leaderboard normalises by the expert
and builds datasets from it). An expert never goes missing mid-episode before the game ends.

Envs that cannot be made here (no game files given, $ALFWORLD_DATA unset, an extra or Java
missing) are skipped with the reason; under CI=1 only TextWorld-v0 (needs game files) and the
official ALFWorld games may skip."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from priorbench import envs
from priorbench.core.errors import UserError

N_TASKS = 5
#: ScienceWorld's 30 tasks follow the library's gold paths through one simulator: 2 test
#: variations each (60 games) check its expert; 5 each took ~10 CPU-minutes of the test run.
SCIENCEWORLD_TASKS = 2
#: Envs that need what a test machine need not have: files the user names, or a download.
NEEDS_FILES = ("priorbench/TextWorld-v0", "priorbench/ALFWorld-")


def follow_expert(env, task: int, *, seed: int = 0) -> tuple[bool, str]:
    """Play task `task` by `expert_action` from reset to the end; (True, "") on a win, else
    (False, what happened). An env without `expert_action` at reset counts as a win (no expert)."""
    _, info = env.reset(seed=seed, options={"task": task})
    if "expert_action" not in info:
        return True, "no expert"
    for step in range(100_000):
        action = info.get("expert_action")
        if action is None:
            return False, f"expert_action gone at step {step} (score {info['score']}, not won)"
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            if info["won"]:
                return True, ""
            error = f": {info['error']}" if info.get("error") else ""
            return False, (f"{'lost' if terminated else 'truncated'} after {step + 1} expert steps "
                           f"(score {info['score']}){error}")
    return False, "no end after 100,000 steps"


def _make_test_env(env_id: str):
    try:
        return envs.make(env_id, split="test")
    except (UserError, ImportError) as exc:
        if env_id.startswith(NEEDS_FILES) or not os.environ.get("CI"):
            pytest.skip(f"{env_id} cannot be made here: {exc}")
        raise


@pytest.mark.slow
@pytest.mark.parametrize("env_id", envs.env_ids())
def test_following_the_expert_wins_the_first_test_tasks(env_id):
    env = _make_test_env(env_id)
    try:
        start = time.monotonic()
        failures = []
        n = SCIENCEWORLD_TASKS if env_id.startswith("priorbench/ScienceWorld-") else N_TASKS
        for task in range(min(n, len(env.tasks))):
            won, why = follow_expert(env, task)
            if not won and (env.expert_always_wins or why.startswith("expert_action gone")):
                failures.append(f"task {task} ({env.tasks[task]}): {why}")
        print(f"{env_id}: {time.monotonic() - start:.1f} s")
        assert not failures, f"{env_id}: following the expert does not win:\n" + "\n".join(failures)
    finally:
        env.close()


def _scienceworld():
    if not os.environ.get("CI"):
        pytest.importorskip("scienceworld", reason="the scienceworld extra is not installed")
        if shutil.which("java") is None:
            pytest.skip("ScienceWorld needs Java 17 on PATH")
    from priorbench.envs import scienceworld_env

    return scienceworld_env


@pytest.mark.slow
def test_scienceworld_expert_waits_on_where_the_gold_path_ends_before_the_win(monkeypatch):
    """The library's gold path can end while the substance is still freezing (issue 29: freeze,
    score 87, no win); the expert then waits until the score reaches 100, and stays admissible."""
    sw = _scienceworld()
    env = envs.make("priorbench/ScienceWorld-Freeze-v0", split="test", n_test_variations=8, max_commands=12)
    try:
        key = (env.task_name, env.variations[7], env.simplifications)
        gold = env._gold_path(key)
        first_wait = gold.index(sw.WAIT, gold.index("move metal pot to freezer"))
        monkeypatch.setitem(sw._GOLD, key, gold[:first_wait + 1])  # the path ends after one wait
        _, info = env.reset(options={"task": 7})
        steps, n_gold = 0, len(env._gold)
        while not info["won"]:
            assert "expert_action" in info, f"expert_action gone at step {steps} (score {info['score']})"
            assert info["expert_action"] in info["admissible_commands"]
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            steps += 1
            assert info["won"] or not (terminated or truncated), info["score"]
        assert steps > n_gold  # it waited past the end of the gold path
    finally:
        env.close()


@pytest.mark.slow
def test_scienceworld_default_test_variations_fit_a_smaller_fold(capsys):
    """10 test variations by default, the whole fold where it has fewer (freeze's has 9); an
    explicit number over the fold's size is refused with one line."""
    _scienceworld()
    env = envs.make("priorbench/ScienceWorld-Freeze-v0", split="test")
    assert len(env.tasks) == 9
    env.close()
    with pytest.raises(UserError, match=r"^ScienceWorld 'freeze' has 9 test variations; asked for "
                                        r"n_test_variations = 12$"):
        envs.make("priorbench/ScienceWorld-Freeze-v0", split="test", n_test_variations=12)


def test_the_slippery_lake_expert_plays_the_best_odds():
    """Slippery Frozen Lake: no expert wins every episode (moves off the lake are not
    admissible, so the best odds on the standard map are 11.9%); the expert plays them (a
    shortest path wins 4%) and acts until the episode ends."""
    env = envs.make("priorbench/FrozenLake-4x4-Slippery-v0", split="test")
    results = [follow_expert(env, 0, seed=seed) for seed in range(1000)]
    assert all(won or why.startswith("lost") for won, why in results)
    assert 0.09 < sum(won for won, _ in results) / len(results) < 0.15


@pytest.mark.slow
def test_scienceworld_gold_paths_are_kept_in_the_cache(tmp_path, monkeypatch):
    """A gold path is generated once (a JVM of its own, ~4 s) and read from priorbench's cache
    afterwards, in any process: the cached sequence is the one the expert follows."""
    import json

    sw = _scienceworld()
    monkeypatch.setenv("PRIORBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(sw, "_GOLD", {})
    env = sw.ScienceWorld(task="boil", split="test", n_test_variations=1)
    try:
        _, info = env.reset(options={"task": 0})
        files = list((tmp_path / "scienceworld-gold").glob("*.json"))
        assert len(files) == 1 and json.loads(files[0].read_text())[0] == info["expert_action"]
        files[0].write_text(json.dumps(["wait1", "wait1"]))
        monkeypatch.setattr(sw, "_GOLD", {})  # a new process: only the file is left
        _, info = env.reset(options={"task": 0})
        assert info["expert_action"] == "wait1"
        files[0].write_text("[" * 1000 + "]" * 1000)  # a damaged file is generated again
        monkeypatch.setattr(sw, "_GOLD", {})
        _, info = env.reset(options={"task": 0})
        assert info["expert_action"] != "wait1" and json.loads(files[0].read_text())[0] == info["expert_action"]
    finally:
        env.close()
