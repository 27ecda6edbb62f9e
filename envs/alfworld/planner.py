"""textworld's planner (fast-downward), which finds and checks a generated game's walkthrough.

See docs/envs/alfworld.md ("How generated games are built"). textworld is imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from priorbench.envs.alfworld.install import require_alfworld, speed_up_textworld


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
