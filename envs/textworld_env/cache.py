"""Generated games, cached on disk by generator settings (see docs/envs/textworld.md, "Cache").

Games come from TextWorld's own challenge generators in-process
(`textworld.challenges.CHALLENGES[...]` + `textworld.generator.compile_game`), deterministic by
seed: `<cache>/<generator>-<hash>/seed-<k>.z8` (+ the `.json` TextWorld needs for admissible
commands). textworld is imported only when a game is generated.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from priorbench.core.paths import cache_root, staging_folder

#: Bump when the cache layout or the way games are generated changes (it is part of the cache key).
CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """`$PRIORBENCH_CACHE/textworld`, else `~/.cache/priorbench/textworld`."""
    return cache_root() / "textworld"


def cache_folder(cache_dir: Path, generator: str, settings: dict[str, Any]) -> Path:
    """One folder per (generator, settings, textworld version, cache format)."""
    import textworld

    key = {"generator": generator, "settings": settings, "textworld": textworld.__version__,
           "format": CACHE_FORMAT}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{generator}-{digest}"


def game_file(generator: str, settings: dict[str, Any], seed: int, cache_dir: Path) -> Path:
    """Where the game of `seed` is (or will be) cached; its `.json` lies beside it."""
    return cache_folder(cache_dir, generator, settings) / f"seed-{seed}.z8"


def generate_game(generator: str, settings: dict[str, Any], seed: int, cache_dir: Path) -> Path:
    """The `.z8` for (generator, settings, seed), generated on first use and cached.

    Files are compiled in a private temporary folder and moved into place (`.json` first, the
    `.z8` last), so concurrent processes and interrupted runs never see half a game.
    """
    target = game_file(generator, settings, seed, cache_dir)
    folder = target.parent
    if target.is_file() and target.with_suffix(".json").is_file():
        return target
    import textworld
    from textworld.challenges import CHALLENGES
    from textworld.generator import compile_game

    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "generator.json"
    if not meta.is_file():
        # Not paths.atomic_write_bytes: its mkstemp file would be private (0600) in a shared cache.
        tmp_meta = folder / f".generator.{os.getpid()}.json"
        tmp_meta.write_text(json.dumps(
            {"generator": generator, "settings": settings, "textworld": textworld.__version__,
             "format": CACHE_FORMAT}, indent=2, sort_keys=True))
        os.replace(tmp_meta, meta)
    with staging_folder(folder) as work:
        options = textworld.GameOptions()
        options.seeds = int(seed)
        options.path = str(work / target.name)
        options.file_ext = ".z8"
        options.force_recompile = True
        _, make, _ = CHALLENGES[generator]
        game = make(dict(settings), options)
        compiled = Path(compile_game(game, options))
        os.replace(compiled.with_suffix(".json"), target.with_suffix(".json"))
        os.replace(compiled, target)
    return target
