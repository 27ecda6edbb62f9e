"""Runs that start from another run's learned state (issue 32's transfer: a Q learned under
one prior, run under another). A finished run keeps its learned state when its spec says
`keep_learned` (`records.RunRecord.save_learned`); a run whose spec names it in `init_from`
loads it before its first step. Its identity holds the source's facts (`records.source_facts`:
folder, row id, checksums), never where the source lies, and its row label says where it came
from (`schema.agent_label`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from priorbench import agents as agent_registry
from priorbench.agents.base import Agent
from priorbench.bench import records
from priorbench.core.errors import UserError


def check_agents(names: Iterable[str]) -> None:
    """Refuse keep_learned / init_from for an agent that keeps no learned state, before any run
    starts (not at the end of the first)."""
    for name in names:
        cls = agent_registry.AGENTS.load(name)
        if cls.learned_state is Agent.learned_state or cls.load_learned is Agent.load_learned:
            raise UserError(f"agent {name!r} keeps no learned state, so keep_learned and init_from do not "
                            "apply to it; they are for the value agents (dqn, cql, dqn-prior, cql-prior)")


def identity(init_from: str, optimizer: bool) -> dict[str, Any]:
    """The `init_from` part of a run's identity (`RunJob.config`)."""
    return {**records.source_facts(Path(init_from)), "optimizer": optimizer}


def start_from(agent: Agent, init_from: str, expected: dict[str, Any]) -> None:
    """Load the source's learned state into `agent`: the source verified first, and still the run
    that `expected` (the identity in the run's manifest) names."""
    learned, facts = records.read_learned(Path(init_from))
    if {**facts, "optimizer": expected["optimizer"]} != expected:
        raise UserError(f"init_from: {init_from} is no longer the run this run's manifest names (it was re-run or "
                        "replaced); rerun with --force to start over from it")
    agent.load_learned(learned, optimizer=bool(expected["optimizer"]))
