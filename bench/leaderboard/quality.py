"""The prior-quality panel's input: `prior_quality.json` beside the leaderboard's outputs, made by
`priorbench leaderboard prior-quality` (bench/prior_quality.py) and read by the build like
NOTES.md and verified.json — an input, so the build stays a pure function of stored files.

One entry per (env, prior setting the spec's prior agents use): the `priorbench prior inspect`
summary on the env's test split (cov@1/3/5, P(expert), entropy, KL from uniform) and uniform's
cov@5 on the same states. Written as canonical JSON with floats rounded to FLOAT_DIGITS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from priorbench.core.config import canonical_json, json_loads
from priorbench.core.errors import UserError
from priorbench.core.paths import JSON_LIMIT, atomic_write_bytes, read_regular

PRIOR_QUALITY = "prior_quality.json"
FORMAT = 1
FLOAT_DIGITS = 6
#: The figures of an entry, in table order (keys of prior_inspect.summarise).
FIGURES = ("p_expert", "cov@1", "cov@3", "cov@5", "uniform_cov@5", "entropy", "kl_from_uniform")
HEADERS = ("env", "prior", "agents", "states", "P(expert)", "cov@1", "cov@3", "cov@5",
           "uniform cov@5", "entropy", "KL(p‖u)")
MAKE = "priorbench leaderboard prior-quality --spec SPEC --out DIR [--states 50] [--seed 0]"
TEXT = ("How much each prior of the rows above knows about each env's games, before any RL: "
        "`priorbench prior inspect` on the env's test split (states walked by the expert with "
        "random detours, scored once with the agents' prompt). **cov@k** is the chance that k "
        "draws from the prior contain the expert's command, 1 − (1 − P(expert))^k (dqn-prior "
        "draws k = 5); **uniform cov@5** is the same for the uniform distribution over the "
        "commands; a prior worth RL compute has cov@5 above it. **KL(p‖u)** = log n − entropy "
        "(nats). Made by `priorbench leaderboard prior-quality` into prior_quality.json beside "
        "the outputs; the build only reads it.")
MISSING = ("No prior-quality file yet: make it with `" + MAKE + "`, SPEC the leaderboard spec "
           "your runs came from and DIR this build's --out (it scores each prior's states on every "
           "env of the spec; minutes on a CPU), then rebuild.")
SYNTHETIC_NOTE = ("SYNTHETIC priors (the oracle is told the expert's command, so its coverage "
                  "is set by q, not learned) are controls, listed apart:")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, FLOAT_DIGITS) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def quality_text(entries: Sequence[dict[str, Any]], *, split: str, states: int, seed: int) -> str:
    """The file's text: canonical JSON (sorted keys, floats rounded), one trailing newline."""
    data = {"format": FORMAT, "split": split, "states": states, "seed": seed,
            "entries": sorted(entries, key=lambda e: (e["env"], bool(e["synthetic"]), e["prior"],
                                                      e["normalization"]))}
    return canonical_json(_rounded(data)) + "\n"


def write_quality(out_dir: Path, text: str) -> Path:
    path = Path(out_dir) / PRIOR_QUALITY
    atomic_write_bytes(path, text.encode())
    return path


def read_quality(out_dir: Path) -> dict[str, Any] | None:
    """The prior-quality data in `out_dir`, or None when the file is missing."""
    path = Path(out_dir) / PRIOR_QUALITY
    if not path.exists() and not path.is_symlink():
        return None
    try:
        data = json_loads(read_regular(path, limit=JSON_LIMIT))
        if data["format"] != FORMAT or not isinstance(data["entries"], list):
            raise ValueError
        for entry in data["entries"]:  # every field the tables read, by type
            if not (isinstance(entry["env"], str) and isinstance(entry["prior"], str)
                    and isinstance(entry["synthetic"], bool) and isinstance(entry["states"], int)
                    and isinstance(entry["normalization"], str) and isinstance(entry["agents"], list)
                    and all(isinstance(a, str) for a in entry["agents"])
                    and all(entry[k] is None or isinstance(entry[k], int | float) and not isinstance(entry[k], bool)
                            for k in FIGURES)):
                raise TypeError
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path} is not a prior-quality file (format {FORMAT}); remake it with "
                        f"`{MAKE}`") from None
    return dict(data)


def table_rows(data: dict[str, Any], *, synthetic: bool) -> list[list[Any]]:
    """Cells per entry (HEADERS), real priors or SYNTHETIC ones; a missing figure is NaN."""
    def num(value: Any) -> float:
        return float("nan") if value is None else float(value)

    def agents(e: dict[str, Any]) -> str:
        norm = "" if e["normalization"] == "sum" else f" ({e['normalization']}-normalised)"
        return " ".join(e["agents"]) + norm

    return [[e["env"], e["prior"], agents(e), int(e["states"]), *(num(e[k]) for k in FIGURES)]
            for e in data["entries"] if bool(e["synthetic"]) == synthetic]


def caption(data: dict[str, Any]) -> str:
    return (f"Here: the {data['split']} split, up to {data['states']} states per env, seed "
            f"{data['seed']}; a command's log-prob is summed over its tokens unless the agents "
            "cell says otherwise (as those agents score commands).")
