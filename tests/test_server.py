"""`serve-prior` under bad and heavy requests, on 127.0.0.1: every bad request is a 4xx with a
JSON error at once, a full queue is a 503, and the server keeps answering."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from priorbench.agents.priors.hf import HFPrior
from priorbench.agents.priors.server import ServerLimits, make_server
from priorbench.agents.priors.tiny import build_tiny_lm
from priorbench.core.errors import UserError


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = build_tiny_lm(tmp_path_factory.mktemp("served") / "lm")
    prior = HFPrior(model=str(folder), prompt_format="raw")
    server = make_server(prior, "127.0.0.1", 0, ServerLimits(n=8, max_tokens=16, prompts=64, prompt_tokens=200,
                                                              body_bytes=50_000, queue=2))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield server, f"http://{host}:{port}/v1/completions"
    server.shutdown()
    server.server_close()


def _post(url, body, *, raw=False, timeout=30):
    data = body if raw else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


GOOD = {"prompt": "You are in a room.", "n": 2, "max_tokens": 3, "seed": 1}


@pytest.mark.parametrize("body, status, match", [
    ({**GOOD, "n": 10**9}, 400, "n must be from 1 to 8"),
    ({**GOOD, "n": 0}, 400, "n must be from 1 to 8"),
    ({**GOOD, "max_tokens": 10**6}, 400, "max_tokens must be from 0 to 16"),
    ({**GOOD, "n": "5"}, 400, "n must be int"),
    ({**GOOD, "n": True}, 400, "n must be int"),
    ({**GOOD, "echo": "yes"}, 400, "echo must be bool"),
    ({**GOOD, "temperature": "hot"}, 400, "temperature"),
    ({**GOOD, "prompt": 5}, 400, "prompt must be a string"),
    ({**GOOD, "prompt": []}, 400, "prompt must be a string"),
    ({**GOOD, "prompt": ["a"] * 100}, 400, "at most 64 prompts"),
    ({**GOOD, "prompt": "word " * 5_000}, 413, "longer than 200 tokens"),
    ({**GOOD, "prompt": "word " * 300}, 413, "longer than 200 tokens"),
    ([GOOD], 400, "must be a JSON object"),
    ("a string", 400, "must be a JSON object"),
], ids=["n huge", "n zero", "max_tokens huge", "n string", "n bool", "echo string", "temperature string",
        "prompt number", "prompt empty", "many prompts", "prompt 5k words", "prompt 300 words", "array", "string"])
def test_bad_requests_get_a_json_4xx_at_once(served, body, status, match):
    _, url = served
    started = time.perf_counter()
    got, answer = _post(url, body)
    assert got == status and match in answer["error"]["message"]
    assert time.perf_counter() - started < 5
    assert _post(url, GOOD)[0] == 200  # and the server is still up


def test_not_json_and_too_big_bodies(served):
    _, url = served
    got, answer = _post(url, b"{not json", raw=True)
    assert got == 400 and "not JSON" in answer["error"]["message"]
    got, answer = _post(url, json.dumps({**GOOD, "pad": "x" * 60_000}).encode(), raw=True)
    assert got == 413 and "at most 50000 bytes" in answer["error"]["message"]
    assert _post(url, GOOD)[0] == 200


def test_a_full_queue_is_503_and_the_waiting_requests_are_answered(served):
    server, url = served
    with ThreadPoolExecutor(8) as pool:
        with server.model_lock:  # the model is busy: two requests may wait (queue = 2), the rest 503
            waiting = [pool.submit(_post, url, GOOD) for _ in range(2)]
            time.sleep(1.0)
            burst = [pool.submit(_post, url, GOOD) for _ in range(6)]
            refused = [f.result() for f in burst]
    assert [status for status, _ in refused] == [503] * 6
    assert all("busy" in answer["error"]["message"] for _, answer in refused)
    assert [f.result()[0] for f in waiting] == [200, 200]
    with ThreadPoolExecutor(4) as pool:  # a bounded burst: everything answered, nothing dropped
        results = list(pool.map(lambda _: _post(url, GOOD), range(12)))
    assert {status for status, _ in results} <= {200, 503} and results[-1][0] in (200, 503)
    assert _post(url, GOOD)[0] == 200


def test_the_openai_client_gives_up_at_its_deadline():
    from priorbench.agents.priors.openai_compat import OpenAIPrior

    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        remote = OpenAIPrior(base_url=f"http://127.0.0.1:{port}/v1", deadline_s=2, timeout_s=60, retries=4)
        started = time.perf_counter()
        with pytest.raises(UserError, match="within 2 s"):
            remote.score(["a room"], [["go north", "go south"]])
        assert time.perf_counter() - started < 10
