"""Value-based agents over admissible commands: DQN (DRRN-style Q(s, a)) and offline CQL.

One readable update rule for both: TD regression of Q(s, a) on r + γ·max over the candidate
actions at s' of Q_target(s', a'), plus — for CQL — c·(logsumexp over the candidates at s of
Q(s, ·) − Q(s, a_data)). Candidates are all admissible commands here; the prior agents in
`agents.posterior` swap in the k prior proposals.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from priorbench.agents.base import Agent, Transition
from priorbench.agents.qnet import TextEncoder, q_head, stack_candidates, state_text
from priorbench.core.config import NON_NEGATIVE, POSITIVE, UNIT, UNIT_OPEN, at_most
from priorbench.core.errors import UserError


@dataclass(frozen=True)
class DQNConfig:
    encoder: str = "minilm"
    """Frozen text encoder: "minilm" (all-MiniLM-L6-v2) or a local HF encoder folder."""
    hidden: Annotated[int, at_most(16_384)] = 64
    """Width of the MLP head."""
    lr: Annotated[float, POSITIVE] = 5e-4
    """Adam learning rate (the paper's)."""
    gamma: Annotated[float, UNIT] = 0.99
    """Discount factor."""
    batch_size: Annotated[int, at_most(65_536)] = 64
    """Transitions per gradient step."""
    replay_size: Annotated[int, at_most(10_000_000)] = 10_000
    """Replay buffer capacity."""
    learning_starts: Annotated[int, NON_NEGATIVE] = 64
    """Transitions collected before the first update."""
    train_every: Annotated[int, POSITIVE] = 1
    """Env steps between gradient steps."""
    epsilon: Annotated[float, UNIT] = 0.2
    """ε-greedy exploration during training (the paper's)."""
    target: Literal["soft", "hard"] = "soft"
    """Target network update: Polyak (tau) or a copy every target_every updates."""
    tau: Annotated[float, UNIT_OPEN] = 0.005
    """Polyak step of the soft target update (target ← τ·online + (1 − τ)·target)."""
    target_every: Annotated[int, POSITIVE] = 20
    """Updates between copies of the online network, for the hard target update."""
    double: bool = False
    """Double DQN: choose a' with the online network, value it with the target network."""
    max_grad_norm: Annotated[float, POSITIVE] = 10.0
    """Gradient clipping by global norm."""


@dataclass(frozen=True)
class CQLConfig(DQNConfig):
    dataset: str = ""
    """Path of an offline dataset (`priorbench dataset collect`)."""
    cql_alpha: Annotated[float, NON_NEGATIVE] = 5.0
    """Weight c of the conservative term (the paper's c = 5)."""
    max_transitions: Annotated[int, NON_NEGATIVE] = 0
    """Use only the first N transitions of the dataset (0: all); for dataset-size sweeps."""
    cql_support: Literal["candidates", "candidates+data", "distinct", "distinct+data"] = "candidates"
    """What the conservative term's logsumexp ranges over at s: the candidates (all admissible
    commands for cql, which include the data action; the k prior proposals for cql-prior as
    drawn, repeats and all, as the authors' code does), or the candidates plus the data action
    (standard CQL's support always holds it). "distinct…": each distinct candidate once — with
    repeats, a peaked prior's favourite enters the sum once per draw, so the term pushes its Q
    down hardest, below the rarely proposed actions (measured: leaderboard/NOTES.md)."""


def td_target(reward, done, next_q, valid, gamma: float, chooser=None):
    """r + γ·(1 − done)·max over the valid candidates a' at s' of Q_target(s', a').

    next_q, valid: [batch, candidates] (padding masked out by `valid`); a state with no valid
    candidate bootstraps 0. With `chooser` (online Q, Double DQN) a' = argmax chooser and its
    value is read from next_q.
    """
    import torch

    masked = next_q.masked_fill(~valid, -torch.inf)
    if chooser is not None:
        pick = chooser.masked_fill(~valid, -torch.inf).argmax(1, keepdim=True)
        best = masked.gather(1, pick).squeeze(1)
    else:
        best = masked.max(1).values
    best = torch.where(valid.any(1), best, torch.zeros_like(best))
    return reward + gamma * (1.0 - done) * best


def soft_value(q, valid, logp, alpha: float):
    """α·log Σ_a p(a)·exp(Q(a)/α) over the valid candidates of each row ([batch, candidates]); 0
    where none is valid. `logp` is normalised over the valid candidates here: a language model's
    scores are summed log-likelihoods that do not sum to 1 over the commands, and read as they are
    each backup would add α·log Σ p, driving Q down by α·log Σ p / (1 − γ)."""
    import torch

    logp = logp.masked_fill(~valid, -torch.inf)
    logp = logp - torch.logsumexp(logp, 1, keepdim=True).nan_to_num(neginf=0.0)
    value = alpha * torch.logsumexp((logp + q / alpha).masked_fill(~valid, -torch.inf), 1)
    return torch.where(valid.any(1), value, torch.zeros_like(value))


def soft_td_target(reward, done, next_q, valid, next_logp, gamma: float, alpha: float):
    """r + γ·(1 − done)·V(s'), V(s') = α·log Σ_a' p(a'|s')·exp(Q_target(s', a')/α) over the valid
    candidates at s' (all admissible commands; `soft_value`): the soft, KL-regularised backup whose
    optimal policy is the posterior p(a|s)·exp(Q(s, a)/α) (Yan et al. 2025, §2). α → 0 gives the
    max over the prior's support (`td_target`); α → ∞ the prior's mean of Q. No valid candidate
    bootstraps 0."""
    return reward + gamma * (1.0 - done) * soft_value(next_q, valid, next_logp, alpha)


def soft_conservative_penalty(q_candidates, valid, logp, q_data, coef: float, alpha: float):
    """CQL's term with the prior as its base measure: c·mean(α·log Σ_a p(a|s)·exp(Q(s, a)/α) −
    Q(s, a_data)). With a uniform p and α = 1 it is CQL's logsumexp term less log n (a constant);
    the prior pushes down hardest the commands it favours that the data did not take."""
    return coef * (soft_value(q_candidates, valid, logp, alpha) - q_data).mean()


def conservative_penalty(q_candidates, valid, q_data, alpha: float):
    """CQL's c·mean(logsumexp over the candidates at s of Q(s, ·) − Q(s, a_data))."""
    import torch

    lse = torch.logsumexp(q_candidates.masked_fill(~valid, -torch.inf), 1)
    return alpha * (lse - q_data).mean()


class ValueAgent(Agent):
    """Q(s, a) over a candidate set; subclasses choose the loss, and `posterior` (when set)
    the candidates and the decision rule."""

    config: DQNConfig
    #: the prior agents' proposals source + chooser (`agents.posterior.PosteriorSampling`);
    #: None: Q over all admissible commands, ε-greedy
    posterior: Any = None

    def __init__(self, config: DQNConfig, *, seed: int, env_id: str) -> None:
        import torch

        super().__init__(config, seed=seed, env_id=env_id)
        self.encoder = TextEncoder(config.encoder)
        self.q = q_head(2 * self.encoder.dim, config.hidden)  # init from torch's seeded global RNG
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=config.lr)
        # (s, a) rows, reward, done, candidate rows at s', candidate rows at s
        self.replay: deque[tuple[tuple[int, int], float, float, list, list]] = deque(maxlen=config.replay_size)
        self.env_steps = 0
        self.updates = 0

    # --- candidates ----------------------------------------------------------------------
    def candidates(self, obs: str, info: dict[str, Any]) -> list[str]:
        """The actions Q chooses among at this state (all admissible commands for DQN)."""
        if self.posterior is not None:
            return self.posterior.candidates(obs, info, self.rng)
        return list(info["admissible_commands"])

    def rows(self, task: str, obs: str, actions: list[str]) -> list[tuple[int, int]]:
        """(state row, action row) of each action in the embedding table."""
        rows = self.encoder.rows([state_text(task, obs), *actions])
        return [(rows[0], r) for r in rows[1:]]

    def features(self, pairs):
        """[..., 2] (state row, action row) → [..., 2 × width] concatenated embeddings."""
        import torch

        table = self.encoder.table
        return torch.cat([table[pairs[..., 0]], table[pairs[..., 1]]], -1)

    def q_values(self, rows: list[tuple[int, int]]) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.q(self.features(torch.tensor(rows))).squeeze(-1).double().numpy()

    def choose(self, values: np.ndarray, *, explore: bool) -> int:
        """ε-greedy during training, greedy at evaluation; ties go to the first candidate."""
        if explore and self.rng.random() < self.config.epsilon:
            return int(self.rng.integers(len(values)))
        return int(np.argmax(values))

    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        if self.posterior is not None:
            return self.posterior.act(self, obs, info, explore=explore)
        cands = self.candidates(obs, info)
        values = self.q_values(self.rows(info["task"], obs, cands))
        return cands[self.choose(values, explore=explore)]

    # --- learning ------------------------------------------------------------------------
    def remember(self, t: Transition) -> None:
        task = t.info["task"]
        sa = self.rows(task, t.obs, [t.action])[0]
        here = self.rows(task, t.obs, self.candidates(t.obs, t.info))
        done = t.terminated or not t.next_info["admissible_commands"]
        after = [] if done else self.rows(task, t.next_obs, self.candidates(t.next_obs, t.next_info))
        self.replay.append((sa, float(t.reward), float(done), after, here))

    def observe(self, transition: Transition) -> None:
        self.remember(transition)
        self.env_steps += 1

    def regulariser(self, q_sa, batch):  # noqa: ARG002 - CQL overrides
        return None

    def update(self) -> dict[str, float]:
        if len(self.replay) < self.config.learning_starts or self.env_steps % self.config.train_every:
            return {}
        return self.gradient_step()

    def gradient_step(self) -> dict[str, float]:
        import torch

        picks = self.rng.integers(len(self.replay), size=self.config.batch_size)
        batch = [self.replay[i] for i in picks]
        sa = torch.tensor([b[0] for b in batch])
        reward = torch.tensor([b[1] for b in batch], dtype=torch.float32)
        done = torch.tensor([b[2] for b in batch], dtype=torch.float32)
        q_sa = self.q(self.features(sa)).squeeze(-1)
        with torch.no_grad():
            nxt = torch.from_numpy(stack_candidates([b[3] for b in batch]))
            valid = nxt[..., 0] >= 0
            feats = self.features(nxt.clamp(min=0))
            target_q = self.q_target(feats).squeeze(-1)
            y = self.target(batch, reward, done, target_q, valid, feats)
        td_loss = 0.5 * (q_sa - y).pow(2).mean()
        loss = td_loss
        metrics = {"td_loss": float(td_loss.detach()), "q_mean": float(q_sa.detach().mean())}
        extra = self.regulariser(q_sa, batch)
        if extra is not None:
            loss = loss + extra
            metrics["cql_term"] = float(extra.detach())
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.q.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        self._update_target()
        return metrics

    def target(self, batch, reward, done, target_q, valid, feats):
        """The regression target of a batch: r + γ·max over the candidates at s' (`td_target`;
        Double DQN's chooser when set). The exact-posterior agent takes the soft backup instead."""
        chooser = self.q(feats).squeeze(-1) if self.config.double else None
        return td_target(reward, done, target_q, valid, self.config.gamma, chooser)

    def _update_target(self) -> None:
        import torch

        if self.config.target == "hard":
            if self.updates % self.config.target_every == 0:
                self.q_target.load_state_dict(self.q.state_dict())
            return
        with torch.no_grad():
            for p, tp in zip(self.q.parameters(), self.q_target.parameters(), strict=True):
                tp.mul_(1 - self.config.tau).add_(p, alpha=self.config.tau)

    # --- checkpoints ---------------------------------------------------------------------
    def counters(self) -> dict[str, float]:
        return {**self.encoder.counts, **(self.posterior.counters() if self.posterior else {})}

    def provenance(self) -> dict[str, Any]:
        return self.posterior.provenance() if self.posterior is not None else {}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "q": self.q.state_dict(), "q_target": self.q_target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "replay": list(self.replay),
                "encoder": self.encoder.state_dict(), "env_steps": self.env_steps, "updates": self.updates}

    def learned_state(self) -> dict[str, Any]:
        return {"encoder": self.config.encoder, "hidden": self.config.hidden, "q": self.q.state_dict(),
                "q_target": self.q_target.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_learned(self, state: dict[str, Any], *, optimizer: bool) -> None:
        mine = {"encoder": self.config.encoder, "hidden": self.config.hidden}
        theirs = {k: state.get(k) for k in mine}
        if theirs != mine:
            raise UserError(f"init_from: the source run's Q network has {theirs}, this run's {mine}: set the "
                            "same encoder and hidden width (agent.<name>.encoder / .hidden) as the source run")
        try:
            self.q.load_state_dict(state["q"])
            self.q_target.load_state_dict(state["q_target"])
            if optimizer:  # Adam's moments and step counts; its settings (lr, betas, …) stay this run's
                self.optimizer.load_state_dict({"state": state["optimizer"]["state"],
                                                "param_groups": self.optimizer.state_dict()["param_groups"]})
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
            raise UserError(f"init_from: the source run's learned state does not fit this agent ({exc!r})") from None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.clear()
        self.replay.extend(state["replay"])
        self.encoder.load_state_dict(state["encoder"])
        self.env_steps, self.updates = state["env_steps"], state["updates"]


class DQN(ValueAgent):
    """DRRN-style DQN: Q over all admissible commands, ε-greedy, replay, target network."""

    Config: ClassVar[type] = DQNConfig


class CQL(ValueAgent):
    """Offline CQL: gradient steps on a fixed dataset, conservative term over the candidates at s."""

    Config: ClassVar[type] = CQLConfig
    offline: ClassVar[bool] = True
    config: CQLConfig

    def __init__(self, config: CQLConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        if not config.dataset:
            raise UserError(f"{type(self).__name__.lower()} needs a dataset: --set agent.<name>.dataset=PATH "
                            "(make one with `priorbench dataset collect`)")
        self.dataset_sha256 = ""
        self.dataset_size = 0

    def dataset_path(self) -> str:
        return self.config.dataset

    def load_dataset(self, transitions: Sequence[Transition], provenance: dict[str, Any]) -> None:
        self.dataset_sha256 = provenance["sha256"]
        if self.config.max_transitions:
            transitions = transitions[:self.config.max_transitions]
        self.replay = deque(maxlen=None)  # the whole dataset, whatever replay_size says
        for t in transitions:
            self.remember(t)
        self.dataset_size = len(transitions)

    def remember(self, t: Transition) -> None:
        super().remember(t)
        support = self.config.cql_support
        if support != "candidates":
            sa, reward, done, after, here = self.replay[-1]
            if support.startswith("distinct"):
                here = list(dict.fromkeys(here))
            if support.endswith("+data") and sa not in here:
                here = [*here, sa]
            self.replay[-1] = (sa, reward, done, after, here)

    def regulariser(self, q_sa, batch):
        import torch

        here = torch.from_numpy(stack_candidates([b[4] for b in batch]))
        q_here = self.q(self.features(here.clamp(min=0))).squeeze(-1)
        return conservative_penalty(q_here, here[..., 0] >= 0, q_sa, self.config.cql_alpha)

    def update(self) -> dict[str, float]:
        return self.gradient_step()

    def provenance(self) -> dict[str, Any]:
        return {"dataset": self.config.dataset, "dataset_transitions": self.dataset_size,
                "dataset_sha256": self.dataset_sha256, **super().provenance()}
