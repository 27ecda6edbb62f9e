"""Suites: named, versioned lists of envs with their settings, stored as data in envs/suites/.

A suite file has `kind = "suite"`, a `name` (ending in -vN), a `description`, and one
[[env]] table per env with its `id` and optional `kwargs` (step limits, task counts). The
train/test splits belong to each env (seed ranges or split files), so a suite pins them by
pinning env ids and kwargs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from priorbench.core.errors import UserError
from priorbench.core.registry import close_matches

SUITES_DIR = Path(__file__).resolve().parent / "suites"


@dataclass(frozen=True)
class SuiteEnv:
    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    envs: tuple[SuiteEnv, ...]


def _suite_files() -> dict[str, Path]:
    found = {}
    for path in sorted(SUITES_DIR.glob("*.toml")):
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        if data.get("kind") == "suite":
            found[data["name"]] = path
    return found


def suite_names() -> list[str]:
    return sorted(_suite_files())


def load_suite(name: str) -> Suite:
    """A suite by name, its env ids checked against the registry."""
    from priorbench import envs

    files = _suite_files()
    if name not in files:
        raise UserError(f"unknown suite {name!r}.{close_matches(name, list(files))} "
                        "`priorbench list suites` shows them all.")
    with open(files[name], "rb") as fh:
        data = tomllib.load(fh)
    entries = tuple(SuiteEnv(e["id"], dict(e.get("kwargs", {}))) for e in data.get("env", []))
    for entry in entries:
        envs.check_env_id(entry.id)
    return Suite(name, data.get("description", ""), entries)
