import gymnasium as gym
import pytest

from priorbench import envs
from priorbench.envs.frozenlake import TEST_SEED_OFFSET, FrozenLakeText

FROZEN_IDS = [e for e in envs.env_ids() if "FrozenLake" in e]


@pytest.mark.parametrize("env_id", FROZEN_IDS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_passes_check_text_env(env_id, split):
    envs.check_text_env(envs.make(env_id, split=split))


@pytest.mark.parametrize("env_id", FROZEN_IDS)
def test_gymnasium_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    check_env(envs.make(env_id), skip_render_check=True)


def test_standard_map_observation_and_commands():
    env = envs.make("priorbench/FrozenLake-4x4-v0")
    obs, info = env.reset(seed=0)
    assert obs.startswith("You are at row 1, column 1 of a 4×4 frozen lake.")
    assert "North: the edge of the lake." in obs
    assert "The goal is 3 steps south and 3 steps east." in obs
    assert info["admissible_commands"] == ["go south", "go east"]
    assert info["expert_action"] in ("go south", "go east")
    obs, r, term, trunc, info = env.step("go east")
    assert (r, term, trunc) == (0.0, False, False)
    assert "row 1, column 2" in obs and "South: a hole." in obs


def test_hole_ends_episode_as_lost():
    env = envs.make("priorbench/FrozenLake-4x4-v0")
    env.reset(seed=0)
    env.step("go east")
    obs, r, term, trunc, info = env.step("go south")
    assert term and info["lost"] and not info["won"] and r == 0.0
    assert "fell into a hole" in obs


def test_invalid_command_is_flagged_not_raised():
    env = envs.make("priorbench/FrozenLake-4x4-v0")
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step("dance a jig")
    assert info["invalid_action"] is True and not term
    assert obs.startswith("You can't do that here.")


def test_step_limit_truncates():
    env = envs.make("priorbench/FrozenLake-4x4-v0")
    env.reset(seed=0)
    for _ in range(19):
        _, _, term, trunc, _ = env.step("go south" if _ % 2 == 0 else "go north")
        assert not (term or trunc)
    _, _, term, trunc, _ = env.step("go south")
    assert trunc and not term


@pytest.mark.parametrize("env_id", ["priorbench/FrozenLake-4x4-Random-v0", "priorbench/FrozenLake-8x8-Random-v0"])
def test_expert_wins_every_test_map(env_id):
    env = envs.make(env_id, split="test")
    for task in range(len(env.tasks)):
        obs, info = env.reset(seed=task, options={"task": task})
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(info["expert_action"])
            done = term or trunc
        assert info["won"], f"expert lost on {env.tasks[task]}"


def test_random_maps_disjoint_and_reproducible():
    train = FrozenLakeText(random_maps=True, split="train")
    test = FrozenLakeText(random_maps=True, split="test")
    assert not set(train.tasks) & set(test.tasks)
    assert test.tasks[0] == f"map-seed-{TEST_SEED_OFFSET}"
    assert FrozenLakeText(random_maps=True)._maps == train._maps
    assert len(set(train._maps)) > 50  # seeds give different maps


def test_slippery_uses_gymnasium_dynamics():
    env = envs.make("priorbench/FrozenLake-4x4-Slippery-v0")
    positions = set()
    for seed in range(30):
        env.reset(seed=seed)
        obs, *_ = env.step("go east")
        positions.add(obs.split(" of ")[0])
    assert len(positions) > 1  # the same command lands in different cells


def test_registered_with_string_entry_points():
    for env_id in FROZEN_IDS:
        assert isinstance(gym.registry[env_id].entry_point, str)


def test_bad_kwargs_named():
    from priorbench.core.errors import UserError

    with pytest.raises(UserError, match="has no setting .no_such_option.. Its settings: "):
        envs.make("priorbench/FrozenLake-4x4-v0", no_such_option=1)
    with pytest.raises(UserError, match="Did you mean"):
        envs.make("priorbench/FrozenLake-4x4-v1")
