"""A generated task's PDDL problem and grammar, and the sub-goal problems the planner solves first.

See docs/envs/alfworld.md ("How generated games are built"). alfworld is imported on first use.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from priorbench.core.seeding import fixed_python_rng
from priorbench.envs.alfworld.install import _constants, alfworld_paths, require_alfworld
from priorbench.envs.alfworld.scenes import (
    LAMPS,
    Receptacle,
    _coords,
    _hosts,
    load_scene,
    task_goals,
)
from priorbench.envs.alfworld.tasks import GENERATOR_VERSION, GenTask


def mangle(name: str) -> str:
    """ALFRED's PDDL-safe names (PlannedGameState.fix_pddl_str_chars)."""
    for old, new in (("-", "_minus_"), ("|", "_bar_"), ("+", "_plus_"), (".", "_dot_"),
                     (",", "_comma_")):
        name = name.replace(old, new)
    return name


def _loc_name(loc: tuple[int, int, int, int]) -> str:
    return mangle("loc|{}|{}|{}|{}".format(*loc))


def _task_rng(task: GenTask) -> random.Random:
    key = json.dumps([GENERATOR_VERSION, task.task_type, task.scene, task.object,
                      task.receptacle, task.toggle, task.seed])
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def build_problem(task: GenTask) -> str:
    """The PDDL problem of a task (deterministic in the task and its seed)."""
    c = _constants()
    import alfworld.gen.goal_library as glib

    scene = load_scene(task.scene)
    if (task.object, task.receptacle, task.toggle) not in task_goals(task.task_type, scene):
        raise ValueError(f"{task.task_id}: ALFRED cannot pose this goal in FloorPlan{task.scene}")
    rng = _task_rng(task)
    objects: list[tuple[str, str, Receptacle]] = []  # (id, class, receptacle)
    ids: set[str] = set()
    for otype in scene.object_types:
        if otype in LAMPS:
            count = 1
        elif otype == task.object:
            count = rng.randint(2, 3) if task.task_type == "PickTwo" else rng.randint(1, 3)
        else:
            count = 2 if rng.random() < 0.2 else 1
        hosts = [r for r in _hosts(scene, otype)
                 if not (otype == task.object and r.type == task.receptacle)]
        if not hosts:
            continue
        for _ in range(count):
            host = hosts[rng.randrange(len(hosts))]
            x, y, z = _coords(host.id)
            while True:
                ox = x + rng.uniform(-0.4, 0.4)
                oy = y + rng.uniform(0.0, 0.3)
                oz = z + rng.uniform(-0.4, 0.4)
                oid = f"{otype}|{ox:+06.2f}|{oy:+06.2f}|{oz:+06.2f}"
                if oid not in ids:
                    break
            ids.add(oid)
            objects.append((oid, otype, host))
    objects.sort(key=lambda o: o[0])

    used = {r.loc for r in scene.receptacles}
    xs = [r.loc[0] for r in scene.receptacles]
    zs = [r.loc[1] for r in scene.receptacles]
    start = (round(sum(xs) / len(xs)), round(sum(zs) / len(zs)), rng.randrange(4), 30)
    while start in used:
        start = (start[0] + 1, start[1], start[2], start[3])

    rtypes = sorted(set(c.RECEPTACLES) - set(c.MOVABLE_RECEPTACLES))
    otypes = sorted(set(c.OBJECTS_SET) - set(rtypes))
    decl = ["agent1 - agent"]
    decl += [f"{t}Type - otype" for t in otypes] + [f"{t}Type - rtype" for t in rtypes]
    decl += [f"{mangle(o[0])} - object" for o in objects]
    decl += [f"{mangle(r.id)} - receptacle" for r in scene.receptacles]
    decl += [f"{_loc_name(loc)} - location" for loc in sorted(used | {start})]

    init = [f"(atLocation agent1 {_loc_name(start)})"]
    for r in scene.receptacles:
        name = mangle(r.id)
        init += [f"(receptacleType {name} {r.type}Type)",
                 f"(receptacleAtLocation {name} {_loc_name(r.loc)})"]
        if r.type in c.OPENABLE_CLASS_SET:
            init.append(f"(openable {name})")
    properties = (("Cleanable", "cleanable"), ("Heatable", "heatable"), ("Coolable", "coolable"),
                  ("Sliceable", "sliceable"))
    for oid, otype, host in objects:
        name = mangle(oid)
        init += [f"(objectType {name} {otype}Type)",
                 f"(objectAtLocation {name} {_loc_name(host.loc)})",
                 f"(inReceptacle {name} {mangle(host.id)})"]
        if otype in LAMPS:
            init.append(f"(toggleable {name})")
            continue
        init.append(f"(pickupable {name})")
        init += [f"({pred} {name})" for key, pred in properties
                 if otype in c.VAL_ACTION_OBJECTS[key]]
        if otype in c.MOVABLE_RECEPTACLES_SET:
            init.append(f"(isReceptacleObject {name})")
    present = sorted({o[1] for o in objects})
    for rtype in sorted(scene.receptacle_types):
        init += [f"(canContain {rtype}Type {otype}Type)" for otype in present
                 if otype in c.VAL_RECEPTACLE_OBJECTS.get(rtype, ())]

    goal = glib.gdict[task.alfworld_type]["pddl"].format(
        obj=task.object, recep=task.receptacle, toggle=task.toggle, mrecep="")
    goal = goal.replace("#", "-")  # the goal library writes PDDL's type dash as '#'
    pad = "\n        "
    return (
        f"\n(define (problem plan_{mangle(task.folder)}_{task.seed})\n    (:domain alfred)\n"
        f"    (:objects{pad}{pad.join(decl)}\n        )\n"
        f"    (:init{pad}{pad.join(init)}\n        )\n{goal}"
    )


def build_grammar(task: GenTask) -> str:
    """The wheel's alfred.twl2 with the task sentence, by alfworld's own add_task_to_grammar."""
    require_alfworld()
    from alfworld.agents.utils.misc import add_task_to_grammar

    _, twl2, _ = alfworld_paths()
    # add_task_to_grammar picks the template with the global `random`: seed it, then restore it.
    with fixed_python_rng(_task_rng(task).getrandbits(64)):
        return add_task_to_grammar(twl2.read_text(), task.traj_data())


def subgoal_problems(task: GenTask, problem: str) -> list[str]:
    """Easier problems the planner solves first (PickTwo), the same start with a goal on named
    objects: the first target object in the first goal receptacle, then the first two.

    fast-downward's replanner needs 25 s to several minutes for a whole PickTwo plan (~10
    steps) but ~1 s for each half; the walkthrough is then checked on the game's own goal.
    """
    if task.task_type != "PickTwo":
        return []
    objects = sorted(set(re.findall(rf"\(objectType ([^?\s]\S*) {task.object}Type\)", problem)))
    receptacles = sorted(set(re.findall(rf"\(receptacleType ([^?\s]\S*) {task.receptacle}Type\)",
                                        problem)))
    if len(objects) < 2 or not receptacles:
        return []
    head = problem[:problem.index("(:goal")]
    into = [f"(inReceptacle {o} {receptacles[0]})" for o in objects[:2]]
    return [f"{head}(:goal (and {' '.join(into[:k])}))\n)\n" for k in (1, 2)]
