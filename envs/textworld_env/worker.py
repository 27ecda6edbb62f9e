"""The game in a worker process, killed when a step takes longer than the step timeout.

With `step_timeout=S` a step that takes longer than S seconds kills the worker and ends the
episode (truncated, `info["error"]`); the next reset starts a fresh worker. In-process steps
cannot be interrupted: a game stuck inside the Z-machine interpreter is in C code that Python
signals do not reach. See docs/envs/textworld.md, "Hanging games".
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from priorbench.envs.textworld_env.engine import EngineError, _Engine


def _serve(conn: Any, flags: dict[str, bool]) -> None:  # runs in the worker process
    engine = _Engine(flags)
    conn.send(("ready", None))
    while True:
        try:
            method, arg = conn.recv()
        except (EOFError, KeyboardInterrupt):
            break
        if method == "close":
            break
        try:
            reply = ("ok", getattr(engine, method)(arg))
        except Exception as exc:  # reported to the parent, which raises it there
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):  # the parent gave up on us
            break
    engine.close()


class _WorkerEngine:
    """The same interface as _Engine, served by a worker process that is killed on a timeout."""

    START_TIMEOUT_S = 120.0
    RESET_TIMEOUT_S = 60.0

    def __init__(self, flags: dict[str, bool], step_timeout: float) -> None:
        self.flags = flags
        self.step_timeout = step_timeout
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # no fork: the parent may hold torch threads
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.flags), daemon=True,
                                 name="priorbench-textworld")
        self._proc.start()
        child.close()
        self._conn = parent
        self._receive(self.START_TIMEOUT_S, "start")

    def _receive(self, timeout: float, what: str) -> Any:
        if not self._conn.poll(timeout):
            self._kill()
            raise EngineError(f"the game did not answer {what} within {timeout:g} s")
        try:
            status, payload = self._conn.recv()
        except EOFError:
            self._kill()
            raise EngineError(f"the game process died during {what}") from None
        if status == "error":
            raise EngineError(f"{what} failed in the game process: {payload}")
        return payload

    def _call(self, method: str, arg: str, timeout: float) -> dict[str, Any]:
        if self._proc is None or not self._proc.is_alive():
            self.close()
            self._start()
        try:
            self._conn.send((method, arg))
        except (BrokenPipeError, OSError):
            self._kill()
            raise EngineError("the game process is gone") from None
        return self._receive(timeout, method)

    def reset(self, path: str) -> dict[str, Any]:
        return self._call("reset", path, max(self.RESET_TIMEOUT_S, self.step_timeout))

    def step(self, command: str) -> dict[str, Any]:
        return self._call("step", command, self.step_timeout)

    def _kill(self) -> None:
        """Stop the worker now (it may be stuck inside the interpreter)."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
            self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout=2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._proc = None
        self._conn = None
