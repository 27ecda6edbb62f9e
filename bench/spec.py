"""Experiment specs: TOML files (data, no code) → frozen dataclasses, CLI overrides, spec hashes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError


@dataclass(frozen=True)
class Budget:
    """How long each (env, agent, seed) run trains and how it is evaluated."""

    steps: int = 2000
    """Training budget in environment steps."""
    eval_every: int = 500
    """Evaluate on the test tasks every this many training env steps (and at 0 and at the end)."""
    eval_episodes: int = 1
    """Evaluation episodes per test task at each evaluation."""
    checkpoint_every: int = 500
    """Checkpoint at the first episode end after this many env steps since the last one."""


@dataclass(frozen=True)
class Spec:
    """A whole experiment: envs × agents × seeds under one budget."""

    envs: tuple[str, ...] = ()
    """Env ids, e.g. "priorbench/FrozenLake-4x4-v0"."""
    suite: str = ""
    """A suite from envs/suites/ (its envs and their settings are run too), e.g. "core-v0"."""
    agents: tuple[str, ...] = ()
    """Agent names from the registry."""
    seeds: tuple[int, ...] = (0,)
    """One run per seed."""
    name: str = "run"
    """A label for the experiment (does not change run identity)."""
    budget: Budget = field(default_factory=Budget)
    env: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for every env (e.g. max_steps)."""
    agent: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-agent parameters: agent.<name>.<param>."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- typed construction of dataclasses from plain data -------------------------------------

def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check `value` against the annotation `tp`, converting lists to tuples and ints to floats."""
    origin = typing.get_origin(tp)
    bad = UserError(
        f"{where}: {key} must be {_type_name(tp)}, got {type(value).__name__} {value!r}"
    )
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is type(None) and value is None:
                return None
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key, where)
            except UserError:
                continue
        raise bad
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise UserError(f"{where}: {key} must be one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise bad
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        items = [_coerce(v, args[0], key, where) if args else v for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return build_config(tp, value, where=where, prefix=f"{key}.")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise bad
    return value


def build_config(cls: type, params: dict[str, Any], *, where: str, prefix: str = "") -> Any:
    """Instantiate dataclass `cls` from `params`, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - names)
    if unknown:
        from bench.registry import close_matches

        key = unknown[0]
        raise UserError(
            f"{where}: unknown setting {prefix}{key!r}.{close_matches(key, sorted(names))} "
            f"Known settings: {', '.join(sorted(names)) or '(none)'}."
        )
    values = {k: _coerce(v, hints[k], prefix + k, where) for k, v in params.items()}
    return cls(**values)


# --- specs ---------------------------------------------------------------------------------

def parse_value(text: str) -> Any:
    """A --set value: TOML syntax if it parses (numbers, booleans, lists), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str], *, where: str) -> dict[str, Any]:
    """Apply `key=value` overrides. Keys are spec fields, budget.<key>, env.<kwarg> or agent.<name>.<param>."""
    data = json.loads(json.dumps(data))  # a deep copy of plain data
    budget_keys = {f.name for f in dataclasses.fields(Budget)}
    top_keys = {f.name for f in dataclasses.fields(Spec)}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected key=value, e.g. --set budget.steps=500")
        value = parse_value(raw.strip())
        parts = key.split(".")
        if parts[0] in budget_keys and len(parts) == 1:
            parts = ["budget", parts[0]]  # a budget key may be given bare: --set steps=500
        head = parts[0]
        if head not in top_keys:
            from bench.registry import close_matches

            raise UserError(
                f"--set {key}: no such spec key.{close_matches(head, sorted(top_keys | budget_keys))} "
                "Use a spec field, budget.<key>, env.<kwarg> or agent.<name>.<param>."
            )
        if head == "budget":
            if len(parts) != 2 or parts[1] not in budget_keys:
                raise UserError(
                    f"--set {key}: budget keys are {', '.join(sorted(budget_keys))}"
                )
            data.setdefault("budget", {})[parts[1]] = value
        elif head == "env":
            if len(parts) != 2:
                raise UserError(f"--set {key}: env settings look like env.<kwarg>=value")
            data.setdefault("env", {})[parts[1]] = value
        elif head == "agent":
            if len(parts) != 3:
                raise UserError(f"--set {key}: agent settings look like agent.<name>.<param>=value")
            names = list(data.get("agents", [])) if parts[1] == "*" else [parts[1]]
            for name in names:  # agent.*.<param> sets it for every agent of the spec
                data.setdefault("agent", {}).setdefault(name, {})[parts[2]] = value
        else:
            if len(parts) != 1:
                raise UserError(f"--set {key}: {head} has no sub-keys")
            data[head] = value
    return data


def spec_from_dict(data: dict[str, Any], *, where: str) -> Spec:
    """Validate plain data into a Spec (unknown keys, wrong types and bad budgets refused)."""
    spec: Spec = build_config(Spec, data, where=where)
    budget = spec.budget if isinstance(spec.budget, Budget) else Budget()
    for name in ("steps", "eval_every", "eval_episodes", "checkpoint_every"):
        if getattr(budget, name) <= 0:
            raise UserError(f"{where}: budget.{name} must be a positive integer, got {getattr(budget, name)}")
    if not spec.envs and not spec.suite:
        raise UserError(f"{where}: no envs given (envs = [...] or suite = \"core-v0\" in the spec, or --env ID / --suite NAME)")
    if not spec.agents:
        raise UserError(f"{where}: no agents given (agents = [...] in the spec, or --agent NAME)")
    if not spec.seeds:
        raise UserError(f"{where}: no seeds given")
    for agent_name, params in spec.agent.items():
        if not isinstance(params, dict):
            raise UserError(f"{where}: agent.{agent_name} must be a table of parameters")
    return spec


def load_spec_file(path: Path, overrides: list[str] | None = None) -> Spec:
    """Read a TOML spec, apply --set overrides, validate."""
    if not path.is_file():
        raise UserError(f"spec file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"spec file {path} is not valid TOML: {exc}") from None
    return spec_from_dict(apply_overrides(data, overrides or [], where=str(path)), where=str(path))


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_hash(data: Any) -> str:
    """sha256 of the canonical JSON form: the identity of a run's configuration."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()
