"""transformers backend for the LLM prior: local folders, GGUF files (converted once) or hub ids.

Exact scoring runs each prompt once and scores every candidate on the prompt's cached keys and
values; proposals prefill the prompt once and decode k samples from copies of its cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np

from priorbench.agents.priors.base import (
    Normalization,
    Prior,
    Proposals,
    draw_exact,
    normalize_scores,
    prompt_digest,
)
from priorbench.agents.priors.codec import PromptCodec
from priorbench.agents.priors.feeds import Feed, FeedFactory, WholeModel, candidate_rest
from priorbench.agents.priors.matching import match_command
from priorbench.agents.priors.models import resolve_model
from priorbench.core.config import POSITIVE, UNIT_OPEN, at_most
from priorbench.core.errors import UserError
from priorbench.core.seeding import derive_seed

if TYPE_CHECKING:
    import torch

@dataclass(frozen=True)
class HFPriorConfig:
    model: str = "smollm2-135m"
    """Registered alias, .gguf file, save_pretrained folder, or hub id."""
    device: str = "cpu"
    """torch device; "auto" spreads the model with accelerate's device_map."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """fp32 on CPU (bf16 is 2–5× slower on AVX2 CPUs); bf16 on GPUs."""
    temperature: Annotated[float, POSITIVE] = 1.0
    """Sampling temperature for proposals."""
    top_p: Annotated[float, UNIT_OPEN] = 1.0
    """Nucleus sampling threshold for proposals."""
    max_new_tokens: Annotated[int, at_most(4096)] = 10
    """Longest proposal, in tokens (a proposal also stops at a newline)."""
    adapter: str = ""
    """A LoRA adapter folder made by `priorbench prior train` (merged into the weights), or ""."""
    prompt_format: Literal["auto", "chat", "plain", "raw"] = "auto"
    """auto: the chat template when the model has one, else plain text ending in "Action:";
    raw: the text exactly as given (the completions server)."""
    batch: Literal["exact", "pad"] = "exact"
    """exact: every state of a batched call runs alone, so its log-probs never depend on what
    shared the call (bit for bit); pad: one left-padded batch (faster on GPUs, numbers move by
    ~1e-5 with the batch's make-up; recorded in the provenance)."""
    system_prompt: str | None = None
    """Chat format only. None: whatever system text the chat template adds by itself
    (SmolLM2's 'You are a helpful AI assistant named SmolLM…'); a string: this system turn
    instead ("" = an empty one, the fewest tokens the template allows). Recorded in the
    provenance, so cached outputs are kept apart."""


class HFPrior(Prior):
    """A causal LM from transformers as a prior over admissible commands."""

    Config = HFPriorConfig

    def __init__(self, config: HFPriorConfig | None = None, **overrides: Any) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.config = config or HFPriorConfig(**overrides)
        if self.config.device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"prior device {self.config.device!r}: CUDA is not available on this machine "
                            "(torch has no GPU here); set device=\"cpu\"")
        self.resolved = resolve_model(self.config.model)
        dtype = getattr(torch, self.config.dtype)
        kwargs: dict[str, Any] = {"dtype": dtype}
        if self.config.device == "auto":
            kwargs["device_map"] = "auto"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.resolved.source)
            self.model = AutoModelForCausalLM.from_pretrained(self.resolved.source, **kwargs)
        except OSError as exc:
            raise UserError(f"cannot load model {self.config.model!r}: {exc}") from None
        self.adapter: dict[str, Any] | None = None
        if self.config.adapter:
            self._merge_adapter(self.config.adapter)
        if self.config.device != "auto":
            self.model.to(self.config.device)
        self.model.eval()
        self.model.requires_grad_(False)
        self.device = next(self.model.parameters()).device
        self.codec = PromptCodec(self.tokenizer, self.config.prompt_format, self.config.system_prompt,
                                 model=self.config.model)
        self.prompt_format = self.codec.prompt_format
        self.chat = self.codec.chat
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self._counts = {"llm_calls": 0, "llm_tokens": 0}

    def _merge_adapter(self, folder: str) -> None:
        from priorbench.agents.priors.lora import merge_adapter, read_adapter

        manifest, data = read_adapter(folder)
        base = manifest.get("base", {})
        if base.get("weights_sha256") != self.resolved.weights_sha256:
            raise UserError(f"adapter {folder} was trained on {base.get('model_id')!r} "
                            f"(weights {str(base.get('weights_sha256'))[:12]}…), not on {self.resolved.model_id!r}; "
                            f"use model={base.get('prior') or base.get('model_id')!r}")
        self.model = merge_adapter(self.model, manifest, data)
        self.adapter = {"sha256": manifest["adapter_sha256"], "env_ids": manifest["env_ids"],
                        "split": manifest["split"], "steps": manifest["steps"], "seed": manifest["seed"]}

    # --- prompts (agents/priors/codec.py) ------------------------------------------------
    def format(self, prompt: str) -> str:
        return self.codec.format(prompt)

    def encode_prompt(self, prompt: str) -> list[int]:
        return self.codec.encode_prompt(prompt)

    def count_tokens(self, prompt: str) -> int:
        return len(self.encode_prompt(prompt))

    def _encode_candidate(self, candidate: str) -> list[int]:
        return self.codec.encode_candidate(candidate)

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "hf",
            "model_id": self.resolved.model_id,
            "weights_sha256": self.resolved.weights_sha256,
            **self.codec.provenance(),
            "dtype": self.config.dtype,
            "sampling": {"temperature": self.config.temperature, "top_p": self.config.top_p,
                         "max_new_tokens": self.config.max_new_tokens},
            **({"adapter": self.adapter} if self.adapter else {}),
            **({"batch": "pad"} if self.config.batch == "pad" else {}),
        }

    def counters(self) -> dict[str, float]:
        return dict(self._counts)

    # --- the shared prefix ---------------------------------------------------------------
    def _prompt_ids(self, prompts: Sequence[str]) -> list[list[int]]:
        ids = [self.encode_prompt(p) for p in prompts]
        for p, i in zip(prompts, ids, strict=True):
            if len(i) + self.config.max_new_tokens > self.context_length:
                raise UserError(
                    f"prompt of {len(i)} tokens does not fit the model's context of "
                    f"{self.context_length}; shorten the observation or history ({p[:60]!r}…)"
                )
        return ids

    def _prefill(self, ids: list[list[int]], *, hidden: bool = False, feed: Feed | None = None):
        """Run the prompts' token ids once (left-padded batch): last-position logits, KV cache, mask,
        lengths, and (with `hidden`) the last layer's hidden state at each prompt's final token.
        `feed` says how the model is run (default: token ids through every layer)."""
        import torch

        width = max(len(i) for i in ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids], device=self.device)
        mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids], device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        # Only the last position's logits are used: skipping the others saves the LM head's
        # work and, when training, the memory of a [batch, length, vocab] tensor.
        out = (feed or WholeModel(self.model)).prompts(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
            logits_to_keep=1, output_hidden_states=hidden)
        self._counts["llm_calls"] += len(ids)
        self._counts["llm_tokens"] += sum(len(i) for i in ids)
        lengths = torch.tensor([len(i) for i in ids], device=self.device)
        last_hidden = out.hidden_states[-1][:, -1] if hidden else None  # left padding: -1 is the prompt's end
        return out.logits[:, -1].float(), out.cache, mask, lengths, last_hidden

    # --- exact scoring -------------------------------------------------------------------
    def score(
        self,
        prompts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        *,
        normalization: Normalization = "sum",
    ) -> list[np.ndarray]:
        if len(prompts) != len(candidates):
            raise ValueError("score() needs one candidate list per prompt")
        for cands in candidates:
            if not cands:
                raise UserError("score() got an empty candidate list: a state needs ≥1 admissible command")
        ids = self._prompt_ids(prompts)
        cand_ids = [[self._encode_candidate(c) for c in cands] for cands in candidates]
        sums = self.score_ids(ids, cand_ids)
        return [normalize_scores(total, [len(i) for i in state_ids], cands, normalization)
                for total, state_ids, cands in zip(sums, cand_ids, candidates, strict=True)]

    def score_ids(self, prompt_ids: Sequence[list[int]], cand_ids: Sequence[Sequence[list[int]]]) -> list[np.ndarray]:
        """Σ log p(candidate tokens | prompt tokens) per state, from token ids (the served
        model's entry: `priorbench serve-prior` gets ids from the openai backend).

        With `batch = "exact"` (the default) each state runs alone, unpadded, so its numbers
        never depend on what else shares the call: a batched call, a server batch of several
        clients' requests and one state at a time all give the same bits. `batch = "pad"` runs
        the states as one left-padded batch (faster on GPUs; numbers then move by ~1e-5 with
        the batch's make-up)."""
        import torch

        if any(not i for cands in cand_ids for i in cands):
            raise UserError("a candidate command is empty after tokenisation")
        groups = ([list(range(len(prompt_ids)))] if self.config.batch == "pad"
                  else [[b] for b in range(len(prompt_ids))])
        out: list[np.ndarray] = []
        with torch.inference_mode():
            for group in groups if prompt_ids else []:
                total, _ = self._score_ids([prompt_ids[b] for b in group], [list(cand_ids[b]) for b in group])
                values, start = total.cpu().numpy(), 0
                for b in group:
                    out.append(values[start:start + len(cand_ids[b])])
                    start += len(cand_ids[b])
        return out

    def score_tensors(
        self,
        prompts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        *,
        normalization: Normalization = "sum",
        prompt_hidden: bool = False,
        feed: FeedFactory | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The one scoring path: every prompt once, every candidate on its prompt's KV cache.

        Returns the (normalised) log-prob of each candidate, flattened in prompt order, as a
        float64 tensor on the model's device, and with `prompt_hidden` the last layer's hidden
        state at each prompt's final token ([prompts, hidden]; None otherwise). It runs under
        whatever autograd mode the caller sets: `score` calls it in inference mode; the LoRA
        policy of `agents.vi` calls it with gradients on, and with the adapter disabled for
        the frozen prior. `feed` builds how the model runs on this batch (`adapted.FrozenTrunk`:
        only the layers above a frozen trunk, on the trunk's stored outputs); same numbers.
        """
        import torch

        ids = self._prompt_ids(prompts)
        cand_ids_by_state = [[self._encode_candidate(c) for c in cands] for cands in candidates]
        if any(not i for cands in cand_ids_by_state for i in cands):
            raise UserError("a candidate command is empty after tokenisation")
        total, hidden = self._score_ids(ids, cand_ids_by_state, prompt_hidden=prompt_hidden, feed=feed)
        if normalization in ("token", "word"):
            flat_ids = [i for cands in cand_ids_by_state for i in cands]
            counts = ([len(i) for i in flat_ids] if normalization == "token"
                      else [max(1, len(c.split())) for cands in candidates for c in cands])
            total = total / torch.tensor(counts, dtype=torch.float64, device=total.device)
        elif normalization != "sum":
            raise ValueError(f"normalization must be sum, token or word, not {normalization!r}")
        return total, hidden

    def _score_ids(self, ids: list[list[int]], cand_ids_by_state: list[list[list[int]]], *,
                   prompt_hidden: bool = False, feed: FeedFactory | None = None):
        import torch

        cand_ids = [i for cands in cand_ids_by_state for i in cands]
        batch_feed = feed(ids, cand_ids_by_state) if feed else WholeModel(self.model)
        last_logits, cache, mask, lengths, hidden = self._prefill(ids, hidden=prompt_hidden, feed=batch_feed)
        rows = [b for b, cands in enumerate(cand_ids_by_state) for _ in cands]
        row_index = torch.tensor(rows, device=self.device)
        first_ids = torch.tensor([i[0] for i in cand_ids], device=self.device)
        total = torch.log_softmax(last_logits[row_index], -1).gather(1, first_ids[:, None]).squeeze(1)
        rest = candidate_rest(self.model, cand_ids_by_state, cache, mask, lengths, batch_feed)
        if rest is not None:
            total = total + rest
        self._counts["llm_tokens"] += sum(len(i) for i in cand_ids)
        return total.double(), hidden

    def text_logprobs(self, texts: Sequence[str | list[int]]) -> list[tuple[list[str], list[float | None], list[int]]]:
        """Per-token log-probs of whole texts or token-id lists (the server's echo): tokens,
        log-probs (None for the first), character offsets."""
        import torch

        results = []
        with torch.inference_mode():
            for text in texts:
                if isinstance(text, str):
                    enc = self.tokenizer(text, add_special_tokens=not self.chat, return_offsets_mapping=True)
                    ids, offsets = enc["input_ids"], [int(a) for a, _ in enc["offset_mapping"]]
                else:
                    ids = list(text)
                tokens = [self.tokenizer.decode([i]) for i in ids]
                if not isinstance(text, str):
                    offsets = [sum(len(t) for t in tokens[:j]) for j in range(len(tokens))]
                logp = torch.log_softmax(self.model(input_ids=torch.tensor([ids], device=self.device)).logits.float(), -1)[0]
                values: list[float | None] = [None] + [float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
                results.append((tokens, values, offsets))
                self._counts["llm_calls"] += 1
                self._counts["llm_tokens"] += len(ids)
        return results

    def score_naive(self, prompt: str, candidates: Sequence[str]) -> np.ndarray:
        """Reference: one full forward over prompt + candidate per candidate (tests, benchmarks)."""
        import torch

        prompt_ids = self.encode_prompt(prompt)
        values = []
        with torch.inference_mode():
            for cand in candidates:
                cand_ids = self._encode_candidate(cand)
                ids = torch.tensor([prompt_ids + cand_ids], device=self.device)
                logp = torch.log_softmax(self.model(input_ids=ids).logits.float(), -1)[0]
                positions = range(len(prompt_ids) - 1, len(prompt_ids) + len(cand_ids) - 1)
                values.append(sum(float(logp[p, t]) for p, t in zip(positions, cand_ids, strict=True)))
        return np.array(values)

    # --- proposals -----------------------------------------------------------------------
    def propose(
        self,
        prompts: Sequence[str],
        k: int,
        admissible: Sequence[Sequence[str]],
        *,
        seed: int,
        mode: Literal["sample", "exact"] = "sample",
    ) -> list[Proposals]:

        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if len(prompts) != len(admissible):
            raise ValueError("propose() needs one admissible list per prompt")
        if not prompts:
            return []
        if mode == "exact":
            return draw_exact(prompts, k, admissible, self.score(prompts, admissible), seed)
        texts, token_logprobs = self.sample_ids(self._prompt_ids(prompts), [prompt_digest(p) for p in prompts],
                                                k, seed)
        results = []
        for b, cmds in enumerate(admissible):
            actions = [match_command(t, cmds)[0] for t in texts[b]]
            results.append(Proposals(actions, texts[b], [sum(lp) for lp in token_logprobs[b]],
                                     unmatched=sum(a is None for a in actions)))
        return results

    def sample_ids(self, prompt_ids: Sequence[list[int]], keys: Sequence[str], k: int, seed: int, *,
                   temperature: float | None = None, top_p: float | None = None,
                   max_new_tokens: int | None = None) -> tuple[list[list[str]], list[list[list[float]]]]:
        """k samples per prompt (texts cut at the first newline, and each token's log-prob)
        from token ids; sample i of a prompt draws its noise from a generator seeded by
        (seed, keys[b], i). Each prompt runs alone unless `batch = "pad"` (see `score_ids`)."""
        import torch

        groups = ([list(range(len(prompt_ids)))] if self.config.batch == "pad"
                  else [[b] for b in range(len(prompt_ids))])
        texts: list[list[str]] = []
        logprobs: list[list[list[float]]] = []
        settings = {"temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens}
        with torch.inference_mode():
            for group in groups if prompt_ids else []:
                t, lp = self._sample([list(prompt_ids[b]) for b in group], [keys[b] for b in group], k, seed,
                                     **settings)
                texts += t
                logprobs += lp
        return texts, logprobs

    def _sample(self, ids: list[list[int]], keys: Sequence[str], k: int, seed: int, *,
                temperature: float | None = None, top_p: float | None = None, max_new_tokens: int | None = None):
        """k samples per prompt decoded from copies of the prompt's KV cache."""
        import torch

        last_logits, cache, mask, lengths, _ = self._prefill(ids)
        rows = torch.tensor([b for b in range(len(ids)) for _ in range(k)], device=self.device)
        cache.batch_select_indices(rows)
        logits = last_logits[rows]
        mask = mask[rows]
        positions = lengths[rows]
        n = len(rows)
        generators = []
        for digest in keys:
            for i in range(k):
                g = torch.Generator(device="cpu")
                g.manual_seed(derive_seed(seed, digest, i))
                generators.append(g)
        eos = self.tokenizer.eos_token_id
        stop_ids = {eos} if eos is not None else set()
        generated: list[list[int]] = [[] for _ in range(n)]
        done = [False] * n
        token_logprobs: list[list[float]] = [[] for _ in range(n)]
        temperature = self.config.temperature if temperature is None else temperature
        top_p = self.config.top_p if top_p is None else top_p
        max_new = self.config.max_new_tokens if max_new_tokens is None else max_new_tokens
        for step in range(max_new):
            logp = torch.log_softmax(logits, -1)
            scaled = torch.log_softmax(logits / max(temperature, 1e-6), -1)
            if top_p < 1.0:
                sorted_logp, order = scaled.sort(-1, descending=True)
                cumulative = sorted_logp.exp().cumsum(-1)
                drop = cumulative - sorted_logp.exp() > top_p
                sorted_logp = sorted_logp.masked_fill(drop, float("-inf"))
                scaled = torch.full_like(scaled, float("-inf")).scatter(-1, order, sorted_logp)
            noise = torch.stack([
                torch.rand(scaled.shape[-1], generator=g).to(self.device) for g in generators
            ])
            gumbel = -torch.log(-torch.log(noise.clamp(1e-20, 1.0 - 1e-7)))
            picks = (scaled + gumbel).argmax(-1)
            for r in range(n):
                if done[r]:
                    continue
                token = int(picks[r])
                if token in stop_ids:
                    done[r] = True
                    continue
                piece = self.tokenizer.decode([token])
                generated[r].append(token)
                token_logprobs[r].append(float(logp[r, token]))
                if "\n" in piece:
                    done[r] = True
            self._counts["llm_tokens"] += n
            if all(done) or step == max_new - 1:
                break
            mask = torch.cat([mask, torch.ones(n, 1, dtype=mask.dtype, device=self.device)], 1)
            out = self.model(input_ids=picks[:, None], attention_mask=mask,
                             position_ids=(positions + step)[:, None], cache=cache,
                             use_cache=True)
            logits = out.logits[:, -1].float()
        texts = [self.tokenizer.decode(g).split("\n")[0].strip() for g in generated]
        return ([texts[b * k:(b + 1) * k] for b in range(len(ids))],
                [token_logprobs[b * k:(b + 1) * k] for b in range(len(ids))])
