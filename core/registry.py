"""A generic lazy registry: names map to "module:Attr" targets imported on first use.

Unknown names are answered with the closest registered names, as lm-evaluation-harness does.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from priorbench.core.errors import UserError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One registered name: where its code lives, its preset parameters, a one-line summary
    and the BibTeX keys of its method (bench/references.bib; `priorbench cite` reads them)."""

    name: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    references: tuple[str, ...] = ()


def close_matches(name: str, choices: list[str], n: int = 3) -> str:
    """' Did you mean: a, b?' or '' — for error messages about unknown names."""
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.4)
    if not hits:
        hits = [c for c in lowered if name.lower() in c][:n]
    return f" Did you mean: {', '.join(lowered[h] for h in hits)}?" if hits else ""


def import_target(target: str) -> Any:
    """Import "package.module:Attr" and return the attribute."""
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"registry target {target!r} must look like 'package.module:Attr'")
    return getattr(importlib.import_module(module_name), attr)


class Registry(Generic[T]):
    """Names → lazily imported targets of one kind (agents, priors, …)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(
        self,
        name: str,
        *,
        target: str,
        params: Mapping[str, Any] | None = None,
        description: str = "",
        references: tuple[str, ...] = (),
    ) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, target, dict(params or {}), description, tuple(references))

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            hint = close_matches(name, list(self._entries))
            raise UserError(
                f"unknown {self.kind} {name!r}.{hint} `priorbench list {self.kind}s` shows them all."
            ) from None

    def load(self, name: str) -> T:
        """The object the name's target points at (imported now)."""
        return import_target(self.entry(name).target)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())
