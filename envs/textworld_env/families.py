"""The generated TextWorld families and their levels, as data (see docs/envs/textworld.md).

Importing this module imports no textworld: `envs/__init__.py` registers one env per level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from priorbench.core.errors import UserError

#: Test games come from generator seeds at and above this offset; train games from seeds below it.
TEST_SEED_OFFSET = 1_000_000


@dataclass(frozen=True)
class Family:
    """A generated TextWorld family: a textworld challenge and its settings per priorbench level."""

    name: str
    generator: str  # key in textworld.challenges.CHALLENGES
    levels: dict[int, dict[str, Any]]
    blurb: dict[int, str]


#: The cooking ladder grows the tw-cooking skills (as GATA's levels and TALES' TWCooking do;
#: levels 1–2 are GATA's levels 1–2). These are freshly generated games, not those sets' files.
COOKING = Family(
    "Cooking",
    "tw-cooking",
    {
        1: {"recipe": 1, "take": 1, "go": 1, "cut": True},
        2: {"recipe": 1, "take": 1, "go": 1, "cut": True, "cook": True},
        3: {"recipe": 2, "take": 2, "go": 6, "open": True, "cut": True, "cook": True},
        4: {"recipe": 3, "take": 3, "go": 9, "open": True, "cut": True, "cook": True},
    },
    {
        1: "1 room, find and cut 1 ingredient",
        2: "1 room, find, cut and cook 1 ingredient",
        3: "6 rooms, closed doors and containers, 2 ingredients to find, cut and cook",
        4: "9 rooms, closed doors and containers, 3 ingredients to find, cut and cook",
    },
)
#: priorbench level → textworld's own coin-collector / treasure-hunter level.
COIN_COLLECTOR = Family(
    "CoinCollector",
    "tw-coin_collector",
    {1: {"level": 5}, 2: {"level": 110}, 3: {"level": 215}},
    {
        1: "tw-coin_collector level 5: a chain of 5 rooms",
        2: "tw-coin_collector level 110: 10 rooms to the coin, 20 rooms with dead ends",
        3: "tw-coin_collector level 215: 15 rooms to the coin, 45 rooms with dead ends",
    },
)
TREASURE_HUNTER = Family(
    "TreasureHunter",
    "tw-treasure_hunter",
    {1: {"level": 5}, 2: {"level": 15}, 3: {"level": 25}},
    {
        1: "tw-treasure_hunter level 5: 5 rooms, no doors",
        2: "tw-treasure_hunter level 15: 10 rooms, closed doors and containers",
        3: "tw-treasure_hunter level 25: 20 rooms, locked doors and containers",
    },
)
FAMILIES: dict[str, Family] = {f.name: f for f in (COOKING, COIN_COLLECTOR, TREASURE_HUNTER)}


def generator_settings(family: Family, level: int, split: str) -> dict[str, Any]:
    """The exact settings handed to textworld's generator for one split of a level."""
    if level not in family.levels:
        raise UserError(
            f"TextWorld {family.name} has no level {level}; levels are {sorted(family.levels)}"
        )
    settings = dict(family.levels[level])
    if family.generator == "tw-cooking":
        # TextWorld's own food split: test games use foods and preparations unseen in training.
        settings.update(recipe_seed=0, split=split)
    return settings
