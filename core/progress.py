"""Saying what takes time: one-line notices on stderr, and a bar over work that is not cached yet.

Long first-use work (converting a model's weights, generating games) announces itself here, so
no minute passes in silence; cached work says nothing. Long loops (a run's training steps and
evaluation rounds, `prior train`'s optimizer steps) report through a `Meter`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

#: Set to "1" (the CLI's --no-progress does, for its workers too) to hide the bars; notices stay.
#: "0" shows the bars on any stderr, a terminal or not (a log kept with its bars; tests).
NO_PROGRESS_ENV = "PRIORBENCH_NO_PROGRESS"
#: Where bars are hidden, a `Meter` says where its loop is at most this often (seconds).
NOTICE_EVERY_S = 30.0

T = TypeVar("T")
R = TypeVar("R")


def bars_shown() -> bool:
    """Bars go to stderr where it is a terminal, unless NO_PROGRESS_ENV is "1"; anywhere if "0"."""
    flag = os.environ.get(NO_PROGRESS_ENV)
    return flag == "0" or (flag != "1" and sys.stderr.isatty())


def reporting(asked: bool) -> bool:
    """Whether a loop reports on stderr: where its caller asks, and under --no-progress too
    (its commands pass progress=False and set NO_PROGRESS_ENV=1, which hides bars, not notices)."""
    return asked or os.environ.get(NO_PROGRESS_ENV) == "1"


def notice(message: str) -> None:
    """One line on stderr, prefixed like the CLI's own messages."""
    print(f"priorbench: {message}", file=sys.stderr, flush=True)


def make_each(items: Sequence[T], make: Callable[[T], R], *, ready: Callable[[T], bool],
              what: str, where: object) -> list[R]:
    """`make(item)` for every item, in order; when some are not `ready` (not cached yet), a
    notice and a progress bar over those, since making them can take minutes."""
    missing = sum(1 for item in items if not ready(item))
    if not missing:
        return [make(item) for item in items]
    from tqdm.auto import tqdm

    notice(f"{what}: making {missing} of {len(items)} once (cached in {where})")
    out = []
    with tqdm(total=missing, desc=what, unit="game", leave=False, file=sys.stderr,
              disable=not bars_shown()) as bar:
        for item in items:
            fresh = not ready(item)
            out.append(make(item))
            bar.update(int(fresh))
    return out


class Meter:
    """Progress through `total` units of a long loop: a tqdm bar on stderr (`bars_shown`), else a
    notice line whenever NOTICE_EVERY_S passed in silence; each with the units done, a status
    (e.g. the loss), the rate and the time left. Time spent `aside` (an evaluation round inside
    training) is shown as such (its own bar, its label on this one) and kept out of the rate and
    the ETA. `total=None`: no bar of its own, only its asides; `report=False`: silent."""

    def __init__(self, total: int | None, label: str, *, unit: str = "step", initial: int = 0,
                 report: bool = True, write: Callable[[str], None] = notice,
                 _said: list[float] | None = None) -> None:
        self.total, self.label, self.unit, self.report, self.write = total, label, unit, report, write
        self.n = self.initial = initial
        self.status = ""
        self._begun = time.perf_counter()
        self._aside_s = 0.0
        self._said = _said if _said is not None else [self._begun]  # when the last line was said
        self.bar: Any = None
        if report and total is not None and bars_shown():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=label, unit=unit, leave=False,
                            file=sys.stderr, dynamic_ncols=True)

    def update(self, n: int = 1, status: str | None = None, *, say: bool = False) -> None:
        """`n` more units done; `say`: show this one now (e.g. the first step): a notice where
        bars are hidden, the bar redrawn where not (tqdm draws at most every 0.1 s)."""
        self.n += n
        if status is not None:
            self.status = status
        if self.bar is not None:
            if status is not None:
                self.bar.set_postfix_str(status, refresh=False)
            self.bar.update(n)
            if say:
                self.bar.refresh()
        elif say and self.report and self.total is not None:
            self.say()
        else:
            self.tick()

    def tick(self) -> None:
        """A notice if NOTICE_EVERY_S passed in silence (bars hidden); nothing else changes."""
        if (self.report and self.bar is None and self.total is not None
                and time.perf_counter() - self._said[0] >= NOTICE_EVERY_S):
            self.say()

    def say(self) -> None:
        self.write(self.line())
        self._said[0] = time.perf_counter()

    def line(self) -> str:
        """e.g. "prior train: 3/20 steps, loss 1.234, 9.1 s a step, about 2:35 left"."""
        from tqdm.std import tqdm

        parts = [f"{self.n}/{self.total} {self.unit}s"] + ([self.status] if self.status else [])
        done, spent = self.n - self.initial, time.perf_counter() - self._begun - self._aside_s
        if done > 0 and spent > 0:
            rate = done / spent
            parts.append(f"{rate:.3g} {self.unit}s/s" if rate >= 1 else f"{1 / rate:.3g} s a {self.unit}")
            if self.total is not None and self.n < self.total:
                parts.append(f"about {tqdm.format_interval((self.total - self.n) / rate)} left")
        return f"{self.label}: {', '.join(parts)}"

    @contextmanager
    def aside(self, label: str, total: int, unit: str = "episode") -> Iterator[Meter]:
        """A phase inside this loop (`label`, e.g. "evaluating round 2") with a meter of its own."""
        started = time.perf_counter()
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(filter(None, [self.status, label])))
        inner = Meter(total, f"{self.label} {label}", unit=unit, report=self.report, write=self.write,
                      _said=self._said)
        inner.tick()
        try:
            yield inner
        finally:
            inner.close()
            spent = time.perf_counter() - started
            self._aside_s += spent
            if self.bar is not None:  # tqdm's rate and ETA leave the aside out
                self.bar.start_t += spent
                self.bar.last_print_t += spent
                self.bar.set_postfix_str(self.status)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
