"""`priorbench prior inspect`: what a prior knows about an env's games, next to uniform.

States are walked on one split with a fixed seed: from each task's start, the env's expert
plays, with a random admissible command instead of the expert's one step in four (a detour,
so states off the expert's path are seen too). Every distinct state with an expert action is
scored once by each prior (exact log-probs over the admissible commands, the agents' prompt
template, no history) and compared with the uniform distribution over the same commands:

    P(expert)   the prior's probability of the expert's command (mean over states)
    rank        the expert command's rank under the prior (1 = the prior's favourite)
    P(first)    the probability of the first-listed command (a position bias shows here)
    cov@k       the chance that k draws from the prior contain the expert's command,
                1 − (1 − P(expert))^k — the dqn-prior agents draw k = 5 candidates per state
    entropy     of the prior over the commands (nats); KL(p‖u) = log n − entropy
    argmax wins how many of the split's tasks the prior's argmax policy wins from the start

A prior worth spending RL compute on has cov@5 well above uniform's on the test split.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.core.errors import UserError
from priorbench.core.paths import atomic_write_bytes
from priorbench.core.seeding import derive_seed

KS = (1, 3, 5)
#: Probability of a random admissible command instead of the expert's while walking states.
DETOUR = 0.25
BATCH = 16


@dataclass(frozen=True)
class State:
    task_id: str
    task: str
    observation: str
    commands: tuple[str, ...]
    expert: str


def walk_states(env_id: str, split: str, n_states: int, seed: int,
                env_kwargs: dict[str, Any] | None = None) -> list[State]:
    """Up to `n_states` distinct states with an expert action, tasks taken in turn."""
    from priorbench import envs

    if n_states <= 0:
        raise UserError(f"--states must be positive, got {n_states}")
    env = envs.make(env_id, split=split, **(env_kwargs or {}))
    rng = np.random.default_rng(derive_seed(seed, "inspect", "detours"))
    seen: dict[tuple[str, str, tuple[str, ...]], State] = {}
    episode, idle = 0, 0
    try:
        while len(seen) < n_states and idle < 3 * len(env.tasks) + 3:
            task = episode % len(env.tasks)
            obs, info = env.reset(seed=derive_seed(seed, "inspect", episode), options={"task": task})
            before = len(seen)
            done = False
            while not done and len(seen) < n_states:
                commands = tuple(info["admissible_commands"])
                expert = info.get("expert_action")
                if not commands:
                    break
                if expert is not None and expert in commands:
                    key = (str(info.get("task_id")), obs, commands)
                    seen.setdefault(key, State(str(info.get("task_id")), info["task"], obs,
                                               commands, expert))
                detour = expert is None or rng.random() < DETOUR
                action = commands[int(rng.integers(len(commands)))] if detour else expert
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            idle = idle + 1 if len(seen) == before else 0
            episode += 1
    finally:
        env.close()
    if not seen:
        raise UserError(f"{env_id} gives no expert_action on its {split} split, so a prior "
                        "cannot be compared with the expert there")
    return list(seen.values())


def state_metrics(logp: np.ndarray, commands: Sequence[str], expert: str) -> dict[str, float]:
    """The per-state figures for one prior (log-probs over `commands`) and for uniform."""
    logp = np.asarray(logp, dtype=float)
    logp = logp - np.logaddexp.reduce(logp)
    probs = np.exp(logp)
    n = len(commands)
    i = list(commands).index(expert)
    p = float(probs[i])
    entropy = float(-np.where(probs > 0, probs * logp, 0.0).sum())  # 0·log 0 = 0 (q = 1 oracle)
    ties = int((probs == p).sum()) - 1  # ties share their ranks (uniform: (n + 1) / 2)
    row = {"n_commands": n, "p_expert": p, "rank": 1 + int((probs > p).sum()) + ties / 2,
           "p_first": float(probs[0]), "entropy": entropy, "kl_from_uniform": math.log(n) - entropy,
           "argmax_is_expert": bool(int(np.argmax(probs)) == i)}
    for k in KS:
        row[f"cov@{k}"] = 1.0 - (1.0 - p) ** k
        row[f"uniform_cov@{k}"] = 1.0 - (1.0 - 1.0 / n) ** k
    return row


def _prompts(prior: Any, template: Any, states: Sequence[State]) -> list[str]:
    from priorbench.agents.priors.prompts import fit_prompt

    return [fit_prompt(template, prior.count_tokens, prior.context_length, s.task, s.observation,
                       s.commands, []) for s in states]


def _score(prior: Any, template: Any, states: Sequence[State], normalization: str) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for start in range(0, len(states), BATCH):
        chunk = states[start:start + BATCH]
        out += prior.score_states(_prompts(prior, template, chunk), [list(s.commands) for s in chunk],
                                  [s.expert for s in chunk], normalization=normalization)
    return out


def prior_spec(text: str) -> tuple[str, dict[str, Any]]:
    """`NAME` or `NAME:key=value,key=value` (a --prior argument) → (name, settings)."""
    from priorbench.core.config import parse_value

    name, _, settings = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in settings.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--prior {text!r}: expected NAME or NAME:key=value,key=value "
                            "(e.g. oracle:q=0.5)")
        params[key.strip()] = parse_value(value.strip())
    return name.strip(), params


def argmax_wins(prior: Any, template: Any, env_id: str, split: str, seed: int, normalization: str,
                env_kwargs: dict[str, Any] | None = None, max_tasks: int = 20) -> tuple[int, int]:
    """(wins, tasks played): the prior's argmax policy from each task's start (no history)."""
    from priorbench import envs

    env = envs.make(env_id, split=split, **(env_kwargs or {}))
    wins = 0
    tasks = min(len(env.tasks), max_tasks)
    try:
        for task in range(tasks):
            obs, info = env.reset(seed=derive_seed(seed, "inspect", "argmax", task), options={"task": task})
            done = False
            while not done and info["admissible_commands"]:
                commands = list(info["admissible_commands"])
                prompt = _prompts(prior, template, [State("", info["task"], obs, tuple(commands), "")])
                logp = prior.score_states(prompt, [commands], [info.get("expert_action")],
                                          normalization=normalization)[0]
                obs, _, terminated, truncated, info = env.step(commands[int(np.argmax(logp))])
                done = terminated or truncated
            wins += bool(info["won"])
    finally:
        env.close()
    return wins, tasks


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    keys = ["p_expert", "rank", "p_first", *(f"cov@{k}" for k in KS),
            *(f"uniform_cov@{k}" for k in KS), "entropy", "kl_from_uniform", "argmax_is_expert"]
    return {k: float(np.mean([float(r[k]) for r in rows])) for k in keys}


def inspect(env_id: str, priors: Sequence[str], *, prior_params: dict[str, Any] | None = None,
            split: str = "test", n_states: int = 50, seed: int = 0, normalization: str = "sum",
            env_kwargs: dict[str, Any] | None = None, wins: bool = True,
            progress: Any = None) -> dict[str, Any]:
    """Walk the states once and score them with every prior; the report as plain data."""
    from priorbench.agents.priors import make_prior
    from priorbench.agents.priors.prompts import template_for

    states = walk_states(env_id, split, n_states, seed, env_kwargs)
    template = template_for(env_id)
    report: dict[str, Any] = {"env": env_id, "split": split, "seed": seed, "template": template.id,
                              "normalization": normalization, "detour": DETOUR,
                              "states": [asdict(s) for s in states], "priors": {}}
    for label in priors:
        name, own = prior_spec(label)
        if progress:
            progress(f"scoring {len(states)} states of {env_id} ({split}) with {label}")
        prior = make_prior(name, {**(prior_params or {}), **own}, namespace=template.id)
        rows = [{"state": i, **state_metrics(logp, s.commands, s.expert)}
                for i, (s, logp) in enumerate(zip(states, _score(prior, template, states, normalization),
                                                  strict=True))]
        entry: dict[str, Any] = {"provenance": prior.provenance(), "summary": summarise(rows),
                                 "rows": rows}
        if wins:
            if progress:
                progress(f"playing the argmax policy of {label} on up to 20 {split} tasks (--no-wins skips it)")
            won, played = argmax_wins(prior, template, env_id, split, seed, normalization, env_kwargs)
            entry["summary"]["argmax_wins"] = won
            entry["summary"]["argmax_tasks"] = played
        report["priors"][label] = entry
    return report


def table(report: dict[str, Any]) -> str:
    """One Markdown table: a row per prior, then the uniform baseline on the same states."""
    from priorbench.bench.leaderboard import markdown_table

    headers = ["prior", "states", "P(expert)", "rank", "P(first)", *(f"cov@{k}" for k in KS),
               "entropy", "KL(p‖u)", "argmax wins"]
    rows = []
    for name, entry in report["priors"].items():
        s = entry["summary"]
        won = f"{s['argmax_wins']}/{s['argmax_tasks']}" if "argmax_wins" in s else "–"
        shown = entry["provenance"].get("label", name) if entry["provenance"].get("synthetic") else name
        rows.append([shown, len(entry["rows"]), s["p_expert"], s["rank"], s["p_first"],
                     *(s[f"cov@{k}"] for k in KS), s["entropy"], s["kl_from_uniform"], won])
    first = next(iter(report["priors"].values()))
    n = [r["n_commands"] for r in first["rows"]]
    uniform = first["summary"]
    rows.append(["uniform", len(n), float(np.mean([1 / c for c in n])),
                 float(np.mean([(c + 1) / 2 for c in n])), float(np.mean([1 / c for c in n])),
                 *(uniform[f"uniform_cov@{k}"] for k in KS), float(np.mean(np.log(n))), 0.0, "–"])
    formats = ["", "d", ".3f", ".2f", ".3f", ".3f", ".3f", ".3f", ".3f", ".3f", ""]
    title = (f"{report['env']} ({report['split']} split, {len(n)} states, seed {report['seed']}, "
             f"template {report['template']})")
    return title + "\n\n" + markdown_table(headers, rows, formats)


def write_report(report: dict[str, Any], out: Path) -> None:
    """The report as JSON (per-state rows included), written atomically."""
    out = Path(out)
    if out.exists() and out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as {out / 'inspect.json'}")
    atomic_write_bytes(out, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
