"""The evaluation protocol as data (`leaderboard/protocol.toml`): which envs, budgets, evaluation
schedule and seeds make a result comparable with the committed baselines, and the check that
refuses a run made otherwise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from priorbench.bench.schema import test_split
from priorbench.core.config import build_config, read_toml
from priorbench.core.errors import UserError

#: A run's spec_name under `priorbench evaluate`: "protocol:<name>@<version>" (official) or
#: "unofficial:<name>@<version>" (budget changed with --unofficial).
OFFICIAL, UNOFFICIAL = "protocol", "unofficial"


#: The tracks of a protocol's envs, and the test episodes a headline env plays each round.
HEADLINE, SINGLE_TASK = "headline", "single-task"
MIN_TEST_EPISODES = 20


@dataclass(frozen=True)
class ReducedBudget:
    steps: int
    """A smaller training budget some families may run on this env (their own table)."""
    eval_every: int
    """Steps between evaluations at that budget."""
    agents: tuple[str, ...] = ()
    """The registered agents allowed it (e.g. the LLM-policy agents on a CPU)."""
    why: str = ""
    """Why the full budget does not fit (shown nowhere else: say it here)."""


@dataclass(frozen=True)
class EnvTerms:
    id: str
    """Registered env id."""
    steps: int
    """Training budget (env steps; gradient steps for offline agents)."""
    eval_every: int
    """Steps between evaluations."""
    eval_episodes: int = 1
    """Evaluation episodes per test task."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Env settings (none: the registered defaults)."""
    reduced: tuple[ReducedBudget, ...] = ()
    """Smaller budgets allowed to the named agents; the build tabulates those rows apart."""
    track: str = ""
    """HEADLINE (test tasks held out from training, ≥ MIN_TEST_EPISODES a round: ranked) or
    SINGLE_TASK (the one task trained and tested on: the labelled train = test track); "" for
    the protocols before core-v1, which named no tracks (nothing checked)."""


@dataclass(frozen=True)
class Protocol:
    name: str
    """The protocol's name (a leaderboard track)."""
    version: int
    """Bumped whenever a term changes."""
    seeds: tuple[int, ...]
    """The seeds every agent runs."""
    env: tuple[EnvTerms, ...]
    """The envs and their budgets."""

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def terms(self, env_id: str) -> EnvTerms | None:
        return next((t for t in self.env if t.id == env_id), None)


def load_protocol(path: Path) -> Protocol:
    data = read_toml(path, what="protocol file")
    protocol: Protocol = build_config(Protocol, data, where=str(path))
    if not protocol.env or not protocol.seeds:
        raise UserError(f"{path}: a protocol needs [[env]] tables and seeds")
    for terms in protocol.env:
        if terms.track not in (HEADLINE, SINGLE_TASK, ""):
            raise UserError(f"{path}: env {terms.id}: track {terms.track!r} is not {HEADLINE!r} or {SINGLE_TASK!r}")
    return protocol


def track_problem(manifest: dict[str, Any], terms: EnvTerms) -> str | None:
    """Why a finished run breaks its env's track (None when it does not): a headline env's test
    tasks must be disjoint from its train tasks and a round must play ≥ MIN_TEST_EPISODES of them;
    a single-task env's one task is both."""
    env = manifest.get("env") or {}
    split, episodes = test_split(manifest), len(env.get("test_tasks") or []) * terms.eval_episodes
    if terms.track == HEADLINE and split != "held out":
        return f"{terms.id} is a headline env, but this run's test tasks are {split}"
    if terms.track == HEADLINE and episodes < MIN_TEST_EPISODES:
        return f"{terms.id} is a headline env, but a round plays {episodes} test episodes (< {MIN_TEST_EPISODES})"
    if terms.track == SINGLE_TASK and split != "train = test":
        return f"{terms.id} is in the single-task track, but this run's test tasks are {split}"
    return None


def refusal(manifest: dict[str, Any], protocol: Protocol) -> str | None:
    """Why a run does not follow `protocol` (None when it does)."""
    spec = manifest["spec"]
    name = str(manifest.get("spec_name", ""))
    if name.startswith(UNOFFICIAL + ":"):
        return f"an unofficial run ({name}: its budget differs from protocol {protocol.label})"
    if name.startswith(OFFICIAL + ":") and name != f"{OFFICIAL}:{protocol.label}":
        return f"made under {name.split(':', 1)[1]}, not protocol {protocol.label}"
    terms = protocol.terms(spec["env_id"])
    if terms is None:
        return f"env {spec['env_id']} is not in protocol {protocol.label}"
    budget = spec["budget"]
    agent = str(manifest.get("agent", {}).get("name", ""))
    allowed = [terms] + [r for r in terms.reduced if agent in r.agents]
    if not any(budget.get("steps") == t.steps and budget.get("eval_every") == t.eval_every for t in allowed):
        for key in ("steps", "eval_every"):
            if budget.get(key) != getattr(terms, key):
                return f"budget.{key} = {budget.get(key)}, protocol {protocol.label} says {getattr(terms, key)}"
    if budget.get("eval_episodes") != terms.eval_episodes:
        return (f"budget.eval_episodes = {budget.get('eval_episodes')}, protocol {protocol.label} "
                f"says {terms.eval_episodes}")
    if dict(spec.get("env_kwargs") or {}) != dict(terms.kwargs):
        return f"env settings {spec.get('env_kwargs')} differ from protocol {protocol.label}'s {terms.kwargs}"
    problem = track_problem(manifest, terms)
    if problem is not None:
        return problem
    if int(spec["seed"]) not in protocol.seeds:
        return f"seed {spec['seed']} is not one of protocol {protocol.label}'s seeds {list(protocol.seeds)}"
    return None
