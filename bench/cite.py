"""`priorbench cite`: BibTeX for priorbench and for the methods and games in a leaderboard's
table. The entries are package data (references.bib, `{version}` filled in with the installed
priorbench version); which entries a table cites is below."""

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

#: Agent name (or the name's start, for presets) → the references of its method.
AGENT_REFERENCES: dict[str, tuple[str, ...]] = {
    "dqn-prior": ("yan2025efficient", "he2016deep"),
    "cql-prior": ("yan2025efficient", "kumar2020conservative"),
    "vi": ("yan2025efficient", "schulman2017proximal"),
    "llm": ("yan2025efficient",),
    "twosome": ("tan2024true", "schulman2017proximal"),
    "dqn": ("he2016deep",),
    "drrn": ("he2016deep",),
    "cql": ("kumar2020conservative",),
    "ppo": ("schulman2017proximal",),
    "tabular-q": ("watkins1992q",),
}
#: Env id fragment → the references of its games.
ENV_REFERENCES: dict[str, tuple[str, ...]] = {
    "TextWorld": ("cote2018textworld",),
    "ALFWorld": ("shridhar2021alfworld", "cote2018textworld"),
    "Overcooked": ("tan2024true",),
}
#: Always cited: the suite, the method it is built around, the statistics.
SUITE_REFERENCES = ("priorbench", "yan2025efficient", "agarwal2021deep")


def references(agents: Sequence[str], envs: Sequence[str]) -> tuple[list[str], list[str]]:
    """(BibTeX keys to cite, agents with no known reference) for a table's agents and envs."""
    keys = list(SUITE_REFERENCES)
    unknown = []
    for agent in sorted(set(agents)):
        match = max((name for name in AGENT_REFERENCES if agent == name or agent.startswith(name + "-")),
                    key=len, default=None)
        if match is None:
            if agent not in ("random", "expert"):
                unknown.append(agent)
            continue
        keys += AGENT_REFERENCES[match]
    for env in sorted(set(envs)):
        for fragment, refs in ENV_REFERENCES.items():
            if fragment.lower() in env.lower():
                keys += refs
    return list(dict.fromkeys(keys)), unknown


def cite(runs_root: Path | None) -> str:
    """BibTeX for the suite and for the methods and games in the runs' table (all known
    references when there are no runs)."""
    from importlib import metadata

    agents: list[str] = []
    envs: list[str] = []
    source = "every method priorbench knows (no runs given or found)"
    if runs_root is not None and Path(runs_root).exists():
        groups, _ = collect(runs_root)
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
    out += [BIBTEX[k].replace("{version}", version) for k in keys]
    return "\n\n".join(out) + "\n"
