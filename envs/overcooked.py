"""Text Overcooked: the single-agent kitchen of TWOSOME (Tan et al., ICLR 2024) as a text game.

This is priorbench's own implementation of the environment that TWOSOME introduced and that
Yan et al. (ICLR 2025) use: a 7×7 kitchen, one agent, macro-actions in words, a partial
observation rendered as text. TWOSOME's code (github.com/WeihaoTan/TWOSOME, folder
`gym-macro-overcooked/gym_macro_overcooked/`, plus `twosome/overcooked/policy_pomdp.py`) was read
for the rules only: no code is copied, and of its text only the command words (which the
paper's agents choose among) and the sentence shapes quoted in the paper are kept (see
Observation and Commands). "Source" below names the file a rule comes from.

Tasks (one fixed map each, so the "train" and "test" splits hold the same single task):

    priorbench/Overcooked-TomatoSalad-v0          tomato salad, 5 macro-actions, ≤31 turns
    priorbench/Overcooked-LettuceTomatoSalad-v0   lettuce-tomato salad, 8 macro-actions, ≤51 turns

Kitchen (source: `overcooked_V4.py` / `overcooked_V3.py`, 7×7, `n_agent == 1`, map "A"; V4 is the
tomato-only kitchen TWOSOME runs for the tomato salad, V3 the full one for lettuce-tomato salad).
Rows top to bottom, `#` counter, `.` floor, `A` agent start, `K` cutting board ("knife"),
`D` delivery counter, `T` tomato, `L` lettuce, `O` onion, `B` bowl (TWOSOME's "plate")::

    tomato salad      lettuce-tomato salad
    #####T#           #####T#
    K...A.#           K...A.L
    #.....#           K.....O
    D.....#           D.....#
    #.....#           #.....#
    #.....#           #.....#
    #####B#           #####B#

Primitive dynamics (source: `Overcooked_V3.step` / `Overcooked_V4.step`, single agent). A
primitive action is a move right/down/left/up or "stay". Moving onto floor walks there. Moving
into any other cell interacts with it instead:
  * empty hands: take a food or the bowl (with what it holds) lying there; at a cutting board,
    take the bowl or a chopped food from it, or chop the unchopped food on it once;
  * full hands: a chopped food goes into a bowl (the bowl on a table, or the bowl in hand takes
    the chopped food from a board); an empty board takes what you hold; a chopped food in hand
    and a bowl on a board go together into your hands; at the delivery counter you hand over
    what you hold (see rewards).
  * A food is chopped after three chops (`items.Food.required_chopped_times`).
  TWOSOME also lets the agent put things down on a bare counter; no macro-action of map A ever
  walks into a bare counter (every target is an item, a board or the delivery counter), so that
  rule and the "pick up a chopped food from a table into the bowl" rule (a chopped food never
  lies on a table) are left out: they cannot change any reachable outcome.

Rewards (sources: the values are Yan et al.'s and TWOSOME's `--env-reward 0.2 1 0.1 0.001` in
`scripts/tomato_salad_ppo_llm.sh` / `tomato_lettuce_salad_ppo_llm.sh` and
`RL-LLM-Prior/value-based/train_overcooked.py`; where they apply is `Overcooked_V*.step`):
  * −0.001 on every primitive step, "stay" included;
  * +0.2 on the chop that finishes a food the recipe needs (TWOSOME tests `food in task name`,
    so onion earns nothing in either task). A food that is reset by a wrong delivery and chopped
    again earns it again, as in TWOSOME, so chop-then-hand-over nets +0.1 and a learner can
    farm it (kept for fidelity: the paper's numbers come from these rules);
  * +1 for handing over a bowl holding exactly the recipe's foods, all chopped; the episode
    ends (terminated, `won`);
  * −0.1 for handing over anything else (a food, an empty bowl, a bowl with the wrong foods);
    what was handed over goes back to where it started, foods unchopped again, and play goes on.
  * A macro-action's reward is the sum over its primitive steps of 0.99^k · r_k, k = 0, 1, …
    (source: `Overcooked_LLMA_V*.run`, `discount_factor *= 0.99`); `info["primitive_steps"]`
    gives the number of primitive steps, for agents that discount between macro-actions by
    γ^steps as TWOSOME's PPO does.

Macro-actions (source: `overcooked_LLMA_V4.py` / `overcooked_LLMA_V3.py`, map A). The
macro-action set is TWOSOME's: tomato salad ["get tomato", "get plate 1", "go to knife 1",
"deliver", "chop"]; lettuce-tomato salad ["get tomato", "get lettuce", "get onion",
"get plate 1", "go to knife 1", "go to knife 2", "deliver", "chop"]. Each runs primitive steps
until it is done:
  * "get <food>" / "get plate 1" / "go to knife k" / "deliver": walk a shortest path next to the
    target and then step into it (one interaction). Exceptions, all TWOSOME's: "go to knife k"
    with empty hands and "get <food>" whose food lies unchopped on a board stop next to the
    target without stepping in (so they never chop); "get <food>" ends at once (one "stay"
    step) when the food is already in your hands or in the bowl and the bowl is within view —
    a bowl out of view is walked to and, with empty hands, picked up; "get plate 1" with an
    unchopped food in hand walks there and stays; with a chopped food in hand it puts the food
    in the bowl and picks the bowl up (two steps: on a table, put in then pick up; on a board,
    both at once and then a "stay"). A macro-action that would do nothing at all still costs
    one "stay" step.
  * "chop": chop the unchopped food on an adjacent board three times (three primitive steps),
    else one "stay" step.
  * Paths: TWOSOME plans with A*; we use breadth-first search. On map A the floor is an open
    5×5 rectangle and every target has exactly one floor cell next to it, so every shortest path
    has the same length and ends on the same cell: the choice of path changes no outcome, no
    reward and no step count, only the unobserved cells walked through.
  * TWOSOME navigates with the agent's memory of where items are (refreshed when in view); with
    one agent items move only with the agent or back to their start on a wrong delivery, so
    that memory always equals the true position, and we use the true position.

Observation (source: `LLMAgent.obs2text` in TWOSOME's `twosome/overcooked/policy_pomdp.py`, the
same function as `obs2text` in RL-LLM-Prior's `utils.py`; TWOSOME's `obs2textWrapper.py` is a
placeholder that returns random text). The text is built from what the agent sees at the end
of each macro-action: items within 2 cells (Chebyshev distance, TWOSOME's `obs_radius=2`) of the
agent (source: `_get_macro_vector_obs`). In order: the cutting boards in the room; the items
you see lying where they started ("You notice …"); for each board in view, what it holds; whether
you stand in front of a board; what you hold. E.g. at the start of lettuce-tomato salad (the
bowl is out of view): "There are two fixed cutting boards in the room. You notice a tomato, a
lettuce and an onion on the different tables. Currently you don't have anything in hand."
Wording: the sentence shapes quoted in the paper (the example above) are kept; the other
sentences carry the same facts as TWOSOME's prompt in our own words, so prompts are close to,
not identical with, TWOSOME's. TWOSOME's closing "To serve the dish …, you should first" is a
prompt suffix, not part of the observation; the goal is in `info["task"]`.

Commands (source: `obs2text`'s action lists): `info["admissible_commands"]` always lists every
macro-action, in TWOSOME's order, as TWOSOME words it for the LLM in the current state, e.g.
"pick up the tomato" / "put the tomato in the bowl" (bowl in hand) for "get tomato";
"take the bowl" / "take the empty bowl"; "walk to the first cutting board" / "put the bowl on the
first cutting board"; "serve nothing" / "serve the dish"; "chop nothing" / "chop the tomato".
TWOSOME's internal macro names ("get tomato", "chop", …) are accepted as aliases.

Choices we made where the sources leave a gap:
  * Step limit: counted in macro-actions ("turns"), as the paper's authors do (their loops stop
    after 31 and 51 `env.step` calls of the macro-action env: `if steps > 30: break` in
    `train_overcooked.py`, `if steps > 50: break` in `test_overcooked_salad.py`), and reported
    as `truncated`. TWOSOME's own cap of 200 primitive steps (`Overcooked_V*.step`) is kept
    too: the turn in which it is reached finishes its macro-action and then truncates.
  * A command that is neither admissible nor an alias is answered in words, flagged
    `info["invalid_action"] = True`, changes nothing, earns 0 and uses up a turn (as in
    priorbench's Frozen Lake); TWOSOME has no such case (its actions are indices).
  * The episode ends only by the correct delivery (terminated) or a limit (truncated);
    nothing is `lost`.
  * `score` is the sum of the event rewards so far (chops, deliveries; not the step penalties
    or the in-macro discount) and `max_score` = 1 + 0.2 per needed food, the score of a perfect
    run.
  * `expert_action` comes from a scripted planner over the true state (not part of TWOSOME); it
    wins from the start (tomato salad: 6 turns, 28 primitive steps; lettuce-tomato salad: 10
    turns, 45 primitive steps) and from every reachable state when limits allow.
  * The game is deterministic; `np_random` (seeded by `reset`) only picks the task, of which
    each split has one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from priorbench.envs.base import TextEnv, text_space

Pos = tuple[int, int]

STEP_PENALTY = -0.001
CHOP_REWARD = 0.2
DELIVERY_REWARD = 1.0
WRONG_DELIVERY_PENALTY = -0.1
MACRO_DISCOUNT = 0.99
CHOPS_TO_FINISH = 3
DEFAULT_OBS_RADIUS = 2
DEFAULT_MAX_PRIMITIVE_STEPS = 200
#: Guard against a controller bug: no macro-action of map A takes more primitive steps.
_MAX_PRIMITIVES_PER_MACRO = 64

#: Primitive moves as (row, column) deltas, in TWOSOME's order: right, down, left, up.
MOVES: tuple[Pos, ...] = ((0, 1), (1, 0), (0, -1), (-1, 0))
FOODS: tuple[str, ...] = ("tomato", "lettuce", "onion")
BOWL = "bowl"
_ITEM_SYMBOLS = {"T": "tomato", "L": "lettuce", "O": "onion", "B": BOWL}
_ORDINALS = ("first", "second")

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
    if len(knives) > len(_ORDINALS):
        raise ValueError(f"at most {len(_ORDINALS)} cutting boards are supported")
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
                f"{_join(list(self.needed))} at the delivery counter.")


RECIPES: dict[str, Recipe] = {
    "tomato-salad": Recipe("tomato-salad", "tomato salad", ("tomato",), MAP_A_TOMATO, 31),
    "lettuce-tomato-salad": Recipe("lettuce-tomato-salad", "lettuce-tomato salad",
                                   ("tomato", "lettuce"), MAP_A_LETTUCE_TOMATO, 51),
}


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _with_article(item: str) -> str:
    return ("an " if item[0] in "aeiou" else "a ") + item


def _manhattan(a: Pos, b: Pos) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


@lru_cache(maxsize=4096)
def shortest_approach(floor: frozenset[Pos], start: Pos, target: Pos) -> tuple[Pos | None, int]:
    """First primitive move towards `target` and the number of moves to stand next to it.

    Next to the target already: the move into it and 0. Unreachable: (None, -1). Breadth-first
    over floor cells, neighbours in MOVES order (any shortest path gives the same outcome here).
    """
    if _manhattan(start, target) == 1:
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
            if _manhattan(nxt, target) == 1:
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


class OvercookedText(TextEnv):
    """TWOSOME's single-agent text Overcooked (map A); the rules and their sources are in the module docstring.

    Args:
        recipe: "tomato-salad" or "lettuce-tomato-salad".
        max_steps: turns (macro-actions, invalid commands included) per episode before
            truncation; default the recipe's (31 / 51, the paper's).
        max_primitive_steps: TWOSOME's cap on primitive steps (200); the turn that reaches it
            finishes and truncates.
        obs_radius: view radius in cells (Chebyshev); 0 sees the whole kitchen.
        split: "train" or "test"; the map is fixed, so both splits hold the same one task.
    """

    def __init__(
        self,
        recipe: str = "tomato-salad",
        max_steps: int | None = None,
        max_primitive_steps: int = DEFAULT_MAX_PRIMITIVE_STEPS,
        obs_radius: int = DEFAULT_OBS_RADIUS,
        split: str = "train",
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
        self.recipe = RECIPES[recipe]
        self.max_steps = self.recipe.max_steps if max_steps is None else int(max_steps)
        if self.max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {self.max_steps}")
        if max_primitive_steps <= 0:
            raise ValueError(f"max_primitive_steps must be positive, got {max_primitive_steps}")
        if obs_radius < 0:
            raise ValueError(f"obs_radius must be 0 or more, got {obs_radius}")
        self.max_primitive_steps = int(max_primitive_steps)
        self.obs_radius = int(obs_radius)
        self.split = split
        self.kitchen = parse_layout(self.recipe.layout)
        self.tasks = (self.recipe.task_id,)
        #: TWOSOME's macro-action names, in TWOSOME's order.
        self.macro_actions: tuple[str, ...] = (
            *(f"get {f}" for f in self.kitchen.foods),
            "get plate 1",
            *(f"go to knife {k + 1}" for k in range(len(self.kitchen.knives))),
            "deliver",
            "chop",
        )
        self.observation_space = text_space()
        self.action_space = text_space(64)
        self._task = 0
        self._state: KitchenState | None = None
        self._turns = 0
        self._primitive_total = 0
        self._points = 0.0
        self._done = False

    def provenance(self) -> dict[str, Any]:
        return {
            "source": "re-implementation of TWOSOME's single-agent Overcooked, map A",
            "recipe": self.recipe.task_id,
            "layout": list(self.recipe.layout),
            "max_steps": self.max_steps,
            "max_primitive_steps": self.max_primitive_steps,
            "obs_radius": self.obs_radius,
        }

    # --- state queries -----------------------------------------------------------------------
    @property
    def _s(self) -> KitchenState:
        if self._state is None:
            raise RuntimeError("call reset() first")
        return self._state

    def _knife_of(self, item: str) -> int | None:
        for k, held in enumerate(self._s.on_knife):
            if held == item:
                return k
        return None

    def _pos(self, item: str) -> Pos:
        """Where an item is: in hand, in the bowl, on a board, or on its starting table."""
        s = self._s
        if s.held == item:
            return s.agent
        if item in s.in_bowl:
            return self._pos(BOWL)
        k = self._knife_of(item)
        if k is not None:
            return self.kitchen.knives[k]
        return self.kitchen.starts[item]

    def _loose(self, item: str) -> bool:
        s = self._s
        return s.held != item and item not in s.in_bowl and self._knife_of(item) is None

    def _chopped(self, food: str) -> bool:
        return self._s.chops.get(food, 0) >= CHOPS_TO_FINISH

    def _visible(self, cell: Pos) -> bool:
        r, agent = self.obs_radius, self._s.agent
        return r == 0 or (abs(cell[0] - agent[0]) <= r and abs(cell[1] - agent[1]) <= r)

    def _facing_knife(self) -> int | None:
        for k, knife in enumerate(self.kitchen.knives):
            if _manhattan(knife, self._s.agent) == 1:
                return k
        return None

    # --- primitive dynamics (Overcooked_V*.step) ---------------------------------------------
    def _reset_item(self, item: str) -> None:
        """Send a handed-over item back to its start (foods unchopped; a bowl empties)."""
        s = self._s
        if item == BOWL:
            for food in s.in_bowl:
                s.chops[food] = 0
            s.in_bowl.clear()
        else:
            s.chops[item] = 0

    def _deliver(self) -> float:
        s = self._s
        item, s.held = s.held, None
        assert item is not None
        if item == BOWL and s.in_bowl and sorted(s.in_bowl) == sorted(self.recipe.needed):
            s.delivered = True
            return DELIVERY_REWARD
        self._reset_item(item)
        return WRONG_DELIVERY_PENALTY

    def _interact(self, cell: Pos) -> float:
        """Step into a non-floor cell; return the event reward (step penalty excluded)."""
        s = self._s
        if cell == self.kitchen.delivery:
            return self._deliver() if s.held is not None else 0.0
        if cell in self.kitchen.knives:
            k = self.kitchen.knives.index(cell)
            on = s.on_knife[k]
            if s.held is None:
                if on == BOWL or (on is not None and self._chopped(on)):
                    s.held, s.on_knife[k] = on, None
                elif on is not None:
                    s.chops[on] = s.chops.get(on, 0) + 1
                    if self._chopped(on) and on in self.recipe.needed:
                        return CHOP_REWARD
            elif on is None:
                s.held, s.on_knife[k] = None, s.held
            elif s.held == BOWL and on != BOWL and self._chopped(on):
                s.in_bowl.append(on)
                s.on_knife[k] = None
            elif on == BOWL and s.held != BOWL and self._chopped(s.held):
                s.in_bowl.append(s.held)
                s.held, s.on_knife[k] = BOWL, None
            return 0.0
        lying = next((i for i, p in self.kitchen.starts.items() if p == cell and self._loose(i)), None)
        if lying is None:
            return 0.0
        if s.held is None:
            s.held = lying
        elif lying == BOWL and s.held != BOWL and self._chopped(s.held):
            s.in_bowl.append(s.held)
            s.held = None
        return 0.0

    def _primitive(self, move: Pos | None) -> float:
        s = self._s
        self._primitive_total += 1
        if move is None:
            return STEP_PENALTY
        cell = (s.agent[0] + move[0], s.agent[1] + move[1])
        if cell in self.kitchen.floor:
            s.agent = cell
            return STEP_PENALTY
        event = self._interact(cell)
        self._points += event
        return STEP_PENALTY + event

    # --- macro-actions (Overcooked_LLMA_V*) ----------------------------------------------------
    def _target(self, macro: str) -> Pos:
        if macro == "deliver":
            return self.kitchen.delivery
        if macro.startswith("go to knife "):
            return self.kitchen.knives[int(macro.rsplit(" ", 1)[1]) - 1]
        return self._pos(BOWL if macro == "get plate 1" else macro[len("get "):])

    def _plan(self, macro: str) -> tuple[Pos | None, bool]:
        """The next primitive move of a walking macro-action and whether this step ends it."""
        s = self._s
        target = self._target(macro)
        food = macro[len("get "):] if macro.startswith("get ") and macro != "get plate 1" else None
        if food is not None and self._visible(target) and self._pos(BOWL) == target:
            return None, True  # the food is in the bowl (TWOSOME checks only a bowl in view)
        if target == s.agent:
            return None, True  # already in hand
        move, _ = shortest_approach(self.kitchen.floor, s.agent, target)
        done = move is None
        if _manhattan(s.agent, target) == 1:
            done = True
            if macro == "get plate 1" and s.held is not None and s.held != BOWL:
                if self._chopped(s.held):
                    done = False  # put the food in the bowl now, pick the bowl up next step
                else:
                    move = None
            if macro.startswith("go to knife ") and s.held is None:
                move = None
            if food is not None and target in self.kitchen.knives and not self._chopped(food):
                move = None
        return move, done

    def _arrived(self, macro: str) -> bool:
        """TWOSOME's after-step check: walking macro-actions that end on arrival."""
        s = self._s
        target = self._target(macro)
        if _manhattan(s.agent, target) != 1:
            return False
        if macro.startswith("go to knife ") or macro == "deliver":
            return s.held is None
        if macro.startswith("get ") and macro != "get plate 1":
            food = macro[len("get "):]
            return target in self.kitchen.knives and not self._chopped(food)
        return False

    def _run_macro(self, macro: str) -> tuple[float, int]:
        """Run a macro-action to its end; return its 0.99-discounted reward and primitive steps."""
        s = self._s
        total, discount, steps = 0.0, 1.0, 0
        if macro == "chop":
            # TWOSOME chops the unchopped food on an adjacent board, counting chops up to three;
            # with nothing (left) to chop it stays one step and ends.
            for _ in range(CHOPS_TO_FINISH):
                k = self._facing_knife()
                on = None if k is None else s.on_knife[k]
                if k is None or on is None or on == BOWL or self._chopped(on):
                    return total + discount * self._primitive(None), steps + 1
                knife = self.kitchen.knives[k]
                total += discount * self._primitive((knife[0] - s.agent[0], knife[1] - s.agent[1]))
                discount *= MACRO_DISCOUNT
                steps += 1
            return total, steps
        for _ in range(_MAX_PRIMITIVES_PER_MACRO):
            move, done = self._plan(macro)
            total += discount * self._primitive(move)
            discount *= MACRO_DISCOUNT
            steps += 1
            if done or s.delivered or self._arrived(macro):
                return total, steps
        raise RuntimeError(f"macro-action {macro!r} did not finish")  # a bug, not a game state

    # --- text ---------------------------------------------------------------------------------
    def _board(self, k: int) -> str:
        if len(self.kitchen.knives) == 1:
            return "the cutting board"
        return f"the {_ORDINALS[k]} cutting board"

    def _thing(self, item: str) -> str:
        if item == BOWL:
            contents = [f for f in FOODS if f in self._s.in_bowl]
            return f"a bowl containing chopped {_join(contents)}" if contents else "an empty bowl"
        return ("a chopped " if self._chopped(item) else "an unchopped ") + item

    def _describe(self) -> str:
        s = self._s
        n = len(self.kitchen.knives)
        parts = ["There is a fixed cutting board in the room." if n == 1
                 else "There are two fixed cutting boards in the room."]
        items = [*self.kitchen.foods, BOWL]
        noticed = [_with_article(i) for i in items
                   if self._pos(i) == self.kitchen.starts[i] and self._visible(self._pos(i))]
        if len(noticed) == 1:
            parts.append(f"You notice {noticed[0]} on a table.")
        elif noticed:
            parts.append(f"You notice {_join(noticed)} on the different tables.")
        for k, knife in enumerate(self.kitchen.knives):
            on = s.on_knife[k]
            if on is not None and self._visible(knife):
                parts.append(f"{self._board(k).capitalize()} holds {self._thing(on)}.")
        k = self._facing_knife()
        if k is not None:
            parts.append(f"You are standing in front of {self._board(k)}.")
        if s.held is None:
            parts.append("Currently you don't have anything in hand.")
        else:
            parts.append(f"Currently you are holding {self._thing(s.held)}.")
        return " ".join(parts)

    def _phrase(self, macro: str) -> str:
        """The command for a macro-action as TWOSOME words it in the current state."""
        s = self._s
        if macro == "get plate 1":
            if len(self.kitchen.knives) == 1:
                return "take the bowl"
            full_in_view = bool(s.in_bowl) and (s.held == BOWL or self._knife_of(BOWL) is not None) \
                and self._visible(self._pos(BOWL))
            return "take the bowl" if full_in_view else "take the empty bowl"
        if macro.startswith("get "):
            food = macro[len("get "):]
            return f"put the {food} in the bowl" if s.held == BOWL else f"pick up the {food}"
        if macro.startswith("go to knife "):
            board = self._board(int(macro.rsplit(" ", 1)[1]) - 1)
            if s.held == BOWL or (s.held is not None and not self._chopped(s.held)):
                return f"put the {s.held} on {board}"
            return f"walk to {board}"
        if macro == "deliver":
            return "serve nothing" if s.held is None else "serve the dish"
        k = self._facing_knife()
        on = None if k is None else s.on_knife[k]
        return f"chop the {on}" if on is not None and on != BOWL else "chop nothing"

    def _commands(self) -> dict[str, str]:
        """Admissible command → macro-action, in TWOSOME's order."""
        return {self._phrase(m): m for m in self.macro_actions}

    # --- expert ----------------------------------------------------------------------------------
    def _walk(self, item: str) -> int:
        return shortest_approach(self.kitchen.floor, self._s.agent, self._pos(item))[1]

    def _expert_macro(self) -> str:
        """A scripted plan over the true state that always reaches the correct delivery."""
        s = self._s
        needed = self.recipe.needed
        missing = [f for f in needed if f not in s.in_bowl]
        stray = [f for f in s.in_bowl if f not in needed]
        empty = [k for k, on in enumerate(s.on_knife) if on is None]
        if s.held == BOWL:
            if not missing or stray:
                return "deliver"  # the dish, or a bowl that must be emptied by a wrong delivery
            ready = [f for f in missing if self._chopped(f) and self._knife_of(f) is not None]
            if ready:
                return "get " + min(ready, key=lambda f: (self._walk(f), needed.index(f)))
            waiting = any(self._knife_of(f) is not None for f in missing)
            if len(empty) >= 2 or (empty and waiting):
                return f"go to knife {empty[-1] + 1}"  # set the bowl down, keep a board free
            return "deliver"  # no board to spare: start over with an empty bowl
        if s.held is not None:
            food = s.held
            if food not in needed:
                return "deliver"
            if self._chopped(food) and not stray:
                return "get plate 1"
            return f"go to knife {empty[0] + 1}" if empty else "deliver"
        facing = self._facing_knife()
        for k, on in enumerate(s.on_knife):
            if on is not None and on != BOWL and on not in needed:  # clear a board of onion
                if not self._chopped(on):
                    return "chop" if facing == k else f"go to knife {k + 1}"
                return f"get {on}"
        if stray or not missing:
            return "get plate 1"
        if all(self._chopped(f) for f in missing):
            if len(missing) == 1 and facing is not None and s.on_knife[facing] == missing[0]:
                return f"get {missing[0]}"
            return "get plate 1"
        for f in missing:
            k = self._knife_of(f)
            if k is not None and not self._chopped(f):
                return "chop" if facing == k else f"go to knife {k + 1}"
        if empty:
            return "get " + next(f for f in missing if not self._chopped(f))
        for on in s.on_knife:
            if on is not None and on in needed and self._chopped(on):
                return f"get {on}"  # free a board: the chopped food goes into the bowl next
        return "get plate 1"  # the bowl holds the only free board

    # --- gymnasium API ---------------------------------------------------------------------------
    def _info(self, **extra: Any) -> dict[str, Any]:
        s = self._s
        won = s.delivered
        commands = self._commands()
        info = self._base_info(
            self._task, admissible=commands, task=self.recipe.task_text, won=won, lost=False,
            score=round(self._points, 10),
            max_score=round(DELIVERY_REWARD + CHOP_REWARD * len(self.recipe.needed), 10))
        info["total_primitive_steps"] = self._primitive_total
        if not won:
            info["expert_action"] = self._phrase(self._expert_macro())
        info.update(extra)
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        self._state = KitchenState(
            agent=self.kitchen.agent_start,
            on_knife=[None] * len(self.kitchen.knives),
            chops={f: 0 for f in self.kitchen.foods},
        )
        self._turns = 0
        self._primitive_total = 0
        self._points = 0.0
        self._done = False
        return self._describe(), self._info()

    def _parse_command(self, action: str) -> str | None:
        command = " ".join(str(action).strip().lower().rstrip(".").split())
        macro = self._commands().get(command)
        if macro is None and command in self.macro_actions:
            macro = command
        return macro

    def step(self, action: str):
        if self._state is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._turns += 1
        macro = self._parse_command(action)
        if macro is None:
            truncated = self._turns >= self.max_steps
            self._done = truncated
            obs = ("Nothing happens: that is not one of the actions you can take now ("
                   + ", ".join(self._commands()) + "). " + self._describe())
            info = self._info(invalid_action=True, macro_action=None, primitive_steps=0)
            return obs, 0.0, False, truncated, info
        reward, steps = self._run_macro(macro)
        won = self._s.delivered
        truncated = not won and (self._turns >= self.max_steps
                                 or self._primitive_total >= self.max_primitive_steps)
        self._done = won or truncated
        if won:
            obs = (f"You serve {self._thing(BOWL)}: the {self.recipe.dish} is done. "
                   "The episode is over.")
        else:
            obs = self._describe()
        info = self._info(invalid_action=False, macro_action=macro, primitive_steps=steps)
        return obs, float(reward), won, truncated, info
