"""`priorbench leaderboard prior-quality`: what each prior of the leaderboard's rows knows about
each env before any RL. For every env of the leaderboard spec and every distinct prior setting
its prior agents use there (prior name, prior_params, the agent's normalization — as the runs
build it), `bench.prior_inspect.inspect` scores the env's test states; the summaries go to
prior_quality.json beside the outputs (`bench.leaderboard.quality`), which the build reads.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priorbench.core.config import canonical_json
from priorbench.core.errors import UserError

SPLIT = "test"


@dataclass(frozen=True, order=True)
class PriorUse:
    """One prior setting on one env, as the runs of the spec build it (JSON texts: hashable)."""

    env_id: str
    env_kwargs: str
    prior: str
    prior_params: str
    normalization: str


def prior_uses(spec_path: Path) -> dict[PriorUse, list[str]]:
    """The distinct prior settings of the spec's agents per env, with the agents that use each
    (an agent has a prior when its resolved parameters have a `prior`)."""
    from priorbench.bench import leaderboard_spec
    from priorbench.bench.runner import jobs_from_spec

    spec = leaderboard_spec.load(spec_path)
    uses: dict[PriorUse, list[str]] = {}
    seen: set[str] = set()
    for i, experiment in enumerate(spec.experiments):
        for job in jobs_from_spec(experiment, spec.runs_of(i)):
            kwargs = canonical_json(job.env_kwargs)
            run = canonical_json([job.env_id, job.env_kwargs, job.agent, job.agent_params])
            if run in seen:  # another seed of the same row
                continue
            seen.add(run)
            params = job.config()["agent_params"]
            if not params.get("prior"):
                continue
            prior_params = dict(params.get("prior_params") or {})
            if _raw_model_scores(job.agent):
                prior_params["calibration"] = "none"
            use = PriorUse(job.env_id, kwargs, str(params["prior"]), canonical_json(prior_params),
                           str(params.get("normalization", "sum")))
            agents = uses.setdefault(use, [])
            if job.agent not in agents:
                agents.append(job.agent)
    return uses


def _raw_model_scores(agent: str) -> bool:
    """Whether an agent scores commands with its prior's raw model: the LoRA policy agents
    (agents.vi.VI: vi, twosome) adapt the backend itself (AdaptedPrior), where a preset's
    calibration does not apply, so their reference prior is the uncalibrated one."""
    from priorbench.agents import AGENTS
    from priorbench.agents.vi import VI

    return issubclass(AGENTS.load(agent), VI)


def measure(use: PriorUse, agents: list[str], *, states: int, seed: int,
            progress: Any = None) -> dict[str, Any]:
    """One prior-quality entry: `prior inspect`'s summary of one prior setting on one env."""
    from priorbench.bench import prior_inspect, schema
    from priorbench.bench.leaderboard.quality import FIGURES

    report = prior_inspect.inspect(use.env_id, [use.prior], prior_params=json.loads(use.prior_params),
                                   split=SPLIT, n_states=states, seed=seed,
                                   normalization=use.normalization,  # type: ignore[arg-type]
                                   env_kwargs=json.loads(use.env_kwargs), wins=False, progress=progress)
    entry = report["priors"][use.prior]
    provenance = entry["provenance"]
    return {"env": use.env_id, "env_kwargs": json.loads(use.env_kwargs),
            "prior": schema.prior_label(provenance), "synthetic": bool(provenance.get("synthetic")),
            "prior_name": use.prior, "prior_params": json.loads(use.prior_params),
            "normalization": use.normalization, "agents": sorted(agents),
            "states": len(entry["rows"]), "seed": seed, "template": report["template"],
            **{k: entry["summary"][k] for k in FIGURES}}


def prior_quality(spec_path: Path, out_dir: Path, *, states: int = 50, seed: int = 0,
                  progress: bool = True) -> Path:
    """Measure every prior setting of the spec on every env's test split and write
    `out_dir`/prior_quality.json; returns its path."""
    from tqdm.auto import tqdm

    from priorbench.bench.leaderboard.quality import quality_text, write_quality
    from priorbench.core.progress import NO_PROGRESS_ENV, notice, reporting

    if states <= 0:
        raise UserError(f"--states must be positive, got {states}")
    uses = prior_uses(spec_path)
    if not uses:
        raise UserError(f"{spec_path}: no experiment runs an agent with a prior (dqn-prior, llm, …); "
                        "there is no prior to measure")
    hidden = not progress or os.environ.get(NO_PROGRESS_ENV) == "1"
    entries = []
    with tqdm(total=len(uses), desc="prior quality", unit="prior", file=sys.stderr,
              disable=hidden) as bar:
        for use, agents in sorted(uses.items()):
            entries.append(measure(use, agents, states=states, seed=seed,  # --no-progress: notices
                                   progress=bar.write if not hidden else notice if reporting(progress) else None))
            bar.update(1)
    return write_quality(out_dir, quality_text(entries, split=SPLIT, states=states, seed=seed))
