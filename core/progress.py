"""Saying what takes time: one-line notices on stderr, and a bar over work that is not cached yet.

Long first-use work (converting a model's weights, generating games) announces itself here, so
no minute passes in silence; cached work says nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

#: Set to "1" (the CLI's --no-progress does, for its workers too) to hide the bars; notices stay.
NO_PROGRESS_ENV = "PRIORBENCH_NO_PROGRESS"

T = TypeVar("T")
R = TypeVar("R")


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
    hidden = os.environ.get(NO_PROGRESS_ENV) == "1" or not sys.stderr.isatty()
    with tqdm(total=missing, desc=what, unit="game", leave=False, file=sys.stderr, disable=hidden) as bar:
        for item in items:
            fresh = not ready(item)
            out.append(make(item))
            bar.update(int(fresh))
    return out
