"""An adapted prior: a transformers prior with a LoRA adapter in its layers (peft).

With the adapter on it is a trainable policy π_θ over the admissible commands; with it off
(`reference()`) it is exactly the frozen prior it started from — the same weights, no second
copy (as TRL's `use_adapter`). `vi` trains one with PPO; `priorbench prior train` fine-tunes
one on expert commands and saves its adapter. This module and `hf.py` are the only code that
holds a language model.
"""

from __future__ import annotations

import contextlib
import copy
from collections import OrderedDict
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


class FrozenTrunk:
    """The outputs of a model's frozen lower layers, per state, computed once.

    With LoRA on the top L of D decoder layers only, the embeddings and layers 0…D−L−1 never
    change, so their output at every position of a prompt and of each of its candidates is a
    function of the token ids alone. It is computed once per state — (prompt, candidates), run
    alone and unpadded, so a stored entry and a recomputed one are the same numbers — and
    every later pass (acting, each PPO epoch, the frozen prior with the adapter off) runs only
    the top L layers on it, through `HFPrior.score_tensors`'s one scoring path. Entries are
    kept up to `max_bytes`, the least recently used dropped first. Llama-family decoders
    (`embed_tokens`, `layers`, `norm`: SmolLM2, Gemma 3, Qwen2, Mistral); `supports` says.
    """

    def __init__(self, model: Any, start: int, *, max_bytes: int) -> None:
        self.model = model  # the causal LM, LoRA injected in place
        self.decoder = model.get_decoder()
        self.start = start
        self.depth = len(self.decoder.layers)
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()
        self.bytes = 0
        self.counts = {"trunk_hits": 0, "trunk_misses": 0}

    @staticmethod
    def supports(model: Any) -> bool:
        decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
        return decoder is not None and all(hasattr(decoder, a) for a in ("embed_tokens", "layers", "norm"))

    @contextlib.contextmanager
    def _layers(self, start: int, stop: int, *, norm: bool) -> Iterator[None]:
        """Within this block the decoder is its layers start…stop−1 alone (re-indexed for the
        KV cache and per-layer attention types), with or without the final norm."""
        import torch

        decoder = self.decoder
        layers, config, final = decoder.layers, decoder.config, decoder.norm
        chosen = list(layers)[start:stop]
        sliced = copy.copy(config)
        sliced.num_hidden_layers = len(chosen)
        if getattr(config, "layer_types", None):
            sliced.layer_types = list(config.layer_types[start:stop])
        indexed = [(m, m.layer_idx) for layer in chosen for m in (layer, getattr(layer, "self_attn", None))
                   if m is not None and isinstance(getattr(m, "layer_idx", None), int)]
        try:
            decoder.layers = torch.nn.ModuleList(chosen)
            decoder.config = sliced
            if not norm:
                decoder.norm = torch.nn.Identity()
            for module, index in indexed:
                module.layer_idx = index - start
            yield
        finally:
            decoder.layers, decoder.config, decoder.norm = layers, config, final
            for module, index in indexed:
                module.layer_idx = index

    def _compute(self, prompt_ids: list[int], cand_ids: list[list[int]]) -> tuple[Any, Any]:
        """The trunk's output at the prompt's positions [P, d] and at each candidate's tokens
        but the last [C, longest − 1, d] (None when every candidate is one token)."""
        import torch

        device = self.model.device
        with torch.inference_mode(False), torch.no_grad(), self._layers(0, self.start, norm=False):
            out = self.decoder(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
            prompt_h = out.last_hidden_state[0]
            longest = max(len(c) for c in cand_ids)
            if longest == 1:
                return prompt_h, None
            cache = out.cache
            cache.batch_select_indices(torch.zeros(len(cand_ids), dtype=torch.long, device=device))
            tokens = torch.tensor([c[:-1] + [0] * (longest - len(c)) for c in cand_ids], device=device)
            valid = torch.tensor([[1] * (len(c) - 1) + [0] * (longest - len(c)) for c in cand_ids], device=device)
            mask = torch.cat([torch.ones(len(cand_ids), len(prompt_ids), dtype=valid.dtype, device=device), valid], 1)
            positions = len(prompt_ids) + torch.arange(longest - 1, device=device)
            out = self.decoder(input_ids=tokens, attention_mask=mask, cache=cache, use_cache=True,
                               position_ids=positions[None].expand(len(cand_ids), -1))
            return prompt_h, out.last_hidden_state

    def entry(self, prompt_ids: list[int], cand_ids: list[list[int]]) -> tuple[Any, Any]:
        key = (tuple(prompt_ids), tuple(tuple(c) for c in cand_ids))
        if key in self.entries:
            self.counts["trunk_hits"] += 1
            self.entries.move_to_end(key)
            return self.entries[key]
        self.counts["trunk_misses"] += 1
        value = self._compute(prompt_ids, cand_ids)
        size = sum(t.numel() * t.element_size() for t in value if t is not None)
        if size <= self.max_bytes:
            self.entries[key] = value
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, dropped = self.entries.popitem(last=False)
                self.bytes -= sum(t.numel() * t.element_size() for t in dropped if t is not None)
        return value

    def __call__(self, prompt_ids: list[list[int]], cand_ids: list[list[list[int]]]) -> _TopLayers:
        """The feed for one batch (`HFPrior.score_tensors`): its states' entries, top layers only."""
        return _TopLayers(self, [self.entry(p, c) for p, c in zip(prompt_ids, cand_ids, strict=True)],
                          [len(c) for c in cand_ids], [len(i) for c in cand_ids for i in c])


class _TopLayers:
    """Runs the top layers on a batch's stored trunk outputs in place of the token ids."""

    def __init__(self, trunk: FrozenTrunk, entries: list[tuple[Any, Any]], sizes: list[int],
                 lengths: list[int]) -> None:
        self.trunk, self.entries, self.sizes, self.lengths = trunk, entries, sizes, lengths

    def _run(self, inputs_embeds: Any, kwargs: dict[str, Any]) -> Any:
        with self.trunk._layers(self.trunk.start, self.trunk.depth, norm=True):
            return self.trunk.model(inputs_embeds=inputs_embeds, **kwargs)

    def prompts(self, *, input_ids: Any, **kwargs: Any) -> Any:
        import torch

        first = self.entries[0][0]
        embeds = torch.zeros(*input_ids.shape, first.shape[-1], dtype=first.dtype, device=first.device)
        for row, (prompt_h, _) in enumerate(self.entries):  # left padding, as the ids
            embeds[row, input_ids.shape[1] - prompt_h.shape[0]:] = prompt_h
        return self._run(embeds, kwargs)

    def candidates(self, layout: list[list[int]], *, input_ids: Any, **kwargs: Any) -> Any:
        import torch

        first = self.entries[0][0]
        embeds = torch.zeros(*input_ids.shape, first.shape[-1], dtype=first.dtype, device=first.device)
        offsets = [0]
        for size in self.sizes:
            offsets.append(offsets[-1] + size)
        for row, (group, (_, cand_h)) in enumerate(zip(layout, self.entries, strict=True)):
            at = 0
            for j in group:  # packed as the ids: each candidate's tokens but the last
                state_row = cand_h[j - offsets[row]]
                n = int(self.lengths[j]) - 1
                embeds[row, at:at + n] = state_row[:n]
                at += n
        return self._run(embeds, kwargs)


class AdaptedPrior(Prior):
    """A private copy of a registered transformers prior with a fresh LoRA adapter injected.

    Private, not `make_prior`'s shared model: the adapter changes the model's layers. LoRA's A
    matrices are drawn from torch's global RNG, which the agent has seeded.
    """

    def __init__(self, prior: str, params: dict[str, Any] | None = None, *, r: int = 8,
                 alpha: int = 16, target_modules: Sequence[str] = (), layers: int = 0,
                 trunk_mib: int = 0, owner: str = "this agent") -> None:
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
        self.trunk: FrozenTrunk | None = None
        if top and top[0] > 0 and trunk_mib and FrozenTrunk.supports(model) and self._frozen_below(top[0]):
            self.trunk = FrozenTrunk(model, top[0], max_bytes=trunk_mib << 20)

    def _frozen_below(self, start: int) -> bool:
        """No trainable weight in the embeddings or the layers below `start` (say, an adapter
        on the embedding): only then is the trunk's output fixed."""
        import re

        for name, p in self.policy.named_parameters():
            if not p.requires_grad:
                continue
            layer = re.search(r"\.layers\.(\d+)\.", name)
            if (layer and int(layer.group(1)) < start) or "embed_tokens" in name:
                return False
        return True

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
        """The backend's differentiable scores (see `HFPrior.score_tensors`), adapter on unless
        in `reference()`; on the frozen trunk's stored outputs where there is one."""
        return self.base.score_tensors(prompts, candidates, feed=self.trunk, **kwargs)

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
        return {**self.base.counters(), **(self.trunk.counts if self.trunk else {})}
