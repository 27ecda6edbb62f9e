"""Claims as code: `claims.toml` beside a leaderboard holds each sentence its notes make about
the numbers — the rows compared (by row id), a statistic and the threshold its interval must
clear — and the build evaluates every claim on the records into a Claims section ("holds",
"does not hold", "not run"). NOTES.md cites a claim as `[claim:ID]`; the build writes its
verdict beside the citation. `leaderboard build --strict` fails unless every claim holds, every
citation names a claim and every decimal, fraction or percentage in NOTES.md is printed
elsewhere on the board (`strict_problems`)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priorbench.bench import metrics
from priorbench.bench.leaderboard.stats import EFFECT_ALPHA, Row, pooled_wins, row_success_matrix
from priorbench.bench.leaderboard.tables import markdown_table
from priorbench.core.config import build_config, read_toml
from priorbench.core.errors import UserError

#: The claims file, kept beside the outputs like NOTES.md.
CLAIMS = "claims.toml"

#: statistic → (rows it compares, what it is). Each gives a point and a 95% interval.
STATISTICS = {
    "success": (1, "the final round's test episodes pooled over seeds: wins / episodes, exact binomial interval"),
    "iqm": (1, "IQM of the seeds' final test success, stratified-bootstrap interval"),
    "success_difference": (2, "first row − second on the seeds both ran: pooled final wins with Newcombe's "
                              "interval (episodes pooled, not clustered by seed); a clear difference (> or <, "
                              "threshold 0 only) also needs Fisher's exact p < 0.05 and the paired-seed bootstrap "
                              "interval on the same side, as the prior-effect readings; `includes` holds where "
                              "the difference is not clear"),
    "paired_difference": (2, "first row − second: mean paired-seed difference in final test success, "
                             "bootstrap interval over the pairs"),
    "gain": (1, "final test success − the first evaluation's (step 0 for a learner), mean over seeds, "
                "bootstrap interval over the seeds: did it learn?"),
    "p_improvement": (2, "rliable's P(first > second) on final test success, bootstrap interval"),
    "steps_to": (1, "env steps at which the row's IQM learning curve first reaches `level`; interval from the "
                    "curve's 95% band (first step its upper, then its lower bound reaches it; never: ∞)"),
}
#: statistic → the range its values take: a threshold must lie strictly inside it (at an end a
#: claim would hold on any records). steps_to's upper end is the row's budget (checked on the rows).
RANGES = {"success": (0.0, 1.0), "iqm": (0.0, 1.0), "success_difference": (-1.0, 1.0),
          "paired_difference": (-1.0, 1.0), "gain": (-1.0, 1.0), "p_improvement": (0.0, 1.0),
          "steps_to": (-1.0, math.inf)}
#: Claim.at → the statistics that read that round (the others read the whole curve or the final round).
ROUNDS = {"final": tuple(STATISTICS), "start": ("success", "success_difference", "paired_difference")}
#: A row with fewer seeds is too thin for a claim: its verdict is "not run" (a bootstrap over one
#: seed collapses to a point that would pass any threshold below it).
MIN_SEEDS = 3
#: direction → when the interval [lo, hi] supports the claim against `threshold`.
DIRECTIONS = {
    ">": lambda lo, hi, t: lo > t, ">=": lambda lo, hi, t: lo >= t,
    "<": lambda lo, hi, t: hi < t, "<=": lambda lo, hi, t: hi <= t,
    "includes": lambda lo, hi, t: lo <= t <= hi,
}
HOLDS, FAILS, NOT_RUN = "holds", "does not hold", "not run"
#: success_difference against 0: Fisher's exact p below this is a clear difference.
CLEAR_P = EFFECT_ALPHA
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
#: A claim's citation in NOTES.md.
CITATION = re.compile(r"\[claim:([^\]\s]*)\]")


@dataclass(frozen=True)
class Claim:
    id: str
    """A stable name: lower-case letters, digits and '-' (NOTES.md cites `[claim:ID]`)."""
    sentence: str
    """What the claim says, in words."""
    statistic: str
    """One of STATISTICS."""
    rows: tuple[str, ...]
    """The row ids compared (as the leaderboard prints them: `env:label`)."""
    direction: str
    """One of DIRECTIONS: the interval against `threshold`."""
    threshold: float
    """The value the interval is compared with."""
    level: float | None = None
    """steps_to only: the success level the curve must reach (default SUCCESS_THRESHOLD)."""
    at: str = "final"
    """The evaluation round read (success, success_difference, paired_difference): "final", or
    "start", the first (step 0 for a learner: a run started from another's Q by `init_from`
    plays that Q there, before any training of its own)."""


@dataclass(frozen=True)
class ClaimsFile:
    claim: tuple[Claim, ...] = ()


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    status: str
    """HOLDS, FAILS or NOT_RUN."""
    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    detail: str = ""
    """The counts behind the figure (wins / episodes, seeds, Fisher's p) or why it was not run."""
    p: float | None = None
    """success_difference: Fisher's exact p."""


def read_claims(path: Path) -> list[Claim]:
    """The claims of a claims file, checked: unique ids, a known statistic and direction, as
    many rows as the statistic compares, finite numbers. Every problem is one UserError naming
    the file, the claim and the fix."""
    data = read_toml(path, what="claims file")
    claims = list(build_config(ClaimsFile, data, where=str(path)).claim)
    seen: set[str] = set()
    for i, c in enumerate(claims):
        where = f"{path}: claim {c.id!r}" if c.id else f"{path}: claim {i + 1}"
        if not _ID.fullmatch(c.id):
            raise UserError(f"{where}: id must be 1–80 lower-case letters, digits and '-' (it is cited as [claim:ID])")
        if c.id in seen:
            raise UserError(f"{where}: the id is used twice; give each claim its own id")
        seen.add(c.id)
        if not c.sentence.strip():
            raise UserError(f"{where}: sentence is empty; write what the claim says")
        if c.statistic not in STATISTICS:
            raise UserError(f"{where}: unknown statistic {c.statistic!r}; one of {', '.join(STATISTICS)}")
        wanted = STATISTICS[c.statistic][0]
        if len(c.rows) != wanted:
            raise UserError(f"{where}: statistic {c.statistic} compares {wanted} row{'s' * (wanted > 1)}, "
                            f"rows lists {len(c.rows)}")
        if c.direction not in DIRECTIONS:
            raise UserError(f"{where}: unknown direction {c.direction!r}; one of {', '.join(DIRECTIONS)}")
        if len(set(c.rows)) != len(c.rows):
            raise UserError(f"{where}: rows names one row twice; compare two different rows")
        lo, hi = RANGES[c.statistic]
        if not (math.isfinite(c.threshold) and lo < c.threshold < hi):
            raise UserError(f"{where}: threshold {c.threshold!r} must lie strictly inside the values {c.statistic} "
                            f"takes ({lo:g} to {hi:g}): at an end the claim holds on any records")
        if c.statistic == "success_difference" and c.threshold != 0:
            raise UserError(f"{where}: success_difference tests a difference from 0 (Fisher's exact test): "
                            "give threshold = 0, or use paired_difference for a margin")
        if (c.level is not None) != (c.statistic == "steps_to"):
            raise UserError(f"{where}: level is the success level of steps_to, and only steps_to takes one"
                            if c.level is not None else f"{where}: steps_to needs a level (the success to reach)")
        if c.level is not None and not 0 < c.level <= 1:
            raise UserError(f"{where}: level {c.level!r} must be in (0, 1]")
        if c.statistic not in ROUNDS.get(c.at, ()):
            raise UserError(f"{where}: at = {c.at!r}: " + (f"{c.statistic} reads the final round only; at = \"start\" "
                            f"is for {', '.join(ROUNDS['start'])}" if c.at in ROUNDS else "give \"final\" or \"start\""))
    return claims


def _shared(a: Row, b: Row) -> tuple[dict[int, Any], dict[int, Any], list[int]]:
    mine = {int(r.summary["seed"]): r for r in a.runs}
    theirs = {int(r.summary["seed"]): r for r in b.runs}
    return mine, theirs, sorted(set(mine) & set(theirs))


def _first_step(steps: Sequence[int], values: Sequence[float], level: float) -> float:
    return float(next((s for s, v in zip(steps, values, strict=True) if v >= level), math.inf))


def _first_eval(run: Any) -> float:
    _, by_task = run.summary["curve"][0]
    return float(sum(by_task.values()) / max(len(by_task), 1))


def _measure(claim: Claim, rows: Sequence[Row]) -> tuple[float, float, float, str, Any] | str:
    """(value, lo, hi, detail, clear), or why the claim cannot be evaluated. `clear` (success_difference
    only, else None): (whether the difference is clear, its side ">" or "<", Fisher's p)."""
    st, at = claim.statistic, claim.at
    def seed_success(run: Any) -> float:
        return _first_eval(run) if at == "start" else float(run.summary["success"])
    if st == "success":
        wins, n = pooled_wins(rows[0].runs, at)
        lo, hi = metrics.binomial_interval(wins, n)
        return wins / max(n, 1), lo, hi, f"{wins}/{n}" + (" at the first round" if at == "start" else ""), None
    if st == "iqm":
        s = rows[0].stats
        return s["iqm"], s["iqm_lo"], s["iqm_hi"], f"{s['seeds']} seeds", None
    if st == "gain":
        runs = rows[0].runs
        if any(not r.summary["curve"] for r in runs):
            return "a run has no evaluation"
        d, lo, hi = metrics.paired_difference_ci([float(r.summary["success"]) for r in runs],
                                                 [_first_eval(r) for r in runs])
        return d, lo, hi, f"{len(runs)} seeds, first evaluation at step {int(runs[0].summary['curve'][0][0]):,}", None
    if st == "steps_to":
        curve = rows[0].curve
        if curve is None:
            return "no learning curve"
        level = claim.level if claim.level is not None else metrics.SUCCESS_THRESHOLD
        lo = _first_step(curve.steps, curve.upper, level)
        hi = _first_step(curve.steps, curve.lower, level)
        reached = sum(any(sum(t.values()) / max(len(t), 1) >= level for _, t in r.summary["curve"])
                      for r in rows[0].runs)
        return (_first_step(curve.steps, curve.iqm, level), lo, hi,
                f"{reached} of {len(rows[0].runs)} seeds reach it", None)
    a, b = rows
    if st == "p_improvement":
        x, y = row_success_matrix(a.runs), row_success_matrix(b.runs)
        p, lo, hi = metrics.probability_of_improvement_ci(x, y)
        return p, lo, hi, f"{len(a.runs)} vs {len(b.runs)} seeds", None
    mine, theirs, seeds = _shared(a, b)
    if not seeds:
        return "the two rows share no seed"
    if st == "paired_difference":
        d, lo, hi = metrics.paired_difference_ci([seed_success(mine[k]) for k in seeds],
                                                 [seed_success(theirs[k]) for k in seeds])
        return d, lo, hi, f"{len(seeds)} seed pairs", None
    (wx, nx), (wy, ny) = pooled_wins([mine[k] for k in seeds], at), pooled_wins([theirs[k] for k in seeds], at)
    lo, hi = metrics.difference_interval(wx, nx, wy, ny)
    p = metrics.fisher_exact_p(wx, nx, wy, ny)
    _, plo, phi = metrics.paired_difference_ci([seed_success(mine[k]) for k in seeds],
                                               [seed_success(theirs[k]) for k in seeds])
    side = ">" if lo > 0 and plo > 0 else "<" if hi < 0 and phi < 0 else ""
    detail = f"{wx}/{nx} vs {wy}/{ny}, Fisher p = {p:.2g}, paired seeds [{plo:.3f}, {phi:.3f}]"
    return wx / max(nx, 1) - wy / max(ny, 1), lo, hi, detail, (bool(side) and p < CLEAR_P, side, p)


def evaluate(claims: Sequence[Claim], rows: Sequence[Row]) -> list[Verdict]:
    """Each claim's verdict on these rows: NOT_RUN where a row is not on the board, has fewer
    than MIN_SEEDS seeds, or the rows share no seed; else HOLDS when the statistic's interval
    meets the direction, FAILS when not (success_difference: see STATISTICS)."""
    by_id = {r.id: r for r in rows}
    out = []
    for c in claims:
        missing = [r for r in c.rows if r not in by_id]
        thin = [f"{r} ({len(by_id[r].runs)})" for r in c.rows if r in by_id and len(by_id[r].runs) < MIN_SEEDS]
        if missing or thin:
            out.append(Verdict(c, NOT_RUN, detail="no row " + ", ".join(missing) if missing else
                               f"fewer than {MIN_SEEDS} seeds: " + ", ".join(thin)))
            continue
        budget = max(int(r.summary["budget_steps"]) for r in by_id[c.rows[0]].runs)
        if c.statistic == "steps_to" and c.threshold >= budget:
            raise UserError(f"claim {c.id}: steps_to threshold {c.threshold:g} is not below the row's budget "
                            f"({budget:,} steps), so any run meets it; give a smaller threshold")
        got = _measure(c, [by_id[r] for r in c.rows])
        if isinstance(got, str):
            out.append(Verdict(c, NOT_RUN, detail=got))
            continue
        value, lo, hi, detail, clear = got
        ok = bool(DIRECTIONS[c.direction](lo, hi, c.threshold))
        if clear is not None:  # success_difference: a clear difference needs every test to agree
            ok = (ok or not clear[0]) if c.direction == "includes" else (ok and clear[0] and clear[1] == c.direction[0])
        out.append(Verdict(c, HOLDS if ok else FAILS, value, lo, hi, detail, clear[2] if clear else None))
    return out


def _num(x: float | None, steps: bool) -> str:
    if x is None:
        return "–"
    if math.isinf(x):
        return "never"
    return f"{int(x):,}" if steps else f"{x:.3f}"


def figure_text(v: Verdict) -> str:
    """'0.280 [0.121, 0.494] (7/25)': the statistic, its interval and the counts."""
    if v.status == NOT_RUN:
        return f"not run: {v.detail}"
    steps = v.claim.statistic == "steps_to"
    return f"{_num(v.value, steps)} [{_num(v.lo, steps)}, {_num(v.hi, steps)}] ({v.detail})"


def test_text(c: Claim) -> str:
    """'success: interval > 0.75': what the interval must do."""
    t = f"{c.threshold:,.0f}" if c.statistic == "steps_to" else f"{c.threshold:g}"
    level = f" (level {c.level:g})" if c.level is not None else ""
    if c.statistic == "success_difference":
        first = " at the first round" if c.at == "start" else ""
        return (f"success_difference{first}: no clear difference from 0 (an interval includes 0, or Fisher p ≥ 0.05)"
                if c.direction == "includes" else
                f"success_difference{first}: clearly {c.direction} 0 (both intervals, and Fisher p < 0.05)")
    where = "interval includes" if c.direction == "includes" else f"interval {c.direction}"
    return f"{c.statistic}{level}{' at the first round' if c.at == 'start' else ''}: {where} {t}"


def anchor(claim_id: str) -> str:
    return f"claim-{claim_id}"


CLAIMS_TITLE = "Claims"
CLAIMS_TEXT = (
    "Every sentence of the notes about these numbers is a claim in `claims.toml`, evaluated here on "
    "the records at each build: the rows it compares (by row id), a statistic with its 95% interval, "
    "and the side of a threshold the whole interval must fall on. **holds**: it does; **does not "
    "hold**: it does not (the claim is wrong for these runs, or the runs cannot tell); **not run**: a "
    f"row is not on the board or has fewer than {MIN_SEEDS} seeds. A claim of **no clear difference** "
    "(`includes`) holds where the runs cannot tell two rows apart: absence of evidence, not evidence "
    "of no effect. `leaderboard build --strict` fails unless every claim holds. The notes "
    "cite a claim as [claim:ID], with its verdict. Statistics: "
    + "; ".join(f"`{k}`: {what}" for k, (_, what) in STATISTICS.items()) + ".")
CLAIM_HEADERS = ["claim", "verdict", "statistic and test", "figure [95% CI]", "sentence", "rows"]


def claim_cells(verdicts: Sequence[Verdict]) -> list[list[str]]:
    return [[v.claim.id, v.status, test_text(v.claim), figure_text(v), v.claim.sentence,
             " vs ".join(v.claim.rows)] for v in verdicts]


def claims_md(verdicts: Sequence[Verdict]) -> list[str]:
    """The Claims section of LEADERBOARD.md (empty when there are no claims)."""
    if not verdicts:
        return []
    cells = [[f'<a id="{anchor(line[0])}"></a>{line[0]}', *line[1:]] for line in claim_cells(verdicts)]
    return [f"## {CLAIMS_TITLE}", "", CLAIMS_TEXT, "", f"{len(verdicts)} claims: {count_text(verdicts)}.", "",
            markdown_table(CLAIM_HEADERS, cells), ""]


def count_text(verdicts: Sequence[Verdict]) -> str:
    """'holds: 14, does not hold: 1, not run: 0'."""
    return ", ".join(f"{s}: {sum(v.status == s for v in verdicts)}" for s in (HOLDS, FAILS, NOT_RUN))


def _prose(text: str) -> str:
    """`text` with its code spans and link targets blanked (they hold names, not claims or figures)."""
    return _CODE.sub(lambda m: " " * len(m.group(0)), text)


def citations(notes: str) -> list[str]:
    """The claim ids NOTES.md cites, outside code spans."""
    return CITATION.findall(_prose(notes))


def cite(notes: str, verdicts: Sequence[Verdict]) -> str:
    """NOTES.md with each [claim:ID] outside code spans written as a link to the claim with its
    verdict (an unknown id says so: `strict_problems` fails the build on it)."""
    by_id = {v.claim.id: v for v in verdicts}

    def one(m: re.Match[str]) -> str:
        v = by_id.get(m.group(1))
        if v is None:
            return f"[claim {m.group(1)}: no such claim]"
        mark = {HOLDS: "✓", FAILS: "✗ does not hold", NOT_RUN: "not run"}[v.status]
        return f"[{v.claim.id} {mark}](#{anchor(v.claim.id)})"

    prose, out, last = _prose(notes), [], 0
    for m in CITATION.finditer(prose):
        out += [notes[last:m.start()], one(m)]
        last = m.end()
    return "".join(out) + notes[last:]


#: The numbers of NOTES.md that must appear elsewhere on the board under --strict: decimals,
#: fractions and percentages (counts, budgets and names are integers and are not checked).
_NUMBER = re.compile(r"(?<![\w.])([-−]?\d+(?:\.\d+)?\s?%|[-−]?\d+\.\d+(?:e[-+]?\d+)?|\d+/\d+)(?![\w.]*\d)")
_CODE = re.compile(r"`[^`]*`|\]\([^)]*\)")


def notes_numbers(notes: str) -> list[str]:
    """The decimals, fractions and percentages of NOTES.md outside code spans and link targets."""
    return [m.group(1) for m in _NUMBER.finditer(_prose(notes))]


def _normal(token: str) -> str:
    return token.replace(" ", "").replace("−", "-")


def _board_numbers(text: str) -> set[str]:
    out = set()
    for m in _NUMBER.finditer(text):
        token = _normal(m.group(1))
        out.add(token)
        if re.fullmatch(r"-?\d+\.\d+", token):  # the board's 0.280 is the notes' 0.28
            out.add(token.rstrip("0").rstrip("."))
    return out


def strict_problems(verdicts: Sequence[Verdict], notes: str, board_text: str) -> list[str]:
    """What `--strict` refuses: a claim that does not hold or was not run, a citation of no
    claim, a number in the notes that the board (its text without the notes and without the
    claims' own sentences) does not print. A figure is looked up as text anywhere on the board,
    not in the row the notes mean: cite a claim for a figure that matters."""
    problems = [f"claim {v.claim.id} {v.status}: {figure_text(v)}" for v in verdicts if v.status != HOLDS]
    known = {v.claim.id for v in verdicts}
    problems += [f"NOTES.md cites [claim:{i}], which claims.toml does not have" for i in citations(notes)
                 if i not in known]
    for v in verdicts:  # a figure written into a claim's sentence is not thereby on the board
        board_text = board_text.replace(v.claim.sentence, "")
    printed = _board_numbers(board_text)
    missing = sorted({n for n in notes_numbers(notes) if _normal(n) not in printed}, key=notes.find)
    problems += [f"NOTES.md says {n}, which no table or claim prints" for n in missing]
    return problems
