"""Commands in, observations out: the text clean-up between the agent and the interpreter.

Commands become one line of printable ASCII without backslashes, and interpreter commands
(SYSTEM_VERBS) never reach the game; observations drop the title art, the prompt and status
line (see docs/envs/textworld.md, "Commands and observations").
"""

from __future__ import annotations

import re

#: Commands that act on the interpreter rather than the story (they would desynchronise
#: TextWorld's state tracking, or wait for a yes/no answer). They never reach the game.
SYSTEM_VERBS = frozenset(
    {"quit", "q", "restart", "restore", "save", "undo", "script", "unscript", "transcript",
     "noscript"}
)
#: A generous cap on command length (the Z-machine's input buffer is small anyway).
MAX_COMMAND_CHARS = 200

_BANNER_LINE = re.compile(r"^[ _|\\$/<>()'`.,-]*$")
_STATUS_TAIL = re.compile(r"\n*>[ \t]*(?:-=.*?=-\s*-?\d+/\d+)?\s*$")
_RESTART_TAIL = re.compile(r"\n*Would you like to RESTART.*$", re.DOTALL)
_BLANK_RUNS = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Drop the interpreter's noise: the ASCII-art title, the `>` prompt with its status line, the
    RESTART/QUIT offer at the end of a game, and runs of blank lines."""
    text = _RESTART_TAIL.sub("", _STATUS_TAIL.sub("", text))
    lines = text.split("\n")
    start = 0
    while start < len(lines) and _BANNER_LINE.match(lines[start]):
        start += 1
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines[start:])).strip()


def normalize_command(action: str) -> str:
    """One line of printable ASCII, single-spaced. A newline would send several commands, and a
    backslash starts an interpreter hot key (frotz's \\u undo, \\n new game, \\x exit)."""
    text = "".join(ch if " " <= ch <= "~" and ch != "\\" else " " for ch in action)
    return " ".join(text.split())[:MAX_COMMAND_CHARS]
