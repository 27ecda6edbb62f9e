"""The train/eval loop — the only code that calls env.step.

For each (env, agent, seed): train for `budget.steps` env steps on the train split (N env
copies in lockstep: bench/lockstep.py), evaluate with explore=False on every test task at 0,
every `budget.eval_every` steps and at the end, append one record per episode, checkpoint at
episode ends, and resume from the checkpoint when run again on the same folder."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from priorbench import agents as agent_registry
from priorbench import envs
from priorbench.agents.base import Agent, Transition
from priorbench.bench import datasets, records, schema, transfer
from priorbench.bench.checkpoints import Checkpoints, Progress
from priorbench.bench.episodes import EpisodeRecords
from priorbench.bench.lockstep import LockstepEvaluation, LockstepTraining, OpenEpisode
from priorbench.bench.spec import SEED_FIELD, Budget, Spec
from priorbench.core import seeding
from priorbench.core.config import config_changes, config_hash
from priorbench.core.errors import UserError
from priorbench.core.paths import folder_lock, refuse_linked_parts, refuse_links, sha256_file
from priorbench.core.progress import Meter, notice, reporting
from priorbench.core.seeding import RUN_THREADS, pinned_threads  # noqa: F401 - RUN_THREADS re-exported

#: The manifest's `seeding` line. Runs whose line lacks "eval-rng" were made before evaluation
#: had streams of its own (the leaderboard labels them: `schema.made_before_eval_streams`).
SEEDING = ("episode seeds = priorbench.core.seeding.derive_seed(seed, phase, index…); evaluation draws "
           "= derive_seed(seed, 'eval-rng', env_steps, episode), training's RNG states put back after")


@dataclass(frozen=True)
class RunJob:
    """One (env, agent, seed) run of a spec."""

    env_id: str
    agent: str
    seed: int
    budget: Budget
    out: Path
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    agent_params: dict[str, Any] = field(default_factory=dict)
    spec_name: str = "run"
    suite: str = ""
    eval_batch: int = 1
    """How to run, not what: test episodes played at once by agents with `batched_eval` (one
    batched prior call per step); same records, so not part of `config()`."""
    keep_learned: bool = False
    """Keep the finished run's learned state (`Spec.keep_learned`); not part of `config()`."""
    init_from: str = ""
    """The finished run this one starts from (`Spec.init_from`, its seed filled in)."""
    init_optimizer: bool = False

    @property
    def path(self) -> Path:
        return records.run_dir(self.out, self.env_id, self.agent, self.seed)

    def __str__(self) -> str:
        return f"{self.env_id} {self.agent} seed {self.seed}"

    def config(self) -> dict[str, Any]:
        """The run's identity: what must match for a folder to be resumed or reused. A run
        started from another's learned state adds `init_from`: the source's facts
        (`records.source_facts`: folder, row, checksums), not where it lies."""
        config = {
            "env_id": self.env_id,
            "env_kwargs": dict(sorted(self.env_kwargs.items())),
            "agent": self.agent,
            "agent_params": agent_registry.resolved_params(self.agent, self.agent_params),
            "seed": self.seed,
            "budget": dataclasses.asdict(self.budget),
        }
        if self.init_from:
            config["init_from"] = transfer.identity(self.init_from, self.init_optimizer)
        return config


def jobs_from_spec(spec: Spec, out: Path) -> list[RunJob]:
    """Expand a spec into runs, validating every env and agent name first."""
    env_list: list[tuple[str, dict[str, Any]]] = []
    if spec.suite:
        from priorbench.envs.suite import load_suite

        env_list += [(e.id, e.kwargs) for e in load_suite(spec.suite).envs]
    env_list += [(env_id, {}) for env_id in spec.envs if env_id not in {e for e, _ in env_list}]
    for env_id, _ in env_list:
        envs.check_env_id(env_id)
    for name in spec.agents:
        agent_registry.AGENTS.entry(name)
    unused = sorted(set(spec.agent) - set(spec.agents))
    if unused:
        raise UserError(
            f"agent settings given for {unused}, which this spec does not run (agents: {list(spec.agents)})"
        )
    if spec.keep_learned or spec.init_from:
        transfer.check_agents(spec.agents)
    jobs = [
        RunJob(env_id, name, seed, spec.budget, Path(out), {**suite_kwargs, **spec.env},
               dict(spec.agent.get(name, {})), spec.name, spec.suite, keep_learned=spec.keep_learned,
               init_from=spec.init_from.replace(SEED_FIELD, str(seed)), init_optimizer=spec.init_optimizer)
        for env_id, suite_kwargs in env_list
        for name in spec.agents
        for seed in spec.seeds
    ]
    for job in jobs:
        job.config()  # resolves agent params now: a bad setting fails before any run starts
    for env_id, suite_kwargs in env_list:
        envs.check_settings(env_id, {**suite_kwargs, **spec.env})  # an unknown env setting too
    return jobs


@dataclass(frozen=True)
class Callbacks:
    """Hooks for code that watches a run (benchmarks, dashboards); they must not change it.

    on_start(agent, train_env, test_env): once the run's objects exist, before the first step
    (a profiler wraps their methods here). on_episode(record): after each episode record is
    stored (a schema.EpisodeRow or GradientStepsRow). on_evaluation(env_steps, rows): after each
    evaluation round, with its rows.
    """

    on_start: Callable[[Agent, envs.TextEnv, envs.TextEnv], None] | None = None
    on_episode: Callable[[schema.Row], None] | None = None
    on_evaluation: Callable[[int, list[schema.EpisodeRow]], None] | None = None


class _Loop(EpisodeRecords, Checkpoints, LockstepTraining, LockstepEvaluation):
    def __init__(self, job: RunJob, record: records.RunRecord, show_progress: bool,
                 callbacks: Callbacks | None = None, source: dict[str, Any] | None = None) -> None:
        self.job = job
        self.callbacks = callbacks or Callbacks()
        self.record = record
        self.show_progress = show_progress
        setup_started = time.perf_counter()
        seeding.seed_everything(job.seed)
        self.train_env = envs.make(job.env_id, split="train", **job.env_kwargs)
        self.test_env = envs.make(job.env_id, split="test", **job.env_kwargs)
        self.agent: Agent = agent_registry.make(
            job.agent, seed=job.seed, env_id=job.env_id, params=job.agent_params
        )
        # counters from here on: a prior backend is shared by the runs of a process, so its
        # counts start where the process's earlier runs left them
        counted_from = self.agent.counters()
        if self.agent.offline:  # the runner reads datasets; agents only receive transitions
            path = self.agent.dataset_path()
            transitions = datasets.load_transitions(path, expected_env=job.env_id, expected_env_kwargs=job.env_kwargs)
            self.agent.load_dataset(transitions, datasets.read_provenance(path))
        if job.init_from:  # likewise another run's learned state (a resume then loads its own)
            transfer.start_from(self.agent, job.init_from, source or job.config()["init_from"])
        # what this process spent before the first step: added to the run's progress in run()
        spent = {k: v - counted_from.get(k, 0) for k, v in self.agent.counters().items()
                 if k in records.VOLATILE_COUNTERS}
        self._setup = (time.perf_counter() - setup_started, {k: v for k, v in spent.items() if v})
        if self.callbacks.on_start is not None:
            self.callbacks.on_start(self.agent, self.train_env, self.test_env)
        self.state = Progress()
        self.open: list[OpenEpisode | None] = [None] * self.agent.num_envs
        self._eval_counts: dict[str, float] = {}
        self.bar = Meter(None, "", report=False)  # run() puts the run's own in

    # --- episodes --------------------------------------------------------------------------
    def _play(self, env: envs.TextEnv, seed: int, task: int | None, *, explore: bool,
              budget_left: int | None = None) -> dict[str, Any]:
        """Play one episode; in training, observe/update after each step and evaluate on schedule.

        Returns the episode's schema.EpisodeRow fields but its place (phase, episode, env_steps).
        """
        started = time.perf_counter()
        counters_before = self.agent.counters()
        eval_before = dict(self._eval_counts)
        options = None if task is None else {"task": task}
        obs, info = env.reset(seed=seed, options=options)
        self.agent.reset_episode(explore=explore)
        total, length, invalid = 0.0, 0, 0
        updates: dict[str, list[float]] = {}
        terminated = truncated = cut = False
        while not (terminated or truncated):
            if budget_left is not None and length >= budget_left:
                cut = True
                break
            action = self.agent.act(obs, info, explore=explore)
            next_obs, reward, terminated, truncated, next_info = env.step(action)
            total += float(reward)
            length += 1
            invalid += bool(next_info.get("invalid_action", False))
            if explore:
                self.agent.observe(Transition(obs, info, action, float(reward), next_obs,
                                              next_info, bool(terminated), bool(truncated)))
                for key, value in self._update().items():
                    updates.setdefault(key, []).append(value)
                self.state.env_steps += 1
                self.bar.update(1)
                if self.state.env_steps >= self.state.next_eval:
                    self._evaluate()
            obs, info = next_obs, next_info
        return self._outcome(info, counters_before, eval_before, explore=explore, started=started, total=total,
                             length=length, invalid=invalid, truncated=truncated, cut=cut, updates=updates)

    def _append(self, row: schema.Row) -> None:
        self.record.append_episode(row)
        if self.callbacks.on_episode is not None:
            self.callbacks.on_episode(row)

    def _evaluate(self) -> None:
        """Every test task, budget.eval_episodes times each, with explore=False: one episode at
        a time, or `job.eval_batch` at once in lockstep (bench/lockstep.py) for agents that
        allow it; the same records in the same order either way."""
        steps = self.state.env_steps
        episodes = [(task, seeding.derive_seed(self.job.seed, "eval", task, repeat))
                    for task in range(len(self.test_env.tasks)) for repeat in range(self.job.budget.eval_episodes)]
        results: list[schema.EpisodeRow] = []
        with self.bar.aside(f"evaluating round {self.state.eval_rounds}", len(episodes)) as shown:
            if self.job.eval_batch > 1 and len(episodes) > 1 and self.agent.batched_eval:
                with self._evaluation_rng("lockstep"):  # batched agents draw nothing; the streams stay apart
                    outcomes = list(self._eval_lockstep(episodes))
            else:
                outcomes = (self._play_evaluation(episode, task, seed) for episode, (task, seed) in enumerate(episodes))
            for episode, ((task, _), outcome) in enumerate(zip(episodes, outcomes, strict=True)):
                row = schema.EpisodeRow(**{**outcome, "task": self.test_env.tasks[task]},
                                        phase="eval", eval_round=self.state.eval_rounds,
                                        episode=episode, env_steps=steps)
                self._append(row)
                results.append(row)
                shown.update(1)
        if self.callbacks.on_evaluation is not None:
            self.callbacks.on_evaluation(steps, results)
        self.state.eval_rounds += 1
        self.state.next_eval = steps + self.job.budget.eval_every

    def _play_evaluation(self, episode: int, task: int, seed: int) -> dict[str, Any]:
        with self._evaluation_rng(episode):
            return self._play(self.test_env, seed, task, explore=False)

    def _evaluation_rng(self, episode: int | str) -> Any:
        """Evaluation on its own randomness: the global RNGs and the agent's `rng` seeded from
        (run seed, the round's training step, episode), the training states put back after
        (`seeding.own_streams`). So what an evaluation draws (dqn-prior's k proposals, a
        sampling `llm`, a plug-in drawing from `self.rng`) never moves training, and the round
        at step N draws the same numbers whichever rounds came before it."""
        return seeding.own_streams(seeding.derive_seed(self.job.seed, "eval-rng", self.state.env_steps, episode),
                                   self.agent)

    def _train_offline(self) -> None:
        """Gradient steps on the agent's dataset; one train record per stretch between evaluations."""
        budget = self.job.budget
        if self.state.eval_rounds == 0:
            self._evaluate()
        while self.state.env_steps < budget.steps:
            started = time.perf_counter()
            stretch = min(self.state.next_eval, budget.steps) - self.state.env_steps
            updates: dict[str, list[float]] = {}
            for _ in range(stretch):
                for key, value in self._update().items():
                    updates.setdefault(key, []).append(value)
                self.state.env_steps += 1
                self.bar.update(1)
            self._append(schema.GradientStepsRow(
                phase="train", episode=self.state.train_episodes, env_steps=self.state.env_steps,
                length=stretch, unit="gradient_steps",
                update={k: sum(v) / len(v) for k, v in sorted(updates.items())},
                timing={"wall_s": round(time.perf_counter() - started, 4)},
            ))
            self.state.train_episodes += 1
            if self.state.env_steps >= self.state.next_eval:
                self._evaluate()
            if (self.state.env_steps - self.state.last_checkpoint >= budget.checkpoint_every
                    and self.state.env_steps < budget.steps):
                self._checkpoint()
        if self.state.next_eval - budget.eval_every < self.state.env_steps:
            self._evaluate()

    # --- the run -------------------------------------------------------------------------
    def run(self, manifest: schema.Manifest) -> None:
        budget = self.job.budget
        resumed = self._restore()
        setup_s, setup_counters = self._setup
        self.state.setup_s += setup_s
        for key, value in setup_counters.items():
            self.state.setup_counters[key] = self.state.setup_counters.get(key, 0) + value
        started = time.perf_counter()
        wall_before = self.state.wall_s
        self._clock = (wall_before, started)
        manifest = dataclasses.replace(manifest, resumed=manifest.resumed + int(resumed))
        self.record.write_manifest(manifest)
        # training steps alone on the bar (evaluation rounds: asides, `_evaluate`); an
        # evaluation-only agent has its rounds' bars alone
        self.bar = Meter(budget.steps if self.agent.trains else None, initial=self.state.env_steps,
                         label=f"{self.job.env_id.split('/')[-1]} {self.job.agent} s{self.job.seed}",
                         report=reporting(self.show_progress))
        try:
            if not self.agent.trains:
                if self.state.eval_rounds == 0:
                    self._evaluate()
            elif self.agent.offline:
                self._train_offline()
            elif self.agent.num_envs > 1:
                self._train_lockstep()
            else:
                if self.state.eval_rounds == 0:
                    self._evaluate()
                while self.state.env_steps < budget.steps:
                    seed = seeding.derive_seed(self.job.seed, "train", self.state.train_episodes)
                    outcome = self._play(self.train_env, seed, None, explore=True,
                                         budget_left=budget.steps - self.state.env_steps)
                    self._append(schema.EpisodeRow(**outcome, phase="train", episode=self.state.train_episodes,
                                                   env_steps=self.state.env_steps))
                    self.state.train_episodes += 1
                    self.state.wall_s = wall_before + time.perf_counter() - started
                    if (self.state.env_steps - self.state.last_checkpoint >= budget.checkpoint_every
                            and self.state.env_steps < budget.steps):
                        self._checkpoint()
                if self.state.next_eval - budget.eval_every < self.state.env_steps:
                    self._evaluate()  # the final evaluation, unless one just happened
        finally:
            self.bar.close()
            self.train_env.close()
            self.test_env.close()
        self.state.wall_s = wall_before + time.perf_counter() - started
        learned = self.record.save_learned(self.agent.learned_state()) if self.job.keep_learned else None
        manifest = dataclasses.replace(
            manifest,
            learned_sha256=learned,
            status="complete",
            episodes_sha256=sha256_file(self.record.episodes_path),
            agent_provenance=self.agent.provenance(),
            timing={"wall_s": round(self.state.wall_s, 3), "finished": time.time(),
                    "setup": {"wall_s": round(self.state.setup_s, 3), "counters": self.state.setup_counters}},
            final_env_steps=self.state.env_steps,
        )
        self.record.write_manifest(manifest)
        self.record.remove_checkpoint()


def _new_manifest(job: RunJob, config: dict[str, Any], loop: _Loop) -> schema.Manifest:
    version = job.env_id.rsplit("-", 1)[-1]
    return schema.Manifest(
        schema_version=schema.SCHEMA_VERSION,
        spec=config,
        spec_hash=config_hash(config),
        spec_name=job.spec_name,
        env={"id": job.env_id, "version": version, "kwargs": config["env_kwargs"],
             "train_tasks": list(loop.train_env.tasks), "test_tasks": list(loop.test_env.tasks),
             **loop.train_env.provenance(), "test_provenance": loop.test_env.provenance()},
        suite=job.suite or None,
        agent={"name": job.agent, "params": config["agent_params"], **_plugin(job.agent)},
        budget_unit="gradient_steps" if loop.agent.offline else "env_steps",
        seed=job.seed,
        seeding=SEEDING,
        packages=records.package_versions(),
        git_commit=records.git_commit(),
        machine=records.machine(),
        status="running",
        episodes_sha256=None,
    )


def _plugin(agent: str) -> dict[str, Any]:
    """A plug-in agent's distribution and version, for the manifest ({} for built-ins)."""
    entry = agent_registry.AGENTS.entry(agent)
    if not entry.distribution:
        return {}
    return {"plugin": {"distribution": entry.distribution, "version": entry.version, "target": entry.target}}


def execute(job: RunJob, *, force: bool = False, progress: bool = True,
            callbacks: Callbacks | None = None) -> Path:
    """Run (or resume, or skip if complete) one job, at RUN_THREADS torch threads; returns its
    folder."""
    with pinned_threads():
        return _execute(job, force=force, progress=progress, callbacks=callbacks)


def _execute(job: RunJob, *, force: bool, progress: bool, callbacks: Callbacks | None) -> Path:
    """One run, its folder held by this process alone (`paths.folder_lock`); links refused."""
    refuse_linked_parts(job.out, job.path)
    with folder_lock(job.path, "run folder"):  # a run refused before its first write leaves no folder
        refuse_links(job.path)
        return _execute_locked(job, force=force, progress=progress, callbacks=callbacks)


def _execute_locked(job: RunJob, *, force: bool, progress: bool, callbacks: Callbacks | None) -> Path:
    record = records.RunRecord(job.path)
    config = job.config()
    digest = config_hash(config)
    existing = record.read_manifest()
    if existing is None and record.episodes_path.exists() and record.episodes_path.stat().st_size and not force:
        raise UserError(f"{job.path} holds {records.EPISODES} but no manifest.json, so what made it is "
                        "unknown; restore the manifest, move the folder away, or rerun with --force")
    if existing is not None and existing.get("spec_hash") != digest:
        if not force:
            changed = (config_changes(existing.get("spec") or {}, config)
                       or f"hash {str(existing.get('spec_hash'))[:12]} ≠ {digest[:12]}")
            raise UserError(
                f"{job.path} already holds a run of a different spec ({changed}). Use another --out, "
                "or --force to replace it."
            )
        record.wipe()
        existing = None
    elif existing is not None and force:
        record.wipe()
        existing = None
    if existing is not None and existing.get("status") == "complete":
        records.verify_run(job.path)
        if job.keep_learned and existing.get("learned_sha256") is None:
            raise UserError(f"{job.path} is a complete run that kept no learned state (keep_learned); rerun it with "
                            "--force to make it again and keep it, or leave keep_learned out")
        return job.path
    loop = _Loop(job, record, progress, callbacks, config.get("init_from"))
    manifest = (schema.Manifest.from_json(existing, str(job.path)) if existing is not None
                else _new_manifest(job, config, loop))
    loop.run(manifest)
    return job.path


def execute_all(jobs: Iterable[RunJob], *, force: bool = False, progress: bool = True, workers: int = 1,
                executor: str = "local", address: str | None = None, prior_server: str | None = None,
                eval_batch: int = 1) -> list[Path]:
    """Run jobs serially, in a process pool or on Ray; priors in-process or at `prior_server`;
    evaluation rounds `eval_batch` episodes at a time where the agent allows it."""
    from priorbench.bench import executors, prior_servers

    if eval_batch < 1:
        raise UserError(f"--eval-batch must be at least 1 (test episodes played at once), got {eval_batch}")
    jobs = [dataclasses.replace(job, eval_batch=eval_batch) for job in jobs]
    reused = 0 if force else sum(is_complete(job) for job in jobs)
    if progress and len(jobs) > 1:  # a single run has its own bar
        notice(f"{len(jobs)} runs: {len(jobs) - reused} to run" + (f", {reused} already complete (reused; "
                                                                  "--force redoes them)" if reused else ""))
    served = prior_servers.jobs_priors(jobs) if prior_server == "auto" else []
    return executors.run_jobs(execute, jobs, force=force, progress=progress, workers=workers, executor=executor,
                              address=address, prior_server=prior_server, served=served)


def is_complete(job: RunJob) -> bool:
    """Whether `job`'s folder already holds a complete run of the same spec (it will be reused)."""
    try:
        existing = records.RunRecord(job.path).read_manifest()
    except UserError:
        return False
    return bool(existing and (existing.get("status"), existing.get("spec_hash")) == ("complete", config_hash(job.config())))
