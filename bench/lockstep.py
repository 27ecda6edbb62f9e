"""The parts of the runner's loop (`bench.runner._Loop`, which mixes them in) that step several
env copies together: training on N copies of the train env (agents with `num_envs` > 1), and
an evaluation round played K test episodes at a time (agents with `batched_eval`, run option
`eval_batch`), so the agent asks its prior about every open episode in one call."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from priorbench import envs
from priorbench.agents.base import Transition
from priorbench.bench import records, schema
from priorbench.core import seeding


@dataclass
class OpenEpisode:
    """A train episode under way in one env copy (lockstep training): what a checkpoint keeps
    to replay it (seed, commands) and its tallies so far."""

    episode: int
    seed: int
    actions: list[str] = field(default_factory=list)
    total: float = 0.0
    length: int = 0
    invalid: int = 0
    truncated: bool = False
    updates: dict[str, list[float]] = field(default_factory=dict)
    obs: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def saved(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("obs", "info")}



class LockstepTraining:
    """`_Loop`'s lockstep training (it supplies job, agent, state, open, _outcome, _append,
    _evaluate, _checkpoint, bar and _clock)."""

    open: list[OpenEpisode | None]

    def _train_lockstep(self) -> None:
        """Train on `num_envs` copies of the train env stepped together: each step the agent
        acts for every copy in one call (`act_many`), each copy's transition is observed, then
        `update` runs once. Episodes take the next episode seed when they start (in slot
        order) and are recorded when they end (in slot order within a step); a train record's
        wall time and counters are those since the previous train record. A checkpoint holds
        each open episode's seed and commands, replayed into a fresh env copy on resume."""
        budget, n = self.job.budget, self.agent.num_envs
        copies = [self.train_env, *(envs.make(self.job.env_id, split="train", **self.job.env_kwargs)
                                    for _ in range(n - 1))]
        try:
            for slot, episode in enumerate(self.open):  # resumed: replay each open episode
                if episode is not None:
                    episode.obs, episode.info = copies[slot].reset(seed=episode.seed)
                    for command in episode.actions:
                        episode.obs, _, _, _, episode.info = copies[slot].step(command)
            self._since = (time.perf_counter(), self.agent.counters(), dict(self._eval_counts))
            if self.state.eval_rounds == 0:
                self._evaluate()
            while self.state.env_steps < budget.steps:
                for slot in range(n):
                    if self.open[slot] is None:
                        seed = seeding.derive_seed(self.job.seed, "train", self.state.train_episodes)
                        obs, info = copies[slot].reset(seed=seed)
                        self.agent.reset_episode(explore=True, slot=slot)
                        self.open[slot] = OpenEpisode(self.state.train_episodes, seed, obs=obs, info=info)
                        self.state.train_episodes += 1
                active = range(min(n, budget.steps - self.state.env_steps))  # the last step may need fewer
                commands = self.agent.act_many([(i, self.open[i].obs, self.open[i].info) for i in active])
                ended = []
                for slot, command in zip(active, commands, strict=True):
                    episode = self.open[slot]
                    next_obs, reward, terminated, truncated, next_info = copies[slot].step(command)
                    episode.actions.append(command)
                    episode.total += float(reward)
                    episode.length += 1
                    episode.invalid += bool(next_info.get("invalid_action", False))
                    self.agent.observe(Transition(episode.obs, episode.info, command, float(reward), next_obs,
                                                  next_info, bool(terminated), bool(truncated), slot=slot))
                    episode.obs, episode.info = next_obs, next_info
                    if terminated or truncated:
                        episode.truncated = bool(truncated)
                        ended.append(slot)
                metrics = self._update()
                for slot in active:
                    for key, value in metrics.items():
                        self.open[slot].updates.setdefault(key, []).append(value)
                self.state.env_steps += len(active)
                if self.bar is not None:
                    self.bar.update(len(active))
                for slot in ended:
                    self._record_open(slot, cut=False)
                if self.state.env_steps >= self.state.next_eval:
                    self._evaluate()
                if (self.state.env_steps - self.state.last_checkpoint >= budget.checkpoint_every
                        and self.state.env_steps < budget.steps):
                    self.state.wall_s = self._clock[0] + time.perf_counter() - self._clock[1]
                    self._checkpoint()
            for slot in range(n):  # the budget ran out inside these episodes
                if self.open[slot] is not None:
                    self._record_open(slot, cut=True)
            if self.state.next_eval - budget.eval_every < self.state.env_steps:
                self._evaluate()  # the final evaluation, unless one just happened
        finally:
            for env in copies[1:]:
                env.close()

    def _record_open(self, slot: int, *, cut: bool) -> None:
        episode = self.open[slot]
        started, counters, eval_counts = self._since
        outcome = self._outcome(episode.info, counters, eval_counts, explore=True, started=started,
                                total=episode.total, length=episode.length, invalid=episode.invalid,
                                truncated=episode.truncated, cut=cut, updates=episode.updates)
        self._append(schema.EpisodeRow(**outcome, phase="train", episode=episode.episode,
                                       env_steps=self.state.env_steps))
        self._since = (time.perf_counter(), self.agent.counters(), dict(self._eval_counts))
        self.open[slot] = None


@dataclass
class _EvalEpisode:
    """A test episode under way in one slot of a lockstep evaluation round."""

    index: int
    started: float
    obs: str
    info: dict[str, Any]
    total: float = 0.0
    length: int = 0
    invalid: int = 0
    truncated: bool = False
    volatile: dict[str, float] = field(default_factory=dict)
    pending: Any = None


class LockstepEvaluation:
    """`_Loop`'s lockstep evaluation (it supplies job, agent, test_env, _count_eval, _fields)."""

    def _eval_lockstep(self, episodes: list[tuple[int, int]]) -> Iterator[dict[str, Any]]:
        """Play (task, seed) test episodes `job.eval_batch` at a time: each step the agent acts
        for every open episode in one `act_many(…, explore=False)` call; a slot that ends takes
        the next episode. Yields each episode's record fields in episode order, as soon as it
        and every one before it have ended — what a one-at-a-time round yields, except the
        volatile counters (LLM calls, tokens, cache hits: a batched call's are shared out among
        the episodes that asked, so their sums are exact) and wall times (episodes overlap)."""
        k = min(self.job.eval_batch, len(episodes))
        copies = [self.test_env, *(envs.make(self.job.env_id, split="test", **self.job.env_kwargs)
                                   for _ in range(k - 1))]
        queue = iter(enumerate(episodes))
        running: dict[int, _EvalEpisode] = {}
        ended: dict[int, _EvalEpisode] = {}
        next_out = 0
        try:
            while True:
                for slot in range(k):
                    if slot not in running and (item := next(queue, None)) is not None:
                        index, (task, seed) = item
                        obs, info = copies[slot].reset(seed=seed, options={"task": task})
                        self.agent.reset_episode(explore=False, slot=slot)
                        running[slot] = _EvalEpisode(index, time.perf_counter(), obs, info)
                if not running:
                    break
                active = sorted(running)
                before = self.agent.counters()
                commands = self.agent.act_many([(s, running[s].obs, running[s].info) for s in active],
                                               explore=False)
                after = self.agent.counters()
                for key in after:
                    if key in records.VOLATILE_COUNTERS:
                        for slot, part in zip(active, _share(after[key] - before.get(key, 0), len(active)),
                                              strict=True):
                            running[slot].volatile[key] = running[slot].volatile.get(key, 0) + part
                for slot, command in zip(active, commands, strict=True):
                    episode = running[slot]
                    episode.obs, reward, terminated, truncated, episode.info = copies[slot].step(command)
                    episode.total += float(reward)
                    episode.length += 1
                    episode.invalid += bool(episode.info.get("invalid_action", False))
                    if terminated or truncated:
                        episode.truncated = bool(truncated)
                        episode.pending = self.agent.end_episode(slot)
                        ended[episode.index] = running.pop(slot)
                while next_out in ended:
                    yield self._eval_fields(ended.pop(next_out))
                    next_out += 1
        finally:
            for env in copies[1:]:
                env.close()

    def _eval_fields(self, episode: _EvalEpisode) -> dict[str, Any]:
        """Book the episode's counters into the agent's totals (in episode order, as a
        one-at-a-time round would) and build its record fields."""
        before = self.agent.counters()
        self.agent.book_episode(episode.pending)
        after = self.agent.counters()
        volatile = {k: episode.volatile.get(k, 0) for k in after if k in records.VOLATILE_COUNTERS}
        # volatile counters: the episode's share of its batched calls (counted from 0)
        self._count_eval({k: v for k, v in before.items() if k not in volatile}, {**after, **volatile})
        deltas = {k: volatile[k] if k in volatile else after[k] - before.get(k, 0) for k in after}
        return self._fields(episode.info, deltas, started=episode.started, total=episode.total,
                            length=episode.length, invalid=episode.invalid, truncated=episode.truncated,
                            cut=False, updates={})


def _share(amount: float, n: int) -> list[float]:
    """`amount` split over n episodes: whole counts as evenly as whole numbers allow (the first
    ones take the remainder), so the parts add up to it exactly."""
    if float(amount).is_integer():
        whole = int(amount)
        return [whole // n + (i < whole % n) for i in range(n)]
    return [amount / n] * n
