"""The run-record schema, in one place: typed, versioned dataclasses for what a run folder holds.

    manifest.json   → Manifest   (its `spec` is a RunSpec: the run's identity, hashed)
    episodes.jsonl  → EpisodeRow (a played episode, train or eval) or GradientStepsRow (an
                      offline agent's stretch of gradient steps), one JSON object per line
    metrics         → RunSummary (one run's headline numbers, computed from the two above)

The runner builds these objects and `bench.records` writes their `to_json()`; the verifier
parses every file back with `from_json`, which refuses missing or mistyped fields with a
UserError naming the file, line and field. Readers (show, metrics, the leaderboard) get the
verified JSON objects, whose keys are the field names below (`return_` is written "return").
Bump SCHEMA_VERSION when a field changes meaning or a required field is added.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from priorbench.bench.labels import (  # noqa: F401 - re-exported: labels are read with the schema
    INIT_MARK,
    OWN_ENVS,
    UNIFORM_CONTROL,
    agent_label,
    base_agent,
    budget_label,
    budget_part,
    control_label,
    init_part,
    is_control,
    is_reduced,
    is_synthetic,
    prior_label,
    prior_part,
    row_id,
    source_label,
)
from priorbench.core.errors import UserError

SCHEMA_VERSION = 1


def _allowed(tp: Any) -> tuple[type, ...]:
    """The runtime types a JSON value may have for the annotation `tp`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(tp) for t in _allowed(arg))
    if origin is Literal:
        return tuple({type(v) for v in typing.get_args(tp)})
    if tp is float:
        return (int, float)
    if tp is type(None):
        return (type(None),)
    if tp is Any:
        return (object,)
    return (origin or tp,)


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, bool, tuple[type, ...], bool, tuple[Any, ...] | None], ...]:
    """What `_check` asks of each field of `cls`: (JSON key, required, allowed runtime types,
    whether bool is one of them, the Literal's values or None). Resolved once per class, not
    once per record (`typing.get_type_hints` per episode line was most of a build's time)."""
    hints, names = typing.get_type_hints(cls), getattr(cls, "JSON_NAMES", {})
    out = []
    for f in dataclasses.fields(cls):
        tp, allowed = hints[f.name], _allowed(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        literal = typing.get_args(tp) if typing.get_origin(tp) is Literal else None
        out.append((names.get(f.name, f.name), required, allowed, bool in allowed, literal))
    return tuple(out)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_timing(timing: Any, where: str) -> None:
    """A timing field's parts that summaries add up: wall_s numbers, counters of numbers."""
    parts = [timing, *([timing["setup"]] if isinstance(timing, dict) and "setup" in timing else [])]
    for part in parts:
        counters = part.get("counters", {}) if isinstance(part, dict) else None
        if not (isinstance(part, dict) and _number(part.get("wall_s", 0)) and isinstance(counters, dict)
                and all(_number(v) for v in counters.values())):
            raise UserError(f"{where} has no valid 'timing' (schema mismatch)")


def _check(cls: type, data: Any, where: str) -> None:
    """Every field of `cls` without a default is present in `data`, and every field given has
    its annotated JSON type (bool is not accepted as a number)."""
    if not isinstance(data, dict):
        raise UserError(f"{where} is not a JSON object")
    for key, required, allowed, bool_allowed, literal in _fields(cls):
        if key not in data:
            if required:
                raise UserError(f"{where} has no {key!r} (schema mismatch)")
            continue
        value = data[key]
        if (not isinstance(value, allowed) or (not bool_allowed and isinstance(value, bool))
                or (literal is not None and value not in literal)):
            raise UserError(f"{where} has no valid {key!r} (schema mismatch)")


def _build(cls: type, data: dict[str, Any]) -> Any:
    names = getattr(cls, "JSON_NAMES", {})
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{n: data[names.get(n, n)] for n in known if names.get(n, n) in data})


# --- manifest.json ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RunBudget:
    steps: int
    eval_every: int
    eval_episodes: int
    checkpoint_every: int


@dataclass(frozen=True)
class RunSpec:
    """A run's identity (manifest `spec`): what must match for a folder to be resumed or reused;
    its canonical-JSON sha256 is the manifest's `spec_hash`."""

    env_id: str
    env_kwargs: dict[str, Any]
    agent: str
    agent_params: dict[str, Any]
    seed: int
    budget: dict[str, Any]
    init_from: dict[str, Any] | None = None
    """A run started from another's learned state: that run's facts (`records.source_facts`)
    and whether its optimiser came too. Absent for a run started from scratch."""

    @classmethod
    def check(cls, data: Any, where: str) -> None:
        _check(cls, data, f"{where}: spec")
        _check(RunBudget, data["budget"], f"{where}: spec.budget")
        if data.get("init_from") is not None:
            _check_source(data["init_from"], f"{where}: spec.init_from")


#: `RunSpec.init_from`'s keys and their types (`records.source_facts` and the optimizer flag).
SOURCE_FIELDS = {"run": str, "env": str, "label": str, "agent": str, "config": str, "seed": int, "env_steps": int,
                 "episodes_sha256": str, "learned_sha256": str, "optimizer": bool}


def _check_source(data: Any, where: str) -> None:
    """A transfer run's source facts, by key and type: checksums of 64 hex digits, a label that
    is a row id (no whitespace: it becomes part of the run's label)."""
    if not isinstance(data, dict) or set(data) != set(SOURCE_FIELDS) or not all(
            isinstance(data[k], t) and (t is bool or not isinstance(data[k], bool)) for k, t in SOURCE_FIELDS.items()):
        raise UserError(f"{where} is not a source run's facts (keys {', '.join(SOURCE_FIELDS)}; schema mismatch)")
    digests = [data[k] for k in ("config", "episodes_sha256", "learned_sha256")]
    if not all(len(d) == 64 and all(c in "0123456789abcdef" for c in d) for d in digests) or (
            not data["label"] or any(c.isspace() for c in data["label"])):
        raise UserError(f"{where} has no valid checksums or label (schema mismatch)")


@dataclass(frozen=True)
class Manifest:
    """manifest.json. Written when a run starts (status "running") and when it completes."""

    schema_version: int
    spec: dict[str, Any]
    """The RunSpec as JSON (kept as plain data: it is hashed byte for byte)."""
    spec_hash: str
    spec_name: str
    env: dict[str, Any]
    """id, version, kwargs, train/test task ids and the envs' provenance (game-file hashes)."""
    suite: str | None
    """The suite the run belongs to (None: none). Absent from manifests written before suites."""
    agent: dict[str, Any]
    """name and resolved params."""
    budget_unit: Literal["env_steps", "gradient_steps"]
    seed: int
    seeding: str
    packages: dict[str, Any]
    git_commit: str | None
    machine: dict[str, Any]
    status: Literal["running", "complete"]
    episodes_sha256: str | None
    resumed: int = 0
    """How many times the run was resumed from a checkpoint."""
    agent_provenance: dict[str, Any] | None = None
    """Complete runs: the agent's facts (prior model and weights hash, template, dataset)."""
    timing: dict[str, Any] | None = None
    """Complete runs: wall_s and the finish time (differ between identical runs)."""
    final_env_steps: int | None = None
    """Complete runs: env steps (or gradient steps) trained."""
    learned_sha256: str | None = None
    """Complete runs that kept their learned state (`Spec.keep_learned`): the sha256 of
    learned.safetensors, the file a run started from it reads (`init_from`)."""
    absent: tuple[str, ...] = field(default=(), compare=False)
    """Optional keys the parsed file did not have (not written back): older manifests."""

    _ONLY_WHEN_COMPLETE: ClassVar[tuple[str, ...]] = ("agent_provenance", "timing", "final_env_steps",
                                                       "learned_sha256")
    _OPTIONAL_IN_FILES: ClassVar[tuple[str, ...]] = ("suite",)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in (*self._ONLY_WHEN_COMPLETE, "absent"):
            if data[key] is None or key == "absent":
                del data[key]
        for key in self.absent:
            del data[key]
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> Manifest:
        """Parse and check a manifest: fields and types, and that its parts agree."""
        from priorbench.core.config import config_hash

        if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
            raise UserError(f"{where}: schema version {data.get('schema_version')!r}, "
                            f"expected {SCHEMA_VERSION}")
        if isinstance(data, dict) and not isinstance(data.get("spec"), dict):
            raise UserError(f"{where}: manifest.json has no spec (schema mismatch)")
        absent = tuple(k for k in cls._OPTIONAL_IN_FILES if isinstance(data, dict) and k not in data)
        if isinstance(data, dict):
            data = {**{k: None for k in absent}, **data}
        _check(cls, data, f"{where}: manifest.json")
        if data["status"] == "complete":  # what a finished run adds, by type
            if not (isinstance(data.get("final_env_steps"), int) and data["final_env_steps"] >= 0
                    and isinstance(data.get("agent_provenance"), dict) and isinstance(data.get("timing"), dict)):
                raise UserError(f"{where}: manifest.json of a complete run has no valid final_env_steps, "
                                "agent_provenance or timing (schema mismatch)")
            _check_timing(data["timing"], f"{where}: manifest.json")
        learned = data.get("learned_sha256")
        if learned is not None and not (isinstance(learned, str) and len(learned) == 64
                                        and all(c in "0123456789abcdef" for c in learned)):
            raise UserError(f"{where}: manifest.json has no valid 'learned_sha256' (schema mismatch)")
        RunSpec.check(data["spec"], where)
        spec = data["spec"]
        if data["spec_hash"] != config_hash(spec):
            raise UserError(f"{where}: spec_hash does not match the manifest's spec (edited manifest)")
        if data["env"].get("id") != spec["env_id"]:
            raise UserError(f"{where}: env.id does not match spec.env_id (edited manifest)")
        if data["agent"].get("name") != spec["agent"]:
            raise UserError(f"{where}: agent.name does not match spec.agent (edited manifest)")
        if data["seed"] != spec["seed"]:
            raise UserError(f"{where}: seed does not match spec.seed (edited manifest)")
        return dataclasses.replace(_build(cls, data), absent=absent)


# --- episodes.jsonl --------------------------------------------------------------------------

@dataclass(frozen=True)
class EpisodeRow:
    """A played episode: phase "train" (explore=True, observed and learned from) or "eval"."""

    phase: Literal["train", "eval"]
    episode: int
    """Index within its phase (eval: within its round)."""
    env_steps: int
    """Training env steps taken so far (eval: when the round started)."""
    task: str | None
    return_: float
    success: bool
    length: int
    score: float
    max_score: float
    invalid_actions: int
    truncated: bool
    counters: dict[str, Any]
    """Deterministic per-episode counter deltas (volatile ones live under `timing`)."""
    timing: dict[str, Any]
    """wall_s and volatile counters: they differ between identical runs."""
    eval_round: int | None = None
    update: dict[str, float] | None = None
    """Training episodes: the mean of each metric `update()` returned during the episode."""
    cut_by_budget: bool = False
    error: str | None = None
    """The env reported an error (e.g. a step timeout): the episode ended there."""

    JSON_NAMES: ClassVar[dict[str, str]] = {"return_": "return"}
    _OPTIONAL: ClassVar[dict[str, Any]] = {"eval_round": None, "update": None,
                                           "cut_by_budget": False, "error": None}

    def to_json(self) -> dict[str, Any]:
        data = {self.JSON_NAMES.get(k, k): v for k, v in dataclasses.asdict(self).items()}
        for key, unset in self._OPTIONAL.items():
            if data[key] == unset and not (key == "eval_round" and self.phase == "eval"):
                del data[key]
        return data

    @classmethod
    def check(cls, data: Any, where: str) -> None:
        _check(cls, data, where)
        _check_timing(data.get("timing", {}), where)
        if data["phase"] == "eval" and not isinstance(data.get("eval_round"), int):
            raise UserError(f"{where} is an eval episode without eval_round")

    @classmethod
    def from_json(cls, data: Any, where: str) -> EpisodeRow:
        cls.check(data, where)
        return _build(cls, data)


@dataclass(frozen=True)
class GradientStepsRow:
    """An offline agent's training stretch between evaluations: gradient steps, no episode."""

    phase: Literal["train"]
    episode: int
    env_steps: int
    """Gradient steps so far (the budget's unit for offline agents)."""
    length: int
    """Gradient steps in this stretch."""
    unit: Literal["gradient_steps"]
    update: dict[str, float]
    timing: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def check(cls, data: Any, where: str) -> None:
        _check(cls, data, where)
        _check_timing(data.get("timing", {}), where)

    @classmethod
    def from_json(cls, data: Any, where: str) -> GradientStepsRow:
        cls.check(data, where)
        return _build(cls, data)


Row = EpisodeRow | GradientStepsRow


def row_type(data: Any) -> type[EpisodeRow] | type[GradientStepsRow]:
    """The row type an episodes.jsonl object declares."""
    return GradientStepsRow if isinstance(data, dict) and data.get("unit") == "gradient_steps" else EpisodeRow


def parse_row(data: Any, where: str) -> Row:
    """One episodes.jsonl object as the row type it declares."""
    return row_type(data).from_json(data, where)


def check_row(data: Any, where: str) -> None:
    """`parse_row`'s checks without building the object (verifying a run reads every line)."""
    row_type(data).check(data, where)


# --- metrics ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSummary:
    """One run's headline numbers (bench.metrics.summarise): final test success and return,
    the learning curve, sample efficiency and the budget used."""

    env: str
    env_version: str | None
    agent: str
    seed: int
    success: float
    """Test success of the last evaluation round."""
    return_: float
    normalised_return: float
    task_success: dict[str, float]
    task_normalised_return: dict[str, float]
    curve: list[tuple[int, dict[str, float]]]
    """(env steps, test success by task) at each evaluation round."""
    budget_steps: int
    auc: float
    steps_to_threshold: int | None
    env_steps: int
    eval_episodes: int
    llm_calls: float
    llm_tokens: float
    wall_s: float

    def as_dict(self) -> dict[str, Any]:
        """The summary as the plain dict `metrics.run_summary` returns ("return" for return_)."""
        return {("return" if k == "return_" else k): getattr(self, k)
                for k in (f.name for f in dataclasses.fields(self))}


#: The words of a manifest's `seeding` line that say evaluation drew from streams of its own
#: (issue 28; `bench.runner.SEEDING`).
EVAL_STREAMS_MARK = "'eval-rng'"


def made_before_eval_streams(manifest: dict[str, Any]) -> bool:
    """True for a run made before evaluation had its own random streams: its evaluations drew
    from the training RNG, so for an agent that draws at evaluation a re-run gives other records."""
    return EVAL_STREAMS_MARK not in str(manifest.get("seeding", ""))


def test_split(manifest: dict[str, Any]) -> str:
    """What a run's test tasks are, from its manifest: "held out" (no test task is a train
    task), "train = test" (the same tasks: a single-task env), or "overlap"."""
    env = manifest.get("env") or {}
    train, test = set(map(str, env.get("train_tasks") or [])), set(map(str, env.get("test_tasks") or []))
    if train and train == test:
        return "train = test"
    return "held out" if not train & test else "overlap"
