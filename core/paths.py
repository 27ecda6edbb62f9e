"""Files and folders: the cache root, file hashing, atomic writes and folders, temporary env vars."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from priorbench.core.errors import UserError

#: The environment variable that moves priorbench's cache (models, games, the prior cache).
CACHE_ENV_VAR = "PRIORBENCH_CACHE"


def cache_root() -> Path:
    """priorbench's cache folder: `$PRIORBENCH_CACHE` (with `~` expanded), else ~/.cache/priorbench.
    A user with no home (neither `HOME` nor a passwd entry, as in many containers) is one line
    asking for PRIORBENCH_CACHE."""
    root = os.environ.get(CACHE_ENV_VAR)
    try:
        return Path(root).expanduser() if root else Path.home() / ".cache" / "priorbench"
    except RuntimeError:  # Path.home() / expanduser(): "Could not determine home directory."
        raise UserError(f"priorbench's cache has no place: {CACHE_ENV_VAR} is {'unset' if not root else repr(root)}, "
                        f"HOME is unset and user id {os.getuid()} has no passwd entry; set "
                        f"{CACHE_ENV_VAR} to a folder you can write to (e.g. {CACHE_ENV_VAR}=/tmp/priorbench-cache)") from None


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


def write_error(path: Path, exc: OSError) -> UserError | OSError:
    """A write to `path` that failed, as the one line a user can act on: a full disk or quota
    and a read-only place name the path and the fix; other errors are returned unchanged."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(f"{path}: the disk is full (no space left on device); free space there, or "
                         "give another folder, then run the same command again (a run resumes where it stopped)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(f"{path} cannot be written ({exc.strerror}); give a folder you can write to")
    return exc


def library_write_error(path: Path, exc: BaseException) -> BaseException:
    """`write_error` for a library that reports a failed write as text, not as an OSError
    (safetensors: "... (os error 28)"; HDF5: "errno = 28"; a child's "[Errno 28]"): the one line for a full disk or a
    read-only place, else `exc` unchanged."""
    import re

    if isinstance(exc, OSError):
        return write_error(path, exc)
    found = re.search(r"os error (\d+)\)|errno = (\d+)|\[Errno (\d+)\]", str(exc))
    if found:
        code = int(next(g for g in found.groups() if g))
        mapped = write_error(path, OSError(code, os.strerror(code)))
        if isinstance(mapped, UserError):
            return mapped
    return exc


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and one rename (a
    link at `path` is replaced, never followed). A failed write leaves no temporary file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None
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


def write_folder(target: Path, write: Callable[[Path], None], *, prefix: str = ".tmp-") -> Path:
    """Build `target` by `write(staging folder)` aside and move it in (`atomic_folder`). A failed
    write (a full disk, a read-only place; also when a library reports it as text) is one line
    naming `target`; the staged copy is removed either way."""
    try:
        with atomic_folder(target, prefix=prefix) as work:
            write(work)
    except Exception as exc:
        mapped = library_write_error(target, exc)
        if mapped is exc:
            raise
        raise mapped from None
    return target


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


# --- files we read may be hostile: regular files only, bounded sizes ------------------------

#: Sizes past which a file priorbench reads is refused as absurd (a manifest, a JSON side file).
JSON_LIMIT = 64 << 20


def read_regular(path: Path, *, limit: int, fix: str = "replace it with the file itself") -> bytes:
    """The bytes of `path`, which must be a regular file (not a link, FIFO or device) of at
    most `limit` bytes; anything else is a UserError naming the path. The file is opened
    without following a link and without blocking on a FIFO, then checked by its descriptor."""
    import stat

    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if path.is_symlink():
            raise UserError(f"{path} is a symbolic link; priorbench reads no links here: {fix}") from None
        raise UserError(f"{path} cannot be read ({exc.strerror}); check it and its permissions") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{path} is not a regular file (a FIFO, device or folder); {fix}")
        if info.st_size > limit:
            raise UserError(f"{path} is {info.st_size} bytes, over the {limit}-byte limit for this file; "
                            "it is not one priorbench wrote: move it away")
        chunks, left = [], info.st_size + 1
        while left > 0:
            block = os.read(fd, min(left, 1 << 22))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
        data = b"".join(chunks)
        if len(data) > info.st_size:  # it grew while we read: still bounded
            raise UserError(f"{path} changed while it was read; read it again when nothing writes it")
        return data
    finally:
        os.close(fd)


def refuse_linked_parts(base: Path, path: Path) -> None:
    """Refuse `path` when a folder between `base` (trusted: the user gave it) and it is a link,
    so nothing written at `path` lands outside `base`."""
    base, path = Path(base), Path(path)
    for part in [path, *path.parents]:
        if part == base or part in base.parents:
            break
        if part.is_symlink():
            raise UserError(f"{part} is a symbolic link; priorbench writes no file through a link "
                            f"below {base}: replace it with a folder or move it away")


def refuse_links(folder: Path, *, what: str = "run folder") -> None:
    """Refuse a folder that is, or holds anywhere below it, a symbolic link or anything but
    folders and regular files: priorbench follows no link out of a folder it writes or reads."""
    import stat

    folder = Path(folder)
    if folder.is_symlink():
        raise UserError(f"{folder} is a symbolic link; priorbench follows no links in a {what}: "
                        "give the folder itself")
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                raise UserError(f"{path} is a symbolic link; priorbench follows no links in a {what}: "
                                "replace it with the file itself or move the folder away")
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise UserError(f"{path} is not a regular file (a FIFO, socket or device); "
                                f"a {what} holds files and folders only: remove it")
            if stat.S_ISREG(mode) and os.lstat(path).st_nlink > 1:  # a write would reach the other names
                raise UserError(f"{path} has other hard links, so writing it would change a file outside "
                                f"the {what}; give it its own copy (cp {path} {path}.own && mv {path}.own {path})")


# --- one writer per folder -------------------------------------------------------------------

def _flock_holder(fd: int) -> int | None:
    """The pid that holds a flock on the file behind `fd` (Linux's /proc/locks), if known."""
    info = os.fstat(fd)
    want = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if "FLOCK" in parts and want in parts:
            pid = parts[parts.index(want) - 1]
            if pid.isdigit() and int(pid) != os.getpid():
                return int(pid)
    return None


@contextmanager
def folder_lock(folder: Path, flag: str) -> Iterator[Path]:
    """Hold `folder` (made if missing) for one writer: an exclusive flock on the folder itself.

    A second writer is refused at once with a UserError naming the folder and the holder's
    pid. The kernel drops the lock when its process ends, however it ends, so a dead writer's
    lock is simply taken over; nothing is written into the folder for the lock. Child
    processes (workers) share the holder's lock. If the work fails, the folders made here are
    removed again while they are empty (a refused run leaves nothing behind)."""
    import fcntl

    folder = Path(folder)
    if folder.is_symlink():
        raise UserError(f"{flag} {folder} is a symbolic link; give the folder itself")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder} is a file, not a folder; move it away or give another folder")
    made = [p for p in [folder, *folder.parents] if not p.exists()]  # deepest first
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _flock_holder(fd)
            who = f"pid {holder}" if holder else "another process"
            raise UserError(f"{flag} {folder} is being written by another priorbench process ({who}); "
                            "wait for it to finish or give another folder") from None
        yield folder
    except BaseException:
        for part in made:  # work refused before it wrote anything leaves no empty folders behind
            try:
                part.rmdir()
            except OSError:
                break
        raise
    finally:
        os.close(fd)
