"""Saved LoRA adapters (`priorbench prior train --out DIR`): reading one back, checksum
verified, and merging it into a model's weights for inference (`HFPrior(adapter=DIR)`)."""

from __future__ import annotations

from typing import Any

from priorbench.core.errors import UserError

#: The files of a saved adapter folder (`priorbench prior train --out DIR`).
ADAPTER_FILE = "adapter.safetensors"
ADAPTER_MANIFEST = "manifest.json"


def read_adapter(folder: str) -> tuple[dict[str, Any], bytes]:
    """A saved adapter's manifest and weights, its checksum verified."""
    import hashlib
    import json
    from pathlib import Path

    root = Path(folder).expanduser()
    manifest_path, weights_path = root / ADAPTER_MANIFEST, root / ADAPTER_FILE
    if not manifest_path.is_file() or not weights_path.is_file():
        raise UserError(f"adapter {root} needs {ADAPTER_MANIFEST} and {ADAPTER_FILE} "
                        "(made by `priorbench prior train --out DIR`)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"adapter {root}: {ADAPTER_MANIFEST} is not valid JSON ({exc})") from None
    data = weights_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest.get("adapter_sha256"):
        raise UserError(f"adapter {root}: {ADAPTER_FILE} does not match its manifest's checksum; "
                        "the folder was changed after training")
    return manifest, data


def merge_adapter(model: Any, manifest: dict[str, Any], data: bytes) -> Any:
    """The model with a saved LoRA adapter merged into its weights (inference only)."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load

    lora = manifest["lora"]
    config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=0.0,
                        target_modules=list(lora["target_modules"]), fan_in_fan_out=lora["fan_in_fan_out"],
                        layers_to_transform=lora.get("layers"))
    wrapped = get_peft_model(model, config)
    result = set_peft_model_state_dict(wrapped, load(data))
    if getattr(result, "unexpected_keys", []):
        raise UserError("the adapter does not fit this model (unexpected keys); was it trained on another base?")
    return wrapped.merge_and_unload()
