"""The views a researcher reads first (issue 30): stable row ids, the headline ranking, "does
the prior help?", a new agent compared with every family, and a build into a folder of one's
own that keeps the committed board's context. On the committed runs (real records)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from priorbench.bench import metrics, reproduce
from priorbench.bench.leaderboard import collect, key_pairs, make_rows, overall
from priorbench.bench.leaderboard.stats import headline, prior_effects, row_id
from priorbench.bench.leaderboard.verified import VERIFIED, read_marks
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core.errors import UserError
from tests.conftest import ROOT

RUNS = ROOT / "leaderboard" / "runs"
LAKE = "priorbench/FrozenLake-4x4-v0"
DISTILLED = "[smollm2-135m + adapter 0162b203]"


@pytest.fixture(scope="module")
def lake_rows():
    groups, refused = collect(RUNS, envs={LAKE})
    assert not refused and {env for env, _ in groups} == {LAKE}
    return make_rows(groups, curves=False)


def test_row_ids_name_env_agent_prior_and_budget():
    assert row_id(LAKE, "tabular-q") == "FrozenLake-4x4-v0:tabular-q"
    assert row_id(LAKE, f"dqn-prior {DISTILLED}") == "FrozenLake-4x4-v0:dqn-prior[smollm2-135m+adapter:0162b203]"
    assert row_id("priorbench/TextWorld-Cooking-1-v0", "cql-prior [SYNTHETIC oracle (q=uniform)] @500 steps") == \
        "TextWorld-Cooking-1-v0:cql-prior[SYNTHETIC-oracle-(q=uniform)]@500"
    assert row_id(LAKE, "llm [smollm2-135m, calibration=contextual]") == \
        "FrozenLake-4x4-v0:llm[smollm2-135m,calibration=contextual]"
    assert row_id("other/Env-v1", "my.mod:Agent") == "other/Env-v1:my.mod:Agent"  # only our namespace dropped


def test_a_row_id_names_the_same_row_on_a_board_with_more_rows(lake_rows, tmp_path):
    """Numbers move when a row is added; the id does not. `reproduce` finds a row by id, by
    "env_id:label", or by number, and reads only the env's runs for an id."""
    extra = tmp_path / "runs"  # a real dqn run at a smaller budget: the row "dqn @100 steps"
    execute(RunJob(LAKE, "dqn", 0, Budget(steps=100, eval_every=50, checkpoint_every=100), extra), progress=False)
    row = reproduce.find_row(lake_rows, "FrozenLake-4x4-v0:tabular-q")
    assert row.agent == "tabular-q"
    assert reproduce.find_row(lake_rows, f"{LAKE}:tabular-q") is row
    assert reproduce.find_row(lake_rows, str(row.index)) is row
    groups, _ = collect([RUNS, extra], envs={LAKE})
    bigger = make_rows(groups, curves=False)
    assert len(bigger) == len(lake_rows) + 1 and bigger[row.index].id != row.id  # its number moved
    assert reproduce.find_row(bigger, row.id).runs[0].manifest["spec_hash"] == row.runs[0].manifest["spec_hash"]
    assert reproduce.find_row(bigger, "FrozenLake-4x4-v0:dqn@100").agent == "dqn @100 steps"
    with pytest.raises(UserError, match="Name a row by its id"):
        reproduce.find_row(lake_rows, "FrozenLake-4x4-v0:tabularq")


def test_reproduce_by_id_verifies_only_that_envs_runs(monkeypatch):
    seen = []
    real = reproduce.collect

    def spy(root, **kwargs):
        seen.append(kwargs.get("envs"))
        return real(root, **kwargs)

    monkeypatch.setattr(reproduce, "collect", spy)
    rows, _ = reproduce.stored_rows(RUNS, envs=reproduce._envs_named("FrozenLake-4x4-v0:tabular-q"))
    assert seen == [{"FrozenLake-4x4-v0", LAKE}] and {r.env for r in rows} == {LAKE}
    assert reproduce._envs_named("7") is None


def test_old_verified_marks_are_read_under_row_ids(tmp_path):
    marks = json.loads((ROOT / "leaderboard" / VERIFIED).read_text())["rows"]
    assert all(" " not in m["row"] and not m["row"].startswith("priorbench/") for m in marks)
    old = [{**m, "row": f"{LAKE}:{m['row'].split(':', 1)[1]}"} for m in marks if m["row"].startswith("FrozenLake-4x4-v0:")]
    (tmp_path / VERIFIED).write_text(json.dumps({"rows": old}))
    assert set(read_marks(tmp_path)) == {m["row"] for m in marks if m["row"].startswith("FrozenLake-4x4-v0:")}


def test_the_headline_ranks_agents_and_marks_the_best(lake_rows):
    envs, lines = headline(lake_rows, overall(lake_rows)[1])
    assert envs == [LAKE]
    labels = [line.agent for line in lines]
    assert labels[-1] == "expert" and lines[-1].reference  # a reference, last, never best
    assert not any("SYNTHETIC" in a or a.endswith(" steps") for a in labels)  # controls, budgets apart
    iqms = [line.cells[LAKE].stats["iqm"] for line in lines if not line.reference]
    best = {line.agent for line in lines if LAKE in line.best}
    assert best == {line.agent for line in lines if not line.reference and line.cells[LAKE].stats["iqm"] == max(iqms)}
    assert "tabular-q" in best and "dqn" not in best


def test_does_the_prior_help_pairs_seeds_with_the_control_first(lake_rows):
    effects = [e for e in prior_effects(lake_rows) if e["agent"] == f"dqn-prior {DISTILLED}"]
    assert [e["vs"] for e in effects] == ["control", "plain", "llm"]
    control = effects[0]
    assert control["other"] == "dqn-prior [SYNTHETIC oracle (q=uniform)]" and control["pairs"] == 5
    by = {r.agent: {int(x.summary["seed"]): x.summary["success"] for x in r.runs} for r in lake_rows}
    mine, theirs = by[control["agent"]], by[control["other"]]
    assert control["delta"] == pytest.approx(np.mean([mine[k] - theirs[k] for k in mine]))
    assert control["lo"] <= control["delta"] <= control["hi"] and control["ep_lo"] < control["ep_hi"]
    assert control["reading"] == "better" and effects[2]["reading"] == "tie — no evidence"  # llm wins too


def test_difference_intervals():
    assert metrics.paired_difference_ci([1, 1, 1], [0, 0, 0]) == (1.0, 1.0, 1.0)  # the bootstrap collapses
    lo, hi = metrics.difference_interval(5, 5, 0, 5)  # Newcombe's does not
    assert 0 < lo < 0.6 and hi == 1.0
    lo, hi = metrics.difference_interval(3, 10, 3, 10)
    assert lo == pytest.approx(-hi) and lo < 0 < hi
    point, lo, hi = metrics.paired_difference_ci([1, 0, 1, 1], [0, 0, 1, 0])
    assert point == 0.5 and lo <= 0.5 <= hi and (lo, hi) == metrics.paired_difference_ci([1, 0, 1, 1], [0, 0, 1, 0])[1:]
    # Wilson's interval as textbooks give it: 0 of 10 → [0, 0.2775]
    assert metrics.wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_a_new_agent_meets_every_family_of_its_budget():
    labels = ["dqn", f"dqn-prior {DISTILLED}", f"llm {DISTILLED}", "llm-sample [smollm2-135m]", "cql @500 steps",
              "dqn-prior [SYNTHETIC oracle (q=uniform)]", "my_agent:CountQ"]
    mine = [y for x, y in key_pairs(labels) if x == "my_agent:CountQ"]
    assert mine == ["dqn", f"dqn-prior {DISTILLED}", f"llm {DISTILLED}", "llm-sample [smollm2-135m]"]


def test_a_build_into_your_own_folder_keeps_the_committed_context(tmp_path, monkeypatch, capsys):
    """--runs leaderboard/runs --runs mine --out board: notes, prior quality and verified marks
    come from the committed leaderboard/ (the CLI's default --context); the hint for an
    unverified board never names the committed folder."""
    from priorbench.bench.cli import main
    from priorbench.bench.leaderboard import build
    from priorbench.bench.leaderboard.quality import MISSING
    from priorbench.bench.leaderboard.verified import NOT_VERIFIED_TEXT

    mine = tmp_path / "mine"
    execute(RunJob(LAKE, "dqn", 0, Budget(steps=100, eval_every=50, checkpoint_every=100), mine), progress=False)
    monkeypatch.chdir(ROOT)
    board = tmp_path / "board"
    assert main(["leaderboard", "build", "--runs", "leaderboard/runs", "--runs", str(mine), "--out", str(board),
                 "--allow-refused"]) == 0
    md = (board / "LEADERBOARD.md").read_text()
    verified = md.split("## Verified rows", 1)[1].split("## ", 1)[0]
    assert "FrozenLake-4x4-v0:tabular-q" in verified and NOT_VERIFIED_TEXT not in md
    assert (ROOT / "leaderboard" / "NOTES.md").read_text().strip().splitlines()[0] in md
    assert MISSING not in md
    build(mine, tmp_path / "alone")  # the library call: context only from --out (here: none)
    text = (tmp_path / "alone" / "LEADERBOARD.md").read_text()
    assert NOT_VERIFIED_TEXT in text and MISSING in text and "--out leaderboard" not in text
    capsys.readouterr()
    assert main(["leaderboard", "build", "--runs", str(mine), "--out", str(tmp_path / "alone"),
                 "--context", str(tmp_path / "none")]) == 2
    assert "--context" in capsys.readouterr().err
