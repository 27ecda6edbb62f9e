"""Run records: one folder per (env, agent, seed) with manifest.json, episodes.jsonl and a checkpoint.

The only module that writes run files. Manifests and checkpoints are replaced atomically
(write a temporary file, then rename); episode lines are appended with a single write, so a
killed process leaves at most one partial last line, which `read_episodes` repairs.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from priorbench.bench import schema
from priorbench.core import paths
from priorbench.core.config import json_loads
from priorbench.core.errors import UserError
from priorbench.core.paths import JSON_LIMIT, atomic_write_bytes, read_regular

SCHEMA_VERSION = schema.SCHEMA_VERSION
MANIFEST = "manifest.json"
EPISODES = "episodes.jsonl"
CHECKPOINT = "checkpoint"
LEGACY_CHECKPOINT = "state.pt"  # pickle: refused, never loaded
#: A finished run's learned state (kept on request: `Spec.keep_learned`), for `init_from`.
LEARNED = "learned.safetensors"
#: The largest learned-state file read from another run: the default Q head with its target and
#: Adam state is under 1 MB; the widest head the settings allow (hidden 16,384) about 200 MB.
LEARNED_LIMIT = 1 << 28
#: The largest episodes.jsonl read (the leaderboard's biggest is under 1 MB): a bigger one is
#: not a file priorbench wrote.
EPISODES_LIMIT = 1 << 30
#: How a refusal names a run that has not finished (`verify_run`): readers that wait for it match this.
UNFINISHED = "not 'complete'"
#: Episode fields that differ between identical runs and are ignored by determinism checks.
TIMING_FIELD = "timing"
#: Counters that depend on state outside the run (the persistent prior cache, an in-memory
#: memo rebuilt after a resume): kept under the timing field, beside wall time.
VOLATILE_COUNTERS = ("llm_calls", "llm_tokens", "cache_hits", "cache_misses", "trunk_hits", "trunk_misses",
                     "server_requests", "content_free_hits", "content_free_misses",
                     # per new state, so they move with what an evaluation saw first: the text
                     # encoder's cache, the oracle's and the free-text proposals' memo
                     "encoder_calls", "embedding_hits", "embedding_misses", "oracle_states",
                     "oracle_no_expert", "proposals_unmatched", "proposal_fallbacks")
#: Packages whose versions go into every manifest (those installed).
TRACKED_PACKAGES = (
    "priorbench", "gymnasium", "numpy", "torch", "transformers", "peft", "textworld",
    "alfworld", "sentence-transformers", "gguf",
)


def run_dir(out: Path, env_id: str, agent: str, seed: int) -> Path:
    """<out>/<env-id>/<agent>/seed<k> (the env id's namespace becomes a folder)."""
    return Path(out) / env_id / agent / f"seed{seed}"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically write a JSON file (sorted keys, stable bytes; NaN and infinities refused)."""
    atomic_write_bytes(path, (_dumps(data, path, indent=2) + "\n").encode())


def _dumps(data: Any, path: Path, **kwargs: Any) -> str:
    """JSON text of a record: strict JSON, so a non-finite number is an error naming the file."""
    try:
        return json.dumps(data, sort_keys=True, allow_nan=False, **kwargs)
    except ValueError:
        raise UserError(f"{path}: a record to write holds NaN or an infinity, which is not JSON; "
                        "nothing was written (report this with the agent's settings)") from None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str | None:
    """The priorbench source tree's commit, if it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def machine() -> dict[str, Any]:
    """Where a run ran. torch's thread count is part of it: float sums, and so a run's numbers,
    differ between 1 and 2 threads (every run pins it to `runner.RUN_THREADS`)."""
    import sys

    out: dict[str, Any] = {"platform": platform.platform(), "processor": platform.machine(),
                           "cpus": os.cpu_count()}
    if "torch" in sys.modules:
        out["torch_threads"] = int(sys.modules["torch"].get_num_threads())
    return out


@dataclass
class EpisodeLog:
    """What `read_episodes` found: the records, the valid byte length, and whether it repaired."""

    records: list[dict[str, Any]]
    valid_bytes: int
    dropped_partial_line: bool


def read_episodes(path: Path) -> EpisodeLog:
    """Parse episodes.jsonl. A partial last line (a killed append) is reported as dropped;
    a corrupt complete line is an error that names the file and line — nothing is deleted."""
    if not path.exists() and not path.is_symlink():
        return EpisodeLog([], 0, False)
    return parse_episodes(path, read_regular(path, limit=EPISODES_LIMIT))


def parse_episodes(path: Path, data: bytes) -> EpisodeLog:
    """`read_episodes` of bytes already read from `path`."""
    records: list[dict[str, Any]] = []
    offset = 0
    dropped = False
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        is_last = number == len(lines)
        if is_last:
            if line:  # no trailing newline: the append was cut short
                dropped = True
            break
        try:
            record = json_loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            raise UserError(
                f"{path} line {number} is corrupt (not a JSON object). The run cannot resume "
                "safely; move the run folder away or rerun with --force to start it over."
            ) from None
        records.append(record)
        offset += len(line) + 1
    return EpisodeLog(records, offset, dropped)


class RunRecord:
    """Writes one run's folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.manifest_path = self.path / MANIFEST
        self.episodes_path = self.path / EPISODES
        self.checkpoint_path = self.path / CHECKPOINT / "state.safetensors"
        self.learned_path = self.path / LEARNED

    # --- manifest ------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.exists() and not self.manifest_path.is_symlink():
            return None
        try:
            data = json_loads(read_regular(self.manifest_path, limit=JSON_LIMIT,
                                           fix="move the run folder away or rerun with --force"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return data
        except ValueError:
            raise UserError(
                f"{self.manifest_path} is corrupt; move the run folder away or rerun with --force"
            ) from None

    def write_manifest(self, manifest: schema.Manifest) -> None:
        write_json(self.manifest_path, manifest.to_json())

    def wipe(self) -> None:
        """Empty the run folder (only on an explicit --force); the folder itself stays, with
        its writer's lock. Links inside are removed, never followed."""
        if not self.path.is_dir():
            return
        for child in self.path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    # --- episodes ------------------------------------------------------------------------
    def append_episode(self, row: schema.Row) -> None:
        """Append one line with a single write(2) on an O_APPEND descriptor."""
        line = (_dumps(row.to_json(), self.episodes_path, ensure_ascii=False) + "\n").encode()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.episodes_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise paths.write_error(self.episodes_path, exc) from None
        try:
            written = os.write(fd, line)
            if written != len(line):  # a full disk can cut a write short: a partial last line
                raise OSError(28, "No space left on device")
        except OSError as exc:
            raise paths.write_error(self.episodes_path, exc) from None
        finally:
            os.close(fd)

    def truncate_episodes(self, length: int) -> None:
        """Cut episodes.jsonl back to `length` bytes: a checkpoint's position on resume."""
        if not self.episodes_path.exists():
            if length:
                raise UserError(f"{self.episodes_path} is missing but the checkpoint expects {length} bytes")
            return
        size = self.episodes_path.stat().st_size
        if size < length:
            raise UserError(
                f"{self.episodes_path} is shorter ({size} bytes) than its checkpoint expects "
                f"({length} bytes): records were lost. Rerun with --force to start the run over."
            )
        fd = os.open(self.episodes_path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            os.ftruncate(fd, length)
        finally:
            os.close(fd)

    def episodes_size(self) -> int:
        return self.episodes_path.lstat().st_size if self.episodes_path.exists() else 0

    # --- checkpoint ----------------------------------------------------------------------
    def save_checkpoint(self, payload: dict[str, Any]) -> None:
        """Tensors as safetensors, the rest as JSON in its metadata (`core.statefile`): no pickle."""
        from priorbench.core import statefile

        atomic_write_bytes(self.checkpoint_path, statefile.dumps(payload))

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The checkpoint, or None when there is none. A checkpoint in the old pickle format
        (state.pt) is never loaded: unpickling a file from a run folder could run code."""
        from priorbench.core import statefile

        legacy = self.checkpoint_path.with_name(LEGACY_CHECKPOINT)
        if not self.checkpoint_path.exists():
            if legacy.exists():
                raise UserError(f"{legacy} is a pickle checkpoint, which priorbench no longer loads "
                                "(it could run code); rerun with --force to start the run over")
            return None
        try:
            return statefile.load(self.checkpoint_path)
        except UserError as exc:
            raise UserError(f"{exc}; the run folder is left as it is: rerun with --force to start over") from None

    def save_learned(self, state: dict[str, Any]) -> str:
        """Store the agent's final learned state (`Agent.learned_state`); returns its sha256,
        which the manifest keeps (`Manifest.learned_sha256`)."""
        import hashlib

        from priorbench.core import statefile

        data = statefile.dumps(state)
        atomic_write_bytes(self.learned_path, data)
        return hashlib.sha256(data).hexdigest()

    def remove_checkpoint(self) -> None:
        """Drop the checkpoint of a finished run (its records are complete)."""
        if self.checkpoint_path.parent.exists():
            shutil.rmtree(self.checkpoint_path.parent)


def strip_timing(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Episode records without their timing field, for determinism comparisons; volatile
    counters are left out wherever they are (records made before a counter was known to be
    volatile — content_free_hits/misses: calibration runs only on prior-cache misses — keep it
    under `counters`)."""
    out = []
    for r in records:
        r = {k: v for k, v in r.items() if k != TIMING_FIELD}
        counters = r.get("counters")
        if isinstance(counters, dict) and any(k in VOLATILE_COUNTERS for k in counters):
            r["counters"] = {k: v for k, v in counters.items() if k not in VOLATILE_COUNTERS}
        out.append(r)
    return out


#: `diff_episodes`' tolerance for numbers: equal when |a − b| ≤ ABS_TOL + REL_TOL·|b| (float
#: sums that ran in another order differ by ~1e-9; a real change by far more).
REL_TOL = 1e-6
ABS_TOL = 1e-9


def diff_episodes(stored: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """How two runs' episode records differ, timing aside: `exact` (identical), `close` (equal
    but for numbers within REL_TOL/ABS_TOL) and `fields`: for each differing field (dotted path)
    the count of episodes where it differs, and the largest |difference| of a number."""
    fields: dict[str, dict[str, Any]] = {}

    def walk(a: Any, b: Any, key: str, close: list[bool]) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{key}.{k}" if key else k, close)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for x, y in zip(a, b, strict=True):
                walk(x, y, key, close)
        elif a != b:
            entry = fields.setdefault(key, {"episodes": 0, "max_abs_diff": 0.0})
            entry["episodes"] += 1
            numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
            if numbers:
                entry["max_abs_diff"] = max(entry["max_abs_diff"], abs(float(a) - float(b)))
            if not (numbers and abs(float(a) - float(b)) <= ABS_TOL + REL_TOL * abs(float(b))):
                close[0] = False

    close = [len(stored) == len(new)]
    for a, b in zip(strip_timing(stored), strip_timing(new), strict=False):
        walk(a, b, "", close)
    if len(stored) != len(new):
        fields["(episodes)"] = {"episodes": abs(len(stored) - len(new)), "max_abs_diff": 0.0}
    return {"exact": not fields, "close": close[0], "fields": fields}


#: Packages whose version must be the same in every run of one leaderboard row.
ROW_CONSISTENT_PACKAGES = ("priorbench",)


def _check_episodes(path: Path, episodes: list[dict[str, Any]]) -> None:
    for number, record in enumerate(episodes, start=1):
        schema.check_row(record, f"{path}: {EPISODES} line {number}")
    if not any(r["phase"] == "eval" for r in episodes):
        raise UserError(f"{path}: {EPISODES} holds no evaluation episodes")


def row_problems(row: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """Why each manifest of a leaderboard row is refused (None: it is not), in one pass over
    the row: mixed versions of ROW_CONSISTENT_PACKAGES or mixed configurations refuse every
    run of the row; a seed that appears twice refuses its runs."""
    def packages(m: Mapping[str, Any]) -> Mapping[str, Any]:
        p = m.get("packages")
        return p if isinstance(p, Mapping) else {}


    for name in ROW_CONSISTENT_PACKAGES:
        seen = sorted({str(packages(m).get(name, "unknown")) for m in row})
        if len(seen) > 1:
            return [f"mixed {name} versions in its leaderboard row ({', '.join(seen)}; this run: "
                    f"{packages(m).get(name, 'unknown')}); re-run the row with one version" for m in row]
    configs = {row_config(m.get("spec")) for m in row}
    if len(configs) > 1:
        return [f"its leaderboard row mixes {len(configs)} configurations (env kwargs, agent params or "
                "budget differ, not only the seed); keep one per runs folder"] * len(row)
    seeds = Counter(repr(m.get("seed")) for m in row)
    return [None if seeds[repr(m.get("seed"))] == 1 else
            f"seed {m.get('seed')} appears {seeds[repr(m.get('seed'))]} times in its leaderboard row "
            "(a copied run folder?); keep one" for m in row]


def _check_row(path: Path, manifest: dict[str, Any], row: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a run whose leaderboard row mixes versions, configurations or repeats a seed."""
    mine = next((i for i, m in enumerate(row) if m == manifest), None)
    problem = row_problems(row)[mine] if mine is not None else row_problems([*row, manifest])[-1]
    if problem is not None:
        raise UserError(f"{path}: {problem}")


def verify_run(
    path: Path, *, row: Sequence[Mapping[str, Any]] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load a finished run and check its schema and its episodes checksum; given the manifests
    of every run in its leaderboard row (`row`, this run's included), also that the row is not
    mixed: one version of each of ROW_CONSISTENT_PACKAGES, one configuration apart from the
    seed, and each seed once.

    Raises UserError naming the run and what is wrong (used by show, leaderboard build,
    reproduce and the runner).
    """
    import hashlib

    paths.refuse_links(path)
    record = RunRecord(path)
    manifest = record.read_manifest()
    if manifest is None:
        raise UserError(f"{path}: no {MANIFEST}")
    schema.Manifest.from_json(manifest, str(path))
    if manifest.get("status") != "complete":
        raise UserError(f"{path}: run status is {manifest.get('status')!r}, {UNFINISHED}")
    if not record.episodes_path.exists():
        raise UserError(f"{path}: no {EPISODES}")
    data = read_regular(record.episodes_path, limit=EPISODES_LIMIT)
    if hashlib.sha256(data).hexdigest() != manifest.get("episodes_sha256"):
        raise UserError(f"{path}: {EPISODES} checksum does not match the manifest (edited or mixed)")
    episodes = parse_episodes(record.episodes_path, data).records
    _check_episodes(path, episodes)
    if manifest.get("learned_sha256") is not None:
        try:
            kept = read_regular(record.learned_path, limit=LEARNED_LIMIT, fix="rerun with --force")
        except FileNotFoundError:
            raise UserError(f"{path}: its manifest names a kept learned state but {LEARNED} is missing") from None
        if hashlib.sha256(kept).hexdigest() != manifest["learned_sha256"]:
            raise UserError(f"{path}: {LEARNED} does not match the manifest's learned_sha256 (edited or mixed)")
    if row is not None:
        _check_row(path, manifest, row)
    return manifest, episodes


#: The facts of `source_facts` that name one source run (one seed's), not the source's row.
PER_SOURCE_RUN = ("run", "seed", "episodes_sha256", "learned_sha256")


def row_config(spec: Any) -> str:
    """The hash of a run's spec as its row shares it: without the seed, and without the parts of
    `init_from` that name one source run (each seed starts from its own)."""
    from priorbench.core.config import config_hash

    if not isinstance(spec, dict):
        return config_hash(None)
    spec = {k: v for k, v in spec.items() if k != "seed"}
    if isinstance(spec.get("init_from"), dict):
        spec["init_from"] = {k: v for k, v in spec["init_from"].items() if k not in PER_SOURCE_RUN}
    return config_hash(spec)


def source_facts(source: Path) -> dict[str, Any]:
    """What a run started from `source` (`Spec.init_from`) records of it, from its manifest: its
    folder (<env-id>/<agent>/seed<k>), env, row id (`schema.source_label`), agent, steps and
    the checksums of its episodes and of its kept learned state."""
    source = Path(source)
    manifest = RunRecord(source).read_manifest() if source.is_dir() else None
    if manifest is None:
        raise UserError(f"init_from: {source} is not a run folder; give the folder of a finished run "
                        "(<out>/<env-id>/<agent>/seed<k>) made with keep_learned = true")
    schema.Manifest.from_json(manifest, str(source))
    if manifest.get("status") != "complete":
        raise UserError(f"init_from: {source} is not a finished run (status {manifest.get('status')!r})")
    if manifest.get("learned_sha256") is None:
        raise UserError(f"init_from: {source} kept no learned state; run it again with keep_learned = true "
                        "(--set keep_learned=true) and --force")
    env_id, agent = str(manifest["env"]["id"]), str(manifest["agent"]["name"])
    return {"run": f"{env_id}/{agent}/seed{manifest['seed']}", "env": env_id, "label": schema.source_label(manifest),
            "agent": agent, "config": row_config(manifest["spec"]), "seed": manifest["seed"],
            "env_steps": manifest["final_env_steps"], "episodes_sha256": manifest["episodes_sha256"],
            "learned_sha256": manifest["learned_sha256"]}


def read_learned(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A finished run's kept learned state (`init_from`) and its `source_facts`; the source is
    verified like any run, its state file against its manifest's checksum."""
    import hashlib

    from priorbench.core import statefile

    facts = source_facts(source)
    verify_run(Path(source))
    path = RunRecord(Path(source)).learned_path
    data = read_regular(path, limit=LEARNED_LIMIT, fix="give the folder of a run priorbench made")
    if hashlib.sha256(data).hexdigest() != facts["learned_sha256"]:
        raise UserError(f"init_from: {path} does not match its manifest's learned_sha256 (edited or mixed)")
    state = statefile.loads(data, str(path))
    if not isinstance(state, dict):
        raise UserError(f"init_from: {path} does not hold an agent's learned state")
    return state, facts


def find_runs(root: Path) -> list[Path]:
    """Every run folder (one holding a manifest) under `root`, sorted. A linked folder below
    `root` is listed too, never entered: `verify_run` refuses it by name, so it is not
    silently left out."""
    root = Path(root)
    if (root / MANIFEST).exists() or (root / MANIFEST).is_symlink():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        if MANIFEST in files:
            found.append(here)
        found += [here / d for d in dirs if (here / d).is_symlink()]
    return sorted(found)
