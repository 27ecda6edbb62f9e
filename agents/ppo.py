"""PPO over admissible commands: the machinery shared by every policy-gradient agent, and `ppo`,
the pure-RL baseline (frozen MiniLM embeddings of the state and of each command + an MLP).

One readable update rule: a rollout buffer of N env steps → GAE(γ, λ) advantages → `epochs`
passes over shuffled minibatches of the clipped surrogate + value loss − entropy bonus
(+ α·KL[π_θ(·|s) ‖ p(·|s)] when the agent has a reference distribution, as `vi` does), with
gradient clipping. A policy is a score per admissible command; π(·|s) is their softmax.
Subclasses say how a state is written (`policy_state`), how it is scored (`evaluate`) and,
optionally, what the reference distribution is (`reference_logprobs`).

`num_envs = N` (CleanRL's num_envs): the runner steps N copies of the train env in lockstep and
the agent samples for all N from one batched `evaluate` (`act_many`); the rollout buffer keeps
one segment per copy, GAE runs along each, and `rollout_steps` counts the steps of all copies.
N = 1 is the single-env loop, record for record.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np

from priorbench.agents.base import Agent, Transition
from priorbench.agents.qnet import TextEncoder, q_head, state_text
from priorbench.core.config import NON_NEGATIVE, POSITIVE, UNIT, at_most

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class PPOConfig:
    rollout_steps: Annotated[int, at_most(1_000_000)] = 128
    """Env steps collected per update (the rollout buffer N)."""
    epochs: Annotated[int, at_most(1000)] = 4
    """Passes over the rollout per update."""
    minibatch_size: Annotated[int, at_most(65_536)] = 32
    """States per gradient step."""
    lr: Annotated[float, POSITIVE] = 3e-4
    """Adam learning rate of the policy."""
    gamma: Annotated[float, UNIT] = 0.99
    """Discount factor."""
    gae_lambda: Annotated[float, UNIT] = 0.95
    """λ of generalised advantage estimation."""
    clip_range: Annotated[float, POSITIVE] = 0.2
    """ε of the clipped surrogate (ratio kept in [1 − ε, 1 + ε])."""
    value_coef: Annotated[float, NON_NEGATIVE] = 0.5
    """Weight of the value loss ½·(V(s) − return)²."""
    entropy_coef: Annotated[float, NON_NEGATIVE] = 0.01
    """Weight of the entropy bonus (0 turns it off)."""
    max_grad_norm: Annotated[float, POSITIVE] = 0.5
    """Gradient clipping by global norm."""
    normalize_advantages: bool = True
    """Standardise advantages within each minibatch."""
    num_envs: Annotated[int, at_most(256)] = 1
    """Copies of the train env stepped in lockstep (CleanRL's num_envs): one batched forward
    acts for all; `rollout_steps` counts the steps of all of them."""


@dataclass(frozen=True)
class PolicyState:
    """What the policy reads at one step: its text (a prompt, or task + observation) and the
    admissible commands it chooses among."""

    text: str
    commands: tuple[str, ...]


@dataclass
class RolloutStep:
    """One env step in the rollout buffer, with what the behaviour policy said about it."""

    state: PolicyState
    action: int
    logprob: float
    """log π_old(action | state) when it was taken."""
    value: float
    """V_old(state) when it was taken."""
    reward: float
    terminated: bool
    """The episode ended in a terminal state (no bootstrap)."""
    episode_end: bool
    """The episode ended here (terminated, truncated, or cut short by a reset)."""
    next_state: PolicyState | None
    """The state that followed (None when terminated): bootstraps truncated episodes and the
    rollout's last step."""


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    episode_end: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over one rollout: (advantages, returns).

    δ_t = r_t + γ·(1 − terminated_t)·V(s_{t+1}) − V(s_t); A_t = δ_t + γλ·A_{t+1}, the sum cut
    at episode ends. `next_values[t]` is V(s_{t+1}) (ignored where terminated).
    """
    advantages = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        bootstrap = 0.0 if terminated[t] else float(next_values[t])
        delta = float(rewards[t]) + gamma * bootstrap - float(values[t])
        running = delta + gamma * lam * (0.0 if episode_end[t] else running)
        advantages[t] = running
    return advantages, advantages + values


def pad_scores(flat: torch.Tensor, sizes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat per-command scores, `sizes[i]` for state i → ([states, widest], valid mask)."""
    import torch

    width = max(sizes)
    valid = torch.arange(width, device=flat.device)[None] < torch.tensor(sizes, device=flat.device)[:, None]
    padded = torch.full((len(sizes), width), -torch.inf, dtype=flat.dtype, device=flat.device)
    return padded.masked_scatter(valid, flat), valid


def masked_log_softmax(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log π over each row's valid commands (−inf on padding)."""
    return scores.masked_fill(~valid, -float("inf")).log_softmax(-1)


def policy_entropy(logp: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """H(π(·|s)) per row, over the valid commands."""
    safe = logp.masked_fill(~valid, 0.0)
    return -(safe.exp() * safe).masked_fill(~valid, 0.0).sum(-1)


def exact_kl(logp: torch.Tensor, ref_logp: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """KL[π ‖ p] = Σ_a π(a|s)·(log π(a|s) − log p(a|s)) per row, exactly over the valid commands.

    Both arguments are normalised log-probabilities over each row's commands.
    """
    diff = (logp - ref_logp).masked_fill(~valid, 0.0)
    return (logp.masked_fill(~valid, 0.0).exp() * diff).masked_fill(~valid, 0.0).sum(-1)


class PPOAgent(Agent):
    """PPO over the admissible commands; subclasses supply the policy and value networks."""

    config: PPOConfig
    #: The weight α of KL[π ‖ reference] in the loss (only agents with a reference set it).
    kl_coef: Annotated[float, NON_NEGATIVE] = 0.0

    def __init__(self, config: PPOConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        # One rollout segment per env copy: GAE runs along each copy's own steps.
        self.buffers: list[list[RolloutStep]] = [[] for _ in range(config.num_envs)]
        self._pending: dict[int, tuple[PolicyState, int, float, float]] = {}
        self.env_steps = 0
        self.updates = 0

    # --- what subclasses provide -----------------------------------------------------------
    @abstractmethod
    def policy_state(self, obs: str, info: dict[str, Any], *, explore: bool, slot: int = 0) -> PolicyState:
        """The state as the policy reads it (`explore` tells training from evaluation episodes;
        `slot`, which train env copy)."""

    @abstractmethod
    def evaluate(self, states: Sequence[PolicyState]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores [states, widest] (π = softmax over the valid ones), valid mask, values [states].

        Runs under the caller's autograd mode: no_grad when acting, gradients in the update.
        """

    @abstractmethod
    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups (the trainable parameters with their learning rates)."""

    def reference_logprobs(self, states: Sequence[PolicyState]) -> list[np.ndarray] | None:
        """Normalised log p(·|s) of a reference distribution per state (None: no KL term)."""
        return None

    def remember_action(self, obs: str, command: str, *, explore: bool, slot: int = 0) -> None:  # noqa: B027
        """Hook after each decision (agents with a history in their prompt keep it here)."""

    @property
    def device(self) -> Any:
        return "cpu"

    def _make_optimizer(self) -> None:
        import torch

        self.optimizer = torch.optim.Adam(self.param_groups())
        self._trainable = [p for group in self.optimizer.param_groups for p in group["params"]]

    # --- acting ----------------------------------------------------------------------------
    def act(self, obs: str, info: dict[str, Any], *, explore: bool) -> str:
        if explore:
            return self.act_many([(0, obs, info)])[0]
        import torch

        state = self.policy_state(obs, info, explore=False)
        with torch.no_grad():
            scores, valid, _ = self.evaluate([state])
            logp = masked_log_softmax(scores, valid)[0, :len(state.commands)].double().cpu().numpy()
        command = state.commands[int(np.argmax(logp))]
        self.remember_action(obs, command, explore=False)
        return command

    def act_many(self, slots: Sequence[tuple[int, str, dict[str, Any]]]) -> list[str]:
        """Sample a command per train env copy from π_old: one batched forward for all."""
        import torch

        states = [self.policy_state(obs, info, explore=True, slot=slot) for slot, obs, info in slots]
        with torch.no_grad():
            scores, valid, values = self.evaluate(states)
            logps = masked_log_softmax(scores, valid).double().cpu().numpy()
        commands = []
        for row, ((slot, obs, _), state) in enumerate(zip(slots, states, strict=True)):
            logp = logps[row, :len(state.commands)]
            probs = np.exp(logp - logp.max())
            choice = int(self.rng.choice(len(probs), p=probs / probs.sum()))
            self._pending[slot] = (state, choice, float(logp[choice]), float(values[row]))
            commands.append(state.commands[choice])
            self.remember_action(obs, commands[-1], explore=True, slot=slot)
        return commands

    def observe(self, transition: Transition) -> None:
        if transition.slot not in self._pending:
            raise RuntimeError("observe() without a preceding act(explore=True)")
        state, action, logprob, value = self._pending.pop(transition.slot)
        if state.commands[action] != transition.action:
            raise RuntimeError(f"observed action {transition.action!r} is not the one chosen "
                               f"({state.commands[action]!r})")
        terminated = transition.terminated or not transition.next_info["admissible_commands"]
        next_state = None if terminated else self.policy_state(transition.next_obs, transition.next_info,
                                                                explore=True, slot=transition.slot)
        self.buffers[transition.slot].append(RolloutStep(state, action, logprob, value, float(transition.reward),
                                                         terminated, terminated or transition.truncated, next_state))
        self.env_steps += 1

    def reset_episode(self, *, explore: bool, slot: int = 0) -> None:
        buffer = self.buffers[slot]
        if explore and buffer and not buffer[-1].episode_end:
            buffer[-1].episode_end = True  # a new episode began before this one ended

    # --- learning --------------------------------------------------------------------------
    def update(self) -> dict[str, float]:
        if sum(len(b) for b in self.buffers) < self.config.rollout_steps:
            return {}
        metrics = self.ppo_update([b for b in self.buffers if b])
        self.buffers = [[] for _ in self.buffers]
        self.updates += 1
        return metrics

    def _values(self, states: Sequence[PolicyState], batch: int) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(states), batch):
                out.append(self.evaluate(states[start:start + batch])[2].double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def advantages(self, steps: Sequence[RolloutStep]) -> tuple[np.ndarray, np.ndarray]:
        """GAE advantages and returns of a rollout, bootstrapping cut episodes with V(s')."""
        values = np.array([s.value for s in steps])
        next_values = np.zeros(len(steps))
        next_values[:-1] = values[1:]
        cut = [i for i, s in enumerate(steps)
               if not s.terminated and (s.episode_end or i == len(steps) - 1)]
        if cut:
            next_states = [steps[i].next_state for i in cut]
            next_values[cut] = self._values(next_states, self.config.minibatch_size)  # type: ignore[arg-type]
        return gae(np.array([s.reward for s in steps]), values, next_values,
                   np.array([s.terminated for s in steps]), np.array([s.episode_end for s in steps]),
                   self.config.gamma, self.config.gae_lambda)

    def ppo_update(self, segments: Sequence[Sequence[RolloutStep]]) -> dict[str, float]:
        """`epochs` passes of clipped-surrogate minibatch steps over one rollout (a segment
        per env copy, GAE along each); mean metrics."""
        import torch

        cfg = self.config
        parts = [self.advantages(segment) for segment in segments]
        advantages = np.concatenate([a for a, _ in parts])
        returns = np.concatenate([r for _, r in parts])
        steps = [step for segment in segments for step in segment]
        states = [s.state for s in steps]
        reference = self.reference_logprobs(states)
        device = self.device
        actions = torch.tensor([s.action for s in steps], device=device)
        old_logp = torch.tensor([s.logprob for s in steps], dtype=torch.float32, device=device)
        adv_all = torch.tensor(advantages, dtype=torch.float32, device=device)
        ret_all = torch.tensor(returns, dtype=torch.float32, device=device)
        totals: dict[str, float] = {}
        count = 0
        for _ in range(cfg.epochs):
            order = self.rng.permutation(len(steps))
            for start in range(0, len(steps), cfg.minibatch_size):
                idx = order[start:start + cfg.minibatch_size]
                scores, valid, values = self.evaluate([states[i] for i in idx])
                logp = masked_log_softmax(scores.float(), valid)
                index = torch.as_tensor(idx, device=device)
                new_logp = logp.gather(1, actions[index, None]).squeeze(1)
                log_ratio = new_logp - old_logp[index]
                ratio = log_ratio.exp()
                adv = adv_all[index]
                if cfg.normalize_advantages and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                policy_loss = torch.max(-adv * ratio,
                                        -adv * ratio.clamp(1 - cfg.clip_range, 1 + cfg.clip_range)).mean()
                value_loss = 0.5 * (values.float() - ret_all[index]).pow(2).mean()
                entropy = policy_entropy(logp, valid).mean()
                loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
                metrics = {"policy_loss": policy_loss, "value_loss": value_loss, "policy_entropy": entropy}
                if reference is not None:
                    flat = torch.as_tensor(np.concatenate([reference[i] for i in idx]), dtype=logp.dtype)
                    ref, _ = pad_scores(flat.to(device), [len(states[i].commands) for i in idx])
                    kl = exact_kl(logp, ref, valid).mean()
                    loss = loss + self.kl_coef * kl
                    metrics["kl_to_prior"] = kl
                self.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self._trainable, cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    metrics["clip_fraction"] = ((ratio - 1).abs() > cfg.clip_range).float().mean()
                    metrics["approx_kl"] = ((ratio - 1) - log_ratio).mean()  # old → new policy
                for key, value in metrics.items():
                    totals[key] = totals.get(key, 0.0) + float(value.detach())
                count += 1
        return {key: value / count for key, value in sorted(totals.items())}

    # --- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "optimizer": self.optimizer.state_dict(),
                "buffers": [[dataclasses.asdict(s) for s in b] for b in self.buffers],
                "env_steps": self.env_steps, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffers = [[_step_from_dict(s) for s in b] for b in state["buffers"]]
        self.env_steps, self.updates = state["env_steps"], state["updates"]
        self._pending = {}


def _state_from_dict(data: dict[str, Any] | None) -> PolicyState | None:
    return None if data is None else PolicyState(data["text"], tuple(data["commands"]))


def _step_from_dict(data: dict[str, Any]) -> RolloutStep:
    return RolloutStep(**{**data, "state": _state_from_dict(data["state"]),
                          "next_state": _state_from_dict(data["next_state"])})


# --- the pure-RL baseline ---------------------------------------------------------------------

@dataclass(frozen=True)
class PPOTextConfig(PPOConfig):
    encoder: str = "minilm"
    """Frozen text encoder: "minilm" (all-MiniLM-L6-v2) or a local HF encoder folder."""
    hidden: Annotated[int, at_most(16_384)] = 64
    """Width of the policy and value MLPs."""
    lr: Annotated[float, POSITIVE] = 5e-4
    """Adam learning rate of both MLPs."""


class PPO(PPOAgent):
    """PPO without a prior: logits = MLP([e(task. observation), e(command)]), V = MLP(e(state)),
    e a frozen MiniLM (the embeddings the value-based agents use)."""

    Config: ClassVar[type] = PPOTextConfig
    config: PPOTextConfig

    def __init__(self, config: PPOTextConfig, *, seed: int, env_id: str) -> None:
        super().__init__(config, seed=seed, env_id=env_id)
        self.encoder = TextEncoder(config.encoder)
        # init from torch's seeded global RNG
        self.policy_head = q_head(2 * self.encoder.dim, config.hidden)
        self.value_head = q_head(self.encoder.dim, config.hidden)
        self._make_optimizer()

    def policy_state(self, obs: str, info: dict[str, Any], *, explore: bool, slot: int = 0) -> PolicyState:
        return PolicyState(state_text(info["task"], obs), tuple(info["admissible_commands"]))

    def evaluate(self, states: Sequence[PolicyState]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        import torch

        rows = self.encoder.rows([t for s in states for t in (s.text, *s.commands)])
        table = self.encoder.table
        state_rows, pairs, start = [], [], 0
        for s in states:
            state_rows.append(rows[start])
            pairs += [(rows[start], r) for r in rows[start + 1:start + 1 + len(s.commands)]]
            start += 1 + len(s.commands)
        pair_index = torch.tensor(pairs)
        features = torch.cat([table[pair_index[:, 0]], table[pair_index[:, 1]]], -1)
        scores, valid = pad_scores(self.policy_head(features).squeeze(-1), [len(s.commands) for s in states])
        values = self.value_head(table[torch.tensor(state_rows)]).squeeze(-1)
        return scores, valid, values

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": [*self.policy_head.parameters(), *self.value_head.parameters()],
                 "lr": self.config.lr}]

    def counters(self) -> dict[str, float]:
        return dict(self.encoder.counts)

    def provenance(self) -> dict[str, Any]:
        return {"encoder": self.config.encoder}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "policy_head": self.policy_head.state_dict(),
                "value_head": self.value_head.state_dict(), "encoder": self.encoder.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.policy_head.load_state_dict(state["policy_head"])
        self.value_head.load_state_dict(state["value_head"])
        self.encoder.load_state_dict(state["encoder"])
