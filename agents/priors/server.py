"""`priorbench serve-prior`: an OpenAI-compatible completions server over the hf backend.

Serves one loaded prior to many workers: POST /v1/completions with `n` samples (each seeded),
per-token `logprobs`, `echo` (prompt log-probs), string or token-id prompts; GET /v1/models
(with the served prior's provenance under "priorbench", which the openai backend checks).

Two extensions, which the openai backend sends only to this server: `priorbench_split` (per
token prompt, how many leading tokens are the state's prompt; the rest is a candidate) scores
candidates exactly as the in-process hf backend does — the prompt once, the candidates on its
KV cache — and returns each candidate's summed log-prob as `priorbench_logprob` (no per-token echo);
`priorbench_keys` seeds each prompt's samples as the hf backend seeds them. So a run through
the server gives the same bits as a run with the model in the process.

Requests are batched (`Batcher`): what arrives within `batch_wait_ms` of the first waiting
request shares one turn of the model. Every request is checked first, against `ServerLimits`
(`serve-prior --limit NAME=VALUE`): a body that is not a JSON object, a field of the wrong type
or past a limit gets a 4xx with a JSON error at once; more waiting requests than `queue` get
503 (the openai backend retries those). A client has `read_timeout_s` from connecting to send
its whole request (a stalled or trickling one is disconnected), and at most `connections` are
served at once (more get 503 and are closed), so the server's threads stay bounded.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import queue
import socket
import sys
import threading
import time
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

from priorbench.agents.priors.base import prompt_digest
from priorbench.agents.priors.hf import HFPrior
from priorbench.core.config import Range
from priorbench.core.errors import UserError


@dataclasses.dataclass(frozen=True)
class ServerLimits:
    """`serve-prior --limit NAME=VALUE`: each limit has a finite range (`build_config` refuses a
    value outside it, inf and nan included), so no setting can stop the server."""

    n: Annotated[int, Range(1, 1024)] = 64
    """Most samples per prompt."""
    max_tokens: Annotated[int, Range(1, 100_000)] = 256
    """Most new tokens per sample."""
    prompts: Annotated[int, Range(1, 100_000)] = 1024
    """Most prompts per request (a scored state sends one per candidate, in one request)."""
    prompt_tokens: Annotated[int, Range(1, 100_000)] = 4096
    """Most tokens in one prompt."""
    body_bytes: Annotated[int, Range(1, 1_000_000_000)] = 2_000_000
    """Largest request body."""
    queue: Annotated[int, Range(1, 10_000)] = 32
    """Most requests waiting for the model at once; more get 503."""
    batch_wait_ms: Annotated[float, Range(0, 10_000)] = 5.0
    """How long the first waiting request waits for others to share its turn of the model (0: no wait)."""
    batch_prompts: Annotated[int, Range(1, 100_000)] = 64
    """Most prompts in one turn of the model."""
    read_timeout_s: Annotated[float, Range(0, 3600, lo_open=True)] = 30.0
    """How long a client has, from connecting, to send its whole request; a slower one is disconnected."""
    connections: Annotated[int, Range(1, 10_000)] = 64
    """Most connections served at once (a thread each); more get 503 and are closed."""


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


#: The fields a request may hold; any other is refused by name rather than silently ignored.
#: `model`, `user` and `stop` are checked and then ignored (one model is served; a client cuts
#: samples at its stop text itself, as the openai backend does at "\n").
FIELDS = ("model", "prompt", "n", "max_tokens", "echo", "logprobs", "seed", "temperature", "top_p", "stop",
          "stream", "user", "priorbench_split", "priorbench_keys")
SEEDS = (-2**63, 2**63 - 1)
"""The seed's range (the OpenAI API's: a 64-bit integer)."""
MAX_TEMPERATURE = 100.0
MAX_KEY_CHARS = 1000
"""Longest `priorbench_keys` entry (the openai backend sends 64-character digests)."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}… ({len(text)} characters)"


def _field(request: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = request.get(key, default)
    if value is None and default is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    name = " or ".join(k.__name__ for k in kinds)
    if isinstance(value, bool) and bool not in kinds:
        raise BadRequest(f"{key} must be {name}, got {value!r}")
    if not isinstance(value, kind):
        raise BadRequest(f"{key} must be {name}, got {type(value).__name__}")
    return value


def _integer(request: dict[str, Any], key: str, default: int | None, lo: int, hi: int, note: str = "") -> Any:
    value = _field(request, key, int, default)
    if value is not None and not lo <= value <= hi:
        raise BadRequest(f"{key} must be from {lo} to {hi}{note}, got {_shown(value)}")
    return value


def _number(request: dict[str, Any], key: str, default: float, hi: float) -> float:
    """A finite number in (0, hi]; NaN, Infinity and integers past a float's range are refused."""
    value = _field(request, key, (int, float), default)
    number = float(value) if not isinstance(value, int) or abs(value) < 2**1000 else math.inf
    if not (math.isfinite(number) and 0 < number <= hi):
        raise BadRequest(f"{key} must be a number in (0, {hi:g}], got {_shown(value)}")
    return number


def _text(value: str, key: str) -> str:
    """`value` when it is Unicode text (JSON's \\ud800 escapes can make lone surrogates, which no
    tokenizer encodes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"{key} holds a lone surrogate (\\u{ord(value[exc.start]):04x} at character "
                         f"{exc.start}); send valid Unicode text") from None
    return value


def _prompts(prior: HFPrior, request: dict[str, Any], limits: ServerLimits) -> list[str | list[int]]:
    """The prompts as given: strings, or token-id lists (the OpenAI API's token prompts)."""
    prompts = request.get("prompt", "")
    if isinstance(prompts, str) or (isinstance(prompts, list) and prompts and _is_ids(prompts)):
        prompts = [prompts]
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) or _is_ids(p) for p in prompts):
        raise BadRequest("prompt must be a string, a list of token ids, or a non-empty list of either")
    if len(prompts) > limits.prompts:
        raise BadRequest(f"at most {limits.prompts} prompts per request, got {len(prompts)}")
    vocab = len(prior.tokenizer)
    for prompt in prompts:
        if isinstance(prompt, str) and len(prompt) > 8 * limits.prompt_tokens:  # before tokenizing a huge string
            raise BadRequest(f"a prompt is longer than {limits.prompt_tokens} tokens", 413)
        if isinstance(prompt, str):
            _text(prompt, "prompt")
        ids = prior.encode_prompt(prompt) if isinstance(prompt, str) else prompt
        if len(ids) > limits.prompt_tokens:
            raise BadRequest(f"a prompt is longer than {limits.prompt_tokens} tokens", 413)
        if not ids:
            raise BadRequest("a prompt is empty")
        if not isinstance(prompt, str) and not all(0 <= i < vocab for i in prompt):
            raise BadRequest(f"token ids must be from 0 to {vocab - 1} (this model's vocabulary)")
    return prompts


def _is_ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, int) and not isinstance(i, bool)
                                                           for i in value)


def check_request(prior: HFPrior, request: Any, limits: ServerLimits) -> dict[str, Any]:
    """The request's fields, typed and within `limits`; BadRequest (a 4xx) otherwise."""
    if not isinstance(request, dict):
        raise BadRequest(f"the request body must be a JSON object, got a JSON {type(request).__name__}")
    unknown = sorted(set(request) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {_shown(unknown[0])}: serve-prior takes {', '.join(FIELDS)}")
    for key in ("model", "user"):
        _text(_field(request, key, str, None) or "", key)
    stop = request.get("stop")
    if stop is not None and not (isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 4
                                                          and all(isinstance(t, str) for t in stop))):
        raise BadRequest("stop must be a string or a list of at most 4 strings")
    for text in [stop] if isinstance(stop, str) else stop or []:
        _text(text, "stop")
    if _field(request, "stream", bool, False):
        raise BadRequest("stream=true is not supported: serve-prior answers whole completions; leave stream out")
    checked = {"n": _integer(request, "n", 1, 1, limits.n, " (this server's limit)"),
               "max_tokens": _integer(request, "max_tokens", 16, 0, limits.max_tokens),
               "echo": _field(request, "echo", bool, False),
               "logprobs": _integer(request, "logprobs", None, 0, 5),
               "seed": _integer(request, "seed", 0, *SEEDS),
               "temperature": _number(request, "temperature", 1.0, MAX_TEMPERATURE),
               "top_p": _number(request, "top_p", 1.0, 1.0),
               "split": _field(request, "priorbench_split", list, None),
               "keys": _field(request, "priorbench_keys", list, None)}
    prompts = checked["prompts"] = _prompts(prior, request, limits)
    split, keys = checked["split"], checked["keys"]
    if split is not None:
        if not (checked["echo"] and checked["max_tokens"] == 0 and all(not isinstance(p, str) for p in prompts)):
            raise BadRequest("priorbench_split scores token prompts: it needs echo=true, max_tokens=0 and "
                             "token-id prompts")
        if len(split) != len(prompts) or not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n < len(p)
                                                 for n, p in zip(split, prompts, strict=False)):
            raise BadRequest("priorbench_split must give, per prompt, how many of its leading tokens are the "
                             "state's prompt (at least 1, fewer than the prompt's tokens)")
    if keys is not None and (len(keys) != len(prompts) or not all(isinstance(k, str) and len(k) <= MAX_KEY_CHARS
                                                                  for k in keys)):
        raise BadRequest(f"priorbench_keys must be one string (at most {MAX_KEY_CHARS} characters) per prompt")
    for key in keys or []:
        _text(key, "priorbench_keys")
    return checked


def _states(checked: dict[str, Any]) -> list[tuple[list[int], list[list[int]]]]:
    """A split request's states: runs of consecutive texts with the same prompt tokens."""
    states: list[tuple[list[int], list[list[int]]]] = []
    for ids, n in zip(checked["prompts"], checked["split"], strict=True):
        if states and states[-1][0] == ids[:n]:
            states[-1][1].append(ids[n:])
        else:
            states.append((ids[:n], [ids[n:]]))
    return states


def _answer(prior: HFPrior, checked: dict[str, Any], *, sums: list[float] | None = None,
            samples: tuple[list[list[str]], list[list[list[float]]]] | None = None) -> dict[str, Any]:
    """The completions answer; `sums` (split scoring) and `samples` come from the batch."""
    prompts, n, max_tokens, echo = (checked[k] for k in ("prompts", "n", "max_tokens", "echo"))
    want_logprobs = checked["logprobs"] is not None
    if sums is not None:  # exact candidate sums, one per prompt: no per-token values (nor their decoding)
        echoed = [([], [], []) for _ in prompts]
    else:
        echoed = prior.text_logprobs(prompts) if echo else [None] * len(prompts)
    texts, token_logprobs = samples or ([[""] * n for _ in prompts], [[[] for _ in range(n)] for _ in prompts])
    choices = []
    for b, prompt in enumerate(prompts):
        for i in range(n):
            logprobs = None
            if want_logprobs or echo:
                tokens, values, offsets = echoed[b] if echo else ([], [], [])
                logprobs = {"tokens": list(tokens), "token_logprobs": list(values) + token_logprobs[b][i],
                            "text_offset": list(offsets), "top_logprobs": None}
            shown = (prompt if isinstance(prompt, str) else prior.tokenizer.decode(prompt)) if echo and sums is None else ""
            choice = {"index": len(choices), "text": shown + texts[b][i], "logprobs": logprobs,
                      "finish_reason": "stop" if len(token_logprobs[b][i]) < max_tokens else "length"}
            if sums is not None:
                choice["priorbench_logprob"] = sums[b]
            choices.append(choice)
    return {"object": "text_completion", "model": prior.resolved.model_id, "choices": choices}


class Batcher:
    """Serves requests in batches: the first waiting request opens a window of `batch_wait_ms`;
    what arrives in it (up to `batch_prompts` prompts) is answered by one turn of the model.
    Every state still runs as the prior's `score_ids` / `sample_ids` run it (alone, with
    `batch = "exact"`), so an answer never depends on what else shared its batch."""

    def __init__(self, prior: HFPrior, limits: ServerLimits) -> None:
        self.prior = prior
        self.limits = limits
        self.lock = threading.Lock()  # held while the model runs
        self.waiting = threading.BoundedSemaphore(limits.queue)
        self.queue: queue.Queue[tuple[dict[str, Any], Future]] = queue.Queue()
        self.counts = {"batches": 0, "requests": 0, "states": 0}
        threading.Thread(target=self._loop, daemon=True, name="serve-prior-batcher").start()

    def submit(self, checked: dict[str, Any]) -> dict[str, Any]:
        if not self.waiting.acquire(blocking=False):
            raise BadRequest(f"busy: {self.limits.queue} requests are waiting; retry later", 503)
        try:
            future: Future = Future()
            self.queue.put((checked, future))
            return future.result()
        finally:
            self.waiting.release()

    def _loop(self) -> None:
        while True:  # nothing ends this thread: an error goes to the requests of its batch
            batch = [self.queue.get()]
            try:
                size = len(batch[0][0]["prompts"])
                deadline = time.monotonic() + self.limits.batch_wait_ms / 1000
                while size < self.limits.batch_prompts:
                    try:
                        item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                    batch.append(item)
                    size += len(item[0]["prompts"])
                with self.lock:
                    answers = self._run([checked for checked, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every request of the batch gets the error
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                future.set_result(answer)

    def _run(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        prior = self.prior
        self.counts["batches"] += 1
        self.counts["requests"] += len(batch)
        # split scoring: every state of every request in one score_ids call
        states = [_states(c) if c["split"] is not None else [] for c in batch]
        flat = [s for per in states for s in per]
        self.counts["states"] += len(flat)
        sums = prior.score_ids([p for p, _ in flat], [cands for _, cands in flat]) if flat else []
        # sampling: requests with the same settings in one sample_ids call
        samples: dict[int, tuple[list[list[str]], list[list[list[float]]]]] = {}
        groups: dict[tuple, list[int]] = {}
        for r, c in enumerate(batch):
            if c["max_tokens"] > 0:
                groups.setdefault(tuple(c[k] for k in ("n", "seed", "temperature", "top_p", "max_tokens")),
                                  []).append(r)
        for (n, seed, temperature, top_p, max_tokens), members in groups.items():
            ids, keys, owner = [], [], []
            for r in members:
                c = batch[r]
                for b, prompt in enumerate(c["prompts"]):
                    ids.append(prior.encode_prompt(prompt) if isinstance(prompt, str) else prompt)
                    keys.append(c["keys"][b] if c["keys"] else prompt_digest(
                        prompt if isinstance(prompt, str) else json.dumps(prompt)))
                    owner.append(r)
            self.counts["states"] += len(ids)
            texts, logprobs = prior.sample_ids(ids, keys, n, seed, temperature=temperature, top_p=top_p,
                                               max_new_tokens=max_tokens)
            for r in members:
                picked = [j for j, o in enumerate(owner) if o == r]
                samples[r] = ([texts[j] for j in picked], [logprobs[j] for j in picked])
        answers, at = [], 0
        for r, c in enumerate(batch):
            request_sums = None
            if c["split"] is not None:
                request_sums = [float(v) for total in sums[at:at + len(states[r])] for v in total]
                at += len(states[r])
            answers.append(_answer(prior, c, sums=request_sums, samples=samples.get(r)))
        return answers


def check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on, before a model is loaded for it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot serve on {host}: port {port} is in use or not allowed ({exc.strerror}); "
                            "stop what holds it or choose another --port") from None


class _DeadlineReader(io.RawIOBase):
    """A connection's reads, all done by `deadline` (a per-read timeout alone lets a client
    that trickles a byte at a time hold its thread forever); then TimeoutError."""

    def __init__(self, connection: socket.socket, deadline: float) -> None:
        self.connection = connection
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request was not read in time")
        self.connection.settimeout(remaining)
        return self.connection.recv_into(buffer)


class _Server(ThreadingHTTPServer):
    """At most `limits.connections` connections at once, a thread each; one more is answered
    503 at once (from the accepting thread, with a short send timeout) and closed."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog (socketserver's 5 makes a burst of workers wait 1 s to connect)

    def __init__(self, address: tuple[str, int], handler: type, limits: ServerLimits) -> None:
        self.slots = threading.BoundedSemaphore(limits.connections)
        self.limits = limits
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            body = json.dumps({"error": {"message": f"busy: {self.limits.connections} connections are open "
                                                   "(this server's limit); retry later"}}).encode()
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not a traceback (a client that went away mid-answer, mostly)."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            print(f"serve-prior: {client_address[0]}: {type(error).__name__}: {error}", file=sys.stderr)


def make_server(prior: HFPrior, host: str = "127.0.0.1", port: int = 8000,
                limits: ServerLimits | None = None) -> ThreadingHTTPServer:
    """A ready server (call serve_forever); port 0 picks a free port (see server.server_address)."""
    limits = limits or ServerLimits()
    batcher = Batcher(prior, limits)
    served = {"id": prior.resolved.model_id, "object": "model",
              "priorbench": {"provenance": prior.provenance(), "batch_wait_ms": limits.batch_wait_ms}}

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:
            super().setup()
            self.rfile.close()  # reads go through the deadline instead
            self.rfile = io.BufferedReader(_DeadlineReader(self.connection, time.monotonic() + limits.read_timeout_s))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.connection.settimeout(limits.read_timeout_s)  # the whole answer within it (sendall)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [served]})
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
                if length < 0:
                    raise BadRequest(f"Content-Length must be ≥ 0, got {length}")
                if length > limits.body_bytes:
                    raise BadRequest(f"the body must be at most {limits.body_bytes} bytes, got {length}", 413)
                try:
                    body = self.rfile.read(length)
                except TimeoutError:
                    self.close_connection = True
                    raise BadRequest(f"the body was not sent within {limits.read_timeout_s:g} s of connecting "
                                     "(this server's read_timeout_s)", 408) from None
                try:
                    request = json.loads(body or b"{}")
                except (ValueError, RecursionError) as exc:
                    raise BadRequest(f"the body is not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
                self._send(200, batcher.submit(check_request(prior, request, limits)))
            except BadRequest as exc:
                self._send(exc.status, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            except Exception as exc:  # noqa: BLE001 - the server answers and stays up
                print(f"serve-prior: {type(exc).__name__}: {exc}", file=sys.stderr)
                self._send(500, {"error": {"message": f"internal error: {type(exc).__name__}: {exc}"}})

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    server = _Server((host, port), Handler, limits)
    server.model_lock = batcher.lock  # type: ignore[attr-defined]  # held while the model runs (tests hold it)
    server.batcher = batcher  # type: ignore[attr-defined]
    return server
