"""TextWorldExpress games (CookingWorld, Coin, TWC) as TextEnvs — the suite's throughput anchor.

The env card, docs/envs/textworld.md ("TextWorldExpress"), says what they play: the library's
train/test folds, the game parameters (GAMES), rewards, and how `expert_action` is found (the
library's gold path for CookingWorld and TWC; for Coin, a map explored once per task and
shortest paths on it, since the library's Coin gold path is a random walk).
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

from priorbench.core.errors import UserError
from priorbench.core.paths import sha256_file
from priorbench.envs.base import ResetResult, StepResult, TextEnv, text_space

try:  # what textworld_express itself parses its JSON with, when installed
    from orjson import loads as _loads
except ImportError:
    from json import loads as _loads

#: game → (TextWorldExpress game name, default parameters).
GAMES: dict[str, tuple[str, str]] = {
    "CookingWorld": (
        "cookingworld",
        "numLocations=1,numIngredients=2,numDistractorItems=5,includeDoors=0,limitInventorySize=0",
    ),
    "Coin": ("coin", "numLocations=11,numDistractorItems=5,includeDoors=1,limitInventorySize=0"),
    "TWC": ("twc", "numLocations=1,numItemsToPutAway=2,includeDoors=0,limitInventorySize=0"),
}
#: Commands that never change a TextWorldExpress game's state.
LOOKING = ("look around", "inventory", "examine ")
_FOLDS = {"train": "train", "test": "test"}
_ROOM = re.compile(r"You are in the ([^.]+)\.")
_OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
CoinMap = tuple[dict[str, dict[str, str]], str]


def _room(raw: dict[str, Any]) -> str | None:
    match = _ROOM.search(raw.get("look") or "")
    return match.group(1) if match else None


def _door_closed(raw: dict[str, Any], direction: str) -> bool:
    return f"o the {direction.capitalize()} you see a closed" in (raw.get("look") or "")


def _exits(raw: dict[str, Any]) -> list[str]:
    return sorted(a[5:] for a in raw["validActions"] if a.startswith("move ") and a[5:] in _OPPOSITE)


def _jar_sha256() -> str:
    from textworld_express.constants import JAR_PATH

    return sha256_file(Path(JAR_PATH))


class TextWorldExpress(TextEnv):
    """One TextWorldExpress game family.

    Args:
        game: "CookingWorld", "Coin" or "TWC".
        game_params: TextWorldExpress's parameter string (default: GAMES[game][1]).
        split: "train" (the library's train fold) or "test" (its test fold).
        n_train_games, n_test_games: how many seeds of the fold the split plays.
        max_steps: episode step limit (truncation).
        expert: generate the gold path at each reset and give `info["expert_action"]`.
    """

    expert_always_wins: ClassVar[bool] = True

    def __init__(
        self,
        game: str = "CookingWorld",
        game_params: str | None = None,
        split: str = "train",
        n_train_games: int = 100,
        n_test_games: int = 20,
        max_steps: int = 100,
        expert: bool = True,
    ) -> None:
        if game not in GAMES:
            raise UserError(f"unknown TextWorldExpress game {game!r}; games are {sorted(GAMES)}")
        if split not in _FOLDS:
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        if n_train_games <= 0 or n_test_games <= 0:
            raise ValueError("n_train_games and n_test_games must be positive")
        self.game = game
        self.game_name, default_params = GAMES[game]
        self.game_params = default_params if game_params is None else game_params
        self.split = split
        self.fold = _FOLDS[split]
        self.max_steps = max_steps
        self.expert = expert
        self.observation_space = text_space()
        self.action_space = text_space(200)
        self._twx: Any = None
        self._start()
        fold_seeds = (self._twx.getValidSeedsTrain() if split == "train"
                      else self._twx.getValidSeedsTest())
        wanted = n_train_games if split == "train" else n_test_games
        if wanted > len(fold_seeds):
            raise UserError(
                f"TextWorldExpress's {self.fold} fold has {len(fold_seeds)} games; "
                f"asked for {wanted}"
            )
        self.seeds = [int(s) for s in fold_seeds[:wanted]]
        self.tasks = tuple(f"{self.game_name}-{self.fold}-seed-{s}" for s in self.seeds)
        self._task = 0
        self._task_text = ""
        self._admissible: list[str] = []
        self._gold: list[str] = []
        self._gold_at = 0
        self._coin_maps: dict[int, CoinMap] = {}
        self._score = 0.0
        self._steps = 0
        self._done = True

    def _start(self) -> None:
        from textworld_express import TextWorldExpressEnv

        try:
            self._twx = TextWorldExpressEnv(envStepLimit=10**9)
        except Exception as exc:  # no Java, or the JVM did not start
            raise UserError(
                f"TextWorldExpress could not start its Java server ({type(exc).__name__}: {exc}). "
                "It needs Java 17 or newer on PATH (e.g. apt-get install openjdk-17-jre-headless)."
            ) from None
        try:
            self._twx.load(self.game_name, self.game_params)
        except ValueError as exc:
            self._twx.close()
            self._twx = None
            raise UserError(
                f"TextWorldExpress rejected the parameters {self.game_params!r} for "
                f"{self.game_name}: {exc}"
            ) from None

    def provenance(self) -> dict[str, Any]:
        from textworld_express import __version__

        return {
            "engine": f"textworld-express {__version__}",
            "engine_jar_sha256": _jar_sha256(),
            "game": self.game_name,
            "game_params": self.game_params,
            "fold": self.fold,
            "seeds": list(self.seeds),
        }

    def _info(self, raw: dict[str, Any], **extra: Any) -> dict[str, Any]:
        won, lost = bool(raw.get("tasksuccess")), bool(raw.get("taskfailure"))
        over = won or lost
        info = self._base_info(self._task, admissible=self._admissible, task=self._task_text,
                               won=won, lost=lost, score=float(raw.get("score", 0.0)),
                               max_score=1.0)
        if over or not self.expert:
            pass
        elif self.game_name == "coin":
            action = self._coin_expert(raw)
            if action is not None:
                info["expert_action"] = action
        elif self._gold_at < len(self._gold):
            action = self._gold[self._gold_at]
            if action in self._admissible:
                info["expert_action"] = action
        info.update(extra)
        return info

    def _send(self, command: str) -> dict[str, Any]:
        """One step on the simulator: one py4j round trip (the library's `step` makes two, as it
        asks for the unchanging task description after every step, and keeps a run history)."""
        return _loads(self._twx.server.stepJSON(command))

    # --- the Coin expert: a map explored once per task, then shortest paths -------------------
    def _go(self, direction: str, raw: dict[str, Any]) -> dict[str, Any]:
        if _door_closed(raw, direction):
            raw = self._send(f"open door to {direction}")
        return self._send(f"move {direction}")

    def _explore(self, room: str, raw: dict[str, Any], graph: dict[str, dict[str, str]],
                 found: list[str]) -> dict[str, Any]:
        """Depth-first through every exit of `room` (and back); returns the game state after."""
        graph[room] = {}
        if "take coin" in raw["validActions"]:
            found.append(room)
        for direction in _exits(raw):
            there_raw = self._go(direction, raw)
            there = _room(there_raw)
            if there is None or there == room:  # a blocked exit
                raw = there_raw
                continue
            graph[room][direction] = there
            if there not in graph:
                there_raw = self._explore(there, there_raw, graph, found)
            raw = self._go(_OPPOSITE[direction], there_raw)
            if _room(raw) != room:
                raise RuntimeError(
                    f"TextWorldExpress coin map: going {_OPPOSITE[direction]} from {there!r} did "
                    f"not lead back to {room!r}; the Coin expert needs reversible moves"
                )
        return raw

    def _coin_map(self, raw: dict[str, Any]) -> CoinMap:
        graph: dict[str, dict[str, str]] = {}
        found: list[str] = []
        start = _room(raw)
        if start is None:
            raise RuntimeError("TextWorldExpress coin map: no room name in the look text")
        self._explore(start, raw, graph, found)
        if not found:
            raise RuntimeError(f"TextWorldExpress coin map: no coin found in {self.tasks[self._task]}")
        return graph, found[0]

    def _coin_expert(self, raw: dict[str, Any]) -> str | None:
        if "take coin" in self._admissible:
            return "take coin"
        graph, goal = self._coin_maps[self._task]
        here = _room(raw)
        if here is None or here not in graph:
            return None
        first: dict[str, str | None] = {here: None}
        queue = deque([here])
        while queue:  # breadth-first, exits in sorted order: the same path every time
            room = queue.popleft()
            if room == goal:
                break
            for direction in sorted(graph[room]):
                nxt = graph[room][direction]
                if nxt not in first:
                    first[nxt] = first[room] or direction
                    queue.append(nxt)
        direction = first.get(goal)
        if direction is None:
            return None
        door = f"open door to {direction}"
        return door if _door_closed(raw, direction) and door in self._admissible else f"move {direction}"

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> ResetResult:
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        if self._twx is None:
            self._start()
        coin_expert = self.expert and self.game_name == "coin"
        obs, raw = self._twx.reset(seed=self.seeds[self._task], gameFold=self.fold,
                                   generateGoldPath=self.expert and not coin_expert)
        if coin_expert and self._task not in self._coin_maps:
            self._coin_maps[self._task] = self._coin_map(raw)
            obs, raw = self._twx.reset(seed=self.seeds[self._task], gameFold=self.fold,
                                       generateGoldPath=False)
        self._task_text = raw.get("taskDescription") or ""
        self._admissible = sorted(raw["validActions"])
        self._gold = []
        if self.expert and not coin_expert:
            # One round trip: join on the Java side (iterating the Java list costs one per item).
            joined = self._twx._gateway.jvm.java.lang.String.join(
                "\n", self._twx.server.getGoldActionSequence())
            gold = str(joined).split("\n") if joined else []
            # The sequence starts with the "look around" that produced the first observation.
            self._gold = gold[1:] if gold and gold[0] == "look around" else gold
        self._gold_at = 0
        self._score = float(raw.get("score", 0.0))
        self._steps = 0
        self._done = False
        return obs, self._info(raw)

    def step(self, action: str) -> StepResult:
        if self._twx is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = " ".join(action.split())
        invalid = command not in self._admissible
        on_path = self._gold_at < len(self._gold)
        raw = self._send(command)
        obs = raw["observation"]
        if on_path:
            if command == self._gold[self._gold_at]:
                self._gold_at += 1
            elif not (invalid or command.startswith(LOOKING)):
                self._gold = []  # off the gold path: no expert from here
        self._admissible = sorted(raw["validActions"])
        score = float(raw.get("score", 0.0))
        reward, self._score = score - self._score, score
        info = self._info(raw, invalid_action=invalid)
        terminated = info["won"] or info["lost"]
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        if self._twx is not None:
            self._twx.close()
            self._twx = None
        self._done = True
