"""`priorbench check agent NAME`: the agent contract, checked on a small env (like
`envs.check_text_env` for envs). Each rule that fails is one line naming the rule and the fix.

Rules: `config` (Config is a frozen dataclass, every field documented), `admissible` (act
returns one of the admissible commands, training and evaluation), `update` (finite float
metrics), `counters` (numbers), `seeded` (the same seed gives the same actions and metrics),
`state` (after training until a reward has come, state_dict → checkpoint file →
load_state_dict in a fresh agent restores every attribute — `state_difference` names the first
that differs — and gives the same next actions and metrics), `batched` (an agent that
declares `batched_eval` gives the same records when the runner plays its evaluation episodes
in lockstep as one at a time), `evaluation` (the runner evaluating every quarter or every half
of the check's steps — 50 or 100 by default — leaves the training episodes the same: what the
agent draws at evaluation comes from the streams the runner gives it), `writes` (nothing
written in the working folder).
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import inspect
import math
import numbers
import os
import random
import sys
import tempfile
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from priorbench import agents, envs
from priorbench.agents.base import Agent, Transition
from priorbench.core import seeding, statefile
from priorbench.core.errors import UserError

RULES = ("config", "admissible", "update", "counters", "seeded", "state", "batched", "evaluation", "writes")
#: Opt-in (`check agent --learns`): after training the agent ends clearly above where it started.
LEARNS = "learns"
#: The state rule trains its agent for half the check's steps and on until a reward has come, up
#: to this many times the check's steps (on the 4×4 lake at seed 0, count-q's first reward comes
#: at step 233; until then its Q table is all zeros, whether restored or not).
STATE_WARMUP = 2
#: How far above its start an agent must end to have learned (a success rate).
LEARNING_MARGIN = 0.2
# ("play": the agent raised while playing; the rule names the exception.)


class RuleFailed(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule


def _documented_fields(cls: type) -> set[str]:
    """Fields of a dataclass (and its dataclass bases) followed by a docstring in the source."""
    out: set[str] = set()
    for klass in cls.__mro__:
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, [*body[1:], None], strict=True):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(getattr(after, "value", None), ast.Constant)
                    and isinstance(after.value.value, str)):
                out.add(node.target.id)
    return out


def _check_config(cls: type[Agent]) -> None:
    config = cls.Config
    if not dataclasses.is_dataclass(config) or not config.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise RuleFailed("config", f"{cls.__name__}.Config must be a frozen dataclass "
                                   "(@dataclass(frozen=True)) so a run's settings cannot change")
    missing = sorted({f.name for f in dataclasses.fields(config)} - _documented_fields(config))
    if missing:
        raise RuleFailed("config", f"fields without a docstring: {', '.join(missing)}; put a one-line "
                                   "\"\"\"docstring\"\"\" under each field (priorbench shows them)")


def _finite(metrics: Any, what: str, rule: str) -> None:
    if not isinstance(metrics, dict):
        raise RuleFailed(rule, f"{what} returned {type(metrics).__name__}, not a dict of numbers")
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
            raise RuleFailed(rule, f"{what}[{key!r}] = {value!r} is not a finite number; return floats")


def _run_records(name: str, env_id: str, budget: Any, out: Path, *, seed: int, env_kwargs: dict[str, Any],
                 params: dict[str, Any] | None, eval_batch: int = 1, strip: bool = True) -> list[dict[str, Any]]:
    """One run of `name` through the runner into `out`, and its episode records (timing and
    volatile counters stripped unless `strip` is False)."""
    from priorbench.bench import records
    from priorbench.bench.runner import RunJob, execute

    job = RunJob(env_id, name, seed, budget, out, env_kwargs=dict(env_kwargs), agent_params=dict(params or {}),
                 eval_batch=eval_batch)
    played = records.read_episodes(execute(job, progress=False) / records.EPISODES).records
    return records.strip_timing(played) if strip else played


def _play(agent: Agent, env_id: str, env_kwargs: dict[str, Any], *, steps: int, seed: int,
          log: list[Any] | None = None, check: bool = True, until_reward: int = 0) -> list[Any]:
    """Train `agent` for `steps` env steps (and on, up to `until_reward` steps in all, until a
    training reward ≠ 0 has come: then learning has moved it), then one greedy test episode;
    returns what it did."""
    trace: list[Any] = [] if log is None else log
    for split, explore, budget in (("train", True, steps), ("test", False, 50)):
        env = envs.make(env_id, split=split, **env_kwargs)
        done_steps, episode, rewarded, longest = 0, 0, False, until_reward if explore else 0
        while done_steps < budget or (not rewarded and done_steps < longest):
            agent.reset_episode(explore=explore)
            obs, info = env.reset(seed=seeding.derive_seed(seed, split, episode))
            episode += 1
            done = False
            while not done and (done_steps < budget or (not rewarded and done_steps < longest)):
                action = agent.act(obs, info, explore=explore)
                if check and action not in info["admissible_commands"]:
                    raise RuleFailed("admissible", f"act returned {action!r}, which is not among the "
                                                   f"{len(info['admissible_commands'])} admissible commands "
                                                   "(info['admissible_commands']); choose one of them")
                nobs, reward, terminated, truncated, ninfo = env.step(action)
                trace.append(action)
                rewarded = rewarded or float(reward) != 0.0
                if explore:
                    agent.observe(Transition(obs, info, action, float(reward), nobs, ninfo, terminated, truncated))
                    metrics = agent.update()
                    if check:
                        _finite(metrics, "update()", "update")
                    trace.append(sorted(metrics.items()))
                    counters = agent.counters()
                    if check:
                        _finite(counters, "counters()", "counters")
                obs, info, done = nobs, ninfo, terminated or truncated
                done_steps += 1
        env.close()
    return trace


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _generator_state(value: Any) -> Any:
    """A random generator's state (None for anything else)."""
    if isinstance(value, np.random.Generator):
        return value.bit_generator.state
    if isinstance(value, np.random.RandomState):
        return value.get_state(legacy=False)
    if isinstance(value, random.Random):
        return value.getstate()
    torch = sys.modules.get("torch")
    return value.get_state() if torch is not None and isinstance(value, torch.Generator) else None


def _attributes(obj: Any) -> dict[str, Any]:
    """An object's attributes: its __dict__ and its __slots__."""
    found = dict(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        slots = getattr(klass, "__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                found.setdefault(slot, getattr(obj, slot))
    return found


def state_difference(saved: Any, loaded: Any, *, counters: frozenset[str] = frozenset(),
                     path: str = "agent") -> tuple[str, str] | None:
    """The first place where `loaded` (an agent that load_state_dict restored) differs from
    `saved` (the agent its state_dict came from): its attribute path (`agent.q`,
    `agent.net['fc.weight']`) and how it differs; None when they agree. Walks attributes, dicts,
    sequences, arrays, tensors and the states of generators, modules and optimizers. Not compared: attributes a class names in
    its `transient` (`Agent.transient`), entries named like one of the agent's `counters` (the
    runner counts from where they stand), objects both share, callables, and opaque handles."""
    torch = sys.modules.get("torch")
    seen: dict[tuple[int, int], tuple[Any, Any]] = {}  # (the pair kept alive: ids stay unique)

    def differs(a: Any, b: Any, where: str) -> tuple[str, str] | None:  # noqa: PLR0911, PLR0912
        if a is b or (id(a), id(b)) in seen:
            return None
        seen[id(a), id(b)] = (a, b)
        if (drawn := _generator_state(a)) is not None and type(a) is type(b):
            same = differs(drawn, _generator_state(b), where) is None
            return None if same else (where, "a random generator in another state in the reloaded agent")
        if torch is not None and isinstance(a, torch.nn.Module | torch.optim.Optimizer) and type(a) is type(b):
            a, b = a.state_dict(), b.state_dict()  # weights and buffers; an optimizer's moments and steps
        a, b = (x.item() if isinstance(x, np.generic) else x for x in (a, b))
        if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
            same = a == b or (a != a and b != b)  # noqa: PLR0124 - NaN is NaN here
            return None if same else (where, f"{_shown(a)} in the saved agent, {_shown(b)} in the reloaded one")
        if type(a) is not type(b):
            return where, f"a {type(a).__name__} in the saved agent, a {type(b).__name__} in the reloaded one"
        if isinstance(a, np.ndarray) or (torch is not None and isinstance(a, torch.Tensor)):
            if a.shape != b.shape or a.dtype != b.dtype:
                return where, (f"shape {tuple(a.shape)} {a.dtype} in the saved agent, {tuple(b.shape)} {b.dtype} "
                               "in the reloaded one")
            if isinstance(a, np.ndarray):
                same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
            else:
                same = bool(torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                                   and torch.equal(a.nan_to_num(), b.nan_to_num())))
            return None if same else (where, "other values in the reloaded agent")
        if isinstance(a, str | bytes | type(None)):
            return None if a == b else (where, f"{_shown(a)} in the saved agent, {_shown(b)} in the reloaded one")
        if isinstance(a, dict):
            if len(a) != len(b):
                return where, f"{len(a)} entries in the saved agent, {len(b)} in the reloaded one"
            if missing := [key for key in a if key not in b]:
                return where, f"key {_shown(missing[0])} is missing from the reloaded agent"
            return next((d for key in a if not (isinstance(key, str) and key in counters)
                         if (d := differs(a[key], b[key], f"{where}[{_shown(key)}]"))), None)
        if isinstance(a, list | tuple | collections.deque):
            if len(a) != len(b):
                return where, f"{len(a)} items in the saved agent, {len(b)} in the reloaded one"
            return next((d for i, (x, y) in enumerate(zip(a, b, strict=True))
                         if (d := differs(x, y, f"{where}[{i}]"))), None)
        if isinstance(a, set | frozenset):
            return None if a == b else (where, "other members in the reloaded agent")
        if isinstance(a, type | types.ModuleType | types.FunctionType | types.MethodType | types.BuiltinFunctionType):
            return None  # code: nothing a checkpoint carries
        skip = set(getattr(type(a), "transient", ())) | counters
        mine, theirs = _attributes(a), _attributes(b)  # (none for handles: files, connections)
        for key in mine:
            if key in skip:
                continue
            if key not in theirs:
                return f"{where}.{key}", "missing from the reloaded agent"
            if d := differs(mine[key], theirs[key], f"{where}.{key}"):
                return d
        return None

    return differs(saved, loaded, path)


def check_agent(name: str, env_id: str = "priorbench/FrozenLake-4x4-v0", *, params: dict[str, Any] | None = None,
                env_kwargs: dict[str, Any] | None = None, steps: int = 200, seed: int = 0,
                progress: Callable[[str], None] | None = None) -> list[str]:
    """The rules `name` breaks on `env_id` ([] when it keeps them all), one line each."""
    envs.check_env_id(env_id)
    env_kwargs = dict(env_kwargs or {})
    cls: type[Agent] = agents.AGENTS.load(name)
    failures: list[str] = []

    def rule(rule_name: str, body: Callable[[], None]) -> None:
        if progress is not None:
            progress(f"check {rule_name} …")
        try:
            body()
        except RuleFailed as exc:
            failures.append(str(exc))
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - the agent's own error, reported as its rule's
            failures.append(f"{rule_name}: the agent raised {type(exc).__name__}: {exc}")

    def make() -> Agent:
        seeding.seed_everything(seed)
        return agents.make(name, seed=seed, env_id=env_id, params=params)

    rule("config", lambda: _check_config(cls))
    if cls.offline:
        failures.append("offline: check agent plays online agents only; check an offline agent "
                        "with a short `priorbench run` on a dataset")
        return failures
    before = set(os.listdir("."))
    first: list[Any] = []
    rule("play", lambda: _play(make(), env_id, env_kwargs, steps=steps, seed=seed, log=first))
    if any(not f.startswith("config:") for f in failures):
        return failures  # the rules below replay what failed

    def seeded() -> None:
        again = _play(make(), env_id, env_kwargs, steps=steps, seed=seed, check=False)
        if again != first:
            at = next(i for i, (a, b) in enumerate(zip(first, again, strict=False)) if a != b) \
                if any(a != b for a, b in zip(first, again, strict=False)) else min(len(first), len(again))
            raise RuleFailed("seeded", f"two agents with seed {seed} diverged at step {at // 2} "
                                       f"({first[at]!r} vs {again[at]!r}); draw all randomness from "
                                       "self.rng (or the global RNGs priorbench seeds)")

    def state() -> None:
        from priorbench.bench.records import VOLATILE_COUNTERS

        warm = make()
        _play(warm, env_id, env_kwargs, steps=steps // 2, seed=seed, check=False,
              until_reward=STATE_WARMUP * steps if warm.trains else 0)
        with tempfile.TemporaryDirectory(prefix="priorbench-check-") as tmp:
            path = Path(tmp) / "state.safetensors"
            try:
                path.write_bytes(statefile.dumps({"agent": warm.state_dict(), "rng": seeding.rng_state()}))
            except (TypeError, ValueError) as exc:
                raise RuleFailed("state", f"state_dict() cannot be stored in a checkpoint ({exc}); use "
                                          "tensors, numbers, strings, lists and dicts") from None
            saved = statefile.load(path)
        fresh = make()
        fresh.load_state_dict(saved["agent"])
        for agent in (warm, fresh):  # a checkpoint is taken between episodes: the next one starts anew
            agent.reset_episode(explore=True)
        lost = state_difference(warm, fresh, counters=frozenset(warm.counters()) | frozenset(VOLATILE_COUNTERS))
        if lost is not None:
            raise RuleFailed("state", f"load_state_dict() did not restore {lost[0]} ({lost[1]}); put it in "
                                      "state_dict/load_state_dict (or, for a cache rebuilt on demand, name it "
                                      "in the class's `transient`)")
        seeding.set_rng_state(saved["rng"])
        resumed = _play(fresh, env_id, env_kwargs, steps=steps // 2, seed=seed + 1, check=False)
        seeding.set_rng_state(saved["rng"])
        kept = _play(warm, env_id, env_kwargs, steps=steps // 2, seed=seed + 1, check=False)
        if resumed != kept:
            raise RuleFailed("state", "a fresh agent loaded from state_dict() acts differently from the "
                                      "agent it was saved from; put everything it learned (tables, "
                                      "weights, counts, optimizer state) in state_dict/load_state_dict")

    def batched() -> None:
        if not make().batched_eval:
            return
        from priorbench.bench.spec import Budget

        budget = Budget(steps=min(steps, 100), eval_every=min(steps, 100), eval_episodes=3)
        with tempfile.TemporaryDirectory(prefix="priorbench-check-") as tmp:
            played = [_run_records(name, env_id, budget, Path(tmp) / f"eval-batch-{k}", seed=seed,
                                   env_kwargs=env_kwargs, params=params, eval_batch=k) for k in (1, 3)]
        if played[0] != played[1]:
            at = next((i for i, (a, b) in enumerate(zip(*played, strict=False)) if a != b), 0)
            raise RuleFailed("batched", f"with batched_eval, evaluation episodes played 3 at a time "
                                        f"(act_many(…, explore=False)) gave other records than one at a time "
                                        f"(record {at} differs); return False from batched_eval if evaluation "
                                        "draws random numbers or slots share memory")

    def evaluation() -> None:
        if not make().trains:
            return
        from priorbench.bench.spec import Budget

        length = max(min(steps, 200), 2)
        with tempfile.TemporaryDirectory(prefix="priorbench-check-") as tmp:
            played = [[r for r in _run_records(name, env_id, Budget(steps=length, eval_every=every,
                                                                    checkpoint_every=length),
                                               Path(tmp) / f"eval-every-{every}", seed=seed,
                                               env_kwargs=env_kwargs, params=params) if r["phase"] == "train"]
                      for every in (length // 4 or 1, length // 2 or 1)]
        if played[0] != played[1]:
            at = next((i for i, (a, b) in enumerate(zip(*played, strict=False)) if a != b),
                      min(map(len, played)))
            raise RuleFailed("evaluation", f"evaluating more often changed training (train record {at} "
                                           "differs); draw evaluation randomness from self.rng or the global "
                                           "RNGs, which the runner swaps for evaluation streams, never from a "
                                           "generator of your own")

    def writes() -> None:
        made = sorted(set(os.listdir(".")) - before)
        if made:
            raise RuleFailed("writes", f"the agent wrote {', '.join(made)} in the working folder; write "
                                       "only under the cache (priorbench.core.paths.cache_root) or not at all")

    rule("seeded", seeded)
    rule("state", state)
    rule("batched", batched)
    rule("evaluation", evaluation)
    rule("writes", writes)
    return failures


@dataclass(frozen=True)
class LearningOutcome:
    """Where a run started and ended: test success at step 0 and at the final round (over that
    round's test episodes), training success over its first and last `window` train episodes."""

    start: float
    end: float
    first_train: float
    last_train: float
    window: int
    test_episodes: int

    def learned(self, margin: float = LEARNING_MARGIN) -> bool:
        """Test success rose by `margin`; or, where it started at the ceiling (1.0: a prior that
        knows the game), training success rose by `margin` from the first window to the last."""
        if self.end >= self.start + margin:
            return True
        return self.start >= 1.0 and self.last_train >= self.first_train + margin

    def __str__(self) -> str:
        return (f"test success {self.start:.2f} at step 0 → {self.end:.2f} at the end "
                f"({self.test_episodes} test episodes a round); training success {self.first_train:.2f} "
                f"in the first {self.window} episodes → {self.last_train:.2f} in the last {self.window}")


def learning_outcome(name: str, env_id: str, *, steps: int, params: dict[str, Any] | None = None,
                     env_kwargs: dict[str, Any] | None = None, eval_episodes: int = 1, seed: int = 0,
                     window: int = 20, out: Path | None = None) -> LearningOutcome:
    """Train `name` for `steps` (env steps; gradient steps for an offline agent) through the
    runner, evaluated at step 0 and at the end, and say where it started and ended."""
    from priorbench.bench.spec import Budget

    with tempfile.TemporaryDirectory(prefix="priorbench-learns-") as tmp:
        played = _run_records(name, env_id, Budget(steps=steps, eval_every=steps, eval_episodes=eval_episodes,
                                                   checkpoint_every=steps),
                              Path(out or tmp), seed=seed, env_kwargs=dict(env_kwargs or {}), params=params,
                              strip=False)
    rounds: dict[int, list[bool]] = {}
    for row in played:
        if row["phase"] == "eval":
            rounds.setdefault(int(row["env_steps"]), []).append(bool(row["success"]))
    train = [bool(row["success"]) for row in played if row["phase"] == "train" and "success" in row]
    rate = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return LearningOutcome(start=rate(rounds[min(rounds)]), end=rate(rounds[max(rounds)]),
                           first_train=rate(train[:window]), last_train=rate(train[-window:]), window=window,
                           test_episodes=len(rounds[max(rounds)]))


def check_learns(name: str, env_id: str, *, steps: int, params: dict[str, Any] | None = None,
                 env_kwargs: dict[str, Any] | None = None, seed: int = 0) -> list[str]:
    """The opt-in `learns` rule: [] when the agent ends clearly above where it started."""
    outcome = learning_outcome(name, env_id, steps=steps, params=params, env_kwargs=env_kwargs, seed=seed)
    if outcome.learned():
        return []
    return [f"{LEARNS}: after {steps} steps on {env_id} the agent is not {LEARNING_MARGIN:g} above where it "
            f"started ({outcome}); check that updates move the policy (learning rate, update schedule) or "
            "give it more steps (--learn-steps)"]
