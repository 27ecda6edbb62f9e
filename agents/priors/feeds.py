"""How `HFPrior.score_tensors` runs the model on a batch (feeds), and the candidates' pass:
every candidate of a prompt packed on the prompt's KV cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


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


def candidate_rest(model: Any, cand_ids_by_state: list[list[list[int]]], cache: Any, mask: Any, lengths: Any,
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

    device = mask.device
    flat_index, start = [], 0
    for cands in cand_ids_by_state:
        flat_index.append(list(range(start, start + len(cands))))
        start += len(cands)
    rest = torch.zeros(start, device=device, dtype=torch.float32)
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
    neg = torch.finfo(model.dtype).min
    prompt_lengths = lengths.tolist()
    for r in range(rounds):
        layout = [g[r] if r < len(g) else [] for g in groups]
        packed = max(sum(len(flat_ids[j]) - 1 for j in group) for group in layout)
        # Laid out on the CPU, then moved in one copy each (not one small copy per candidate
        # to an accelerator).
        tokens = torch.zeros(len(layout), packed, dtype=torch.long)
        targets = torch.zeros_like(tokens)
        owner = torch.full((len(layout), packed), -1, dtype=torch.long)
        positions = torch.zeros_like(tokens)
        for b, group in enumerate(layout):
            at = 0
            for j in group:
                ids = flat_ids[j]
                n = len(ids) - 1
                tokens[b, at:at + n] = torch.tensor(ids[:-1])
                targets[b, at:at + n] = torch.tensor(ids[1:])
                owner[b, at:at + n] = j
                positions[b, at:at + n] = prompt_lengths[b] + torch.arange(n)
                at += n
        tokens, targets, owner, positions = (t.to(device) for t in (tokens, targets, owner, positions))
        segment = owner  # the candidate each packed token belongs to (-1: padding)
        # Query i may see: the prompt's real tokens; packed keys of its own candidate at or
        # before it; padding queries see only themselves (no empty rows).
        index = torch.arange(packed, device=device)
        same = (segment[:, :, None] == segment[:, None, :]) & (index[None, None, :] <= index[None, :, None])
        same = same & (segment[:, :, None] >= 0)
        same = same | ((segment[:, :, None] < 0) & (index[None, None, :] == index[None, :, None]))
        prompt_part = (mask[:, None, :].bool() & (segment[:, :, None] >= 0)).expand(-1, packed, -1)
        allowed = torch.cat([prompt_part, same], dim=2)[:, None]
        attention = torch.zeros(allowed.shape, dtype=model.dtype, device=device).masked_fill(~allowed, neg)
        out = feed.candidates(layout, input_ids=tokens, attention_mask=attention, position_ids=positions,
                              cache=cache, use_cache=True)
        logp = torch.log_softmax(out.logits.float(), -1).gather(2, targets[:, :, None]).squeeze(2)
        real = owner >= 0
        rest = rest.index_add(0, owner[real], logp[real])
        cache.crop(-packed)  # back to the prompt's keys for the next round
    return rest
