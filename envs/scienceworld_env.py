"""ScienceWorld (Wang et al. 2022): the library's 30 science tasks as TextEnvs.

The env card, docs/envs/scienceworld.md, says what they play: the library's own train / dev /
test variations of each task, its simplifications ("easy" by default), its 0–100 score, and
how the admissible commands and `expert_action` are made. The simulator is the jar inside the
`scienceworld` wheel (Java 17 on PATH); each env instance runs one JVM.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

from priorbench.core.config import json_loads
from priorbench.core.errors import UserError
from priorbench.core.paths import (
    JSON_LIMIT,
    atomic_write_bytes,
    cache_root,
    read_regular,
    sha256_file,
)
from priorbench.envs.base import ResetResult, StepResult, TextEnv, text_space

#: The library's 30 tasks (scienceworld 1.2.3, tasks.json): id → (task name, title, topic).
#: A test checks this table against the installed library.
TASKS: dict[str, tuple[str, str, str]] = {
    "1-1": ("boil", "Changes of State (Boiling)", "Matter"),
    "1-2": ("melt", "Changes of State (Melting)", "Matter"),
    "1-3": ("freeze", "Changes of State (Freezing)", "Matter"),
    "1-4": ("change-the-state-of-matter-of", "Changes of State (Any)", "Matter"),
    "2-1": ("use-thermometer", "Use Thermometer", "Measurement"),
    "2-2": ("measure-melting-point-known-substance", "Measuring Boiling Point (known)", "Measurement"),
    "2-3": ("measure-melting-point-unknown-substance", "Measuring Boiling Point (unknown)", "Measurement"),
    "3-1": ("power-component", "Create a circuit", "Electricity"),
    "3-2": ("power-component-renewable-vs-nonrenewable-energy", "Renewable vs Non-renewable Energy",
            "Electricity"),
    "3-3": ("test-conductivity", "Test Conductivity (known)", "Electricity"),
    "3-4": ("test-conductivity-of-unknown-substances", "Test Conductivity (unknown)", "Electricity"),
    "4-1": ("find-living-thing", "Find a living thing", "Classification"),
    "4-2": ("find-non-living-thing", "Find a non-living thing", "Classification"),
    "4-3": ("find-plant", "Find a plant", "Classification"),
    "4-4": ("find-animal", "Find an animal", "Classification"),
    "5-1": ("grow-plant", "Grow a plant", "Biology"),
    "5-2": ("grow-fruit", "Grow a fruit", "Biology"),
    "6-1": ("chemistry-mix", "Mixing (generic)", "Chemistry"),
    "6-2": ("chemistry-mix-paint-secondary-color", "Mixing paints (secondary colours)", "Chemistry"),
    "6-3": ("chemistry-mix-paint-tertiary-color", "Mixing paints (tertiary colours)", "Chemistry"),
    "7-1": ("lifespan-longest-lived", "Identify longest-lived animal", "Biology"),
    "7-2": ("lifespan-shortest-lived", "Identify shortest-lived animal", "Biology"),
    "7-3": ("lifespan-longest-lived-then-shortest-lived", "Identify longest-then-shortest-lived animal",
            "Biology"),
    "8-1": ("identify-life-stages-1", "Identify life stages (plant)", "Biology"),
    "8-2": ("identify-life-stages-2", "Identify life stages (animal)", "Biology"),
    "9-1": ("inclined-plane-determine-angle", "Inclined Planes (determine angle)", "Forces"),
    "9-2": ("inclined-plane-friction-named-surfaces", "Friction (known surfaces)", "Forces"),
    "9-3": ("inclined-plane-friction-unnamed-surfaces", "Friction (unknown surfaces)", "Forces"),
    "10-1": ("mendelian-genetics-known-plant", "Mendelian Genetics (known plants)", "Biology"),
    "10-2": ("mendelian-genetics-unknown-plant", "Mendelian Genetics (unknown plants)", "Biology"),
}
SPLITS = ("train", "dev", "test")
#: The default `n_test_variations`: 10, or the whole fold where it has fewer (boil's has 9).
TEST_VARIATIONS = 10
#: The library's gold action sequence per (task, variation, simplifications), generated once
#: per process (in a JVM of its own: see `ScienceWorld.reset`).
_GOLD: dict[tuple[str, int, str], list[str]] = {}
#: Commands that never change the simulator's state (free actions, in the library's words).
LOOKING = ("look around", "inventory", "task", "look at ", "look in ", "read ")
#: The expert's command once the gold path is done and the task is not: the library's gold
#: paths end with a fixed number of waits (freeze's may end while the substance is still
#: freezing), so the expert waits on (10 ticks a step) until the score reaches 100.
WAIT = "wait"


def camel(task_name: str) -> str:
    """"change-the-state-of-matter-of" → "ChangeTheStateOfMatterOf" (the env id's part)."""
    return "".join(part.capitalize() for part in task_name.split("-"))


def canonical_listing(text: str) -> str:
    """Each run of one-tab-indented lines (a room's or container's objects) in sorted order.

    The simulator lists objects in an order that depends on how many objects the JVM created
    before (two loads of one variation differ), so unsorted, one seed would not give one
    observation."""
    lines, out, run = text.split("\n"), [], []
    for line in [*lines, None]:
        if line is not None and line.startswith("\t") and not line.startswith("\t\t"):
            run.append(line)
            continue
        out += sorted(run)
        run = []
        if line is not None:
            out.append(line)
    return "\n".join(out)


def read_folds(sw: Any) -> dict[str, list[int]]:
    """The loaded task's train / dev / test variation indices, as the library splits them."""
    return {"train": sorted(int(v) for v in sw.get_variations_train()),
            "dev": sorted(int(v) for v in sw.get_variations_dev()),
            "test": sorted(int(v) for v in sw.get_variations_test())}


@functools.cache
def _jar_sha256() -> str:
    from scienceworld.constants import JAR_PATH

    return sha256_file(Path(JAR_PATH))


class ScienceWorld(TextEnv):
    """One ScienceWorld task.

    Args:
        task: the library's task name (TASKS).
        split: "train", "dev" or "test": the library's variations of that fold.
        simplifications: the library's simplification string ("easy" = teleport, self-watering
            flower pots, open containers, no electrical actions where the task has none).
        n_train_variations: the train split plays the train fold's first N variations (None:
            all of them).
        n_test_variations: the test (or dev) split plays its fold's first N variations (10 by
            default: each test variation costs one episode per evaluation round; the whole fold
            where it has fewer, as 11 tasks' test folds do; None: all). More than the fold has is
            refused, the default 10 excepted.
        max_commands: cap on the library's valid commands (see `_commands`).
        gold_admissible: add the gold path's next command to the admissible commands where the
            library's valid list lacks it (see `_commands`).
        max_steps: episode step limit (truncation; 300: gold paths run to 192 steps).
        look, inventory: append the free `look around` / `inventory` text to each observation.
        expert: follow the library's gold action sequence and give `info["expert_action"]`.
        step_timeout: seconds; a slower simulator step ends the episode as an error and the
            JVM is restarted at the next reset.
    """

    expert_always_wins: ClassVar[bool] = True

    def __init__(self, task: str = "boil", split: str = "train", simplifications: str = "easy",
                 n_train_variations: int | None = None, n_test_variations: int | None = TEST_VARIATIONS,
                 max_commands: int = 400, max_steps: int = 300,
                 look: bool = False, inventory: bool = False, expert: bool = True,
                 gold_admissible: bool = True, step_timeout: float | None = 30.0) -> None:
        names = {name for name, _, _ in TASKS.values()}
        if task not in names:
            raise UserError(f"unknown ScienceWorld task {task!r}; tasks are {sorted(names)}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        for name, value in (("max_steps", max_steps), ("max_commands", max_commands)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        for name, value in (("n_train_variations", n_train_variations), ("n_test_variations", n_test_variations)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None, got {value}")
        n_variations = n_train_variations if split == "train" else n_test_variations
        if step_timeout is not None and step_timeout <= 0:
            raise ValueError(f"step_timeout must be positive seconds or None, got {step_timeout}")
        self.task_name, self.split, self.simplifications = task, split, simplifications
        self.max_commands, self.max_steps = max_commands, max_steps
        self.look, self.inventory, self.expert = look, inventory, expert
        self.gold_admissible = gold_admissible
        self.step_timeout = step_timeout
        self.observation_space = text_space()
        self.action_space = text_space(300)
        self._sw: Any = None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="scienceworld")
        self._spares = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="scienceworld-spare")
        self._spare: concurrent.futures.Future | None = None
        self._start()  # probes the task and reads its folds; each reset starts a fresh JVM
        variations = read_folds(self._sw)[split]
        if n_variations is not None:
            default = split != "train" and n_variations == TEST_VARIATIONS
            if n_variations > len(variations) and not default:
                raise UserError(f"ScienceWorld {task!r} has {len(variations)} {split} variations; asked "
                                f"for n_{'train' if split == 'train' else 'test'}_variations = {n_variations}")
            variations = variations[:n_variations]
        self.variations = variations
        self._kill()  # each reset starts its own
        self.tasks = tuple(f"{task}-{split}-var-{v}" for v in variations)
        self._task = 0
        self._task_text = ""
        self._admissible: list[str] = []
        self._gold: list[str] = []
        self._gold_at = 0
        self._score = 0.0
        self._steps = 0
        self._done = True

    # --- the simulator ------------------------------------------------------------------------
    @staticmethod
    def _launch() -> Any:
        from scienceworld import ScienceWorldEnv

        try:
            return ScienceWorldEnv(envStepLimit=10**9)
        except Exception as exc:  # no Java, or the JVM did not start
            raise UserError(
                f"ScienceWorld could not start its Java simulator ({type(exc).__name__}: {exc}). It "
                "needs Java 17 or newer on PATH (e.g. apt-get install openjdk-17-jre-headless)."
            ) from None

    def _start(self, *, probe: bool = True) -> None:
        """A fresh simulator: the spare one started in the background (if any), else now; and
        the next spare started in the background, so a reset rarely waits for a JVM."""
        spare, self._spare = self._spare, None
        self._sw = spare.result() if spare is not None else self._launch()
        if not probe:
            self._spare = self._spares.submit(self._launch)
            return
        # Load once here so that a bad task or simplification fails now, with its name.
        try:
            self._sw.load(self.task_name, 0, self.simplifications)
        except ValueError as exc:
            self._kill()
            raise UserError(f"ScienceWorld refused {self.task_name!r} with simplifications "
                            f"{self.simplifications!r}: {exc}") from None

    def _gold_path(self, key: tuple[str, int, str]) -> list[str]:
        """The library's gold action sequence of one variation, from a fresh JVM of its own
        (about 4 s), kept in priorbench's cache by the engine jar's hash: the same sequence in
        every process afterwards."""
        task, variation, simplifications = key
        name = hashlib.sha256(json.dumps([_jar_sha256(), *key]).encode()).hexdigest()[:32]
        try:
            cached: Path | None = cache_root() / "scienceworld-gold" / f"{name}.json"
        except UserError:  # no cache folder here: generate each time
            cached = None
        if cached is not None and cached.is_file() and not cached.is_symlink():
            try:
                stored = json_loads(read_regular(cached, limit=JSON_LIMIT))
            except (UserError, ValueError, UnicodeDecodeError):
                stored = None
            if isinstance(stored, list) and all(isinstance(a, str) for a in stored):
                return stored
        sw = self._launch()
        try:
            sw.load(task, variation, simplifications, generateGoldPath=True)
            gold = [" ".join(a.split()) for a in sw.server.getGoldActionSequence()]
        finally:
            self._shutdown(sw)
        if cached is not None:
            with contextlib.suppress(UserError, OSError):  # a cache we cannot write: no reuse
                atomic_write_bytes(cached, json.dumps(gold).encode())
        return gold

    @staticmethod
    def _shutdown(sw: Any) -> None:
        process = sw._gateway.java_process
        try:
            sw._gateway.shutdown()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def _kill(self, *, spare: bool = False) -> None:
        if self._sw is not None:
            sw, self._sw = self._sw, None
            self._shutdown(sw)
        if spare and self._spare is not None:
            future, self._spare = self._spare, None
            with contextlib.suppress(Exception):
                self._shutdown(future.result())

    def _call(self, fn: Any, *args: Any) -> Any:
        """`fn(*args)` on the simulator within `step_timeout` (TimeoutError: the JVM is killed)."""
        if self.step_timeout is None:
            return fn(*args)
        future = self._pool.submit(fn, *args)
        try:
            return future.result(timeout=self.step_timeout)
        except concurrent.futures.TimeoutError:
            self._kill()  # the blocked call fails as its socket closes
            raise

    def _state(self, command: str) -> tuple[str, dict[str, Any]]:
        """One simulator step and what the env reads after it (the library's `step`, without
        the parts it computes that are not used here)."""
        sw = self._sw
        obs = sw.server.step(command)
        raw = {"score": int(round(100 * sw.server.getScore())), "completed": bool(sw.server.getCompleted()),
               "valid": list(sw.server.getValidActionObjectCombinations())}
        if self.look:
            raw["look"] = sw.server.freeActionLook()
        if self.inventory:
            raw["inv"] = sw.server.freeActionInventory()
        return obs, raw

    def provenance(self) -> dict[str, Any]:
        from scienceworld.version import __version__

        return {"engine": f"scienceworld {__version__}", "engine_jar_sha256": _jar_sha256(),
                "task": self.task_name, "split": self.split, "simplifications": self.simplifications,
                "variations": list(self.variations), "max_commands": self.max_commands}

    # --- infos --------------------------------------------------------------------------------
    def _commands(self, valid: list[str]) -> list[str]:
        """The admissible commands: the library's valid action strings, deduplicated; beyond
        `max_commands` the shortest (ties alphabetical) — the library lists 1,000–1,300 per
        state under "easy", most of them object pairings that do nothing ("use lighter on
        lighter"). Then, with `gold_admissible`, the gold path's next command where the list
        lacks it: the library's valid list misses many gold steps (24 of boil's 39: referents
        it names otherwise, "open door to kitchen" once doors are open), and without them no
        agent could follow the gold path through the admissible set. Sorted."""
        unique = sorted(set(" ".join(v.split()) for v in valid))
        if len(unique) > self.max_commands:
            unique = sorted(sorted(unique, key=lambda c: (len(c), c))[:self.max_commands])
        gold = self._gold_step()
        if self.gold_admissible and gold is not None and gold not in unique:
            unique = sorted([*unique, gold])
        return unique

    def _gold_step(self) -> str | None:
        """The gold path's next command; WAIT once the path is done (the episode stayed on it
        and the task is not over); None off the path or without one."""
        if self._gold_at < len(self._gold):
            return self._gold[self._gold_at]
        return WAIT if self._gold else None

    def _observation(self, obs: str, raw: dict[str, Any]) -> str:
        parts = [obs.strip()]
        if self.look:
            parts.append(raw["look"].strip())
        if self.inventory:
            parts.append(raw["inv"].strip())
        return canonical_listing("\n\n".join(p for p in parts if p))

    def _info(self, raw: dict[str, Any], **extra: Any) -> dict[str, Any]:
        score = float(raw["score"])
        won = score >= 100
        lost = not won and (score < 0 or raw["completed"])
        self._admissible = self._commands(raw["valid"])
        info = self._base_info(self._task, admissible=self._admissible, task=self._task_text,
                               won=won, lost=lost, score=score, max_score=100.0)
        action = self._gold_step()
        if self.expert and not (won or lost) and action is not None:
            if action in self._admissible:
                info["expert_action"] = action
        info.update(extra)
        return info

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> ResetResult:
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        # A fresh JVM for every episode: within one JVM the simulator's choice of each object's
        # name in the valid commands changes from load to load (it follows the objects' hash
        # order, which depends on everything the JVM allocated before), so only a fresh one
        # makes a seed one episode (docs/envs/scienceworld.md, "Determinism"). Generating the
        # gold path allocates objects too, so it runs in a JVM of its own, once per variation.
        key = (self.task_name, self.variations[self._task], self.simplifications)
        wants_gold = self.expert or self.gold_admissible
        if wants_gold and key not in _GOLD:
            _GOLD[key] = self._gold_path(key)
        self._kill()
        self._start(probe=False)
        sw = self._sw
        sw.load(*key, generateGoldPath=False)
        text = str(sw.server.freeActionTaskDesc()).strip().removeprefix("Task Description:").strip()
        self._task_text = text or f"ScienceWorld task {self.task_name}"
        gold = _GOLD[key] if wants_gold else []
        self._gold = gold[1:] if gold and gold[0] == "look around" else gold
        self._gold_at = 0
        obs, raw = self._state("look around")
        self._score = float(raw["score"])
        self._steps = 0
        self._done = False
        return self._observation(obs, raw), self._info(raw)

    def step(self, action: str) -> StepResult:
        if self._sw is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = " ".join(action.split())
        invalid = command not in self._admissible
        gold_step = self._gold_step()
        try:
            obs, raw = self._call(self._state, command)
        except concurrent.futures.TimeoutError:
            self._done = True
            message = f"the ScienceWorld simulator took over {self.step_timeout} s for {command!r}"
            info = self._base_info(self._task, admissible=[], task=self._task_text, won=False, lost=False,
                                   score=self._score, max_score=100.0)
            info.update(invalid_action=invalid, error=message)
            return f"[{message}; the episode was ended.]", 0.0, False, True, info
        if gold_step is not None:
            if command == gold_step:
                self._gold_at += 1
            elif not (invalid or command.startswith(LOOKING)):
                self._gold = []  # off the gold path: no expert from here
        score = float(raw["score"])
        reward, self._score = score - self._score, score
        info = self._info(raw, invalid_action=invalid)
        terminated = info["won"] or info["lost"]
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return self._observation(obs, raw), reward, terminated, truncated, info

    def close(self) -> None:
        self._kill(spare=True)
        self._pool.shutdown(wait=False)
        self._spares.shutdown(wait=False)
        self._done = True
