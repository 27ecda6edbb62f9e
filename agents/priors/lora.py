"""Saved LoRA adapters (`priorbench prior train --out DIR`): their manifest's schema, reading one
back (every field typed, the manifest's and the weights' checksums verified), and merging it
into a model's weights for inference (`HFPrior(adapter=DIR)`).

`adapter_sha256` covers the weights and is the adapter's identity in run records;
`manifest_sha256` (since issue 29) covers the whole manifest but itself — base model, env ids,
env settings, task ids, seed, LoRA settings and `adapter_sha256` — so a manifest edited after
training is refused. An adapter without it was made by an older priorbench: make it again, or
re-stamp a trusted one once with `stamp_manifest` (see its docstring)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from priorbench.core.config import (
    POSITIVE,
    Range,
    build_config,
    json_loads,
    self_checksum,
    stamped_json,
)
from priorbench.core.errors import UserError

#: The files of a saved adapter folder (`priorbench prior train --out DIR`).
ADAPTER_FILE = "adapter.safetensors"
ADAPTER_MANIFEST = "manifest.json"
#: The largest LoRA rank `prior train` makes or a manifest may name.
MAX_LORA_R = 1024
#: The size past which an adapter's weights file is refused as not one priorbench wrote.
WEIGHTS_LIMIT = 4 << 30
#: How to make an adapter, for the messages that refuse one.
MAKE_IT = "make it again with `priorbench prior train --env ID --out DIR`"


@dataclass(frozen=True)
class LoraSettings:
    r: Annotated[int, Range(1, MAX_LORA_R)]
    alpha: Annotated[float, POSITIVE]
    target_modules: tuple[str, ...]
    fan_in_fan_out: bool
    layers: tuple[Annotated[int, Range(0)], ...] | None = None  # absent: every layer


@dataclass(frozen=True)
class AdapterBase:
    prior: str
    params: dict
    model_id: str
    weights_sha256: str


@dataclass(frozen=True)
class AdapterManifest:
    """manifest.json of a saved adapter: every field and its type."""

    kind: Literal["priorbench-adapter"]
    version: Literal[1]
    base: AdapterBase
    lora: LoraSettings
    env_ids: tuple[str, ...]
    env_kwargs: dict
    split: str
    task_ids: dict
    states: Annotated[int, Range(1)]
    data_sha256: str
    templates: tuple[str, ...]
    normalization: str
    seed: Annotated[int, Range(0)]
    steps: Annotated[int, Range(1)]
    lr: Annotated[float, POSITIVE]
    batch_size: Annotated[int, Range(1)]
    losses: dict
    adapter_sha256: str
    cpu_seconds: float
    wall_seconds: float
    manifest_sha256: str


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the manifest without its `manifest_sha256`."""
    return self_checksum(manifest, "manifest_sha256")


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest, stamped with its checksum, as manifest.json's bytes."""
    return stamped_json(manifest, "manifest_sha256")


def stamp_manifest(folder: str | Path) -> bool:
    """Add `manifest_sha256` to a trusted adapter made before it existed (its weights and every
    other field unchanged; the weights' checksum is verified first). Run once per folder:

        python -c "from priorbench.agents.priors.lora import stamp_manifest as s; s('DIR')"

    Returns whether the manifest changed."""
    from priorbench.core.paths import JSON_LIMIT, atomic_write_bytes, read_regular, sha256_file

    root = Path(folder)
    manifest = json.loads(read_regular(root / ADAPTER_MANIFEST, limit=JSON_LIMIT))
    if sha256_file(root / ADAPTER_FILE) != manifest["adapter_sha256"]:
        raise UserError(f"adapter {root}: {ADAPTER_FILE} does not match adapter_sha256; not stamping it")
    if manifest.get("manifest_sha256") == manifest_checksum(manifest):
        return False
    atomic_write_bytes(root / ADAPTER_MANIFEST, manifest_bytes(manifest))
    read_adapter(str(root))
    return True


def missing_field(cls: type, data: dict[str, Any], prefix: str = "") -> str | None:
    """The first required field of dataclass `cls` (nested dataclasses included) not in `data`."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                return prefix + f.name
        elif dataclasses.is_dataclass(hints[f.name]) and isinstance(data[f.name], dict):
            missing = missing_field(hints[f.name], data[f.name], f"{prefix}{f.name}.")
            if missing:
                return missing
    return None


def _check_fields(data: dict[str, Any], where: str) -> None:
    missing = missing_field(AdapterManifest, data)
    if missing:
        raise UserError(f"{where} has no {missing!r}; it is not one `priorbench prior train` wrote: {MAKE_IT}")
    parsed = build_config(AdapterManifest, data, where=where)
    if not parsed.env_ids or not parsed.lora.target_modules:
        raise UserError(f"{where}: env_ids and lora.target_modules must not be empty; {MAKE_IT}")


#: Bytes per element of the safetensors dtypes an adapter may hold.
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}


def _check_weights(data: bytes, lora: dict[str, Any], where: str) -> None:
    """The safetensors header of the weights, read without a framework: every tensor a LoRA A
    or B matrix of the manifest's rank, its bytes inside the file."""
    import io

    from priorbench.agents.priors.models import safetensors_header

    bad = f"{where} is not a LoRA adapter's safetensors file"
    header = safetensors_header(io.BytesIO(data), len(data))
    if not header:
        raise UserError(f"{bad} (no readable header, or no tensors); {MAKE_IT}")
    for name, entry in header.items():
        shape, (begin, end) = entry["shape"], entry["data_offsets"]
        if not (len(shape) == 2 and entry["dtype"] in _DTYPE_BYTES
                and end - begin == shape[0] * shape[1] * _DTYPE_BYTES[entry["dtype"]]):
            raise UserError(f"{bad} (tensor {name!r} is malformed); {MAKE_IT}")
        rank = shape[0] if ".lora_A." in name else shape[1] if ".lora_B." in name else None
        if rank is None:
            raise UserError(f"{bad} ({name!r} is no LoRA A or B matrix); {MAKE_IT}")
        if rank != lora["r"]:
            raise UserError(f"{where}: tensor {name!r} has rank {rank}, the manifest says r = {lora['r']}; {MAKE_IT}")


def read_adapter(folder: str) -> tuple[dict[str, Any], bytes]:
    """A saved adapter's manifest (every field typed) and weights, both checksums verified."""
    from priorbench.core.paths import JSON_LIMIT, read_regular

    root = Path(folder).expanduser()
    manifest_path, weights_path = root / ADAPTER_MANIFEST, root / ADAPTER_FILE
    if not manifest_path.is_file() or not weights_path.is_file():
        raise UserError(f"adapter {root} needs {ADAPTER_MANIFEST} and {ADAPTER_FILE} "
                        "(made by `priorbench prior train --out DIR`)")
    try:
        manifest = json_loads(read_regular(manifest_path, limit=JSON_LIMIT))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"adapter {root}: {ADAPTER_MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{manifest_path} is not a JSON object; {MAKE_IT}")
    if "manifest_sha256" not in manifest:
        raise UserError(f"adapter {root} was made by an older priorbench (its manifest has no "
                        f"checksum); {MAKE_IT}")
    _check_fields(manifest, str(manifest_path))
    if manifest["manifest_sha256"] != manifest_checksum(manifest):
        raise UserError(f"adapter {root}: {ADAPTER_MANIFEST} does not match its checksum; "
                        f"the manifest was changed after training: {MAKE_IT}")
    data = read_regular(weights_path, limit=WEIGHTS_LIMIT)
    if hashlib.sha256(data).hexdigest() != manifest.get("adapter_sha256"):
        raise UserError(f"adapter {root}: {ADAPTER_FILE} does not match its manifest's checksum; "
                        "the folder was changed after training")
    _check_weights(data, manifest["lora"], str(weights_path))
    return manifest, data


def merge_adapter(model: Any, manifest: dict[str, Any], data: bytes) -> Any:
    """The model with a saved LoRA adapter merged into its weights (inference only)."""
    import torch
    from peft import (
        LoraConfig,
        get_peft_model,
        get_peft_model_state_dict,
        set_peft_model_state_dict,
    )
    from safetensors import SafetensorError
    from safetensors.torch import load

    lora = manifest["lora"]
    config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=0.0,
                        target_modules=list(lora["target_modules"]), fan_in_fan_out=lora["fan_in_fan_out"],
                        layers_to_transform=lora.get("layers"))
    try:
        weights = load(data)
    except SafetensorError as exc:
        raise UserError(f"the adapter's {ADAPTER_FILE} cannot be read ({exc}); {MAKE_IT}") from None
    if not all(bool(torch.isfinite(t).all()) for t in weights.values()):
        raise UserError(f"the adapter's {ADAPTER_FILE} holds non-finite weights (NaN or inf); {MAKE_IT}")
    try:
        wrapped = get_peft_model(model, config)
    except ValueError as exc:  # peft: the target modules are not in this model
        raise UserError(f"the adapter does not fit this model ({exc}); was it trained on another base?") from None
    expected = set(get_peft_model_state_dict(wrapped, save_embedding_layers=False))
    if set(weights) != expected:
        raise UserError("the adapter does not fit this model (its tensors are not the LoRA's); "
                        "was it trained on another base?")
    try:
        result = set_peft_model_state_dict(wrapped, weights)
    except RuntimeError:  # a tensor of the wrong shape
        raise UserError("the adapter does not fit this model (tensor shapes differ); "
                        "was it trained on another base?") from None
    if getattr(result, "unexpected_keys", []):
        raise UserError("the adapter does not fit this model (unexpected keys); was it trained on another base?")
    return wrapped.merge_and_unload()
