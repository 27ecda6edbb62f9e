"""The rule p(a|o) that maps an LLM's free text to an admissible command."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NON_WORD = re.compile(r"[^a-z0-9 ]+")
#: Minimum word-overlap F1 for a best-overlap match; below it the text is unmatched.
MIN_OVERLAP = 0.5


def normalise(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed, a leading 'action:' removed."""
    text = text.strip().lower()
    for prefix in ("action:", "answer:", "> "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return " ".join(_NON_WORD.sub(" ", text).split())


def _f1(a: list[str], b: list[str]) -> float:
    common = sum(min(a.count(w), b.count(w)) for w in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def match_command(text: str, admissible: Sequence[str]) -> tuple[str | None, str]:
    """(command, how) with how in exact / normalised / overlap / unmatched.

    Exact match first, then after normalisation, then the best word-overlap F1 (≥ MIN_OVERLAP;
    ties go to the earlier command). Text that matches nothing returns (None, "unmatched").
    """
    stripped = text.strip()
    if stripped in admissible:
        return stripped, "exact"
    wanted = normalise(stripped)
    normalised = [normalise(c) for c in admissible]
    for command, norm in zip(admissible, normalised, strict=True):
        if norm == wanted:
            return command, "normalised"
    words = wanted.split()
    if words:
        scores = [_f1(words, n.split()) if n else 0.0 for n in normalised]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        if scores[best] >= MIN_OVERLAP:
            return admissible[best], "overlap"
    return None, "unmatched"
