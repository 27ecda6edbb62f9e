"""TextWorld games as TextEnvs: generated suites (cooking, coin collector, treasure hunter) or any game file.

The env card, docs/envs/textworld.md, says what they play: families and levels, splits, the
game cache, infos, commands, the step timeout and sources. The modules:

    families.py  the generated families and their levels (data; no textworld import)
    cache.py     the game cache and generation (textworld's challenge generators)
    gamefile.py  checking a game file before the interpreter sees it
    text.py      command normalisation and observation clean-up
    engine.py    the game in this process (textworld's core API, started games kept)
    worker.py    the game in a worker process, killed on a step timeout
    env.py       TextWorldGames (any game files) and TextWorldGenerated (the families)

Importing this package imports no textworld (`priorbench.envs` imports FAMILIES from it).
"""

from __future__ import annotations

from priorbench.core.paths import CACHE_ENV_VAR, sha256_file
from priorbench.envs.textworld_env.cache import (
    CACHE_FORMAT,
    cache_folder,
    default_cache_dir,
    generate_game,
)
from priorbench.envs.textworld_env.engine import EngineError, env_infos
from priorbench.envs.textworld_env.env import TextWorldGames, TextWorldGenerated
from priorbench.envs.textworld_env.families import (
    COIN_COLLECTOR,
    COOKING,
    FAMILIES,
    TEST_SEED_OFFSET,
    TREASURE_HUNTER,
    Family,
    generator_settings,
)
from priorbench.envs.textworld_env.gamefile import check_game_file
from priorbench.envs.textworld_env.text import (
    MAX_COMMAND_CHARS,
    SYSTEM_VERBS,
    clean_text,
    normalize_command,
)

__all__ = [
    "CACHE_ENV_VAR",
    "CACHE_FORMAT",
    "COIN_COLLECTOR",
    "COOKING",
    "FAMILIES",
    "MAX_COMMAND_CHARS",
    "SYSTEM_VERBS",
    "TEST_SEED_OFFSET",
    "TREASURE_HUNTER",
    "EngineError",
    "Family",
    "TextWorldGames",
    "TextWorldGenerated",
    "cache_folder",
    "check_game_file",
    "clean_text",
    "default_cache_dir",
    "env_infos",
    "generate_game",
    "generator_settings",
    "normalize_command",
    "sha256_file",
]
