"""`priorbench check agent NAME`: the agent contract, checked on a small env (like
`envs.check_text_env` for envs). Each rule that fails is one line naming the rule and the fix.

Rules: `config` (Config is a frozen dataclass, every field documented), `admissible` (act
returns one of the admissible commands, training and evaluation), `update` (finite float
metrics), `counters` (numbers), `seeded` (the same seed gives the same actions and metrics),
`state` (state_dict → checkpoint file → load_state_dict in a fresh agent gives the same next
actions and metrics), `batched` (an agent that declares `batched_eval` gives the same records
when the runner plays its evaluation episodes in lockstep as one at a time), `evaluation` (the
runner evaluating every quarter or every half of the check's steps — 50 or 100 by default —
leaves the training episodes the same: what the
agent draws at evaluation comes from the streams the runner gives it), `writes` (nothing
written in the working folder).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import os
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priorbench import agents, envs
from priorbench.agents.base import Agent, Transition
from priorbench.core import seeding, statefile
from priorbench.core.errors import UserError

RULES = ("config", "admissible", "update", "counters", "seeded", "state", "batched", "evaluation", "writes")
#: Opt-in (`check agent --learns`): after training the agent ends clearly above where it started.
LEARNS = "learns"
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
          log: list[Any] | None = None, check: bool = True) -> list[Any]:
    """Train `agent` for `steps` env steps, then one greedy test episode; returns what it did."""
    trace: list[Any] = [] if log is None else log
    for split, explore, budget in (("train", True, steps), ("test", False, 50)):
        env = envs.make(env_id, split=split, **env_kwargs)
        done_steps, episode = 0, 0
        while done_steps < budget:
            agent.reset_episode(explore=explore)
            obs, info = env.reset(seed=seeding.derive_seed(seed, split, episode))
            episode += 1
            done = False
            while not done and done_steps < budget:
                action = agent.act(obs, info, explore=explore)
                if check and action not in info["admissible_commands"]:
                    raise RuleFailed("admissible", f"act returned {action!r}, which is not among the "
                                                   f"{len(info['admissible_commands'])} admissible commands "
                                                   "(info['admissible_commands']); choose one of them")
                nobs, reward, terminated, truncated, ninfo = env.step(action)
                trace.append(action)
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
        warm = make()
        _play(warm, env_id, env_kwargs, steps=steps // 2, seed=seed, check=False)
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
