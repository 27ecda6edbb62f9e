"""TextWorld games as TextEnvs: generated suites (cooking, coin collector, treasure hunter) or any game file.

Generated families use TextWorld's own challenge generators in-process
(`textworld.challenges.CHALLENGES[...]` + `textworld.generator.compile_game`), deterministic by
seed, and cached on disk by generator settings: `<cache>/<generator>-<hash>/seed-<k>.z8` (+ the
`.json` TextWorld needs for admissible commands). The cache is `$PRIORBENCH_CACHE/textworld`, else
`~/.cache/priorbench/textworld`, or the `cache_dir` kwarg. Train games use seeds
0..n_train_games-1, test games seeds from TEST_SEED_OFFSET (and, for cooking, TextWorld's own
held-out food split), so the splits never share a generator seed.

Engine: textworld's core API (`textworld.start(path, EnvInfos(...))`), the layer under
`textworld.gym`: same games, same infos and the same old-style cumulative score, but
`textworld.gym` reloads the game file (jericho interpreter + game JSON) on every reset, which
costs 10–40 ms; we keep a small LRU of started games and reset them in place (3× faster resets).
Reward is the score delta; terminated on won/lost; truncated at `max_steps`.

Requested infos: admissible commands, won/lost, score, max score and the objective always;
`policy_commands` (→ `info["expert_action"]`) when `expert=True` (the default: the `expert`
agent and offline datasets need it; it costs 22–37% of the step rate, see benchmarks/README.md);
description and inventory only when asked for.

Commands: a non-admissible command goes to the game, which answers in its own words, and
`info["invalid_action"]` is True. Commands become one line of printable ASCII without
backslashes (a newline would send several commands; a backslash is a frotz hot key such as
undo or exit), and interpreter commands (quit, restart, save, restore, undo, script …) never
reach the game: they would desynchronise TextWorld's state tracking. Observations drop the
title art, the prompt and status line (`clean=False` keeps the raw text).

Bad game files: jericho ends the whole process on a corrupt story file, so every game's
Z-machine header, length and checksum are checked in Python first, then each game is started
once at construction; any failure is a UserError naming the file and the fix.

Hanging games: with `step_timeout=S` the game runs in a worker process and a step that takes
longer than S seconds kills the worker and ends the episode (truncated, `info["error"]`); the
next reset starts a fresh worker. Without it (the default) steps run in-process: fastest, but a
game stuck inside the Z-machine interpreter cannot be interrupted there (it is C code that
Python signals do not reach).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from priorbench.core.errors import UserError
from priorbench.core.paths import cache_root, sha256_file
from priorbench.envs.base import StartedGames, TextEnv, text_space

#: Test games come from generator seeds at and above this offset; train games from seeds below it.
TEST_SEED_OFFSET = 1_000_000
#: Bump when the cache layout or the way games are generated changes (it is part of the cache key).
CACHE_FORMAT = 1

#: Commands that act on the interpreter rather than the story (they would desynchronise
#: TextWorld's state tracking, or wait for a yes/no answer). They never reach the game.
SYSTEM_VERBS = frozenset(
    {"quit", "q", "restart", "restore", "save", "undo", "script", "unscript", "transcript",
     "noscript"}
)
#: A generous cap on command length (the Z-machine's input buffer is small anyway).
MAX_COMMAND_CHARS = 200


@dataclass(frozen=True)
class Family:
    """A generated TextWorld family: a textworld challenge and its settings per priorbench level."""

    name: str
    generator: str  # key in textworld.challenges.CHALLENGES
    levels: dict[int, dict[str, Any]]
    blurb: dict[int, str]


#: The cooking ladder grows the tw-cooking skills (as GATA's levels and TALES' TWCooking do;
#: levels 1–2 are GATA's levels 1–2). These are freshly generated games, not those sets' files.
COOKING = Family(
    "Cooking",
    "tw-cooking",
    {
        1: {"recipe": 1, "take": 1, "go": 1, "cut": True},
        2: {"recipe": 1, "take": 1, "go": 1, "cut": True, "cook": True},
        3: {"recipe": 2, "take": 2, "go": 6, "open": True, "cut": True, "cook": True},
        4: {"recipe": 3, "take": 3, "go": 9, "open": True, "cut": True, "cook": True},
    },
    {
        1: "1 room, find and cut 1 ingredient",
        2: "1 room, find, cut and cook 1 ingredient",
        3: "6 rooms, closed doors and containers, 2 ingredients to find, cut and cook",
        4: "9 rooms, closed doors and containers, 3 ingredients to find, cut and cook",
    },
)
#: priorbench level → textworld's own coin-collector / treasure-hunter level.
COIN_COLLECTOR = Family(
    "CoinCollector",
    "tw-coin_collector",
    {1: {"level": 5}, 2: {"level": 110}, 3: {"level": 215}},
    {
        1: "tw-coin_collector level 5: a chain of 5 rooms",
        2: "tw-coin_collector level 110: 10 rooms to the coin, 20 rooms with dead ends",
        3: "tw-coin_collector level 215: 15 rooms to the coin, 45 rooms with dead ends",
    },
)
TREASURE_HUNTER = Family(
    "TreasureHunter",
    "tw-treasure_hunter",
    {1: {"level": 5}, 2: {"level": 15}, 3: {"level": 25}},
    {
        1: "tw-treasure_hunter level 5: 5 rooms, no doors",
        2: "tw-treasure_hunter level 15: 10 rooms, closed doors and containers",
        3: "tw-treasure_hunter level 25: 20 rooms, locked doors and containers",
    },
)
FAMILIES: dict[str, Family] = {f.name: f for f in (COOKING, COIN_COLLECTOR, TREASURE_HUNTER)}


# --- cache and generation -------------------------------------------------------------------
def default_cache_dir() -> Path:
    """`$PRIORBENCH_CACHE/textworld`, else `~/.cache/priorbench/textworld`."""
    return cache_root() / "textworld"


def generator_settings(family: Family, level: int, split: str) -> dict[str, Any]:
    """The exact settings handed to textworld's generator for one split of a level."""
    if level not in family.levels:
        raise UserError(
            f"TextWorld {family.name} has no level {level}; levels are {sorted(family.levels)}"
        )
    settings = dict(family.levels[level])
    if family.generator == "tw-cooking":
        # TextWorld's own food split: test games use foods and preparations unseen in training.
        settings.update(recipe_seed=0, split=split)
    return settings


def cache_folder(cache_dir: Path, generator: str, settings: dict[str, Any]) -> Path:
    """One folder per (generator, settings, textworld version, cache format)."""
    import textworld

    key = {"generator": generator, "settings": settings, "textworld": textworld.__version__,
           "format": CACHE_FORMAT}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{generator}-{digest}"


def generate_game(generator: str, settings: dict[str, Any], seed: int, cache_dir: Path) -> Path:
    """The `.z8` for (generator, settings, seed), generated on first use and cached.

    Files are compiled in a private temporary folder and moved into place (`.json` first, the
    `.z8` last), so concurrent processes and interrupted runs never see half a game.
    """
    folder = cache_folder(cache_dir, generator, settings)
    target = folder / f"seed-{seed}.z8"
    if target.is_file() and target.with_suffix(".json").is_file():
        return target
    import textworld
    from textworld.challenges import CHALLENGES
    from textworld.generator import compile_game

    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "generator.json"
    if not meta.is_file():
        tmp_meta = folder / f".generator.{os.getpid()}.json"
        tmp_meta.write_text(json.dumps(
            {"generator": generator, "settings": settings, "textworld": textworld.__version__,
             "format": CACHE_FORMAT}, indent=2, sort_keys=True))
        os.replace(tmp_meta, meta)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        options = textworld.GameOptions()
        options.seeds = int(seed)
        options.path = str(work / target.name)
        options.file_ext = ".z8"
        options.force_recompile = True
        _, make, _ = CHALLENGES[generator]
        game = make(dict(settings), options)
        compiled = Path(compile_game(game, options))
        os.replace(compiled.with_suffix(".json"), target.with_suffix(".json"))
        os.replace(compiled, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


_ZCODE_SCALE = {1: 2, 2: 2, 3: 2, 4: 4, 5: 4, 6: 8, 7: 8, 8: 8}


def check_game_file(path: Path) -> None:
    """Raise UserError unless `path` is a playable TextWorld game (checked before the interpreter
    sees it: jericho ends the whole process on a corrupt story file)."""
    if not path.is_file():
        raise UserError(
            f"game file {str(path)!r} does not exist. Give existing .z8 paths, e.g. "
            "--set env.game_files=['games/my_game.z8'] (make games with TextWorld's tw-make)."
        )
    if path.suffix.lower() in (".ulx", ".gblorb"):
        raise UserError(
            f"game file {str(path)!r} is a Glulx game, which textworld 1.7 no longer plays. "
            "Make the game again as Z-machine: tw-make ... --format z8."
        )
    data = path.read_bytes()
    version = data[0] if data else 0
    scale = _ZCODE_SCALE.get(version)
    if scale is None or len(data) < 64:
        raise UserError(
            f"game file {str(path)!r} is not a Z-machine story file (bad header). "
            "Is it a complete .z8 made by tw-make? Copy or generate it again."
        )
    length = int.from_bytes(data[0x1A:0x1C], "big") * scale
    checksum = int.from_bytes(data[0x1C:0x1E], "big")
    if length > len(data) or (checksum and sum(data[0x40:length]) & 0xFFFF != checksum):
        raise UserError(
            f"game file {str(path)!r} is corrupt (truncated, or its checksum does not match). "
            "Copy or generate it again."
        )
    if not path.with_suffix(".json").is_file():
        raise UserError(
            f"game file {str(path)!r} has no {path.with_suffix('.json').name} next to it: priorbench "
            "needs the game infos TextWorld writes with every game it makes (for admissible commands). "
            "Use games made by TextWorld (tw-make), with their .json."
        )


# --- text clean-up --------------------------------------------------------------------------
_BANNER_LINE = re.compile(r"^[ _|\\$/<>()'`.,-]*$")
_STATUS_TAIL = re.compile(r"\n*>[ \t]*(?:-=.*?=-\s*-?\d+/\d+)?\s*$")
_RESTART_TAIL = re.compile(r"\n*Would you like to RESTART.*$", re.DOTALL)
_BLANK_RUNS = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Drop the interpreter's noise: the ASCII-art title, the `>` prompt with its status line, the
    RESTART/QUIT offer at the end of a game, and runs of blank lines."""
    text = _RESTART_TAIL.sub("", _STATUS_TAIL.sub("", text))
    lines = text.split("\n")
    start = 0
    while start < len(lines) and _BANNER_LINE.match(lines[start]):
        start += 1
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines[start:])).strip()


def normalize_command(action: str) -> str:
    """One line of printable ASCII, single-spaced. A newline would send several commands, and a
    backslash starts an interpreter hot key (frotz's \\u undo, \\n new game, \\x exit)."""
    text = "".join(ch if " " <= ch <= "~" and ch != "\\" else " " for ch in action)
    return " ".join(text.split())[:MAX_COMMAND_CHARS]


# --- engines: the game in this process, or in a worker process with a step timeout -----------
_STATE_KEYS = ("feedback", "score", "max_score", "won", "lost", "objective", "admissible_commands",
               "policy_commands", "description", "inventory")


class EngineError(RuntimeError):
    """The game engine stopped answering (timeout) or died; the episode cannot go on."""


def env_infos(expert: bool = False, description: bool = False, inventory: bool = False) -> Any:
    """The `textworld.EnvInfos` priorbench requests (only what the TextEnv contract needs)."""
    from textworld import EnvInfos

    return EnvInfos(
        admissible_commands=True, won=True, lost=True, score=True, max_score=True, objective=True,
        policy_commands=expert, description=description, inventory=inventory,
    )


class _Engine:
    """Plays TextWorld game files in this process; keeps up to `max_open` started games."""

    def __init__(self, flags: dict[str, bool], max_open: int = 32) -> None:
        self.infos = env_infos(**flags)
        self._games: StartedGames[Any] = StartedGames(self._start, max_open)
        self._current: Any = None

    @staticmethod
    def _pack(state: Any) -> dict[str, Any]:
        return {k: state.get(k) for k in _STATE_KEYS}

    def _start(self, path: str) -> Any:
        import textworld

        with warnings.catch_warnings():
            # jericho does not know TextWorld's games; TextWorld tracks their score itself.
            warnings.filterwarnings("ignore", message=".*is not fully supported")
            return textworld.start(path, self.infos)

    def reset(self, path: str) -> dict[str, Any]:
        self._current = self._games.get(path)
        return self._pack(self._current.reset())

    def step(self, command: str) -> dict[str, Any]:
        state, _, _ = self._current.step(command)
        return self._pack(state)

    def close(self) -> None:
        self._games.close()
        self._current = None


def _serve(conn: Any, flags: dict[str, bool]) -> None:  # runs in the worker process
    engine = _Engine(flags)
    conn.send(("ready", None))
    while True:
        try:
            method, arg = conn.recv()
        except (EOFError, KeyboardInterrupt):
            break
        if method == "close":
            break
        try:
            reply = ("ok", getattr(engine, method)(arg))
        except Exception as exc:  # reported to the parent, which raises it there
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):  # the parent gave up on us
            break
    engine.close()


class _WorkerEngine:
    """The same interface as _Engine, served by a worker process that is killed on a timeout."""

    START_TIMEOUT_S = 120.0
    RESET_TIMEOUT_S = 60.0

    def __init__(self, flags: dict[str, bool], step_timeout: float) -> None:
        self.flags = flags
        self.step_timeout = step_timeout
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # no fork: the parent may hold torch threads
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.flags), daemon=True,
                                 name="priorbench-textworld")
        self._proc.start()
        child.close()
        self._conn = parent
        self._receive(self.START_TIMEOUT_S, "start")

    def _receive(self, timeout: float, what: str) -> Any:
        if not self._conn.poll(timeout):
            self._kill()
            raise EngineError(f"the game did not answer {what} within {timeout:g} s")
        try:
            status, payload = self._conn.recv()
        except EOFError:
            self._kill()
            raise EngineError(f"the game process died during {what}") from None
        if status == "error":
            raise EngineError(f"{what} failed in the game process: {payload}")
        return payload

    def _call(self, method: str, arg: str, timeout: float) -> dict[str, Any]:
        if self._proc is None or not self._proc.is_alive():
            self.close()
            self._start()
        try:
            self._conn.send((method, arg))
        except (BrokenPipeError, OSError):
            self._kill()
            raise EngineError("the game process is gone") from None
        return self._receive(timeout, method)

    def reset(self, path: str) -> dict[str, Any]:
        return self._call("reset", path, max(self.RESET_TIMEOUT_S, self.step_timeout))

    def step(self, command: str) -> dict[str, Any]:
        return self._call("step", command, self.step_timeout)

    def _kill(self) -> None:
        """Stop the worker now (it may be stuck inside the interpreter)."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
            self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout=2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._proc = None
        self._conn = None


# --- the envs -------------------------------------------------------------------------------
class TextWorldGames(TextEnv):
    """Any TextWorld game files (`priorbench/TextWorld-v0`) — and the base of the generated families.

    Args:
        game_files: the games of the train split (.z8 files made by TextWorld, each with its
            .json), e.g. `--set env.game_files=['a.z8','b.z8']`.
        test_game_files: the test split's games; without it the test split plays `game_files`.
        split: "train" or "test".
        max_steps: episode step limit (truncation).
        expert: request TextWorld's `policy_commands` and give `info["expert_action"]`.
        description, inventory: also give `info["description"]` / `info["inventory"]`.
        step_timeout: seconds; if set, the game runs in a worker process and a slower step ends
            the episode as an error (see the module docstring). None: in-process, no timeout.
        clean: strip the interpreter's title art, prompt and status line from observations.
    """

    expert_always_wins: ClassVar[bool] = True

    def __init__(
        self,
        game_files: Sequence[str] | str | None = None,
        test_game_files: Sequence[str] | str | None = None,
        split: str = "train",
        max_steps: int = 100,
        expert: bool = True,
        description: bool = False,
        inventory: bool = False,
        step_timeout: float | None = None,
        clean: bool = True,
    ) -> None:
        if game_files is None or (not isinstance(game_files, str) and len(game_files) == 0):
            raise UserError(
                "priorbench/TextWorld-v0 needs game files: --set env.game_files=['path/game.z8'] "
                "(or game_files = [...] under [env] in the spec)."
            )
        self._validate_common(split, max_steps, step_timeout)
        files = test_game_files if (split == "test" and test_game_files) else game_files
        paths = [files] if isinstance(files, str) else list(files)
        self._setup([Path(p) for p in paths], [str(p) for p in paths], split, max_steps, expert,
                    description, inventory, step_timeout, clean)

    # --- shared set-up ----------------------------------------------------------------------
    @staticmethod
    def _validate_common(split: str, max_steps: int, step_timeout: float | None) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        if step_timeout is not None and step_timeout <= 0:
            raise ValueError(f"step_timeout must be positive seconds or None, got {step_timeout}")

    def _setup(self, paths: list[Path], task_ids: list[str], split: str, max_steps: int,
               expert: bool, description: bool, inventory: bool, step_timeout: float | None,
               clean: bool) -> None:
        for path in paths:
            check_game_file(path)
        self.split = split
        self.max_steps = max_steps
        self.expert = expert
        self.clean = clean
        self.step_timeout = step_timeout
        self.tasks = tuple(task_ids)
        self._paths = [str(p.resolve()) for p in paths]
        self._sha256 = {t: sha256_file(p) for t, p in zip(task_ids, paths, strict=True)}
        self._flags = {"expert": expert, "description": description, "inventory": inventory}
        self.observation_space = text_space()
        self.action_space = text_space(MAX_COMMAND_CHARS)
        self._engine: _Engine | _WorkerEngine | None = None
        self._task = 0
        self._state: dict[str, Any] = {}
        self._score = 0.0
        self._steps = 0
        self._done = True
        self._probe(paths)

    def _probe(self, paths: list[Path]) -> None:
        """Start each game once, so a game textworld cannot play fails now, with its name.

        In-process, the started games are kept for the episodes (the engine's LRU)."""
        engine = _Engine(self._flags)
        try:
            for path in paths:
                try:
                    engine.reset(str(path.resolve()))
                except Exception as exc:  # any engine failure becomes one clear message
                    raise UserError(
                        f"textworld cannot play game file {str(path)!r} ({type(exc).__name__}: "
                        f"{exc}). Is it a game made by TextWorld 1.7, with its .json? Make it again."
                    ) from None
        except BaseException:
            engine.close()
            raise
        if self.step_timeout is None:
            self._engine = engine
        else:
            engine.close()

    def _get_engine(self) -> _Engine | _WorkerEngine:
        if self._engine is None:
            self._engine = (_Engine(self._flags) if self.step_timeout is None
                            else _WorkerEngine(self._flags, self.step_timeout))
        return self._engine

    def provenance(self) -> dict[str, Any]:
        import textworld

        return {
            "engine": f"textworld {textworld.__version__}",
            "split": self.split,
            "game_sha256": dict(self._sha256),
        }

    # --- infos ------------------------------------------------------------------------------
    def _text(self, text: str | None) -> str:
        text = text or ""
        return clean_text(text) if self.clean else text

    def _info(self, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
        won, lost = bool(state.get("won")), bool(state.get("lost"))
        over = won or lost
        info = self._base_info(
            self._task, admissible=state.get("admissible_commands") or [],
            task=state.get("objective") or "Play the game to its end.", won=won, lost=lost,
            score=float(state.get("score") or 0), max_score=float(state.get("max_score") or 0))
        if self.expert and not over:
            policy = state.get("policy_commands") or []
            if policy and policy[0] in info["admissible_commands"]:
                info["expert_action"] = policy[0]
        if self._flags["description"]:
            info["description"] = self._text(state.get("description"))
        if self._flags["inventory"]:
            info["inventory"] = self._text(state.get("inventory"))
        info.update(extra)
        return info

    # --- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        try:
            state = self._get_engine().reset(self._paths[self._task])
        except EngineError as exc:
            raise RuntimeError(f"could not start game {self.tasks[self._task]!r}: {exc}") from None
        self._state = state
        self._score = float(state.get("score") or 0)
        self._steps = 0
        self._done = False
        return self._text(state.get("feedback")), self._info(state)

    def step(self, action: str):
        if self._engine is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = normalize_command(action)
        admissible = self._state.get("admissible_commands") or []
        invalid = command.lower() not in {c.lower() for c in admissible}
        verb = command.split(" ", 1)[0].lower() if command else ""
        if verb in SYSTEM_VERBS:
            obs = f"[{verb!r} is a game-system command; it is not available here.]"
            truncated = self._steps >= self.max_steps
            self._done = truncated
            return obs, 0.0, False, truncated, self._info(self._state, invalid_action=True)
        try:
            state = self._engine.step(command)
        except EngineError as exc:
            self._done = True
            obs = f"[The game stopped answering; the episode was ended. {exc}]"
            info = self._info(self._state, invalid_action=invalid, error=str(exc))
            info["admissible_commands"] = []
            info.pop("expert_action", None)
            return obs, 0.0, False, True, info
        self._state = state
        score = float(state.get("score") or 0)
        reward, self._score = score - self._score, score
        info = self._info(state, invalid_action=invalid)
        terminated = info["won"] or info["lost"]
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return self._text(state.get("feedback")), reward, terminated, truncated, info

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._done = True


class TextWorldGenerated(TextWorldGames):
    """A generated TextWorld family at one level (`priorbench/TextWorld-<Family>-<level>-v0`).

    Args:
        family: "Cooking", "CoinCollector" or "TreasureHunter".
        level: the priorbench level (see FAMILIES; each maps to fixed generator settings).
        n_train_games, n_test_games: how many games each split has (generator seeds
            0..n_train_games-1 for train, TEST_SEED_OFFSET.. for test).
        cache_dir: where generated games are kept (default: default_cache_dir()).
        The other arguments are TextWorldGames'.
    """

    def __init__(
        self,
        family: str = "Cooking",
        level: int = 1,
        split: str = "train",
        n_train_games: int = 10,
        n_test_games: int = 5,
        max_steps: int = 100,
        expert: bool = True,
        description: bool = False,
        inventory: bool = False,
        step_timeout: float | None = None,
        clean: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if family not in FAMILIES:
            raise UserError(f"unknown TextWorld family {family!r}; families are {sorted(FAMILIES)}")
        self._validate_common(split, max_steps, step_timeout)
        if n_train_games <= 0 or n_test_games <= 0:
            raise ValueError("n_train_games and n_test_games must be positive")
        if n_train_games > TEST_SEED_OFFSET:
            raise ValueError(f"n_train_games must be at most {TEST_SEED_OFFSET}")
        self.family = FAMILIES[family]
        self.level = int(level)
        self.settings = generator_settings(self.family, self.level, split)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.seeds = (list(range(n_train_games)) if split == "train"
                      else list(range(TEST_SEED_OFFSET, TEST_SEED_OFFSET + n_test_games)))
        paths = [generate_game(self.family.generator, self.settings, s, self.cache_dir)
                 for s in self.seeds]
        task_ids = [f"{self.family.name}-{self.level}-seed-{s}" for s in self.seeds]
        self._setup(paths, task_ids, split, max_steps, expert, description, inventory,
                    step_timeout, clean)

    def _probe(self, paths: list[Path]) -> None:
        try:
            super()._probe(paths)
        except UserError as exc:
            raise UserError(
                f"{exc} (a generated game: delete {paths[0].parent} to generate it again)"
            ) from None

    def provenance(self) -> dict[str, Any]:
        return {
            **super().provenance(),
            "generator": {"name": self.family.generator, "settings": self.settings,
                          "seeds": list(self.seeds), "level": self.level},
            "generated": True,
        }
