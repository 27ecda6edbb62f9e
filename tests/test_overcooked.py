"""Text Overcooked (envs/overcooked/, docs/envs/overcooked.md): contract, TWOSOME's rules with exact rewards, text, limits."""

from __future__ import annotations

import copy

import gymnasium as gym
import pytest

from priorbench import envs
from priorbench.envs.overcooked import OvercookedText

TOMATO = "priorbench/Overcooked-TomatoSalad-v0"
LETTUCE = "priorbench/Overcooked-LettuceTomatoSalad-v0"
IDS = [TOMATO, LETTUCE]


def discounted(rewards: list[float]) -> float:
    """A macro-action's reward from its primitive rewards: sum of 0.99**k * r_k."""
    return sum(0.99**k * r for k, r in enumerate(rewards))


def penalty(n: int) -> float:
    """n primitive steps with no event: the step penalty, discounted within the macro-action."""
    return discounted([-0.001] * n)


def play(env, commands: list[str]) -> list[tuple]:
    """Step through commands; return (reward, primitive_steps, terminated, truncated, obs, info)."""
    out = []
    for command in commands:
        obs, reward, term, trunc, info = env.step(command)
        out.append((reward, info["primitive_steps"], term, trunc, obs, info))
    return out


@pytest.fixture
def tomato():
    env = envs.make(TOMATO)
    env.reset(seed=0)
    return env


@pytest.fixture
def lettuce():
    env = envs.make(LETTUCE)
    env.reset(seed=0)
    return env


# --- contract --------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_passes_check_text_env(env_id, split):
    envs.check_text_env(envs.make(env_id, split=split))


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    check_env(envs.make(env_id), skip_render_check=True)


def test_registered_with_string_entry_points_and_limits():
    assert set(IDS) <= set(envs.env_ids())
    for env_id, steps, recipe in ((TOMATO, 31, "tomato-salad"), (LETTUCE, 51, "lettuce-tomato-salad")):
        spec = gym.registry[env_id]
        assert spec.entry_point == "priorbench.envs.overcooked:OvercookedText"
        assert spec.kwargs == {"recipe": recipe, "max_steps": steps}
        assert env_id in envs.DESCRIPTIONS


@pytest.mark.parametrize("env_id", IDS)
def test_one_fixed_task_in_both_splits(env_id):
    train, test = envs.make(env_id, split="train"), envs.make(env_id, split="test")
    assert train.tasks == test.tasks and len(train.tasks) == 1
    a, _ = train.reset(seed=1)
    b, _ = test.reset(seed=2)
    assert a == b


def test_bad_settings_are_refused():
    from priorbench.core.errors import UserError

    with pytest.raises(ValueError, match="unknown recipe"):
        OvercookedText("onion-soup")
    with pytest.raises(ValueError, match="split"):
        OvercookedText(split="valid")
    with pytest.raises(UserError, match="has no setting .no_such_option."):
        envs.make(TOMATO, no_such_option=1)


# --- text ------------------------------------------------------------------------------------

def test_tomato_salad_start(tomato):
    obs, info = tomato.reset(seed=0)
    assert obs == ("There is a fixed cutting board in the room. You notice a tomato on a table. "
                   "Currently you don't have anything in hand.")
    assert info["admissible_commands"] == [
        "pick up the tomato", "take the bowl", "walk to the cutting board", "serve nothing",
        "chop nothing",
    ]
    assert info["task"] == ("Make a tomato salad: serve a bowl containing only chopped tomato "
                            "at the delivery counter.")
    assert info["task_id"] == "tomato-salad"
    assert (info["won"], info["lost"], info["score"], info["max_score"]) == (False, False, 0.0, 1.2)
    assert info["expert_action"] == "pick up the tomato"


def test_lettuce_tomato_salad_start_is_the_papers_example(lettuce):
    obs, info = lettuce.reset(seed=0)
    assert obs == ("There are two fixed cutting boards in the room. You notice a tomato, a lettuce "
                   "and an onion on the different tables. Currently you don't have anything in hand.")
    assert info["admissible_commands"] == [
        "pick up the tomato", "pick up the lettuce", "pick up the onion", "take the empty bowl",
        "walk to the first cutting board", "walk to the second cutting board", "serve nothing",
        "chop nothing",
    ]
    assert info["max_score"] == 1.4


def test_partial_observation_and_command_wording(lettuce):
    # The bowl (bottom row) is out of view from the start; next to it, the foods are.
    obs, *_ = lettuce.step("take the empty bowl")
    assert obs == "There are two fixed cutting boards in the room. Currently you are holding an empty bowl."
    cmds = lettuce._info()["admissible_commands"]
    assert cmds[:3] == ["put the tomato in the bowl", "put the lettuce in the bowl", "put the onion in the bowl"]
    assert cmds[4:7] == ["put the bowl on the first cutting board",
                         "put the bowl on the second cutting board", "serve the dish"]
    lettuce.reset(seed=0)
    steps = play(lettuce, ["pick up the tomato", "put the tomato on the first cutting board"])
    assert steps[0][4] == ("There are two fixed cutting boards in the room. You notice a lettuce and an "
                           "onion on the different tables. Currently you are holding an unchopped tomato.")
    assert steps[0][5]["admissible_commands"][4] == "put the tomato on the first cutting board"
    assert steps[1][4] == ("There are two fixed cutting boards in the room. The first cutting board "
                           "holds an unchopped tomato. You are standing in front of the first cutting "
                           "board. Currently you don't have anything in hand.")
    assert steps[1][5]["admissible_commands"][7] == "chop the tomato"
    # By the lettuce the boards are out of view; from the second board both are in view.
    obs, *_ = lettuce.step("pick up the lettuce")
    assert obs == ("There are two fixed cutting boards in the room. You notice an onion on a table. "
                   "Currently you are holding an unchopped lettuce.")
    obs, *_ = lettuce.step("put the lettuce on the second cutting board")
    assert obs == ("There are two fixed cutting boards in the room. The first cutting board holds an "
                   "unchopped tomato. The second cutting board holds an unchopped lettuce. You are "
                   "standing in front of the second cutting board. Currently you don't have anything "
                   "in hand.")


def test_bowl_with_food_in_hand_is_described_and_renamed(lettuce):
    play(lettuce, ["pick up the lettuce", "put the lettuce on the second cutting board",
                   "chop the lettuce", "take the empty bowl", "put the lettuce in the bowl"])
    info = lettuce._info()
    assert lettuce._describe().endswith(
        "You are standing in front of the second cutting board. "
        "Currently you are holding a bowl containing chopped lettuce.")
    assert info["admissible_commands"][3] == "take the bowl"
    assert info["admissible_commands"][6] == "serve the dish"


def test_aliases_and_invalid_commands(tomato):
    start = tomato._describe()
    for bad in ("dance a jig", "", "!!!", "chop the onion"):
        obs, reward, term, trunc, info = tomato.step(bad)
        assert info["invalid_action"] is True and info["primitive_steps"] == 0
        assert (reward, term, trunc) == (0.0, False, False)
        assert obs.startswith("Nothing happens: that is not one of the actions you can take now (")
        assert obs.endswith(start)
    a = envs.make(TOMATO)
    a.reset(seed=0)
    _, r1, *_, i1 = a.step("get tomato")  # TWOSOME's macro-action name
    _, r2, *_, i2 = tomato.step("  Pick up the Tomato. ")
    assert r1 == r2 and i1["macro_action"] == i2["macro_action"] == "get tomato"
    assert i2["invalid_action"] is False


# --- rewards (exact numbers) -------------------------------------------------------------------

def test_step_penalty_and_discount_within_a_macro_action(tomato):
    # From the start (row 1, column 4): one step to stand under the tomato, one to take it.
    (r, k, term, trunc, _, info), = play(tomato, ["pick up the tomato"])
    assert k == 2 and not (term or trunc)
    assert r == pytest.approx(-0.001 - 0.001 * 0.99, abs=1e-12)
    # Four steps to the cutting board and one to put the tomato on it.
    (r, k, *_), = play(tomato, ["put the tomato on the cutting board"])
    assert k == 5 and r == pytest.approx(penalty(5), abs=1e-12)
    assert info["total_primitive_steps"] == 2
    # A macro-action with nothing to do still costs one "stay" step.
    tomato.reset(seed=0)
    (r, k, *_), = play(tomato, ["chop nothing"])
    assert (k, r) == (1, pytest.approx(-0.001, abs=1e-12))


def test_chop_reward(tomato):
    play(tomato, ["pick up the tomato", "put the tomato on the cutting board"])
    (r, k, _, _, obs, info), = play(tomato, ["chop the tomato"])
    assert k == 3
    assert r == pytest.approx(discounted([-0.001, -0.001, -0.001 + 0.2]), abs=1e-12)
    assert r == pytest.approx(0.1930499, abs=1e-12)
    assert info["score"] == 0.2
    assert "The cutting board holds a chopped tomato." in obs
    # Chopping a chopped food does nothing: one stay step.
    (r, k, *_), = play(tomato, ["chop the tomato"])
    assert (k, r) == (1, pytest.approx(-0.001, abs=1e-12))


def test_only_needed_foods_earn_the_chop_reward(lettuce):
    # Onion is not in a lettuce-tomato salad: chopping it earns nothing.
    (_, k1, *_), (_, k2, *_), (r, k3, *_, info) = play(
        lettuce, ["pick up the onion", "put the onion on the first cutting board", "chop the onion"])
    assert (k1, k2, k3) == (3, 6, 3)
    assert r == pytest.approx(penalty(3), abs=1e-12) and info["score"] == 0.0
    # Lettuce is.
    steps = play(lettuce, ["pick up the lettuce", "put the lettuce on the second cutting board",
                           "chop the lettuce"])
    assert steps[-1][0] == pytest.approx(discounted([-0.001, -0.001, 0.199]), abs=1e-12)
    assert steps[-1][5]["score"] == 0.2


def test_correct_delivery_ends_the_episode(tomato):
    steps = play(tomato, ["pick up the tomato", "put the tomato on the cutting board",
                          "chop the tomato", "pick up the tomato", "take the bowl"])
    assert [s[1] for s in steps] == [2, 5, 3, 1, 10]  # "take the bowl": 8 steps, food in, bowl up
    assert steps[-1][4].endswith("Currently you are holding a bowl containing chopped tomato.")
    (r, k, term, trunc, obs, info), = play(tomato, ["serve the dish"])
    assert k == 7  # six steps to the delivery counter, one to hand the bowl over
    assert r == pytest.approx(discounted([-0.001] * 6 + [-0.001 + 1.0]), abs=1e-12)
    assert term and not trunc and info["won"] and not info["lost"]
    assert info["score"] == info["max_score"] == 1.2
    assert info["admissible_commands"] == [] and "expert_action" not in info
    assert obs == "You serve a bowl containing chopped tomato: the tomato salad is done. The episode is over."
    with pytest.raises(RuntimeError):
        tomato.step("serve the dish")


def test_wrong_delivery_penalty_and_reset(tomato):
    # An unchopped tomato is not a dish.
    play(tomato, ["pick up the tomato"])
    (r, k, term, trunc, obs, info), = play(tomato, ["serve the dish"])
    assert k == 7 and not (term or trunc)
    assert r == pytest.approx(discounted([-0.001] * 6 + [-0.001 - 0.1]), abs=1e-12)
    assert info["score"] == -0.1
    assert obs.endswith("Currently you don't have anything in hand.")
    assert tomato._pos("tomato") == (0, 5)  # back on its table
    # A chopped tomato handed over is reset unchopped: chopping it again earns +0.2 again.
    steps = play(tomato, ["pick up the tomato", "put the tomato on the cutting board", "chop the tomato",
                          "pick up the tomato", "serve the dish", "pick up the tomato",
                          "put the tomato on the cutting board", "chop the tomato"])
    assert steps[4][1] == 3  # from the cutting board: two steps down, one to hand it over
    assert steps[4][0] == pytest.approx(discounted([-0.001, -0.001, -0.001 - 0.1]), abs=1e-12)
    assert steps[7][0] == pytest.approx(discounted([-0.001, -0.001, 0.199]), abs=1e-12)
    assert steps[7][5]["score"] == pytest.approx(0.2 - 0.1 + 0.2 - 0.1)


def test_wrong_dish_and_empty_bowl_are_wrong_deliveries(lettuce):
    # A bowl with only tomato is not a lettuce-tomato salad: bowl and tomato go back, unchopped.
    steps = play(lettuce, ["pick up the tomato", "put the tomato on the first cutting board",
                           "chop the tomato", "pick up the tomato", "take the empty bowl",
                           "serve the dish"])
    r, k, term, *_ = steps[-1]
    assert not term and r == pytest.approx(discounted([-0.001] * (k - 1) + [-0.101]), abs=1e-12)
    assert lettuce._state.in_bowl == [] and not lettuce._chopped("tomato")
    assert lettuce._pos("bowl") == (6, 5) and lettuce._pos("tomato") == (0, 5)
    # An empty bowl too.
    steps = play(lettuce, ["take the empty bowl", "serve the dish"])
    assert steps[-1][0] == pytest.approx(discounted([-0.001] * (steps[-1][1] - 1) + [-0.101]), abs=1e-12)
    assert steps[-1][5]["score"] == pytest.approx(0.2 - 0.2)


def test_get_food_already_in_the_bowl_stays(lettuce):
    play(lettuce, ["pick up the lettuce", "put the lettuce on the second cutting board",
                   "chop the lettuce", "take the empty bowl", "put the lettuce in the bowl"])
    before = copy.deepcopy(lettuce._state)
    (r, k, *_), = play(lettuce, ["put the lettuce in the bowl"])  # "get lettuce" again
    assert (k, r) == (1, pytest.approx(-0.001, abs=1e-12))
    assert lettuce._state == before


# --- expert ------------------------------------------------------------------------------------

def test_expert_tomato_salad(tomato):
    _, info = tomato.reset(seed=0)
    commands, steps, total = [], [], 0.0
    while not info["won"]:
        commands.append(info["expert_action"])
        _, r, term, trunc, info = tomato.step(info["expert_action"])
        steps.append(info["primitive_steps"])
        total += r
    assert commands == ["pick up the tomato", "put the tomato on the cutting board", "chop the tomato",
                        "pick up the tomato", "take the bowl", "serve the dish"]
    assert steps == [2, 5, 3, 1, 10, 7] and info["total_primitive_steps"] == 28
    expected = (sum(penalty(n) for n in (2, 5, 1, 10)) + discounted([-0.001, -0.001, 0.199])
                + discounted([-0.001] * 6 + [0.999]))
    assert total == pytest.approx(expected, abs=1e-12)


def test_expert_lettuce_tomato_salad(lettuce):
    _, info = lettuce.reset(seed=0)
    commands, steps = [], []
    while not info["won"]:
        commands.append(info["expert_action"])
        _, _, term, trunc, info = lettuce.step(info["expert_action"])
        steps.append(info["primitive_steps"])
        assert not trunc
    assert commands == [
        "pick up the tomato", "put the tomato on the first cutting board", "chop the tomato",
        "pick up the lettuce", "put the lettuce on the second cutting board", "chop the lettuce",
        "take the empty bowl", "put the lettuce in the bowl", "put the tomato in the bowl",
        "serve the dish",
    ]
    assert steps == [2, 5, 3, 5, 6, 3, 8, 8, 2, 3] and info["score"] == 1.4


def _state_key(env: OvercookedText) -> tuple:
    s = env._state
    return (s.agent, s.held, tuple(s.on_knife), tuple(sorted(s.in_bowl)), tuple(sorted(s.chops.items())))


def _clone(env: OvercookedText) -> OvercookedText:
    other = copy.copy(env)
    other._state = copy.deepcopy(env._state)
    return other


@pytest.mark.parametrize("recipe,states", [("tomato-salad", 24), ("lettuce-tomato-salad", 1160)])
def test_expert_wins_from_every_reachable_state(recipe, states):
    env = OvercookedText(recipe, max_steps=10**6, max_primitive_steps=10**9)
    env.reset(seed=0)
    seen = {_state_key(env): env}
    frontier = [env]
    while frontier:
        nxt = []
        for e in frontier:
            for command in e._info()["admissible_commands"]:
                c = _clone(e)
                c.step(command)
                if not c._state.delivered and _state_key(c) not in seen:
                    seen[_state_key(c)] = c
                    nxt.append(c)
        frontier = nxt
    assert len(seen) == states
    for key, e in seen.items():
        c = _clone(e)
        info = c._info()
        for _ in range(20):
            *_, info = c.step(info["expert_action"])
            if info["won"]:
                break
        assert info["won"], f"expert did not win from {key}"


# --- limits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id,limit", [(TOMATO, 31), (LETTUCE, 51)])
def test_turn_limit_truncates(env_id, limit):
    env = envs.make(env_id)
    env.reset(seed=0)
    for t in range(limit - 1):
        command = "chop nothing" if t % 2 else "not a command"  # invalid commands use turns too
        *_, term, trunc, _ = env.step(command)
        assert not (term or trunc)
    *_, term, trunc, info = env.step("chop nothing")
    assert trunc and not term and not info["won"] and not info["lost"]
    with pytest.raises(RuntimeError):
        env.step("chop nothing")


def test_primitive_step_cap_truncates():
    env = OvercookedText("tomato-salad", max_steps=1000)
    env.reset(seed=0)
    # Walking between the cutting board and the delivery counter: 3 steps, then 2 per turn.
    for turn in range(1, 100):
        *_, trunc, info = env.step("walk to the cutting board" if turn % 2 else "serve nothing")
        assert not trunc
    assert info["total_primitive_steps"] == 3 + 2 * 98  # 199
    *_, term, trunc, info = env.step("serve nothing")  # 2 more: the turn finishes, then truncates
    assert trunc and not term and info["total_primitive_steps"] == 201
