"""The views a researcher reads first (issue 30): stable row ids, the headline ranking, "does
the prior help?", a new agent compared with every family, and a build into a folder of one's
own that keeps the committed board's context. On the committed runs (real records)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from priorbench.bench import metrics, reproduce
from priorbench.bench.leaderboard import collect, key_pairs, make_rows
from priorbench.bench.leaderboard.stats import headline, prior_effects, row_id
from priorbench.bench.leaderboard.verified import VERIFIED, read_marks
from priorbench.bench.leaderboard.views import headline_header, total_text
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
        "TextWorld-Cooking-1-v0:cql-prior[SYNTHETIC-oracle-q=uniform]@500"
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
    with pytest.raises(UserError, match="Did you mean.*FrozenLake-4x4-v0:tabular-q"):  # an env typo too
        reproduce.reproduce(RUNS, "FrozenLke-4x4-v0:tabular-q")


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
    """One train = test env: ranked on it (no env holds tasks out); ties share a rank; the
    best marks go to the top and to every line Fisher's exact test does not put below it."""
    envs, lines = headline(lake_rows)
    assert envs == [LAKE]
    labels = [line.agent for line in lines]
    assert labels[-1] == "expert" and lines[-1].reference and lines[-1].rank == "ref."  # never ranked or best
    assert not any("SYNTHETIC" in a or a.endswith(" steps") for a in labels)  # controls, budgets apart
    ranks = {line.agent: line.rank for line in lines}
    assert ranks["tabular-q"] == "1=" and ranks["random"] != "1="  # 1.000 shared by several rows
    best = {line.agent for line in lines if LAKE in line.best}
    stats = {line.agent: line.cells[LAKE].stats for line in lines}
    assert "tabular-q" in best and "random" not in best  # 5/5 vs 0/5: Fisher p = 0.008
    assert "dqn" in best  # 2/5 vs 5/5: p = 0.17, not clearly below the top
    for agent in best:
        assert metrics.fisher_exact_p(stats[agent]["wins"], stats[agent]["episodes"], 5, 5) >= 0.05


def test_the_headline_ranks_on_held_out_envs(lake_rows):
    """With an env whose test tasks are held out, the ranking is over those envs only."""
    groups, _ = collect(RUNS, envs={LAKE, "priorbench/TextWorld-CoinCollector-1-v0"})
    rows = make_rows(groups, curves=False)
    envs, lines = headline(rows)
    ranked = [line for line in lines if line.overall is not None and not line.reference]
    assert all(line.overall["envs"] == 1 for line in ranked)
    by = {line.agent: line for line in lines}
    coin = "priorbench/TextWorld-CoinCollector-1-v0"
    assert by["random"].overall["iqm"] == by["random"].cells[coin].stats["iqm"]  # the held-out env alone
    assert by["random"].rank == "1"  # random wins Coin Collector 1: the level is too easy to rank learners
    assert envs == [coin, LAKE]  # the ranked env first, then the single-task track
    assert headline_header(envs, lines)[3:] == ["TextWorld-CoinCollector-1-v0 (held out)",
                                                "FrozenLake-4x4-v0 (single-task: train = test)"]


def test_the_cost_sentence_gives_cpu_hours_per_env():
    groups, _ = collect(RUNS, envs={LAKE, "priorbench/TextWorld-CoinCollector-1-v0"})
    rows = make_rows(groups, curves=False)
    text = total_text(rows)
    per_env = {env: sum(r.summary["wall_s"] for rs in groups.values() for r in rs if r.summary["env"] == env)
               for env in (LAKE, "priorbench/TextWorld-CoinCollector-1-v0")}
    assert per_env[LAKE] > 0 and f"FrozenLake-4x4-v0 {per_env[LAKE] / 3600:.1f} CPU-h" in text
    assert text.endswith(f"TextWorld-CoinCollector-1-v0 {per_env['priorbench/TextWorld-CoinCollector-1-v0'] / 3600:.1f} CPU-h.")
    assert f"({sum(per_env.values()) / 3600:.1f} CPU-h)" in text


def test_does_the_prior_help_pairs_seeds_with_the_control_first(lake_rows):
    effects = [e for e in prior_effects(lake_rows) if e["agent"] == f"dqn-prior {DISTILLED}"]
    assert [e["vs"] for e in effects] == ["control", "plain", "llm", "llm-sample"]
    control = effects[0]
    assert control["other"] == "dqn-prior [SYNTHETIC oracle (q=uniform)]" and control["pairs"] == 5
    by = {r.agent: {int(x.summary["seed"]): x.summary["success"] for x in r.runs} for r in lake_rows}
    mine, theirs = by[control["agent"]], by[control["other"]]
    assert control["delta"] == pytest.approx(np.mean([mine[k] - theirs[k] for k in mine]))
    assert control["lo"] <= control["delta"] <= control["hi"] and control["ep_lo"] < control["ep_hi"]
    assert control["wins"] == (5, 5, 2, 5) and control["p"] == pytest.approx(1 / 6)
    assert control["reading"] == "no clear difference"  # 5 of 5 against 2 of 5 is not clear with 5 seeds
    assert effects[2]["reading"] == "tie — no evidence"  # llm wins 5 of 5 too
    assert effects[3]["reading"] == "better"  # 5/5 against llm-sample's 1/5: p = 0.048


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
    # Newcombe's (1998) own worked examples of his method 10
    assert metrics.difference_interval(56, 70, 48, 80) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert metrics.difference_interval(9, 10, 3, 10) == pytest.approx((0.1705, 0.8090), abs=1e-4)
    assert metrics.difference_interval(5, 56, 0, 29) == pytest.approx((-0.0381, 0.1926), abs=1e-4)
    # Fisher's exact test as scipy computes it
    from scipy.stats import fisher_exact

    for table in ((5, 5, 2, 5), (7, 25, 0, 25), (7, 25, 2, 25), (3, 9, 8, 11), (0, 4, 0, 6)):
        wx, nx, wy, ny = table
        assert metrics.fisher_exact_p(*table) == pytest.approx(
            fisher_exact([[wx, nx - wx], [wy, ny - wy]]).pvalue, rel=1e-12)


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
    # the CLI from the repository root, without the committed runs: their notes do not apply
    assert main(["leaderboard", "build", "--runs", str(mine), "--out", str(tmp_path / "own")]) == 0
    own = (tmp_path / "own" / "LEADERBOARD.md").read_text()
    assert NOT_VERIFIED_TEXT in own and MISSING in own
    assert (ROOT / "leaderboard" / "NOTES.md").read_text().strip().splitlines()[0] not in own
    capsys.readouterr()
    assert main(["leaderboard", "build", "--runs", str(mine), "--out", str(tmp_path / "alone"),
                 "--context", str(tmp_path / "none")]) == 2
    assert "--context" in capsys.readouterr().err


def test_the_committed_page_marks_the_headline_best_as_computed():
    """The committed site shows a star, in bold, in exactly the headline cells `headline` marks."""
    import re

    groups, _ = collect(RUNS)
    envs, lines = headline(make_rows(groups, curves=False))
    marks = sum(len(line.best) for line in lines)
    page = (ROOT / "leaderboard" / "site" / "index.html").read_text()
    table = page.split('id="headline-table"', 1)[1].split("</table>", 1)[0]
    assert marks > 0 and len(re.findall(r'</strong> <span class="best-mark" role="img" '
                                        r'aria-label="best in this env">★</span>', table)) == marks
