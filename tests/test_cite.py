"""`priorbench cite`: a complete entry for the suite, every table label resolved to its agent,
and the models, calibration, adapters, encoder and datasets the committed runs used cited."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from priorbench import agents, envs
from priorbench.bench import cite
from priorbench.bench.leaderboard.load import collect

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "leaderboard" / "runs"
FL = "priorbench/FrozenLake-4x4-v0"


def fields(entry: str) -> dict[str, str]:
    """An entry's `name = {value}` fields (the value with its outer braces off)."""
    return {m[1].lower(): m[2] for m in re.finditer(r"^\s*(\w+)\s*=\s*\{(.*)\},?\s*$", entry, re.M)}


@pytest.fixture(scope="module")
def rows():
    """The committed Frozen Lake 4×4 rows: label → the runs' manifests."""
    groups, refused = collect(RUNS, envs={FL})
    assert groups and not refused, refused
    return {label: [run.manifest for run in runs] for (_, label), runs in groups.items()}


def cited(rows, label: str) -> list[str]:
    keys, unknown = cite.references([label], [], rows[label])
    assert unknown == [], unknown
    return keys


def test_every_entry_parses_and_every_key_cited_exists():
    for key, entry in cite.BIBTEX.items():
        depth = 0
        for char in entry:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, key
        assert depth == 0, key
        assert re.match(r"@\w+\{" + re.escape(key) + ",\n", entry), key
        got = fields(entry)
        assert {"title", "author", "year"} <= set(got), (key, sorted(got))
        assert re.fullmatch(r"\d{4}", got["year"]), (key, got["year"])
    keys = {k for _, _, ks in cite.RUN_REFERENCES for k in ks} | set(cite.SUITE_REFERENCES)
    keys |= {k for name in agents.AGENTS.names() for k in agents.AGENTS.entry(name).references}
    keys |= {k for info in envs.INFO.values() for k in info.references}
    assert keys <= set(cite.BIBTEX), sorted(keys - set(cite.BIBTEX))


def test_the_software_entry_is_complete():
    got = fields(cite.BIBTEX["priorbench"])
    assert got["author"] == "{priorbench contributors}" and got["year"] == "2026"
    assert got["url"].startswith("https://github.com/") and got["title"].startswith("priorbench")
    version = metadata.version("priorbench")
    everything = cite.cite(None)
    assert f"  version = {{{version}}},\n" in everything
    assert everything.count("@") == len(cite.BIBTEX)  # no runs: every entry


def test_budget_and_prior_labels_resolve_to_their_agent():
    keys, unknown = cite.references(
        ["cql @500 steps", "cql-prior [smollm2-135m + adapter 0162b203]",
         "twosome [smollm2-135m] @500 steps", "dqn-prior [SYNTHETIC oracle (q=uniform)] @500 steps"], [])
    assert unknown == []
    assert {"kumar2020conservative", "yan2025efficient", "tan2024true", "he2016deep"} <= set(keys)
    out = cite.cite(RUNS)  # the whole committed table, reduced budgets and priors included
    assert "no reference known" not in out, [line for line in out.splitlines() if line.startswith("%")]
    header = out.splitlines()[0]
    assert header.endswith("cql, cql-prior, dqn, dqn-prior, expert, llm, llm-sample, ppo, random, "
                           "tabular-q, twosome, vi"), header


def test_the_prior_model_and_its_calibration_are_cited(rows):
    calibrated = cited(rows, "llm [smollm2-135m, calibration=contextual]")
    assert "allal2025smollm2" in calibrated and "zhao2021calibrate" in calibrated
    distilled = cited(rows, "dqn-prior [smollm2-135m + adapter 0162b203]")
    assert {"allal2025smollm2", "yao2020keep", "hu2022lora"} <= set(distilled)
    assert "zhao2021calibrate" not in distilled  # a distilled prior keeps the raw scores
    control = cited(rows, "dqn-prior [SYNTHETIC oracle (q=uniform)]")
    assert not {"allal2025smollm2", "zhao2021calibrate", "yao2020keep"} & set(control)
    assert "hu2022lora" in cited(rows, "twosome [smollm2-135m] @500 steps")
    assert "gemmateam2025gemma3" in cite.setting_references([("model", "google/gemma-3-270m")])


def test_the_encoder_and_the_offline_dataset_are_cited(rows):
    offline = cited(rows, "cql")
    assert "younis2024minari" in offline and "kumar2020conservative" in offline
    online = cited(rows, "dqn")
    assert "younis2024minari" not in online
    for keys in (offline, online, cited(rows, "ppo")):
        assert {"reimers2019sentence", "wang2020minilm"} <= set(keys)
    assert "wang2020minilm" not in cited(rows, "tabular-q")


def test_textworldexpress_envs_cite_the_library_and_their_games():
    # no committed run plays TextWorldExpress (it needs Java 17): its registrations, then
    keys, _ = cite.references(["random"], ["priorbench/TWX-TWC-v0", "priorbench/TWX-Coin-v0"])
    assert {"jansen2023textworldexpress", "murugesan2021text", "cote2018textworld"} <= set(keys)
    assert envs.info("priorbench/TWX-CookingWorld-v0").references == (
        "jansen2023textworldexpress", "cote2018textworld")


def test_a_plugin_agent_is_named_once(cli, tmp_path):
    runs = tmp_path / "runs"
    for steps, seed in (("200", "0"), ("100", "1")):  # two budgets: two rows of one agent
        done = cli("run", "--env", FL, "--agent", "tests.plugin_agents:Forgetful", "--steps", steps,
                   "--seeds", seed, "--out", str(runs), "--no-progress")
        assert done.returncode == 0, done.stderr
    out = cli("cite", "--runs", str(runs))
    assert out.returncode == 0, out.stderr
    notes = [line for line in out.stdout.splitlines() if "no reference known" in line]
    assert notes == ["% no reference known for plug-in agent 'tests.plugin_agents:Forgetful' "
                     "(add `references` to its registration)"]
    assert "@article{towers2024gymnasium," in out.stdout
