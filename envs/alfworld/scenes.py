"""ALFRED's scenes as the wheel ships them, and the goals ALFRED could pose in each.

See docs/envs/alfworld.md ("How generated games are built"). alfworld is imported on first use.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from priorbench.envs.alfworld.install import _constants, alfworld_paths

#: Room types where ALFRED poses each task (constants.GOALS_VALID).
_ROOMS: dict[str, tuple[str, ...]] = {
    "Pick": ("Kitchen", "LivingRoom", "Bedroom", "Bathroom"),
    "PickTwo": ("Kitchen", "LivingRoom", "Bedroom", "Bathroom"),
    "Look": ("LivingRoom", "Bedroom"),
    "Clean": ("Kitchen", "Bathroom"),
    "Heat": ("Kitchen",),
    "Cool": ("Kitchen",),
}
#: The receptacle a state-change task needs, and the object property it checks.
_STATION: dict[str, tuple[str, str]] = {
    "Clean": ("SinkBasin", "Cleanable"),
    "Heat": ("Microwave", "Heatable"),
    "Cool": ("Fridge", "Coolable"),
}
LAMPS = ("DeskLamp", "FloorLamp")
#: Furniture a lamp may stand on (our choice; ALFRED's lamps stand in the THOR scene).
_LAMP_HOSTS: dict[str, tuple[str, ...]] = {
    "DeskLamp": ("Desk", "SideTable", "Dresser", "Shelf", "CoffeeTable", "DiningTable", "TVStand"),
    "FloorLamp": ("SideTable", "Desk", "Dresser", "CoffeeTable", "TVStand", "Sofa", "ArmChair",
                  "DiningTable", "Bed"),
}
_GRID = 0.25  # ALFRED's navigation grid (metres per step), as in its `loc|x|z|rot|horizon` names


@dataclass(frozen=True)
class Receptacle:
    id: str  # ALFRED object id, e.g. "Cabinet|+00.68|+00.50|-02.20"
    type: str
    loc: tuple[int, int, int, int]


@dataclass(frozen=True)
class Scene:
    number: int
    room: str
    receptacles: tuple[Receptacle, ...]
    object_types: tuple[str, ...]  # pickable classes + lamps present in the scene

    @property
    def receptacle_types(self) -> set[str]:
        return {r.type for r in self.receptacles}


def _room_of(scene: int) -> str:
    for room, numbers in _constants().SCENE_TYPE.items():
        if scene in numbers:
            return str(room)
    raise ValueError(f"FloorPlan{scene} is not an ALFRED scene")


def _coords(object_id: str) -> tuple[float, float, float]:
    parts = object_id.split("|")
    return float(parts[1]), float(parts[2]), float(parts[3])


@functools.lru_cache(maxsize=256)
def load_scene(scene: int) -> Scene:
    """A FloorPlan's receptacles (with navigation points) and object classes, from the wheel."""
    c = _constants()
    _, _, layouts = alfworld_paths()
    try:
        points = json.loads((layouts / f"FloorPlan{scene}-openable.json").read_text())
        classes = json.loads((layouts / f"FloorPlan{scene}-objects.json").read_text())
    except FileNotFoundError:
        raise ValueError(f"the alfworld wheel has no layout for FloorPlan{scene}") from None
    static = set(c.RECEPTACLES) - set(c.MOVABLE_RECEPTACLES)
    receptacles: list[Receptacle] = []
    used: set[tuple[int, int, int, int]] = set()

    def place(loc: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        while loc in used:  # one location per receptacle, so "go to X" names one receptacle
            loc = (loc[0], loc[1], loc[2], loc[3] + 1)
        used.add(loc)
        return loc

    for rid in sorted(points):
        parts = rid.split("|")
        rtype = parts[4] if len(parts) > 4 else parts[0]
        if rtype not in static:
            continue
        x, z, rot, horizon = points[rid]
        loc = (round(x / _GRID), round(z / _GRID), int(rot) // 90 % 4, int(horizon))
        receptacles.append(Receptacle(rid, rtype, place(loc)))
    have = {r.type for r in receptacles}
    for k, rtype in enumerate(sorted(set(classes) & static - have)):
        # Listed in the scene but without a navigation point in the layout file: one instance.
        x, z = 0.5 * (k + 1), -0.5 * (k + 1)
        head = rtype[: -len("Basin")] if rtype.endswith("Basin") else rtype
        rid = f"{head}|{x:+06.2f}|+00.00|{z:+06.2f}" + (f"|{rtype}" if head != rtype else "")
        loc = (round(x / _GRID), round(z / _GRID), k % 4, 30)
        receptacles.append(Receptacle(rid, rtype, place(loc)))
    pickable = set().union(*c.VAL_RECEPTACLE_OBJECTS.values()) - static
    types = sorted(t for t in set(classes) if (t in pickable and not t.endswith("Sliced"))
                   or t in LAMPS)
    return Scene(scene, _room_of(scene), tuple(receptacles), tuple(types))


def _hosts(scene: Scene, obj: str) -> list[Receptacle]:
    """Receptacles of the scene that can hold `obj` (ALFRED's table; lamps: _LAMP_HOSTS)."""
    c = _constants()
    if obj in LAMPS:
        return [r for r in scene.receptacles if r.type in _LAMP_HOSTS[obj]]
    return [r for r in scene.receptacles if obj in c.VAL_RECEPTACLE_OBJECTS.get(r.type, ())]


def task_goals(task_type: str, scene: Scene) -> list[tuple[str, str, str]]:
    """Every (object, receptacle, lamp) goal ALFRED could pose for `task_type` in `scene`."""
    c = _constants()
    if scene.room not in _ROOMS[task_type]:
        return []
    objects = [t for t in scene.object_types if t not in LAMPS]
    goals: list[tuple[str, str, str]] = []
    if task_type == "Look":
        for lamp in LAMPS:
            if lamp in scene.object_types and _hosts(scene, lamp):
                goals += [(o, "", lamp) for o in objects if _hosts(scene, o)]
        return goals
    station = _STATION.get(task_type)
    if station and station[0] not in scene.receptacle_types:
        return []
    for obj in objects:
        if station and obj not in c.VAL_ACTION_OBJECTS[station[1]]:
            continue
        hosts = _hosts(scene, obj)
        for rtype in sorted({r.type for r in hosts}):
            if station and rtype == station[0]:
                continue
            if any(r.type != rtype for r in hosts):  # somewhere else to start from
                goals.append((obj, rtype, ""))
    return goals
