"""Files and folders: the cache root, file hashing, atomic writes and folders, temporary env vars."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from priorbench.core.errors import UserError

#: The environment variable that moves priorbench's cache (models, games, the prior cache).
CACHE_ENV_VAR = "PRIORBENCH_CACHE"


def cache_root() -> Path:
    """priorbench's cache folder: `$PRIORBENCH_CACHE` (with `~` expanded), else ~/.cache/priorbench."""
    root = os.environ.get(CACHE_ENV_VAR)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "priorbench"


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """sha256 of one file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: Sequence[Path]) -> str:
    """One sha256 over several files (each file's name, then its bytes; sorted by path)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def staging_folder(parent: Path, *, prefix: str = ".tmp-") -> Iterator[Path]:
    """A private temporary folder inside `parent`, removed (with whatever is left in it) at exit.

    Its name carries the builder's process id; folders of the same prefix left by a process
    that no longer runs (a kill -9 mid-build) are removed first."""
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(parent, prefix)
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_out_folder(path: Path, flag: str) -> None:
    """Refuse an output folder that is a file or sits under one, or whose nearest existing
    parent cannot be written, before any work starts (nothing is created here)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path} is a file; give a folder (it is made if missing)")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is a file, so no folder can be made there; give another folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {parent} is not writable; give a folder you can write to")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or an id no process can have
        return False
    except PermissionError:  # another user's process
        return True
    return True


#: A staging folder untouched this long whose process is gone is left over from a kill.
STALE_AFTER_S = 60.0


def remove_stale_staging(parent: Path, prefix: str) -> list[Path]:
    """Remove `parent`/`prefix`<pid>-* folders whose process is gone and that were not touched
    for STALE_AFTER_S (the age guards a builder in another PID namespace sharing the folder);
    returns what was removed."""
    import time

    removed = []
    for path in parent.glob(f"{prefix}*"):
        pid, sep, _ = path.name[len(prefix):].partition("-")
        if not (path.is_dir() and sep and pid.isdigit()) or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        if time.time() - path.stat().st_mtime > STALE_AFTER_S:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextmanager
def atomic_folder(target: Path, *, prefix: str = ".tmp-") -> Iterator[Path]:
    """Build a folder aside and move it to `target` in one rename: never a half-written folder.

    Yields the staging folder (in `target`'s parent). If another process moved a folder to
    `target` first, theirs is kept and ours discarded, so concurrent builders do not fail.
    """
    with staging_folder(target.parent, prefix=prefix) as work:
        yield work
        try:
            os.replace(work, target)
        except OSError:
            if not target.is_dir():
                raise
        else:
            os.chmod(target, 0o755)  # mkdtemp makes 0700 folders; a cache is shared by its users


@contextmanager
def temporary_env(name: str, value: str) -> Iterator[None]:
    """Set the environment variable `name` to `value` for a while, then restore it."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
