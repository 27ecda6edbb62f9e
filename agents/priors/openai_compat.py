"""A prior served by any OpenAI-compatible completions server (vLLM on GPUs, `priorbench serve-prior`).

Proposals: one request with n=k (servers that ignore n>1, like llama.cpp's, are detected and
asked k times with distinct seeds). Exact scoring: the prompt + each candidate with echo=True and
logprobs, summing the log-probs of the candidate's tokens; a server without echo log-probs
gives a clear error. llama-cpp-python's echo log-probs are shifted by one token (upstream issue
#1276): do not score through it.

Prompts use the plain form ("…\nAction:" and candidates after a space): a completions server
sees text, not chat turns.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np

from priorbench.agents.priors.base import Normalization, Prior, Proposals
from priorbench.agents.priors.matching import match_command
from priorbench.core.config import NON_NEGATIVE, POSITIVE, UNIT_OPEN
from priorbench.core.errors import UserError
from priorbench.core.seeding import derive_seed


@dataclass(frozen=True)
class OpenAIPriorConfig:
    base_url: str = "http://127.0.0.1:8000/v1"
    """The server's /v1 root."""
    model: str = "default"
    """Model name the server expects."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (unset: no key sent)."""
    temperature: Annotated[float, POSITIVE] = 1.0
    top_p: Annotated[float, UNIT_OPEN] = 1.0
    max_new_tokens: Annotated[int, POSITIVE] = 10
    timeout_s: Annotated[float, POSITIVE] = 60.0
    """Per-attempt socket timeout."""
    deadline_s: Annotated[float, POSITIVE] = 120.0
    """Total time one request may take, retries and backoff included; then a clear error."""
    retries: Annotated[int, NON_NEGATIVE] = 4
    """Attempts after the first, with exponential backoff, before giving up."""
    backoff_s: Annotated[float, NON_NEGATIVE] = 0.5
    context_length: Annotated[int, POSITIVE] = 4096
    """The served model's context (used to fit prompts)."""


class OpenAIPrior(Prior):
    Config = OpenAIPriorConfig

    def __init__(self, config: OpenAIPriorConfig | None = None, **overrides: Any) -> None:
        self.config = config or OpenAIPriorConfig(**overrides)
        self.context_length = self.config.context_length
        self._counts = {"llm_calls": 0, "llm_tokens": 0}

    # --- transport -----------------------------------------------------------------------
    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = self.config.base_url.rstrip("/") + "/completions"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = json.dumps({"model": self.config.model, **payload}).encode()
        last: Exception | None = None
        deadline = time.monotonic() + self.config.deadline_s
        tries = 0
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(max(0.0, min(self.config.backoff_s * 2 ** (attempt - 1), deadline - time.monotonic())))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            tries += 1
            try:
                request = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=min(self.config.timeout_s, remaining)) as response:
                    self._counts["llm_calls"] += 1
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    detail = exc.read().decode(errors="replace")[:300]
                    raise UserError(f"prior server {url} refused the request ({exc.code}): {detail}") from None
                last = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = exc
        raise UserError(
            f"prior server {url} did not answer after {tries} tries within {self.config.deadline_s:g} s "
            f"({last}); "
            "is it running? (`priorbench serve-prior` or vLLM)"
        )

    # --- prompts -------------------------------------------------------------------------
    @staticmethod
    def format(prompt: str) -> str:
        return prompt + "\nAction:"

    @staticmethod
    def count_tokens(prompt: str) -> int:
        """An estimate (no tokenizer here): ~3 characters a token, on the safe side."""
        return len(prompt) // 3 + 8

    def provenance(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": self.config.base_url, "model_id": self.config.model,
                "weights_sha256": None, "prompt_format": "plain",
                "sampling": {"temperature": self.config.temperature, "top_p": self.config.top_p,
                             "max_new_tokens": self.config.max_new_tokens}}

    def counters(self) -> dict[str, float]:
        return dict(self._counts)

    # --- the contract ----------------------------------------------------------------------
    def score(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], *,
              normalization: Normalization = "sum") -> list[np.ndarray]:
        results = []
        for prompt, cands in zip(prompts, candidates, strict=True):
            if not cands:
                raise UserError("score() got an empty candidate list: a state needs ≥1 admissible command")
            base = self.format(prompt)
            texts = [base + " " + c for c in cands]
            reply = self._post({"prompt": texts, "max_tokens": 0, "echo": True, "logprobs": 0})
            values = []
            for cand, choice in zip(cands, reply.get("choices", []), strict=False):
                lp = choice.get("logprobs") or {}
                offsets, token_lps = lp.get("text_offset"), lp.get("token_logprobs")
                if not offsets or not token_lps:
                    raise UserError(
                        f"prior server {self.config.base_url} returns no echo prompt log-probs, so it "
                        "cannot score candidates; use a server with echo + logprobs (vLLM, "
                        "`priorbench serve-prior`) or the hf backend"
                    )
                picked = [v for off, v in zip(offsets, token_lps, strict=False)
                          if off >= len(base) and v is not None]
                total = float(sum(picked))
                self._counts["llm_tokens"] += len(token_lps)
                if normalization == "token":
                    total /= max(1, len(picked))
                elif normalization == "word":
                    total /= max(1, len(cand.split()))
                values.append(total)
            if len(values) != len(cands):
                raise UserError(f"prior server returned {len(values)} choices for {len(cands)} candidates")
            results.append(np.array(values))
        return results

    def propose(self, prompts: Sequence[str], k: int, admissible: Sequence[Sequence[str]], *,
                seed: int, mode: Literal["sample", "exact"] = "sample") -> list[Proposals]:
        if mode == "exact":
            scores = self.score(prompts, admissible)
            out = []
            for prompt, cmds, logp in zip(prompts, admissible, scores, strict=True):
                probs = np.exp(logp - logp.max())
                rng = np.random.default_rng(derive_seed(seed, prompt))
                picks = rng.choice(len(cmds), size=k, p=probs / probs.sum())
                out.append(Proposals([cmds[i] for i in picks], [cmds[i] for i in picks],
                                     [float(logp[i]) for i in picks], 0))
            return out
        results = []
        for prompt, cmds in zip(prompts, admissible, strict=True):
            payload = {"prompt": self.format(prompt), "max_tokens": self.config.max_new_tokens,
                       "temperature": self.config.temperature, "top_p": self.config.top_p,
                       "stop": ["\n"], "logprobs": 0}
            choices = self._post({**payload, "n": k, "seed": derive_seed(seed, prompt)})["choices"]
            if len(choices) < k:  # the server ignored n>1: ask once per sample, distinct seeds
                choices = [self._post({**payload, "n": 1, "seed": derive_seed(seed, prompt, i)})["choices"][0]
                           for i in range(k)]
            texts = [c["text"].split("\n")[0].strip() for c in choices[:k]]
            logprobs = [float(sum(v for v in (c.get("logprobs") or {}).get("token_logprobs") or [] if v is not None))
                        for c in choices[:k]]
            actions = [match_command(t, cmds)[0] for t in texts]
            results.append(Proposals(actions, texts, logprobs, sum(a is None for a in actions)))
        return results
