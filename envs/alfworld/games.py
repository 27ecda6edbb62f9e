"""Game files: where a generated game lives in the cache, reading one back checked, and
generating one on first use (see docs/envs/alfworld.md, "Caching").
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from priorbench.core.errors import UserError
from priorbench.core.paths import cache_root, staging_folder
from priorbench.envs.alfworld.install import alfworld_paths
from priorbench.envs.alfworld.planner import solve
from priorbench.envs.alfworld.problem import build_grammar, build_problem, subgoal_problems
from priorbench.envs.alfworld.tasks import GENERATOR_VERSION, GenTask


def default_cache_dir() -> Path:
    """`$PRIORBENCH_CACHE/alfworld`, else `~/.cache/priorbench/alfworld`."""
    return cache_root() / "alfworld"


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
