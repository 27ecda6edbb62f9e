"""A tiny GPT-2 (or Llama) built from a config, with a byte-level BPE tokenizer trained on game text.

Random weights: not a useful prior, but a real causal LM that exercises every code path
(scoring, sampling, LoRA) in seconds. Tests and smoke runs use it; the saved folder loads
through the same `HFPrior` as any model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from priorbench.core.paths import cache_root, write_folder
from priorbench.core.seeding import fixed_rng

CORPUS = [
    "You are at row 1, column 1 of a 4×4 frozen lake. North: the edge of the lake.",
    "South: frozen ice. East: a hole. West: the goal. The goal is 3 steps south and 2 steps east.",
    "go north go south go east go west pick up the tomato chop deliver get plate go to knife",
    "Task: Cross the frozen lake to reach the goal without falling into a hole.",
    "Admissible actions: go north, go south. Reply with exactly one of the admissible actions.",
    "There are two fixed cutting boards in the room. You notice a tomato, a lettuce and an onion.",
    "Currently you don't have anything in hand. take the apple from the table, open the fridge.",
]


def build_tiny_lm(folder: Path, *, seed: int = 0, n_layer: int = 2, n_embd: int = 64,
                  arch: Literal["gpt2", "llama"] = "gpt2") -> Path:
    """Write a random-weight GPT-2 (or Llama: RMSNorm, rotary positions, grouped KV heads, as
    SmolLM2) and its tokenizer to `folder` (idempotent); return it."""
    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                                        bos_token="<|endoftext|>", pad_token="<|endoftext|>")
    ends = {"bos_token_id": tokenizer.eos_token_id, "eos_token_id": tokenizer.eos_token_id}
    with fixed_rng(seed):
        if arch == "llama":
            model = LlamaForCausalLM(LlamaConfig(
                vocab_size=len(tokenizer), hidden_size=n_embd, intermediate_size=2 * n_embd,
                num_hidden_layers=n_layer, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=1024, tie_word_embeddings=True, **ends))
        else:
            model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=n_embd,
                                               n_layer=n_layer, n_head=4, **ends))

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    return write_folder(folder, write, prefix=".tiny-")


def tiny_lm_path() -> Path:
    """The shared tiny model folder under priorbench's cache (built on first use)."""
    return build_tiny_lm(cache_root() / "models" / "tiny-gpt2-v1")
