"""Versioned prompt templates per env family: task, short history, observation, commands, instruction.

The template's name and version go into every run manifest; change the version whenever the
text changes, since cached prior outputs are keyed by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PromptParts:
    """What a prompt was rendered from, so a prior can render variants of it (calibration)."""

    template: PromptTemplate
    task: str
    observation: str
    admissible: tuple[str, ...]
    history: tuple[tuple[str, str], ...] = ()


class Prompt(str):
    """A rendered prompt (the text) that remembers its parts."""

    parts: PromptParts | None

    def __new__(cls, text: str, parts: PromptParts | None = None) -> Prompt:
        obj = super().__new__(cls, text)
        obj.parts = parts
        return obj


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    preamble: str
    instruction: str = "Reply with exactly one of the admissible actions and nothing else."

    def render(
        self,
        task: str,
        observation: str,
        admissible: Sequence[str],
        history: Sequence[tuple[str, str]] = (),
        *,
        list_style: str = "comma",
    ) -> Prompt:
        """The user message: preamble, task, recent (observation, action) pairs, now, commands
        (one comma-separated line, or numbered one per line)."""
        lines = [self.preamble, f"Task: {task}"]
        if history:
            lines.append("Recent history:")
            lines += [f"- You saw: {obs}\n  You did: {act}" for obs, act in history]
        lines.append(f"Observation: {observation}")
        if list_style == "numbered":
            lines.append("Admissible actions:")
            lines += [f"{i}. {command}" for i, command in enumerate(admissible, 1)]
        else:
            lines.append("Admissible actions: " + ", ".join(admissible))
        lines.append(self.instruction)
        parts = PromptParts(self, task, observation, tuple(admissible), tuple(tuple(h) for h in history))
        return Prompt("\n".join(lines), parts)

    @property
    def id(self) -> str:
        return f"{self.name}-v{self.version}"


TEMPLATES: dict[str, PromptTemplate] = {
    t.name: t
    for t in (
        PromptTemplate("frozenlake", 1, "You are walking on a frozen lake with holes in the ice."),
        PromptTemplate("overcooked", 1, "You are a cook in a small kitchen preparing a salad."),
        PromptTemplate("alfworld", 1, "You are a household robot in a simulated home."),
        PromptTemplate("textworld", 1, "You are playing a text adventure game."),
        PromptTemplate("scienceworld", 1, "You are a scientist doing an experiment in a simulated world."),
        PromptTemplate("babyai", 1, "You are an agent in a grid world of rooms, walls, doors, keys, balls and "
                                    "boxes; you see the part in front of you and to your sides."),
        PromptTemplate("generic", 1, "You are playing a text game."),
    )
}


def template_for(env_id: str) -> PromptTemplate:
    """The template of the prompt family registered with the env (envs.EnvInfo), else generic."""
    from priorbench import envs

    info = envs.INFO.get(env_id)
    return TEMPLATES[info.prompt_family] if info is not None else TEMPLATES["generic"]


def fit_prompt(
    template: PromptTemplate,
    count_tokens,
    context_length: int,
    task: str,
    observation: str,
    admissible: Sequence[str],
    history: Sequence[tuple[str, str]],
    reserve: int = 32,
) -> str:
    """Render a prompt that fits the context: drop the oldest history first, then give up clearly."""
    from priorbench.core.errors import UserError

    history = list(history)
    while True:
        prompt = template.render(task, observation, admissible, history)
        if count_tokens(prompt) + reserve <= context_length:
            return prompt
        if not history:
            raise UserError(
                f"the {template.id} prompt does not fit the prior's context of {context_length} "
                "tokens even without history; use a prior with a longer context or shorter observations"
            )
        history.pop(0)
