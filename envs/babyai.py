"""BabyAI in text (issue 33): minigrid's BabyAI levels with what the agent sees said in words.

The text is ours, written from the published descriptions of BabyAI-Text (Carta et al. 2023,
GLAM), not from its code: the mission is the task; the observation lists what the agent's 7×7
egocentric view holds, each thing with its place relative to the agent ("a red ball 2 steps
forward and 1 step left"), the nearest wall straight ahead, to the left and to the right, doors
with their state, and what the agent carries. The six commands are minigrid's actions (`done`
left out): all six are admissible at every step, and `info["invalid_action"]` says when one did
nothing (a move into a wall, a pick-up with nothing in front). Reward, success and the step limit
are minigrid's. Tasks are seeds: train seeds from 0, test seeds from TEST_SEED_OFFSET, so the
splits never share a layout. The expert is minigrid's BabyAI bot, told of every action taken,
so it replans after a detour.
"""

from __future__ import annotations

import contextlib
import functools
import io
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.envs.base import ResetResult, StepResult, TextEnv, text_space

#: The commands, in minigrid's action order (0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle).
COMMANDS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
#: Test tasks come from seeds at and above this offset; train tasks from seeds below it.
TEST_SEED_OFFSET = 1_000_000
#: priorbench level name → minigrid env id, for the levels registered by name (`BabyAI-v0` takes
#: any minigrid BabyAI level by its minigrid name).
LEVELS = {
    "GoToLocal": "BabyAI-GoToLocal-v0",
    "PickupLoc": "BabyAI-PickupLoc-v0",
    "PutNextLocal": "BabyAI-PutNextLocal-v0",
    "OpenDoorLoc": "BabyAI-OpenDoorLoc-v0",
    "GoToSeq": "BabyAI-GoToSeqS5R2-v0",
    "UnlockLocal": "BabyAI-UnlockLocal-v0",
    "PickupThenGoToLocal": "BabyAI-PickupThenGoToLocal-v0",  # ours (OWN_LEVELS): GLAM's sequence tasks
    "GoToAfterPickupLocal": "BabyAI-GoToAfterPickupLocal-v0",
}
#: Levels minigrid does not have, defined here (`_sequence_level`) and registered with gymnasium
#: under these ids: GLAM's one-room sequence tasks, "pick up A, then go to B" and "go to B after
#: you pick up A", in GoToLocal's room (8×8, 8 objects); the step limit is minigrid's rule for
#: the instructions (64 per navigation).
OWN_LEVELS = {"BabyAI-PickupThenGoToLocal-v0": False, "BabyAI-GoToAfterPickupLocal-v0": True}
_VIEW = 7  # minigrid's default agent view size: the agent sits at (3, 6) facing up in it
#: The compositional split's data: held-out (colour, type) pairs and the levels it applies to.
COMPOSITIONAL = Path(__file__).resolve().parent / "suites" / "babyai-compositional-v0.toml"


@functools.lru_cache(maxsize=1)
def compositional() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(held-out "colour type" pairs, levels that take the split) from COMPOSITIONAL."""
    data = tomllib.loads(COMPOSITIONAL.read_text())
    return tuple(data["holdout"]), tuple(data["levels"])


@functools.lru_cache(maxsize=64)
def _held_out_seeds(game_id: str, start: int, n: int, want_held_out: bool) -> tuple[int, ...]:
    """The first n seeds from `start` whose mission names a held-out pair (or names none)."""
    import gymnasium as gym

    pairs = compositional()[0]
    game = gym.make(game_id).unwrapped
    seeds, seed = [], start
    with contextlib.redirect_stdout(io.StringIO()):
        while len(seeds) < n:
            game.reset(seed=seed)
            if any(pair in game.mission for pair in pairs) == want_held_out:
                seeds.append(seed)
            seed += 1
            if seed - start > 1000 * n:
                raise ValueError(f"{game_id}: fewer than {n} seeds from {start} fit the compositional split")
    return tuple(seeds)


def _steps(n: int, way: str) -> str:
    return f"{n} step{'' if n == 1 else 's'} {way}"


def _where(forward: int, side: int) -> str:
    parts = [_steps(forward, "forward")] if forward else []
    if side:
        parts.append(_steps(abs(side), "right" if side > 0 else "left"))
    return " and ".join(parts) or "here"


@functools.cache
def _sequence_level() -> type:
    """The class of OWN_LEVELS (made on first use: minigrid is an optional extra)."""
    from minigrid.envs.babyai.core.roomgrid_level import RoomGridLevel
    from minigrid.envs.babyai.core.verifier import (
        AfterInstr,
        BeforeInstr,
        GoToInstr,
        ObjDesc,
        PickupInstr,
    )

    class SequenceLocal(RoomGridLevel):
        """Pick up one object and go to another, in one room with distractors; `after` words it
        "go to B after you pick up A" instead of "pick up A, then go to B" (the same task)."""

        def __init__(self, after: bool = False, room_size: int = 8, num_dists: int = 8, **kwargs: Any) -> None:
            self.after, self.num_dists = after, num_dists
            super().__init__(num_rows=1, num_cols=1, room_size=room_size, **kwargs)

        def gen_mission(self) -> None:
            self.place_agent()
            objs = self.add_distractors(num_distractors=self.num_dists, all_unique=True)
            self.check_objs_reachable()
            first, second = self._rand_subset(objs, 2)
            pick = PickupInstr(ObjDesc(first.type, first.color))
            go = GoToInstr(ObjDesc(second.type, second.color))
            self.instrs = AfterInstr(go, pick) if self.after else BeforeInstr(pick, go)

    return SequenceLocal


def _register_own_levels() -> None:
    import gymnasium as gym

    for env_id, after in OWN_LEVELS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=_sequence_level(), kwargs={"after": after})


def minigrid_id(level: str) -> str:
    """The minigrid env id of a level name: a key of LEVELS, or a minigrid BabyAI id itself."""
    import gymnasium as gym
    import minigrid  # noqa: F401 - registers the BabyAI levels

    _register_own_levels()
    env_id = LEVELS.get(level, level)
    if not env_id.startswith("BabyAI-") or env_id not in gym.registry:
        known = sorted(e for e in gym.registry if e.startswith("BabyAI-"))
        raise ValueError(f"unknown BabyAI level {level!r}: give one of {sorted(LEVELS)} or a minigrid id "
                         f"such as {known[0]} ({len(known)} in minigrid)")
    return env_id


class BabyAIText(TextEnv):
    """A BabyAI level (or several, drawn per task) with text observations and commands.

    Args:
        level: a LEVELS name or a minigrid BabyAI id; several, comma-separated, make a mixed
            env whose tasks go round the levels (task i plays level i mod n).
        n_train_tasks, n_test_tasks: seeds per split.
        holdout: the compositional split (envs/suites/babyai-compositional-v0.toml): train
            missions never name a held-out (colour, type) pair, test missions always do.
        expert: run minigrid's BabyAI bot for `info["expert_action"]` (it replans every step:
            about half the step time; benchmarks/babyai_rate.py).
        split: "train" or "test".
    """

    def __init__(self, level: str = "GoToLocal", n_train_tasks: int = 1000, n_test_tasks: int = 100,
                 expert: bool = True, holdout: bool = False, split: str = "train") -> None:
        import gymnasium as gym

        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if not 0 < n_train_tasks <= TEST_SEED_OFFSET or n_test_tasks <= 0:
            raise ValueError(f"n_train_tasks must be in [1, {TEST_SEED_OFFSET}] and n_test_tasks positive")
        self.levels = tuple(name.strip() for name in level.split(","))
        self._games = [gym.make(minigrid_id(name)).unwrapped for name in self.levels]
        start, n = (0, n_train_tasks) if split == "train" else (TEST_SEED_OFFSET, n_test_tasks)
        self.holdout = holdout
        if holdout:
            if len(self.levels) > 1 or self.levels[0] not in compositional()[1]:
                raise ValueError(f"holdout (the compositional split) is for one of {list(compositional()[1])}, "
                                 f"not {level!r}")
            self._seeds = list(_held_out_seeds(minigrid_id(level), start, n, split == "test"))
        else:
            self._seeds = list(range(start, start + n))
        mixed = len(self.levels) > 1
        self.tasks = tuple((f"{self.levels[i % len(self.levels)]}/" if mixed else "") + f"seed-{s}"
                           for i, s in enumerate(self._seeds))
        self.split = split
        self.expert = expert
        self._image: Any = None
        self.observation_space = text_space()
        self.action_space = text_space(64)
        self._game: Any = None
        self._bot: Any = None
        self._expert: str | None = None
        self._task = 0
        self._done = False

    def provenance(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"minigrid": version("minigrid"), "levels": [minigrid_id(name) for name in self.levels],
                **({"holdout": list(compositional()[0])} if self.holdout else {})}

    # --- text ------------------------------------------------------------------------------
    def _describe(self) -> str:
        from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, OBJECT_TO_IDX

        image = self._image  # the view minigrid's own step or reset returned
        kinds = image[:, :, 0]
        agent_x, agent_y = _VIEW // 2, _VIEW - 1
        things = []
        for x, y in zip(*np.nonzero(kinds > OBJECT_TO_IDX["floor"]), strict=True):  # doors, keys, balls, boxes, …
            if (x, y) == (agent_x, agent_y):
                continue
            kind, color = IDX_TO_OBJECT[int(kinds[x, y])], IDX_TO_COLOR[int(image[x, y, 1])]
            forward, side = agent_y - int(y), int(x) - agent_x
            name = f"{('open', 'closed', 'locked')[int(image[x, y, 2])]} {color} door" if kind == "door" \
                else f"{color} {kind}"
            things.append((forward + abs(side), forward, side, f"a {name} {_where(forward, side)}"))
        lines = [f"You see {text}." for *_, text in sorted(things)]
        wall = OBJECT_TO_IDX["wall"]
        ahead = [agent_y - y for y in range(agent_y) if kinds[agent_x, y] == wall]
        left = [agent_x - x for x in range(agent_x) if kinds[x, agent_y] == wall]
        right = [x - agent_x for x in range(agent_x + 1, _VIEW) if kinds[x, agent_y] == wall]
        for way, found in (("forward", ahead), ("left", left), ("right", right)):
            if found:
                lines.append(f"You see a wall {_steps(min(found), way)}.")
        carrying = self._game.carrying
        lines.append(f"You carry a {carrying.color} {carrying.type}." if carrying else "You carry nothing.")
        return " ".join(lines)

    def _state(self) -> tuple:
        """What a command can change: the agent's cell and heading, what it carries, the cell ahead."""
        game = self._game
        ahead = game.grid.get(*game.front_pos) if game.grid is not None else None
        carried = game.carrying
        return (tuple(game.agent_pos), int(game.agent_dir), carried and (carried.type, carried.color),
                ahead and (ahead.type, ahead.color, getattr(ahead, "is_open", None), getattr(ahead, "is_locked", None)))

    def _info(self, won: bool, lost: bool = False, **extra: Any) -> dict[str, Any]:
        info = self._base_info(self._task, admissible=COMMANDS, task=self._game.mission, won=won,
                               lost=lost, score=1.0 if won else 0.0, max_score=1.0)
        if not (won or lost) and self._expert is not None:
            info["expert_action"] = self._expert
        info.update(extra)
        return info

    def _plan(self, taken: int | None) -> None:
        """Ask the bot for its next command (told which action was taken). The bot gives up on a
        state it cannot explain (a box opened by a detour: "I am not sure I can help now"); a
        fresh bot then plans from what the game is now. None if that one has no command either."""
        from minigrid.utils.baby_ai_bot import BabyAIBot

        try:
            action = int(self._bot.replan(taken))
        except Exception:  # noqa: BLE001 - whatever the bot raises, a fresh one starts from the present
            self._bot = BabyAIBot(self._game)
            try:
                action = int(self._bot.replan(None))
            except Exception:  # noqa: BLE001
                action = -1
        self._expert = COMMANDS[action] if 0 <= action < len(COMMANDS) else None

    # --- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> ResetResult:
        from minigrid.utils.baby_ai_bot import BabyAIBot

        super().reset(seed=seed)
        self._task = self._choose_task(options)
        self._game = self._games[self._task % len(self._games)]
        with contextlib.redirect_stdout(io.StringIO()):  # minigrid prints each rejected layout it draws
            self._image = self._game.reset(seed=self._seeds[self._task])[0]["image"]
        self._bot, self._expert = None, None
        if self.expert:
            self._bot = BabyAIBot(self._game)
            self._plan(None)
        self._done = False
        return self._describe(), self._info(False)

    def step(self, action: str) -> StepResult:
        if self._game is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        command = " ".join(str(action).strip().lower().split())
        # a command the game does not know spends a step doing nothing (minigrid's `done`, a no-op here)
        index = COMMANDS.index(command) if command in COMMANDS else len(COMMANDS)
        before = self._state()
        seen, reward, terminated, truncated, _ = self._game.step(index)
        self._image = seen["image"]
        won = bool(terminated and reward > 0)
        lost = bool(terminated and not won)  # e.g. picking up the wrong object ends a pick-up mission
        invalid = index >= 2 and self._state() == before  # a turn always does something
        self._done = bool(terminated or truncated)
        if not self._done and self._bot is not None:
            self._plan(index)
        obs = ("You completed the mission." if won else "The mission failed." if lost else
               ("Nothing happens. " if invalid else "") + self._describe())
        return obs, float(reward), bool(terminated), bool(truncated), self._info(won, lost, invalid_action=invalid)
