"""Table labels and row ids, from a run's manifest: the agent's name with its prior's identity
in brackets, " from <row id>" for a run started from another's learned state, " @N steps" for
a reduced budget (`bench.schema` re-exports these names)."""

from __future__ import annotations

from typing import Any


def prior_label(prior: dict[str, Any]) -> str:
    """A prior's identity as tables show it, from its provenance: the model, its adapter (first 8
    hex digits of the adapter's sha256), and the prompt settings that change its distribution
    (calibration, numbered list) when not the plain ones; a SYNTHETIC prior's own label."""
    if prior.get("synthetic"):
        return str(prior.get("label") or "SYNTHETIC prior")
    parts = [str(prior.get("model_id") or prior.get("model") or prior.get("backend") or "prior")]
    adapter = prior.get("adapter")
    if isinstance(adapter, dict):
        parts[0] += f" + adapter {str(adapter.get('sha256', ''))[:8]}"
    if prior.get("calibration", "none") != "none":
        parts.append(f"calibration={prior['calibration']}")
    if prior.get("list_style", "comma") != "comma":
        parts.append(f"list_style={prior['list_style']}")
    return ", ".join(parts)


def agent_label(manifest: dict[str, Any]) -> str:
    """The agent's name as tables show it, with its prior's identity (`prior_label`) in brackets:
    two priors never share a row, and a controlled prior's runs never pass for a real prior's.
    A run started from another run's learned state (`init_from`) adds " from <that run's row
    id>" (`INIT_MARK`): it is never the row of runs that started from scratch."""
    name = str(manifest["agent"]["name"])
    prior = (manifest.get("agent_provenance") or {}).get("prior") or {}
    label = f"{name} [{prior_label(prior)}]" if isinstance(prior, dict) and prior else name
    source = (manifest.get("spec") or {}).get("init_from")
    if isinstance(source, dict) and source.get("label"):
        label += INIT_MARK + str(source["label"])
    return label


#: What joins a label to the row id of the run its runs started from (`init_from`).
INIT_MARK = " from "


def source_label(manifest: dict[str, Any]) -> str:
    """How a run started from a finished run names it: the row id (`row_id`) of that run's label
    with its budget ("…@3000"), whatever budget its own board calls full."""
    steps = int(manifest["spec"]["budget"]["steps"])
    return row_id(str(manifest["env"]["id"]), budget_label(agent_label(manifest), steps))


#: The namespace of priorbench's own envs, left out of row ids (`row_id`).
OWN_ENVS = "priorbench/"


def row_id(env: str, agent: str) -> str:
    """A row's stable name, from its env and table label alone (not its place in a build):
    `FrozenLake-4x4-v0:dqn-prior[smollm2-135m+adapter:0162b203]`, `...:cql@500`. The env id
    without priorbench's namespace, ":", then the label without spaces: the prior in brackets
    ("+adapter:" before an adapter's hash, "," between settings, "-" for other spaces, no
    parentheses), "+from:<row id>" for a run started from another's learned state (`init_from`),
    "@N" for a reduced budget. `reproduce`, `verify`, the site's anchors and
    verified.json use it (quote it in a shell: it has brackets)."""
    budget, init = budget_part(agent), init_part(agent)
    prior = prior_part(agent)
    text = base_agent(agent)
    if prior:
        text += "[" + prior.replace(" + adapter ", "+adapter:").replace(", ", ",").replace(" ", "-") + "]"
        text = text.replace("(", "").replace(")", "")  # no shell metacharacters but the brackets
    if init:
        text += "+from:" + init.removeprefix(INIT_MARK)
    if budget:
        text += "@" + budget.removeprefix(" @").removesuffix(" steps")
    return f"{env.removeprefix(OWN_ENVS)}:{text}"


def budget_label(label: str, steps: int) -> str:
    """The table label of runs trained on a smaller budget than their env's full one (the
    leaderboard keeps such rows in a table of their own): `agent_label` + " @N steps"."""
    return f"{label} @{steps} steps"


def budget_part(label: str) -> str:
    """The " @N steps" of a reduced-budget label (`budget_label`); "" for a full-budget one."""
    _, sep, tail = label.rpartition(" @")
    return sep + tail if sep and tail.endswith(" steps") and tail.split(" ", 1)[0].isdigit() else ""


def is_reduced(label: str) -> bool:
    """True when a table label is a reduced-budget row's (`budget_label`)."""
    return bool(budget_part(label))


def init_part(label: str) -> str:
    """The " from <row id>" of a run started from another's learned state (`agent_label`); ""
    for a run started from scratch. Row ids hold no spaces, so the mark is the last one."""
    head = label.removesuffix(budget_part(label))
    _, sep, source = head.rpartition(INIT_MARK)
    return sep + source if sep and source and " " not in source else ""


def _core(label: str) -> str:
    """A label without its budget and init parts: "<agent> [<prior>]"."""
    return label.removesuffix(budget_part(label)).removesuffix(init_part(label))


def base_agent(label: str) -> str:
    """The registered agent name of a table label (`agent_label` without the prior, the run it
    started from and the budget)."""
    return _core(label).split(" [", 1)[0]


def prior_part(label: str) -> str:
    """The prior of a table label (`agent_label`'s brackets); "" for an agent without one."""
    _, sep, rest = _core(label).partition(" [")
    return rest[:-1] if sep and rest.endswith("]") else ""


#: The prior of a prior agent's control row: the SYNTHETIC oracle at q = "uniform" (it knows
#: nothing, so the control shows what the decision rule alone does).
UNIFORM_CONTROL = "SYNTHETIC oracle (q=uniform)"


def is_control(label: str) -> bool:
    """True when a table label is a prior agent's uniform-prior control row."""
    return prior_part(label) == UNIFORM_CONTROL


def control_label(label: str) -> str:
    """The label of a prior row's control: the same agent and budget with the uniform prior
    (started from the same run's learned state, for a run that was: `init_part`)."""
    return f"{base_agent(label)} [{UNIFORM_CONTROL}]{init_part(label)}{budget_part(label)}"


def is_synthetic(label: str) -> bool:
    """True when a table label names a SYNTHETIC prior (`agent_label`)."""
    return " [SYNTHETIC" in label
