"""`serve-prior` and its clients under faults (issue 29): every request field checked by type
and range (a 400 naming the field, never a 500), stalled or trickling connections dropped after
`read_timeout_s` with at most `connections` threads, every `--limit` finite and in range, and a
server that is not OpenAI-compatible (HTML, JSON of another shape) named in one UserError line.
A real server on 127.0.0.1 port 0 with the tiny real model `tests/test_server.py` uses."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from priorbench.agents.priors.hf import HFPrior
from priorbench.agents.priors.openai_compat import OpenAIPrior, served_provenance
from priorbench.agents.priors.server import ServerLimits, make_server
from priorbench.agents.priors.tiny import build_tiny_lm
from priorbench.bench.cli import main
from priorbench.core.errors import UserError

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = build_tiny_lm(tmp_path_factory.mktemp("faults") / "lm")
    server = make_server(HFPrior(model=str(folder), prompt_format="raw"), "127.0.0.1", 0,
                         ServerLimits(n=8, max_tokens=16, prompts=64, prompt_tokens=200, body_bytes=50_000,
                                      read_timeout_s=TIMEOUT_S, connections=4))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    yield server, host, port
    server.shutdown()
    server.server_close()


def _post(host, port, data: bytes):
    request = urllib.request.Request(f"http://{host}:{port}/v1/completions", data=data,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


GOOD = '"prompt": "You are in a room.", "n": 2, "max_tokens": 3, "seed": 1'


@pytest.mark.parametrize("field, match", [
    ('"prompt": "a\\ud800b"', "prompt holds a lone surrogate (\\ud800 at character 1)"),
    ('"prompt": ["ok", "\\udfff"]', "prompt holds a lone surrogate"),
    ('"temperature": ' + "9" * 400, "temperature must be a number in (0, 100]"),
    ('"temperature": 1e400', "temperature must be a number in (0, 100], got inf"),
    ('"temperature": NaN', "temperature must be a number in (0, 100], got nan"),
    ('"temperature": 0', "temperature must be a number in (0, 100]"),
    ('"top_p": Infinity', "top_p must be a number in (0, 1], got inf"),
    ('"top_p": "x"', "top_p must be int or float, got str"),
    ('"logprobs": -1', "logprobs must be from 0 to 5, got -1"),
    ('"logprobs": 6', "logprobs must be from 0 to 5, got 6"),
    ('"logprobs": 1.5', "logprobs must be int, got float"),
    ('"seed": ' + "9" * 30, "seed must be from -9223372036854775808 to 9223372036854775807"),
    ('"seed": 1.0', "seed must be int, got float"),
    ('"max_tokens": -1', "max_tokens must be from 0 to 16, got -1"),
    ('"model": 5', "model must be str, got int"),
    ('"user": "\\ud800"', "user holds a lone surrogate"),
    ('"stop": [1]', "stop must be a string or a list of at most 4 strings"),
    ('"stop": "\\udc00"', "stop holds a lone surrogate"),
    ('"stream": true', "stream=true is not supported"),
    ('"best_of": 3', "unknown field 'best_of'"),
    ('"priorbench_keys": ["\\ud800"]', "priorbench_keys holds a lone surrogate"),
    ('"priorbench_keys": ["' + "k" * 2000 + '"]', "priorbench_keys must be one string (at most 1000 characters)"),
], ids=lambda v: v[:24])
def test_every_field_is_checked_by_type_and_range(served, field, match):
    _, host, port = served
    status, answer = _post(host, port, ("{" + GOOD + ", " + field + "}").encode())
    assert status == 400, answer
    assert match in answer["error"]["message"]
    assert _post(host, port, ("{" + GOOD + "}").encode())[0] == 200


@pytest.mark.parametrize("body, match", [
    (b"[" * 20_000 + b"]" * 20_000, "the body is not JSON: RecursionError"),
    (b'{"prompt": "\xff\xfe"}', "the body is not JSON"),
], ids=["nested 20k deep", "not UTF-8"])
def test_bodies_json_cannot_parse_are_400s(served, body, match):
    _, host, port = served
    status, answer = _post(host, port, body)
    assert status == 400 and match in answer["error"]["message"]


def _until_closed(sock: socket.socket) -> bytes:
    got = b""
    while chunk := sock.recv(4096):
        got += chunk
    return got


def _handlers() -> int:
    return sum("process_request_thread" in t.name for t in threading.enumerate())


def test_stalled_and_trickling_clients_are_dropped_and_threads_stay_bounded(served):
    """10 clients that never finish their request, against connections=4 and read_timeout_s=1:
    at most 4 handler threads ever, the 6 others get 503 at once, the 4 are closed (408 when
    the headers were read, else just closed) within the timeout, the trickler too, and the
    threads are gone after it."""
    _, host, port = served
    settled = time.monotonic() + 5  # an earlier test's handler may still be closing on a loaded machine
    while _handlers() and time.monotonic() < settled:
        time.sleep(0.05)
    assert _handlers() == 0, "handler threads of earlier requests outlived 5 s"
    halves = [b"POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pro",  # body half sent
              b"POST /v1/completions HTTP/1.1\r\nContent-Le",  # headers half sent
              b"",  # nothing at all
              b"GET /v1/mod"]  # request line half sent
    started = time.monotonic()
    stalled = []
    for i in range(10):
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(halves[i % len(halves)])
        stalled.append(sock)
    time.sleep(0.2)
    assert _handlers() == 4
    answers = [_until_closed(sock) for sock in stalled[4:]]
    assert all(a.startswith(b"HTTP/1.0 503") and b"4 connections are open" in a for a in answers), answers
    closed = [_until_closed(sock) for sock in stalled[:4]]
    elapsed = time.monotonic() - started
    assert closed[0].startswith(b"HTTP/1.0 408") and b"read_timeout_s" in closed[0]
    assert closed[1:] == [b"", b"", b""]
    assert TIMEOUT_S * 0.9 < elapsed < TIMEOUT_S + 2
    for sock in stalled:
        sock.close()
    # a client that sends a byte every 0.2 s never stalls a read, yet is cut at the deadline
    with socket.create_connection((host, port), timeout=10) as trickler:
        started = time.monotonic()
        trickler.sendall(b"POST /v1/completions HTTP/1.1\r\nContent-Length: 1000\r\n\r\n")
        with pytest.raises(OSError):
            while time.monotonic() - started < 10:
                trickler.sendall(b" ")
                time.sleep(0.2)
        assert time.monotonic() - started < TIMEOUT_S + 2
    deadline = time.monotonic() + 5
    while _handlers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _handlers() == 0
    assert _post(host, port, ("{" + GOOD + "}").encode())[0] == 200


@pytest.mark.parametrize("limit, match", [  # the range's wording is core.config's (Range, check_plain)
    ("batch_wait_ms=inf", "--limit: batch_wait_ms must be "),
    ("batch_wait_ms=nan", "--limit: batch_wait_ms must be "),
    ("batch_wait_ms=1e300", "--limit: batch_wait_ms must be in [0, 10000]"),
    ("read_timeout_s=0", "--limit: read_timeout_s must be in (0, 3600]"),
    ("read_timeout_s=inf", "--limit: read_timeout_s must be "),
    ("connections=1.5", "--limit: connections must be int, got float 1.5"),
    ("queue=inf", "--limit: queue must be "),
    ("n=0", "--limit: n must be in [1, 1024], got 0"),
    ("body_bytes=-1", "--limit: body_bytes must be in [1, "),
])
def test_every_limit_is_finite_and_in_range(capsys, limit, match):
    rc = main(["serve-prior", "--port", "0", "--limit", limit])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("priorbench: error: ") and match in err[0], err


# --- a server that is not a priorbench/OpenAI-compatible one ----------------------------------------

ANSWERS = {
    "html": (200, "text/html", b"<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1>\n</body></html>\n"),
    "html 404": (404, "text/html", b"<html>\n<h1>Not Found</h1>\n</html>\n"),
    "json list": (200, "application/json", b"[1, 2]"),
    "json without choices": (200, "application/json", b'{"data": [], "result": "ok"}'),
    "choices of another shape": (200, "application/json", b'{"data": [], "choices": [{"logprobs": "x"}]}'),
}


@contextlib.contextmanager
def _other_server(case: str):
    """An http.server that answers every GET and POST with ANSWERS[case]; yields its /v1 root."""
    status, kind, body = ANSWERS[case]

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=sorted(ANSWERS))
def other_server(request):
    with _other_server(request.param) as url:
        yield url, request.param


def _one_line(error: UserError, url: str) -> None:
    message = str(error)
    assert "\n" not in message and url in message, message
    assert "priorbench/OpenAI-compatible server" in message, message


def test_a_server_that_is_not_openai_compatible_is_named_in_one_line(other_server):
    url, case = other_server
    remote = OpenAIPrior(base_url=url, retries=0)
    with pytest.raises(UserError) as scored:
        remote.score(["a room"], [["go north", "go south"]])
    _one_line(scored.value, url)
    with pytest.raises(UserError) as proposed:
        OpenAIPrior(base_url=url, retries=0).propose(["a room"], 2, [["go north", "go south"]], seed=0)
    _one_line(proposed.value, url)
    if case in ("html", "json list"):  # --prior-server URL asks /v1/models first
        with pytest.raises(UserError) as asked:
            served_provenance(url)
        _one_line(asked.value, url)
    else:  # a refused or well-formed /v1/models: another kind of server (as vLLM), its answers checked
        assert served_provenance(url) is None


def test_run_with_a_prior_server_that_answers_html_is_one_line(tmp_path, capsys):
    with _other_server("html") as url:
        rc = main(["run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "llm", "--steps", "4", "--eval-every",
                   "4", "--no-progress", "--out", str(tmp_path / "o"), "--prior-server", url])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("priorbench: error: "), err
    assert url in err[0] and "answered an HTML page" in err[0] and "priorbench/OpenAI-compatible server" in err[0]
