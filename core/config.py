"""Config building from plain data, canonical JSON, hashing and TOML reading (with clear errors)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from priorbench.core.errors import UserError
from priorbench.core.registry import close_matches

# --- typed construction of dataclasses from plain data -------------------------------------

@dataclasses.dataclass(frozen=True)
class Range:
    """A bound on a number setting, declared as `lr: Annotated[float, POSITIVE] = 1e-3`."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False

    def text(self) -> str:
        if self.hi is None:
            return f"{'>' if self.lo_open else '≥'} {_number(self.lo)}"
        if self.lo is None:
            return f"≤ {_number(self.hi)}"
        return f"in {'(' if self.lo_open else '['}{_number(self.lo)}, {_number(self.hi)}]"

    def holds(self, value: float) -> bool:
        above = self.lo is None or (value > self.lo if self.lo_open else value >= self.lo)
        return above and (self.hi is None or value <= self.hi)


POSITIVE = Range(0, lo_open=True)
NON_NEGATIVE = Range(0)
UNIT = Range(0, 1)
UNIT_OPEN = Range(0, 1, lo_open=True)


def at_most(hi: int, lo: int = 1) -> Range:
    """An integer setting from `lo` to `hi`: sizes (batches, buffers, widths, proposals) whose
    absurd values would allocate without bound, e.g. `k: Annotated[int, at_most(1024)]`."""
    return Range(lo, hi)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


#: Plain settings data (a spec file, --set values, a setting's table) nests no deeper than this.
MAX_DEPTH = 32


def check_plain(value: Any, where: str, key: str = "", depth: int = 0) -> None:
    """Refuse plain data no configuration needs: a float that is NaN or infinite (a setting
    must be a number; NaN is not JSON, and a run's records must never hold it) and nesting
    deeper than MAX_DEPTH (a hostile file would exhaust the interpreter's stack)."""
    if depth > MAX_DEPTH:
        raise UserError(f"{where}: {key or 'a value'} is nested more than {MAX_DEPTH} levels deep; "
                        "settings are flat values, lists and tables: flatten it")
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{where}: {key or 'a value'} must be a finite number, got {value!r}; "
                        "give an ordinary number")
    if isinstance(value, dict):
        for k, v in value.items():
            check_plain(v, where, f"{key}.{k}" if key else str(k), depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            check_plain(v, where, key, depth + 1)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check `value` against the annotation `tp`, converting lists to tuples and ints to floats."""
    origin = typing.get_origin(tp)
    bad = UserError(
        f"{where}: {key} must be {_type_name(tp)}, got {type(value).__name__} {value!r}"
    )
    check_plain(value, where, key)
    if tp is Any:
        return value
    if origin is typing.Annotated:
        base, *marks = typing.get_args(tp)
        value = _coerce(value, base, key, where)
        for mark in marks:
            if isinstance(mark, Range) and value is not None and not mark.holds(value):
                raise UserError(f"{where}: {key} must be {mark.text()}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is type(None) and value is None:
                return None
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key, where)
            except UserError:
                continue
        raise bad
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise UserError(f"{where}: {key} must be one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise bad
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        items = [_coerce(v, args[0], key, where) if args else v for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return build_config(tp, value, where=where, prefix=f"{key}.")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise bad
    return value


def build_config(cls: type, params: dict[str, Any], *, where: str, prefix: str = "") -> Any:
    """Instantiate dataclass `cls` from `params`, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls, include_extras=True)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - names)
    if unknown:
        key = unknown[0]
        raise UserError(
            f"{where}: unknown setting {prefix}{key!r}.{close_matches(key, sorted(names))} "
            f"Known settings: {', '.join(sorted(names)) or '(none)'}."
        )
    values = {k: _coerce(v, hints[k], prefix + k, where) for k, v in params.items()}
    return cls(**values)


def parse_value(text: str) -> Any:
    """A --set value: TOML syntax if it parses (numbers, booleans, lists), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise UserError(f"--set value {text[:40]!r}… is nested more than {MAX_DEPTH} levels deep; "
                        "settings are flat values, lists and tables: flatten it") from None


#: A settings file (a spec, the leaderboard's spec and protocol) larger than this is refused.
TOML_LIMIT = 1 << 20


def read_toml(path: Path, *, what: str) -> dict[str, Any]:
    """A TOML file as plain data; a missing, unreadable, oversized (TOML_LIMIT) or invalid file,
    or one whose values `check_plain` refuses, is a UserError naming `what`. A link given by the
    user is followed; a FIFO or device is refused."""
    from priorbench.core.paths import read_regular

    path = Path(path)
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be read ({exc.strerror}); check it and its permissions") from None
    if size > TOML_LIMIT:
        raise UserError(f"{what} {path} is {size} bytes, over the {TOML_LIMIT}-byte limit for a "
                        "settings file; give the file itself (envs, agents, seeds and settings)")
    raw = read_regular(path.resolve(), limit=TOML_LIMIT, fix=f"give the {what} itself")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{what} {path} is not UTF-8 text; save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{what} {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(f"{what} {path}: a value is nested more than {MAX_DEPTH} levels deep; "
                        "settings are flat values, lists and tables: flatten it") from None
    check_plain(data, f"{what} {path}")
    return data


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_hash(data: Any) -> str:
    """sha256 of the canonical JSON form: the identity of a run's configuration."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def config_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> str:
    """What differs between two configs, as `key: old → new` (at most three keys)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = config_changes(a, b, f"{prefix}{key}.")
            out += [inner] if inner else []
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} → {b!r}")
    return "; ".join(out[:3]) + ("; …" if len(out) > 3 else "")


#: The deepest nesting a JSON file we read may have (ours nest under 10 levels).
JSON_DEPTH = 64


def json_loads(data: bytes | str) -> Any:
    """`json.loads` for files we did not write: JSON nested deeper than JSON_DEPTH is a
    ValueError like any other malformed JSON (not a RecursionError later, in whatever walks
    it), so readers name the file in one line."""
    try:
        value = json.loads(data)
    except RecursionError:
        value = None
    else:
        opens = data.count(b"[") + data.count(b"{") if isinstance(data, bytes) else data.count("[") + data.count("{")
        if opens <= JSON_DEPTH:  # cannot nest deeper than it has brackets: nothing to walk
            return value
        level, stack = 0, [(value, 0)]
        while stack and level <= JSON_DEPTH:
            item, level = stack.pop()
            children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
        if level <= JSON_DEPTH:
            return value
    raise ValueError(f"nested more than {JSON_DEPTH} levels deep: not a file priorbench wrote")


def self_checksum(data: dict[str, Any], field: str) -> str:
    """sha256 of the canonical JSON of `data` without its own checksum `field` (a manifest
    that covers itself: an adapter's `manifest_sha256`, a dataset's `provenance_sha256`)."""
    return config_hash({k: v for k, v in data.items() if k != field})


def stamped_json(data: dict[str, Any], field: str) -> bytes:
    """`data` with `field` set to its `self_checksum`, as a JSON file's bytes (sorted, indented)."""
    return (json.dumps({**data, field: self_checksum(data, field)}, indent=2, sort_keys=True) + "\n").encode()
