"""VI (PAPER.md §1): the prior LLM with a LoRA adapter is the policy, trained by PPO with an exact
KL to the frozen prior; α = 0 with token normalisation is TWOSOME (Tan et al., ICLR 2024).

π_θ(a|s) = softmax over the admissible commands of their normalised log-probs under the adapted
LM, scored by the prior layer's shared-prefix path (`HFPrior.score_tensors`, with gradients).
p_LLM(a|s) is the same softmax with the adapter disabled: the same weights, no second copy (as
TRL's `use_adapter`). Loss = clipped surrogate + c_v·value loss − c_H·entropy
+ α·KL[π_θ(·|s) ‖ p_LLM(·|s)], the KL summed exactly over the admissible set. The critic is an
MLP on the adapted LM's last hidden state at the prompt's final token, read detached: the value
loss trains the head only, so the adapter moves for the policy and the KL alone.

The prior's log-probs are computed once per (prompt, commands) — in the update, batched over
the rollout's new states — and kept in the checkpoint with the adapter (safetensors bytes),
value head, optimizer, rollout buffer and RNG.

Compute: every env step costs one prompt forward (acting, no gradients); every update costs
`epochs` × `rollout_steps` prompt forward+backward passes plus one prior forward per new state.
With the adapter on the top `lora_layers` layers only (2, the default; 0 = every layer, the
paper's setting) the backward stops at them, and the frozen layers below run once per state
(`agents.priors.adapted.FrozenTrunk`): acting, each epoch and the prior then run only the top
layers on the stored trunk output — the same numbers within float rounding (tested against
the whole model). SmolLM2-135M on 2 shared CPU cores: see benchmarks/README.md ("vi wall
time"). On a GPU set `prior_params = {device = "cuda", dtype = "bfloat16"}` and raise
`minibatch_size` and `num_envs` (N env copies in lockstep, one batched forward to act).

Presets (spec snippets; budgets are examples, α = 0.1 matches the paper's inverse temperature
10 and weighs the KL against standardised advantages):

    # Overcooked tomato salad (5 macro-actions, ≤31 steps)
    envs = ["priorbench/Overcooked-TomatoSalad-v0"]
    agents = ["vi", "twosome"]
    [budget]
    steps = 5000
    eval_every = 500
    [agent.vi]              # the registered defaults
    rollout_steps = 64
    epochs = 2
    minibatch_size = 8
    lora_layers = 2         # 0: the adapter on every layer (the paper's; ~7× slower on CPU)

    # Overcooked lettuce-tomato salad (8 macro-actions, ≤51 steps: longer rollouts)
    envs = ["priorbench/Overcooked-LettuceTomatoSalad-v0"]
    [agent.vi]
    rollout_steps = 128
    entropy_coef = 0.02

    # Frozen Lake 4×4 (≤20 steps, reward 1 at the goal and 0 everywhere else: rollouts
    # without a success hold only value noise, which standardising would blow up into
    # random policy steps, so advantages stay raw here)
    envs = ["priorbench/FrozenLake-4x4-v0"]
    [agent.vi]
    rollout_steps = 64
    epochs = 4
    normalize_advantages = false
    entropy_coef = 0.0
    lr = 0.03               # raw sparse advantages are small: 3e-3 moves the policy by approx_kl 5e-4

Learning rates: a PPO update should move the policy by a median approx_kl of 0.003–0.05;
`benchmarks/vi_update_size.py` measures it (benchmarks/README.md, "vi update size"): 3e-3 gives
0.01 on tomato salad (the registered default) and 3e-2 gives 0.01 on Frozen Lake (its preset);
the earlier 1e-4 gave ~1e-6, so vi never left its prior and wrote twosome's records.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np

from priorbench.agents.ppo import PolicyState, PPOAgent, PPOConfig, pad_scores
from priorbench.agents.priors import Normalization
from priorbench.agents.priors.prompts import fit_prompt, template_for
from priorbench.core.config import NON_NEGATIVE, POSITIVE, at_most
from priorbench.core.errors import UserError

if TYPE_CHECKING:
    import torch

@dataclass(frozen=True)
class VIConfig(PPOConfig):
    prior: str = "smollm2-135m"
    """Registered transformers prior (`priorbench list priors`); its weights carry the adapter."""
    prior_params: dict[str, Any] = field(default_factory=dict)
    """Settings of the prior backend (model path, device, dtype)."""
    alpha: Annotated[float, NON_NEGATIVE] = 0.1
    """Weight α of KL[π_θ ‖ p_LLM] in the loss (0: TWOSOME)."""
    normalization: Normalization = "token"
    """Command log-prob before the softmax: token sum, or per token or per word (TWOSOME)."""
    history: Annotated[int, NON_NEGATIVE] = 0
    """Recent (observation, action) pairs in the prompt (0–1 keeps CPU prompts short)."""
    lora_r: Annotated[int, at_most(1024)] = 8
    """LoRA rank."""
    lora_alpha: Annotated[int, POSITIVE] = 16
    """LoRA scaling numerator (scale = lora_alpha / lora_r)."""
    lora_target_modules: tuple[str, ...] = ()
    """Modules that get the adapter; empty: by model type (GPT-2 c_attn, Llama q_proj+v_proj)."""
    lora_layers: Annotated[int, NON_NEGATIVE] = 2
    """Adapter on the top N decoder layers only (0: every layer, the paper's setting): the
    backward pass then stops at them, and the frozen layers below run once per state
    (`frozen_cache_mib`; benchmarks/README.md, "vi wall time")."""
    frozen_cache_mib: Annotated[int, at_most(65_536, lo=0)] = 512
    """Memory for the frozen lower layers' outputs per state when lora_layers > 0, reused in
    acting, every epoch and by the frozen prior (0: run the whole model each time; the same
    numbers). Llama-family models (SmolLM2, Gemma 3); others always run the whole model."""
    value_hidden: Annotated[int, at_most(16_384)] = 64
    """Width of the value head's hidden layer."""
    value_lr: Annotated[float, POSITIVE] = 1e-3
    """Adam learning rate of the value head."""
    score_batch_size: Annotated[int, at_most(4096)] = 16
    """Prompts per forward pass when scoring with the frozen prior."""
    prior_cache: bool = True
    """Keep the frozen prior's log-probs per (prompt, commands); off: rescore every rollout state."""
    rollout_steps: Annotated[int, at_most(1_000_000)] = 64
    """Env steps collected per update (CPU-sized; TWOSOME used 4 envs × 128 on GPUs)."""
    epochs: Annotated[int, at_most(1000)] = 2
    """Passes over the rollout per update (each costs a forward+backward per stored prompt)."""
    minibatch_size: Annotated[int, at_most(65_536)] = 8
    """Prompts per gradient step (raise it on a GPU)."""
    lr: Annotated[float, POSITIVE] = 3e-3
    """Adam learning rate of the LoRA weights: 3e-3 moves the policy by a median approx_kl of
    0.01 per update on tomato salad (1e-4, the earlier default, by ~1e-6: vi never left its
    prior; benchmarks/README.md, "vi update size")."""


class VI(PPOAgent):
    """PPO on a LoRA-adapted LLM policy over the admissible commands, KL-regularised to the prior."""

    Config: ClassVar[type] = VIConfig
    config: VIConfig

    def __init__(self, config: VIConfig, *, seed: int, env_id: str) -> None:
        import torch

        from priorbench.agents.priors.adapted import AdaptedPrior

        super().__init__(config, seed=seed, env_id=env_id)
        if config.alpha < 0:
            raise UserError(f"alpha must be ≥ 0, got {config.alpha}")
        # π_θ: the prior with a LoRA adapter (its A drawn from torch's seeded global RNG);
        # p_LLM: the same model inside `self.prior.reference()`.
        self.prior = AdaptedPrior(config.prior, config.prior_params, r=config.lora_r,
                                  alpha=config.lora_alpha, target_modules=config.lora_target_modules,
                                  layers=config.lora_layers, trunk_mib=config.frozen_cache_mib,
                                  owner=type(self).__name__.lower())
        self.policy = self.prior.policy
        self.template = template_for(env_id)
        width = self.prior.width
        self.value_head = torch.nn.Sequential(
            torch.nn.Linear(width, config.value_hidden), torch.nn.Tanh(),
            torch.nn.Linear(config.value_hidden, 1),
        ).to(self.prior.device)
        self.kl_coef = config.alpha
        # Recent (observation, command) pairs per train env copy (slot) and for evaluation (-1):
        # training and evaluation episodes interleave.
        self.history: dict[int, deque[tuple[str, str]]] = {
            slot: deque(maxlen=max(config.history, 0) or None) for slot in (*range(config.num_envs), -1)}
        self.prior_logprobs: dict[str, list[float]] = {}
        self._counts = {"prior_cache_hits": 0, "prior_cache_misses": 0}
        self._make_optimizer()

    @property
    def device(self) -> Any:
        return self.prior.device

    # --- the policy ------------------------------------------------------------------------
    def policy_state(self, obs: str, info: dict[str, Any], *, explore: bool, slot: int = 0) -> PolicyState:
        commands = tuple(info["admissible_commands"])
        history = list(self.history[slot if explore else -1]) if self.config.history > 0 else []
        prompt = fit_prompt(self.template, self.prior.count_tokens, self.prior.context_length,
                            info["task"], obs, commands, history)
        return PolicyState(prompt, commands)

    def remember_action(self, obs: str, command: str, *, explore: bool, slot: int = 0) -> None:
        if self.config.history > 0:
            self.history[slot if explore else -1].append((obs, command))

    def reset_episode(self, *, explore: bool, slot: int = 0) -> None:
        super().reset_episode(explore=explore, slot=slot)
        self.history[slot if explore else -1].clear()

    def evaluate(self, states: Sequence[PolicyState]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat, hidden = self.prior.score_tensors([s.text for s in states], [s.commands for s in states],
                                                normalization=self.config.normalization,
                                                prompt_hidden=True)
        scores, valid = pad_scores(flat.float(), [len(s.commands) for s in states])
        values = self.value_head(hidden.detach().float()).squeeze(-1)
        return scores, valid, values

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": self.prior.trainable_parameters(), "lr": self.config.lr},
                {"params": list(self.value_head.parameters()), "lr": self.config.value_lr}]

    # --- the prior -------------------------------------------------------------------------
    @staticmethod
    def prior_key(state: PolicyState) -> str:
        return state.text + "\x00" + "\x1f".join(state.commands)

    def frozen_prior_logprobs(self, states: Sequence[PolicyState]) -> list[np.ndarray]:
        """log p_LLM(·|s), normalised over each state's commands: the adapter disabled, batched."""
        out: list[np.ndarray] = []
        with self.prior.reference():
            for start in range(0, len(states), self.config.score_batch_size):
                chunk = states[start:start + self.config.score_batch_size]
                flat, _ = self.prior.score_tensors([s.text for s in chunk], [s.commands for s in chunk],
                                                   normalization=self.config.normalization)
                values = flat.cpu().numpy()
                offset = 0
                for s in chunk:
                    raw = values[offset:offset + len(s.commands)]
                    out.append(raw - np.logaddexp.reduce(raw))
                    offset += len(s.commands)
        return out

    def reference_logprobs(self, states: Sequence[PolicyState]) -> list[np.ndarray]:
        if not self.config.prior_cache:
            self._counts["prior_cache_misses"] += len(states)
            return self.frozen_prior_logprobs(states)
        keys = [self.prior_key(s) for s in states]
        todo = {k: s for k, s in zip(keys, states, strict=True) if k not in self.prior_logprobs}
        self._counts["prior_cache_misses"] += len(todo)
        self._counts["prior_cache_hits"] += len(keys) - len(todo)
        for key, logp in zip(todo, self.frozen_prior_logprobs(list(todo.values())), strict=True):
            self.prior_logprobs[key] = logp.tolist()
        return [np.array(self.prior_logprobs[k]) for k in keys]

    # --- records and checkpoints -----------------------------------------------------------
    def counters(self) -> dict[str, float]:
        return {**self.prior.counters(), **self._counts}

    def provenance(self) -> dict[str, Any]:
        return {"prior": self.prior.provenance(), "template": self.template.id,
                "lora_target_modules": self.prior.target_modules,
                "trainable_parameters": sum(p.numel() for g in self.param_groups() for p in g["params"])}

    def adapter_bytes(self) -> bytes:
        return self.prior.adapter_bytes()

    def load_adapter_bytes(self, data: bytes) -> None:
        self.prior.load_adapter_bytes(data)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "lora_safetensors": self.adapter_bytes(),
                "value_head": self.value_head.state_dict(), "prior_logprobs": dict(self.prior_logprobs),
                "history": {str(slot): list(h) for slot, h in self.history.items()},
                "counts": dict(self._counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_adapter_bytes(state["lora_safetensors"])
        self.value_head.load_state_dict(state["value_head"])
        super().load_state_dict(state)  # the optimizer, after its parameters hold their values
        self.prior_logprobs = dict(state["prior_logprobs"])
        for slot, pairs in state["history"].items():
            self.history[int(slot)].clear()
            self.history[int(slot)].extend(pairs)
        self._counts = dict(state["counts"])
