"""What a task is: the six task types, a generated task (GenTask) and a goal (Goal).

See docs/envs/alfworld.md ("Tasks and splits"). No alfworld import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Goal:
    """A task's goal in ALFRED's terms (pddl_params), lower case like the game's names."""

    task_type: str  # priorbench name: Pick, Look, Clean, Heat, Cool, PickTwo
    object: str
    receptacle: str = ""
    toggle: str = ""

    @classmethod
    def from_traj_data(cls, traj: dict[str, Any]) -> Goal:
        names = {v: k for k, v in TASK_TYPES.items()}
        params = traj["pddl_params"]
        return cls(names[traj["task_type"]], str(params["object_target"]).lower(),
                   str(params.get("parent_target") or "").lower(),
                   str(params.get("toggle_target") or "").lower())
