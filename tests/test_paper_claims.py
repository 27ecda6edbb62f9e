"""experiments/results/paper-claims.md is what `python experiments/paper_claims.py report` makes
from the committed runs (issue 32): rebuilt here and compared, so a page that no longer matches
its runs (or runs committed without rebuilding it) fails the build."""

from __future__ import annotations

import importlib.util
import os

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _script():
    spec = importlib.util.spec_from_file_location("paper_claims", ROOT / "experiments" / "paper_claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_is_rebuilt_from_the_committed_runs(tmp_path):
    script = _script()
    committed = ROOT / script.PAGE
    here = os.getcwd()
    os.chdir(ROOT)  # the script's paths are relative to the repository
    try:
        script.report(tmp_path / "paper-claims.md")
    finally:
        os.chdir(here)
    rebuilt = (tmp_path / "paper-claims.md").read_text()
    assert rebuilt == committed.read_text(), "run `python experiments/paper_claims.py report` and commit the page"
    for name in ("offline.png", "online.png", "transfer.png"):
        assert (tmp_path / script.FIGURES / name).exists() and (committed.parent / script.FIGURES / name).exists()
    # every verdict is computed: holds, does not hold or not run, never a hand-written word
    verdicts = [line for line in rebuilt.splitlines() if line.startswith("- **")]
    assert verdicts and all(line.split("**")[1] in (script.HOLDS, script.FAILS, script.NOT_RUN) for line in verdicts)
