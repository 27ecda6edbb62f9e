"""Verified rows: the marks `priorbench leaderboard verify --write` leaves in `verified.json`
beside the outputs, and which rows they still hold for.

A mark names a row and a digest of its runs (each run's path, spec hash and episodes checksum),
so it holds only for the runs that were re-run: a row whose runs change loses its mark. The
test suite re-runs every marked row (tests/test_leaderboard.py), so a mark on main is one CI
re-ran and matched for the commit that landed it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from priorbench.bench.leaderboard.load import Run
from priorbench.bench.leaderboard.stats import OWN_ENVS, Row, row_id
from priorbench.core.config import canonical_json, json_loads
from priorbench.core.errors import UserError
from priorbench.core.paths import JSON_LIMIT, atomic_write_bytes, read_regular

VERIFIED = "verified.json"


def row_ref(env: str, agent: str) -> str:
    """The name a mark gives its row: the row id (`stats.row_id`)."""
    return row_id(env, agent)


def _current(ref: str) -> str:
    """A mark's row name as a row id: marks written before row ids named rows "env_id:label"
    (with spaces and priorbench's namespace); the env ids have no colon."""
    if " " not in ref and not ref.startswith(OWN_ENVS):
        return ref
    env, _, label = ref.partition(":")
    return row_id(env, label)


def runs_digest(runs: Sequence[Run]) -> str:
    """sha256 over a row's runs: path (within its runs folder), spec hash and episodes checksum
    of each."""
    items = sorted([r.rel or r.path, r.manifest["spec_hash"], r.manifest["episodes_sha256"]] for r in runs)
    return hashlib.sha256(canonical_json(items).encode()).hexdigest()


def read_marks(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The marks in `out_dir`/verified.json by row reference; none when the file is missing."""
    path = Path(out_dir) / VERIFIED
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        data = json_loads(read_regular(path, limit=JSON_LIMIT))
        marks = {_current(m["row"]): {**m, "row": _current(m["row"])} for m in data["rows"]}
        for m in marks.values():  # the fields the tables show, by type
            if not (isinstance(m["row"], str) and isinstance(m["runs_sha256"], str)
                    and isinstance(m["priorbench"], str) and isinstance(m["seeds"], list)
                    and all(isinstance(s, int) for s in m["seeds"])):
                raise TypeError
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path} is not a verified-rows file; delete it or rewrite it with "
                        "`priorbench leaderboard verify --write`") from None
    return marks


def write_marks(out_dir: Path, marks: Sequence[dict[str, Any]], rerun: Sequence[str] = ()) -> Path:
    """Write `marks` into `out_dir`/verified.json, keeping the stored marks of rows that were
    not re-run (`rerun`: the row references re-run now; those that differed lose their mark)."""
    path = Path(out_dir) / VERIFIED
    kept = {ref: m for ref, m in read_marks(out_dir).items() if ref not in set(rerun)}
    merged = {**kept, **{m["row"]: m for m in marks}}
    text = json.dumps({"rows": sorted(merged.values(), key=lambda m: m["row"])}, indent=2, sort_keys=True)
    atomic_write_bytes(path, (text + "\n").encode())
    return path


def verified_rows(rows: Sequence[Row], marks: dict[str, dict[str, Any]]) -> list[tuple[Row, dict[str, Any]]]:
    """The rows whose mark still holds (same runs as when they were re-run)."""
    held = []
    for row in rows:
        mark = marks.get(row_ref(row.env, row.agent))
        if mark is not None and mark.get("runs_sha256") == runs_digest(row.runs):
            held.append((row, mark))
    return held


VERIFIED_TEXT = ("Rows that `priorbench leaderboard verify` re-ran from their manifests with "
                 "identical episode records (timing aside). The mark holds only for the runs "
                 "that were re-run, and the test suite re-runs every marked row, so CI checked "
                 "it for the commit that landed it. Other rows are not verified: the checksums "
                 "catch accidents, not forgery (README, Leaderboard).")

#: What a board with no verified row says (it names no folder: a build into your own folder
#: must not be told to write into the committed leaderboard/).
NOT_VERIFIED_TEXT = ("No row is verified yet. `priorbench leaderboard verify --runs RUNS --out DIR --write` "
                     "re-runs the cheap rows and marks those it reproduces in DIR/verified.json, with DIR "
                     "this build's --out (or its --context); then build again.")
