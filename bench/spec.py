"""Experiment specs: TOML files (data, no code) → frozen dataclasses, CLI overrides, spec hashes."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from priorbench.core.config import build_config, check_plain, parse_value, read_toml
from priorbench.core.errors import UserError
from priorbench.core.registry import close_matches

#: The most evaluation episodes per test task and round (more is a typo, not a protocol).
EVAL_EPISODES_LIMIT = 10_000


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
    keep_learned: bool = False
    """Keep each finished run's learned state (the value agents' Q network, its target and
    optimiser) as learned.safetensors beside its records, for `init_from`; not part of a run's
    identity."""
    init_from: str = ""
    """Start every run from a finished run's learned state: that run's folder
    (<out>/<env-id>/<agent>/seed<k>, made with keep_learned); "{seed}" in it becomes each run's
    seed. The run then trains and is evaluated under its own env, prior and budget; its step-0
    evaluation is the source's Q without further training. Part of the run's identity."""
    init_optimizer: bool = False
    """With init_from: the source's Adam state too (default: a fresh optimiser)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- specs ---------------------------------------------------------------------------------

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
            if len(parts) < 3:
                raise UserError(f"--set {key}: agent settings look like agent.<name>.<param>=value "
                                "(or agent.<name>.<param>.<key>=value inside a table such as prior_params)")
            names = list(data.get("agents", [])) if parts[1] == "*" else [parts[1]]
            for name in names:  # agent.*.<param> sets it for every agent of the spec
                table = data.setdefault("agent", {}).setdefault(name, {})
                for part in parts[2:-1]:  # agent.<name>.prior_params.q: a key inside a table
                    inner = table.setdefault(part, {})
                    if not isinstance(inner, dict):
                        raise UserError(f"--set {key}: agent.{name}.{part} is {inner!r}, not a table")
                    table = inner
                table[parts[-1]] = value
        else:
            if len(parts) != 1:
                raise UserError(f"--set {key}: {head} has no sub-keys")
            data[head] = value
    return data


#: Longest spec name, env id, agent name or suite name (each is copied into every run's manifest).
NAME_LIMIT = 200
#: Longest string anywhere in a spec (a path, a model id, a setting's text).
TEXT_LIMIT = 4096


def spec_from_dict(data: dict[str, Any], *, where: str) -> Spec:
    """Validate plain data into a Spec (unknown keys, wrong types and bad budgets refused)."""
    check_plain(data, where)
    _check_text(data, where, "")
    spec: Spec = build_config(Spec, data, where=where)
    for key, names in (("name", [spec.name]), ("suite", [spec.suite]), ("envs", spec.envs),
                       ("agents", spec.agents)):
        for name in names:
            if len(name) > NAME_LIMIT:
                raise UserError(f"{where}: {key} {name[:40]!r}… is {len(name)} characters long, over the "
                                f"{NAME_LIMIT}-character limit; give a short name")
    budget = spec.budget if isinstance(spec.budget, Budget) else Budget()
    for name in ("steps", "eval_every", "eval_episodes", "checkpoint_every"):
        if getattr(budget, name) <= 0:
            raise UserError(f"{where}: budget.{name} must be a positive integer, got {getattr(budget, name)}")
    if budget.eval_episodes > EVAL_EPISODES_LIMIT:  # each round plays this many per test task
        raise UserError(f"{where}: budget.eval_episodes must be at most {EVAL_EPISODES_LIMIT:,} per test task, "
                        f"got {budget.eval_episodes:,}; add test tasks instead")
    if not spec.envs and not spec.suite:
        raise UserError(f"{where}: no envs given (envs = [...] or suite = \"core-v0\" in the spec, or --env ID / --suite NAME)")
    if not spec.agents:
        raise UserError(f"{where}: no agents given (agents = [...] in the spec, or --agent NAME)")
    if not spec.seeds:
        raise UserError(f"{where}: no seeds given")
    for seed in spec.seeds:
        if not 0 <= seed < 2**32:
            raise UserError(f"{where}: seed {seed} is out of range; seeds are integers from 0 to {2**32 - 1}")
    repeated = sorted({s for s in spec.seeds if spec.seeds.count(s) > 1})
    if repeated:
        raise UserError(f"{where}: seed {repeated[0]} is given twice; each seed is one run, list it once")
    for agent_name, params in spec.agent.items():
        if not isinstance(params, dict):
            raise UserError(f"{where}: agent.{agent_name} must be a table of parameters")
    if spec.init_optimizer and not spec.init_from:
        raise UserError(f"{where}: init_optimizer needs init_from (the finished run to start from)")
    if spec.init_from and SEED_FIELD not in spec.init_from and len(spec.seeds) > 1:
        raise UserError(f"{where}: init_from = {spec.init_from!r} names one run for {len(spec.seeds)} seeds, so they "
                        f"would not be independent; put {SEED_FIELD} in it (seed k starts from the source's seed k)")
    if spec.init_from.replace(SEED_FIELD, "").count("{") or spec.init_from.replace(SEED_FIELD, "").count("}"):
        raise UserError(f"{where}: init_from = {spec.init_from!r}: the only field it may hold is {SEED_FIELD} "
                        "(each run's seed)")
    return spec


#: What `Spec.init_from` may hold for each run's own seed.
SEED_FIELD = "{seed}"


def _check_text(value: Any, where: str, key: str) -> None:
    """Refuse strings that are not valid Unicode (bytes of another encoding in argv or a path)
    or longer than TEXT_LIMIT."""
    if isinstance(value, str):
        if len(value) > TEXT_LIMIT:
            raise UserError(f"{where}: {key or 'a value'} = {value[:40]!r}… is {len(value)} characters "
                            f"long, over the {TEXT_LIMIT}-character limit for a spec's text; shorten it")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise UserError(f"{where}: {key or 'a value'} = {shown!r} holds bytes that are not UTF-8; "
                            "rename the file (or folder) to a UTF-8 name") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, where, key)
            _check_text(v, where, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list | tuple):
        for v in value:
            _check_text(v, where, key)


def load_spec_file(path: Path, overrides: list[str] | None = None) -> Spec:
    """Read a TOML spec, apply --set overrides, validate."""
    data = read_toml(path, what="spec file")
    return spec_from_dict(apply_overrides(data, overrides or [], where=str(path)), where=str(path))
