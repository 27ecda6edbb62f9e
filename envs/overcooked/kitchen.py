"""The kitchen model: constants, map A's layouts, the recipes, the episode state and path finding.

Data and pure functions only; the rules that change a KitchenState are in `rules.py`. The
rules and their sources are described in docs/envs/overcooked.md.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

Pos = tuple[int, int]

STEP_PENALTY = -0.001
CHOP_REWARD = 0.2
DELIVERY_REWARD = 1.0
WRONG_DELIVERY_PENALTY = -0.1
MACRO_DISCOUNT = 0.99
CHOPS_TO_FINISH = 3
DEFAULT_OBS_RADIUS = 2
DEFAULT_MAX_PRIMITIVE_STEPS = 200

#: Primitive moves as (row, column) deltas, in TWOSOME's order: right, down, left, up.
MOVES: tuple[Pos, ...] = ((0, 1), (1, 0), (0, -1), (-1, 0))
FOODS: tuple[str, ...] = ("tomato", "lettuce", "onion")
BOWL = "bowl"
_ITEM_SYMBOLS = {"T": "tomato", "L": "lettuce", "O": "onion", "B": BOWL}
ORDINALS = ("first", "second")

MAP_A_TOMATO: tuple[str, ...] = (
    "#####T#",
    "K...A.#",
    "#.....#",
    "D.....#",
    "#.....#",
    "#.....#",
    "#####B#",
)
MAP_A_LETTUCE_TOMATO: tuple[str, ...] = (
    "#####T#",
    "K...A.L",
    "K.....O",
    "D.....#",
    "#.....#",
    "#.....#",
    "#####B#",
)


@dataclass(frozen=True)
class Kitchen:
    """A parsed layout: floor cells, fixed fixtures and where each item starts."""

    floor: frozenset[Pos]
    agent_start: Pos
    knives: tuple[Pos, ...]
    delivery: Pos
    starts: dict[str, Pos]

    @property
    def foods(self) -> tuple[str, ...]:
        return tuple(f for f in FOODS if f in self.starts)


def parse_layout(rows: tuple[str, ...]) -> Kitchen:
    floor: set[Pos] = set()
    knives: list[Pos] = []
    starts: dict[str, Pos] = {}
    agent = delivery = None
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch in ".A":
                floor.add((r, c))
                if ch == "A":
                    agent = (r, c)
            elif ch == "K":
                knives.append((r, c))
            elif ch == "D":
                delivery = (r, c)
            elif ch in _ITEM_SYMBOLS:
                starts[_ITEM_SYMBOLS[ch]] = (r, c)
            elif ch != "#":
                raise ValueError(f"unknown layout symbol {ch!r}")
    if agent is None or delivery is None or BOWL not in starts or not knives:
        raise ValueError("a layout needs an agent, a delivery counter, a bowl and a cutting board")
    if len(knives) > len(ORDINALS):
        raise ValueError(f"at most {len(ORDINALS)} cutting boards are supported")
    return Kitchen(frozenset(floor), agent, tuple(knives), delivery, starts)


@dataclass(frozen=True)
class Recipe:
    """One task: the dish, the foods it needs, its kitchen and its turn limit."""

    task_id: str
    dish: str
    needed: tuple[str, ...]
    layout: tuple[str, ...]
    max_steps: int

    @property
    def task_text(self) -> str:
        return (f"Make a {self.dish}: serve a bowl containing only chopped "
                f"{join_words(list(self.needed))} at the delivery counter.")


RECIPES: dict[str, Recipe] = {
    "tomato-salad": Recipe("tomato-salad", "tomato salad", ("tomato",), MAP_A_TOMATO, 31),
    "lettuce-tomato-salad": Recipe("lettuce-tomato-salad", "lettuce-tomato salad",
                                   ("tomato", "lettuce"), MAP_A_LETTUCE_TOMATO, 51),
}


def join_words(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def manhattan(a: Pos, b: Pos) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


@lru_cache(maxsize=4096)
def shortest_approach(floor: frozenset[Pos], start: Pos, target: Pos) -> tuple[Pos | None, int]:
    """First primitive move towards `target` and the number of moves to stand next to it.

    Next to the target already: the move into it and 0. Unreachable: (None, -1). Breadth-first
    over floor cells, neighbours in MOVES order (any shortest path gives the same outcome here).
    """
    if manhattan(start, target) == 1:
        return (target[0] - start[0], target[1] - start[1]), 0
    first: dict[Pos, Pos] = {}
    dist = {start: 0}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for dr, dc in MOVES:
            nxt = (cell[0] + dr, cell[1] + dc)
            if nxt in dist or nxt not in floor:
                continue
            dist[nxt] = dist[cell] + 1
            first[nxt] = first.get(cell, (dr, dc))
            if manhattan(nxt, target) == 1:
                return first[nxt], dist[nxt]
            queue.append(nxt)
    return None, -1


@dataclass
class KitchenState:
    """Everything that changes during an episode."""

    agent: Pos
    held: str | None = None
    on_knife: list[str | None] = field(default_factory=list)
    in_bowl: list[str] = field(default_factory=list)
    chops: dict[str, int] = field(default_factory=dict)
    delivered: bool = False
