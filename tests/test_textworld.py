"""TextWorld (generated families, user game files) and TextWorldExpress envs.

Games are generated once per session into a temporary cache (two processes at a time), with
small counts: 2 test games per level, and 1 train game for each family's level 1.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import gymnasium as gym
import pytest

from priorbench import agents, envs
from priorbench.core.errors import UserError

textworld = pytest.importorskip("textworld")

from priorbench.envs import textworld_env as tw  # noqa: E402  (after the importorskip)

ROOT = Path(__file__).resolve().parent.parent
N_TRAIN, N_TEST = 1, 2
TW_IDS = [e for e in envs.env_ids() if e.startswith("priorbench/TextWorld-") and e != "priorbench/TextWorld-v0"]
TW_LEVEL1_IDS = [e for e in TW_IDS if e.endswith("-1-v0")]
TWX_IDS = [e for e in envs.env_ids() if e.startswith("priorbench/TWX-")]


def _twx_available() -> bool:
    if shutil.which("java") is None:
        return False
    try:
        import textworld_express  # noqa: F401
    except ImportError:
        return False
    return True


needs_twx = pytest.mark.skipif(not _twx_available(), reason="textworld-express or Java missing")


def _family_level(env_id: str) -> tuple[str, int]:
    _, family, level, _ = env_id.split("/")[1].split("-")
    return family, int(level)


def _pregenerate(args: tuple[str, dict, int, str]) -> str:
    generator, settings, seed, cache = args
    return str(tw.generate_game(generator, settings, seed, Path(cache)))


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session cache holding every game these tests use, generated two at a time."""
    folder = tmp_path_factory.mktemp("textworld-cache")
    jobs = []
    for env_id in TW_IDS:
        family, level = _family_level(env_id)
        fam = tw.FAMILIES[family]
        splits = [("test", range(tw.TEST_SEED_OFFSET, tw.TEST_SEED_OFFSET + N_TEST))]
        if env_id in TW_LEVEL1_IDS:
            splits.append(("train", range(N_TRAIN)))
        for split, seeds in splits:
            settings = tw.generator_settings(fam, level, split)
            jobs += [(fam.generator, settings, s, str(folder)) for s in seeds]
    jobs.sort(key=lambda j: -j[1].get("level", 0))  # the slow hard levels first
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(_pregenerate, jobs))
    return folder


def make_tw(env_id: str, cache: Path, split: str = "test", **kwargs) -> envs.TextEnv:
    return envs.make(env_id, split=split, n_train_games=N_TRAIN, n_test_games=N_TEST,
                     cache_dir=str(cache), **kwargs)


def play_expert(env: envs.TextEnv, env_id: str) -> list[bool]:
    """The registered `expert` agent on every task of the env's split; success per task."""
    agent = agents.make("expert", seed=0, env_id=env_id)
    wins = []
    for task in range(len(env.tasks)):
        obs, info = env.reset(seed=task, options={"task": task})
        agent.reset_episode(explore=False)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, info, explore=False))
            done = terminated or truncated
        wins.append(bool(info["won"]))
    return wins


@pytest.fixture(scope="session")
def game_file(cache: Path) -> Path:
    """One generated game (TreasureHunter level 1, test seed 0) for the user-game tests."""
    fam = tw.FAMILIES["TreasureHunter"]
    return tw.generate_game(fam.generator, tw.generator_settings(fam, 1, "test"),
                            tw.TEST_SEED_OFFSET, cache)


# --- registration and imports ----------------------------------------------------------------
def test_registered_lazily():
    ids = set(envs.env_ids())
    for fam, n in (("Cooking", 4), ("CoinCollector", 3), ("TreasureHunter", 3)):
        assert {f"priorbench/TextWorld-{fam}-{k}-v0" for k in range(1, n + 1)} <= ids
    assert {"priorbench/TextWorld-v0", "priorbench/TWX-CookingWorld-v0", "priorbench/TWX-Coin-v0",
            "priorbench/TWX-TWC-v0"} <= ids
    for env_id in TW_IDS + TWX_IDS + ["priorbench/TextWorld-v0"]:
        assert isinstance(gym.registry[env_id].entry_point, str)
    code = "import sys; from priorbench import envs; print('textworld' in sys.modules, 'textworld_express' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.split() == ["False", "False"]


def test_cache_dir_from_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv(tw.CACHE_ENV_VAR, str(tmp_path))
    assert tw.default_cache_dir() == tmp_path / "textworld"
    monkeypatch.delenv(tw.CACHE_ENV_VAR)
    assert tw.default_cache_dir() == Path.home() / ".cache" / "priorbench" / "textworld"


# --- generated families ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("env_id", TW_IDS)
def test_generated_env_passes_check_text_env(env_id, cache):
    env = make_tw(env_id, cache)
    envs.check_text_env(env, n_steps=40)
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("env_id", TW_LEVEL1_IDS)
def test_generated_train_split_passes_check_text_env(env_id, cache):
    env = make_tw(env_id, cache, split="train")
    envs.check_text_env(env, n_steps=40)
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(tw.FAMILIES))
def test_expert_wins_family_test_tasks(family, cache):
    wins: list[bool] = []
    for env_id in TW_IDS:
        if _family_level(env_id)[0] == family:
            env = make_tw(env_id, cache)
            wins += play_expert(env, env_id)
            env.close()
    assert len(wins) >= 6
    assert sum(wins) / len(wins) >= 0.95, wins


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["priorbench/TextWorld-Cooking-1-v0",
                                    "priorbench/TextWorld-CoinCollector-1-v0",
                                    "priorbench/TextWorld-TreasureHunter-1-v0"])
def test_gymnasium_check_env(env_id, cache):
    from gymnasium.utils.env_checker import check_env

    env = make_tw(env_id, cache)
    check_env(env, skip_render_check=True)
    env.close()


def test_splits_disjoint_and_provenance(cache):
    env_id = "priorbench/TextWorld-CoinCollector-1-v0"
    train, test = make_tw(env_id, cache, split="train"), make_tw(env_id, cache, split="test")
    assert not set(train.tasks) & set(test.tasks)
    ptrain, ptest = train.provenance(), test.provenance()
    assert not set(ptrain["generator"]["seeds"]) & set(ptest["generator"]["seeds"])
    assert min(ptest["generator"]["seeds"]) == tw.TEST_SEED_OFFSET
    assert not set(ptrain["game_sha256"].values()) & set(ptest["game_sha256"].values())
    assert ptest["engine"] == f"textworld {textworld.__version__}" and ptest["generated"]
    assert all(len(h) == 64 for h in ptest["game_sha256"].values())
    cooking = make_tw("priorbench/TextWorld-Cooking-1-v0", cache)  # TextWorld's held-out foods
    assert cooking.provenance()["generator"]["settings"]["split"] == "test"


@pytest.mark.slow
def test_same_seed_same_game_bytes(cache, tmp_path):
    """A fresh process (another hash seed) regenerates byte-identical games."""
    fam = tw.FAMILIES["CoinCollector"]
    settings = tw.generator_settings(fam, 1, "train")
    mine = tw.generate_game(fam.generator, settings, 0, cache)
    code = (
        "import sys; from pathlib import Path; from priorbench.envs import textworld_env as tw; "
        "fam = tw.FAMILIES['CoinCollector']; "
        "print(tw.generate_game(fam.generator, tw.generator_settings(fam, 1, 'train'), 0, Path(sys.argv[1])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}, check=True,
    ).stdout.strip()
    theirs = Path(out)
    assert theirs != mine and theirs.is_file()
    assert tw.sha256_file(theirs) == tw.sha256_file(mine)
    assert theirs.parent.name == mine.parent.name  # same settings, same cache key


def test_reward_is_score_delta_and_observations_clean(cache):
    env = make_tw("priorbench/TextWorld-Cooking-1-v0", cache)
    obs, info = env.reset(seed=0, options={"task": 0})
    assert "$$" not in obs and "-= Kitchen =-" in obs and not obs.endswith(">")
    assert info["task"].startswith("You are hungry!") and info["max_score"] > 0
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        total += reward
        done = terminated or truncated
    assert terminated and info["won"] and not info["lost"]
    assert total == info["score"] == info["max_score"]
    assert "RESTART" not in obs and info["admissible_commands"] == []
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step("look")


def test_invalid_and_system_commands(cache):
    env = make_tw("priorbench/TextWorld-Cooking-1-v0", cache)
    _, info = env.reset(seed=0, options={"task": 0})
    expert = info["expert_action"]
    obs, reward, terminated, truncated, info = env.step("dance wildly")
    assert obs == "That's not a verb I recognise." and info["invalid_action"] is True
    assert (reward, terminated, truncated) == (0.0, False, False)
    for command in ("restart", "quit", "\\x", "undo"):
        obs, *_, info = env.step(command)
        assert info["invalid_action"] is True
    assert info["expert_action"] == expert  # the game state did not move
    _, _, _, _, info = env.step(expert)
    assert info["invalid_action"] is False


def test_step_limit_truncates(cache):
    env = make_tw("priorbench/TextWorld-CoinCollector-1-v0", cache, max_steps=3)
    env.reset(seed=0, options={"task": 0})
    for _ in range(2):
        _, _, terminated, truncated, _ = env.step("look")
        assert not (terminated or truncated)
    _, _, terminated, truncated, _ = env.step("look")
    assert truncated and not terminated


def test_optional_infos(cache):
    env = make_tw("priorbench/TextWorld-TreasureHunter-1-v0", cache, expert=False,
                  description=True, inventory=True)
    _, info = env.reset(seed=0)
    assert "expert_action" not in info
    assert info["description"].startswith("-= ") and "carrying" in info["inventory"]


# --- any game file ------------------------------------------------------------------------------
def test_user_game_env(game_file, tmp_path):
    env = envs.make("priorbench/TextWorld-v0", game_files=[str(game_file)])
    assert env.tasks == (str(game_file),)
    envs.check_text_env(env)
    assert env.provenance()["game_sha256"] == {str(game_file): tw.sha256_file(game_file)}
    other = tmp_path / "other.z8"
    shutil.copy(game_file, other)
    shutil.copy(game_file.with_suffix(".json"), other.with_suffix(".json"))
    test_env = envs.make("priorbench/TextWorld-v0", split="test", game_files=[str(game_file)],
                         test_game_files=[str(other)])
    assert test_env.tasks == (str(other),)


def test_user_game_errors(game_file, tmp_path):
    missing = tmp_path / "nowhere" / "game.z8"
    with pytest.raises(UserError, match=r"nowhere/game\.z8.*does not exist.*game_files"):
        envs.make("priorbench/TextWorld-v0", game_files=[str(missing)])
    with pytest.raises(UserError, match="needs game files"):
        envs.make("priorbench/TextWorld-v0")
    truncated = tmp_path / "truncated.z8"
    truncated.write_bytes(game_file.read_bytes()[:5000])
    shutil.copy(game_file.with_suffix(".json"), truncated.with_suffix(".json"))
    with pytest.raises(UserError, match="corrupt"):
        envs.make("priorbench/TextWorld-v0", game_files=[str(truncated)])
    garbage = tmp_path / "garbage.z8"
    garbage.write_bytes(b"this is not a story file" * 100)
    with pytest.raises(UserError, match="not a Z-machine story file"):
        envs.make("priorbench/TextWorld-v0", game_files=[str(garbage)])
    lonely = tmp_path / "lonely.z8"
    shutil.copy(game_file, lonely)
    with pytest.raises(UserError, match=r"no lonely\.json"):
        envs.make("priorbench/TextWorld-v0", game_files=[str(lonely)])
    bad_json = tmp_path / "badjson.z8"
    shutil.copy(game_file, bad_json)
    bad_json.with_suffix(".json").write_text("{not json")
    with pytest.raises(UserError, match="textworld cannot play"):
        envs.make("priorbench/TextWorld-v0", game_files=[str(bad_json)])
    glulx = tmp_path / "game.ulx"
    glulx.write_bytes(b"Glul")
    with pytest.raises(UserError, match="Glulx"):
        envs.make("priorbench/TextWorld-v0", game_files=[str(glulx)])


@pytest.mark.slow
def test_user_game_through_the_cli(game_file, tmp_path, cli):
    out = tmp_path / "runs"
    result = cli("run", "--env", "priorbench/TextWorld-v0", "--agent", "expert", "--seeds", "0",
                 "--out", str(out), "--no-progress", "--set", f"env.game_files=['{game_file}']")
    assert result.returncode == 0, result.stderr
    import json

    manifest = json.loads(next(out.rglob("manifest.json")).read_text())
    assert manifest["env"]["game_sha256"] == {str(game_file): tw.sha256_file(game_file)}
    episodes = [json.loads(line) for line in next(out.rglob("episodes.jsonl")).read_text().splitlines()]
    assert episodes and all(e["success"] for e in episodes)
    missing = cli("run", "--env", "priorbench/TextWorld-v0", "--agent", "expert", "--out",
                  str(out / "x"), "--set", "env.game_files=['/no/such/game.z8']")
    assert missing.returncode == 2 and "/no/such/game.z8" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.slow
def test_hanging_game_times_out(game_file, tmp_path):
    """A game stuck in an endless loop ends the episode as an error; the next episode runs."""
    from textworld.generator import Game
    from textworld.generator.inform7.world2inform7 import (
        compile_inform7_game,
        generate_inform7_source,
    )

    game = Game.load(str(game_file.with_suffix(".json")))
    source = generate_inform7_source(game) + (
        "\n\nThe hang counter is a number that varies.\n\n"
        "Instead of jumping:\n\twhile 1 is 1:\n\t\tincrement the hang counter.\n"
    )
    hanging = tmp_path / "hanging.z8"
    game.save(str(hanging.with_suffix(".json")))
    compile_inform7_game(source, str(hanging))
    env = envs.make("priorbench/TextWorld-v0", game_files=[str(hanging)], step_timeout=3.0)
    _, info = env.reset(seed=0)
    started = time.monotonic()
    obs, reward, terminated, truncated, info = env.step("jump")
    assert time.monotonic() - started < 30
    assert truncated and not terminated and reward == 0.0
    assert "within 3 s" in info["error"] and "stopped answering" in obs
    assert info["admissible_commands"] == [] and "expert_action" not in info
    _, info = env.reset(seed=0)  # a fresh worker
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(info["expert_action"])
        done = terminated or truncated
    assert info["won"]
    env.close()


# --- TextWorldExpress ---------------------------------------------------------------------------
@needs_twx
@pytest.mark.parametrize("env_id", TWX_IDS)
def test_twx_env(env_id):
    from gymnasium.utils.env_checker import check_env

    for split in ("train", "test"):
        env = envs.make(env_id, split=split, n_train_games=5, n_test_games=20)
        envs.check_text_env(env, n_steps=100)
        if split == "test":
            wins = play_expert(env, env_id)
            assert len(wins) == 20 and sum(wins) / len(wins) >= 0.95, wins
            check_env(env, skip_render_check=True)
            prov = env.provenance()
            assert prov["fold"] == "test" and min(prov["seeds"]) >= 20000
            assert len(prov["engine_jar_sha256"]) == 64
        else:
            assert max(env.provenance()["seeds"]) < 1000
        env.close()


@needs_twx
@pytest.mark.parametrize("env_id", TWX_IDS)
def test_twx_expert_same_in_another_jvm(env_id):
    """Two instances (two JVMs) give the same expert trajectories for the same tasks."""
    runs = []
    for _ in range(2):
        env = envs.make(env_id, split="test", n_test_games=3)
        trace = []
        for task in range(3):
            obs, info = env.reset(seed=0, options={"task": task})
            trace.append(obs)
            while "expert_action" in info:
                trace.append(info["expert_action"])
                obs, _, terminated, truncated, info = env.step(info["expert_action"])
                if terminated or truncated:
                    break
        runs.append(trace)
        env.close()
    assert runs[0] == runs[1]


@needs_twx
def test_twx_gold_path_deviation():
    env = envs.make("priorbench/TWX-CookingWorld-v0", split="test", n_test_games=1)
    _, info = env.reset(seed=0)
    first = info["expert_action"]
    _, _, _, _, info = env.step("look around")  # looking keeps the gold path
    assert info["expert_action"] == first and info["invalid_action"] is False
    _, _, _, _, info = env.step("dance")
    assert info["expert_action"] == first and info["invalid_action"] is True
    detour = next(c for c in info["admissible_commands"]
                  if c != first and not c.startswith(("look", "inventory", "examine")))
    _, _, _, _, info = env.step(detour)
    assert "expert_action" not in info  # off the gold path: no expert
    env.close()
