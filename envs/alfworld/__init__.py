"""ALFWorld text games as TextEnvs: the official games (real data), or GENERATED offline games.

The env card, docs/envs/alfworld.md, says what they play: the six task types, the official and
the GENERATED families, splits, rewards, the expert, the engine, caching and how generated games
are built. The modules:

    install.py   alfworld/textworld imported without side effects; textworld's PDDL engine memoised
    tasks.py     the task types, a generated task (GenTask), a goal (Goal)
    scenes.py    ALFRED's scenes from the wheel, and the goals ALFRED could pose in each
    problem.py   a generated task's PDDL problem, grammar and sub-goal problems
    planner.py   textworld's planner (fast-downward): a game's walkthrough, replayed to a win
    games.py     game files: cache path, reading them checked, generating them on first use
    splits.py    the generated splits as data (envs/suites/alfworldgen-<type>-v0.toml)
    text.py      command normalisation and the task sentence
    expert.py    the goal-directed expert over the game's facts
    engine.py    the games in this process (the wrapper stack textworld.gym builds)
    env.py       ALFWorldGen (GENERATED games) and ALFWorld (the official games)
    __main__.py  `python -m priorbench.envs.alfworld splits|generate`

Importing this package imports neither alfworld nor textworld; the functions that need them do.
"""

from __future__ import annotations

from priorbench.core.paths import sha256_file
from priorbench.envs.alfworld.env import OFFICIAL_SPLITS, ALFWorld, ALFWorldGen
from priorbench.envs.alfworld.expert import expert_command
from priorbench.envs.alfworld.games import default_cache_dir, ensure_game, game_path, read_game
from priorbench.envs.alfworld.install import (
    TRANSLATION_MEMO_SIZE,
    alfworld_paths,
    require_alfworld,
    speed_up_textworld,
)
from priorbench.envs.alfworld.planner import solve
from priorbench.envs.alfworld.problem import (
    build_grammar,
    build_problem,
    mangle,
    subgoal_problems,
)
from priorbench.envs.alfworld.scenes import LAMPS, Receptacle, Scene, load_scene, task_goals
from priorbench.envs.alfworld.splits import (
    DEFAULT_SPLIT_SIZES,
    SUITES_DIR,
    TEST_SEED_OFFSET,
    load_split,
    propose_split,
    suite_path,
    write_split,
)
from priorbench.envs.alfworld.tasks import (
    GENERATOR_VERSION,
    LABEL,
    TASK_TYPE_IDS,
    TASK_TYPES,
    GenTask,
    Goal,
)
from priorbench.envs.alfworld.text import (
    MAX_COMMAND_CHARS,
    PASSIVE_VERBS,
    normalize_command,
    task_sentence,
)

__all__ = [
    "DEFAULT_SPLIT_SIZES",
    "GENERATOR_VERSION",
    "LABEL",
    "LAMPS",
    "MAX_COMMAND_CHARS",
    "OFFICIAL_SPLITS",
    "PASSIVE_VERBS",
    "SUITES_DIR",
    "TASK_TYPES",
    "TASK_TYPE_IDS",
    "TEST_SEED_OFFSET",
    "TRANSLATION_MEMO_SIZE",
    "ALFWorld",
    "ALFWorldGen",
    "GenTask",
    "Goal",
    "Receptacle",
    "Scene",
    "alfworld_paths",
    "build_grammar",
    "build_problem",
    "default_cache_dir",
    "ensure_game",
    "expert_command",
    "game_path",
    "load_scene",
    "load_split",
    "mangle",
    "normalize_command",
    "propose_split",
    "read_game",
    "require_alfworld",
    "sha256_file",
    "solve",
    "speed_up_textworld",
    "subgoal_problems",
    "suite_path",
    "task_goals",
    "task_sentence",
    "write_split",
]
