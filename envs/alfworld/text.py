"""Command normalisation and the task sentence of a game's opening text."""

from __future__ import annotations

#: Verbs whose commands never change the game state (they only mark things "checked").
PASSIVE_VERBS = frozenset({"look", "inventory", "examine", "help"})
MAX_COMMAND_CHARS = 200
_TASK_MARK = "Your task is to: "


def normalize_command(action: str) -> str:
    """One line, single-spaced, lower case (ALFWorld's commands are all lower case)."""
    text = "".join(ch if " " <= ch <= "~" else " " for ch in action)
    return " ".join(text.split())[:MAX_COMMAND_CHARS].lower()


def task_sentence(intro: str) -> str:
    """The goal in words, from the game's opening text ("put some apple on fridge.")."""
    at = intro.rfind(_TASK_MARK)
    return intro[at + len(_TASK_MARK):].strip() if at >= 0 else ""
