"""Train games against unseen games, for experiments/exact_posterior.py (issue 34's TextWorld half).

On Coin Collector 2 the distilled prior's agents end with fewer test wins than they started with,
the more so the more Q may overrule the prior (k = 5, then the exact posterior). Is that Q failing
to learn (a bug) or Q learning the train games and carrying what it learned to games where it is
wrong? The probe re-makes a few of the sweep's runs (same spec, same seed, in a scratch folder) and,
at the step-0 round and at the final round, also plays every **train** game with the agent as it
evaluates (explore=False, on its own random streams, on an env of its own). Its episode records
must equal the committed run's, timing aside (the probe did not move training, and its test wins
are the committed ones); `probe.json` beside the runs keeps what it found and `report` reads it.

    python experiments/exact_posterior.py probe
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

#: The probed points (folders of the TextWorld sweep) and seeds; 2 episodes of each train game.
POINTS = ("distilled/exact", "oracle-q0.6/exact", "distilled/k5", "oracle-q0.6/k5")
SEEDS = (0, 1, 2)
REPEATS = 2
#: A pooled change of at most this many wins counts as "kept" in the page's reading.
KEPT = 4
NAME = "probe.json"


def _play(agent: Any, env: Any, task: int, seed: int) -> bool:
    obs, info = env.reset(seed=seed, options={"task": task})
    agent.reset_episode(explore=False)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info, explore=False))
        done = terminated or truncated
    return bool(info.get("won"))


def _job(spec_path: Path, folder: str, seed: int, out: Path) -> Any:
    from priorbench.bench import leaderboard_spec, runner

    spec = leaderboard_spec.load(spec_path)
    for i, experiment in enumerate(spec.experiments):
        if spec.runs_of(i) == spec.runs / folder:
            for job in runner.jobs_from_spec(experiment, out):
                if job.seed == seed:
                    return job
    raise SystemExit(f"{spec_path}: no experiment in folder {folder} with seed {seed}")


def _probe_run(spec_path: Path, runs: Path, folder: str, seed: int) -> dict[str, Any]:
    """One probed run, re-made in a scratch folder: train and test wins at its first and last rounds."""
    from priorbench import envs
    from priorbench.bench import records, runner
    from priorbench.core import seeding

    held: dict[str, Any] = {}
    train: list[list[int]] = []
    test: list[list[int]] = []
    with tempfile.TemporaryDirectory() as scratch:
        job = _job(spec_path, folder, seed, Path(scratch))
        games = envs.make(job.env_id, split="train", **job.env_kwargs)

        def on_evaluation(steps: int, rows: list[Any]) -> None:
            if steps not in (0, job.budget.steps):
                return
            agent, wins = held["agent"], 0
            for task in range(len(games.tasks)):
                for repeat in range(REPEATS):
                    episode_seed = seeding.derive_seed(job.seed, "probe", steps, task, repeat)
                    with seeding.own_streams(episode_seed, agent):
                        wins += _play(agent, games, task, episode_seed)
            train.append([steps, wins, len(games.tasks) * REPEATS])
            test.append([steps, sum(bool(r.success) for r in rows), len(rows)])

        callbacks = runner.Callbacks(on_start=lambda agent, *_: held.update(agent=agent),
                                     on_evaluation=on_evaluation)
        path = runner.execute(job, progress=False, callbacks=callbacks)
        _, made = records.verify_run(path)
        _, committed = records.verify_run(runs / folder / job.path.relative_to(job.out))
    diff = records.diff_episodes(committed, made)
    return {"train": train, "test": test, "same_episodes": diff["exact"], "close_episodes": diff["close"],
            "differing_fields": sorted(diff["fields"])}


def probe(spec_path: Path, runs: Path) -> None:
    """Re-make each probed run in a scratch folder, playing the train games at the first and last
    rounds; write runs/probe.json."""
    found: dict[str, dict[str, Any]] = {}
    for folder in POINTS:
        for seed in SEEDS:
            got = found.setdefault(folder, {})[str(seed)] = _probe_run(spec_path, runs, folder, seed)
            print(f"probe {folder} seed {seed}: {got}", file=sys.stderr)
    (runs / NAME).write_text(json.dumps({"repeats": REPEATS, "points": found}, indent=1, sort_keys=True) + "\n")


def section(runs: Path, names: dict[str, str]) -> list[str]:
    """The page's table (none until the probe has run); a probe.json that is a link, huge or not
    the probe's record stops the report with one line naming it and the fix."""
    path = runs / NAME
    if not path.exists() and not path.is_symlink():
        return []
    fix = "rerun `python experiments/exact_posterior.py probe`"
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
        raise SystemExit(f"{path}: not a plain file under 1 MiB; remove it and {fix}")
    try:
        return _section(json.loads(path.read_text()), names)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise SystemExit(f"{path}: not a probe record ({type(exc).__name__}: {exc}); {fix}") from None


def _section(data: dict[str, Any], names: dict[str, str]) -> list[str]:
    points, repeats = data.get("points", {}), int(data.get("repeats", REPEATS))
    lines = ["### Train games against unseen games (the probe)", "",
             f"`python experiments/exact_posterior.py probe` re-made seeds {', '.join(map(str, SEEDS))} of these points "
             f"and also played every train game ({repeats} episodes each a round) at the step-0 and final rounds, as "
             "evaluation plays (its own random streams, an env of its own). Wins at step 0 → at the end, pooled over "
             "the seeds (the distilled adapter was trained on the train games: compare the change, not the level). "
             "Records: whether every re-made run's episode records equal the committed run's, timing aside (the "
             "probe did not move training). \"But the diagnostic counters\": successes, returns, lengths and scores "
             "are the committed ones, and only the per-episode prior counters differ (decisions, expert coverage, "
             "prior log-prob sums), because the agent counts the probe's own decisions too and the runner "
             "attributes them to the episode around them; \"close\": equal but for floating-point noise in the "
             "named fields:", "",
             "| point | train games | unseen test games | records |", "|---|---:|---:|---|"]
    kept_fell = []
    for folder, seeds in sorted(points.items()):
        prior, _, key = folder.partition("/")
        cells, moved = [], []
        for side in ("train", "test"):
            rounds = [got[side] for got in seeds.values()]
            start = [sum(r[0][i] for r in rounds) for i in (1, 2)]
            final = [sum(r[-1][i] for r in rounds) for i in (1, 2)]
            cells.append(f"{start[0]}/{start[1]} → {final[0]}/{final[1]}")
            moved.append(final[0] - start[0])
        fields = sorted({f for got in seeds.values() for f in got.get("differing_fields", [])})
        if all(got["same_episodes"] for got in seeds.values()):
            same = "the same"
        elif all(f.startswith("counters.") for f in fields):
            same = "the same but the diagnostic counters"
        elif all(got.get("close_episodes") for got in seeds.values()):
            same = f"close ({', '.join(fields)})"
        else:
            same = f"DIFFERENT ({', '.join(fields)})"
        label = "exact posterior" if key == "exact" else f"dqn-prior {key.replace('k', 'k = ')}"
        lines.append(f"| {names.get(prior, prior)}, {label} | {cells[0]} | {cells[1]} | {same} |")
        if moved[0] >= -KEPT and moved[1] < -KEPT:
            kept_fell.append(f"{names.get(prior, prior)}, {label}")
    if kept_fell:
        lines += ["", f"On the train games these points end within {KEPT} wins of their step-0 count (or above), while "
                  f"on the unseen games they fall by more: {'; '.join(kept_fell)}. The loss is on the games Q never "
                  "saw, not on those it trained on (where it gained little either): there its values overrule the "
                  "prior where they do not apply."]
    return [*lines, ""]
