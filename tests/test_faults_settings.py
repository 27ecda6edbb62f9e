"""Settings that are absurd or non-finite, hostile spec files, and the machine's cache and home:
each case ends in exit code 2 with one line naming the setting (or path) and the fix, before a
run starts, without a traceback (issue 29)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from priorbench.bench import leaderboard_spec
from priorbench.core.errors import UserError
from priorbench.core.registry import Registry
from tests.test_bad_input import DQN, FL, RUN, _files, _refused

PRIOR = ["run", "--env", FL, "--agent", "dqn-prior", "--steps", "20", "--no-progress"]
LLM = ["run", "--env", FL, "--agent", "llm", "--steps", "10", "--eval-every", "10", "--no-progress",
       "--set", "agent.llm.prior=oracle"]


def _refused_quietly(capsys, cwd, argv, match):
    """`_refused`, and nothing but what the test put there is left in the working folder."""
    before = _files(cwd)
    line = _refused(capsys, argv, match)
    assert _files(cwd) == before, _files(cwd) - before
    return line


NON_FINITE = {
    "dqn lr inf (ran to td_loss NaN)": (DQN + ["--set", "agent.dqn.lr=inf"], "agent.dqn.lr must be a finite number, got inf"),
    "dqn lr -inf": (DQN + ["--set", "agent.dqn.lr=-inf"], "agent.dqn.lr must be a finite number, got -inf"),
    "dqn lr nan": (DQN + ["--set", "agent.dqn.lr=nan"], "agent.dqn.lr must be a finite number, got nan"),
    "tabular initial_q nan (a traceback)": (["run", "--env", FL, "--agent", "tabular-q", "--set",
                                             "agent.tabular-q.initial_q=nan"], "initial_q must be a finite number"),
    "inverse temperature inf (a traceback)": (PRIOR + ["--set", "agent.dqn-prior.inverse_temperature=inf"],
                                              "inverse_temperature must be a finite number"),
    "a prior's setting": (PRIOR + ["--set", "agent.dqn-prior.prior_params.temperature=nan"],
                          "agent.dqn-prior.prior_params.temperature must be a finite number"),
    "an env setting": (RUN + ["--set", "env.max_steps=inf"], "env.max_steps must be a finite number"),
    "a budget": (RUN + ["--set", "budget.eval_episodes=inf"], "budget.eval_episodes must be a finite number"),
    "inside a list": (RUN + ["--set", "env.x=[1.0, nan]"], "env.x must be a finite number"),
}


@pytest.mark.parametrize("case", list(NON_FINITE))
def test_a_non_finite_setting_is_refused_before_the_run(case, capsys, cwd):
    argv, match = NON_FINITE[case]
    _refused_quietly(capsys, cwd, [*argv, "--out", "o"], match)


def test_a_non_finite_setting_in_a_spec_file_is_refused(capsys, cwd):
    (cwd / "s.toml").write_text(f'envs = ["{FL}"]\nagents = ["dqn"]\n[agent.dqn]\nlr = inf\n')
    _refused_quietly(capsys, cwd, ["run", "s.toml", "--out", "o"], "spec file s.toml: agent.dqn.lr must be a finite number")


def test_every_agent_refuses_a_non_finite_float_setting():
    """The check sits where settings are built, so it holds for every agent's every float."""
    import dataclasses
    import typing

    from priorbench import agents
    from priorbench.core.config import build_config

    checked = 0
    for name in agents.AGENTS.names():
        cls = agents.AGENTS.load(name)
        hints = typing.get_type_hints(cls.Config, include_extras=True)
        for f in dataclasses.fields(cls.Config):
            base = typing.get_args(hints[f.name])[0] if typing.get_origin(hints[f.name]) is typing.Annotated else hints[f.name]
            if base is float:
                with pytest.raises(UserError, match=f"{f.name} must be a finite number, got nan"):
                    build_config(cls.Config, {f.name: float("nan")}, where=f"agent {name!r}")
                checked += 1
    assert checked > 20


SIZES = {
    "dqn-prior k = 10⁹ (allocated 7.45 GiB)": (PRIOR + ["--set", "agent.dqn-prior.k=1000000000"],
                                                "agent 'dqn-prior': k must be in [1, 1024], got 1000000000"),
    "pool size": (PRIOR + ["--set", "agent.dqn-prior.pool_size=100000"], "pool_size must be in [1, 1024]"),
    "dqn hidden": (DQN + ["--set", "agent.dqn.hidden=1000000000"], "hidden must be in [1, 16384]"),
    "dqn replay": (DQN + ["--set", "agent.dqn.replay_size=10000000000"], "replay_size must be in [1, 10000000]"),
    "dqn batch": (DQN + ["--set", "agent.dqn.batch_size=10000000"], "batch_size must be in [1, 65536]"),
    "ppo envs": (["run", "--env", FL, "--agent", "ppo", "--set", "agent.ppo.num_envs=100000"],
                 "num_envs must be in [1, 256]"),
    "vi rank": (["run", "--env", FL, "--agent", "vi", "--set", "agent.vi.lora_r=100000"], "lora_r must be in [1, 1024]"),
    "prior tokens": (PRIOR + ["--set", "agent.dqn-prior.prior_params.max_new_tokens=1000000"],
                     "max_new_tokens must be in [1, 4096]"),
}


@pytest.mark.parametrize("case", list(SIZES))
def test_a_size_setting_has_an_upper_bound(case, capsys, cwd):
    argv, match = SIZES[case]
    if "max_new_tokens" in match:  # a prior's settings are built with the prior, in the run
        from priorbench.agents.priors import prior_config

        with pytest.raises(UserError, match=match.replace("[", r"\[").replace("]", r"\]")):
            prior_config("smollm2-135m", {"max_new_tokens": 1000000})
        return
    _refused_quietly(capsys, cwd, [*argv, "--out", "o"], match)


def _spec(cwd: Path, text: str) -> list[str]:
    (cwd / "s.toml").write_text(text)
    return ["run", "s.toml", "--out", "o"]


HEAD = f'envs = ["{FL}"]\nagents = ["random"]\n'
SPECS = {
    "a 100 kB name (copied into every manifest)": (HEAD + f'name = "{"x" * 100_000}"\n', "over the 4096-character limit"),
    "a 300-character name": (HEAD + f'name = "{"x" * 300}"\n', "is 300 characters long, over the 200-character limit"),
    "a 300-character env id": (f'envs = ["{"e" * 300}"]\nagents = ["random"]\n', "envs 'eeee"),
    "a spec file over 1 MiB": (HEAD + "# " + "x" * (1 << 20) + "\n", "over the 1048576-byte limit"),
    "nested arrays (RecursionError)": (HEAD + "[env]\nx = " + "[" * 5000 + "]" * 5000 + "\n",
                                       "nested more than 32 levels deep"),
    "nested inline tables": (HEAD + "[env]\nx = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n",
                             "nested more than 32 levels deep"),
    "nested table headers": (HEAD + "[" + ".".join(["env"] + ["a"] * 3000) + "]\nb = 1\n",
                             "nested more than 32 levels deep"),
}


@pytest.mark.parametrize("case", list(SPECS))
def test_a_hostile_spec_file_is_one_line(case, capsys, cwd):
    text, match = SPECS[case]
    _refused_quietly(capsys, cwd, _spec(cwd, text), match)


def test_deep_nesting_on_the_command_line_is_one_line(capsys, cwd):
    _refused_quietly(capsys, cwd, RUN + ["--set", "env.x=" + "[" * 3000 + "]" * 3000, "--out", "o"],
                     "is nested more than 32 levels deep")
    _refused_quietly(capsys, cwd, RUN + ["--set", "agent.random." + ".".join(["a"] * 100) + "=1", "--out", "o"],
                     "nested more than 32 levels deep")


def test_a_fifo_spec_file_is_refused_without_blocking(capsys, cwd):
    os.mkfifo(cwd / "s.toml")
    _refused_quietly(capsys, cwd, ["run", "s.toml", "--out", "o"], "is not a regular file")


LEADERBOARD = {
    "a dataset name that climbs out": ('[[dataset]]\nname = "../../x"\nenv = "e"\npolicy = "random"\nepisodes = 5\n',
                                       "name '../../x' must be a folder name"),
    "a dataset name without a version": ('[[dataset]]\nname = "lake-10k"\nenv = "e"\npolicy = "random"\nepisodes = 5\n',
                                         "name 'lake-10k': a dataset name ends in a version, e.g. lake-10k-v0"),
    "a dataset with a wrong type": ('[[dataset]]\nname = "d"\nenv = "e"\npolicy = "random"\nepisodes = "many"\n',
                                    "episodes must be int"),
    "a dataset missing a key": ('[[dataset]]\nname = "d"\n', "env is missing"),
    "experiment not a list of tables": ("experiment = 5\n", "experiment must be a list of tables"),
    "runs not a path": ("runs = 5\n", "runs must be a folder path"),
    "nested too deep": ("[[experiment]]\nenv = {x = " + "[" * 3000 + "]" * 3000 + "}\n", "nested more than 32 levels"),
    "non-finite": (f'[[experiment]]\nenvs = ["{FL}"]\nagents = ["dqn"]\nseeds = [0, 1, 2, 3, 4]\n'
                   "agent.dqn.lr = nan\n", "agent.dqn.lr must be a finite number"),
}


@pytest.mark.parametrize("case", list(LEADERBOARD))
def test_a_hostile_leaderboard_spec_is_one_line(case, capsys, cwd):
    text, match = LEADERBOARD[case]
    (cwd / "lb.toml").write_text(text)
    _refused_quietly(capsys, cwd, ["leaderboard", "run", "--spec", "lb.toml", "--no-progress"], match)


def test_the_shipped_leaderboard_spec_still_loads():
    from tests.conftest import ROOT

    spec = leaderboard_spec.load(ROOT / "leaderboard" / "spec.toml")
    assert spec.experiments and spec.dataset_decls


@pytest.mark.parametrize(("agent", "what"), [("os:system", "is a builtin_function_or_method"),
                                              ("json:JSONDecoder", "is a class JSONDecoder")])
def test_an_agent_given_as_module_attr_must_be_an_agent_class(agent, what, capsys, cwd):
    line = _refused_quietly(capsys, cwd, ["run", "--env", FL, "--agent", agent, "--out", "o"], what)
    assert "not a subclass of priorbench.agents.base.Agent" in line


def test_a_prior_given_as_module_attr_must_be_a_prior_class():
    from priorbench.agents.priors import PRIORS

    with pytest.raises(UserError, match="prior 'os:system' is a builtin_function_or_method, not a subclass"):
        PRIORS.load("os:system")
    assert all(PRIORS.load(name) for name in PRIORS.names() if name != "os:system")  # the built-ins pass


def test_a_registry_without_a_base_loads_anything():
    reg: Registry[object] = Registry("widget")
    import json

    assert reg.load("json:dumps") is json.dumps


# --- the machine's cache and home --------------------------------------------------------------

def test_a_corrupt_prior_cache_is_named_with_how_to_move_it_aside(capsys, cwd, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    garbage = os.urandom(5000)
    (cache / "prior-cache.sqlite").write_bytes(garbage)
    monkeypatch.setenv("PRIORBENCH_CACHE", str(cache))
    line = _refused(capsys, [*LLM, "--out", "o"], "is damaged or not a priorbench cache")
    assert f"mv {cache / 'prior-cache.sqlite'} {cache / 'prior-cache.sqlite'}.bad" in line
    assert (cache / "prior-cache.sqlite").read_bytes() == garbage  # nothing lost


def test_a_prior_cache_of_another_shape_is_named(tmp_path):
    from priorbench.agents.priors.cache import PriorCache

    db = sqlite3.connect(tmp_path / "prior-cache.sqlite")
    db.execute("CREATE TABLE prior_cache (k TEXT)")
    db.commit()
    db.close()
    with pytest.raises(UserError, match="is damaged or not a priorbench cache"):
        PriorCache(tmp_path / "prior-cache.sqlite")


STRANGER = 54321  # a user id with no passwd entry


@pytest.fixture
def shared(tmp_path):
    """A folder another user can use (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="priorbench-faults-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _cli_as_stranger(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """The CLI as a user who cannot write what the test made read-only: as root, a user id with no
    passwd entry (setpriv); otherwise this user (file modes bind them)."""
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to run as another user")
        prefix = ["setpriv", f"--reuid={STRANGER}", f"--regid={STRANGER}", "--clear-groups"]
    full = {k: v for k, v in os.environ.items() if k not in ("HOME", "PRIORBENCH_CACHE")}
    full.update(env, HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    probe = subprocess.run([*prefix, sys.executable, "-c", "import priorbench"], env=full, cwd=cwd,
                           capture_output=True, timeout=60)
    if probe.returncode:
        pytest.skip(f"the other user cannot run this interpreter: {probe.stderr.decode()[-200:]}")
    return subprocess.run([*prefix, sys.executable, "-m", "priorbench.bench", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _one_line(result: subprocess.CompletedProcess, match: str) -> str:
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(err) == 1 and err[0].startswith("priorbench: error: "), result.stderr
    assert match in err[0], err[0]
    return err[0]


@pytest.mark.parametrize("existing", [False, True], ids=["empty", "with a cache file"])
def test_a_read_only_prior_cache_is_one_line(existing, shared):
    cache = shared / "cache"
    cache.mkdir()
    if existing:
        from priorbench.agents.priors.cache import PriorCache

        store = PriorCache(cache / "prior-cache.sqlite")
        store.put_many({"k": 1})
        store.close()
        (cache / "prior-cache.sqlite").chmod(0o444)
    cache.chmod(0o555)
    result = _cli_as_stranger([*LLM, "--out", str(shared / "o")], {"PRIORBENCH_CACHE": str(cache), "HOME": str(shared)},
                              shared)
    line = _one_line(result, f"prior cache {cache / 'prior-cache.sqlite'} cannot be written")
    assert "set PRIORBENCH_CACHE to a folder you can write to" in line


def test_a_user_with_no_home_is_asked_for_a_cache_folder(shared):
    if os.geteuid() != 0:
        pytest.skip("only root can become a user with no passwd entry")
    result = _cli_as_stranger([*LLM, "--out", str(shared / "o")], {}, shared)
    _one_line(result, f"HOME is unset and user id {STRANGER} has no passwd entry; set PRIORBENCH_CACHE")
