"""`priorbench cite`: BibTeX for priorbench and for the methods and games in a leaderboard's
table. The entries are package data (references.bib, `{version}` filled in with the installed
priorbench version); which of them a table cites is data on the agent and env registrations."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from priorbench.bench.leaderboard import collect


def _entries(text: str) -> dict[str, str]:
    """BibTeX key → entry, in the file's order (entries are separated by a blank line)."""
    entries = [chunk for chunk in text.strip().split("\n\n") if chunk.startswith("@")]
    return {entry.split("{", 1)[1].split(",", 1)[0]: entry for entry in entries}


BIBTEX: dict[str, str] = _entries(
    resources.files("priorbench.bench").joinpath("references.bib").read_text(encoding="utf-8"))

#: Always cited: the suite, the method it is built around, the statistics.
SUITE_REFERENCES = ("priorbench", "yan2025efficient", "agarwal2021deep")


def references(agents: Sequence[str], envs: Sequence[str]) -> tuple[list[str], list[str]]:
    """(BibTeX keys to cite, agents with no known reference) for a table's agents and envs.

    An agent's references are its registry entry's (a preset named "<agent>-…" takes the
    longest registered name it starts with); an env's are its registration's (`envs.EnvInfo`).
    """
    from priorbench import agents as agent_registry
    from priorbench import envs as env_registry

    registered = agent_registry.AGENTS.names()
    keys = list(SUITE_REFERENCES)
    unknown = []
    for agent in sorted(set(agents)):
        match = max((name for name in registered if agent == name or agent.startswith(name + "-")),
                    key=len, default=None)
        if match is None:
            unknown.append(agent)
            continue
        keys += agent_registry.AGENTS.entry(match).references
    for env in sorted(set(envs)):
        info = env_registry.INFO.get(env)
        keys += info.references if info is not None else ()
    return list(dict.fromkeys(keys)), unknown


def cite(runs_root: Path | None) -> str:
    """BibTeX for the suite and for the methods and games in the runs' table (all known
    references when there are no runs)."""
    from importlib import metadata

    agents: list[str] = []
    envs: list[str] = []
    source = "every method priorbench knows (no runs given or found)"
    refused: list[tuple[str, str]] = []
    if runs_root is not None and Path(runs_root).exists():
        groups, refused = collect(runs_root)
        if groups:
            envs = sorted({env for env, _ in groups})
            agents = sorted({agent for _, agent in groups})
            source = f"the table's agents: {', '.join(agents)}"
    if agents:
        keys, unknown = references(agents, envs)
    else:
        keys, unknown = list(dict.fromkeys([*SUITE_REFERENCES, *BIBTEX])), []
    try:
        version = metadata.version("priorbench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    out = [f"% BibTeX for priorbench and {source}"]
    out += [f"% no reference known for agent {a!r}" for a in unknown]
    if refused:
        out.append(f"% {len(refused)} refused run(s) are not in the table and not cited "
                   "(`priorbench show` says why)")
    out += [BIBTEX[k].replace("{version}", version) for k in keys]
    return "\n\n".join(out) + "\n"
