"""An adapted prior: a transformers prior with a LoRA adapter in its layers (peft).

With the adapter on it is a trainable policy π_θ over the admissible commands; with it off
(`reference()`) it is exactly the frozen prior it started from — the same weights, no second
copy (as TRL's `use_adapter`). `vi` trains one with PPO; `priorbench prior train` fine-tunes
one on expert commands and saves its adapter. This module and `hf.py` are the only code that
holds a language model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np

from priorbench.agents.priors.base import Normalization, Prior, Proposals
from priorbench.core.errors import UserError

#: LoRA target modules by `config.model_type` (attention projections, as TWOSOME).
LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "gpt2": ("c_attn",),
    "llama": ("q_proj", "v_proj"),
    "qwen2": ("q_proj", "v_proj"),
    "mistral": ("q_proj", "v_proj"),
    "gemma3_text": ("q_proj", "v_proj"),
    "gemma3": ("q_proj", "v_proj"),
}


def lora_targets(model: Any, requested: Sequence[str]) -> list[str]:
    """The modules to adapt: as requested, else the model type's attention projections."""
    if requested:
        return list(requested)
    model_type = getattr(model.config, "model_type", "")
    if model_type in LORA_TARGETS:
        return list(LORA_TARGETS[model_type])
    raise UserError(f"no default LoRA target modules for model type {model_type!r}; set "
                    "agent.<name>.lora_target_modules = [...] to its attention projections")


class AdaptedPrior(Prior):
    """A private copy of a registered transformers prior with a fresh LoRA adapter injected.

    Private, not `make_prior`'s shared model: the adapter changes the model's layers. LoRA's A
    matrices are drawn from torch's global RNG, which the agent has seeded.
    """

    def __init__(self, prior: str, params: dict[str, Any] | None = None, *, r: int = 8,
                 alpha: int = 16, target_modules: Sequence[str] = (), layers: int = 0,
                 owner: str = "this agent") -> None:
        from peft import LoraConfig, get_peft_model

        from priorbench.agents.priors import PRIORS, prior_config
        from priorbench.agents.priors.calibration import SETTINGS
        from priorbench.agents.priors.hf import HFPrior

        if set(params or {}) & set(SETTINGS):  # a preset's calibration simply does not apply here
            raise UserError(f"{owner} scores commands with gradients and takes no calibration or "
                            "list_style; remove them from prior_params")
        backend = PRIORS.load(prior)
        if not issubclass(backend, HFPrior):
            raise UserError(f"{owner} trains a LoRA adapter on the prior's weights, "
                            f"so it needs a transformers prior; {prior!r} is not one")
        self.base: HFPrior = backend(prior_config(prior, params))
        model = self.base.model
        depth = int(getattr(model.config, "num_hidden_layers", 0) or getattr(model.config, "n_layer", 0))
        if layers < 0 or (layers and depth and layers > depth):
            raise UserError(f"lora_layers = {layers}: the model has {depth} layers; give 0 (all) to {depth}")
        # Top layers only: no trainable weight below them, so the backward pass stops there.
        top = list(range(depth - layers, depth)) if layers and depth else None
        lora = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0,
                          target_modules=lora_targets(model, target_modules), layers_to_transform=top,
                          fan_in_fan_out=model.config.model_type == "gpt2")  # GPT-2 uses Conv1D
        self.policy = get_peft_model(model, lora)  # injects into self.base.model's layers
        self.policy.eval()  # no dropout anywhere: π_old and π_θ agree at the first step

    # --- the Prior contract (adapter on) ------------------------------------------------------
    @property
    def context_length(self) -> int:
        return self.base.context_length

    @property
    def device(self) -> Any:
        return self.base.device

    @property
    def width(self) -> int:
        """Width of the LM's hidden state (the input embedding size)."""
        return int(self.base.model.get_input_embeddings().embedding_dim)

    def count_tokens(self, prompt: str) -> int:
        return self.base.count_tokens(prompt)

    def format(self, prompt: str) -> str:
        return self.base.format(prompt)

    def score(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], *,
              normalization: Normalization = "sum") -> list[np.ndarray]:
        return self.base.score(prompts, candidates, normalization=normalization)

    def propose(self, prompts: Sequence[str], k: int, admissible: Sequence[Sequence[str]], *,
                seed: int, mode: Literal["sample", "exact"] = "sample") -> list[Proposals]:
        return self.base.propose(prompts, k, admissible, seed=seed, mode=mode)

    def score_tensors(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], **kwargs: Any):
        """The backend's differentiable scores (see `HFPrior.score_tensors`), adapter on."""
        return self.base.score_tensors(prompts, candidates, **kwargs)

    # --- the reference: the frozen prior --------------------------------------------------------
    @contextlib.contextmanager
    def reference(self) -> Iterator[None]:
        """Within this block the model is the frozen prior (adapter disabled, no gradients)."""
        import torch

        with torch.inference_mode(), self.policy.disable_adapter():
            yield

    # --- the adapter --------------------------------------------------------------------------
    def trainable_parameters(self) -> list[Any]:
        return [p for _, p in self.policy.named_parameters() if p.requires_grad]

    @property
    def target_modules(self) -> list[str]:
        return sorted(self.policy.peft_config["default"].target_modules)

    def adapter_bytes(self) -> bytes:
        """The LoRA weights as a safetensors file (portable: peft's adapter key names)."""
        from peft import get_peft_model_state_dict
        from safetensors.torch import save

        # LoRA weights only: never base weights, even with an adapter on a (tied) embedding or lm_head
        weights = get_peft_model_state_dict(self.policy, save_embedding_layers=False)
        return save({k: v.detach().cpu().contiguous() for k, v in weights.items()})

    def load_adapter_bytes(self, data: bytes) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load

        result = set_peft_model_state_dict(self.policy, load(data))
        unexpected = getattr(result, "unexpected_keys", [])
        if unexpected:
            raise UserError(f"the checkpoint's adapter does not fit this model (unexpected keys "
                            f"{unexpected[:3]}…); was it made with other LoRA settings?")

    def lora_settings(self) -> dict[str, Any]:
        config = self.policy.peft_config["default"]
        out = {"r": int(config.r), "alpha": int(config.lora_alpha), "target_modules": self.target_modules,
               "fan_in_fan_out": bool(config.fan_in_fan_out)}
        if config.layers_to_transform is not None:  # absent: every layer (older adapters too)
            out["layers"] = sorted(int(i) for i in config.layers_to_transform)
        return out

    # --- supervised fine-tuning on commands (`priorbench prior train`) --------------------------
    def fit_commands(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]],
                     targets: Sequence[int], *, steps: int, lr: float, batch_size: int, seed: int,
                     normalization: Normalization = "sum", progress: Any = None) -> list[float]:
        """Train the adapter so the prior's distribution over each state's commands puts its
        mass on the target command: cross-entropy of softmax over the admissible set (the
        distribution the agents use), batches drawn with a seeded RNG. Returns the losses."""
        import torch

        if not prompts:
            raise UserError("no training states: the split gave no state with an expert action")
        rng = np.random.default_rng(seed)
        optimizer = torch.optim.Adam(self.trainable_parameters(), lr=lr)
        losses: list[float] = []
        for step in range(steps):
            picks = rng.choice(len(prompts), size=min(batch_size, len(prompts)), replace=False)
            flat, _ = self.score_tensors([prompts[i] for i in picks], [candidates[i] for i in picks],
                                         normalization=normalization)
            loss, start = flat.new_zeros(()), 0
            for i in picks:
                logits = flat[start:start + len(candidates[i])]
                loss = loss - torch.log_softmax(logits, 0)[targets[i]]
                start += len(candidates[i])
            loss = loss / len(picks)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if progress:
                progress(step + 1, losses[-1])
        return losses

    def provenance(self) -> dict[str, Any]:
        return self.base.provenance()

    def counters(self) -> dict[str, float]:
        return self.base.counters()
