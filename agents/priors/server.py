"""`priorbench serve-prior`: an OpenAI-compatible completions server over the hf backend.

Serves one loaded prior to many workers: POST /v1/completions with `n` samples (each seeded),
per-token `logprobs`, and `echo` (prompt log-probs, for exact scoring through the openai
backend); GET /v1/models. Standard library only; one model call at a time.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from priorbench.agents.priors.hf import HFPrior


def _completion(prior: HFPrior, request: dict[str, Any]) -> dict[str, Any]:
    prompts = request.get("prompt", "")
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompt must be a string or a list of strings")
    n = int(request.get("n", 1))
    max_tokens = int(request.get("max_tokens", 16))
    echo = bool(request.get("echo", False))
    want_logprobs = request.get("logprobs") is not None
    seed = int(request.get("seed", 0))
    if n < 1 or max_tokens < 0:
        raise ValueError("n must be ≥ 1 and max_tokens ≥ 0")
    echoed = prior.text_logprobs(prompts) if echo else [None] * len(prompts)
    if max_tokens > 0:
        texts, token_logprobs = prior._sample(
            prompts, n, seed, temperature=float(request.get("temperature", 1.0)),
            top_p=float(request.get("top_p", 1.0)), max_new_tokens=max_tokens)
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


def make_server(prior: HFPrior, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A ready server (call serve_forever); port 0 picks a free port (see server.server_address)."""
    lock = threading.Lock()

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
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    self._send(200, _completion(prior, request))
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return ThreadingHTTPServer((host, port), Handler)
