"""How a prior's text becomes token ids: the prompt format (chat template, plain text ending in
"Action:", or raw) and the candidate's text after it. One place for both backends: the hf
backend runs the model on these ids; the openai backend (with `tokenizer` set) sends the same
ids to the server, so a served model scores exactly what the in-process one would."""

from __future__ import annotations

from typing import Any, Literal

from priorbench.core.errors import UserError

PromptFormat = Literal["auto", "chat", "plain", "raw"]


class PromptCodec:
    """Formats prompts and tokenizes prompts and candidates for one tokenizer."""

    def __init__(self, tokenizer: Any, prompt_format: PromptFormat = "auto", system_prompt: str | None = None,
                 *, model: str = "") -> None:
        self.tokenizer = tokenizer
        has_chat = bool(getattr(tokenizer, "chat_template", None))
        if prompt_format == "chat" and not has_chat:
            raise UserError(f"model {model!r} has no chat template; use prompt_format='plain'")
        self.prompt_format = ("chat" if has_chat else "plain") if prompt_format == "auto" else prompt_format
        self.chat = self.prompt_format == "chat"
        if system_prompt is not None and not self.chat:
            raise UserError(f"system_prompt applies to the chat format only; model {model!r} "
                            f"is prompted as {self.prompt_format!r} text: remove system_prompt")
        self.system_prompt = system_prompt

    def format(self, prompt: str) -> str:
        """The model-facing text: the chat template (with the assistant turn opened), plain, or raw."""
        if self.prompt_format == "chat":
            system = [] if self.system_prompt is None else [{"role": "system", "content": self.system_prompt}]
            return self.tokenizer.apply_chat_template(
                [*system, {"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        if self.prompt_format == "raw":
            return prompt
        return prompt + "\nAction:"

    def candidate_text(self, candidate: str) -> str:
        return " " + candidate if self.prompt_format == "plain" else candidate

    def encode_prompt(self, prompt: str) -> list[int]:
        return self.tokenizer(self.format(prompt), add_special_tokens=not self.chat)["input_ids"]

    def encode_candidate(self, candidate: str) -> list[int]:
        return self.tokenizer(self.candidate_text(candidate), add_special_tokens=False)["input_ids"]

    def provenance(self) -> dict[str, Any]:
        """What of the format changes the numbers (the system turn only when one is set)."""
        return {"prompt_format": self.prompt_format,
                **({"system_prompt": self.system_prompt} if self.system_prompt is not None and self.chat else {})}
