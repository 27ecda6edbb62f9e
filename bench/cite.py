"""`priorbench cite`: BibTeX for priorbench and for the methods, models and games in a
leaderboard's table. The entries are package data (references.bib, `{version}` filled in with
the installed priorbench version); which of them a table cites is data: the agent and env
registrations' `references`, and `RUN_REFERENCES` for what the runs' manifests say they used
(the prior's model, calibration and adapter, LoRA, the text encoder, an offline dataset)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from priorbench.bench import schema
from priorbench.bench.leaderboard import collect


def _entries(text: str) -> dict[str, str]:
    """BibTeX key → entry, in the file's order (entries are separated by a blank line)."""
    entries = [chunk for chunk in text.strip().split("\n\n") if chunk.startswith("@")]
    return {entry.split("{", 1)[1].split(",", 1)[0]: entry for entry in entries}


BIBTEX: dict[str, str] = _entries(
    resources.files("priorbench.bench").joinpath("references.bib").read_text(encoding="utf-8"))

#: Always cited: the suite, the method it is built around, the statistics.
SUITE_REFERENCES = ("priorbench", "yan2025efficient", "agarwal2021deep")

#: What a run's own settings cite (`run_settings` reads them from its manifest), in one place:
#: (setting, value, BibTeX keys). A value matches where it occurs in the run's value, both
#: lower-cased without "-" and "_" (so "smollm2" matches "smollm2-135m" and a hub id
#: "HuggingFaceTB/SmolLM2-135M-Instruct", "contextual" also "contextual+permute"); "*" matches any.
RUN_REFERENCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("model", "smollm2", ("allal2025smollm2",)),
    ("model", "gemma3", ("gemmateam2025gemma3",)),
    ("calibration", "contextual", ("zhao2021calibrate",)),
    ("adapter", "*", ("yao2020keep", "hu2022lora")),  # a distilled prior: the CALM recipe, LoRA
    ("lora", "*", ("hu2022lora",)),  # vi / twosome tune the LM itself with LoRA
    ("encoder", "minilm", ("reimers2019sentence", "wang2020minilm")),  # all-MiniLM-L6-v2
    ("dataset", "*", ("younis2024minari",)),  # offline data are Minari datasets (bench/datasets.py)
)


def _plain(value: str) -> str:
    return value.lower().replace("-", "").replace("_", "")


def run_settings(manifest: dict[str, Any]) -> set[tuple[str, str]]:
    """The (setting, value) pairs of a run that `RUN_REFERENCES` looks up, from its manifest:
    each prior's model id, calibration and adapter (an oracle's LM `rest_prior` too), LoRA
    tuning, the agent's text encoder, an offline dataset."""
    provenance = manifest.get("agent_provenance") or {}
    params = (manifest.get("agent") or {}).get("params") or {}
    found: set[tuple[str, str]] = set()
    prior = provenance.get("prior")
    while isinstance(prior, dict):
        found |= {(setting, str(prior[key])) for setting, key in
                  (("model", "model_id"), ("calibration", "calibration"), ("adapter", "adapter"))
                  if prior.get(key)}
        prior = prior.get("rest_prior")
    if provenance.get("lora_target_modules"):
        found.add(("lora", "yes"))
    if isinstance(params.get("encoder"), str):
        found.add(("encoder", params["encoder"]))
    if provenance.get("dataset"):
        found.add(("dataset", str(provenance["dataset"])))
    return found


def setting_references(settings: Iterable[tuple[str, str]]) -> list[str]:
    """The BibTeX keys `RUN_REFERENCES` gives for runs' (setting, value) pairs, in its order."""
    plain = {(setting, _plain(value)) for setting, value in settings}
    return list(dict.fromkeys(
        key for setting, value, keys in RUN_REFERENCES
        if any(s == setting and (value == "*" or _plain(value) in v) for s, v in plain)
        for key in keys))


def references(agents: Sequence[str], envs: Sequence[str],
               runs: Iterable[dict[str, Any]] = ()) -> tuple[list[str], list[str]]:
    """(BibTeX keys to cite, agents with no known reference) for a table's agents, envs and
    runs (their manifests).

    A table label is its registered agent's (`schema.base_agent`: the prior and budget left
    out; a preset named "<agent>-…" takes the longest registered name it starts with); the
    references are its registry entry's, then what the runs used (`RUN_REFERENCES`), then
    each env's registration's (`envs.EnvInfo`). A plug-in agent without references is unknown.
    """
    from priorbench import agents as agent_registry
    from priorbench import envs as env_registry

    registered = agent_registry.AGENTS.names()
    keys = list(SUITE_REFERENCES)
    unknown = []
    for agent in sorted({schema.base_agent(label) for label in agents}):
        match = None if ":" in agent else max(
            (name for name in registered if agent == name or agent.startswith(name + "-")),
            key=len, default=None)
        entry = agent_registry.AGENTS.entry(match) if match is not None else None
        if entry is None or (entry.distribution and not entry.references):
            unknown.append(agent)
            continue
        keys += entry.references
    keys += setting_references(pair for manifest in runs for pair in run_settings(manifest))
    for env in sorted(set(envs)):
        info = env_registry.INFO.get(env)
        keys += info.references if info is not None else ()
    return list(dict.fromkeys(keys)), unknown


def _plugin(agent: str) -> bool:
    """True for a plug-in agent: a "package.module:Class" name or an entry point's."""
    from priorbench.agents import AGENTS

    return ":" in agent or (agent in AGENTS and bool(AGENTS.entry(agent).distribution))


def cite(runs_root: Path | None) -> str:
    """BibTeX for the suite and for the methods, models, datasets and games in the runs' table
    (all known references when there are no runs); labels and settings come from `collect`'s
    manifests, so no episode is read twice."""
    from importlib import metadata

    agents: list[str] = []
    envs: list[str] = []
    manifests: list[dict[str, Any]] = []
    source = "every method priorbench knows (no runs given or found)"
    refused: list[tuple[str, str]] = []
    if runs_root is not None and Path(runs_root).exists():
        groups, refused = collect(runs_root)
        if groups:
            envs = sorted({env for env, _ in groups})
            agents = sorted({agent for _, agent in groups})
            manifests = [run.manifest for runs in groups.values() for run in runs]
            source = ("the table's agents: "
                      + ", ".join(sorted({schema.base_agent(a) for a in agents})))
    if agents:
        keys, unknown = references(agents, envs, manifests)
    else:
        keys, unknown = list(dict.fromkeys([*SUITE_REFERENCES, *BIBTEX])), []
    try:
        version = metadata.version("priorbench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    out = [f"% BibTeX for priorbench and {source}"]
    out += [f"% no reference known for plug-in agent {a!r} (add `references` to its registration)"
            if _plugin(a) else f"% no reference known for agent {a!r}" for a in unknown]
    if refused:
        out.append(f"% {len(refused)} refused run(s) are not in the table and not cited "
                   "(`priorbench show` says why)")
    out += [BIBTEX[k].replace("{version}", version) for k in keys]
    return "\n\n".join(out) + "\n"

