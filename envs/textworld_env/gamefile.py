"""Checks a game file in Python before the interpreter sees it (see docs/envs/textworld.md).

jericho ends the whole process on a corrupt story file, so the Z-machine header, length and
checksum are read here first; a bad file is a UserError naming the file and the fix.
"""

from __future__ import annotations

from pathlib import Path

from priorbench.core.errors import UserError

_ZCODE_SCALE = {1: 2, 2: 2, 3: 2, 4: 4, 5: 4, 6: 8, 7: 8, 8: 8}


def check_game_file(path: Path) -> None:
    """Raise UserError unless `path` is a playable TextWorld game (checked before the interpreter
    sees it: jericho ends the whole process on a corrupt story file)."""
    if not path.is_file():
        raise UserError(
            f"game file {str(path)!r} does not exist. Give existing .z8 paths, e.g. "
            "--set env.game_files=['games/my_game.z8'] (make games with TextWorld's tw-make)."
        )
    if path.suffix.lower() in (".ulx", ".gblorb"):
        raise UserError(
            f"game file {str(path)!r} is a Glulx game, which textworld 1.7 no longer plays. "
            "Make the game again as Z-machine: tw-make ... --format z8."
        )
    data = path.read_bytes()
    version = data[0] if data else 0
    scale = _ZCODE_SCALE.get(version)
    if scale is None or len(data) < 64:
        raise UserError(
            f"game file {str(path)!r} is not a Z-machine story file (bad header). "
            "Is it a complete .z8 made by tw-make? Copy or generate it again."
        )
    length = int.from_bytes(data[0x1A:0x1C], "big") * scale
    checksum = int.from_bytes(data[0x1C:0x1E], "big")
    if length > len(data) or (checksum and sum(data[0x40:length]) & 0xFFFF != checksum):
        raise UserError(
            f"game file {str(path)!r} is corrupt (truncated, or its checksum does not match). "
            "Copy or generate it again."
        )
    if not path.with_suffix(".json").is_file():
        raise UserError(
            f"game file {str(path)!r} has no {path.with_suffix('.json').name} next to it: priorbench "
            "needs the game infos TextWorld writes with every game it makes (for admissible commands). "
            "Use games made by TextWorld (tw-make), with their .json."
        )
