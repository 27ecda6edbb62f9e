"""Claims as code (bench/leaderboard/claims.py): claims.toml is read strictly, every statistic is
evaluated on the golden records to the verdict and figure the golden files show, a claim that
stops holding when the runs change fails `build --strict`, and NOTES.md's citations and numbers
are checked against the board."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from priorbench.bench import leaderboard
from priorbench.bench.leaderboard import claims
from priorbench.bench.leaderboard.load import collect
from priorbench.bench.leaderboard.stats import make_rows
from priorbench.core.errors import UserError
from tests.conftest import ROOT
from tests.golden.regenerate import CONTEXT, RECORDS

GOLDEN_CLAIMS = CONTEXT / claims.CLAIMS
RANDOM_MAPS = "priorbench/FrozenLake-4x4-Random-v0"


@pytest.fixture(scope="module")
def golden_rows():
    groups, refused = collect(RECORDS)
    assert not refused
    return make_rows(groups)


def test_every_statistic_and_verdict_on_the_golden_records(golden_rows):
    verdicts = {v.claim.id: v for v in claims.evaluate(claims.read_claims(GOLDEN_CLAIMS), golden_rows)}
    assert {v.claim.statistic for v in verdicts.values()} == set(claims.STATISTICS)
    status = {k: v.status for k, v in verdicts.items()}
    assert status == {
        "expert-solves-random-maps": claims.HOLDS, "random-below-expert": claims.HOLDS,
        "tabular-q-does-not-transfer": claims.HOLDS, "tabular-q-vs-random-iqm": claims.HOLDS,
        "expert-beats-random-p": claims.HOLDS, "expert-paired-gap": claims.HOLDS,
        "tabular-q-fast": claims.FAILS, "dqn-learns-the-map": claims.NOT_RUN}
    # the figures: the table's counts and intervals (the expert won all 60 unseen-map episodes)
    assert claims.figure_text(verdicts["expert-solves-random-maps"]) == "1.000 [0.940, 1.000] (60/60)"
    assert claims.figure_text(verdicts["random-below-expert"]).startswith("-0.933 [")
    assert "4/60 vs 60/60, Fisher p = " in verdicts["random-below-expert"].detail
    assert claims.figure_text(verdicts["dqn-learns-the-map"]) == "not run: no row FrozenLake-4x4-v0:dqn"
    fast = verdicts["tabular-q-fast"]  # the one-map tabular-q: 2 seeds of 3 reach 0.9 (at step 600)
    assert (fast.value, fast.hi) == (float("inf"), float("inf")) and fast.detail == "2 of 3 seeds reach it"
    assert claims.test_text(fast.claim) == "steps_to (level 0.9): interval <= 200"


def test_success_difference_needs_every_test_to_call_a_difference_clear():
    """The distilled Frozen Lake dqn-prior against its uniform control (committed core-v0 runs): 5
    of 5 against 2 of 5. Newcombe's interval [0.030, 0.882] and the paired-seed interval exclude 0,
    Fisher's exact p is 0.17: not a clear difference (the prior-effect readings' rule), so ">"
    fails and "includes" (no clear difference) holds."""
    lake = "priorbench/FrozenLake-4x4-v0"
    groups, _ = collect(ROOT / "leaderboard" / "runs", envs={lake})
    rows = make_rows(groups, curves=False)
    ids = ("FrozenLake-4x4-v0:dqn-prior[smollm2-135m+adapter:0162b203]",
           "FrozenLake-4x4-v0:dqn-prior[SYNTHETIC-oracle-q=uniform]")

    def verdict(direction: str) -> claims.Verdict:
        return claims.evaluate([claims.Claim("x", "s", "success_difference", ids, direction, 0.0)], rows)[0]

    better, none = verdict(">"), verdict("includes")
    assert (round(better.lo, 3), round(better.hi, 3)) == (0.03, 0.882) and better.lo > 0
    assert better.p == pytest.approx(0.1667, abs=1e-4) and "paired seeds [0.200, 1.000]" in better.detail
    assert better.status == claims.FAILS and none.status == claims.HOLDS
    assert claims.test_text(none.claim).startswith("success_difference: no clear difference from 0")


def test_thin_rows_are_not_run_and_steps_to_must_be_below_the_budget(golden_rows):
    rows = [dataclasses.replace(r, runs=r.runs[:2]) if r.agent == "expert" else r for r in golden_rows]
    claim = claims.Claim("x", "s", "success", (f"{RANDOM_MAPS.removeprefix('priorbench/')}:expert",), ">", 0.5)
    verdict = claims.evaluate([claim], rows)[0]
    assert verdict.status == claims.NOT_RUN and verdict.detail == (
        "fewer than 3 seeds: FrozenLake-4x4-Random-v0:expert (2)")
    late = claims.Claim("late", "s", "steps_to", ("FrozenLake-4x4-v0:tabular-q",), "<=", 600, level=0.9)
    with pytest.raises(UserError, match="threshold 600 is not below the row's budget"):
        claims.evaluate([late], golden_rows)
    # figures computed apart from the module: the gain is the mean of final minus first evaluation
    q = next(r for r in golden_rows if r.id == "FrozenLake-4x4-Random-v0:tabular-q")
    gain = claims.evaluate([claims.Claim("g", "s", "gain", (q.id,), "includes", 0.0)], golden_rows)[0]
    first = [sum(r.summary["curve"][0][1].values()) / len(r.summary["curve"][0][1]) for r in q.runs]
    assert gain.value == pytest.approx(np.mean([r.summary["success"] for r in q.runs]) - np.mean(first))
    # at = "start": the first round, counted apart from the module (tabular-q at step 0 on unseen maps)
    start = claims.evaluate([claims.Claim("s", "s", "success", (q.id,), ">", 0.01, at="start"),
                             claims.Claim("d", "s", "paired_difference", (q.id, f"{q.env.removeprefix('priorbench/')}:random"),
                                          "includes", 0.0, at="start")], golden_rows)
    wins = sum(bool(e["success"]) for r in q.runs for e in r.episodes if e["phase"] == "eval" and e["env_steps"] == 0)
    episodes = sum(1 for r in q.runs for e in r.episodes if e["phase"] == "eval" and e["env_steps"] == 0)
    assert start[0].detail == f"{wins}/{episodes} at the first round" and start[0].value == wins / episodes
    assert "at the first round" in claims.test_text(start[1].claim) and start[1].status != claims.NOT_RUN
    at_once = claims.Claim("e", "s", "steps_to", ("FrozenLake-4x4-v0:expert",), "<=", 0, level=1.0)
    assert claims.figure_text(claims.evaluate([at_once], golden_rows)[0]) == "0 [0, 0] (3 of 3 seeds reach it)"


def test_a_claim_that_stops_holding_fails_strict(tmp_path, cli):
    runs = tmp_path / "runs"
    shutil.copytree(RECORDS, runs)
    out = tmp_path / "board"
    out.mkdir()
    (out / claims.CLAIMS).write_text(
        '[[claim]]\nid = "expert-solves"\nsentence = "The expert solves the unseen maps."\n'
        f'statistic = "success"\nrows = ["{RANDOM_MAPS.removeprefix("priorbench/")}:expert"]\n'
        'direction = ">"\nthreshold = 0.9\n')
    (out / leaderboard.NOTES).write_text("It does [claim:expert-solves] (60/60).\n")
    leaderboard.build(runs, out, strict=True)
    board = (out / "LEADERBOARD.md").read_text()
    assert "[expert-solves ✓](#claim-expert-solves) (60/60)" in board
    assert 'id="claim-expert-solves"' in (out / "site" / "index.html").read_text()
    shutil.rmtree(runs / RANDOM_MAPS / "expert" / "seed2")  # one of its three seeds is gone: too thin
    result = cli("leaderboard", "build", "--runs", str(runs), "--out", str(out), "--strict")
    assert result.returncode != 0
    err = result.stderr.strip().splitlines()[-1]
    assert "--strict" in err and ("claim expert-solves not run: not run: fewer than 3 seeds: "
                                  "FrozenLake-4x4-Random-v0:expert (2)") in err
    assert "NOTES.md says 60/60, which no table or claim prints" in err
    board = (out / "LEADERBOARD.md").read_text()  # written, with the verdict beside the citation
    assert "[expert-solves not run](#claim-expert-solves)" in board
    assert cli("leaderboard", "build", "--runs", str(runs), "--out", str(out)).returncode == 0


def test_strict_needs_a_claims_file(tmp_path, cli):
    out = tmp_path / "board"
    out.mkdir()
    result = cli("leaderboard", "build", "--runs", str(RECORDS), "--out", str(out), "--strict")
    assert result.returncode == 2 and "has claims.toml" in result.stderr and not (out / "LEADERBOARD.md").exists()


def test_citations_and_numbers_of_the_notes():
    c = claims.Claim("a-b", "s", "success", ("E:x",), ">", 0.5)
    verdicts = [claims.Verdict(c, claims.HOLDS, 0.6, 0.55, 0.7, "6/10")]
    notes = "See [claim:a-b] and [claim:zz]; `[claim:in-code]` and 0.61 in `code 0.99`; 3/10 or 45 % or 0.55."
    assert claims.citations(notes) == ["a-b", "zz"]
    cited = claims.cite(notes, verdicts)
    assert "[a-b ✓](#claim-a-b)" in cited and "[claim zz: no such claim]" in cited and "`[claim:in-code]`" in cited
    assert claims.notes_numbers(notes) == ["0.61", "3/10", "45 %", "0.55"]
    board = "| 0.550 | 3/10 | 45% |"
    assert claims.strict_problems(verdicts, notes, board) == [
        "NOTES.md cites [claim:zz], which claims.toml does not have",
        "NOTES.md says 0.61, which no table or claim prints"]
    assert "does not hold" in claims.strict_problems([claims.Verdict(c, claims.FAILS, 0.4, 0.3, 0.5, "4/10")], "", "")[0]
    # a figure that only a claim's own sentence prints is not on the board; a signed one keeps its sign
    said = claims.Claim("a-b", "It wins 0.61 of its games.", "success", ("E:x",), ">", 0.5)
    problems = claims.strict_problems([claims.Verdict(said, claims.HOLDS, 0.6, 0.55, 0.7, "6/10")],
                                      "It wins 0.61 [claim:a-b]; Δ −0.40.", "| It wins 0.61 of its games. | 0.400 |")
    assert problems == ["NOTES.md says 0.61, which no table or claim prints",
                        "NOTES.md says −0.40, which no table or claim prints"]


GOOD = {"id": '"a"', "sentence": '"s"', "statistic": '"success"', "rows": '["E:x"]', "direction": '">"',
        "threshold": "0.5"}


@pytest.mark.parametrize("change, message", [
    ({"id": '"A b"'}, "id must be 1–80 lower-case letters"),
    ({"statistic": '"succes"'}, "unknown statistic 'succes'"),
    ({"rows": '["E:x", "E:y"]'}, "statistic success compares 1 row, rows lists 2"),
    ({"direction": '"=>"'}, "unknown direction '=>'"),
    ({"threshold": "inf"}, "claim.threshold must be a finite number, got inf"),
    ({"threshold": "1.5"}, "threshold 1.5 must lie strictly inside the values success takes (0 to 1)"),
    ({"threshold": "0"}, "at an end the claim holds on any records"),
    ({"level": "0.9"}, "only steps_to takes one"),
    ({"statistic": '"steps_to"', "threshold": "500"}, "steps_to needs a level"),
    ({"statistic": '"steps_to"', "threshold": "500", "level": "1.5"}, "level 1.5 must be in (0, 1]"),
    ({"statistic": '"success_difference"', "rows": '["E:x", "E:y"]', "threshold": "0.1"},
     "success_difference tests a difference from 0"),
    ({"statistic": '"paired_difference"', "rows": '["E:x", "E:x"]'}, "rows names one row twice"),
    ({"sentence": '"  "'}, "sentence is empty"),
    ({"at": '"end"'}, "at = 'end': give \"final\" or \"start\""),
    ({"statistic": '"iqm"', "at": '"start"'}, "iqm reads the final round only"),
    ({"rows": '"E:x"'}, "rows"),
    ({"threshold": '"high"'}, "threshold"),
    ({"thresold": "0.5"}, "unknown setting claim.'thresold'. Did you mean: threshold?"),
])
def test_a_bad_claims_file_is_one_clear_line(tmp_path, change, message):
    fields = {**GOOD, **change}
    if "thresold" in change:
        del fields["threshold"]
    path = tmp_path / claims.CLAIMS
    path.write_text("[[claim]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items()))
    with pytest.raises(UserError) as err:
        claims.read_claims(path)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text, text


def test_duplicate_ids_and_links_are_refused(tmp_path):
    one = "[[claim]]\n" + "".join(f"{k} = {v}\n" for k, v in GOOD.items())
    path = tmp_path / claims.CLAIMS
    path.write_text(one + one)
    with pytest.raises(UserError, match="the id is used twice"):
        claims.read_claims(path)
    out = tmp_path / "board"
    out.mkdir()
    (out / claims.CLAIMS).symlink_to(path)
    with pytest.raises(UserError, match="is a symbolic link"):
        leaderboard.build(RECORDS, out)


def test_the_committed_notes_cite_only_claims_that_exist():
    """leaderboard/NOTES.md cites its findings as claims (the committed-board test builds it with
    --strict, which also checks that they hold)."""
    root = Path(__file__).resolve().parents[1] / "leaderboard"
    notes = (root / leaderboard.NOTES).read_text()
    known = {c.id for c in claims.read_claims(root / claims.CLAIMS)}
    cited = set(claims.citations(notes))
    assert cited and cited <= known, sorted(cited - known)
    assert not re.search(r"\bP = 0\.\d", notes), "a P(improvement) in prose: make it a claim"
