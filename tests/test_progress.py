"""Long commands are never silent (issue 30): `prior train` and the run loop show a bar over
their own steps (evaluation rounds apart and labelled, kept out of the ETA), or, where bars are
hidden, notice lines; quick work says nothing."""

from __future__ import annotations

import json
import re
import time

import pytest

from priorbench.bench.cli import main
from priorbench.core import progress
from priorbench.core.progress import NO_PROGRESS_ENV, Meter

FL = "priorbench/FrozenLake-4x4-v0"
LAKES = "priorbench/FrozenLake-4x4-Random-v0"  # train and test maps apart, as `prior train` needs
#: tabular-q for 20 steps, evaluated at 0, 10 and 20 on 3 test episodes a round.
RUN = ["run", "--env", FL, "--agent", "tabular-q", "--steps", "20", "--eval-every", "10",
       "--set", "budget.eval_episodes=3"]
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@pytest.fixture
def bars(monkeypatch):
    """Bars forced on (stderr is captured, not a terminal). tqdm draws at most every 0.1 s, so a
    quick loop's drawings are a sample: the tests look at those drawn for sure (a bar's first,
    a label's change, a step the code shows at once)."""
    monkeypatch.setenv(NO_PROGRESS_ENV, "0")


@pytest.fixture
def hidden(monkeypatch):
    """Bars hidden (--no-progress sets the variable; monkeypatch puts it back after)."""
    monkeypatch.setenv(NO_PROGRESS_ENV, "1")


def _frames(err: str) -> list[str]:
    """Every drawing of every bar, in order."""
    return [f.strip() for f in re.split(r"[\r\n]", ESCAPES.sub("", err)) if f.strip()]


def _bar(frames: list[str], desc: str) -> list[tuple[int, int, str]]:
    """(n, total, bracket text) of each drawing of the bar labelled exactly `desc`."""
    found = []
    for frame in frames:
        m = re.match(rf"{re.escape(desc)}: +\d+%\|.*\| *(\d+)/(\d+) \[(.*)\]$", frame)
        if m:
            found.append((int(m[1]), int(m[2]), m[3]))
    return found


def _train_cli(tmp_path, *flags: str) -> list[str]:
    return ["prior", "train", "--env", LAKES, "--base", "tiny-gpt2", "--states", "8", "--steps", "3",
            "--batch-size", "4", "--out", str(tmp_path / "adapter"), *flags]


def _losses(tmp_path) -> dict[str, float]:
    return json.loads((tmp_path / "adapter" / "manifest.json").read_text())["losses"]


def test_prior_train_draws_a_bar_over_its_steps_with_the_loss_and_an_eta(tmp_path, capsys, bars):
    assert main(_train_cli(tmp_path)) == 0
    out, err = capsys.readouterr()
    drawn = _bar(_frames(err), "prior train")
    assert {t for _, t, _ in drawn} == {3} and [n for n, _, _ in drawn][:2] == [0, 1] and drawn[-1][0] == 3
    after_first = drawn[1][2]
    assert re.match(r"\d\d:\d\d<\d\d:\d\d, ", after_first), after_first  # an ETA from the first step
    losses = _losses(tmp_path)
    assert f"loss {losses['first']:.3f}" in after_first and f"loss {losses['last']:.3f}" in drawn[-1][2]
    for phase in ("loading tiny-gpt2", "walking up to 8 states", "training a LoRA adapter"):
        assert phase in err  # the setup says what it does before the first step
    # the end: the last loss as the last loss, the mean of the last steps labelled as such
    assert (f"loss {losses['first']:.3f} at the first step, {losses['last']:.3f} at the last "
            f"(mean of the last 3 steps {losses['mean_last_25']:.3f})") in out
    assert set(losses) == {"first", "last", "mean_last_25"}  # the manifest's fields as they were


def test_prior_train_without_bars_says_its_first_and_last_step(tmp_path, capsys, hidden):
    assert main(_train_cli(tmp_path, "--no-progress")) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    losses = _losses(tmp_path)
    lines = [line for line in err.splitlines() if line.startswith("prior train: ")]
    assert len(lines) == 2, err  # steps 1 and 3; step 2 came well within NOTICE_EVERY_S
    assert lines[0].startswith(f"prior train: 1/3 steps, loss {losses['first']:.3f}, ") and " left" in lines[0]
    assert lines[1].startswith(f"prior train: 3/3 steps, loss {losses['last']:.3f}, ")


@pytest.mark.slow
def test_prior_train_of_smollm2_says_every_step_where_each_is_slow(tmp_path, capsys, hidden, monkeypatch):
    """The real case of issue 30 (SmolLM2 takes seconds a step): with lines due every 0 s, one
    per step, each with its loss."""
    monkeypatch.setattr(progress, "NOTICE_EVERY_S", 0.0)
    argv = _train_cli(tmp_path, "--no-progress")
    argv[argv.index("tiny-gpt2")] = "smollm2-135m"
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("prior train: ")]
    assert [line.split(",")[0] for line in lines] == [f"prior train: {k}/3 steps" for k in (1, 2, 3)]
    assert all(re.search(r", loss \d+\.\d{3}, [\d.]+ s a step", line) for line in lines), lines


def test_the_run_bar_counts_training_steps_alone_and_labels_each_evaluation(tmp_path, capsys, bars):
    assert main([*RUN, "--out", str(tmp_path)]) == 0
    frames = _frames(capsys.readouterr().err)
    steps = _bar(frames, "FrozenLake-4x4-v0 tabular-q s0")
    assert {total for _, total, _ in steps} == {20}  # the training budget, evaluations not in it
    assert steps[0][0] == 0 and steps[-1][0] == 20
    labelled = {(n, text.rsplit(", ", 1)[-1]) for n, _, text in steps if "evaluating" in text}
    assert labelled == {(0, "evaluating round 0"), (10, "evaluating round 1"), (20, "evaluating round 2")}
    for k in range(3):
        episodes = _bar(frames, f"FrozenLake-4x4-v0 tabular-q s0 evaluating round {k}")
        assert episodes[0][0] == 0 and {t for _, t, _ in episodes} == {3}
    # the step-0 evaluation is not a step: the bar is still at 0 after it, and its rate and ETA
    # are of training steps only
    first = frames.index(next(f for f in frames if f.startswith("FrozenLake-4x4-v0 tabular-q s0 evaluating round 0")))
    after = next(s for s in _bar(frames[first:], "FrozenLake-4x4-v0 tabular-q s0"))
    assert after[0] == 0 and "evaluating" not in after[2]


def test_an_evaluation_only_agent_has_its_rounds_bar_alone(tmp_path, capsys, bars):
    assert main(["run", "--env", FL, "--agent", "random", "--steps", "20", "--set", "budget.eval_episodes=4",
                 "--out", str(tmp_path)]) == 0
    frames = _frames(capsys.readouterr().err)
    assert not _bar(frames, "FrozenLake-4x4-v0 random s0")
    episodes = _bar(frames, "FrozenLake-4x4-v0 random s0 evaluating round 0")
    assert episodes[0][:2] == (0, 4) and {t for _, t, _ in episodes} == {4}


def test_a_run_without_bars_says_its_steps_and_evaluations_in_lines(tmp_path, capsys, hidden, monkeypatch):
    assert main([*RUN, "--no-progress", "--out", str(tmp_path / "quick")]) == 0
    assert capsys.readouterr().err == ""  # a quick run says nothing (NOTICE_EVERY_S never passed)
    monkeypatch.setattr(progress, "NOTICE_EVERY_S", 0.0)  # every line due at once
    assert main([*RUN, "--no-progress", "--out", str(tmp_path / "said")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line.removeprefix("priorbench: ") for line in err.splitlines()]
    steps = [line for line in lines if line.startswith("FrozenLake-4x4-v0 tabular-q s0: ")]
    assert [line.split(",")[0].split(": ")[1] for line in steps] == [f"{k}/20 steps" for k in range(1, 21)]
    assert "left" in steps[0] and "left" not in steps[-1]
    for k in range(3):
        said = [line for line in lines if line.startswith(f"FrozenLake-4x4-v0 tabular-q s0 evaluating round {k}: ")]
        assert [line.split(",")[0].split(": ")[1] for line in said] == [f"{i}/3 episodes" for i in range(4)]


def test_time_aside_is_kept_out_of_the_rate_and_the_eta(capsys, monkeypatch):
    """An evaluation round of 1 s between steps of 0.1 s: the bar's elapsed time and the
    notices' ETA count the steps alone."""
    for flag in ("0", "1"):
        monkeypatch.setenv(NO_PROGRESS_ENV, flag)
        meter = Meter(10, "m")
        with meter.aside("evaluating round 0", 1) as inner:
            time.sleep(1.0)
            inner.update(1)
        for _ in range(2):
            time.sleep(0.1)
            meter.update(1)
        line = meter.line()
        assert re.search(r"[\d.]+ steps/s, about 00:0[0-2] left$", line), line
        if flag == "0":
            assert meter.bar.format_dict["elapsed"] < 0.6
            assert meter.bar.format_dict["postfix"] in (None, "")  # no longer "evaluating round 0"
        meter.close()


def test_dataset_collect_without_bars_says_its_episodes(tmp_path, capsys, hidden, monkeypatch):
    monkeypatch.setattr(progress, "NOTICE_EVERY_S", 0.0)
    assert main(["dataset", "collect", "--env", FL, "--episodes", "3", "--no-progress", "--out", str(tmp_path)]) == 0
    said = [line.split(",")[0] for line in capsys.readouterr().err.splitlines() if "collect expert" in line]
    assert said == [f"priorbench: collect expert: {k}/3 episodes" for k in (1, 2, 3)], said
