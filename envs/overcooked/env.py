"""OvercookedText: the gymnasium TextEnv over the kitchen rules, the text and the expert."""

from __future__ import annotations

from typing import Any

from priorbench.envs.base import ResetResult, StepResult, TextEnv, text_space
from priorbench.envs.overcooked import text
from priorbench.envs.overcooked.expert import expert_macro
from priorbench.envs.overcooked.kitchen import (
    CHOP_REWARD,
    DEFAULT_MAX_PRIMITIVE_STEPS,
    DEFAULT_OBS_RADIUS,
    DELIVERY_REWARD,
    RECIPES,
    KitchenState,
    Pos,
    parse_layout,
)
from priorbench.envs.overcooked.rules import KitchenRules, macro_actions


class OvercookedText(TextEnv):
    """TWOSOME's single-agent text Overcooked (map A); the rules and their sources are in docs/envs/overcooked.md.

    Args:
        recipe: "tomato-salad" or "lettuce-tomato-salad".
        max_steps: turns (macro-actions, invalid commands included) per episode before
            truncation; default the recipe's (31 / 51, the paper's).
        max_primitive_steps: TWOSOME's cap on primitive steps (200); the turn that reaches it
            finishes and truncates.
        obs_radius: view radius in cells (Chebyshev); 0 sees the whole kitchen.
        split: "train" or "test"; the map is fixed, so both splits hold the same one task.
    """

    def __init__(
        self,
        recipe: str = "tomato-salad",
        max_steps: int | None = None,
        max_primitive_steps: int = DEFAULT_MAX_PRIMITIVE_STEPS,
        obs_radius: int = DEFAULT_OBS_RADIUS,
        split: str = "train",
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
        self.recipe = RECIPES[recipe]
        self.max_steps = self.recipe.max_steps if max_steps is None else int(max_steps)
        if self.max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {self.max_steps}")
        if max_primitive_steps <= 0:
            raise ValueError(f"max_primitive_steps must be positive, got {max_primitive_steps}")
        if obs_radius < 0:
            raise ValueError(f"obs_radius must be 0 or more, got {obs_radius}")
        self.max_primitive_steps = int(max_primitive_steps)
        self.obs_radius = int(obs_radius)
        self.split = split
        self.kitchen = parse_layout(self.recipe.layout)
        self.rules = KitchenRules(self.kitchen, self.recipe, self.obs_radius)
        self.tasks = (self.recipe.task_id,)
        #: TWOSOME's macro-action names, in TWOSOME's order.
        self.macro_actions: tuple[str, ...] = macro_actions(self.kitchen)
        self.observation_space = text_space()
        self.action_space = text_space(64)
        self._task = 0
        self._state: KitchenState | None = None
        self._turns = 0
        self._primitive_total = 0
        self._points = 0.0
        self._done = False

    def provenance(self) -> dict[str, Any]:
        return {
            "source": "re-implementation of TWOSOME's single-agent Overcooked, map A",
            "recipe": self.recipe.task_id,
            "layout": list(self.recipe.layout),
            "max_steps": self.max_steps,
            "max_primitive_steps": self.max_primitive_steps,
            "obs_radius": self.obs_radius,
        }

    # --- the state, as the rules and the text see it ------------------------------------------
    @property
    def _s(self) -> KitchenState:
        if self._state is None:
            raise RuntimeError("call reset() first")
        return self._state

    def _pos(self, item: str) -> Pos:
        """Where an item is: in hand, in the bowl, on a board, or on its starting table."""
        return self.rules.pos(self._s, item)

    def _chopped(self, food: str) -> bool:
        return self.rules.chopped(self._s, food)

    def _describe(self) -> str:
        return text.describe(self.rules, self._s)

    def _commands(self) -> dict[str, str]:
        """Admissible command → macro-action, in TWOSOME's order."""
        return text.commands(self.rules, self._s, self.macro_actions)

    # --- gymnasium API ---------------------------------------------------------------------------
    def _info(self, **extra: Any) -> dict[str, Any]:
        s = self._s
        won = s.delivered
        commands = self._commands()
        info = self._base_info(
            self._task, admissible=commands, task=self.recipe.task_text, won=won, lost=False,
            score=round(self._points, 10),
            max_score=round(DELIVERY_REWARD + CHOP_REWARD * len(self.recipe.needed), 10))
        info["total_primitive_steps"] = self._primitive_total
        if not won:
            info["expert_action"] = text.phrase(self.rules, s, expert_macro(self.rules, s))
        info.update(extra)
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> ResetResult:
        super().reset(seed=seed)
        self._task = self._choose_task(options)
        self._state = KitchenState(
            agent=self.kitchen.agent_start,
            on_knife=[None] * len(self.kitchen.knives),
            chops={f: 0 for f in self.kitchen.foods},
        )
        self._turns = 0
        self._primitive_total = 0
        self._points = 0.0
        self._done = False
        return self._describe(), self._info()

    def _parse_command(self, action: str) -> str | None:
        command = " ".join(str(action).strip().lower().rstrip(".").split())
        macro = self._commands().get(command)
        if macro is None and command in self.macro_actions:
            macro = command
        return macro

    def step(self, action: str) -> StepResult:
        if self._state is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._turns += 1
        macro = self._parse_command(action)
        if macro is None:
            truncated = self._turns >= self.max_steps
            self._done = truncated
            obs = text.invalid_command(self._commands(), self._describe())
            info = self._info(invalid_action=True, macro_action=None, primitive_steps=0)
            return obs, 0.0, False, truncated, info
        reward, steps, events = self.rules.run_macro(self._s, macro)
        self._primitive_total += steps
        for event in events:
            self._points += event
        won = self._s.delivered
        truncated = not won and (self._turns >= self.max_steps
                                 or self._primitive_total >= self.max_primitive_steps)
        self._done = won or truncated
        obs = text.served(self.rules, self._s) if won else self._describe()
        info = self._info(invalid_action=False, macro_action=macro, primitive_steps=steps)
        return obs, float(reward), won, truncated, info
