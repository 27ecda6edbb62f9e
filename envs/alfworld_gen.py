"""GENERATED ALFWorld-format games, made offline — NOT the official ALFWorld task set.

The official ALFWorld games (`json_2.1.1`, from `alfworld-download`) cannot be fetched here, so
this module writes games in the same format from what the `alfworld` wheel ships:

- `pddl_domain`: the wheel's `alfred.pddl` (`alfworld.info.ALFRED_PDDL_PATH`), unchanged;
- `grammar`: the wheel's `alfred.twl2` with the task sentence put in by alfworld's own
  `add_task_to_grammar` (its templates, e.g. "put some apple on fridge");
- `pddl_problem`: built here from the wheel's FloorPlan receptacle lists and navigation points
  (`alfworld/gen/layouts/FloorPlan<N>-openable.json`), the scene's object classes
  (`FloorPlan<N>-objects.json`), ALFRED's tables in `alfworld/gen/constants.py` (which receptacle
  can hold which object, which objects can be cleaned / heated / cooled / sliced, which
  receptacles open) and the goal templates of `alfworld/gen/goal_library.py`;
- `solvable` and `walkthrough`: from textworld's planner (fast-downward `policy_commands`), the
  walkthrough replayed to a win before the file is written. PickTwo is planned in two halves
  (first object in, then the second: see `subgoal_problems`), because the replanner needs
  minutes for its ~10-step plans and about a second for each half.

What we had to choose (ALFRED places objects with the THOR simulator, which we do not have):
every pickable object class of the scene gets one instance (two with probability 0.2), the
task's target class 1–3 (PickTwo: 2–3); each instance goes into a receptacle of the scene that
ALFRED says can hold it, never into one of the goal's receptacle class (so no goal holds at the
start); desk and floor lamps stand on furniture (desk, side table, dresser, …) so that the
goal's "lamp in a receptacle at the agent's location" can hold; receptacle classes the scene
lists but that have no navigation point in the layout file (coffee machine, stove burner, …) get
one instance at a made-up location; the agent starts at a location of its own ("in the middle of
a room"). Object coordinates are made up (they only fix the instance numbering). Games are a
pure function of the task (type, scene, object, receptacle, lamp) and its seed: the same seed
gives a byte-identical `game.tw-pddl` (same sha256).

The task splits are data (`envs/suites/alfworldgen-<type>-v0.toml`), written once by
`python -m priorbench.envs.alfworld_gen splits`: train tasks come from ALFRED's training scenes, test tasks
from ALFRED's held-out scenes (`constants.TEST_SCENE_NUMBERS`), and no (object, receptacle)
goal of the test split occurs in the train split — test tasks are unseen scenes *and* unseen
goals. Pick & Place has the paper's sizes: 28 train tasks, 26 test tasks.

Importing this module imports neither alfworld nor textworld; the functions that need them do.
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priorbench.core.errors import UserError
from priorbench.core.paths import cache_root, staging_folder, temporary_env

#: Bump when the games a task produces, or the cache layout, change (it is in the cache path and
#: in the split files; the env ids' version suffix must be bumped with it).
GENERATOR_VERSION = 0
#: The label every generated env, description and run manifest carries.
LABEL = (
    "GENERATED ALFWorld-format games (priorbench's offline generator), NOT the official ALFWorld "
    "task set: do not compare these numbers with published ALFWorld results"
)
#: priorbench's task-type names → ALFWorld's (`traj_data["task_type"]`, goal_library keys).
TASK_TYPES: dict[str, str] = {
    "Pick": "pick_and_place_simple",
    "Look": "look_at_obj_in_light",
    "Clean": "pick_clean_then_place_in_recep",
    "Heat": "pick_heat_then_place_in_recep",
    "Cool": "pick_cool_then_place_in_recep",
    "PickTwo": "pick_two_obj_and_place",
}
#: ALFWorld's numeric task-type ids (AlfredTWEnv's `env.task_types` config).
TASK_TYPE_IDS: dict[str, int] = {
    "Pick": 1, "Look": 2, "Clean": 3, "Heat": 4, "Cool": 5, "PickTwo": 6,
}
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
DEFAULT_SPLIT_SIZES = (28, 26)
TEST_SEED_OFFSET = 1000
SUITES_DIR = Path(__file__).resolve().parent / "suites"
_GRID = 0.25  # ALFRED's navigation grid (metres per step), as in its `loc|x|z|rot|horizon` names


# --- alfworld, imported without its side effects -----------------------------------------------
@contextmanager
def _quiet_alfworld_import() -> Iterator[None]:
    """`import alfworld` creates ALFWORLD_DATA (default ~/.cache/alfworld) and sets the env var
    when it is unset; point it at an existing folder for the import and put the variable back."""
    with temporary_env("ALFWORLD_DATA", tempfile.gettempdir()):
        yield


def require_alfworld() -> None:
    """Import alfworld (side-effect free) or raise a UserError that says how to install it."""
    try:
        with _quiet_alfworld_import():
            import alfworld.info  # noqa: F401
            import textworld  # noqa: F401
            from textworld.envs.pddl import pddl  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"the ALFWorld envs need alfworld and textworld[pddl] ({exc}). Install them with "
            "`pip install -e \".[alfworld]\" && pip install --no-deps alfworld==0.4.2` "
            "(never alfworld[full]: its visdom dependency does not build)."
        ) from None
    try:
        import fast_downward  # noqa: F401
    except ImportError:
        raise UserError(
            "the ALFWorld envs need fast-downward: `pip install \"textworld[pddl]==1.7.0\"` "
            "(it compiles the planner from source, ~90 s)."
        ) from None


def alfworld_paths() -> tuple[Path, Path, Path]:
    """(alfred.pddl, alfred.twl2, gen/layouts) shipped by the alfworld wheel."""
    require_alfworld()
    import alfworld.gen
    import alfworld.info

    layouts = Path(alfworld.gen.__file__).resolve().parent / "layouts"
    return Path(alfworld.info.ALFRED_PDDL_PATH), Path(alfworld.info.ALFRED_TWL2_PATH), layouts


def _constants() -> Any:
    require_alfworld()
    import alfworld.gen.constants as constants

    return constants


def default_cache_dir() -> Path:
    """`$PRIORBENCH_CACHE/alfworld`, else `~/.cache/priorbench/alfworld`."""
    return cache_root() / "alfworld"


# --- textworld speed-ups ------------------------------------------------------------------
#: Translations kept by the memo below (two per game: one to play, one for textworld's replanner;
#: 0.5–2 MB each; 128 covers the train and test splits of one task type).
TRANSLATION_MEMO_SIZE = 128


def speed_up_textworld() -> None:
    """Memoise two pure, slow functions of textworld 1.7's PDDL engine, in this process.

    - `fast_downward.pddl2sas(domain, problem, ...)`: every reset of a PDDL game translates the
      problem twice (~0.3–1.5 s each); the result only depends on the two texts, so a game
      already played resets ~10× faster.
    - `textworld.envs.pddl.textgen._parse_and_convert(text, ...)`: every step parses the
      grammar templates of every admissible command with TatSu again; we parse each text once
      and hand out deep copies (the caller mutates what it gets): ~2× the step rate.
    Same outputs, byte for byte (the tests compare episodes). Skipped where the functions are
    not there (another textworld version).
    """
    import fast_downward
    import textworld.envs.pddl.textgen as textgen

    if callable(getattr(fast_downward, "pddl2sas", None)) and not hasattr(
            fast_downward.pddl2sas, "priorbench_memo"):
        translate = fast_downward.pddl2sas

        @functools.lru_cache(maxsize=TRANSLATION_MEMO_SIZE)
        def _translation(domain: str, problem: str, verbose: bool, optimize: bool) -> Any:
            return translate(domain, problem, verbose=verbose, optimize=optimize)

        def pddl2sas(domain: str, problem: str, verbose: bool = False,
                     optimize: bool = False) -> Any:
            return _translation(domain, problem, bool(verbose), bool(optimize))

        pddl2sas.priorbench_memo = True  # type: ignore[attr-defined]
        fast_downward.pddl2sas = pddl2sas
    if callable(getattr(textgen, "_parse_and_convert", None)) and not hasattr(
            textgen._parse_and_convert, "priorbench_memo"):
        parse = textgen._parse_and_convert

        @functools.lru_cache(maxsize=8192)
        def _parsed(text: str, rule_name: str, trace: bool) -> Any:
            return parse(text, rule_name=rule_name, trace=trace)

        def parse_and_convert(text: str, rule_name: str = "symbols", trace: bool = False) -> Any:
            return copy.deepcopy(_parsed(text, rule_name, bool(trace)))

        parse_and_convert.priorbench_memo = True  # type: ignore[attr-defined]
        textgen._parse_and_convert = parse_and_convert


# --- tasks ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GenTask:
    """One generated task: the goal (ALFRED's pddl_params), the scene and the generator seed."""

    task_type: str  # priorbench name, a key of TASK_TYPES
    scene: int  # ALFRED FloorPlan number
    object: str  # ALFRED object class, e.g. "Apple"
    receptacle: str  # goal receptacle class ("" for Look)
    toggle: str  # lamp class for Look ("" otherwise)
    seed: int

    @property
    def alfworld_type(self) -> str:
        return TASK_TYPES[self.task_type]

    @property
    def folder(self) -> str:
        """ALFWorld's task-folder naming: <type>-<object>-<mrecep>-<parent or lamp>-<scene>."""
        parent = self.receptacle or self.toggle or "None"
        return f"{self.alfworld_type}-{self.object}-None-{parent}-{self.scene}"

    @property
    def trial(self) -> str:
        return f"trial_gen{GENERATOR_VERSION}_seed{self.seed}"

    @property
    def task_id(self) -> str:
        return f"{self.folder}/{self.trial}"

    def traj_data(self) -> dict[str, Any]:
        """The parts of ALFRED's traj_data.json that alfworld's text env and grammar read."""
        return {
            "task_type": self.alfworld_type,
            "pddl_params": {
                "object_target": self.object,
                "parent_target": self.receptacle,
                "toggle_target": self.toggle,
                "mrecep_target": "",
                "object_sliced": False,
            },
            "scene": {"floor_plan": f"FloorPlan{self.scene}", "scene_num": self.scene},
            "task_id": self.task_id,
            "priorbench": {"generated": True, "label": LABEL, "seed": self.seed,
                           "generator_version": GENERATOR_VERSION},
        }


# --- scenes ---------------------------------------------------------------------------------
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


# --- problem file ---------------------------------------------------------------------------
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
    saved = random.getstate()
    try:
        random.seed(_task_rng(task).getrandbits(64))
        return add_task_to_grammar(twl2.read_text(), task.traj_data())
    finally:
        random.setstate(saved)


# --- the planner ----------------------------------------------------------------------------
class _Solver:
    """textworld's PDDL env (one per process: each one loads a copy of fast-downward)."""

    def __init__(self) -> None:
        require_alfworld()
        import textworld
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
        from textworld.envs import PddlEnv

        speed_up_textworld()
        self.infos = textworld.EnvInfos(admissible_commands=True, won=True,
                                        policy_commands=True)
        self.env = AlfredDemangler(PddlEnv(self.infos), shuffle=False)

    def _play(self, game_file: Path, plan: Sequence[str]) -> Any:
        """Load a game, replay `plan`, and return the state it ends in (None if a command of
        the plan is not admissible on the way); the planner runs on that last state."""
        self.env.load(str(game_file))
        self.infos.policy_commands = not plan
        state = self.env.reset()
        for k, command in enumerate(plan):
            if command not in state["admissible_commands"]:
                self.infos.policy_commands = False
                return None
            self.infos.policy_commands = k == len(plan) - 1
            state, _, _ = self.env.step(command)
        self.infos.policy_commands = False
        return state

    def solve(self, game_file: Path, stages: Sequence[Path] = ()) -> list[str] | None:
        """The planner's plan, replayed to a win on `game_file`; None if there is none.

        `stages`: games with the same start and easier goals (sub-goals), planned one after the
        other from where the previous plan ends, before the game's own goal.
        """
        plan: list[str] = []
        for goal_file in [*stages, game_file]:
            state = self._play(goal_file, plan)
            if state is None:
                return None
            if state["won"]:
                continue
            more = list(state["policy_commands"] or [])
            if not more:
                return None
            plan += more
        if not plan:
            return None
        state = self._play(game_file, plan[:-1])
        if state is None or plan[-1] not in state["admissible_commands"]:
            return None
        state, _, _ = self.env.step(plan[-1])
        return plan if state["won"] else None


_SOLVER: _Solver | None = None


def solve(game_file: Path, stages: Sequence[Path] = ()) -> list[str] | None:
    global _SOLVER
    if _SOLVER is None:
        _SOLVER = _Solver()
    return _SOLVER.solve(game_file, stages)


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


def _dump(game: dict[str, Any]) -> str:
    return json.dumps(game)


def game_path(task: GenTask, cache_dir: Path) -> Path:
    return cache_dir / f"gen-v{GENERATOR_VERSION}" / task.folder / task.trial / "game.tw-pddl"


def read_game(path: Path) -> dict[str, Any]:
    """A game.tw-pddl's JSON, checked; a UserError naming the file and the fix otherwise."""
    fix = ("Delete it and priorbench generates it again" if "gen-v" in str(path)
           else "Copy it again from the ALFWorld data (alfworld-download)")
    try:
        game = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"ALFWorld game file {str(path)!r} does not exist. {fix}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(
            f"ALFWorld game file {str(path)!r} is corrupt ({type(exc).__name__}: {exc}). {fix}."
        ) from None
    keys = ("pddl_domain", "grammar", "pddl_problem")
    if not isinstance(game, dict) or any(not isinstance(game.get(k), str) for k in keys):
        raise UserError(
            f"ALFWorld game file {str(path)!r} is corrupt: it lacks {list(keys)}. {fix}."
        )
    walkthrough = game.get("walkthrough")
    if walkthrough is not None and (not isinstance(walkthrough, list)
                                    or not all(isinstance(c, str) for c in walkthrough)):
        raise UserError(f"ALFWorld game file {str(path)!r} has a corrupt walkthrough. {fix}.")
    return game


def ensure_game(task: GenTask, cache_dir: Path) -> Path:
    """The task's game.tw-pddl (+ traj_data.json) in the cache, generated on first use.

    Written to a private temporary folder and moved into place (traj_data.json first), so
    concurrent processes and interrupted runs never see half a game.
    """
    path = game_path(task, cache_dir)
    if path.is_file():
        cached = read_game(path)
        if cached.get("solvable") is not True or not cached.get("walkthrough"):
            raise UserError(
                f"generated ALFWorld game {str(path)!r} has no solution recorded. Delete it and "
                "priorbench generates it again."
            )
        return path
    pddl, _, _ = alfworld_paths()
    game: dict[str, Any] = {
        "pddl_domain": pddl.read_text(),
        "grammar": build_grammar(task),
        "pddl_problem": build_problem(task),
        "solvable": None,
        "walkthrough": None,
    }
    with staging_folder(path.parent) as work:
        draft = work / "game.tw-pddl"
        draft.write_text(_dump(game))
        (work / "traj_data.json").write_text(json.dumps(task.traj_data(), indent=2))
        stages = []
        for k, problem in enumerate(subgoal_problems(task, game["pddl_problem"])):
            stage = work / f"subgoal-{k}.tw-pddl"
            stage.write_text(_dump({**game, "pddl_problem": problem}))
            stages.append(stage)
        plan = solve(draft, stages)
        if plan is None:
            raise RuntimeError(f"generated game {task.task_id} has no plan (a generator bug)")
        game["solvable"], game["walkthrough"] = True, plan
        draft.write_text(_dump(game))
        os.replace(work / "traj_data.json", path.parent / "traj_data.json")
        os.replace(draft, path)
    return path


# --- splits as data -------------------------------------------------------------------------
def suite_path(task_type: str) -> Path:
    return SUITES_DIR / f"alfworldgen-{task_type.lower()}-v{GENERATOR_VERSION}.toml"


def _scenes(task_type: str, numbers: Sequence[int]) -> list[int]:
    _, _, layouts = alfworld_paths()
    return [n for n in numbers if (layouts / f"FloorPlan{n}-openable.json").is_file()
            and task_goals(task_type, load_scene(n))]


def propose_split(task_type: str, n_train: int, n_test: int, seed: int = 0,
                  verify: bool = True) -> tuple[list[GenTask], list[GenTask]]:
    """Draw a train and a test split: ALFRED's train scenes vs its held-out scenes, and no
    (object, receptacle) goal shared between the splits; with `verify`, only tasks whose game
    the planner solves (generated in a throw-away cache)."""
    c = _constants()
    rng = random.Random(f"{task_type}-{seed}")
    scratch = Path(tempfile.mkdtemp(prefix="alfworldgen-split-"))
    try:
        splits: list[list[GenTask]] = []
        taken: set[tuple[str, str, str]] = set()
        for numbers, n, offset in ((c.TRAIN_SCENE_NUMBERS, n_train, 0),
                                   (c.TEST_SCENE_NUMBERS, n_test, TEST_SEED_OFFSET)):
            scenes = _scenes(task_type, numbers)
            rng.shuffle(scenes)
            pool = {s: task_goals(task_type, load_scene(s)) for s in scenes}
            chosen: list[GenTask] = []
            mine: set[tuple[str, str, str]] = set()  # goals this split has
            tried: set[tuple[int, tuple[str, str, str]]] = set()  # (scene, goal) drawn
            k = 0
            while len(chosen) < n:
                if not any(g not in taken and (s, g) not in tried for s in scenes
                           for g in pool[s]):
                    raise ValueError(f"{task_type}: not enough distinct tasks for {n} tasks")
                scene = scenes[k % len(scenes)]
                k += 1
                fresh = [g for g in pool[scene] if g not in taken and (scene, g) not in tried]
                if not fresh:
                    continue
                # a goal new to this split if the scene has one (variety), else a repeat
                novel = [g for g in fresh if g not in mine]
                options = novel or fresh
                goal = options[rng.randrange(len(options))]
                tried.add((scene, goal))
                task = GenTask(task_type, scene, goal[0], goal[1], goal[2], offset + len(chosen))
                mine.add(goal)
                if verify:
                    try:
                        ensure_game(task, scratch)
                    except RuntimeError:
                        continue
                chosen.append(task)
            taken |= mine
            splits.append(chosen)
        return splits[0], splits[1]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid TOML basic string here


def write_split(path: Path, task_type: str, train: Sequence[GenTask],
                test: Sequence[GenTask]) -> None:
    lines = [
        f"# {LABEL}.",
        "# Written by `python -m priorbench.envs.alfworld_gen splits`; read by envs/alfworld_env.py",
        f"# (priorbench/ALFWorldGen-{task_type}-v{GENERATOR_VERSION}). Train tasks: ALFRED training",
        "# scenes; test tasks: ALFRED held-out scenes (constants.TEST_SCENE_NUMBERS) and goals",
        "# ((object, receptacle) pairs) that no train task has. Each task is generated from its",
        "# seed: same seed, same game file (sha256).",
        'kind = "split"  # task lists of one env family (not a suite: see envs/suite.py)',
        f"label = {_toml_str(LABEL)}",
        "generated = true",
        "official = false",
        f"task_type = {_toml_str(task_type)}",
        f"alfworld_task_type = {_toml_str(TASK_TYPES[task_type])}",
        f"generator_version = {GENERATOR_VERSION}",
        "",
    ]
    for split, tasks in (("train", train), ("test", test)):
        for t in tasks:
            lines += [
                f"[[{split}]]",
                f"id = {_toml_str(t.task_id)}",
                f"seed = {t.seed}",
                f"scene = {t.scene}",
                f"object = {_toml_str(t.object)}",
                f"receptacle = {_toml_str(t.receptacle)}",
                f"toggle = {_toml_str(t.toggle)}",
                "",
            ]
    path.write_text("\n".join(lines))


def load_split(task_type: str, split: str, path: Path | None = None) -> list[GenTask]:
    """The tasks of one split ("train" or "test") from the suite file."""
    path = path or suite_path(task_type)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(
            f"the ALFWorldGen split file {str(path)!r} is missing; restore it from git "
            "(or write it with `python -m priorbench.envs.alfworld_gen splits`)."
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"the ALFWorldGen split file {str(path)!r} is corrupt: {exc}") from None
    try:
        if data["task_type"] != task_type or data["generator_version"] != GENERATOR_VERSION:
            raise ValueError(f"it is for {data['task_type']} v{data['generator_version']}")
        tasks = [GenTask(task_type, int(t["scene"]), str(t["object"]), str(t["receptacle"]),
                         str(t["toggle"]), int(t["seed"])) for t in data[split]]
        for t, row in zip(tasks, data[split], strict=True):
            if row["id"] != t.task_id:
                raise ValueError(f"task id {row['id']!r} does not match its fields")
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"the ALFWorldGen split file {str(path)!r} is malformed: {exc}") from None
    return tasks


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m priorbench.envs.alfworld_gen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("splits", help="write envs/suites/alfworldgen-<type>-v*.toml")
    sp.add_argument("--types", nargs="*", default=list(TASK_TYPES), choices=list(TASK_TYPES))
    sp.add_argument("--train", type=int, default=DEFAULT_SPLIT_SIZES[0])
    sp.add_argument("--test", type=int, default=DEFAULT_SPLIT_SIZES[1])
    gp = sub.add_parser("generate", help="generate (and cache) the games of a split")
    gp.add_argument("--types", nargs="*", default=list(TASK_TYPES), choices=list(TASK_TYPES))
    gp.add_argument("--splits", nargs="*", default=["train", "test"], choices=["train", "test"])
    gp.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "splits":
        for task_type in args.types:
            train, test = propose_split(task_type, args.train, args.test)
            write_split(suite_path(task_type), task_type, train, test)
            print(f"{suite_path(task_type)}: {len(train)} train, {len(test)} test tasks")
    else:
        cache = args.cache_dir or default_cache_dir()
        for task_type in args.types:
            for split in args.splits:
                for task in load_split(task_type, split):
                    print(ensure_game(task, cache))


if __name__ == "__main__":
    main()
