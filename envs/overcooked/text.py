"""The text of Overcooked: observations and the commands as TWOSOME words them (obs2text).

Pure functions of the rules and a KitchenState; the wording and its sources are in
docs/envs/overcooked.md (Observation, Commands).
"""

from __future__ import annotations

from collections.abc import Iterable

from priorbench.envs.overcooked.kitchen import BOWL, FOODS, ORDINALS, KitchenState, join_words
from priorbench.envs.overcooked.rules import KitchenRules


def with_article(item: str) -> str:
    return ("an " if item[0] in "aeiou" else "a ") + item


def board(rules: KitchenRules, k: int) -> str:
    if len(rules.kitchen.knives) == 1:
        return "the cutting board"
    return f"the {ORDINALS[k]} cutting board"


def thing(rules: KitchenRules, s: KitchenState, item: str) -> str:
    if item == BOWL:
        contents = [f for f in FOODS if f in s.in_bowl]
        return f"a bowl containing chopped {join_words(contents)}" if contents else "an empty bowl"
    return ("a chopped " if rules.chopped(s, item) else "an unchopped ") + item


def describe(rules: KitchenRules, s: KitchenState) -> str:
    """The observation: what the agent sees at the end of a macro-action."""
    kitchen = rules.kitchen
    n = len(kitchen.knives)
    parts = ["There is a fixed cutting board in the room." if n == 1
             else "There are two fixed cutting boards in the room."]
    items = [*kitchen.foods, BOWL]
    noticed = [with_article(i) for i in items
               if rules.pos(s, i) == kitchen.starts[i] and rules.visible(s, rules.pos(s, i))]
    if len(noticed) == 1:
        parts.append(f"You notice {noticed[0]} on a table.")
    elif noticed:
        parts.append(f"You notice {join_words(noticed)} on the different tables.")
    for k, knife in enumerate(kitchen.knives):
        on = s.on_knife[k]
        if on is not None and rules.visible(s, knife):
            parts.append(f"{board(rules, k).capitalize()} holds {thing(rules, s, on)}.")
    k = rules.facing_knife(s)
    if k is not None:
        parts.append(f"You are standing in front of {board(rules, k)}.")
    if s.held is None:
        parts.append("Currently you don't have anything in hand.")
    else:
        parts.append(f"Currently you are holding {thing(rules, s, s.held)}.")
    return " ".join(parts)


def phrase(rules: KitchenRules, s: KitchenState, macro: str) -> str:
    """The command for a macro-action as TWOSOME words it in the current state."""
    if macro == "get plate 1":
        if len(rules.kitchen.knives) == 1:
            return "take the bowl"
        full_in_view = bool(s.in_bowl) and (s.held == BOWL or rules.knife_of(s, BOWL) is not None) \
            and rules.visible(s, rules.pos(s, BOWL))
        return "take the bowl" if full_in_view else "take the empty bowl"
    if macro.startswith("get "):
        food = macro[len("get "):]
        return f"put the {food} in the bowl" if s.held == BOWL else f"pick up the {food}"
    if macro.startswith("go to knife "):
        name = board(rules, int(macro.rsplit(" ", 1)[1]) - 1)
        if s.held == BOWL or (s.held is not None and not rules.chopped(s, s.held)):
            return f"put the {s.held} on {name}"
        return f"walk to {name}"
    if macro == "deliver":
        return "serve nothing" if s.held is None else "serve the dish"
    k = rules.facing_knife(s)
    on = None if k is None else s.on_knife[k]
    return f"chop the {on}" if on is not None and on != BOWL else "chop nothing"


def commands(rules: KitchenRules, s: KitchenState, macros: Iterable[str]) -> dict[str, str]:
    """Admissible command → macro-action, in TWOSOME's order."""
    return {phrase(rules, s, m): m for m in macros}


def invalid_command(admissible: Iterable[str], description: str) -> str:
    """The answer to a command that is neither admissible nor an alias."""
    return ("Nothing happens: that is not one of the actions you can take now ("
            + ", ".join(admissible) + "). " + description)


def served(rules: KitchenRules, s: KitchenState) -> str:
    """The last observation, after the correct delivery."""
    return (f"You serve {thing(rules, s, BOWL)}: the {rules.recipe.dish} is done. "
            "The episode is over.")
