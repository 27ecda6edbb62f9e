"""priorbench's text-game environments, registered with gymnasium under "priorbench/".

Entry points are strings, so importing `envs` imports no game engine; `make` imports one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from priorbench.core.errors import UserError
from priorbench.core.registry import close_matches
from priorbench.envs.base import REQUIRED_INFO_KEYS, EnvCheckError, TextEnv, check_text_env
from priorbench.envs.scienceworld_env import (
    TASKS as SCIENCEWORLD_TASKS,  # a table; imports no scienceworld
)
from priorbench.envs.scienceworld_env import camel as scienceworld_id
from priorbench.envs.textworld_env import (
    FAMILIES as TEXTWORLD_FAMILIES,  # a table; imports no textworld
)

NAMESPACE = "priorbench"



@dataclass(frozen=True)
class EnvInfo:
    """What the suite knows about a registered env besides its code, kept with its registration."""

    description: str
    """One line for `priorbench list envs` (label generated task sets here)."""
    prompt_family: str
    """The prompt template family the LLM agents use (agents/priors/prompts.py)."""
    references: tuple[str, ...] = ()
    """BibTeX keys of the games (`priorbench cite`)."""
    card: str = ""
    """The env card under docs/envs/ that documents the family."""


#: Env id → its EnvInfo.
INFO: dict[str, EnvInfo] = {}
#: Env id → its one-line description (`priorbench list envs`).
DESCRIPTIONS: dict[str, str] = {}


def _register(name: str, entry_point: str, description: str, *, prompt_family: str,
              references: tuple[str, ...] = (), card: str = "", **kwargs: Any) -> None:
    env_id = f"{NAMESPACE}/{name}"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=entry_point, kwargs=kwargs, disable_env_checker=True)
    INFO[env_id] = EnvInfo(description, prompt_family, references, card)
    DESCRIPTIONS[env_id] = description


def info(env_id: str) -> EnvInfo:
    """The registered EnvInfo of `env_id` (a UserError naming close matches if unknown)."""
    check_env_id(env_id)
    return INFO[env_id]


_register(
    "FrozenLake-4x4-v0",
    "priorbench.envs.frozenlake:FrozenLakeText",
    "Frozen Lake, standard 4×4 map, not slippery, ≤20 steps (the paper's setting)",
    prompt_family="frozenlake",
    references=("towers2024gymnasium",),
    card="docs/envs/frozenlake.md",
    map_name="4x4",
    max_steps=20,
)
_register(
    "FrozenLake-8x8-v0",
    "priorbench.envs.frozenlake:FrozenLakeText",
    "Frozen Lake, standard 8×8 map, not slippery, ≤100 steps",
    prompt_family="frozenlake",
    references=("towers2024gymnasium",),
    card="docs/envs/frozenlake.md",
    map_name="8x8",
    max_steps=100,
)
_register(
    "FrozenLake-4x4-Slippery-v0",
    "priorbench.envs.frozenlake:FrozenLakeText",
    "Frozen Lake, standard 4×4 map, slippery (moves may slide sideways), ≤100 steps",
    prompt_family="frozenlake",
    references=("towers2024gymnasium",),
    card="docs/envs/frozenlake.md",
    map_name="4x4",
    is_slippery=True,
    max_steps=100,
)
_register(
    "FrozenLake-4x4-Random-v0",
    "priorbench.envs.frozenlake:FrozenLakeText",
    "Frozen Lake, random 4×4 maps by seed: 100 train maps, 20 disjoint test maps, ≤20 steps",
    prompt_family="frozenlake",
    references=("towers2024gymnasium",),
    card="docs/envs/frozenlake.md",
    random_maps=True,
    size=4,
    max_steps=20,
)
_register(
    "FrozenLake-8x8-Random-v0",
    "priorbench.envs.frozenlake:FrozenLakeText",
    "Frozen Lake, random 8×8 maps by seed: 100 train maps, 20 disjoint test maps, ≤100 steps",
    prompt_family="frozenlake",
    references=("towers2024gymnasium",),
    card="docs/envs/frozenlake.md",
    random_maps=True,
    size=8,
    max_steps=100,
)

# Text Overcooked (TWOSOME's single-agent map A); limits count macro-actions (docs/envs/overcooked.md).
_register(
    "Overcooked-TomatoSalad-v0",
    "priorbench.envs.overcooked:OvercookedText",
    "text Overcooked (TWOSOME's 7×7 map A), tomato salad: 5 macro-actions, ≤31 per episode "
    "(the paper's setting); one fixed task in both splits",
    prompt_family="overcooked",
    references=("tan2024true",),
    card="docs/envs/overcooked.md",
    recipe="tomato-salad",
    max_steps=31,
)
_register(
    "Overcooked-LettuceTomatoSalad-v0",
    "priorbench.envs.overcooked:OvercookedText",
    "text Overcooked (TWOSOME's 7×7 map A), lettuce-tomato salad: 8 macro-actions, ≤51 per "
    "episode (the paper's setting); one fixed task in both splits",
    prompt_family="overcooked",
    references=("tan2024true",),
    card="docs/envs/overcooked.md",
    recipe="lettuce-tomato-salad",
    max_steps=51,
)

# TextWorld: generated families (levels: envs/textworld_env/families.py) and any user game file.
for _family in TEXTWORLD_FAMILIES.values():
    for _level, _blurb in _family.blurb.items():
        _register(
            f"TextWorld-{_family.name}-{_level}-v0",
            "priorbench.envs.textworld_env:TextWorldGenerated",
            f"TextWorld {_family.name} level {_level} ({_blurb}), generated offline: "
            "10 train / 5 test games (disjoint seeds), ≤100 steps",
            prompt_family="textworld",
            references=("cote2018textworld",),
            card="docs/envs/textworld.md",
            family=_family.name,
            level=_level,
        )
_register(
    "TextWorld-v0",
    "priorbench.envs.textworld_env:TextWorldGames",
    "any TextWorld game files: --set env.game_files=['a.z8', …] (made by tw-make, with .json)",
    prompt_family="textworld",
    references=("cote2018textworld",),
    card="docs/envs/textworld.md",
)
# TextWorldExpress (Java 17): the library's own train/test folds (parameters: envs/twx_env.py).
for _game, _blurb, _origin in (
    ("CookingWorld", "cooking (1 room, 2 ingredients, 5 distractors)", ()),
    ("Coin", "coin collector (11 rooms with doors, 5 distractor items)", ()),
    ("TWC", "TextWorld Commonsense (1 room, put 2 items away)", ("murugesan2021text",)),
):
    _register(
        f"TWX-{_game}-v0",
        "priorbench.envs.twx_env:TextWorldExpress",
        f"TextWorldExpress {_blurb}: 100 train-fold / 20 test-fold games, ≤100 steps",
        prompt_family="textworld",
        references=("jansen2023textworldexpress", *_origin, "cote2018textworld"),
        card="docs/envs/textworld.md",
        game=_game,
    )

# BabyAI in text (minigrid's levels, our text layer: envs/babyai.py): seeds split train / test.
_BABYAI_REFS = ("chevalierboisvert2019babyai", "chevalierboisvert2023minigrid", "carta2023grounding")
_MINIGRID, _SOURCE = "minigrid's level; ", {"PickupThenGoToLocal": "", "GoToAfterPickupLocal": ""}
for _level, _blurb in (
    ("GoToLocal", "go to an object in one room with distractors"),
    ("PickupLoc", "pick up an object named by its type, colour or place, one room"),
    ("PutNextLocal", "put an object next to another, one room"),
    ("OpenDoorLoc", "open a door named by its colour or place"),
    ("GoToSeq", "a sequence of go-to instructions (\"… and …\", \"… then …\"), 5×5 rooms in a 2×2 grid"),
    ("UnlockLocal", "unlock a door with its key, one room"),
    ("PickupThenGoToLocal", "pick up an object, then go to another, one room: GLAM's sequence task, as a level of ours"),
    ("GoToAfterPickupLocal", "go to an object after picking up another, one room: GLAM's, as a level of ours"),
):
    _register(
        f"BabyAI-{_level}-v0",
        "priorbench.envs.babyai:BabyAIText",
        f"BabyAI in text, {_blurb} ({_SOURCE.get(_level, _MINIGRID)}1,000 train / 100 test seeds, minigrid's "
        "step limit)",
        prompt_family="babyai",
        references=_BABYAI_REFS,
        card="docs/envs/babyai.md",
        level=_level,
    )
for _level in ("GoToLocal", "PickupLoc", "PutNextLocal"):  # envs/suites/babyai-compositional-v0.toml
    _register(
        f"BabyAI-{_level}-Compositional-v0",
        "priorbench.envs.babyai:BabyAIText",
        f"BabyAI in text, {_level} with a compositional test split: test missions name (colour, type) pairs "
        "that no train mission names (envs/suites/babyai-compositional-v0.toml); 1,000 train / 100 test seeds",
        prompt_family="babyai",
        references=_BABYAI_REFS,
        card="docs/envs/babyai.md",
        level=_level,
        holdout=True,
    )
_register(
    "BabyAI-MixedLocal-v0",
    "priorbench.envs.babyai:BabyAIText",
    "BabyAI in text, the one-room levels in turn per task (go to, pick up, put next to, open a door; "
    "GLAM's mixed-task idea): 1,000 train / 100 test seeds",
    prompt_family="babyai",
    references=_BABYAI_REFS,
    card="docs/envs/babyai.md",
    level="GoToLocal,PickupLoc,PutNextLocal,OpenDoorLoc",
)
_register(
    "BabyAI-v0",
    "priorbench.envs.babyai:BabyAIText",
    "BabyAI in text, any minigrid BabyAI level: --set env.level=BabyAI-BossLevel-v0 (default GoToLocal)",
    prompt_family="babyai",
    references=_BABYAI_REFS,
    card="docs/envs/babyai.md",
)

# ScienceWorld (Java 17): the library's 30 tasks, its train / dev / test variations (envs/scienceworld_env.py).
for _name, _title, _topic in SCIENCEWORLD_TASKS.values():
    _register(
        f"ScienceWorld-{scienceworld_id(_name)}-v0",
        "priorbench.envs.scienceworld_env:ScienceWorld",
        f"ScienceWorld {_topic.lower()}: {_title} — the library's train / dev / test variations, "
        "'easy' simplifications, score 0–100, ≤300 steps",
        prompt_family="scienceworld",
        references=("wang2022scienceworld",),
        card="docs/envs/scienceworld.md",
        task=_name,
    )

# ALFWorld (envs/alfworld/): the official games from $ALFWORLD_DATA, and GENERATED
# ALFWorld-format games (not the official task set; splits in envs/suites/alfworldgen-*.toml).
for _task, _what in (
    ("Pick", "pick & place"),
    ("Look", "look at an object under a lamp"),
    ("Clean", "clean & place"),
    ("Heat", "heat & place"),
    ("Cool", "cool & place"),
    ("PickTwo", "pick two & place"),
):
    _register(
        f"ALFWorld-{_task}-v0",
        "priorbench.envs.alfworld:ALFWorld",
        f"ALFWorld {_what}, the OFFICIAL games (needs $ALFWORLD_DATA, see alfworld-download): "
        "splits train / valid_seen / valid_unseen (test = valid_unseen), ≤50 steps",
        prompt_family="alfworld",
        references=("shridhar2021alfworld", "cote2018textworld"),
        card="docs/envs/alfworld.md",
        task_type=_task,
    )
    _register(
        f"ALFWorldGen-{_task}-v0",
        "priorbench.envs.alfworld:ALFWorldGen",
        f"ALFWorld {_what}, GENERATED offline games (NOT the official ALFWorld task set; never "
        "compare with published ALFWorld numbers): "
        + ("the paper's 28 train / 26 unseen test tasks" if _task == "Pick"
           else "28 train / 26 unseen test tasks")
        + " (unseen scenes and goals), ≤60 steps",
        prompt_family="alfworld",
        references=("shridhar2021alfworld", "cote2018textworld"),
        card="docs/envs/alfworld.md",
        task_type=_task,
    )


def register(name: str, entry_point: str, description: str, *, prompt_family: str = "generic",
             references: tuple[str, ...] = (), card: str = "", **kwargs: Any) -> None:
    """Register a plug-in env as `priorbench/<name>` (the function behind a `priorbench.envs`
    entry point calls this); the name of a built-in env is refused."""
    if f"{NAMESPACE}/{name}" in INFO:
        raise UserError(f"plug-in env {name!r}: priorbench/{name} is a built-in env; choose another name")
    _register(name, entry_point, description, prompt_family=prompt_family, references=references,
              card=card, **kwargs)


_PLUGINS_READ = False


def read_plugins() -> None:
    """Call every installed `priorbench.envs` entry point once (each registers its envs)."""
    global _PLUGINS_READ
    if _PLUGINS_READ:
        return
    _PLUGINS_READ = True
    from importlib import metadata

    for point in metadata.entry_points(group="priorbench.envs"):
        dist = point.dist.name if point.dist is not None else "unknown"
        try:
            point.load()()
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plug-in's failure is its own
            raise UserError(f"plug-in envs {point.name!r} of the distribution {dist!r} failed to load "
                            f"({point.value}): {type(exc).__name__}: {exc}") from None


def env_ids() -> list[str]:
    """All registered priorbench env ids, sorted."""
    read_plugins()
    return sorted(k for k in gym.registry if k.startswith(NAMESPACE + "/"))


def check_env_id(env_id: str) -> None:
    """Raise a UserError naming close matches if `env_id` is not registered."""
    read_plugins()
    if env_id not in gym.registry or not env_id.startswith(NAMESPACE + "/"):
        raise UserError(
            f"unknown env {env_id!r}.{close_matches(env_id, env_ids())} "
            "`priorbench list envs` shows them all."
        )


def env_settings(env_id: str) -> list[str] | None:
    """The keyword settings an env takes (None when its constructor takes any keyword)."""
    import inspect

    from gymnasium.envs.registration import load_env_creator

    entry = gym.registry[env_id].entry_point
    creator = load_env_creator(entry) if isinstance(entry, str) else entry
    params = inspect.signature(creator).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return sorted(p.name for p in params if p.name not in ("self", "split", "render_mode"))


def check_settings(env_id: str, kwargs: dict[str, Any]) -> None:
    """Refuse a keyword the env's constructor does not take, naming the ones it does."""
    known = env_settings(env_id)
    unknown = sorted(set(kwargs) - set(known)) if known is not None else []
    if unknown:
        raise UserError(f"env {env_id!r} has no setting {unknown[0]!r}.{close_matches(unknown[0], known)} "
                        f"Its settings: {', '.join(known)} (as --set env.<name>=VALUE)")


def make(env_id: str, *, split: str = "train", **kwargs: Any) -> TextEnv:
    """Build a registered env for one split; bad kwargs become a UserError naming them."""
    check_env_id(env_id)
    check_settings(env_id, kwargs)
    try:
        env = gym.make(env_id, split=split, **kwargs)
    except (TypeError, ValueError) as exc:  # unknown keywords; values the env refuses
        raise UserError(f"env {env_id!r} rejected its settings {sorted(kwargs)}: {exc}") from None
    return env.unwrapped  # the runner owns time limits and checking; no gymnasium wrappers


__all__ = [
    "REQUIRED_INFO_KEYS",
    "DESCRIPTIONS",
    "INFO",
    "EnvInfo",
    "info",
    "EnvCheckError",
    "TextEnv",
    "check_env_id",
    "check_text_env",
    "env_ids",
    "make",
]
