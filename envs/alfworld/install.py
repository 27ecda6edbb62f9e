"""alfworld and textworld, imported without side effects, and textworld's PDDL engine sped up.

See docs/envs/alfworld.md ("Engine"). Nothing here is imported before a function is called.
"""

from __future__ import annotations

import copy
import functools
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from priorbench.core.errors import UserError
from priorbench.core.paths import temporary_env


@contextmanager
def _quiet_alfworld_import() -> Iterator[None]:
    """`import alfworld` creates ALFWORLD_DATA (default ~/.cache/alfworld) and sets the env var
    when it is unset; point it at an existing folder for the import and put the variable back."""
    with temporary_env("ALFWORLD_DATA", tempfile.gettempdir()):
        yield


def require_alfworld() -> None:
    """Import alfworld (side-effect free) or raise a UserError that says how to install it."""
    try:
        with _quiet_alfworld_import():
            import alfworld.info  # noqa: F401
            import textworld  # noqa: F401
            from textworld.envs.pddl import pddl  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"the ALFWorld envs need alfworld and textworld[pddl] ({exc}). Install them with "
            "`pip install -e \".[alfworld]\" && pip install --no-deps alfworld==0.4.2` "
            "(never alfworld[full]: its visdom dependency does not build)."
        ) from None
    try:
        import fast_downward  # noqa: F401
    except ImportError:
        raise UserError(
            "the ALFWorld envs need fast-downward: `pip install \"textworld[pddl]==1.7.0\"` "
            "(it compiles the planner from source, ~90 s)."
        ) from None


def alfworld_paths() -> tuple[Path, Path, Path]:
    """(alfred.pddl, alfred.twl2, gen/layouts) shipped by the alfworld wheel."""
    require_alfworld()
    import alfworld.gen
    import alfworld.info

    layouts = Path(alfworld.gen.__file__).resolve().parent / "layouts"
    return Path(alfworld.info.ALFRED_PDDL_PATH), Path(alfworld.info.ALFRED_TWL2_PATH), layouts


def _constants() -> Any:
    require_alfworld()
    import alfworld.gen.constants as constants

    return constants


#: Translations kept by the memo below (two per game: one to play, one for textworld's replanner;
#: 0.5–2 MB each; 128 covers the train and test splits of one task type).
TRANSLATION_MEMO_SIZE = 128


def speed_up_textworld() -> None:
    """Memoise two pure, slow functions of textworld 1.7's PDDL engine, in this process.

    - `fast_downward.pddl2sas(domain, problem, ...)`: every reset of a PDDL game translates the
      problem twice (~0.3–1.5 s each); the result only depends on the two texts, so a game
      already played resets ~10× faster.
    - `textworld.envs.pddl.textgen._parse_and_convert(text, ...)`: every step parses the
      grammar templates of every admissible command with TatSu again; we parse each text once
      and hand out deep copies (the caller mutates what it gets): ~2× the step rate.
    Same outputs, byte for byte (the tests compare episodes). Skipped where the functions are
    not there (another textworld version). The translation also puts back `sys.argv`, which
    fast-downward's `pddl2sas` replaces with `["translate.py", "domain", "task"]` and leaves so
    (a script that wrote to `sys.argv[1]` after a game had been played wrote a file `domain`).
    """
    import fast_downward
    import textworld.envs.pddl.textgen as textgen

    if callable(getattr(fast_downward, "pddl2sas", None)) and not hasattr(
            fast_downward.pddl2sas, "priorbench_memo"):
        translate = fast_downward.pddl2sas

        @functools.lru_cache(maxsize=TRANSLATION_MEMO_SIZE)
        def _translation(domain: str, problem: str, verbose: bool, optimize: bool) -> Any:
            argv = sys.argv
            try:
                return translate(domain, problem, verbose=verbose, optimize=optimize)
            finally:
                sys.argv = argv  # it sets sys.argv = ["translate.py", "domain", "task"] for good

        def pddl2sas(domain: str, problem: str, verbose: bool = False,
                     optimize: bool = False) -> Any:
            return _translation(domain, problem, bool(verbose), bool(optimize))

        pddl2sas.priorbench_memo = True  # type: ignore[attr-defined]
        fast_downward.pddl2sas = pddl2sas
    if callable(getattr(textgen, "_parse_and_convert", None)) and not hasattr(
            textgen._parse_and_convert, "priorbench_memo"):
        parse = textgen._parse_and_convert

        @functools.lru_cache(maxsize=8192)
        def _parsed(text: str, rule_name: str, trace: bool) -> Any:
            return parse(text, rule_name=rule_name, trace=trace)

        def parse_and_convert(text: str, rule_name: str = "symbols", trace: bool = False) -> Any:
            return copy.deepcopy(_parsed(text, rule_name, bool(trace)))

        parse_and_convert.priorbench_memo = True  # type: ignore[attr-defined]
        textgen._parse_and_convert = parse_and_convert
