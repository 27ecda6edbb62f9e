"""ALFWorld text games as TextEnvs: the official games (real data), or GENERATED offline games.

Two families, six task types each (priorbench name → ALFWorld's): Pick → pick_and_place_simple,
Look → look_at_obj_in_light, Clean → pick_clean_then_place_in_recep, Heat →
pick_heat_then_place_in_recep, Cool → pick_cool_then_place_in_recep, PickTwo →
pick_two_obj_and_place.

- `priorbench/ALFWorld-<TaskType>-v0` — the **official** ALFWorld games. Needs the `json_2.1.1`
  data in `$ALFWORLD_DATA` (run `alfworld-download` on a machine with internet, copy the folder,
  set ALFWORLD_DATA). Splits: "train", "valid_seen", "valid_unseen" ("test" = valid_unseen, the
  unseen scenes). The games are collected by alfworld's own `AlfredTWEnv` (its filters: solvable
  games of the task type, no movable-receptacle or sliced tasks), sorted by path.
- `priorbench/ALFWorldGen-<TaskType>-v0` — **GENERATED** ALFWorld-format games (envs/alfworld_gen.py),
  NOT the official task set: never compare their numbers with published ALFWorld results. The
  splits are data (`envs/suites/alfworldgen-<type>-v0.toml`); Pick & Place has the paper's 28
  train / 26 unseen test tasks (test: other scenes and other (object, receptacle) goals). Games
  are generated once and cached (`$PRIORBENCH_CACHE/alfworld`, else `~/.cache/priorbench/alfworld`,
  or the `cache_dir` kwarg) when the env is built, never during reset or step; every game's
  sha256 goes into `provenance()` and so into every run manifest.

Engine: both families play through the wrapper stack `textworld.gym` builds for ALFWorld —
textworld's `GenericEnvironment` (PDDL backend) → alfworld's `AlfredDemangler` →
`AlfredInfos` → textworld's `Filter` — and give exactly the text `textworld.gym` gives (a test
compares them). Three things make it faster than `textworld.gym`, which matters because
textworld re-translates the PDDL problem on every reset and re-parses every command's grammar
template on every step: we keep up to `max_open` started games (textworld.gym loads the file
again on every reset), and `alfworld_gen.speed_up_textworld()` memoises fast-downward's
translation and textworld's template parser (pure functions; same outputs). Figures are in
the README (Environments).

Rewards: 1 when the goal holds (the episode then terminates), else 0; `lost` is always False;
truncated at `max_steps`. A command that is not admissible goes to the game anyway and gets the
game's own answer ("Nothing happens."), with `info["invalid_action"] = True`.

`info["expert_action"]` (with `expert=True`, the default): the game file's walkthrough (the
planner's plan; for official games, alfworld's hand-coded expert's trajectory) while the agent
follows it — commands that do not change the state (look, inventory, examine, help, and
non-admissible ones) keep it valid. After the agent leaves it, a goal-directed expert that reads
the game's state (`facts`) gives the next command: take a goal object (the nearest one, opening
its receptacle if needed), clean/heat/cool it at the sink/microwave/fridge, put it into a goal
receptacle (for PickTwo: the one already holding one), or hold it under the lamp and turn the
lamp on. It costs no planner call (fast-downward's replanning takes 1–30 s on these games).
`expert=False` requests no facts (~7% faster steps).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from priorbench.core.errors import UserError
from priorbench.envs import alfworld_gen as gen
from priorbench.envs.base import StartedGames, TextEnv, text_space

#: Verbs whose commands never change the game state (they only mark things "checked").
PASSIVE_VERBS = frozenset({"look", "inventory", "examine", "help"})
MAX_COMMAND_CHARS = 200
OFFICIAL_SPLITS = {"train": "train", "valid_seen": "valid_seen", "valid_unseen": "valid_unseen",
                   "test": "valid_unseen"}
_TASK_MARK = "Your task is to: "


def normalize_command(action: str) -> str:
    """One line, single-spaced, lower case (ALFWorld's commands are all lower case)."""
    text = "".join(ch if " " <= ch <= "~" else " " for ch in action)
    return " ".join(text.split())[:MAX_COMMAND_CHARS].lower()


def task_sentence(intro: str) -> str:
    """The goal in words, from the game's opening text ("put some apple on fridge.")."""
    at = intro.rfind(_TASK_MARK)
    return intro[at + len(_TASK_MARK):].strip() if at >= 0 else ""


def _check_settings(task_type: str, n_tasks: int | None) -> None:
    """The settings both ALFWorld families share: a known task type, a positive task count."""
    if task_type not in gen.TASK_TYPES:
        raise UserError(f"unknown ALFWorld task type {task_type!r}; choose from "
                        f"{sorted(gen.TASK_TYPES)}")
    if n_tasks is not None and n_tasks <= 0:
        raise ValueError(f"n_tasks must be positive or None, got {n_tasks}")


# --- the goal-directed expert -------------------------------------------------------------------
@dataclass(frozen=True)
class Goal:
    """A task's goal in ALFRED's terms (pddl_params), lower case like the game's names."""

    task_type: str  # priorbench name: Pick, Look, Clean, Heat, Cool, PickTwo
    object: str
    receptacle: str = ""
    toggle: str = ""

    @classmethod
    def from_traj_data(cls, traj: dict[str, Any]) -> Goal:
        names = {v: k for k, v in gen.TASK_TYPES.items()}
        params = traj["pddl_params"]
        return cls(names[traj["task_type"]], str(params["object_target"]).lower(),
                   str(params.get("parent_target") or "").lower(),
                   str(params.get("toggle_target") or "").lower())


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


# --- the engine: started games, the wrapper stack textworld.gym builds ---------------------------
class _Engine:
    """Plays ALFWorld game files in this process; keeps up to `max_open` started games."""

    def __init__(self, facts: bool, max_open: int) -> None:
        gen.require_alfworld()
        import textworld

        gen.speed_up_textworld()

        self.infos = textworld.EnvInfos(admissible_commands=True, won=True, score=True,
                                        facts=facts, extras=["gamefile"])
        self._games: StartedGames[Any] = StartedGames(self._start, max_open)
        self._current: Any = None

    def _start(self, path: str) -> Any:
        with gen._quiet_alfworld_import():
            from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
        from textworld.envs.wrappers import Filter, GenericEnvironment

        env: Any = GenericEnvironment(self.infos)
        for wrapper in (AlfredDemangler(shuffle=False), AlfredInfos, Filter):
            env = wrapper(env)
        try:
            env.load(path)
        except (Exception, SystemExit) as exc:  # fast-downward's translator exits on bad PDDL
            raise UserError(
                f"ALFWorld game file {path!r} cannot be played ({type(exc).__name__}: {exc}). "
                "It is corrupt: copy it again (official data) or delete it (a generated game "
                "is then generated again)."
            ) from None
        return env

    def reset(self, path: str) -> tuple[str, dict[str, Any]]:
        game = self._current = self._games.get(path)
        obs, state = game.reset()
        return obs, state

    def step(self, command: str) -> tuple[str, dict[str, Any]]:
        obs, _, _, state = self._current.step(command)
        return obs, state

    def close(self) -> None:
        self._games.close()
        self._current = None


# --- the envs -----------------------------------------------------------------------------------
class _ALFWorldBase(TextEnv):
    """What both families share: a list of game files (the split), reset/step, the expert."""

    expert_always_wins: ClassVar[bool] = True

    def _setup(self, task_ids: Sequence[str], paths: Sequence[Path], goals: Sequence[Goal],
               split: str, max_steps: int, expert: bool, max_open: int) -> None:
        if max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        if max_open <= 0:
            raise ValueError(f"max_open must be positive, got {max_open}")
        self.split = split
        self.max_steps = max_steps
        self.expert = expert
        self.max_open = max_open
        self.tasks = tuple(task_ids)
        self._paths = [str(Path(p).resolve()) for p in paths]
        self._goals = list(goals)
        self._walkthroughs: list[list[str]] = []
        self._sha256: dict[str, str] = {}
        for task_id, path in zip(self.tasks, paths, strict=True):
            game = gen.read_game(Path(path))
            self._walkthroughs.append(list(game.get("walkthrough") or []))
            self._sha256[task_id] = gen.sha256_file(Path(path))
        self.observation_space = text_space()
        self.action_space = text_space(MAX_COMMAND_CHARS)
        self._engine: _Engine | None = None
        self._task = 0
        self._state: dict[str, Any] = {}
        self._plan: list[str] | None = None
        self._goal_text = ""
        self._score = 0.0
        self._steps = 0
        self._done = True

    def _engine_now(self) -> _Engine:
        if self._engine is None:
            self._engine = _Engine(facts=self.expert, max_open=self.max_open)
        return self._engine

    # --- infos ----------------------------------------------------------------------------------
    def _expert_action(self, state: dict[str, Any], admissible: list[str]) -> str | None:
        if self._plan:
            if self._plan[0] in admissible:
                return self._plan[0]
            self._plan = None  # the walkthrough no longer fits this state
        action = expert_command(self._goals[self._task], state.get("facts") or [])
        return action if action in admissible else None

    def _info(self, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
        won = bool(state.get("won"))
        admissible = [] if won else list(state.get("admissible_commands") or [])
        info = self._base_info(self._task, admissible=admissible,
                               task=self._goal_text or "Solve the household task.", won=won,
                               lost=False, score=1.0 if won else 0.0, max_score=1.0)
        if self.expert and not won:
            action = self._expert_action(state, admissible)
            if action is not None:
                info["expert_action"] = action
        info.update(extra)
        return info

    # --- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        obs, state = self._engine_now().reset(self._paths[self._task])
        self._state = state
        self._goal_text = task_sentence(obs)
        self._plan = list(self._walkthroughs[self._task]) if self.expert else None
        self._score = 1.0 if state.get("won") else 0.0
        self._steps = 0
        self._done = False
        return obs, self._info(state)

    def step(self, action: str):
        if self._engine is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = normalize_command(action)
        invalid = command not in (self._state.get("admissible_commands") or [])
        if self._plan is not None:
            verb = command.split(" ", 1)[0]
            if self._plan and command == self._plan[0]:
                self._plan.pop(0)
            elif not (invalid or verb in PASSIVE_VERBS):
                self._plan = None  # off the walkthrough: the goal-directed expert takes over
        obs, state = self._engine.step(command)
        self._state = state
        info = self._info(state, invalid_action=invalid)
        reward, self._score = info["score"] - self._score, info["score"]
        terminated = info["won"]
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._done = True

    def _versions(self) -> dict[str, str]:
        import importlib.metadata as md

        return {name: md.version(name) for name in ("alfworld", "textworld",
                                                    "fast-downward-textworld")}


class ALFWorldGen(_ALFWorldBase):
    """GENERATED ALFWorld-format games (`priorbench/ALFWorldGen-<TaskType>-v0`) — NOT the
    official ALFWorld task set; see envs/alfworld_gen.py.

    Args:
        task_type: Pick, Look, Clean, Heat, Cool or PickTwo.
        split: "train" or "test" (tasks listed in envs/suites/alfworldgen-<type>-v0.toml).
        max_steps: episode step limit (truncation); 60, as the paper caps its ALFWorld episodes.
        expert: give `info["expert_action"]` (see the module docstring).
        cache_dir: where generated games are kept (default: `$PRIORBENCH_CACHE/alfworld`, else
            `~/.cache/priorbench/alfworld`).
        n_tasks: play only the split's first n tasks (quick checks); None: all of them.
        max_open: started games kept in memory (~8 MB each).
    """

    def __init__(
        self,
        task_type: str = "Pick",
        split: str = "train",
        max_steps: int = 60,
        expert: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        n_tasks: int | None = None,
        max_open: int = 32,
    ) -> None:
        _check_settings(task_type, n_tasks)
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        gen.require_alfworld()
        self.task_type = task_type
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else gen.default_cache_dir()
        self.suite_file = gen.suite_path(task_type)
        tasks = gen.load_split(task_type, split, self.suite_file)[:n_tasks]
        self.gen_tasks = tasks
        paths = [gen.ensure_game(t, self.cache_dir) for t in tasks]
        goals = [Goal(task_type, t.object.lower(), t.receptacle.lower(), t.toggle.lower())
                 for t in tasks]
        self._setup([t.task_id for t in tasks], paths, goals, split, max_steps, expert, max_open)

    def provenance(self) -> dict[str, Any]:
        return {
            "family": "ALFWorldGen",
            "generated": True,
            "official": False,
            "label": gen.LABEL,
            "task_type": self.task_type,
            "alfworld_task_type": gen.TASK_TYPES[self.task_type],
            "split": self.split,
            "suite_file": f"envs/suites/{self.suite_file.name}",
            "suite_sha256": gen.sha256_file(self.suite_file),
            "generator_version": gen.GENERATOR_VERSION,
            "tasks": [{"id": t.task_id, "seed": t.seed, "scene": t.scene, "object": t.object,
                       "receptacle": t.receptacle, "toggle": t.toggle} for t in self.gen_tasks],
            "game_sha256": dict(self._sha256),
            "versions": self._versions(),
        }


def _data_root(data_dir: str | os.PathLike[str] | None) -> Path:
    """The json_2.1.1 folder, from the kwarg or $ALFWORLD_DATA (which may also be json_2.1.1)."""
    how = (
        "Get the official games on a machine with internet: `pip install --no-deps "
        "alfworld==0.4.2 && alfworld-download` (it writes json_2.1.1 under ~/.cache/alfworld), "
        "copy that folder here and set ALFWORLD_DATA to the folder that holds json_2.1.1. "
        "Without it, the offline family priorbench/ALFWorldGen-<TaskType>-v0 plays GENERATED "
        "ALFWorld-format games (not the official task set)."
    )
    raw = data_dir if data_dir is not None else os.environ.get("ALFWORLD_DATA")
    if not raw:
        raise UserError(f"the official ALFWorld games need ALFWORLD_DATA, which is not set. {how}")
    root = Path(raw).expanduser()
    for candidate in (root / "json_2.1.1", root):
        if any((candidate / s).is_dir() for s in ("train", "valid_seen", "valid_unseen")):
            return candidate
    raise UserError(f"ALFWORLD_DATA={str(root)!r} holds no json_2.1.1 games "
                    f"(no json_2.1.1/train, valid_seen or valid_unseen there). {how}")


class ALFWorld(_ALFWorldBase):
    """The official ALFWorld text games (`priorbench/ALFWorld-<TaskType>-v0`, `$ALFWORLD_DATA`).

    Args:
        task_type: Pick, Look, Clean, Heat, Cool or PickTwo.
        split: "train", "valid_seen", "valid_unseen", or "test" (= valid_unseen).
        max_steps: episode step limit (ALFWorld's evaluations use 50).
        expert: give `info["expert_action"]` (see the module docstring).
        data_dir: the folder holding json_2.1.1 (default: $ALFWORLD_DATA).
        n_tasks: play only the split's first n games (sorted by path); None: all of them.
        max_open: started games kept in memory (~8 MB each).
    """

    def __init__(
        self,
        task_type: str = "Pick",
        split: str = "train",
        max_steps: int = 50,
        expert: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
        n_tasks: int | None = None,
        max_open: int = 32,
    ) -> None:
        _check_settings(task_type, n_tasks)
        if split not in OFFICIAL_SPLITS:
            raise ValueError(f"split must be one of {sorted(OFFICIAL_SPLITS)}, not {split!r}")
        root = _data_root(data_dir)
        folder = root / OFFICIAL_SPLITS[split]
        if not folder.is_dir():
            raise UserError(f"the ALFWorld data at {str(root)!r} has no {folder.name} split. "
                            "Download it again with alfworld-download.")
        gen.require_alfworld()
        self.task_type = task_type
        self.data_root = root
        files = self._collect(task_type, split, root)[:n_tasks]
        if not files:
            raise UserError(f"no solvable ALFWorld {task_type} games ({gen.TASK_TYPES[task_type]}) "
                            f"in {str(folder)!r}. Is the json_2.1.1 download complete?")
        goals = []
        for path in files:
            traj_file = path.parent / "traj_data.json"
            try:
                goals.append(Goal.from_traj_data(json.loads(traj_file.read_text())))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UserError(f"ALFWorld file {str(traj_file)!r} is missing or corrupt "
                                f"({exc}). Copy it again from the ALFWorld data.") from None
        ids = [str(p.parent.relative_to(root)) for p in files]
        self._setup(ids, files, goals, OFFICIAL_SPLITS[split], max_steps, expert, max_open)

    @staticmethod
    def _collect(task_type: str, split: str, root: Path) -> list[Path]:
        """The split's game files, chosen by alfworld's own AlfredTWEnv.collect_game_files."""
        with gen._quiet_alfworld_import():
            from alfworld.agents.environment.alfred_tw_env import AlfredTWEnv
        config = {
            "env": {"goal_desc_human_anns_prob": 0.0,
                    "task_types": [gen.TASK_TYPE_IDS[task_type]]},
            "dataset": {"data_path": str(root / "train"),
                        "eval_id_data_path": str(root / "valid_seen"),
                        "eval_ood_data_path": str(root / "valid_unseen"),
                        "num_train_games": -1, "num_eval_games": -1},
        }
        mode = {"train": "train", "valid_seen": "eval_in_distribution",
                "valid_unseen": "eval_out_of_distribution"}[OFFICIAL_SPLITS[split]]
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                env = AlfredTWEnv(config, train_eval=mode)
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"alfworld could not read the games under {str(root)!r} ({exc}). "
                            "Download them again with alfworld-download.") from None
        return sorted(Path(p) for p in env.game_files)

    def provenance(self) -> dict[str, Any]:
        return {
            "family": "ALFWorld",
            "generated": False,
            "official": True,
            "task_type": self.task_type,
            "alfworld_task_type": gen.TASK_TYPES[self.task_type],
            "split": self.split,
            "data_root": str(self.data_root),
            "game_sha256": dict(self._sha256),
            "versions": self._versions(),
        }
