"""A prior served by any OpenAI-compatible completions server (vLLM on GPUs, `priorbench serve-prior`).

Two ways to talk to it:
- text (`tokenizer = ""`): prompts in the plain form ("…\nAction:", candidates after a space);
  works with any server, but the served model sees text, not the hf backend's chat turns.
- tokens (`tokenizer` = the served model, an alias, folder or hub id): the client formats and
  tokenizes exactly as the hf backend (agents/priors/codec.py: chat template, system turn) and
  sends token-id prompts. Against `priorbench serve-prior` (told apart by its /v1/models
  answer) it sends `priorbench_split` / `priorbench_keys`, so scores and samples are the hf
  backend's bits and its provenance is the in-process one (one cache for both); the server's
  model is checked against `tokenizer` first. Against vLLM, each candidate's token log-probs
  from echo are summed.

Exact scoring asks for many states in one request (`batch_prompts` texts; a state is never
cut in two); proposals ask n=k per prompt (servers that ignore n>1, like llama.cpp's, are
asked k times with distinct seeds). A server without echo log-probs gives a clear error;
llama-cpp-python's echo log-probs are shifted by one token (upstream issue #1276): do not score
through it.
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

from priorbench.agents.priors.base import (
    Normalization,
    Prior,
    Proposals,
    draw_exact,
    normalize_scores,
    prompt_digest,
)
from priorbench.agents.priors.codec import PromptCodec
from priorbench.agents.priors.matching import match_command
from priorbench.agents.priors.models import resolve_model
from priorbench.core.config import NON_NEGATIVE, POSITIVE, UNIT_OPEN
from priorbench.core.errors import UserError
from priorbench.core.seeding import derive_seed

ANSWER_LIMIT = 256 << 20
"""Largest answer read from a server (a scoring answer with per-token echo is a few MB)."""


def not_compatible(url: str, what: str) -> UserError:
    """The one error for an answer that is not the OpenAI completions API's shape."""
    return UserError(f"prior server {url} answered {what}: it is not a priorbench/OpenAI-compatible server; "
                     "check the URL (the server's /v1 root, e.g. http://127.0.0.1:8000/v1 for "
                     "`priorbench serve-prior`)")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN


def _choice_ok(choice: Any) -> bool:
    """A completion choice as the OpenAI API gives it (the parts this backend reads)."""
    if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
        return False
    if "priorbench_logprob" in choice and not _number(choice["priorbench_logprob"]):
        return False
    logprobs = choice.get("logprobs")
    if logprobs is None:
        return True
    if not isinstance(logprobs, dict):
        return False
    values, offsets = logprobs.get("token_logprobs"), logprobs.get("text_offset")
    return ((values is None or (isinstance(values, list) and all(v is None or _number(v) for v in values)))
            and (offsets is None or (isinstance(offsets, list)
                                     and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets))))


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
    """The served model's context in text mode (token mode reads the model's own)."""
    tokenizer: str = ""
    """"": text mode; else the served model (alias, folder, .gguf or hub id): token mode."""
    prompt_format: Literal["auto", "chat", "plain", "raw"] = "auto"
    """Token mode: as the hf backend's (auto: the chat template when the model has one)."""
    system_prompt: str | None = None
    """Token mode, chat format: as the hf backend's."""
    adapter_sha256: str = ""
    """Token mode: the LoRA adapter the served model must have merged ("" = none)."""
    batch_prompts: Annotated[int, POSITIVE] = 512
    """Most texts per scoring request (whole states; raise the server's `--limit prompts` too)."""


class OpenAIPrior(Prior):
    Config = OpenAIPriorConfig

    def __init__(self, config: OpenAIPriorConfig | None = None, **overrides: Any) -> None:
        self.config = config or OpenAIPriorConfig(**overrides)
        self.context_length = self.config.context_length
        self._counts = {"llm_calls": 0, "llm_tokens": 0, "server_requests": 0}
        self._served: dict[str, Any] | None | bool = False  # False: not asked yet
        self.codec: PromptCodec | None = None
        if self.config.tokenizer:
            from transformers import AutoConfig, AutoTokenizer

            self.resolved = resolve_model(self.config.tokenizer)
            self.codec = PromptCodec(AutoTokenizer.from_pretrained(self.resolved.source), self.config.prompt_format,
                                     self.config.system_prompt, model=self.config.tokenizer)
            model_config = AutoConfig.from_pretrained(self.resolved.source)
            self.context_length = int(getattr(model_config, "max_position_embeddings", self.context_length))
        elif self.config.prompt_format != "auto" or self.config.system_prompt is not None:
            raise UserError("prompt_format and system_prompt need token mode: set tokenizer to the served "
                            "model (e.g. tokenizer=\"smollm2-135m\")")

    # --- transport -----------------------------------------------------------------------
    def _url(self, route: str) -> str:
        return self.config.base_url.rstrip("/") + route

    def _served_prior(self) -> dict[str, Any] | None:
        """The served prior's provenance when the server is `priorbench serve-prior`, else None
        (asked once; a server that refuses GET /v1/models is taken as another kind)."""
        if self._served is False:
            try:
                models = self._request("/models").get("data")
            except UserError as exc:
                if "refused the request" not in str(exc):
                    raise
                models = []  # answers, but not /v1/models: not ours
            if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
                raise not_compatible(self._url("/models"), "JSON without a list of models under \"data\"")
            ours = (models or [{}])[0].get("priorbench")
            self._served = ours.get("provenance") if isinstance(ours, dict) else None
            if ours is not None and not (isinstance(self._served, dict)
                                         and isinstance(self._served.get("adapter") or {}, dict)):
                raise not_compatible(self._url("/models"), "a \"priorbench\" entry without a provenance object")
            if self._served and self.codec is not None:
                self._check_served(self._served)
        return self._served or None

    def _check_served(self, served: dict[str, Any]) -> None:
        if served.get("weights_sha256") != self.resolved.weights_sha256:
            raise UserError(f"prior server {self.config.base_url} serves {served.get('model_id')!r}, not "
                            f"{self.resolved.model_id!r} (the tokenizer setting); start the server with that "
                            "model or point at another one")
        adapter = (served.get("adapter") or {}).get("sha256", "")
        if adapter != self.config.adapter_sha256:
            raise UserError(f"prior server {self.config.base_url} serves adapter {adapter[:12] or 'none'}, "
                            f"this prior wants {self.config.adapter_sha256[:12] or 'none'}; serve the same "
                            "adapter (serve-prior --set adapter=DIR)")

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._request("/completions", payload)

    def _request(self, route: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST `payload` (GET without one) with retries and backoff, within the deadline."""
        url = self._url(route)
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = None if payload is None else json.dumps({"model": self.config.model, **payload}).encode()
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
                request = urllib.request.Request(url, data=body, headers=headers,
                                                 method="GET" if body is None else "POST")
                with urllib.request.urlopen(request, timeout=min(self.config.timeout_s, remaining)) as response:
                    self._counts["server_requests"] += body is not None
                    return self._json(url, response.read(ANSWER_LIMIT + 1), response.headers.get("Content-Type"))
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raw = exc.read(64 << 10)
                    try:  # one line: the JSON error, re-dumped without its newlines
                        detail = json.dumps(json.loads(raw), ensure_ascii=False)[:300]
                    except (ValueError, RecursionError):
                        kind = "an HTML page" if b"<html" in raw[:1000].lower() else "an answer that is not JSON"
                        detail = f"{kind}; is this the /v1 root of a priorbench/OpenAI-compatible server?"
                    raise UserError(f"prior server {url} refused the request ({exc.code}): {detail}") from None
                last = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = exc
        raise UserError(
            f"prior server {url} did not answer after {tries} tries within {self.config.deadline_s:g} s "
            f"({last}); "
            "is it running? (`priorbench serve-prior` or vLLM)"
        )

    @staticmethod
    def _json(url: str, raw: bytes, content_type: str | None) -> dict[str, Any]:
        """The answer's JSON object; any other answer (an HTML page, a JSON list) is a UserError."""
        if len(raw) > ANSWER_LIMIT:
            raise not_compatible(url, f"more than {ANSWER_LIMIT >> 20} MiB")
        try:
            answer = json.loads(raw)
        except (ValueError, RecursionError):
            kind = "an HTML page" if b"<html" in raw[:1000].lower() else f"{len(raw)} bytes that are not JSON"
            raise not_compatible(url, f"{kind} ({content_type or 'no Content-Type'})") from None
        if not isinstance(answer, dict):
            raise not_compatible(url, f"a JSON {type(answer).__name__}, not an object")
        return answer

    def _choices(self, answer: dict[str, Any], want: int) -> list[dict[str, Any]]:
        """The answer's `want` completion choices, each of the OpenAI API's shape."""
        choices = answer.get("choices")
        if not isinstance(choices, list) or not all(_choice_ok(c) for c in choices):
            raise not_compatible(self._url("/completions"), "JSON without a list of completion choices")
        if len(choices) < want:
            raise UserError(f"prior server {self.config.base_url} returned {len(choices)} choices for {want} "
                            "asked; check that it is a priorbench/OpenAI-compatible server")
        return choices

    # --- prompts -------------------------------------------------------------------------
    def format(self, prompt: str) -> str:
        return self.codec.format(prompt) if self.codec else prompt + "\nAction:"

    def count_tokens(self, prompt: str) -> int:
        """Token mode: exact; text mode: an estimate (~3 characters a token, on the safe side)."""
        return len(self.codec.encode_prompt(prompt)) if self.codec else len(prompt) // 3 + 8

    def provenance(self) -> dict[str, Any]:
        sampling = {"temperature": self.config.temperature, "top_p": self.config.top_p,
                    "max_new_tokens": self.config.max_new_tokens}
        served = self._served_prior() if self.codec else None
        if served:  # the served hf prior's bits: the in-process provenance, so one cache serves both
            return {**{k: v for k, v in served.items() if k not in ("prompt_format", "system_prompt")},
                    **self.codec.provenance(), "sampling": sampling}
        return {"backend": "openai", "base_url": self.config.base_url, "model_id": self.config.model,
                "weights_sha256": self.resolved.weights_sha256 if self.codec else None,
                **(self.codec.provenance() if self.codec else {"prompt_format": "plain"}), "sampling": sampling}

    def counters(self) -> dict[str, float]:
        return dict(self._counts)

    # --- the contract ----------------------------------------------------------------------
    def score(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], *,
              normalization: Normalization = "sum") -> list[np.ndarray]:
        if len(prompts) != len(candidates):
            raise ValueError("score() needs one candidate list per prompt")
        for cands in candidates:
            if not cands:
                raise UserError("score() got an empty candidate list: a state needs ≥1 admissible command")
        states = [self._state_texts(p, c) for p, c in zip(prompts, candidates, strict=True)]
        sums: list[np.ndarray] = []
        for chunk in self._chunks(states):
            sums += self._score_chunk([states[b] for b in chunk])
        return [normalize_scores(total, [len(c) for c in state[2]], cands, normalization)
                for total, state, cands in zip(sums, states, candidates, strict=True)]

    def _state_texts(self, prompt: str, cands: Sequence[str]) -> tuple[Any, list[Any], list[Any]]:
        """(the prompt as sent, each candidate's full text as sent, each candidate's part)."""
        if self.codec is None:
            base = self.format(prompt)
            return base, [base + " " + c for c in cands], [" " + c for c in cands]
        ids = self.codec.encode_prompt(prompt)
        if len(ids) + self.config.max_new_tokens > self.context_length:
            raise UserError(f"prompt of {len(ids)} tokens does not fit the model's context of "
                            f"{self.context_length}; shorten the observation or history ({prompt[:60]!r}…)")
        parts = [self.codec.encode_candidate(c) for c in cands]
        if any(not p for p in parts):
            raise UserError("a candidate command is empty after tokenisation")
        return ids, [ids + p for p in parts], parts

    def _chunks(self, states: list[tuple[Any, list[Any], list[Any]]]) -> list[list[int]]:
        """Whole states, at most `batch_prompts` texts a request (a bigger state goes alone)."""
        chunks: list[list[int]] = []
        used = 0
        for b, (_, texts, _) in enumerate(states):
            if not chunks or used + len(texts) > self.config.batch_prompts:
                chunks.append([])
                used = 0
            chunks[-1].append(b)
            used += len(texts)
        return chunks

    def _score_chunk(self, states: list[tuple[Any, list[Any], list[Any]]]) -> list[np.ndarray]:
        texts = [t for _, state_texts, _ in states for t in state_texts]
        ours = self._served_prior() is not None
        # vLLM's v1 engine refuses max_tokens=0 (vllm#9336): ask for one token there and ignore it
        payload: dict[str, Any] = {"prompt": texts, "max_tokens": 0 if ours else 1, "echo": True, "logprobs": 0}
        exact = self.codec is not None and ours
        if exact:
            payload["priorbench_split"] = [len(ids) for ids, state_texts, _ in states for _ in state_texts]
        choices = self._choices(self._post(payload), 0)
        self._counts["llm_calls"] += len(states)  # as the hf backend counts: prompts and their tokens
        self._counts["llm_tokens"] += sum(len(s[0]) if self.codec else self.count_tokens(s[0]) for s in states)
        if len(choices) != len(texts):
            raise UserError(f"prior server returned {len(choices)} choices for {len(texts)} candidates")
        owners = [(state[0], part) for state in states for part in state[2]]
        values = [self._candidate_logprob(choice, base, part, exact)
                  for (base, part), choice in zip(owners, choices, strict=True)]
        out, start = [], 0
        for _, state_texts, _ in states:
            out.append(np.array(values[start:start + len(state_texts)], dtype=np.float64))
            start += len(state_texts)
        return out

    def _candidate_logprob(self, choice: dict[str, Any], base: Any, part: Any, exact: bool) -> float:
        """The candidate's summed log-prob: the server's exact sum, or its echo tokens' (token
        mode: the len(part) tokens after the prompt; text mode: the tokens that start inside
        the candidate's characters)."""
        self._counts["llm_tokens"] += len(part) if self.codec else len(part) // 3 + 1
        if exact:
            if "priorbench_logprob" not in choice:
                raise not_compatible(self._url("/completions"), "choices without priorbench_logprob")
            return float(choice["priorbench_logprob"])
        lp = choice.get("logprobs") or {}
        offsets, token_lps = lp.get("text_offset"), lp.get("token_logprobs")
        if not token_lps or (self.codec is None and not offsets):
            raise UserError(
                f"prior server {self.config.base_url} returns no echo prompt log-probs, so it "
                "cannot score candidates; use a server with echo + logprobs (vLLM, "
                "`priorbench serve-prior`) or the hf backend"
            )
        if self.codec is not None:
            return float(sum(v for v in token_lps[len(base):len(base) + len(part)] if v is not None))
        end = len(base) + len(part)
        return float(sum(v for off, v in zip(offsets, token_lps, strict=False)
                         if len(base) <= off < end and v is not None))

    def propose(self, prompts: Sequence[str], k: int, admissible: Sequence[Sequence[str]], *,
                seed: int, mode: Literal["sample", "exact"] = "sample") -> list[Proposals]:
        if mode == "exact":
            return draw_exact(prompts, k, admissible, self.score(prompts, admissible), seed)
        payload = {"max_tokens": self.config.max_new_tokens, "temperature": self.config.temperature,
                   "top_p": self.config.top_p, "stop": ["\n"], "logprobs": 0}
        sent = [self.codec.encode_prompt(p) if self.codec else self.format(p) for p in prompts]
        if self.codec is not None and self._served_prior() is not None:  # one request, the hf seeds
            reply = self._choices(self._post({**payload, "prompt": sent, "n": k, "seed": seed,
                                              "priorbench_keys": [prompt_digest(p) for p in prompts]}),
                                  k * len(prompts))
            per_prompt = [reply[b * k:(b + 1) * k] for b in range(len(prompts))]
        else:
            per_prompt = []
            for prompt, text in zip(prompts, sent, strict=True):
                key = derive_seed(seed, prompt_digest(prompt))
                choices = self._choices(self._post({**payload, "prompt": text, "n": k, "seed": key}), 1)
                if len(choices) < k:  # the server ignored n>1: ask once per sample, distinct seeds
                    choices = [self._choices(self._post({**payload, "prompt": text, "n": 1,
                                                         "seed": derive_seed(key, i)}), 1)[0]
                               for i in range(k)]
                per_prompt.append(choices[:k])
        self._counts["llm_calls"] += len(prompts)
        results = []
        for cmds, choices in zip(admissible, per_prompt, strict=True):
            texts = [c["text"].split("\n")[0].strip() for c in choices]
            self._counts["llm_tokens"] += sum(len((c.get("logprobs") or {}).get("token_logprobs") or []) for c in choices)
            logprobs = [float(sum(v for v in (c.get("logprobs") or {}).get("token_logprobs") or [] if v is not None))
                        for c in choices]
            actions = [match_command(t, cmds)[0] for t in texts]
            results.append(Proposals(actions, texts, logprobs, sum(a is None for a in actions)))
        return results


#: Where `make_prior` finds prior servers (comma-separated /v1 roots), set by `--prior-server`.
PRIOR_SERVER_ENV = "PRIORBENCH_PRIOR_SERVER"
_SERVED: dict[str, dict[str, Any] | None] = {}


def served_provenance(url: str) -> dict[str, Any] | None:
    """What `priorbench serve-prior` at `url` serves (None for another kind of server); asked
    once per process."""
    if url not in _SERVED:
        _SERVED[url] = OpenAIPrior(base_url=url, retries=2, deadline_s=30)._served_prior()
    return _SERVED[url]


def remote_twin(config: Any, urls: Sequence[str]) -> OpenAIPrior:
    """The openai backend in token mode for an hf prior `config`, at the first server in
    `urls` that serves the same weights and adapter: the same bits without the model here."""
    resolved = resolve_model(config.model)
    adapter = ""
    if config.adapter:
        from priorbench.agents.priors.lora import read_adapter

        adapter = read_adapter(config.adapter)[0]["adapter_sha256"]
    seen, matches = [], []
    for url in urls:
        served = served_provenance(url) or {}
        seen.append(f"{url}: {served.get('model_id', 'not a priorbench server')}")
        if (served.get("weights_sha256") == resolved.weights_sha256
                and (served.get("adapter") or {}).get("sha256", "") == adapter):
            matches.append((served.get("dtype") != config.dtype, url))  # the same dtype first
    if matches:
        url = sorted(matches, key=lambda m: m[0])[0][1]
        return OpenAIPrior(base_url=url, tokenizer=config.model, prompt_format=config.prompt_format,
                           system_prompt=config.system_prompt, temperature=config.temperature,
                           top_p=config.top_p, max_new_tokens=config.max_new_tokens, adapter_sha256=adapter)
    raise UserError(f"no prior server serves {resolved.model_id!r}{' with adapter ' + adapter[:12] if adapter else ''} "
                    f"({'; '.join(seen)}); start one (`priorbench serve-prior --prior …`) or drop --prior-server")
