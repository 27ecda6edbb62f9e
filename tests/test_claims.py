"""Claims as code (bench/leaderboard/claims.py): claims.toml is read strictly, every statistic is
evaluated on the golden records to the verdict and figure the golden files show, a claim that
stops holding when the runs change fails `build --strict`, and NOTES.md's citations and numbers
are checked against the board."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from priorbench.bench import leaderboard
from priorbench.bench.leaderboard import claims
from priorbench.bench.leaderboard.load import collect
from priorbench.bench.leaderboard.stats import make_rows
from priorbench.core.errors import UserError
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


def test_success_difference_against_zero_needs_fishers_p_too(golden_rows):
    """A Newcombe interval that clears 0 is not a clear difference while Fisher's p ≥ 0.05 (the
    prior-effect readings' rule): 1 win of 3 against 0 of 3 reads as no clear difference."""
    lake = [r for r in golden_rows if r.env == "priorbench/FrozenLake-4x4-v0"]
    q, rnd = (next(r for r in lake if r.agent == a) for a in ("tabular-q", "random"))

    def verdict(direction: str) -> claims.Verdict:
        claim = claims.Claim("x", "s", "success_difference", (q.id, rnd.id), direction, 0.0)
        return claims.evaluate([claim], lake)[0]

    assert verdict(">").status == claims.FAILS and verdict("includes").status == claims.HOLDS
    assert verdict(">").p == pytest.approx(1.0)


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
    for seed in ("seed1", "seed2"):  # two of its three seeds are gone: 20/20 has a lower bound 0.83
        shutil.rmtree(runs / RANDOM_MAPS / "expert" / seed)
    result = cli("leaderboard", "build", "--runs", str(runs), "--out", str(out), "--strict")
    assert result.returncode != 0
    err = result.stderr.strip().splitlines()[-1]
    assert "--strict" in err and "claim expert-solves does not hold: 1.000 [0.832, 1.000] (20/20)" in err
    assert "NOTES.md says 60/60, which no table or claim prints" in err
    board = (out / "LEADERBOARD.md").read_text()  # written, with the verdict beside the citation
    assert "[expert-solves ✗ does not hold](#claim-expert-solves)" in board
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


GOOD = {"id": '"a"', "sentence": '"s"', "statistic": '"success"', "rows": '["E:x"]', "direction": '">"',
        "threshold": "0.5"}


@pytest.mark.parametrize("change, message", [
    ({"id": '"A b"'}, "id must be 1–80 lower-case letters"),
    ({"statistic": '"succes"'}, "unknown statistic 'succes'"),
    ({"rows": '["E:x", "E:y"]'}, "statistic success compares 1 row, rows lists 2"),
    ({"direction": '"=>"'}, "unknown direction '=>'"),
    ({"threshold": "inf"}, "threshold must be a finite number"),
    ({"level": "1.5"}, "level in (0, 1]"),
    ({"sentence": '"  "'}, "sentence is empty"),
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
