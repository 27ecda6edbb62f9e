"""Frozen Lake as a text game, built on gymnasium's FrozenLake dynamics.

The paper's setting is `priorbench/FrozenLake-4x4-v0` (the standard 4×4 map, not slippery,
at most 20 steps). Random-map variants draw train and test maps from disjoint seed ranges.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import Any

from gymnasium.envs.toy_text.frozen_lake import MAPS, FrozenLakeEnv, generate_random_map

from priorbench.envs.base import ResetResult, StepResult, TextEnv, text_space

# gymnasium's action ids: 0 left, 1 down, 2 right, 3 up.
MOVES: dict[str, tuple[int, int, int]] = {
    "go north": (3, -1, 0),
    "go south": (1, 1, 0),
    "go east": (2, 0, 1),
    "go west": (0, 0, -1),
}
#: Order the expert prefers among equally short paths (fixed, so it is deterministic).
EXPERT_ORDER = ("go south", "go east", "go north", "go west")
CELL_WORDS = {"S": "frozen ice (the start)", "F": "frozen ice", "H": "a hole", "G": "the goal"}
#: The slippery expert's discount: of two moves that win as surely, the one that wins sooner.
SLIPPERY_DISCOUNT = 0.999
#: Test maps come from seeds at and above this offset; train maps from seeds below it.
TEST_SEED_OFFSET = 1_000_000
TASK_TEXT = (
    "Cross the frozen lake to reach the goal without falling into a hole. "
    "Moves are north, south, east and west."
)


@lru_cache(maxsize=4096)
def distances_to_goal(desc: tuple[str, ...]) -> dict[tuple[int, int], int]:
    """Shortest number of moves from each safe cell to the goal (holes excluded)."""
    rows, cols = len(desc), len(desc[0])
    goal = next((r, c) for r in range(rows) for c in range(cols) if desc[r][c] == "G")
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        for _, dr, dc in MOVES.values():
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and (nr, nc) not in dist and desc[nr][nc] != "H":
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return dist


@lru_cache(maxsize=256)
def slippery_policy(desc: tuple[str, ...]) -> dict[tuple[int, int], str]:
    """The move from each safe cell that maximises the chance of reaching the goal on a
    slippery lake (value iteration on gymnasium's transitions, discount SLIPPERY_DISCOUNT so
    sooner is better; moves off the lake are not admissible, ties go to EXPERT_ORDER); cells
    from which the goal cannot be reached are left out."""
    rows, cols = len(desc), len(desc[0])
    transitions = FrozenLakeEnv(desc=list(desc), is_slippery=True).P
    moves = {(r, c): [cmd for cmd in EXPERT_ORDER
                      if 0 <= r + MOVES[cmd][1] < rows and 0 <= c + MOVES[cmd][2] < cols]
             for r in range(rows) for c in range(cols) if desc[r][c] in "SF"}
    value = [1.0 if desc[s // cols][s % cols] == "G" else 0.0 for s in range(rows * cols)]

    def q(cell: tuple[int, int], cmd: str) -> float:
        outcomes = transitions[cell[0] * cols + cell[1]][MOVES[cmd][0]]
        return SLIPPERY_DISCOUNT * sum(p * value[nxt] for p, nxt, _, _ in outcomes)

    for _ in range(100_000):
        change = 0.0
        for cell, cmds in moves.items():
            best = max(q(cell, cmd) for cmd in cmds)
            change = max(change, abs(best - value[cell[0] * cols + cell[1]]))
            value[cell[0] * cols + cell[1]] = best
        if change < 1e-13:
            break
    policy = {}
    for cell, cmds in moves.items():
        scores = [q(cell, cmd) for cmd in cmds]
        if max(scores) > 0:
            policy[cell] = next(cmd for cmd, v in zip(cmds, scores, strict=True) if v >= max(scores) - 1e-9)
    return policy


def make_map(size: int, seed: int, frozen_prob: float) -> tuple[str, ...]:
    """A random solvable map (gymnasium's generator), the same for the same seed."""
    return tuple(generate_random_map(size=size, p=frozen_prob, seed=seed))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class FrozenLakeText(TextEnv):
    """Frozen Lake with observations and commands in words.

    Args:
        map_name: one of gymnasium's fixed maps ("4x4", "8x8"); ignored when random_maps.
        random_maps: draw maps from seeds; train seeds are 0..n_train_maps-1 and test seeds
            start at TEST_SEED_OFFSET, so the splits never share a map.
        size, frozen_prob: random map size and probability that a cell is frozen.
        is_slippery: gymnasium's slippery dynamics (the move may slip sideways).
        max_steps: episode step limit (truncation).
        split: "train" or "test".
    """

    def __init__(
        self,
        map_name: str = "4x4",
        random_maps: bool = False,
        size: int = 4,
        frozen_prob: float = 0.8,
        n_train_maps: int = 100,
        n_test_maps: int = 20,
        is_slippery: bool = False,
        max_steps: int = 20,
        split: str = "train",
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        self.random_maps = random_maps
        self.is_slippery = is_slippery
        self.max_steps = max_steps
        self.split = split
        self.expert_always_wins = not is_slippery
        if random_maps:
            if n_train_maps <= 0 or n_test_maps <= 0:
                raise ValueError("n_train_maps and n_test_maps must be positive")
            if n_train_maps > TEST_SEED_OFFSET:
                raise ValueError(f"n_train_maps must be at most {TEST_SEED_OFFSET}")
            seeds = (
                range(n_train_maps)
                if split == "train"
                else range(TEST_SEED_OFFSET, TEST_SEED_OFFSET + n_test_maps)
            )
            self._maps = [make_map(size, s, frozen_prob) for s in seeds]
            self.tasks = tuple(f"map-seed-{s}" for s in seeds)
        else:
            if map_name not in MAPS:
                raise ValueError(f"unknown map_name {map_name!r}; choose from {sorted(MAPS)}")
            self._maps = [tuple(MAPS[map_name])]
            self.tasks = (map_name,)
        self.observation_space = text_space()
        self.action_space = text_space(64)
        self._game: FrozenLakeEnv | None = None
        self._desc: tuple[str, ...] = self._maps[0]
        self._pos = (0, 0)
        self._steps = 0
        self._done = False

    # --- text rendering -------------------------------------------------------------------
    def _cell(self, r: int, c: int) -> str | None:
        if 0 <= r < len(self._desc) and 0 <= c < len(self._desc[0]):
            return self._desc[r][c]
        return None

    def _admissible(self) -> list[str]:
        r, c = self._pos
        return [cmd for cmd, (_, dr, dc) in MOVES.items() if self._cell(r + dr, c + dc) is not None]

    def _describe(self) -> str:
        r, c = self._pos
        rows, cols = len(self._desc), len(self._desc[0])
        parts = [f"You are at row {r + 1}, column {c + 1} of a {rows}×{cols} frozen lake."]
        for cmd, (_, dr, dc) in MOVES.items():
            cell = self._cell(r + dr, c + dc)
            what = "the edge of the lake" if cell is None else CELL_WORDS[cell]
            parts.append(f"{cmd.split()[1].capitalize()}: {what}.")
        gr, gc = next((i, j) for i in range(rows) for j in range(cols) if self._desc[i][j] == "G")
        dy, dx = gr - r, gc - c
        where = []
        if dy:
            where.append(f"{_plural(abs(dy), 'step')} {'south' if dy > 0 else 'north'}")
        if dx:
            where.append(f"{_plural(abs(dx), 'step')} {'east' if dx > 0 else 'west'}")
        if where:
            parts.append(f"The goal is {' and '.join(where)}.")
        return " ".join(parts)

    def _expert_action(self) -> str | None:
        if self.is_slippery:
            return slippery_policy(self._desc).get(self._pos)
        dist = distances_to_goal(self._desc)
        r, c = self._pos
        if (r, c) not in dist:
            return None
        best = None
        for cmd in EXPERT_ORDER:
            _, dr, dc = MOVES[cmd]
            d = dist.get((r + dr, c + dc))
            if d is not None and d < dist[(r, c)] and (best is None or d < best[1]):
                best = (cmd, d)
        return None if best is None else best[0]

    def _info(self, **extra: Any) -> dict[str, Any]:
        cell = self._desc[self._pos[0]][self._pos[1]]
        won, lost = cell == "G", cell == "H"
        info = self._base_info(self._task, admissible=[] if (won or lost) else self._admissible(),
                               task=TASK_TEXT, won=won, lost=lost, score=1.0 if won else 0.0,
                               max_score=1.0)
        expert = None if (won or lost) else self._expert_action()
        if expert is not None:
            info["expert_action"] = expert
        info.update(extra)
        return info

    # --- gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> ResetResult:
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        self._desc = self._maps[self._task]
        self._game = FrozenLakeEnv(desc=list(self._desc), is_slippery=self.is_slippery)
        state, _ = self._game.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._pos = divmod(int(state), len(self._desc[0]))
        self._steps = 0
        self._done = False
        return self._describe(), self._info()

    def step(self, action: str) -> StepResult:
        if self._game is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = " ".join(action.strip().lower().split())
        if command not in self._admissible():
            truncated = self._steps >= self.max_steps
            self._done = truncated
            allowed = ", ".join(self._admissible())
            obs = f"You can't do that here. Try one of: {allowed}. " + self._describe()
            return obs, 0.0, False, truncated, self._info(invalid_action=True)
        state, reward, terminated, _, _ = self._game.step(MOVES[command][0])
        self._pos = divmod(int(state), len(self._desc[0]))
        info = self._info(invalid_action=False)
        if info["won"]:
            obs = "You reached the goal!"
        elif info["lost"]:
            obs = "You fell into a hole. The episode is over."
        else:
            obs = self._describe()
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return obs, float(reward), bool(terminated), truncated, info
