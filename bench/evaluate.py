"""`priorbench evaluate`: run the protocol (leaderboard/protocol.toml) for one agent, exactly:
its envs, budgets, evaluation schedule and seeds. Only the agent's own settings may be set;
a budget or env change needs --unofficial, and its runs are marked unofficial (the official
build refuses them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from priorbench.bench.leaderboard.protocol import OFFICIAL, UNOFFICIAL, Protocol
from priorbench.bench.runner import RunJob, jobs_from_spec
from priorbench.bench.spec import Budget, Spec, apply_overrides, spec_from_dict
from priorbench.core.errors import UserError


def protocol_jobs(protocol: Protocol, agent: str, out: Path, overrides: list[str], *,
                  unofficial: bool = False, envs: Sequence[str] = ()) -> list[RunJob]:
    """The runs of `protocol` for `agent` under `out` (one folder per env), with `overrides`;
    `envs`: only these of the protocol's envs (each still under the protocol's terms)."""
    known = [terms.id for terms in protocol.env]
    for env_id in envs:
        if env_id not in known:
            raise UserError(f"--env {env_id}: not an env of protocol {protocol.label}; its envs are "
                            f"{', '.join(known)}")
    for item in overrides:
        key = item.partition("=")[0].strip()
        if not key.startswith("agent.") and not unofficial:
            raise UserError(f"--set {key}: the protocol fixes budgets, env settings and seeds; set only "
                            f"agent.{agent}.<param>, or add --unofficial (its rows are marked so)")
    name = f"{UNOFFICIAL if unofficial else OFFICIAL}:{protocol.label}"
    jobs: list[RunJob] = []
    for terms in protocol.env:
        if envs and terms.id not in envs:
            continue
        spec = Spec(envs=(terms.id,), agents=(agent,), seeds=tuple(protocol.seeds), name=name,
                    env=dict(terms.kwargs),
                    budget=Budget(steps=terms.steps, eval_every=terms.eval_every,
                                  eval_episodes=terms.eval_episodes,
                                  checkpoint_every=max(terms.eval_every, terms.steps // 2)))
        data = apply_overrides(spec.to_dict(), overrides, where="command line")
        jobs += jobs_from_spec(spec_from_dict(data, where="command line"), out)
    return jobs
