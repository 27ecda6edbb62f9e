"""Resumable state as data, never as code: a nested payload (dicts, lists, tuples, numbers,
strings, bytes, numpy arrays and scalars, torch tensors) written as one safetensors file whose
tensors are the payload's tensors and whose metadata holds the rest as JSON. No pickle: reading
a file can fail, but it cannot run anything.

Tags keep what JSON would lose: tuples stay tuples, dict keys that are not strings keep their
type, bytes and numpy values their dtype and bits, so a checkpoint restores exactly."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from priorbench.core.errors import UserError

_KEY = "priorbench_state"
FORMAT = "priorbench-state-v1"


def _encode(value: Any, tensors: dict[str, Any]) -> Any:
    import torch

    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and not isinstance(value, np.generic):
        return {"__float__": repr(value)} if isinstance(value, float) and not np.isfinite(value) else value
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().cpu().clone().contiguous()
        return {"__tensor__": name}
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        return {"__ndarray__": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii"),
                "dtype": array.dtype.str, "shape": list(array.shape), "scalar": isinstance(value, np.generic)}
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    raise TypeError(f"cannot store a {type(value).__name__} in a state file")


def _decode(value: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__ndarray__" in value:
        array = np.frombuffer(base64.b64decode(value["__ndarray__"]), dtype=np.dtype(value["dtype"]))
        array = array.reshape(value["shape"]).copy()
        return array[()] if value.get("scalar") else array
    if "__bytes__" in value:
        return base64.b64decode(value["__bytes__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value["__items__"]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def dumps(payload: Any) -> bytes:
    """The payload as the bytes of a safetensors file."""
    from safetensors.torch import save

    tensors: dict[str, Any] = {}
    data = _encode(payload, tensors)
    return save(tensors, metadata={_KEY: json.dumps({"format": FORMAT, "payload": data})})


def load(path: Path) -> Any:
    """Read a file written from `dumps`; a file that is not one is a UserError naming it."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
        return _payload(meta, tensors)
    except Exception as exc:  # any unreadable file is reported alike
        raise UserError(f"{path} is not a readable priorbench state file ({type(exc).__name__}: {exc})") from None


def loads(data: bytes, where: str) -> Any:
    """`load` of bytes already read (`paths.read_regular`: a file from another folder, which may
    be hostile); `where` names it in the error."""
    from safetensors.torch import load as load_tensors

    try:
        size = int.from_bytes(data[:8], "little")
        if len(data) < 8 or size > len(data) - 8:
            raise ValueError("its header is cut short")
        meta = json.loads(data[8:8 + size]).get("__metadata__") or {}
        return _payload(meta, load_tensors(data))
    except Exception as exc:  # any unreadable file is reported alike
        raise UserError(f"{where} is not a readable priorbench state file ({type(exc).__name__}: {exc})") from None


def _payload(meta: dict[str, Any], tensors: dict[str, Any]) -> Any:
    data = json.loads(meta[_KEY])
    if data.get("format") != FORMAT:
        raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
    return _decode(data["payload"], tensors)
