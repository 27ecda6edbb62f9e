"""TWOSOME's rules on one kitchen and recipe: state queries, primitive dynamics, macro-actions.

`KitchenRules` holds only what is fixed for an env instance (kitchen, recipe, view radius); every
method reads or changes the KitchenState it is given, so a copied state is an independent game.
Sources for each rule: docs/envs/overcooked.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from priorbench.envs.overcooked.kitchen import (
    BOWL,
    CHOP_REWARD,
    CHOPS_TO_FINISH,
    DELIVERY_REWARD,
    MACRO_DISCOUNT,
    STEP_PENALTY,
    WRONG_DELIVERY_PENALTY,
    Kitchen,
    KitchenState,
    Pos,
    Recipe,
    manhattan,
    shortest_approach,
)

#: Guard against a controller bug: no macro-action of map A takes more primitive steps.
_MAX_PRIMITIVES_PER_MACRO = 64


def macro_actions(kitchen: Kitchen) -> tuple[str, ...]:
    """TWOSOME's macro-action names, in TWOSOME's order."""
    return (
        *(f"get {f}" for f in kitchen.foods),
        "get plate 1",
        *(f"go to knife {k + 1}" for k in range(len(kitchen.knives))),
        "deliver",
        "chop",
    )


class MacroResult(NamedTuple):
    """What one macro-action did."""

    reward: float
    """The 0.99-discounted sum of its primitive rewards."""
    steps: int
    """Its primitive steps."""
    events: tuple[float, ...]
    """The event rewards (step penalty excluded) of its interactions, in order."""


@dataclass(frozen=True)
class KitchenRules:
    """The rules of one kitchen and recipe, seen within `obs_radius` cells (0: everywhere)."""

    kitchen: Kitchen
    recipe: Recipe
    obs_radius: int

    # --- state queries -----------------------------------------------------------------------
    def knife_of(self, s: KitchenState, item: str) -> int | None:
        for k, held in enumerate(s.on_knife):
            if held == item:
                return k
        return None

    def pos(self, s: KitchenState, item: str) -> Pos:
        """Where an item is: in hand, in the bowl, on a board, or on its starting table."""
        if s.held == item:
            return s.agent
        if item in s.in_bowl:
            return self.pos(s, BOWL)
        k = self.knife_of(s, item)
        if k is not None:
            return self.kitchen.knives[k]
        return self.kitchen.starts[item]

    def loose(self, s: KitchenState, item: str) -> bool:
        return s.held != item and item not in s.in_bowl and self.knife_of(s, item) is None

    def chopped(self, s: KitchenState, food: str) -> bool:
        return s.chops.get(food, 0) >= CHOPS_TO_FINISH

    def visible(self, s: KitchenState, cell: Pos) -> bool:
        r, agent = self.obs_radius, s.agent
        return r == 0 or (abs(cell[0] - agent[0]) <= r and abs(cell[1] - agent[1]) <= r)

    def facing_knife(self, s: KitchenState) -> int | None:
        for k, knife in enumerate(self.kitchen.knives):
            if manhattan(knife, s.agent) == 1:
                return k
        return None

    # --- primitive dynamics (Overcooked_V*.step) ---------------------------------------------
    def reset_item(self, s: KitchenState, item: str) -> None:
        """Send a handed-over item back to its start (foods unchopped; a bowl empties)."""
        if item == BOWL:
            for food in s.in_bowl:
                s.chops[food] = 0
            s.in_bowl.clear()
        else:
            s.chops[item] = 0

    def deliver(self, s: KitchenState) -> float:
        item, s.held = s.held, None
        assert item is not None
        if item == BOWL and s.in_bowl and sorted(s.in_bowl) == sorted(self.recipe.needed):
            s.delivered = True
            return DELIVERY_REWARD
        self.reset_item(s, item)
        return WRONG_DELIVERY_PENALTY

    def interact(self, s: KitchenState, cell: Pos) -> float:
        """Step into a non-floor cell; return the event reward (step penalty excluded)."""
        if cell == self.kitchen.delivery:
            return self.deliver(s) if s.held is not None else 0.0
        if cell in self.kitchen.knives:
            k = self.kitchen.knives.index(cell)
            on = s.on_knife[k]
            if s.held is None:
                if on == BOWL or (on is not None and self.chopped(s, on)):
                    s.held, s.on_knife[k] = on, None
                elif on is not None:
                    s.chops[on] = s.chops.get(on, 0) + 1
                    if self.chopped(s, on) and on in self.recipe.needed:
                        return CHOP_REWARD
            elif on is None:
                s.held, s.on_knife[k] = None, s.held
            elif s.held == BOWL and on != BOWL and self.chopped(s, on):
                s.in_bowl.append(on)
                s.on_knife[k] = None
            elif on == BOWL and s.held != BOWL and self.chopped(s, s.held):
                s.in_bowl.append(s.held)
                s.held, s.on_knife[k] = BOWL, None
            return 0.0
        lying = next((i for i, p in self.kitchen.starts.items()
                      if p == cell and self.loose(s, i)), None)
        if lying is None:
            return 0.0
        if s.held is None:
            s.held = lying
        elif lying == BOWL and s.held != BOWL and self.chopped(s, s.held):
            s.in_bowl.append(s.held)
            s.held = None
        return 0.0

    def primitive(self, s: KitchenState, move: Pos | None) -> tuple[float, float | None]:
        """One primitive step: its reward and its event reward (None: no interaction)."""
        if move is None:
            return STEP_PENALTY, None
        cell = (s.agent[0] + move[0], s.agent[1] + move[1])
        if cell in self.kitchen.floor:
            s.agent = cell
            return STEP_PENALTY, None
        event = self.interact(s, cell)
        return STEP_PENALTY + event, event

    # --- macro-actions (Overcooked_LLMA_V*) ----------------------------------------------------
    def target(self, s: KitchenState, macro: str) -> Pos:
        if macro == "deliver":
            return self.kitchen.delivery
        if macro.startswith("go to knife "):
            return self.kitchen.knives[int(macro.rsplit(" ", 1)[1]) - 1]
        return self.pos(s, BOWL if macro == "get plate 1" else macro[len("get "):])

    def plan(self, s: KitchenState, macro: str) -> tuple[Pos | None, bool]:
        """The next primitive move of a walking macro-action and whether this step ends it."""
        target = self.target(s, macro)
        food = macro[len("get "):] if macro.startswith("get ") and macro != "get plate 1" else None
        if food is not None and self.visible(s, target) and self.pos(s, BOWL) == target:
            return None, True  # the food is in the bowl (TWOSOME checks only a bowl in view)
        if target == s.agent:
            return None, True  # already in hand
        move, _ = shortest_approach(self.kitchen.floor, s.agent, target)
        done = move is None
        if manhattan(s.agent, target) == 1:
            done = True
            if macro == "get plate 1" and s.held is not None and s.held != BOWL:
                if self.chopped(s, s.held):
                    done = False  # put the food in the bowl now, pick the bowl up next step
                else:
                    move = None
            if macro.startswith("go to knife ") and s.held is None:
                move = None
            if food is not None and target in self.kitchen.knives and not self.chopped(s, food):
                move = None
        return move, done

    def arrived(self, s: KitchenState, macro: str) -> bool:
        """TWOSOME's after-step check: walking macro-actions that end on arrival."""
        target = self.target(s, macro)
        if manhattan(s.agent, target) != 1:
            return False
        if macro.startswith("go to knife ") or macro == "deliver":
            return s.held is None
        if macro.startswith("get ") and macro != "get plate 1":
            food = macro[len("get "):]
            return target in self.kitchen.knives and not self.chopped(s, food)
        return False

    def run_macro(self, s: KitchenState, macro: str) -> MacroResult:
        """Run a macro-action to its end: its 0.99-discounted reward, primitive steps and events."""
        total, discount, steps = 0.0, 1.0, 0
        events: list[float] = []

        def primitive(move: Pos | None) -> float:
            reward, event = self.primitive(s, move)
            if event is not None:
                events.append(event)
            return reward

        if macro == "chop":
            # TWOSOME chops the unchopped food on an adjacent board, counting chops up to three;
            # with nothing (left) to chop it stays one step and ends.
            for _ in range(CHOPS_TO_FINISH):
                k = self.facing_knife(s)
                on = None if k is None else s.on_knife[k]
                if k is None or on is None or on == BOWL or self.chopped(s, on):
                    return MacroResult(total + discount * primitive(None), steps + 1, tuple(events))
                knife = self.kitchen.knives[k]
                total += discount * primitive((knife[0] - s.agent[0], knife[1] - s.agent[1]))
                discount *= MACRO_DISCOUNT
                steps += 1
            return MacroResult(total, steps, tuple(events))
        for _ in range(_MAX_PRIMITIVES_PER_MACRO):
            move, done = self.plan(s, macro)
            total += discount * primitive(move)
            discount *= MACRO_DISCOUNT
            steps += 1
            if done or s.delivered or self.arrived(s, macro):
                return MacroResult(total, steps, tuple(events))
        raise RuntimeError(f"macro-action {macro!r} did not finish")  # a bug, not a game state
