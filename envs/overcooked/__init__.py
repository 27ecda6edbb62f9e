"""Text Overcooked: the single-agent kitchen of TWOSOME (Tan et al., ICLR 2024) as a text game.

The env card docs/envs/overcooked.md holds the game, its rules, rewards, commands, tasks, sources
and what differs from TWOSOME. Modules: `kitchen` (constants, map A, recipes, state, paths),
`rules` (state queries, primitive dynamics, macro-actions), `text` (observations, command
wording), `expert` (the scripted planner), `env` (the gymnasium TextEnv `OvercookedText`).
"""

from __future__ import annotations

from priorbench.envs.overcooked.env import OvercookedText
from priorbench.envs.overcooked.kitchen import (
    BOWL,
    CHOP_REWARD,
    CHOPS_TO_FINISH,
    DEFAULT_MAX_PRIMITIVE_STEPS,
    DEFAULT_OBS_RADIUS,
    DELIVERY_REWARD,
    FOODS,
    MACRO_DISCOUNT,
    MAP_A_LETTUCE_TOMATO,
    MAP_A_TOMATO,
    MOVES,
    RECIPES,
    STEP_PENALTY,
    WRONG_DELIVERY_PENALTY,
    Kitchen,
    KitchenState,
    Pos,
    Recipe,
    parse_layout,
    shortest_approach,
)
from priorbench.envs.overcooked.rules import KitchenRules, MacroResult, macro_actions

__all__ = [
    "BOWL",
    "CHOPS_TO_FINISH",
    "CHOP_REWARD",
    "DEFAULT_MAX_PRIMITIVE_STEPS",
    "DEFAULT_OBS_RADIUS",
    "DELIVERY_REWARD",
    "FOODS",
    "MACRO_DISCOUNT",
    "MAP_A_LETTUCE_TOMATO",
    "MAP_A_TOMATO",
    "MOVES",
    "RECIPES",
    "STEP_PENALTY",
    "WRONG_DELIVERY_PENALTY",
    "Kitchen",
    "KitchenRules",
    "KitchenState",
    "MacroResult",
    "OvercookedText",
    "Pos",
    "Recipe",
    "macro_actions",
    "parse_layout",
    "shortest_approach",
]
