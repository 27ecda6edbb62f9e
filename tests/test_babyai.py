"""BabyAI in text (envs/babyai.py, issue 33): every registered id passes both env checkers, the
expert (minigrid's BabyAI bot) wins every test task of every listed level from its start and
after random detours, the splits share no seed, the text says what the view holds, a command that
does nothing is flagged, and `BabyAI-v0` plays a level that is not in the list."""

from __future__ import annotations

import numpy as np
import pytest

from priorbench import envs
from priorbench.core.errors import UserError
from priorbench.envs.babyai import COMMANDS, LEVELS, TEST_SEED_OFFSET

BABYAI_IDS = [e for e in envs.env_ids() if "/BabyAI-" in e]
SMALL = {"n_train_tasks": 12, "n_test_tasks": 12}  # the checkers play every task's expert


def test_the_family_is_listed():
    compositional = {f"priorbench/BabyAI-{level}-Compositional-v0" for level in ("GoToLocal", "PickupLoc", "PutNextLocal")}
    assert {f"priorbench/BabyAI-{level}-v0" for level in LEVELS} | compositional | {
        "priorbench/BabyAI-MixedLocal-v0", "priorbench/BabyAI-v0"} == set(BABYAI_IDS)
    assert all(envs.info(e).prompt_family == "babyai" and envs.info(e).card == "docs/envs/babyai.md" for e in BABYAI_IDS)


@pytest.mark.parametrize("env_id", BABYAI_IDS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_passes_check_text_env(env_id, split):
    envs.check_text_env(envs.make(env_id, split=split, **SMALL))


@pytest.mark.parametrize("env_id", BABYAI_IDS)
def test_gymnasium_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    check_env(envs.make(env_id, **SMALL), skip_render_check=True)


@pytest.mark.slow
@pytest.mark.parametrize("level", sorted(LEVELS))
def test_the_expert_wins_every_test_task_from_the_start_and_after_detours(level):
    env = envs.make(f"priorbench/BabyAI-{level}-v0", split="test")
    rng = np.random.default_rng(0)
    for task in range(len(env.tasks)):
        for detour in (0, 5):  # from the start, then after 5 random commands
            _, info = env.reset(seed=task, options={"task": task})
            done = False
            for _ in range(detour):
                _, _, terminated, truncated, info = env.step(COMMANDS[int(rng.integers(len(COMMANDS)))])
                done = terminated or truncated
                if done:
                    break
            if done and info["lost"]:  # a random pick-up can end a pick-up mission: not the expert's loss
                continue
            while not done:
                _, _, terminated, truncated, info = env.step(info["expert_action"])
                done = terminated or truncated
            assert info["won"], (level, env.tasks[task], detour)


def test_train_and_test_tasks_are_disjoint_seed_ranges():
    for env_id in ("priorbench/BabyAI-GoToLocal-v0", "priorbench/BabyAI-MixedLocal-v0"):
        train, test = (envs.make(env_id, split=s) for s in ("train", "test"))
        assert len(train.tasks) == 1000 and len(test.tasks) == 100
        assert not set(train.tasks) & set(test.tasks)
        seeds = {s: [int(t.rsplit("seed-", 1)[1]) for t in e.tasks] for s, e in (("train", train), ("test", test))}
        assert max(seeds["train"]) < TEST_SEED_OFFSET <= min(seeds["test"])
    mixed = envs.make("priorbench/BabyAI-MixedLocal-v0", split="test")
    assert [t.split("/")[0] for t in mixed.tasks[:4]] == ["GoToLocal", "PickupLoc", "PutNextLocal", "OpenDoorLoc"]
    missions = [mixed.reset(options={"task": i})[1]["task"] for i in range(4)]
    assert missions[0].startswith("go to") and missions[1].startswith("pick up") and missions[2].startswith("put")
    assert missions[3].startswith("open")


def test_the_text_says_what_the_view_holds_and_flags_commands_that_do_nothing():
    env = envs.make("priorbench/BabyAI-GoToLocal-v0", split="test")
    obs, info = env.reset(options={"task": 0})
    assert info["task"] == "go to the red ball" and info["admissible_commands"] == list(COMMANDS)
    assert obs == ("You see a red box 2 steps forward and 1 step right. You see a grey box 2 steps forward and "
                   "2 steps left. You see a wall 3 steps forward. You see a wall 2 steps right. You carry nothing.")
    _, _, _, _, info = env.step("drop")  # carrying nothing
    assert info["invalid_action"] is True
    _, _, _, _, info = env.step("turn left")
    assert info["invalid_action"] is False
    for _ in range(10):  # walk into the wall ahead: the last steps do nothing
        obs, _, _, _, info = env.step("go forward")
    assert info["invalid_action"] is True and obs.startswith("Nothing happens. ")
    obs, _, _, _, info = env.step("dance")  # not a command: a step that does nothing
    assert info["invalid_action"] is True


def test_any_minigrid_level_by_name_and_a_clear_error_for_an_unknown_one():
    assert "BabyAI-BossLevelNoUnlock-v0" not in LEVELS.values()
    env = envs.make("priorbench/BabyAI-v0", split="test", level="BabyAI-BossLevelNoUnlock-v0", n_test_tasks=2)
    _, info = env.reset(options={"task": 0})
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(info["expert_action"])
        done = terminated or truncated
    assert info["won"] and env.provenance()["levels"] == ["BabyAI-BossLevelNoUnlock-v0"]
    with pytest.raises(UserError, match="unknown BabyAI level 'GoToNowhere'"):
        envs.make("priorbench/BabyAI-v0", level="GoToNowhere")


def test_the_same_seed_gives_the_same_episode():
    a, b = (envs.make("priorbench/BabyAI-PutNextLocal-v0") for _ in range(2))
    for env in (a, b):
        env.reset(seed=3)
    assert a.tasks == b.tasks
    trace = [[env.step(c)[0] for c in ("turn left", "go forward", "pick up", "turn right", "drop")] for env in (a, b)]
    assert trace[0] == trace[1]


@pytest.mark.slow
@pytest.mark.parametrize("level", ["GoToLocal", "PickupLoc", "PutNextLocal"])
def test_the_compositional_split_names_held_out_pairs_only_in_test_missions(level):
    from priorbench.envs.babyai import compositional

    pairs, levels = compositional()
    assert level in levels and len(pairs) == 6
    env_id = f"priorbench/BabyAI-{level}-Compositional-v0"
    train, test = (envs.make(env_id, split=s) for s in ("train", "test"))
    missions = {s: [e.reset(options={"task": i})[1]["task"] for i in range(len(e.tasks))]
                for s, e in (("train", train), ("test", test))}
    assert len(missions["train"]) == 1000 and len(missions["test"]) == 100
    assert not [m for m in missions["train"] if any(p in m for p in pairs)]
    assert all(any(p in m for p in pairs) for m in missions["test"])
    words = " ".join(missions["train"])  # every colour and type of the held-out pairs is named in training
    assert all(w in words for p in pairs for w in p.split())
    assert test.provenance()["holdout"] == list(pairs) and not set(train.tasks) & set(test.tasks)
    with pytest.raises(UserError, match="holdout"):
        envs.make("priorbench/BabyAI-v0", level="OpenDoorLoc", holdout=True)


def test_the_sequence_levels_of_ours_say_glams_missions():
    """GLAM's one-room sequence tasks, which minigrid lacks (envs/babyai.py OWN_LEVELS): one
    object to pick up, another to go to, in either wording, in GoToLocal's room."""
    import re

    wordings = {"PickupThenGoToLocal": r"pick up (?:the|a) (\w+ \w+), then go to (?:the|a) (\w+ \w+)",
                "GoToAfterPickupLocal": r"go to (?:the|a) (\w+ \w+) after you pick up (?:the|a) (\w+ \w+)"}
    for level, wording in wordings.items():
        env = envs.make(f"priorbench/BabyAI-{level}-v0", split="test", **SMALL)
        for task in range(len(env.tasks)):
            _, info = env.reset(options={"task": task})
            found = re.fullmatch(wording, info["task"])
            assert found and found.group(1) != found.group(2), info["task"]
            assert env._game.max_steps == 128 and env._game.room_size == 8  # two navigations of 64
