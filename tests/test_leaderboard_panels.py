"""The leaderboard's panels for a reader: the cost table (checked against the run files it sums),
each row's reproduce command (printed, then run as printed), and the prior-quality panel (its
input file, made by `priorbench leaderboard prior-quality`, and how the build shows it)."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import shlex
import shutil
from pathlib import Path

import pytest

from priorbench.bench import leaderboard, records, schema
from priorbench.bench.cli_parser import build_parser
from priorbench.bench.leaderboard import quality
from priorbench.bench.leaderboard.stats import row_id
from priorbench.bench.runner import RunJob, execute
from priorbench.bench.spec import Budget
from priorbench.core.config import canonical_json
from priorbench.core.errors import UserError

LAKE = "priorbench/FrozenLake-4x4-v0"
TINY = {"prior": "tiny-gpt2", "cache": False, "learning_starts": 16, "batch_size": 8}
ORACLE = {"prior": "oracle", "prior_params": {"q": 0.9}, "learning_starts": 16, "batch_size": 8}


SMALL = Budget(steps=100, eval_every=50)


def make_prior_runs(out: Path, *, with_random: bool = True, budget: Budget = SMALL) -> Path:
    """Real small runs with priors: random, dqn-prior with the tiny GPT-2 prior (no cache, so
    its LLM calls are really made) and with the SYNTHETIC oracle (in its own folder)."""
    for seed in (0, 1):
        if with_random:
            execute(RunJob(LAKE, "random", seed, budget, out), progress=False)
        execute(RunJob(LAKE, "dqn-prior", seed, budget, out, agent_params=TINY), progress=False)
        execute(RunJob(LAKE, "dqn-prior", seed, budget, out / "oracle", agent_params=ORACLE), progress=False)
    return out


@pytest.fixture(scope="module")
def prior_runs(tmp_path_factory) -> Path:
    return make_prior_runs(tmp_path_factory.mktemp("prior-runs"))


def _expected_costs(runs: Path) -> dict[str, dict[str, float]]:
    """Per row label, straight from the files: manifest wall time and final env steps, the
    episodes' timing counters, and what setup spent (manifest timing.setup)."""
    costs: dict[str, dict[str, float]] = {}
    for path in records.find_runs(runs):
        manifest = json.loads((path / "manifest.json").read_text())
        lines = [json.loads(x) for x in (path / "episodes.jsonl").read_text().splitlines()]
        cost = costs.setdefault(schema.agent_label(manifest),
                                {"runs": 0, "env_steps": 0, "llm_calls": 0, "llm_tokens": 0, "wall_s": 0.0})
        cost["runs"] += 1
        cost["env_steps"] += manifest["final_env_steps"]
        setup = manifest["timing"]["setup"]  # before the first step (loading the model, a dataset)
        cost.setdefault("walls", []).append(manifest["timing"]["wall_s"] + setup["wall_s"])
        cost["wall_s"] = math.fsum(cost["walls"])
        for key in ("llm_calls", "llm_tokens"):
            cost[key] += sum(line["timing"].get("counters", {}).get(key, 0) for line in lines)
            cost[key] += setup["counters"].get(key, 0)
    return costs


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table(section: str) -> list[list[str]]:
    lines = [x for x in section.splitlines() if x.startswith("|")]
    return [[c.strip() for c in x.strip("|").split("|")] for x in lines[2:]]


def test_cost_table_sums_the_records_exactly(prior_runs, tmp_path):
    out = tmp_path / "lb"
    rows, _ = leaderboard.build(prior_runs, out)
    expected = _expected_costs(prior_runs)
    tiny = next(label for label in expected if "tiny-gpt2" in label)
    assert expected[tiny]["llm_calls"] > 0 and expected[tiny]["llm_tokens"] > 0  # a real check
    md = (out / "LEADERBOARD.md").read_text()
    cost = _section(md, "Cost")
    assert "a warm prior cache lowers them" in cost and "on the machine that made them" in cost
    table = _table(cost)
    assert [r[2] for r in table[:-1]] == sorted(expected) and table[-1][:2] == ["all", "(the whole build)"]
    for i, (index, env, agent, runs, steps, calls, tokens, wall) in enumerate(table[:-1]):
        e = expected[agent]
        assert (index, env) == (str(i), LAKE)
        assert (int(runs), int(steps), int(calls), int(tokens)) == (
            e["runs"], e["env_steps"], e["llm_calls"], e["llm_tokens"])
        assert wall == format(e["wall_s"], ".2f")
    total = {k: sum(e[k] for e in expected.values()) for k in ("runs", "env_steps", "llm_calls", "llm_tokens")}
    assert [int(x) for x in table[-1][3:7]] == list(total.values())
    assert table[-1][7] == format(math.fsum(w for e in expected.values() for w in e["walls"]), ".2f")
    assert (f"The whole build: {total['runs']} runs, {total['env_steps']:,} env steps, "
            f"{total['llm_calls']:,} LLM calls, {total['llm_tokens']:,} LLM tokens") in cost

    full = list(csv.DictReader(io.StringIO((out / "leaderboard_full.csv").read_text())))
    for row in full:
        e = expected[row["agent"]]
        assert (int(row["total_env_steps"]), int(row["total_llm_calls"]), int(row["total_llm_tokens"])) == (
            e["env_steps"], e["llm_calls"], e["llm_tokens"])
        assert row["total_wall_s"] == f"{e['wall_s']:.6f}"
    site = (out / "site" / "index.html").read_text()
    body = site.split('id="cost-table"', 1)[1].split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr") == len(expected)
    assert f'data-sort="{float(expected[tiny]["llm_tokens"])!r}"' in body


def _commands(md: str) -> dict[int, str]:
    return {int(i): c for i, c in re.findall(r"^- row (\d+), `[^`]+`: `(.+)`$", md, re.M)}


def test_reproduce_commands_parse_and_run_as_printed(prior_runs, tmp_path, cli):
    """Each row's command, from the repository root of a checkout whose runs are in
    leaderboard/runs, parses; the oracle row's (quoted: its label has spaces and brackets)
    re-runs its seeds inside the stored CI."""
    root = tmp_path / "checkout"
    shutil.copytree(prior_runs, root / "leaderboard" / "runs")
    leaderboard.build(root / "leaderboard" / "runs", root / "leaderboard")
    md = (root / "leaderboard" / "LEADERBOARD.md").read_text()
    commands = _commands(md)
    rows, _ = leaderboard.build(root / "leaderboard" / "runs", tmp_path / "again")
    assert len(commands) == 3
    site = (root / "leaderboard" / "site" / "index.html").read_text()
    labels = sorted({r["agent"] for r in rows})
    for index, command in commands.items():
        words = shlex.split(command)
        args = build_parser().parse_args(words[1:])
        assert words[:2] == ["priorbench", "reproduce"] and args.seeds == [0, 1]
        assert args.row == row_id(LAKE, labels[index]) and args.runs == Path("leaderboard/runs")
        assert f'<code class="command">{html.escape(command)}</code>' in site
    oracle = next(c for c in commands.values() if "SYNTHETIC" in c)
    assert oracle.startswith("priorbench reproduce 'FrozenLake-4x4-v0:dqn-prior[SYNTHETIC-oracle-q=0.9]'")
    result = cli(*shlex.split(oracle)[1:], cwd=root)
    assert result.returncode == 0, result.stderr
    assert "; 2 of 2 seeds re-run)" in result.stdout and "inside the stored CI" in result.stdout


def test_reproduce_commands_name_the_runs_folder_of_a_row_from_several(prior_runs, tmp_path):
    from tests.golden.regenerate import RECORDS

    other = tmp_path / "other"
    shutil.copytree(prior_runs / "oracle", other)
    leaderboard.build([RECORDS, other], tmp_path / "lb")
    commands = _commands((tmp_path / "lb" / "LEADERBOARD.md").read_text())
    runs = [build_parser().parse_args(shlex.split(c)[1:]).runs for c in commands.values()]
    assert runs == [RECORDS] * 3 + [other] + [RECORDS] * 3 and "SYNTHETIC" in commands[3]


def _entry(prior: str, synthetic: bool, cov5: float) -> dict:
    return {"env": LAKE, "env_kwargs": {}, "prior": prior, "synthetic": synthetic, "prior_name": "x",
            "prior_params": {}, "normalization": "sum", "agents": ["dqn-prior"], "states": 7, "seed": 0,
            "template": "frozenlake-v1", "p_expert": 0.25, "cov@1": 0.25, "cov@3": 0.578125,
            "cov@5": cov5, "uniform_cov@5": 0.6723200000001, "entropy": 1.2, "kl_from_uniform": 0.186294}


def write_prior_quality(out: Path) -> Path:
    """A prior-quality input file (the format the command writes) for the rows of make_prior_runs."""
    out.mkdir(parents=True, exist_ok=True)
    text = quality.quality_text([_entry("SYNTHETIC oracle (q=0.9)", True, 0.99999),
                                 _entry("tiny-gpt2-v1", False, 0.7626953125)], split="test", states=7, seed=0)
    return quality.write_quality(out, text)


def test_prior_quality_panel_from_its_input_file(prior_runs, tmp_path):
    out = tmp_path / "lb"
    leaderboard.build(prior_runs, out)
    md = (out / "LEADERBOARD.md").read_text()
    assert ("No prior-quality file yet: make it with `priorbench leaderboard prior-quality --spec SPEC "
            "--out DIR") in _section(md, "Prior quality")
    assert 'class="missing"' in (out / "site" / "index.html").read_text()
    assert not (out / "plots" / "prior-quality.png").exists()

    path = write_prior_quality(out)
    text = path.read_text()
    assert text == canonical_json(json.loads(text)) + "\n" and '"uniform_cov@5":0.67232}' in text
    leaderboard.build(prior_runs, out)
    first = {p: (out / p).read_bytes() for p in ("LEADERBOARD.md", "site/index.html", "plots/prior-quality.png")}
    leaderboard.build(prior_runs, out)
    assert first == {p: (out / p).read_bytes() for p in first}  # still byte-identical
    section = _section(first["LEADERBOARD.md"].decode(), "Prior quality")
    real, synthetic = section.split("listed apart")
    assert _table(real) == [[LAKE, "tiny-gpt2-v1", "dqn-prior", "7", "0.250", "0.250", "0.578", "0.763",
                             "0.672", "1.200", "0.186"]]
    assert [r[1] for r in _table(synthetic)] == ["SYNTHETIC oracle (q=0.9)"]
    assert "![prior quality: cov@5" in section
    labels = {schema.prior_part(r.agent) for r in leaderboard.make_rows(leaderboard.collect(prior_runs)[0])}
    assert {"tiny-gpt2-v1", "SYNTHETIC oracle (q=0.9)"} <= labels  # the rows' own prior labels
    site = first["site/index.html"].decode()
    assert 'id="prior-quality-table"' in site and 'data-prior="tiny-gpt2-v1"' in site
    # curves, the SYNTHETIC row's curves apart, final IQMs, improvement, prior quality
    assert site.count("data:image/png;base64,") == 5

    path.write_text('{"format": 1, "entries": [{"env": "x"}]}')
    with pytest.raises(UserError, match="is not a prior-quality file.*priorbench leaderboard prior-quality"):
        leaderboard.build(prior_runs, out)
