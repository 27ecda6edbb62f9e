"""A persistent SQLite cache in front of any Prior backend.

Keys hash the backend's provenance (model id, weights hash, sampling settings), the prompt
template id, the prompt, and the candidates + normalisation (scores) or k + mode + seed
(proposals), so a cached sampled proposal is exactly what the backend would return. SQLite in
WAL mode with a busy timeout makes the file safe for several processes at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.agents.priors.base import Normalization, Prior, Proposals
from priorbench.core.config import canonical_json
from priorbench.core.errors import UserError
from priorbench.core.paths import CACHE_ENV_VAR


class PriorCache:
    """key → JSON value, in one SQLite file shared by processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.execute("CREATE TABLE IF NOT EXISTS prior_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute("SELECT key, value FROM prior_cache LIMIT 1").fetchall()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> UserError:
        """A failed open, read or write of the cache file as one line: what to do about it."""
        text = str(exc)
        if isinstance(exc, OSError) or any(s in text for s in ("readonly", "unable to open", "access permission")):
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
            return UserError(f"prior cache {self.path} cannot be written ({reason}); set {CACHE_ENV_VAR} to a "
                             "folder you can write to, or give the agent the setting cache = false")
        if "full" in text:
            return UserError(f"prior cache {self.path}: the disk is full ({text}); free space there or set "
                             f"{CACHE_ENV_VAR} to a folder on another disk, then run the same command again")
        if "locked" in text or "busy" in text:
            return UserError(f"prior cache {self.path} stayed locked by another process ({text}); run again "
                             "when it is done, or give this run its own cache folder with " + CACHE_ENV_VAR)
        return UserError(f"prior cache {self.path} is damaged or not a priorbench cache ({text}); move it "
                         f"aside (mv {self.path} {self.path}.bad, with its -wal and -shm files) and run again: "
                         "a new one is made and the prior is asked again")

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start:start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, value FROM prior_cache WHERE key IN ({marks})", chunk)
                found.update((k, json.loads(v)) for k, v in rows)
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:  # a bad page, or a value not JSON
            raise self._error(exc) from None
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        for attempt in range(20):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT OR IGNORE INTO prior_cache (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in items.items()],
                )
                self._db.execute("COMMIT")
                return
            except sqlite3.DatabaseError as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                busy = isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))
                if not busy or attempt == 19:
                    raise self._error(exc) from None
                time.sleep(0.05 * (attempt + 1))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM prior_cache").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class CachedPrior(Prior):
    """Looks every (prompt, …) up in memory, then in the SQLite file, and asks the backend
    only for the misses — in one batch."""

    transient = ("_memory",)  # a memo of answers, asked again after a resume (Agent.transient)

    def __init__(self, inner: Prior, cache: PriorCache | None, *, namespace: str = "") -> None:
        self.inner = inner
        self.cache = cache
        self.namespace = namespace
        self._memory: dict[str, Any] = {}
        self._base = canonical_json(inner.provenance())
        self._counts = {"cache_hits": 0, "cache_misses": 0}

    @property
    def context_length(self) -> int:  # type: ignore[override]
        return self.inner.context_length

    @property
    def uses_expert(self) -> bool:  # type: ignore[override]
        return self.inner.uses_expert

    def format(self, prompt: str) -> str:
        return self.inner.format(prompt)

    def count_tokens(self, prompt: str) -> int:
        return self.inner.count_tokens(prompt)

    def _key(self, kind: str, prompt: str, extra: Any) -> str:
        text = canonical_json([self._base, self.namespace, kind, prompt, extra])
        return hashlib.sha256(text.encode()).hexdigest()

    def _lookup(self, keys: list[str]) -> dict[str, Any]:
        found = {k: self._memory[k] for k in keys if k in self._memory}
        missing = [k for k in keys if k not in found]
        if missing and self.cache is not None:
            stored = self.cache.get_many(missing)
            self._memory.update(stored)
            found.update(stored)
        return found

    def _misses(self, keys: list[str], found: dict[str, Any]) -> list[int]:
        """The first index of each key not found: a state asked twice in one call (two episodes
        of a lockstep evaluation at the same state) is computed once; the repeat is a hit."""
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in found:
                first.setdefault(key, i)
        self._counts["cache_hits"] += len(keys) - len(first)
        self._counts["cache_misses"] += len(first)
        return list(first.values())

    def _store(self, items: dict[str, Any]) -> None:
        self._memory.update(items)
        if self.cache is not None and items:
            self.cache.put_many(items)

    def score(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], *,
              normalization: Normalization = "sum") -> list[np.ndarray]:
        keys = [self._key("score", p, [list(c), normalization]) for p, c in zip(prompts, candidates, strict=True)]
        found = self._lookup(keys)
        todo = self._misses(keys, found)
        if todo:
            fresh = self.inner.score([prompts[i] for i in todo], [candidates[i] for i in todo],
                                     normalization=normalization)
            new = {keys[i]: values.tolist() for i, values in zip(todo, fresh, strict=True)}
            self._store(new)
            found.update(new)
        return [np.array(found[k], dtype=np.float64) for k in keys]

    def score_states(self, prompts: Sequence[str], candidates: Sequence[Sequence[str]],
                     expert_actions: Sequence[str | None], *,
                     normalization: Normalization = "sum") -> list[np.ndarray]:
        if self.inner.uses_expert:  # the oracle: computed, never stored (its input is not the prompt)
            return self.inner.score_states(prompts, candidates, expert_actions, normalization=normalization)
        return self.score(prompts, candidates, normalization=normalization)

    def propose(self, prompts: Sequence[str], k: int, admissible: Sequence[Sequence[str]], *,
                seed: int, mode: str = "sample") -> list[Proposals]:
        keys = [self._key("propose", p, [list(a), k, mode, seed]) for p, a in zip(prompts, admissible, strict=True)]
        found = self._lookup(keys)
        todo = self._misses(keys, found)
        if todo:
            fresh = self.inner.propose([prompts[i] for i in todo], k, [admissible[i] for i in todo],
                                       seed=seed, mode=mode)
            new = {keys[i]: {"actions": p.actions, "texts": p.texts, "logprobs": p.logprobs,
                             "unmatched": p.unmatched} for i, p in zip(todo, fresh, strict=True)}
            self._store(new)
            found.update(new)
        return [Proposals(**found[key]) for key in keys]

    def provenance(self) -> dict[str, Any]:
        return {**self.inner.provenance(), "cache": str(self.cache.path) if self.cache else None}

    def counters(self) -> dict[str, float]:
        return {**self.inner.counters(), **self._counts}
