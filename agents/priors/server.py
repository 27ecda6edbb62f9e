"""`priorbench serve-prior`: an OpenAI-compatible completions server over the hf backend.

Serves one loaded prior to many workers: POST /v1/completions with `n` samples (each seeded),
per-token `logprobs`, and `echo` (prompt log-probs, for exact scoring through the openai
backend); GET /v1/models. Standard library only; one model call at a time.

Every request is checked before the model sees it, against `ServerLimits` (settable with
`serve-prior --limit NAME=VALUE`): a body that is not a JSON object, a field of the wrong type
or past a limit gets a 4xx with a JSON error at once; more waiting requests than `queue` get
503 (the openai backend retries those).
"""

from __future__ import annotations

import dataclasses
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

from priorbench.agents.priors.hf import HFPrior
from priorbench.core.config import POSITIVE
from priorbench.core.errors import UserError


@dataclasses.dataclass(frozen=True)
class ServerLimits:
    n: Annotated[int, POSITIVE] = 64
    """Most samples per prompt."""
    max_tokens: Annotated[int, POSITIVE] = 256
    """Most new tokens per sample."""
    prompts: Annotated[int, POSITIVE] = 64
    """Most prompts per request."""
    prompt_tokens: Annotated[int, POSITIVE] = 4096
    """Most tokens in one prompt."""
    body_bytes: Annotated[int, POSITIVE] = 2_000_000
    """Largest request body."""
    queue: Annotated[int, POSITIVE] = 32
    """Most requests waiting for the model at once; more get 503."""


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _field(request: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = request.get(key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise BadRequest(f"{key} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    if not isinstance(value, kind):
        raise BadRequest(f"{key} must be {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def check_request(prior: HFPrior, request: Any, limits: ServerLimits) -> dict[str, Any]:
    """The request's fields, typed and within `limits`; BadRequest (a 4xx) otherwise."""
    if not isinstance(request, dict):
        raise BadRequest(f"the request body must be a JSON object, got a JSON {type(request).__name__}")
    prompts = request.get("prompt", "")
    prompts = [prompts] if isinstance(prompts, str) else prompts
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise BadRequest("prompt must be a string or a non-empty list of strings")
    checked = {"prompts": prompts, "n": _field(request, "n", int, 1),
               "max_tokens": _field(request, "max_tokens", int, 16),
               "echo": _field(request, "echo", bool, False),
               "logprobs": _field(request, "logprobs", int, None),
               "seed": _field(request, "seed", int, 0),
               "temperature": float(_field(request, "temperature", (int, float), 1.0)),
               "top_p": float(_field(request, "top_p", (int, float), 1.0))}
    if not 1 <= checked["n"] <= limits.n:
        raise BadRequest(f"n must be from 1 to {limits.n} (this server's limit), got {checked['n']}")
    if not 0 <= checked["max_tokens"] <= limits.max_tokens:
        raise BadRequest(f"max_tokens must be from 0 to {limits.max_tokens}, got {checked['max_tokens']}")
    if len(prompts) > limits.prompts:
        raise BadRequest(f"at most {limits.prompts} prompts per request, got {len(prompts)}")
    if not checked["temperature"] > 0 or not 0 < checked["top_p"] <= 1:
        raise BadRequest("temperature must be > 0 and top_p in (0, 1]")
    for prompt in prompts:
        if len(prompt) > 8 * limits.prompt_tokens:  # before tokenizing a huge string
            raise BadRequest(f"a prompt is longer than {limits.prompt_tokens} tokens", 413)
        if len(prior.tokenizer(prompt)["input_ids"]) > limits.prompt_tokens:
            raise BadRequest(f"a prompt is longer than {limits.prompt_tokens} tokens", 413)
    return checked


def _completion(prior: HFPrior, checked: dict[str, Any]) -> dict[str, Any]:
    prompts, n, max_tokens, echo, seed = (checked[k] for k in ("prompts", "n", "max_tokens", "echo", "seed"))
    want_logprobs = checked["logprobs"] is not None
    echoed = prior.text_logprobs(prompts) if echo else [None] * len(prompts)
    if max_tokens > 0:
        texts, token_logprobs = prior._sample(
            prompts, n, seed, temperature=checked["temperature"], top_p=checked["top_p"],
            max_new_tokens=max_tokens)
    else:
        texts = [[""] * n for _ in prompts]
        token_logprobs = [[[] for _ in range(n)] for _ in prompts]
    choices = []
    for b, prompt in enumerate(prompts):
        for i in range(n):
            text = texts[b][i]
            logprobs = None
            if want_logprobs or echo:
                tokens, values, offsets = echoed[b] if echo else ([], [], [])
                logprobs = {"tokens": list(tokens), "token_logprobs": list(values),
                            "text_offset": list(offsets), "top_logprobs": None}
                logprobs["token_logprobs"] += token_logprobs[b][i]
            choices.append({"index": len(choices), "text": (prompt if echo else "") + text,
                            "logprobs": logprobs,
                            "finish_reason": "stop" if len(token_logprobs[b][i]) < max_tokens else "length"})
    return {"object": "text_completion", "model": prior.resolved.model_id, "choices": choices}


def check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on, before a model is loaded for it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot serve on {host}: port {port} is in use or not allowed ({exc.strerror}); "
                            "stop what holds it or choose another --port") from None


def make_server(prior: HFPrior, host: str = "127.0.0.1", port: int = 8000,
                limits: ServerLimits | None = None) -> ThreadingHTTPServer:
    """A ready server (call serve_forever); port 0 picks a free port (see server.server_address)."""
    limits = limits or ServerLimits()
    lock = threading.Lock()
    waiting = threading.BoundedSemaphore(limits.queue)

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": prior.resolved.model_id, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") != "/v1/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                try:
                    length = int(self.headers.get("Content-Length", 0))
                except ValueError:
                    raise BadRequest("Content-Length must be an integer") from None
                if not 0 <= length <= limits.body_bytes:
                    raise BadRequest(f"the body must be at most {limits.body_bytes} bytes, got {length}", 413)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except ValueError as exc:
                    raise BadRequest(f"the body is not JSON: {exc}") from None
                checked = check_request(prior, request, limits)
                if not waiting.acquire(blocking=False):
                    raise BadRequest(f"busy: {limits.queue} requests are waiting; retry later", 503)
                try:
                    with lock:
                        answer = _completion(prior, checked)
                finally:
                    waiting.release()
                self._send(200, answer)
            except BadRequest as exc:
                self._send(exc.status, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            except Exception as exc:  # noqa: BLE001 - the server answers and stays up
                print(f"serve-prior: {type(exc).__name__}: {exc}", file=sys.stderr)
                self._send(500, {"error": {"message": f"internal error: {type(exc).__name__}: {exc}"}})

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.model_lock = lock  # type: ignore[attr-defined]  # held while the model runs (tests hold it)
    return server
