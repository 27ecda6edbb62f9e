import json
import re
import time

import pytest

from priorbench.bench import records
from tests.conftest import ROOT


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def _fails(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.count("\n") == 0, line
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_list(cli):
    assert "priorbench/FrozenLake-4x4-v0" in _ok(cli("list", "envs"))
    out = _ok(cli("list", "agents"))
    assert "random" in out and "expert" in out and "tabular-q" in out
    cli("list", "priors").check_returncode()


def test_list_is_fast_and_imports_nothing_heavy(cli):
    start = time.perf_counter()
    _ok(cli("list", "envs"))
    assert time.perf_counter() - start < 5  # generous for a loaded CI box; measured ~0.2 s
    import subprocess
    import sys

    code = ("import sys, priorbench.bench.cli as cli; cli.main(['list','agents']); cli.main(['list','envs']);"
            "heavy={'torch','transformers','textworld','alfworld','ray','minigrid','pygame'} & set(sys.modules);"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)


def test_run_show_and_leaderboard(cli, tmp_path):
    out = _ok(cli("run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "random",
                  "--agent", "tabular-q", "--seeds", "0", "1", "--steps", "400",
                  "--out", str(tmp_path / "runs"), "--no-progress"))
    assert "| priorbench/FrozenLake-4x4-v0 | tabular-q |     2 |" in out
    show = _ok(cli("show", str(tmp_path / "runs")))
    assert show.count("complete") == 4
    _ok(cli("leaderboard", "build", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "lb")))
    csv = (tmp_path / "lb" / "leaderboard.csv").read_text().splitlines()
    assert csv[0] == "env,agent,seeds,success,success_se,return,env_steps,llm_calls"
    assert len(csv) == 3
    assert "| priorbench/FrozenLake-4x4-v0 | train = test | random" in (tmp_path / "lb" / "LEADERBOARD.md").read_text()


def test_run_spec_file(cli, tmp_path):
    spec = tmp_path / "exp.toml"
    spec.write_text('envs = ["priorbench/FrozenLake-4x4-v0"]\nagents = ["expert"]\nseeds = [3]\n'
                    "[budget]\nsteps = 100\n")
    _ok(cli("run", str(spec), "--out", str(tmp_path / "r"), "--no-progress"))
    assert (records.run_dir(tmp_path / "r", "priorbench/FrozenLake-4x4-v0", "expert", 3) / "manifest.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo(cli, tmp_path):
    from priorbench.bench.demo import DEMO_ADAPTER, DEMO_AGENTS

    out = _ok(cli("demo", "--out", str(tmp_path / "demo"), "--no-progress", timeout=1700))
    assert "demo finished in" in out
    for agent in DEMO_AGENTS:
        assert f"| priorbench/FrozenLake-4x4-v0 | {agent} " in out
    assert re.search(r"\| priorbench/FrozenLake-4x4-v0 \| expert +\| +3 \| +1\.000 \|", out)
    # The distilled prior's rows, labelled with its adapter, beside the uniform-prior control;
    # the adapter's dqn-prior beats plain dqn (the effect the demo is there to show).
    adapter = json.loads((ROOT / DEMO_ADAPTER / "manifest.json").read_text())["adapter_sha256"][:8]
    success = {label: float(score) for label, score in
               re.findall(r"\| priorbench/FrozenLake-4x4-v0 \| (.+?) +\| +3 \| +([\d.]+) \|", out)}
    distilled = f"dqn-prior [smollm2-135m + adapter {adapter}]"
    assert {distilled, f"llm [smollm2-135m + adapter {adapter}]",
            "dqn-prior [SYNTHETIC oracle (q=uniform)]"} <= set(success), out
    assert success[distilled] > success["dqn"], out


def test_suites_listed_and_run(cli, tmp_path):
    out = _ok(cli("list", "suites"))
    assert out.startswith("core-v0") and "priorbench/Overcooked-TomatoSalad-v0" in out
    _fails(cli("run", "--suite", "core-v9", "--agent", "random", "--out", str(tmp_path)),
           "unknown suite 'core-v9'", "Did you mean: core-v0")


def test_module_and_script_entry(cli):
    assert "usage: priorbench" in _ok(cli("--help"))


def test_unknown_env_and_agent(cli, tmp_path):
    _fails(cli("run", "--env", "priorbench/FrozenLake-4x4-v9", "--agent", "random", "--out", str(tmp_path)),
           "unknown env", "Did you mean: priorbench/FrozenLake-4x4-v0")
    _fails(cli("run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "expret", "--out", str(tmp_path)),
           "unknown agent 'expret'", "Did you mean: expert")


def test_bad_spec_key_and_type(cli, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('envs = ["priorbench/FrozenLake-4x4-v0"]\nagents = ["random"]\nsteeds = [1]\n')
    _fails(cli("run", str(spec)), str(spec), "unknown setting 'steeds'", "Did you mean: seeds")
    spec.write_text('envs = ["priorbench/FrozenLake-4x4-v0"]\nagents = ["random"]\n[budget]\nsteps = "many"\n')
    _fails(cli("run", str(spec)), str(spec), "budget.steps must be int")
    spec.write_text("envs = [")
    _fails(cli("run", str(spec)), "not valid TOML")
    _fails(cli("run", str(tmp_path / "missing.toml")), "does not exist")


def test_set_unknown_key(cli, tmp_path):
    base = ["run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "tabular-q", "--out", str(tmp_path)]
    _fails(cli(*base, "--set", "budgte.steps=5"), "--set budgte.steps", "no such spec key")
    _fails(cli(*base, "--set", "budget.stepz=5"), "budget keys are")
    _fails(cli(*base, "--set", "agent.tabular-q.learning_rate=0.1"), "unknown setting 'learning_rate'")
    _fails(cli(*base, "--set", "env.no_such_kwarg=1", "--steps", "10"), "has no setting 'no_such_kwarg'", "Its settings: ")


def test_nonpositive_budget(cli, tmp_path):
    base = ["run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "random", "--out", str(tmp_path)]
    _fails(cli(*base, "--steps", "0"), "budget.steps must be a positive integer")
    _fails(cli(*base, "--steps", "-5"), "budget.steps must be a positive integer")
    _fails(cli(*base, "--set", "budget.eval_every=0"), "budget.eval_every must be a positive integer")


def test_out_holding_another_spec(cli, tmp_path):
    base = ["run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "tabular-q",
            "--out", str(tmp_path), "--no-progress"]
    _ok(cli(*base, "--steps", "100"))
    _fails(cli(*base, "--steps", "200"), "different spec", "--force")
    _ok(cli(*base, "--steps", "200", "--force"))


def test_corrupt_episodes_reported(cli, tmp_path):
    base = ["run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "tabular-q",
            "--out", str(tmp_path), "--steps", "300", "--no-progress"]
    _ok(cli(*base))
    run = records.run_dir(tmp_path, "priorbench/FrozenLake-4x4-v0", "tabular-q", 0)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "episodes.jsonl").write_text('{"phase": "eval"}\n{broken\n{"phase": "eval"}\n')
    _fails(cli(*base), "line 2 is corrupt")
    assert (run / "episodes.jsonl").read_text().count("\n") == 3  # nothing deleted


def test_show_bad_path(cli, tmp_path):
    _fails(cli("show", str(tmp_path / "nope")), "does not exist")
    _fails(cli("show", str(tmp_path)), "holds no run records")
    _fails(cli("leaderboard", "build", "--runs", str(tmp_path / "nope")), "does not exist")


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_bad_workers(cli, tmp_path, workers):
    _fails(cli("run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "random",
               "--workers", workers, "--out", str(tmp_path)), "--workers must be positive")


def test_sweep_runs_one_folder_per_grid_point(cli, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('envs = ["priorbench/FrozenLake-4x4-v0"]\nagents = ["tabular-q"]\n[budget]\nsteps = 100\n')
    _ok(cli("sweep", str(spec), "--grid", "agent.*.epsilon=0.1,0.3", "--out", str(tmp_path / "sw"),
            "--no-progress"))
    for eps in ("0.1", "0.3"):
        run = records.run_dir(tmp_path / "sw" / f"agent.*.epsilon={eps}", "priorbench/FrozenLake-4x4-v0",
                              "tabular-q", 0)
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["agent"]["params"]["epsilon"] == float(eps)
    _fails(cli("sweep", str(spec), "--grid", "agent.*.epsilon", "--out", str(tmp_path)), "--grid")


@pytest.mark.parametrize("value", ["0", "-1"])
def test_env_setting_refused_by_the_env_is_one_line(cli, tmp_path, value):
    _fails(cli("run", "--env", "priorbench/FrozenLake-4x4-v0", "--agent", "random", "--seeds", "0",
               "--set", f"env.max_steps={value}", "--out", str(tmp_path)),
           f"rejected its settings ['max_steps']: max_steps must be positive, got {value}")


def test_serve_prior_refuses_a_remote_backend(cli):
    _fails(cli("serve-prior", "--prior", "openai"), "serve-prior serves a local model")


def test_every_command_and_flag_is_in_the_readme():
    """README.md's command table names every command of `priorbench --help` and, in that
    command's own rows (or the sentence on --no-progress), every one of its flags."""
    import argparse

    from priorbench.bench.cli_parser import build_parser

    readme = (ROOT / "README.md").read_text()
    common = next(p for p in readme.split("\n\n") if "takes `--no-progress`" in p)

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, [*path, name])
        if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            yield " ".join(path), [o for a in parser._actions for o in a.option_strings
                                   if o.startswith("--") and o != "--help"]

    missing = []
    for command, flags in walk(build_parser(), []):
        rows = [line for line in readme.splitlines() if line.startswith(f"| `priorbench {command}")]
        if not rows:
            missing.append(f"priorbench {command}")
        missing += [f"priorbench {command} {flag}" for flag in flags
                    if not any(flag in row for row in rows) and not (flag == "--no-progress" and command in common)]
    assert missing == [], missing
