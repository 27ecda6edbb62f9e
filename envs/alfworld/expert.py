"""The goal-directed expert: the next command towards the goal, read from the game's facts.

It takes over from the walkthrough once the agent leaves it (see docs/envs/alfworld.md, "Expert").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from priorbench.envs.alfworld.tasks import Goal

#: state-change tasks: (station receptacle class, verb, the fact the goal checks)
_STATIONS = {"Clean": ("sinkbasin", "clean", "isclean"), "Heat": ("microwave", "heat", "ishot"),
             "Cool": ("fridge", "cool", "iscool")}


class _World:
    """The facts of one game state, indexed for the expert."""

    def __init__(self, facts: Sequence[Any]) -> None:
        self.unary: dict[str, set[str]] = defaultdict(set)
        self.where: dict[str, str] = {}  # object → receptacle
        self.loc_of: dict[str, str] = {}  # receptacle → location
        self.type_of: dict[str, str] = {}  # object or receptacle → class (lower case)
        self.can_contain: set[tuple[str, str]] = set()
        self.agent_loc = ""
        self.held: str | None = None
        for fact in facts:
            args = [v.name.strip() for v in fact.arguments]
            name = fact.name
            if len(args) == 1:
                self.unary[name].add(args[0])
            elif name == "inreceptacle":
                self.where[args[0]] = args[1]
            elif name == "receptacleatlocation":
                self.loc_of[args[0]] = args[1]
            elif name in ("objecttype", "receptacletype"):
                self.type_of[args[0]] = args[1].removesuffix("type")
            elif name == "cancontain":
                self.can_contain.add((args[0].removesuffix("type"), args[1].removesuffix("type")))
            elif name == "atlocation":
                self.agent_loc = args[1]
            elif name == "holds":
                self.held = args[1]

    def of_type(self, cls: str) -> list[str]:
        return sorted(o for o, t in self.type_of.items() if t == cls and o not in self.loc_of)

    def receptacles(self, cls: str) -> list[str]:
        return sorted(r for r in self.loc_of if self.type_of.get(r) == cls)

    def here(self, receptacle: str) -> bool:
        return self.loc_of.get(receptacle) == self.agent_loc

    def is_open(self, receptacle: str) -> bool:
        return receptacle not in self.unary["openable"] or receptacle in self.unary["opened"]

    def closeness(self, receptacle: str) -> tuple[int, int, str]:
        """Sort key: receptacles here first, then open ones, then by name."""
        return (0 if self.here(receptacle) else 1, 0 if self.is_open(receptacle) else 1,
                receptacle)


def _reach(world: _World, receptacle: str, then: str) -> str:
    """Go to the receptacle, open it if needed, then `then`."""
    if not world.here(receptacle):
        return f"go to {receptacle}"
    if not world.is_open(receptacle):
        return f"open {receptacle}"
    return then


def _take(world: _World, candidates: Sequence[str]) -> str | None:
    reachable = [o for o in candidates if o in world.where]
    if not reachable:
        return None
    obj = min(reachable, key=lambda o: world.closeness(world.where[o]))
    container = world.where[obj]
    return _reach(world, container, f"take {obj} from {container}")


def _put_down(world: _World, obj: str) -> str | None:
    """Put a held object that the goal does not need into some receptacle that takes it."""
    cls = world.type_of.get(obj, "")
    fits = [r for r in world.loc_of if (world.type_of.get(r, ""), cls) in world.can_contain]
    if not fits:
        return None
    target = min(fits, key=world.closeness)
    return _reach(world, target, f"move {obj} to {target}")


def expert_command(goal: Goal, facts: Sequence[Any]) -> str | None:
    """The next command towards the goal from the full game state; None if it sees none."""
    world = _World(facts)
    wanted = goal.object
    held = world.held
    if goal.task_type == "Look":
        lamps = [o for o in world.of_type(goal.toggle) if o in world.where]
        if not lamps:
            return None
        lamp = lamps[0]
        if held is None:
            return _take(world, world.of_type(wanted))
        if world.type_of.get(held) != wanted:
            return _put_down(world, held)
        host = world.where[lamp]
        if not world.here(host):
            return f"go to {host}"
        return f"use {lamp}"

    targets = world.receptacles(goal.receptacle)
    if not targets:
        return None
    station = _STATIONS.get(goal.task_type)

    def done(obj: str) -> bool:
        return (world.where.get(obj) in targets
                and (station is None or obj in world.unary[station[2]]))

    if goal.task_type == "PickTwo":
        counts = {r: sum(1 for o in world.of_type(wanted) if world.where.get(o) == r)
                  for r in targets}
        target = min(targets, key=lambda r: (-counts[r], world.closeness(r)))
        todo = [o for o in world.of_type(wanted) if world.where.get(o) != target]
    else:
        target = min(targets, key=world.closeness)
        todo = [o for o in world.of_type(wanted) if not done(o)]
    if held is None:
        return _take(world, todo)
    if world.type_of.get(held) != wanted:
        return _put_down(world, held)
    if station is not None and held not in world.unary[station[2]]:
        sites = world.receptacles(station[0])
        if not sites:
            return None
        site = min(sites, key=world.closeness)
        if not world.here(site):
            return f"go to {site}"
        return f"{station[1]} {held} with {site}"
    return _reach(world, target, f"move {held} to {target}")
