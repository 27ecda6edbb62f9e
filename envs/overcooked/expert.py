"""The expert: a scripted planner over the true state (not part of TWOSOME).

It wins from the start (tomato salad: 6 turns, 28 primitive steps; lettuce-tomato salad: 10
turns, 45 primitive steps) and from every reachable state when limits allow.
"""

from __future__ import annotations

from priorbench.envs.overcooked.kitchen import BOWL, KitchenState, shortest_approach
from priorbench.envs.overcooked.rules import KitchenRules


def _walk(rules: KitchenRules, s: KitchenState, item: str) -> int:
    return shortest_approach(rules.kitchen.floor, s.agent, rules.pos(s, item))[1]


def expert_macro(rules: KitchenRules, s: KitchenState) -> str:
    """A scripted plan over the true state that always reaches the correct delivery."""
    needed = rules.recipe.needed
    missing = [f for f in needed if f not in s.in_bowl]
    stray = [f for f in s.in_bowl if f not in needed]
    empty = [k for k, on in enumerate(s.on_knife) if on is None]
    if s.held == BOWL:
        if not missing or stray:
            return "deliver"  # the dish, or a bowl that must be emptied by a wrong delivery
        ready = [f for f in missing if rules.chopped(s, f) and rules.knife_of(s, f) is not None]
        if ready:
            return "get " + min(ready, key=lambda f: (_walk(rules, s, f), needed.index(f)))
        waiting = any(rules.knife_of(s, f) is not None for f in missing)
        if len(empty) >= 2 or (empty and waiting):
            return f"go to knife {empty[-1] + 1}"  # set the bowl down, keep a board free
        return "deliver"  # no board to spare: start over with an empty bowl
    if s.held is not None:
        food = s.held
        if food not in needed:
            return "deliver"
        if rules.chopped(s, food) and not stray:
            return "get plate 1"
        return f"go to knife {empty[0] + 1}" if empty else "deliver"
    facing = rules.facing_knife(s)
    for k, on in enumerate(s.on_knife):
        if on is not None and on != BOWL and on not in needed:  # clear a board of onion
            if not rules.chopped(s, on):
                return "chop" if facing == k else f"go to knife {k + 1}"
            return f"get {on}"
    if stray or not missing:
        return "get plate 1"
    if all(rules.chopped(s, f) for f in missing):
        if len(missing) == 1 and facing is not None and s.on_knife[facing] == missing[0]:
            return f"get {missing[0]}"
        return "get plate 1"
    for f in missing:
        k = rules.knife_of(s, f)
        if k is not None and not rules.chopped(s, f):
            return "chop" if facing == k else f"go to knife {k + 1}"
    if empty:
        return "get " + next(f for f in missing if not rules.chopped(s, f))
    for on in s.on_knife:
        if on is not None and on in needed and rules.chopped(s, on):
            return f"get {on}"  # free a board: the chopped food goes into the bowl next
    return "get plate 1"  # the bowl holds the only free board
