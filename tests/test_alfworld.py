"""ALFWorld envs: generated games (contract, expert, reproducibility, splits) and the official-data
path (clear error without the data; alfworld's own game collection on a json_2.1.1 layout).

Games are generated into one session-scoped cache, so each is made once per test session.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from priorbench import envs
from priorbench.core.errors import UserError
from priorbench.envs import alfworld as gen
from priorbench.envs.alfworld import ALFWorldGen

pytestmark = pytest.mark.skipif(
    any(find_spec(m) is None for m in ("alfworld", "textworld", "fast_downward")),
    reason="needs the alfworld extra: pip install -e '.[alfworld]' && "
    "pip install --no-deps alfworld==0.4.2",
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alfworld-cache")


@pytest.fixture(scope="session")
def pick_test(cache: Path) -> ALFWorldGen:
    """The whole generated Pick & Place test split (26 unseen tasks)."""
    env = envs.make("priorbench/ALFWorldGen-Pick-v0", split="test", cache_dir=str(cache))
    assert isinstance(env, ALFWorldGen)
    return env


def _play_expert(env: envs.TextEnv, task: int, deviate: int = 0, seed: int = 0) -> bool:
    """Reset to `task`, take `deviate` random admissible commands, then follow expert_action."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed, options={"task": task})
    done = False
    for _ in range(deviate):
        cmds = info["admissible_commands"]
        _, _, terminated, truncated, info = env.step(cmds[int(rng.integers(len(cmds)))])
        done = terminated or truncated
        if done:
            return bool(info["won"])
    while not done:
        action = info.get("expert_action")
        if action is None:
            return False
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    return bool(info["won"])


def test_importing_envs_loads_no_engine() -> None:
    code = ("import sys; from priorbench import envs; bad = [m for m in ('alfworld', 'textworld', 'fast_downward') "
            "if m in sys.modules]; assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for task in gen.TASK_TYPES:
        assert f"priorbench/ALFWorld-{task}-v0" in envs.env_ids()
        description = envs.DESCRIPTIONS[f"priorbench/ALFWorldGen-{task}-v0"]
        assert "GENERATED" in description and "NOT the official" in description


@pytest.mark.parametrize("task_type", list(gen.TASK_TYPES))
def test_split_files_are_disjoint_and_labelled(task_type: str) -> None:
    import alfworld.gen.constants as constants

    path = gen.suite_path(task_type)
    text = path.read_text()
    assert text.startswith("# GENERATED ALFWorld-format games")
    data = tomllib.loads(text)
    assert data["generated"] is True and data["official"] is False
    assert "NOT the official ALFWorld task set" in data["label"]
    train, test = gen.load_split(task_type, "train"), gen.load_split(task_type, "test")
    if task_type == "Pick":
        assert (len(train), len(test)) == (28, 26)  # the paper's split sizes
    assert train and test
    for split in (train, test):
        assert len({t.task_id for t in split}) == len(split)
        assert len({t.seed for t in split}) == len(split)
    assert not {t.task_id for t in train} & {t.task_id for t in test}
    assert not {t.seed for t in train} & {t.seed for t in test}
    assert not {t.scene for t in train} & {t.scene for t in test}
    goals = {(t.object, t.receptacle, t.toggle) for t in train}
    assert not goals & {(t.object, t.receptacle, t.toggle) for t in test}
    assert {t.scene for t in train} <= set(constants.TRAIN_SCENE_NUMBERS)
    assert {t.scene for t in test} <= set(constants.TEST_SCENE_NUMBERS)


def test_same_seed_same_game_file(tmp_path: Path) -> None:
    task = gen.load_split("Pick", "test")[0]
    first = gen.ensure_game(task, tmp_path / "a")
    second = gen.ensure_game(task, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert gen.sha256_file(first) == gen.sha256_file(second)
    other = gen.ensure_game(gen.GenTask(task.task_type, task.scene, task.object, task.receptacle,
                                        task.toggle, task.seed + 1), tmp_path / "a")
    assert gen.sha256_file(other) != gen.sha256_file(first)
    game = json.loads(first.read_text())
    assert game["solvable"] is True and game["walkthrough"]
    assert "UNKNOWN GOAL" not in game["grammar"]
    traj = json.loads((first.parent / "traj_data.json").read_text())
    assert traj["task_type"] == "pick_and_place_simple" and traj["priorbench"]["generated"]


def test_generating_and_playing_leave_sys_argv_alone(pick_test: ALFWorldGen,
                                                    tmp_path: Path) -> None:
    """fast-downward's pddl2sas sets sys.argv to ["translate.py", "domain", "task"] and leaves
    it so: a script writing to sys.argv[1] after a game had been played wrote a file `domain`."""
    argv = list(sys.argv)
    gen.ensure_game(gen.load_split("Pick", "train")[0], tmp_path)  # a problem not translated yet
    pick_test.reset(seed=0, options={"task": 2})
    assert sys.argv == argv


def test_pick_passes_check_text_env(pick_test: ALFWorldGen, cache: Path) -> None:
    env = envs.make("priorbench/ALFWorldGen-Pick-v0", split="test", cache_dir=str(cache),
                    n_tasks=3)
    assert isinstance(env, ALFWorldGen)
    envs.check_text_env(env, n_steps=30)
    prov = env.provenance()
    assert prov["generated"] is True and prov["official"] is False
    assert "GENERATED" in prov["label"]
    paths = [gen.game_path(t, cache) for t in env.gen_tasks]
    assert list(prov["game_sha256"].values()) == [gen.sha256_file(p) for p in paths]
    assert prov["suite_file"] == "envs/suites/alfworldgen-pick-v0.toml"


@pytest.mark.slow
@pytest.mark.parametrize("task_type", ["Look", "Clean", "Heat", "Cool", "PickTwo"])
def test_other_task_types_pass_check_text_env(task_type: str, cache: Path) -> None:
    env = envs.make(f"priorbench/ALFWorldGen-{task_type}-v0", split="test",
                    cache_dir=str(cache), n_tasks=1)
    envs.check_text_env(env, n_steps=10)
    assert _play_expert(env, 0, deviate=4, seed=1)


@pytest.mark.slow
def test_expert_solves_the_pick_test_split(pick_test: ALFWorldGen) -> None:
    """From the start (the walkthrough) and after random detours (the goal-directed expert)."""
    n = len(pick_test.tasks)
    assert n == 26
    from_start = sum(_play_expert(pick_test, i) for i in range(n))
    after_detour = sum(_play_expert(pick_test, i, deviate=5, seed=i) for i in range(n))
    assert from_start / n >= 0.95
    assert after_detour / n >= 0.95


_RAW_PLAY = """
import json, sys
import textworld
from textworld.gym.envs import TextworldGymEnv
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
path, commands = sys.argv[1], json.loads(sys.argv[2])
infos = textworld.EnvInfos(admissible_commands=True, won=True, extras=["gamefile"])
env = TextworldGymEnv([path], infos, max_episode_steps=None, asynchronous=False,
                      wrappers=[AlfredDemangler(shuffle=False), AlfredInfos])
seen = []
for _ in range(2):
    obs, info = env.reset()
    seen.append([obs, sorted(info["admissible_commands"]), info["won"]])
    for command in commands:
        obs, _, done, info = env.step(command)
        seen.append([obs, sorted(info["admissible_commands"]), info["won"]])
print(json.dumps(seen))
"""


def test_same_text_as_plain_textworld_gym(pick_test: ALFWorldGen) -> None:
    """Our engine (started games kept, memoised translation and parsing) gives exactly what
    textworld.gym with alfworld's wrappers gives, run untouched in a fresh process."""
    rng = np.random.default_rng(3)
    task = 1  # a kitchen
    obs, info = pick_test.reset(seed=0, options={"task": task})
    ours = [[obs, sorted(info["admissible_commands"]), info["won"]]]
    commands: list[str] = []
    for _ in range(12):
        cmds = [c for c in info["admissible_commands"] if c != "help"]
        commands.append(cmds[int(rng.integers(len(cmds)))])
        obs, _, terminated, truncated, info = pick_test.step(commands[-1])
        ours.append([obs, sorted(info["admissible_commands"]), info["won"]])
        assert not (terminated or truncated)
    obs, info = pick_test.reset(seed=0, options={"task": task})  # again, from the memo
    ours.append([obs, sorted(info["admissible_commands"]), info["won"]])
    for command in commands:
        obs, _, _, _, info = pick_test.step(command)
        ours.append([obs, sorted(info["admissible_commands"]), info["won"]])
    path = gen.game_path(pick_test.gen_tasks[task], pick_test.cache_dir)
    result = subprocess.run([sys.executable, "-c", _RAW_PLAY, str(path), json.dumps(commands)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ours


def test_non_admissible_command_gets_the_games_answer(pick_test: ALFWorldGen) -> None:
    _, info = pick_test.reset(seed=0, options={"task": 0})
    expert = info["expert_action"]
    obs, reward, terminated, truncated, info = pick_test.step("dance with the fridge")
    assert obs == "Nothing happens."
    assert info["invalid_action"] is True
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["expert_action"] == expert  # nothing changed: the walkthrough still holds
    _, _, _, _, info = pick_test.step(expert.upper())  # commands are matched case-insensitively
    assert info["invalid_action"] is False


def test_corrupt_game_file_is_a_clear_error(pick_test: ALFWorldGen, cache: Path,
                                            tmp_path: Path) -> None:
    task = pick_test.gen_tasks[0]
    target = gen.game_path(task, tmp_path)
    target.parent.mkdir(parents=True)
    target.write_text(gen.game_path(task, cache).read_text()[:500])  # truncated
    with pytest.raises(UserError, match="corrupt") as err:
        envs.make("priorbench/ALFWorldGen-Pick-v0", split="test", cache_dir=str(tmp_path),
                  n_tasks=1)
    assert str(target) in str(err.value) and "Delete it" in str(err.value)
    with pytest.raises(UserError, match="does not exist"):
        gen.read_game(tmp_path / "nowhere" / "game.tw-pddl")


def test_official_env_without_data_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.delenv("ALFWORLD_DATA", raising=False)
    with pytest.raises(UserError) as err:
        envs.make("priorbench/ALFWorld-Pick-v0", split="test")
    message = str(err.value)
    assert "ALFWORLD_DATA" in message and "alfworld-download" in message
    assert "ALFWorldGen" in message
    monkeypatch.setenv("ALFWORLD_DATA", str(tmp_path))
    with pytest.raises(UserError, match="holds no json_2.1.1"):
        envs.make("priorbench/ALFWorld-Pick-v0", split="test")


def test_official_env_plays_a_json_2_1_1_layout(pick_test: ALFWorldGen, cache: Path,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The official-data path (alfworld's AlfredTWEnv collects the games) on files laid out as
    json_2.1.1 is: two Pick games and one Look game (which the Pick env must leave out)."""
    look = envs.make("priorbench/ALFWorldGen-Look-v0", split="test", cache_dir=str(cache),
                     n_tasks=1)
    assert isinstance(look, ALFWorldGen)
    sources = [gen.game_path(t, cache) for t in pick_test.gen_tasks[:2]]
    sources.append(gen.game_path(look.gen_tasks[0], cache))
    for src in sources:
        dest = tmp_path / "json_2.1.1" / "valid_unseen" / src.parent.parent.name / src.parent.name
        shutil.copytree(src.parent, dest)
    monkeypatch.setenv("ALFWORLD_DATA", str(tmp_path))
    env = envs.make("priorbench/ALFWorld-Pick-v0", split="test")
    assert len(env.tasks) == 2 and all(t.startswith("valid_unseen/pick_and_place_simple")
                                       for t in env.tasks)
    envs.check_text_env(env, n_steps=10)
    prov = env.provenance()
    assert prov["official"] is True and prov["split"] == "valid_unseen"
