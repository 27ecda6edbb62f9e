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
    #: A plug-in's distribution and version ("" for the suite's own entries), for manifests.
    distribution: str = ""
    version: str = ""


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
    """Names → lazily imported targets of one kind (agents, priors, …).

    Besides the suite's own entries it holds plug-ins: the entry points of `group` in installed
    distributions (read on first look-up, their code imported only when used; a name that
    clashes with a built-in is refused), and any "package.module:Attr" name, imported from the
    Python path when first asked for. With `base`, what a name loads must be a subclass of it
    (a plug-in's or a path's target that is not is one line, before anything is built)."""

    def __init__(self, kind: str, group: str = "", *, base: type | None = None) -> None:
        self.kind = kind
        self.group = group
        self.base = base
        self._entries: dict[str, Entry] = {}
        self._plugins_read = not group

    def _read_plugins(self) -> None:
        if self._plugins_read:
            return
        self._plugins_read = True
        from importlib import metadata

        for point in metadata.entry_points(group=self.group):
            dist = point.dist.name if point.dist is not None else "unknown"
            version = point.dist.version if point.dist is not None else ""
            if point.name in self._entries:
                raise UserError(f"plug-in {self.kind} {point.name!r} of the distribution {dist!r} has the "
                                f"name of a built-in {self.kind}; rename its entry point in {dist}'s "
                                f"pyproject.toml ([project.entry-points.\"{self.group}\"])")
            self._entries[point.name] = Entry(point.name, point.value, {}, f"plug-in from {dist} {version}",
                                              (), dist, version)

    def _from_path(self, name: str) -> Entry:
        """An unregistered "package.module:Attr" name: imported now, registered under that name."""
        try:
            target = import_target(name)
        except Exception as exc:  # noqa: BLE001 - any import failure is the user's code's
            raise UserError(f"cannot import {self.kind} {name!r}: {type(exc).__name__}: {exc}; is its "
                            "package installed or on PYTHONPATH?") from None
        self._checked(name, target)
        entry = Entry(name, name, {}, "from the Python path", (), name.partition(":")[0].split(".")[0], "")
        self._entries[name] = entry
        return entry

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
        self._read_plugins()
        if name not in self._entries and ":" in name:
            return self._from_path(name)
        try:
            return self._entries[name]
        except KeyError:
            hint = close_matches(name, list(self._entries))
            raise UserError(
                f"unknown {self.kind} {name!r}.{hint} `priorbench list {self.kind}s` shows them all."
            ) from None

    def load(self, name: str) -> T:
        """The object the name's target points at (imported now)."""
        entry = self.entry(name)
        if not entry.distribution:
            return self._checked(name, import_target(entry.target))
        try:
            target = import_target(entry.target)
        except Exception as exc:  # noqa: BLE001 - a plug-in's import error is its own
            raise UserError(f"plug-in {self.kind} {name!r} of the distribution {entry.distribution!r} "
                            f"failed to import ({entry.target}): {type(exc).__name__}: {exc}") from None
        return self._checked(name, target)

    def _checked(self, name: str, target: Any) -> Any:
        """`target` if it is a subclass of `base` (or there is no base), else a UserError."""
        if self.base is None or (isinstance(target, type) and issubclass(target, self.base)):
            return target
        what = f"class {target.__name__}" if isinstance(target, type) else type(target).__name__
        base = f"{self.base.__module__}.{self.base.__qualname__}"
        raise UserError(f"{self.kind} {name!r} is a {what}, not a subclass of {base}; give a registered "
                        f"{self.kind} name or 'package.module:Class' naming a {base} subclass "
                        f"(`priorbench list {self.kind}s`)")

    def names(self) -> list[str]:
        self._read_plugins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._read_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())
